"""The registry moves here from govplatform/ with its tables and rows: state only, the tables stay.

The tables keep their govplatform_* names until 0002 renames them, after every foreign key that
points at them has been re-pointed in the migration state (catalog 0003, exchange 0002) and
govplatform has dropped the models from its state (govplatform 0002).
"""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import registry.models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('govplatform', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    state_operations = [
        migrations.CreateModel(
            name='Department',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.SlugField(max_length=64, unique=True)),
                ('name', models.CharField(max_length=200)),
                ('active', models.BooleanField(default=True)),
                ('parent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='children', to='registry.department')),
            ],
            options={
                'db_table': 'govplatform_department',
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='System',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.SlugField(max_length=64, unique=True)),
                ('name', models.CharField(max_length=200)),
                ('active', models.BooleanField(default=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('department', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='systems', to='registry.department')),
            ],
            options={
                'db_table': 'govplatform_system',
                'ordering': ['code'],
            },
        ),
        migrations.CreateModel(
            name='UsedNonce',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key_id', models.CharField(max_length=128)),
                ('nonce', models.CharField(max_length=128)),
                ('expires_at', models.DateTimeField(db_index=True)),
            ],
            options={
                'db_table': 'govplatform_usednonce',
                'constraints': [models.UniqueConstraint(fields=('key_id', 'nonce'), name='usednonce_unique')],
            },
        ),
        migrations.CreateModel(
            name='Membership',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.CharField(choices=[('clerk', 'Clerk'), ('approver', 'Approver'), ('auditor', 'Auditor'), ('admin', 'Department admin')], max_length=16)),
                ('department', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='registry.department')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'govplatform_membership',
                'constraints': [models.UniqueConstraint(fields=('user', 'department', 'role'), name='membership_unique_role')],
            },
        ),
        migrations.CreateModel(
            name='SystemKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key_id', models.CharField(help_text='The `keyid` the system puts in its signatures.', max_length=128, unique=True, validators=[django.core.validators.RegexValidator('^[A-Za-z0-9][A-Za-z0-9._:-]{2,127}$', 'A key id is 3-128 characters: letters, digits and . _ : - (starting with a letter or digit).')])),
                ('algorithm', models.CharField(default='ed25519', editable=False, max_length=16)),
                ('public_key', models.TextField(help_text='PEM (-----BEGIN PUBLIC KEY-----).')),
                ('not_before', models.DateTimeField(default=django.utils.timezone.now)),
                ('expires_at', models.DateTimeField(default=registry.models.default_key_expiry)),
                ('revoked_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('revocation_reason', models.CharField(blank=True, editable=False, max_length=200)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('created_by', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('revoked_by', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('system', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='keys', to='registry.system')),
            ],
            options={
                'db_table': 'govplatform_systemkey',
                'ordering': ['system', '-created_at'],
                'constraints': [models.CheckConstraint(condition=models.Q(('expires_at__gt', models.F('not_before'))), name='systemkey_expires_after_not_before')],
            },
        ),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations, database_operations=[])]
