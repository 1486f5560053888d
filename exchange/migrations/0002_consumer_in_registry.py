"""System moved from govplatform to registry with its table: re-point the foreign keys in state only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("exchange", "0001_initial"), ("registry", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="accessrequest", name="consumer",
                    field=models.ForeignKey(help_text="Your department's system that will call the API.",
                                            on_delete=django.db.models.deletion.PROTECT,
                                            related_name="access_requests", to="registry.system"),
                ),
                migrations.AlterField(
                    model_name="grant", name="consumer",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="grants",
                                            to="registry.system"),
                ),
            ],
            database_operations=[],
        ),
    ]
