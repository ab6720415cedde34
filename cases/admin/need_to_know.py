"""Need-to-know in the back office: what an admin page may show of a protected source.

A protected source's identity lives in SourceIdentity, whose admin and inline exist for the
case's source handlers only (source.py). Its address, and the address of every citation
from it, are also the handlers' alone (`may_see_address`). Superusers are held to the same
rule: an administrator who must see an identity asks for it, with a reason, on the audited
reveal page (reveal.py).

This module keeps those values off every admin path that is not a plain field list:

- forms (a change page, an inline row, a revert page): a withheld field is shown empty and
  disabled and is never written from the form (`WithheldFieldsFormMixin`); a field whose
  change would expose it (unticking `protected`) is shown but cannot be changed
  (`locked_fields`); a citation moved to another source keeps its sealed address
  (cases/identities.py);
- history: the list of changes leaves withheld fields out, and such a record cannot be
  reverted by this user (a revert writes every field of the old version);
- search: a withheld field is searched only in the rows where the user may see it
  (`guarded_search_fields`), which also covers the autocomplete endpoint;
- list filters: only the lookups the page's own filters make (`lookup_allowed`); Django
  otherwise accepts any lookup on any of the model's own fields (`?url__icontains=`).
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, field

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Exists, OuterRef, Q
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _

from .. import identities
from ..access import handled_case_ids, handles_sources
from ..models import CitationRelay
from .versions import REVERT_OF_ATTR

WITHHELD_HELP = _("Only the case's source handlers see this.")
# The field that holds a source's or a citation's address on their forms.
ADDRESS_FIELD = "url"

_HISTORY_OF_ATTR = "_casedesk_admin_history_of"
_LINEAGES_ATTR = "_casedesk_admin_lineages"


def may_see_address(request, source) -> bool:
    """Whether the requesting user may see `source`'s address: a public source's, or a
    protected one's as one of its case's handlers (cases/identities.py's rule, read from the
    memberships the admin has already read for this request)."""
    return source is None or not source.protected or handles_sources(request, source.case_id)


def address_visible_q(request, source_path: str = "") -> Q:
    """Rows (sources, or records reaching a source through `source_path`) whose address the
    requesting user may see."""
    prefix = f"{source_path}__" if source_path else ""
    return (Q(**{f"{prefix}protected": False})
            | Q(**{f"{prefix}case__in": handled_case_ids(request)}))


def _lineages(request, case_id) -> identities.Lineages:
    """The case's attribution chains, read once per request (an inline asks for each row)."""
    cache = request.__dict__.setdefault(_LINEAGES_ATTR, {})
    if case_id not in cache:
        cache[case_id] = identities.Lineages.for_case(case_id)
    return cache[case_id]


def citation_address_withheld(request, citation) -> bool:
    """Whether the requesting user may neither see nor change `citation`'s address
    (identities.citation_address_withheld: a source of its lineage is protected, or it holds
    a sealed address, and the user is not a handler of its case)."""
    if citation is None or citation.pk is None or not citation.source_id:
        return False
    case_id = citation.source.case_id
    return identities.citation_address_withheld(
        citation, handler=handles_sources(request, case_id),
        lineages=_lineages(request, case_id))


def handler_address_of_citation(request, citation) -> dict:
    """{"url": the sealed address} for a handler's form of a citation whose address is kept
    encrypted (identities.citation_address); nothing for anyone else."""
    if (citation is None or citation.pk is None or not citation.source_id
            or not handles_sources(request, citation.source.case_id)):
        return {}
    return {ADDRESS_FIELD: identities.citation_address(citation, handler=True)}


def handler_address_of_source(request, source) -> dict:
    """{"url": its address} for a handler's form of a protected source (the address is part
    of the identity: identities.source_address); nothing for anyone else."""
    if source is None or source.pk is None or not source.protected or not handles_sources(
            request, source.case_id):
        return {}
    return {ADDRESS_FIELD: identities.source_address(source, handler=True)}


def citation_address_visible_q(request) -> Q:
    """Citations whose address the requesting user may see. (Protected addresses are sealed
    in `protected_url`, so `url` holds public ones only; this keeps a search from reaching
    one that is not, whatever the data.)"""
    protected_relay = CitationRelay.objects.filter(citation=OuterRef("pk"),
                                                   source__protected=True)
    return ((Q(source__protected=False) & ~Exists(protected_relay)
             & Q(protected_url__isnull=True))
            | Q(source__case__in=handled_case_ids(request)))


@dataclass(frozen=True)
class FieldRules:
    """What one form may show and change of its record, for the requesting user."""

    withheld: set = field(default_factory=set)  # shown empty, disabled, never written
    locked: set = field(default_factory=set)  # shown, disabled
    shown: dict = field(default_factory=dict)  # field → value not held by its column
    current: bool = True  # False on a revert page: the form shows an old version


class WithheldFieldsFormMixin:
    """A form some of whose fields this user may not see or may not change.

    `field_rules(instance)` (set on the form class by the admin, per request) gives the
    names withheld (shown empty, disabled, never written), locked (shown, disabled), and
    the values of fields whose column does not hold what they show (a protected source's
    address is kept in its identity: its handlers see and edit it in the address field)."""

    field_rules = None
    withheld = frozenset()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rules = self.field_rules(self.instance) if self.field_rules else FieldRules()
        for name, value in rules.shown.items():
            if name in self.fields:
                self.initial[name] = value
        if hasattr(self.instance, "replaces_protected_address"):
            # As the workspace's forms do (cases/identities.py): a writer who showed the
            # whole address sends it back whole, so an emptied field removes it. Not an old
            # version's form (a revert page): its address field holds what the column held.
            self.instance.replaces_protected_address = (
                rules.current and ADDRESS_FIELD in self.fields
                and ADDRESS_FIELD not in rules.withheld)
        withheld, locked = rules.withheld, rules.locked
        self.withheld = frozenset(name for name in withheld if name in self.fields)
        for name in self.withheld | {name for name in locked if name in self.fields}:
            self.fields[name].disabled = True
        for name in self.withheld:
            form_field = self.fields[name]
            form_field.required = False
            form_field.help_text = WITHHELD_HELP
            self.initial[name] = ""

    def clean(self):
        cleaned_data = super().clean()
        # A disabled field's "value" is its (emptied) initial: it must not reach the record.
        for name in self.withheld:
            self.cleaned_data.pop(name, None)
        return cleaned_data


class _FieldRules:
    """What model admins and inlines share: the per-record rules and how forms get them."""

    def withheld_fields(self, request, obj) -> set[str]:
        """Fields of `obj` whose value the requesting user may not see."""
        return set()

    def locked_fields(self, request, obj) -> set[str]:
        """Fields of `obj` the requesting user may not change (while it is withheld)."""
        return set()

    def shown_values(self, request, obj) -> dict:
        """{field: value} for fields whose value is not the record's column."""
        return {}

    def field_rules(self, request, instance):
        records = [instance]
        live = getattr(request, REVERT_OF_ATTR, None)
        if live is not None:  # a revert page: the old version and the record as it is now
            records.append(live)
        withheld, locked = set(), set()
        for record in records:
            withheld |= self.withheld_fields(request, record)
            locked |= self.locked_fields(request, record)
        if live is not None:
            return FieldRules(withheld, locked, current=False)
        return FieldRules(withheld, locked, self.shown_values(request, instance))


class NeedToKnowAdminMixin(_FieldRules):
    """For a ModelAdmin of case data (see the module docstring)."""

    #: Search fields that hold a withheld value in some rows (plain field names).
    guarded_search_fields = ()

    def guarded_search_rows(self, request) -> Q:
        """The rows where `guarded_search_fields` may be searched by this user."""
        return Q(pk__in=[])

    # --- forms

    def get_form(self, request, obj=None, *args, **kwargs):
        form = super().get_form(request, obj, *args, **kwargs)
        form.field_rules = functools.partial(self.field_rules, request)
        return form

    # --- search and filters

    def get_search_fields(self, request):
        return [field for field in super().get_search_fields(request)
                if field not in self.guarded_search_fields]

    def get_search_results(self, request, queryset, search_term):
        matches, may_have_duplicates = super().get_search_results(
            request, queryset, search_term)
        terms = [unescape_string_literal(bit) if bit[:1] in "\"'" and bit[0] == bit[-1]
                 else bit for bit in smart_split(search_term)]
        if not (self.guarded_search_fields and terms):
            return matches, may_have_duplicates
        # Where the user may see them, the guarded fields are searched like the others.
        fields = [*self.get_search_fields(request), *self.guarded_search_fields]
        every_term = functools.reduce(operator.and_, (
            functools.reduce(operator.or_, (Q(**{f"{field}__icontains": term})
                                            for field in fields))
            for term in terms))
        guarded = queryset.filter(self.guarded_search_rows(request)).filter(every_term)
        return matches | guarded, may_have_duplicates

    def lookup_allowed(self, lookup, value, request=None):
        if not super().lookup_allowed(lookup, value, request):
            return False
        return any(lookup == path or lookup.startswith(f"{path}__")
                   for path in self._filter_paths(request))

    def _filter_paths(self, request):
        list_filter = (self.get_list_filter(request) if request is not None
                       else self.list_filter)
        paths = [self.date_hierarchy] if self.date_hierarchy else []
        for item in list_filter:
            if isinstance(item, type) and issubclass(item, admin.SimpleListFilter):
                paths.append(item.parameter_name)
            elif isinstance(item, list | tuple):
                paths.append(item[0])
            else:
                paths.append(item)
        return paths

    # --- history

    def history_view(self, request, object_id, extra_context=None):
        setattr(request, _HISTORY_OF_ATTR, self.get_object(request, unquote(object_id)))
        return super().history_view(request, object_id, extra_context)

    def set_history_delta_changes(self, request, historical_records,
                                  foreign_keys_are_objs=True):
        rows = list(historical_records)
        withheld = set()
        for record in [getattr(request, _HISTORY_OF_ATTR, None),
                       *(row.instance for row in rows)]:
            if record is not None:
                withheld |= self.withheld_fields(request, record)
        previous = None
        for current in rows:
            if previous is not None:
                delta = previous.diff_against(current, excluded_fields=withheld,
                                              foreign_keys_are_objs=foreign_keys_are_objs)
                helper = self.get_historical_record_context_helper(request, previous)
                previous.history_delta_changes = helper.context_for_delta_changes(delta)
            previous = current

    def revert_disabled(self, request, obj=None):
        # Reverting writes every field of the old version, withheld ones included (a
        # source's `protected` among them).
        return (super().revert_disabled(request, obj)
                or (obj is not None and bool(self.withheld_fields(request, obj))))


class NeedToKnowInlineMixin(_FieldRules):
    """For an InlineModelAdmin: the rules apply row by row."""

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.field_rules = functools.partial(self.field_rules, request)
        return formset
