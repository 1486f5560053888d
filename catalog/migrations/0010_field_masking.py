from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0009_record_dataset_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="field",
            name="masking",
            field=models.CharField(
                choices=[("none", "None (不脱敏)"), ("partial", "Partial: keep the first and last characters (部分遮蔽)"),
                         ("generalise", "Generalise: a date to its year, a number to a band (泛化)"),
                         ("pseudonym", "Pseudonym per grant (假名化)"), ("redact", "Redact (删除)")],
                default="none", max_length=16, verbose_name="masking",
                help_text="How the values are served to every grant by default (脱敏); an approver may only make it "
                          "stricter for one grant. Tightening it applies to existing grants at once; loosening it "
                          "applies to new grants only."),
        ),
        migrations.AddField(
            model_name="field",
            name="mask_keep",
            field=models.PositiveSmallIntegerField(
                default=2, verbose_name="characters kept",
                help_text="Partial masking keeps this many characters at the start and at the end."),
        ),
        migrations.AddField(
            model_name="field",
            name="mask_band",
            field=models.PositiveIntegerField(
                default=10, verbose_name="band width",
                help_text="Generalising puts a number in a band this wide, e.g. 30-39 for 10."),
        ),
    ]
