from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("capture", "0002_page_watch"),
    ]

    operations = [
        migrations.AlterField(
            model_name="capturefile",
            name="role",
            field=models.CharField(choices=[("archive", "Web archive (WACZ)"),
                                            ("screenshot", "Screenshot (PNG)"),
                                            ("pdf", "PDF of the page"),
                                            ("manifest", "Manifest (JSON)"),
                                            ("file", "File served")], max_length=12),
        ),
    ]
