import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("exchange", "0007_grant_terms"),
    ]

    operations = [
        migrations.CreateModel(
            name="GrantDailyUsage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField(help_text="The day, in the platform's time zone.", verbose_name="day")),
                ("records", models.PositiveIntegerField(
                    default=0, help_text="How many records were served under the grant that day.",
                    verbose_name="records served")),
                ("grant", models.ForeignKey(
                    help_text="The grant the records were served under.",
                    on_delete=django.db.models.deletion.CASCADE, related_name="daily_usage", to="exchange.grant",
                    verbose_name="grant")),
            ],
            options={
                "verbose_name": "daily usage",
                "verbose_name_plural": "daily usage",
                "ordering": ["-day"],
                "constraints": [models.UniqueConstraint(fields=("grant", "day"), name="grant_daily_usage_unique")],
            },
        ),
    ]
