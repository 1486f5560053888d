"""Benchmarks that print ratios against baselines measured in the same run (``make bench``).

Not tests, and never imported by the platform: the bare and token views, the audit-skip switch and
the bench settings exist only here. ``bench/README.md`` explains each figure.
"""
