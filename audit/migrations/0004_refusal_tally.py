import uuid

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0003_translated_labels"),
    ]

    operations = [
        migrations.CreateModel(
            name="RefusalTally",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uid", models.UUIDField(
                    default=uuid.uuid4, editable=False, unique=True, verbose_name="event id",
                    help_text="The id the window's event will carry, given to each refused caller.")),
                ("source", models.CharField(max_length=64, verbose_name="source address",
                                            help_text="The address the requests came from.")),
                ("actor_type", models.CharField(
                    max_length=16, verbose_name="actor type",
                    help_text="anonymous, or system for a verified system over its rate limit.")),
                ("actor_id", models.CharField(
                    blank=True, max_length=150, verbose_name="actor",
                    help_text="The system's code, or the keyid an unverified caller claimed.")),
                ("actor_department", models.CharField(blank=True, max_length=64, verbose_name="actor's department",
                                                      help_text="The verified system's department.")),
                ("window_start", models.DateTimeField(verbose_name="window start", help_text="When the window began.")),
                ("count", models.PositiveIntegerField(default=0, verbose_name="refusals",
                                                      help_text="How many requests were refused in the window.")),
                ("reasons", models.JSONField(default=dict, verbose_name="reasons",
                                             help_text="How many refusals each error code accounts for.")),
                ("first_digest", models.CharField(blank=True, max_length=64, verbose_name="first request digest",
                                                  help_text="The digest of the window's first refused request.")),
                ("last_digest", models.CharField(blank=True, max_length=64, verbose_name="last request digest",
                                                 help_text="The digest of the window's last refused request.")),
                ("first_at", models.DateTimeField(verbose_name="first refusal", help_text="When the first was refused.")),
                ("last_at", models.DateTimeField(verbose_name="last refusal", help_text="When the last was refused.")),
            ],
            options={
                "verbose_name": "refusal tally",
                "verbose_name_plural": "refusal tallies",
                "ordering": ["window_start", "pk"],
                "constraints": [models.UniqueConstraint(fields=("source", "actor_type", "actor_id", "window_start"),
                                                        name="refusal_tally_one_per_window")],
            },
        ),
    ]
