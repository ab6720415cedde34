# Issue 11: every date and datetime a person can enter is bounded to what PostgreSQL, psycopg
# and Python can store and read back (cases/timebounds.py). Validators only: no schema change.
import django.utils.timezone
from django.db import migrations, models

import cases.timebounds


class Migration(migrations.Migration):
    dependencies = [("cases", "0008_claim_case_newest_index")]

    operations = [
        migrations.AlterField(
            model_name='citation',
            name='accessed_at',
            field=models.DateTimeField(blank=True, help_text='When we read or archived it.', null=True, validators=[cases.timebounds.validate_datetime_in_range]),
        ),
        migrations.AlterField(
            model_name='citation',
            name='published_at',
            field=models.DateTimeField(blank=True, help_text='When the source published it (report date).', null=True, validators=[cases.timebounds.validate_datetime_in_range]),
        ),
        migrations.AlterField(
            model_name='commentrequest',
            name='asked_at',
            field=models.DateTimeField(default=django.utils.timezone.now, validators=[cases.timebounds.validate_datetime_in_range]),
        ),
        migrations.AlterField(
            model_name='commentrequest',
            name='deadline',
            field=models.DateTimeField(blank=True, null=True, validators=[cases.timebounds.validate_datetime_in_range]),
        ),
        migrations.AlterField(
            model_name='custodyentry',
            name='at',
            field=models.DateTimeField(default=django.utils.timezone.now, validators=[cases.timebounds.validate_datetime_in_range]),
        ),
        migrations.AlterField(
            model_name='evidence',
            name='captured_at',
            field=models.DateTimeField(default=django.utils.timezone.now, help_text='When the file was collected or archived.', validators=[cases.timebounds.validate_datetime_in_range]),
        ),
        migrations.AlterField(
            model_name='historicalcitation',
            name='accessed_at',
            field=models.DateTimeField(blank=True, help_text='When we read or archived it.', null=True, validators=[cases.timebounds.validate_datetime_in_range]),
        ),
        migrations.AlterField(
            model_name='historicalcitation',
            name='published_at',
            field=models.DateTimeField(blank=True, help_text='When the source published it (report date).', null=True, validators=[cases.timebounds.validate_datetime_in_range]),
        ),
        migrations.AlterField(
            model_name='historicalcommentrequest',
            name='asked_at',
            field=models.DateTimeField(default=django.utils.timezone.now, validators=[cases.timebounds.validate_datetime_in_range]),
        ),
        migrations.AlterField(
            model_name='historicalcommentrequest',
            name='deadline',
            field=models.DateTimeField(blank=True, null=True, validators=[cases.timebounds.validate_datetime_in_range]),
        ),
        migrations.AlterField(
            model_name='historicalevidence',
            name='captured_at',
            field=models.DateTimeField(default=django.utils.timezone.now, help_text='When the file was collected or archived.', validators=[cases.timebounds.validate_datetime_in_range]),
        ),
        migrations.AlterField(
            model_name='historicaltask',
            name='due_on',
            field=models.DateField(blank=True, null=True, validators=[cases.timebounds.validate_date_in_range]),
        ),
        migrations.AlterField(
            model_name='task',
            name='due_on',
            field=models.DateField(blank=True, null=True, validators=[cases.timebounds.validate_date_in_range]),
        ),
    ]
