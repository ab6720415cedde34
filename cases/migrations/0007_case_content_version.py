"""Case.content_version and the triggers that keep it (cases/revisions.py). The triggers are
installed again after every `migrate` by the post_migrate hook in that module."""

from django.db import migrations, models


def install_triggers(apps, schema_editor):
    from cases import revisions

    revisions.install_triggers(schema_editor.connection)


def remove_triggers(apps, schema_editor):
    from cases import revisions

    revisions.remove_triggers(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0006_claim_awaiting_review_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='case',
            name='content_version',
            field=models.PositiveBigIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.RunPython(install_triggers, remove_triggers, elidable=False),
    ]
