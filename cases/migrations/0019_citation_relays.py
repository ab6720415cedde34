"""Several relays per citation: `Citation.via` (one source) becomes CitationRelay rows (any
number, in order), with their own history.

Each citation's `via` becomes its first relay, and each carried relay gets a "created" history
row (by nobody: the migration), both in one INSERT … SELECT, whatever the number of citations.
The historical citations keep their `via` column (cases.models.source.CitationHistoryBase):
history is append-only, so what it says about the past stays.

Going back keeps each citation's first relay as its `via` (one UPDATE); the others are lost,
since `via` holds one.
"""

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

CARRIED_REASON = "Carried over from the citation's via"


def carry_via_to_relays(apps, schema_editor):
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote('cases_citationrelay')} "
            f"({quote('citation_id')}, {quote('source_id')}, {quote('position')}) "
            f"SELECT {quote('id')}, {quote('via_id')}, 0 FROM {quote('cases_citation')} "
            f"WHERE {quote('via_id')} IS NOT NULL")
        cursor.execute(
            f"INSERT INTO {quote('cases_historicalcitationrelay')} "
            f"({quote('id')}, {quote('citation_id')}, {quote('source_id')}, "
            f"{quote('position')}, {quote('history_date')}, "
            f"{quote('history_change_reason')}, {quote('history_type')}, "
            f"{quote('history_user_id')}) "
            f"SELECT {quote('id')}, {quote('citation_id')}, {quote('source_id')}, "
            f"{quote('position')}, %s, %s, '+', NULL FROM {quote('cases_citationrelay')}",
            [timezone.now(), CARRIED_REASON])


def carry_first_relay_to_via(apps, schema_editor):
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    relay, citation = quote("cases_citationrelay"), quote("cases_citation")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {citation} SET {quote('via_id')} = ("
            f"SELECT r.{quote('source_id')} FROM {relay} r "
            f"WHERE r.{quote('citation_id')} = {citation}.{quote('id')} "
            f"ORDER BY r.{quote('position')}, r.{quote('id')} LIMIT 1) "
            f"WHERE EXISTS (SELECT 1 FROM {relay} r "
            f"WHERE r.{quote('citation_id')} = {citation}.{quote('id')})")


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0018_figures_count_groups_qualifiers'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CitationRelay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField(default=0, verbose_name='position')),
                ('citation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='relay_links', to='cases.citation', verbose_name='citation')),
                ('source', models.ForeignKey(on_delete=django.db.models.deletion.RESTRICT, related_name='relay_links', to='cases.source', verbose_name='relay')),
            ],
            options={
                'verbose_name': 'relay',
                'verbose_name_plural': 'relays',
                'ordering': ['position', 'pk'],
                'constraints': [models.UniqueConstraint(fields=('citation', 'source'), name='citation_relay_once')],
            },
        ),
        migrations.CreateModel(
            name='HistoricalCitationRelay',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField(default=0, verbose_name='position')),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('citation', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='cases.citation', verbose_name='citation')),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('source', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='cases.source', verbose_name='relay')),
            ],
            options={
                'verbose_name': 'historical relay',
                'verbose_name_plural': 'historical relays',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.RunPython(carry_via_to_relays, carry_first_relay_to_via, elidable=False),
        migrations.RemoveField(
            model_name='citation',
            name='via',
        ),
        migrations.AlterField(
            model_name='historicalcitation',
            name='via',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='cases.source', verbose_name='via'),
        ),
    ]
