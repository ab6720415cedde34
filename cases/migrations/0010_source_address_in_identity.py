# Issue 11, identities: a protected source's address is part of its identity.
#
# - SourceIdentity.address (encrypted): a protected source's address moves there from
#   Source.url, and a check constraint keeps Source.url for public addresses only.
# - Citation.protected_url (encrypted): the address of a citation whose lineage (source, via,
#   and what they are reached via) holds a protected source moves there from Citation.url.
# - The history tables lose the clear copies: a source's old addresses are blanked (its
#   identity holds the address now), a citation's move to the same row's encrypted column.
#   History is append-only, so this runs under history_maintenance().
import django.core.validators
from django.db import migrations, models
from django.utils import timezone

import cases.crypto
from cases.attribution import chain
from cases.history import history_maintenance

REASON = "migration 0010: a protected source's address is part of its identity"


def _protected_lineage_cases(apps):
    """{case id: (via map, protected source ids)} for every case with a source that is, or
    was when it was deleted, protected."""
    Source = apps.get_model("cases", "Source")
    HistoricalSource = apps.get_model("cases", "HistoricalSource")
    rows = {pk: (case_id, via, protected) for pk, case_id, via, protected in
            Source.objects.values_list("pk", "case_id", "reached_via_id", "protected")}
    # Deleted sources: as their last history row left them.
    for pk, case_id, via, protected in (
            HistoricalSource.objects.exclude(id__in=Source.objects.values("pk"))
            .order_by("id", "history_date", "history_id")
            .values_list("id", "case_id", "reached_via_id", "protected")):
        rows[pk] = (case_id, via, protected)
    cases = {case_id for case_id, _, protected in rows.values() if protected}
    result = {case_id: ({}, set()) for case_id in cases}
    for pk, (case_id, via, protected) in rows.items():
        if case_id in result:
            result[case_id][0][pk] = via
            if protected:
                result[case_id][1].add(pk)
    return result


def move_addresses(apps, schema_editor):
    alias = schema_editor.connection.alias
    Source = apps.get_model("cases", "Source")
    HistoricalSource = apps.get_model("cases", "HistoricalSource")
    SourceIdentity = apps.get_model("cases", "SourceIdentity")
    HistoricalSourceIdentity = apps.get_model("cases", "HistoricalSourceIdentity")
    Citation = apps.get_model("cases", "Citation")
    HistoricalCitation = apps.get_model("cases", "HistoricalCitation")
    now = timezone.now()

    with history_maintenance(alias, reason=REASON):
        # Sources: the address into the identity (made when missing), with a history row.
        for source in Source.objects.using(alias).filter(protected=True).exclude(url=""):
            identity = SourceIdentity.objects.using(alias).filter(source_id=source.pk).first()
            history_type = "~"
            if identity is None:
                identity = SourceIdentity(source_id=source.pk)
                history_type = "+"
            identity.address = source.url
            identity.save(using=alias)
            HistoricalSourceIdentity.objects.using(alias).create(
                id=identity.pk, source_id=source.pk, real_name=identity.real_name,
                contact=identity.contact, private_notes=identity.private_notes,
                address=identity.address, history_date=now, history_type=history_type,
                history_change_reason=REASON)
            Source.objects.using(alias).filter(pk=source.pk).update(url="")

        lineages = _protected_lineage_cases(apps)
        protected_ids = set().union(*(ids for _, ids in lineages.values()))
        # Their history: every clear address of a source protected now (or when deleted),
        # and any row written while its source was protected.
        HistoricalSource.objects.using(alias).filter(
            models.Q(id__in=protected_ids) | models.Q(protected=True)).exclude(url="").update(
            url="")

        # Citations whose lineage holds a protected source, and their history rows.
        def sealed(source_id, via_id, via_map, protected):
            lineage = set(chain(source_id, via_map)) | set(chain(via_id, via_map))
            return not protected.isdisjoint(lineage)

        for via_map, protected in lineages.values():
            case_sources = list(via_map)
            for pk, url, source_id, via_id in (
                    Citation.objects.using(alias).filter(source_id__in=case_sources)
                    .exclude(url="").values_list("pk", "url", "source_id", "via_id")):
                if sealed(source_id, via_id, via_map, protected):
                    Citation.objects.using(alias).filter(pk=pk).update(url="",
                                                                       protected_url=url)
            for pk, url, source_id, via_id in (
                    HistoricalCitation.objects.using(alias).filter(source_id__in=case_sources)
                    .exclude(url="").values_list("pk", "url", "source_id", "via_id")):
                if sealed(source_id, via_id, via_map, protected):
                    HistoricalCitation.objects.using(alias).filter(pk=pk).update(
                        url="", protected_url=url)


def move_addresses_back(apps, schema_editor):
    """Back to clear columns (the history stays as it is: its clear copies are gone)."""
    alias = schema_editor.connection.alias
    Source = apps.get_model("cases", "Source")
    SourceIdentity = apps.get_model("cases", "SourceIdentity")
    Citation = apps.get_model("cases", "Citation")
    for identity in SourceIdentity.objects.using(alias).filter(address__isnull=False).iterator():
        if identity.address:
            Source.objects.using(alias).filter(pk=identity.source_id, url="").update(
                url=identity.address)
    for citation in Citation.objects.using(alias).filter(protected_url__isnull=False).iterator():
        Citation.objects.using(alias).filter(pk=citation.pk).update(url=citation.protected_url)


def _without_version_triggers(apps, schema_editor):
    """SQLite rebuilds cases_source to add the constraint, and refuses to while the
    citations' content-version trigger names it (cases/revisions.py): off for the rebuild."""
    if schema_editor.connection.vendor == "sqlite":
        from cases import revisions

        revisions.remove_triggers(schema_editor.connection)


def _with_version_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        from cases import revisions

        revisions.install_triggers(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("cases", "0009_datetime_bounds")]

    operations = [
        migrations.AddField(
            model_name="sourceidentity",
            name="address",
            field=cases.crypto.EncryptedCharField(
                blank=True, max_length=500, validators=[django.core.validators.URLValidator()]),
        ),
        migrations.AddField(
            model_name="historicalsourceidentity",
            name="address",
            field=cases.crypto.EncryptedCharField(
                blank=True, max_length=500, validators=[django.core.validators.URLValidator()]),
        ),
        migrations.AddField(
            model_name="citation",
            name="protected_url",
            field=cases.crypto.EncryptedCharField(
                blank=True, editable=False, max_length=500, null=True, verbose_name="address"),
        ),
        migrations.AddField(
            model_name="historicalcitation",
            name="protected_url",
            field=cases.crypto.EncryptedCharField(
                blank=True, editable=False, max_length=500, null=True, verbose_name="address"),
        ),
        migrations.RunPython(move_addresses, move_addresses_back, elidable=False),
        migrations.RunPython(_without_version_triggers, _with_version_triggers, elidable=False),
        migrations.AddConstraint(
            model_name="source",
            constraint=models.CheckConstraint(
                condition=models.Q(("protected", False), ("url", ""), _connector="OR"),
                name="source_protected_address_in_identity",
                violation_error_message="A protected source's address is kept with its "
                                        "identity, not in the public address.",
            ),
        ),
        migrations.RunPython(_with_version_triggers, _without_version_triggers, elidable=False),
    ]
