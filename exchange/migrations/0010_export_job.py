import uuid

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0010_field_masking"),
        ("registry", "0005_access_version"),
        ("exchange", "0009_record_batch"),
    ]

    operations = [
        migrations.CreateModel(
            name="ExportJob",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name="export id",
                                         help_text="The export's id in the API.")),
                ("format", models.CharField(max_length=8, verbose_name="format", help_text="csv or jsonl.")),
                ("fields", models.JSONField(default=list, verbose_name="fields",
                                            help_text="The fields exported, in order.")),
                ("state", models.CharField(
                    choices=[("queued", "Queued"), ("running", "Being made"), ("done", "Ready to download"),
                             ("failed", "Failed"), ("downloaded", "Downloaded"), ("expired", "Expired")],
                    default="queued", max_length=16, verbose_name="state", help_text="Where the export is.")),
                ("rows_total", models.PositiveIntegerField(default=0, verbose_name="records",
                                                           help_text="How many records the export holds.")),
                ("rows_done", models.PositiveIntegerField(default=0, verbose_name="records written",
                                                          help_text="How many are written so far.")),
                ("file_digest", models.CharField(blank=True, max_length=64, verbose_name="file digest",
                                                 help_text="SHA-256 of the file, hex (also in the audit log).")),
                ("file_size", models.PositiveBigIntegerField(default=0, verbose_name="file size", help_text="In bytes.")),
                ("error", models.CharField(blank=True, max_length=500, verbose_name="error", help_text="Why it failed.")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="created at",
                                                    help_text="When it was asked for.")),
                ("started_at", models.DateTimeField(blank=True, null=True, verbose_name="started at",
                                                    help_text="When the job began.")),
                ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="finished at",
                                                     help_text="When the job ended.")),
                ("link_expires_at", models.DateTimeField(
                    blank=True, null=True, verbose_name="link expires at",
                    help_text="After this the file is deleted if not downloaded.")),
                ("downloaded_at", models.DateTimeField(blank=True, null=True, verbose_name="downloaded at",
                                                       help_text="When the file was downloaded (once).")),
                ("dataset", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="exports",
                                              to="catalog.dataset", verbose_name="dataset",
                                              help_text="The dataset exported.")),
                ("grant", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                                            related_name="exports", to="exchange.grant", verbose_name="grant",
                                            help_text="The grant it is made under; empty for open data.")),
                ("system", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="exports",
                                             to="registry.system", verbose_name="system",
                                             help_text="The system that asked for it; only it sees its status.")),
            ],
            options={"verbose_name": "export", "verbose_name_plural": "exports", "ordering": ["-created_at"]},
        ),
    ]
