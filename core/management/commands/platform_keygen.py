from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from core.keys import platform_key, platform_key_generate, public_path


class Command(BaseCommand):
    help = "Create the platform's Ed25519 signing key at PLATFORM_SIGNING_KEY_FILE if there is none."

    def handle(self, *args: Any, **options: Any) -> None:
        path = settings.PLATFORM_SIGNING_KEY_FILE
        created = platform_key_generate(path)
        key = platform_key()
        if not public_path(path).exists():
            public_path(path).write_text(key.public_pem())
        verb = "Created" if created else "Kept the existing"
        self.stdout.write(f"{verb} platform signing key {key.key_id} at {path}")
        self.stdout.write(f"Public key (give it to consumers and witnesses): {public_path(path)}")
