from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import log_sequence
from audit.verify import log_verify
from govplatform.errors import PlatformError
from govplatform.keys import platform_key
from govplatform.models import load_ed25519_public_key


class Command(BaseCommand):
    help = ("Recompute the audit Merkle tree from the stored events and check every signed checkpoint. "
            "Exits non-zero and names the first bad leaf index if anything was altered.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--public-key", type=Path,
                            help="PEM public key to verify checkpoints with (default: the platform's own key)")
        parser.add_argument("--sequence-first", action="store_true",
                            help="run the sequencer before verifying, so pending events are included")

    def handle(self, *args: Any, **options: Any) -> None:
        public_key: Ed25519PublicKey
        if options["public_key"]:
            public_key = load_ed25519_public_key(options["public_key"].read_text())
        else:
            try:
                public_key = platform_key().public_key
            except PlatformError as exc:
                raise CommandError(f"{exc.message} Pass --public-key PEM to verify with a pinned key.") from exc
        if options["sequence_first"]:
            log_sequence()
        report = log_verify(public_key=public_key)
        self.stdout.write(f"leaves: {report.tree_size}  checkpoints checked: {report.checkpoints_checked}  "
                          f"awaiting sequencing: {report.unsequenced}")
        if report.ok:
            self.stdout.write(self.style.SUCCESS("OK: every leaf matches its event and every checkpoint verifies."))
            return
        for problem in report.problems:
            self.stderr.write(f"FAIL: {problem}")
        raise CommandError(f"audit log verification failed; first bad index: {report.first_bad_index}")
