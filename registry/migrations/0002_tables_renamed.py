"""Give the registry's tables their own names (rows, keys and foreign keys pointing at them stay), and
carry the admin's history and permissions over by relabelling their content types."""

from django.db import migrations

MODELS = ["department", "system", "usednonce", "membership", "systemkey"]


def relabel_content_types(apps, schema_editor, old="govplatform", new="registry"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def relabel_back(apps, schema_editor):
    relabel_content_types(apps, schema_editor, old="registry", new="govplatform")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0001_initial"),
        ("govplatform", "0002_registry_moved"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        *[migrations.AlterModelTable(name=name, table=None) for name in MODELS],
        migrations.RunPython(relabel_content_types, relabel_back),
    ]
