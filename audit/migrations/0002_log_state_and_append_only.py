"""The sequencer's single state row, and (on PostgreSQL) a trigger that makes the log append-only."""

from django.db import migrations

APPEND_ONLY_TABLES = ["audit_auditevent", "audit_logleaf", "audit_checkpoint"]

FORWARD = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
""" + "".join(
    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
    f"FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();\n"
    for table in APPEND_ONLY_TABLES
)

BACKWARD = "".join(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};\n" for table in APPEND_ONLY_TABLES) + \
    "DROP FUNCTION IF EXISTS audit_refuse_change();"


def create_state(apps, schema_editor):
    apps.get_model("audit", "LogState").objects.get_or_create(pk=1)


def append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def drop_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunPython(create_state, migrations.RunPython.noop),
        migrations.RunPython(append_only, drop_append_only),
    ]
