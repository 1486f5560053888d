"""Witnesses and their cosignatures; (on PostgreSQL) cosignatures are append-only, like the log."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE TRIGGER audit_cosignature_append_only BEFORE UPDATE OR DELETE ON "
                              "audit_cosignature FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();", params=None)


def drop_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_cosignature_append_only ON audit_cosignature;",
                              params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0005_tree_node'),
    ]

    operations = [
        migrations.CreateModel(
            name='Witness',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(help_text="The witness's key name, as in its cosignature lines, e.g. audit-office.example/witness.", max_length=200, unique=True, verbose_name='name')),
                ('public_key_pem', models.TextField(help_text="The witness's Ed25519 public key.", verbose_name='public key')),
                ('department', models.CharField(blank=True, help_text='The code of the department that runs it.', max_length=64, verbose_name='department')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, help_text="When the witness's key was registered.", verbose_name='registered at')),
            ],
            options={
                'verbose_name': 'witness',
                'verbose_name_plural': 'witnesses',
            },
        ),
        migrations.CreateModel(
            name='Cosignature',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('timestamp', models.BigIntegerField(help_text="The witness's time of cosigning, Unix seconds, as signed.", verbose_name='timestamp')),
                ('signature', models.CharField(help_text='Ed25519 over the cosignature message, base64.', max_length=128, verbose_name='signature')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, help_text='When the platform received it.', verbose_name='received at')),
                ('checkpoint', models.ForeignKey(help_text='The checkpoint cosigned.', on_delete=django.db.models.deletion.PROTECT, related_name='cosignatures', to='audit.checkpoint', verbose_name='checkpoint')),
                ('witness', models.ForeignKey(help_text='Who cosigned it.', on_delete=django.db.models.deletion.PROTECT, related_name='cosignatures', to='audit.witness', verbose_name='witness')),
            ],
            options={
                'verbose_name': 'cosignature',
                'verbose_name_plural': 'cosignatures',
                'constraints': [models.UniqueConstraint(fields=('checkpoint', 'witness'), name='cosignature_once')],
            },
        ),
        migrations.RunPython(append_only, drop_append_only),
    ]
