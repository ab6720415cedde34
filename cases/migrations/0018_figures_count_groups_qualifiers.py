"""Figures that reconcile (cases/tallies.py): qualifiers "more than" and "fewer than" for
claims' figures; a qualifier per people count of an incident; the incident's count group and
whether it is part of the case's people counts; and a partial index on a case's claims that
carry a figure, which is all the figures page and the key figures read."""

from django.db import migrations, models

QUALIFIERS = [('exactly', 'exactly'), ('at_least', 'at least'), ('at_most', 'at most'),
              ('about', 'about'), ('nearly', 'nearly'), ('more_than', 'more than'),
              ('fewer_than', 'fewer than')]


def qualifier(verbose_name):
    return models.CharField(choices=QUALIFIERS, default='exactly', max_length=10,
                            verbose_name=verbose_name)


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0016_custody_deleted_restored'),
    ]

    operations = [
        *[
            operation
            for model in ('claim', 'historicalclaim')
            for operation in [migrations.AlterField(
                model_name=model, name='figure_qualifier', field=qualifier('qualifier'))]
        ],
        *[
            operation
            for model in ('incident', 'historicalincident')
            for operation in [
                migrations.AddField(model_name=model, name='involved_qualifier',
                                    field=qualifier('people involved: qualifier')),
                migrations.AddField(model_name=model, name='detained_qualifier',
                                    field=qualifier('detained: qualifier')),
                migrations.AddField(model_name=model, name='killed_qualifier',
                                    field=qualifier('killed: qualifier')),
                migrations.AddField(model_name=model, name='injured_qualifier',
                                    field=qualifier('injured: qualifier')),
                migrations.AddField(model_name=model, name='missing_qualifier',
                                    field=qualifier('missing: qualifier')),
                migrations.AddField(model_name=model, name='at_large_qualifier',
                                    field=qualifier('at large: qualifier')),
                migrations.AddField(
                    model_name=model, name='count_group',
                    field=models.CharField(
                        blank=True, max_length=100, verbose_name='count group',
                        help_text="Incidents of one event share a group name (Kadamovsky "
                                  "desertion): the case overview reconciles the people counts "
                                  "of each group on its own line. Leave empty for an incident "
                                  "of its own.")),
                migrations.AddField(
                    model_name=model, name='in_case_counts',
                    field=models.BooleanField(
                        default=True, verbose_name="in the case's people counts",
                        help_text="Untick for an incident whose people are not part of the "
                                  "case's tally (a separate event mentioned for context).")),
            ]
        ],
        migrations.AddIndex(
            model_name='claim',
            index=models.Index(condition=models.Q(('figure_value__isnull', False)),
                               fields=['case', 'figure_unit'], name='claim_case_figures'),
        ),
    ]
