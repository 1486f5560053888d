"""The registry's models now live in the registry app (registry 0001 took them over, tables included)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("govplatform", "0001_initial"),
        ("registry", "0001_initial"),
        ("catalog", "0003_owner_in_registry"),
        ("exchange", "0002_consumer_in_registry"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name) for name in
                              ["SystemKey", "Membership", "UsedNonce", "System", "Department"]],
            database_operations=[],
        ),
    ]
