"""The access version: one counter row, bumped by every change the signed exchange caches."""

from django.db import migrations, models


def create_row(apps, schema_editor):
    apps.get_model("registry", "AccessVersion").objects.get_or_create(pk=1)


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0004_translated_labels"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccessVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("value", models.BigIntegerField(default=0, verbose_name="value")),
            ],
            options={
                "verbose_name": "access version",
                "verbose_name_plural": "access versions",
            },
        ),
        migrations.RunPython(create_row, migrations.RunPython.noop),
    ]
