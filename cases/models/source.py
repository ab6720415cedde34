from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models, router, transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext
from django_countries.fields import CountryField

from ..crypto import EncryptedCharField, EncryptedTextField
from ..enums import CitationRelation, Reliability, SourceKind
from ..history import HistoricalRecords
from ..timebounds import validate_datetime_in_range
from .base import AuthoredModel, CaseDataQuerySet, same_case_errors


class SourceQuerySet(CaseDataQuerySet):
    def protected(self):
        return self.filter(protected=True)


class Source(AuthoredModel):
    """Who or what reported something. `name` is what everyone sees: for a protected source
    it is a codename, and the real identity lives apart in SourceIdentity (handlers only)."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="sources",
                             verbose_name=_("case"))
    name = models.CharField(
        _("name or codename"), max_length=200,
        help_text=_("The public name (161.ru), or for a protected source a codename that does "
                    "not hint at who they are."),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=SourceKind.choices,
                            default=SourceKind.OUTLET)
    # A public source's address. A protected source's address is part of its identity and
    # lives, encrypted, in SourceIdentity.address: save() moves it there (a check constraint
    # keeps this column empty for protected sources).
    url = models.URLField(_("address"), max_length=500, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True,
                                help_text=_("Language code, such as ru, en or uk."))
    country = CountryField(_("country"), blank=True)
    reliability = models.CharField(
        _("reliability"), max_length=1, choices=Reliability.choices, default=Reliability.F,
        help_text=_("Admiralty grade from the source's track record: A completely reliable, "
                    "B usually, C fairly, D not usually, E unreliable, F cannot be judged "
                    "(a new or unknown source)."),
    )
    reliability_note = models.TextField(_("why this grade"), blank=True)
    protected = models.BooleanField(
        _("protected"), default=False,
        help_text=_("Protected sources appear under their codename everywhere; only the "
                    "case's source handlers see who they are."),
    )
    reached_via = models.ForeignKey(
        # RESTRICT: deleting an origin must not make the sources that relay it look
        # independent (deleting the whole case still takes them all).
        "self", null=True, blank=True, on_delete=models.RESTRICT, related_name="reaches",
        verbose_name=_("reached via"),
        help_text=_("The source this one is only known through (anonymous investigators "
                    "quoted by 161.ru are reached via 161.ru)."),
    )

    history = HistoricalRecords()
    objects = SourceQuerySet.as_manager()

    #: Set by a writer that showed the whole address and sent it back (a handler's source
    #: form): an empty `url` then removes a protected source's address rather than keeping
    #: it. Other writers (the API, imports) only ever add or replace one.
    replaces_protected_address = False

    class Meta:
        verbose_name = _("source")
        verbose_name_plural = _("sources")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["case", "name"], name="source_unique_name_per_case"),
            models.CheckConstraint(
                condition=models.Q(protected=False) | models.Q(url=""),
                name="source_protected_address_in_identity",
                violation_error_message=_("A protected source's address is kept with its "
                                          "identity, not in the public address."),
            ),
        ]

    def __str__(self):
        return self.name

    @classmethod
    def from_db(cls, db, field_names, values):
        source = super().from_db(db, field_names, values)
        # What save() compares against: becoming protected, losing protection or moving in
        # an attribution chain changes who may see the addresses of its citations.
        source._saved_state = (source.__dict__.get("protected"),
                               source.__dict__.get("reached_via_id"))
        return source

    def save(self, *args, **kwargs):
        from ..identities import store_source_address

        using = kwargs.get("using") or router.db_for_write(type(self))
        with transaction.atomic(using=using), store_source_address(self):
            super().save(*args, **kwargs)

    def clean(self):
        from ..identities import take_protected_address

        # Before the check constraint is validated: a protected source's address is bound
        # for its identity.
        take_protected_address(self)
        errors = same_case_errors(self.case_id, reached_via=self.reached_via)
        if self.reached_via_id and self.reached_via_id == self.pk:
            errors["reached_via"] = ValidationError(
                _("A source cannot be reached through itself."), code="attribution_self")
        elif self.pk and self.reached_via_id:
            from ..attribution import reached_via_chain

            if self.pk in reached_via_chain(self.reached_via):
                errors["reached_via"] = ValidationError(
                    _("This would make a circular attribution chain."),
                    code="attribution_cycle")
        if errors:
            raise ValidationError(errors)


class SourceIdentity(models.Model):
    """The real identity behind a protected source. Read only by the case's source handlers.

    Its fields, the source's address included, are encrypted at rest (cases/crypto.py): the
    table and its history hold Fernet tokens only. Each time a page shows them to someone,
    an IdentityReveal is logged."""

    source = models.OneToOneField(Source, on_delete=models.CASCADE, related_name="identity",
                                  verbose_name=_("source"))
    real_name = EncryptedCharField(_("real name"), max_length=200, blank=True)
    # The source's address: a profile, a channel, a phone-number link may say who they are.
    address = EncryptedCharField(_("address"), max_length=500, blank=True,
                                 validators=[URLValidator()])
    contact = EncryptedTextField(_("contact"), blank=True,
                                 help_text=_("How to reach them safely."))
    private_notes = EncryptedTextField(_("private notes"), blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("source identity")
        verbose_name_plural = _("source identities")

    def __str__(self):
        return _("Identity of %(source)s") % {"source": self.source}

    def save(self, *args, **kwargs):
        # The address is written by the source's save (cases/identities.py). A copy of this
        # record read before that (a form's, the admin inline's) must not put the old
        # address back: what this copy did not change is read again.
        if (self.pk is not None and "address" in self.__dict__
                and self.address == getattr(self, "_loaded_address", None)):
            stored = (type(self)._base_manager.filter(pk=self.pk)
                      .values_list("address", flat=True).first())
            if stored is not None:
                self.address = stored
        super().save(*args, **kwargs)
        self._loaded_address = self.address

    @classmethod
    def from_db(cls, db, field_names, values):
        identity = super().from_db(db, field_names, values)
        identity._loaded_address = identity.__dict__.get("address")
        return identity


class CitationQuerySet(CaseDataQuerySet):
    def visible_to(self, user):
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        return self.filter(source__in=Source.objects.visible_to(user))

    def of_case(self, case):
        return self.filter(source__case=case)

    def supporting(self):
        return self.filter(relation__in=CitationRelation.supporting())

    def bulk_create(self, objs, *args, **kwargs):
        from ..identities import seal_citation_addresses

        # Imports write citations in bulk: their protected addresses are sealed here too.
        objs = list(objs)
        seal_citation_addresses(objs)
        return super().bulk_create(objs, *args, **kwargs)


class CitationHistoryBase(models.Model):
    """The historical citation's `via` column, kept after `Citation.via` gave way to relays
    (migration 0019): history is append-only, so what it recorded stays. Rows written since
    leave it empty and record relays in CitationRelay's history."""

    via = models.ForeignKey(Source, null=True, blank=True, on_delete=models.DO_NOTHING,
                            db_constraint=False, related_name="+", verbose_name=_("via"))

    class Meta:
        abstract = True


#: Relays one citation may name (a bound for every writer: forms, API, imports).
MAX_RELAYS = 10


class Citation(AuthoredModel):
    """A source's statement about a claim or an incident, and the sources it came through
    (its relays: CitationRelay)."""

    claim = models.ForeignKey("cases.Claim", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="citations", verbose_name=_("claim"))
    incident = models.ForeignKey("cases.Incident", null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="citations",
                                 verbose_name=_("incident"))
    source = models.ForeignKey(Source, on_delete=models.RESTRICT, related_name="citations",
                               verbose_name=_("source"))
    relation = models.CharField(_("relation"), max_length=24, choices=CitationRelation.choices,
                                default=CitationRelation.REPORTS)
    quote = models.TextField(_("quote"), blank=True)
    # The public address. When a source of the citation's lineage is protected, the address
    # is for the case's source handlers only and save() moves it, encrypted, to
    # `protected_url` (cases/identities.py).
    url = models.URLField(_("address"), max_length=500, blank=True)
    protected_url = EncryptedCharField(_("address"), max_length=500, null=True, blank=True,
                                       editable=False)
    published_at = models.DateTimeField(
        _("published at"), null=True, blank=True, validators=[validate_datetime_in_range],
        help_text=_("When the source published it (report date)."))
    accessed_at = models.DateTimeField(_("accessed at"), null=True, blank=True,
                                       validators=[validate_datetime_in_range],
                                       help_text=_("When we read or archived it."))
    language = models.CharField(_("language"), max_length=16, blank=True)
    # The sources the statement came through (relays), in order, are CitationRelay rows
    # (`relay_links`); give new ones with set_relays() before save().

    # The historical table keeps its `via` column (CitationHistoryBase): history written
    # before relays replaced it still says which source a citation came via.
    history = HistoricalRecords(bases=[CitationHistoryBase])
    objects = CitationQuerySet.as_manager()

    #: As Source.replaces_protected_address: the writer showed the whole address (a
    #: handler's form), so an empty `url` removes a protected address.
    replaces_protected_address = False

    class Meta:
        verbose_name = _("citation")
        verbose_name_plural = _("citations")
        ordering = ["published_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(claim__isnull=False, incident__isnull=True)
                           | models.Q(claim__isnull=True, incident__isnull=False)),
                name="citation_of_claim_xor_incident",
            ),
        ]

    def __str__(self):
        return pgettext("citation", "%(source)s %(relation)s") % {
            "source": self.source, "relation": self.get_relation_display().lower()}

    @property
    def target(self):
        return self.claim or self.incident

    def save(self, *args, **kwargs):
        from ..identities import scrub_citation_history, seal_citation_addresses

        creating = self._state.adding
        # An address of a saved citation sealed now (a protected relay or source came into
        # its lineage) was public until now: its clear copies must leave the history too.
        sealed = bool(seal_citation_addresses([self])) and not creating
        pending = self.__dict__.get("_pending_relays")
        if pending is not None and (
                (creating and not pending)
                or (not creating and self._prefetched_relay_ids()
                    == [_relay_key(relay) for relay in pending])):
            pending = self._pending_relays = None  # nothing to write
        if pending is None and not sealed:
            super().save(*args, **kwargs)
            return
        using = kwargs.get("using") or router.db_for_write(type(self))
        with transaction.atomic(using=using):
            super().save(*args, **kwargs)
            if pending is not None:
                write_relays(self, pending, created=creating)
                self._pending_relays = None
            if sealed:
                scrub_citation_history([self.pk])

    def clean(self):
        target = self.target
        errors = {}
        if target is None and not (self.claim_id or self.incident_id):
            errors["claim"] = ValidationError(
                _("Cite the source for a claim or for an incident."),
                code="citation_target_missing")
        elif self.claim_id and self.incident_id:
            errors["incident"] = ValidationError(
                _("A citation is about a claim or an incident, not both."),
                code="citation_target_ambiguous")
        case_id = target.case_id if target is not None else None
        errors.update(same_case_errors(case_id, source=self.source if self.source_id else None))
        wrong_relays = self._relay_errors(case_id)
        if wrong_relays:
            errors["relays"] = wrong_relays
        if errors:
            raise ValidationError(errors)

    # --- relays -------------------------------------------------------------------------

    def set_relays(self, sources) -> None:
        """The relays this citation is to have, in order (Source records, or their ids for
        writers that checked them already): clean() checks them, save() writes them, with a
        history row for each relay added, moved or removed."""
        self._pending_relays = list(sources)

    @property
    def relay_sources(self) -> list:
        """The relays as Source records, in order (the API's `relays`): those given to
        set_relays(), else those stored (prefetch `relay_links` with their sources)."""
        pending = self.__dict__.get("_pending_relays")
        if pending is not None:
            return list(pending)
        if self.pk is None:
            return []
        return [link.source for link in self.relay_links.all()]

    @relay_sources.setter
    def relay_sources(self, sources) -> None:
        self.set_relays(sources)

    def _prefetched_relay_ids(self) -> list[int] | None:
        """The stored relays' ids when they were prefetched (None when not read)."""
        cached = getattr(self, "_prefetched_objects_cache", {}).get("relay_links")
        return None if cached is None else [link.source_id for link in cached]

    @property
    def relays_given(self) -> bool:
        return self.__dict__.get("_pending_relays") is not None

    @property
    def relay_ids(self) -> list[int]:
        """The ids of the relays, in order: those given to set_relays() and not saved yet,
        else those stored (prefetch `relay_links` to read them without a query)."""
        pending = self.__dict__.get("_pending_relays")
        if pending is not None:
            return [_relay_key(relay) for relay in pending]
        if self.pk is None:
            return []
        return [link.source_id for link in self.relay_links.all()]

    def _relay_errors(self, case_id) -> list[ValidationError]:
        pending = self.__dict__.get("_pending_relays")
        if not pending:
            return []
        return relay_errors(case_id, self.source_id, pending)


def _relay_key(relay) -> int:
    """A relay's source id: relays are given as Source records or as their ids."""
    return getattr(relay, "pk", relay)


def relays_too_many() -> ValidationError:
    """The refusal of more than MAX_RELAYS relays (also given before a writer looks up any
    of them: the API)."""
    return ValidationError(_("A citation names at most %(limit)d relays."),
                           code="relays_too_many", params={"limit": MAX_RELAYS})


def relay_errors(case_id, source_id, relays) -> list[ValidationError]:
    """What is wrong with `relays` (Source records or ids) for a citation of `case_id` whose
    source is `source_id`: each refusal with its code."""
    errors = []
    ids = [_relay_key(relay) for relay in relays]
    if len(ids) > MAX_RELAYS:
        errors.append(relays_too_many())
    if len(set(ids)) != len(ids):
        errors.append(ValidationError(_("Each relay is named once."), code="relay_repeated"))
    if source_id is not None and source_id in ids:
        errors.append(ValidationError(_("A source cannot be relayed through itself."),
                                      code="attribution_self"))
    cases = {getattr(relay, "case_id", None) for relay in relays if not isinstance(relay, int)}
    if case_id is not None and any(c is not None and c != case_id for c in cases):
        errors.append(ValidationError(_("This record belongs to another case."),
                                      code="other_case"))
    return errors


class CitationRelayQuerySet(CaseDataQuerySet):
    case_path = "source__case"


class CitationRelay(models.Model):
    """One source a citation's statement came through, at its place in the citation's list of
    relays. Written by Citation.save() (after set_relays) or by the importers in bulk, each
    with history: never through a many-to-many manager, whose add() and set() leave none."""

    citation = models.ForeignKey(Citation, on_delete=models.CASCADE, related_name="relay_links",
                                 verbose_name=_("citation"))
    source = models.ForeignKey(
        # RESTRICT, as a citation's source: deleting a relay must not make the citations
        # through it look independent (deleting the whole case still takes them all).
        Source, on_delete=models.RESTRICT, related_name="relay_links", verbose_name=_("relay"))
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    history = HistoricalRecords()
    objects = CitationRelayQuerySet.as_manager()

    class Meta:
        verbose_name = _("relay")
        verbose_name_plural = _("relays")
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["citation", "source"], name="citation_relay_once"),
        ]

    def __str__(self):
        return str(self.source)

    def save(self, *args, **kwargs):
        from ..identities import reseal_citation

        using = kwargs.get("using") or router.db_for_write(type(self))
        with transaction.atomic(using=using):
            super().save(*args, **kwargs)
            if not getattr(self, "_written_by_citation", False):
                # Citation.save() sealed for the relays it writes; a row written on its own
                # may bring a protected source into the citation's lineage.
                reseal_citation(self.citation_id, user=getattr(self, "_history_user", None))

    def clean(self):
        """For a relay row written on its own (the back office's relay inline); a citation's
        set_relays() is checked by Citation.clean()."""
        if not (self.citation_id and self.source_id):
            return
        citation = self.citation
        errors = relay_errors(citation.source.case_id, citation.source_id, [self.source])
        if errors:
            raise ValidationError({"source": errors})


def write_relays(citation, relays, *, created: bool = False) -> None:
    """Make `citation`'s stored relays `relays` (Source records or ids, in order): a history
    row for each relay added, moved or removed, by the citation's writer. `created`: the
    citation was just inserted, so it has none yet (no query)."""
    ids = [_relay_key(relay) for relay in relays]
    user = getattr(citation, "_history_user", None)
    cached = getattr(citation, "_prefetched_objects_cache", {}).get("relay_links")
    if created:
        existing = {}
    elif cached is not None:  # prefetched (the claim form's formset): no query
        existing = {link.source_id: link for link in cached}
    else:
        existing = {link.source_id: link
                    for link in CitationRelay.objects.filter(citation=citation)}
    for source_id, link in existing.items():
        if source_id not in ids:
            if user is not None:
                link._history_user = user
            link.delete()
    for position, source_id in enumerate(ids):
        link = existing.get(source_id)
        if link is None:
            link = CitationRelay(citation=citation, source_id=source_id, position=position)
        elif link.position == position:
            continue
        link.position = position
        if user is not None:
            link._history_user = user
        link._written_by_citation = True
        link.save()
    getattr(citation, "_prefetched_objects_cache", {}).pop("relay_links", None)


def relays_prefetch(lookup: str = "relay_links"):
    """Prefetch a citation's relays with their sources in one query (`lookup`: the path to
    the relays, such as "citations__relay_links")."""
    return models.Prefetch(lookup, queryset=CitationRelay.objects.select_related("source"))


def bulk_create_relays(given, created, *, user, reason: str = "") -> list:
    """After `created` (the citations bulk-created from `given`, in the same order) were
    written: the relays given to each with set_relays(), written in bulk with a history row
    each (the importers). Returns the relay rows."""
    from ..history import bulk_create_with_history

    rows = []
    for citation, stored in zip(given, created, strict=True):
        pending = citation.__dict__.pop("_pending_relays", None) or ()
        rows += [CitationRelay(citation_id=stored.pk, source_id=_relay_key(relay),
                               position=position)
                 for position, relay in enumerate(pending)]
    return bulk_create_with_history(rows, user=user, reason=reason)
