from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.models import Checkpoint
from audit.notes import checkpoint_note_parse
from audit.sequencer import log_sequence
from audit.verify import log_verify
from audit.witnesses import witnessed_checkpoint
from core.crypto import load_ed25519_public_key
from core.errors import PlatformError
from core.keys import platform_key


class Command(BaseCommand):
    help = ("Recompute the audit Merkle tree from the stored events and check every signed checkpoint. "
            "Exits non-zero and names the first bad leaf index if anything was altered.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--public-key", type=Path,
                            help="PEM public key to verify checkpoints with (default: the platform's own key)")
        parser.add_argument("--sequence-first", action="store_true",
                            help="run the sequencer before verifying, so pending events are included")
        parser.add_argument("--trusted-checkpoint", type=Path, metavar="FILE",
                            help="a signed checkpoint saved earlier (--save-checkpoint): the log must still "
                                 "contain exactly that tree")
        parser.add_argument("--save-checkpoint", type=Path, metavar="FILE",
                            help="after a clean run, write the newest signed checkpoint (C2SP note) here; keep "
                                 "it outside the platform and pass it as --trusted-checkpoint next time")
        parser.add_argument("--require-witnesses", type=int, default=0, metavar="N",
                            help="trust only history that N registered witnesses cosigned: fail unless a "
                                 "checkpoint carries N valid cosignatures (and the log verifies up to it)")

    def handle(self, *args: Any, **options: Any) -> None:
        public_key: Ed25519PublicKey
        if options["public_key"]:
            public_key = load_ed25519_public_key(options["public_key"].read_text())
        else:
            try:
                public_key = platform_key().public_key
            except PlatformError as exc:
                raise CommandError(f"{exc.message} Pass --public-key PEM to verify with a pinned key.") from exc
        trusted = None
        if options["trusted_checkpoint"]:
            try:
                trusted = checkpoint_note_parse(options["trusted_checkpoint"].read_text(), public_key)
            except (OSError, ValueError) as exc:
                raise CommandError(f"--trusted-checkpoint: {exc}") from exc
        if options["sequence_first"]:
            log_sequence(checkpoint_now=True)
        report = log_verify(public_key=public_key, trusted=trusted)
        if options["require_witnesses"] > 0:
            witnessed, names = witnessed_checkpoint(required=options["require_witnesses"])
            if witnessed is None:
                report.fail(None, f"no checkpoint carries {options['require_witnesses']} valid witness "
                                  f"cosignatures: nothing here is history the witnesses vouch for")
            else:
                self.stdout.write(f"Witnessed: the checkpoint of {witnessed.tree_size} leaves is cosigned by "
                                  f"{', '.join(names)}; the log verifies up to and beyond it.")
        self.stdout.write(f"leaves: {report.tree_size}  checkpoints checked: {report.checkpoints_checked}  "
                          f"awaiting sequencing: {report.unsequenced}  "
                          f"awaiting a checkpoint: {report.awaiting_checkpoint}")
        if report.ok:
            self.stdout.write(self.style.SUCCESS("OK: every leaf matches its event and every checkpoint verifies."))
            if trusted is not None:
                self.stdout.write(f"The log still contains the trusted checkpoint of {trusted.tree_size} leaves.")
            newest = Checkpoint.objects.order_by("-tree_size").first()
            if newest is not None and options["save_checkpoint"]:
                raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
                options["save_checkpoint"].write_text(newest.signed_note(raw))
                self.stdout.write(f"Saved the checkpoint of {newest.tree_size} leaves to {options['save_checkpoint']}")
            return
        for problem in report.problems:
            self.stderr.write(f"FAIL: {problem}")
        where = "" if report.first_bad_index is None else f"; first bad index: {report.first_bad_index}"
        raise CommandError(f"audit log verification failed{where}")
