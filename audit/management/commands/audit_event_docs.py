from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import translation

from audit.events import EventType

DOCS = Path(settings.BASE_DIR) / "docs" / "audit-events.md"


def event_docs() -> str:
    """The event-type catalogue as Markdown: what each kind of evidence in the audit log means."""
    lines = [
        "# Audit event types (审计事件类型)",
        "",
        "Generated from `audit/events.py` by `make docs`; a test keeps the two equal. Every event also",
        "records its actor, time, outcome (`ok` or `refused` with the error code as its reason), and where",
        "relevant the grant, the purpose, the request's signature digest and the keyed hashes of the",
        "subject identifiers it touched. `old`/`new` hold the values before and after a change.",
        "",
        "| action | object | detail | meaning | 含义 |",
        "|---|---|---|---|---|",
    ]
    for event_type in EventType:
        with translation.override("en"):
            meaning = str(event_type.meaning)
        with translation.override("zh-hans"):
            meaning_zh = str(event_type.meaning)
        detail = ", ".join(f"`{key}`" for key in event_type.detail_keys)
        lines.append(f"| `{event_type.action}` | {event_type.object_type} | {detail} | {meaning} | {meaning_zh} |")
    return "\n".join(lines) + "\n"


class Command(BaseCommand):
    help = "Write docs/audit-events.md from the event-type catalogue (or print it with --stdout)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stdout", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["stdout"]:
            self.stdout.write(event_docs(), ending="")
        else:
            DOCS.write_text(event_docs())
            self.stdout.write(f"Wrote {DOCS}")
