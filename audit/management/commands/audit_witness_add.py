"""Register a witness's public key (another department or the audit office): its cosignatures count from now."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import Actor
from audit.witnesses import witness_register
from core.errors import PlatformError


class Command(BaseCommand):
    help = "Register a witness: its key name and Ed25519 public key (python -m audit.witness --keygen prints it)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the witness's key name, e.g. audit-office.example/witness")
        parser.add_argument("--public-key", type=Path, required=True, help="its public key (PEM)")
        parser.add_argument("--department", default="", help="the code of the department that runs it")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            witness = witness_register(actor=Actor("platform", "operator-console"), name=options["name"],
                                       public_key_pem=options["public_key"].read_text(),
                                       department=options["department"])
        except (PlatformError, OSError) as exc:
            raise CommandError(str(getattr(exc, "message", exc))) from exc
        self.stdout.write(f"Registered witness {witness.name}; its cosignatures are accepted from now on.")
