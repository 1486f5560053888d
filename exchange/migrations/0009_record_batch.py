import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0010_field_masking"),
        ("registry", "0005_access_version"),
        ("exchange", "0008_grant_daily_usage"),
    ]

    operations = [
        migrations.CreateModel(
            name="RecordBatch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("batch_id", models.CharField(
                    max_length=64, verbose_name="batch id",
                    help_text="The system's own id for the batch; the same id is applied once.")),
                ("body_digest", models.CharField(max_length=64, verbose_name="body digest",
                                                 help_text="SHA-256 of the batch's body, hex.")),
                ("result", models.JSONField(default=dict, verbose_name="result",
                                            help_text="The answer the batch was given.")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="received at",
                                                    help_text="When the batch was applied.")),
                ("dataset", models.ForeignKey(
                    on_delete=django.db.models.deletion.PROTECT, related_name="record_batches", to="catalog.dataset",
                    verbose_name="dataset", help_text="The dataset whose records it wrote.")),
                ("system", models.ForeignKey(
                    on_delete=django.db.models.deletion.PROTECT, related_name="record_batches", to="registry.system",
                    verbose_name="system", help_text="The providing department's system that pushed it.")),
            ],
            options={
                "verbose_name": "record batch",
                "verbose_name_plural": "record batches",
                "ordering": ["-created_at"],
                "constraints": [models.UniqueConstraint(fields=("system", "batch_id"), name="record_batch_once")],
            },
        ),
    ]
