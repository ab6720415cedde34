# Issue 11, the back office: an administrator who is not a source handler sees an identity
# only through an audited reveal, whose reason is kept in the reveal log.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("cases", "0011_case_opening_permission")]

    operations = [
        migrations.AddField(
            model_name="identityreveal",
            name="reason",
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name="identityreveal",
            name="channel",
            field=models.CharField(
                choices=[
                    ("source_page", "source page"),
                    ("admin_source", "admin: source page"),
                    ("admin_identity", "admin: identity page"),
                    ("admin_list", "admin: identity list"),
                    ("admin_history", "admin: identity history"),
                    ("admin_reveal", "admin: audited reveal"),
                ],
                max_length=20,
                verbose_name="where",
            ),
        ),
    ]
