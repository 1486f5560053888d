import secrets

from django.db import migrations, models

import exchange.models


def salts_fill(apps, schema_editor):
    Grant = apps.get_model("exchange", "Grant")
    for grant in Grant.objects.filter(pseudonym_salt=""):
        grant.pseudonym_salt = secrets.token_hex(16)
        grant.save(update_fields=["pseudonym_salt"])


class Migration(migrations.Migration):

    dependencies = [
        ("exchange", "0006_purpose_vocabulary"),
    ]

    operations = [
        migrations.AddField(
            model_name="grant",
            name="masking",
            field=models.JSONField(
                blank=True, default=dict, verbose_name="masking",
                help_text="The grant's own masking rule per field, set at approval: the dataset's defaults then, "
                          "tightened by the approver. The stricter of this and the dataset's current default applies."),
        ),
        migrations.AddField(
            model_name="grant",
            name="row_filter",
            field=models.JSONField(
                blank=True, default=dict, verbose_name="row filter",
                help_text='Only records whose field holds one of the listed values are served, e.g. {"district": '
                          '["东城区"]}; empty for every record.'),
        ),
        migrations.AddField(
            model_name="grant",
            name="pseudonym_salt",
            field=models.CharField(
                blank=True, editable=False, max_length=64, verbose_name="pseudonym salt",
                help_text="With the platform's pseudonym key, makes this grant's pseudonyms; a renewal keeps it. "
                          "Never leaves the platform."),
        ),
        migrations.RunPython(salts_fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="grant",
            name="pseudonym_salt",
            field=models.CharField(
                default=exchange.models.pseudonym_salt_new, editable=False, max_length=64,
                verbose_name="pseudonym salt",
                help_text="With the platform's pseudonym key, makes this grant's pseudonyms; a renewal keeps it. "
                          "Never leaves the platform."),
        ),
    ]
