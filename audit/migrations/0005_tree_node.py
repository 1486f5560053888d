"""The tree's nodes, from which proofs are served: the table, the nodes of the log as it stands (computed
from its leaves in order), and (on PostgreSQL) the append-only trigger of the other audit tables."""

from django.db import migrations, models

BATCH = 5000


def nodes_of_the_existing_log(apps, schema_editor):
    from audit.merkle import CompactRange

    LogLeaf = apps.get_model("audit", "LogLeaf")
    TreeNode = apps.get_model("audit", "TreeNode")
    tree, nodes = CompactRange(), []
    for index, leaf_hash in LogLeaf.objects.order_by("index").values_list("index", "event__leaf_hash").iterator():
        if index != tree.size:
            raise RuntimeError(f"the log has a gap at leaf {tree.size}: run audit_verify before migrating")
        nodes += [TreeNode(level=level, index=i, hash=hash_.hex())
                  for level, i, hash_ in tree.append(bytes.fromhex(leaf_hash))]
        if len(nodes) >= BATCH:
            TreeNode.objects.bulk_create(nodes)
            nodes = []
    TreeNode.objects.bulk_create(nodes)


def append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE TRIGGER audit_treenode_append_only BEFORE UPDATE OR DELETE ON audit_treenode "
                              "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();", params=None)


def drop_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_treenode_append_only ON audit_treenode;", params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0004_refusal_tally'),
    ]

    operations = [
        migrations.CreateModel(
            name='TreeNode',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('level', models.PositiveSmallIntegerField(help_text="The subtree's height: 0 for a leaf.", verbose_name='level')),
                ('index', models.BigIntegerField(help_text="The subtree's position in its level.", verbose_name='index')),
                ('hash', models.CharField(help_text="The subtree's hash, hex.", max_length=64, verbose_name='hash')),
            ],
            options={
                'verbose_name': 'tree node',
                'verbose_name_plural': 'tree nodes',
                'constraints': [models.UniqueConstraint(fields=('level', 'index'), name='treenode_level_index')],
            },
        ),
        migrations.RunPython(nodes_of_the_existing_log, migrations.RunPython.noop),
        migrations.RunPython(append_only, drop_append_only),
    ]
