"""Department moved from govplatform to registry with its table: re-point the foreign key in state only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_identifier_help_text"), ("registry", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="dataset", name="owner",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="datasets",
                                            to="registry.department"),
                ),
            ],
            database_operations=[],
        ),
    ]
