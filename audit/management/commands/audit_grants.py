import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from audit.models import AuditEvent, Checkpoint, LogLeaf, TreeNode

APPEND_ONLY = [AuditEvent, LogLeaf, Checkpoint, TreeNode]


def grants_sql(app_role: str) -> list[str]:
    """Statements, run by the tables' owner, that let ``app_role`` run the platform but only append to the log."""
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in APPEND_ONLY)
    role = connection.ops.quote_name(app_role)
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {tables} FROM {role}",
    ]


class Command(BaseCommand):
    help = ("Print the SQL that lets the application's PostgreSQL role run the platform without being able to "
            "change or remove audit rows. Run migrations as the owner role, the app as APP_ROLE, and this SQL "
            "as the owner after every migration.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--app-role", required=True, help="the role in the app's DATABASE_URL")

    def handle(self, *args: Any, **options: Any) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", options["app_role"]):
            raise CommandError("--app-role: a PostgreSQL role name (letters, digits, underscores)")
        for statement in grants_sql(options["app_role"]):
            self.stdout.write(statement + ";")
