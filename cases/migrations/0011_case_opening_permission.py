"""Opening a case becomes a newsroom permission (issue 11): `cases.open_case`, given to the
group "Desk editors", which this migration creates (cases/opening.py). Nobody is put in the
group here: an administrator decides who starts stories (seed_demo adds the demo's editors).
Addresses are now always made with a random ending (Case._unique_slug): the help text says so.
"""

from django.db import migrations, models

GROUP = "Desk editors"
CODENAME = "open_case"
NAME = "Can open a case (and become its editor)"


def create_desk_editors(apps, schema_editor):
    # Permissions are otherwise created after the last migration (post_migrate): make this
    # one now, so the group can hold it. post_migrate then finds it and leaves it as it is.
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    db = schema_editor.connection.alias
    content_type, _ = ContentType.objects.using(db).get_or_create(app_label="cases",
                                                                  model="case")
    permission, _ = Permission.objects.using(db).get_or_create(
        content_type=content_type, codename=CODENAME, defaults={"name": NAME})
    group, _ = Group.objects.using(db).get_or_create(name=GROUP)
    group.permissions.add(permission)


def remove_desk_editors(apps, schema_editor):
    # The group may have been given more since; only what this migration made goes.
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.using(schema_editor.connection.alias).filter(
        content_type__app_label="cases", codename=CODENAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0010_source_address_in_identity"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="case",
            options={"ordering": ["-updated_at"],
                     "permissions": [("open_case", NAME)]},
        ),
        migrations.AlterField(
            model_name="case",
            name="slug",
            field=models.SlugField(blank=True, help_text="Used in addresses: made from the title "
                                   "with a random ending when the case is opened.",
                                   max_length=80, unique=True),
        ),
        migrations.AlterField(
            model_name="historicalcase",
            name="slug",
            field=models.SlugField(blank=True, help_text="Used in addresses: made from the title "
                                   "with a random ending when the case is opened.",
                                   max_length=80),
        ),
        migrations.RunPython(create_desk_editors, remove_desk_editors),
    ]
