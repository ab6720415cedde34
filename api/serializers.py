"""Serializers of the API: what a record looks like as JSON, and how input is checked.

Input is checked by the same code as the workspace's forms, never by rules of our own: the
forms' normalisers (`one_line`, `tidy_text`, the language code), then the model's own
`full_clean()` (field validators, `clean()`: same-case links, EDTF dates, counts that add up,
a task's assignee among the members, constraints such as one source name per case). A record
never moves to another case, and a claim's status and proposed verdict are read-only: they
change only through cases.workflow (the claims' transition and propose endpoints).

Protected source identities (SourceIdentity) have no serializer at all: the API never reads
them, for source handlers neither. A protected source appears by its codename (`name`); its
address is part of its identity, so it is never given (`url_withheld`), though its handlers
may send one. A citation's address follows cases.identities.citation_address: handlers-only
when a source of its lineage is protected.
"""

import base64
import copy

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections, models
from django.db.models import prefetch_related_objects
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_countries.serializers import CountryFieldMixin
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, PermissionDenied
from rest_framework.relations import MANY_RELATION_KWARGS
from rest_framework.settings import api_settings

from background import Status as TaskStatus
from capture.domain import withheld_from
from capture.models import Capture, CaptureFile
from capture.tasks import citations_saved
from cases import links as linking
from cases.access import handles_sources, role_in
from cases.deletion import state_of
from cases.enums import EvidenceState, Role, VerificationStatus
from cases.forms.verification import ProposalInput, TransitionInput
from cases.identities import (
    PROTECTED_ADDRESS,
    citation_address,
    citation_address_withheld,
    source_address,
)
from cases.models import (
    Case,
    CaseLink,
    Citation,
    Claim,
    CommentRequest,
    CustodyEntry,
    Evidence,
    Incident,
    IncidentLink,
    IncidentType,
    Membership,
    Source,
    Task,
    VerificationEvent,
)
from cases.models.case import LEAD_NOT_ELIGIBLE, LEAD_NOT_ELIGIBLE_MESSAGE
from cases.models.source import MAX_RELAYS, relay_errors, relays_prefetch
from cases.opening import open_case
from cases.text import language_code, one_line, tidy_text

from .access import require_role
from .fields import BoundedDateTimeField, KeyRelatedField
from .known_input import KnownFieldsMixin, KnownFieldsSerializer

User = get_user_model()

PROTECTED_SOURCE_FIELDS_MESSAGE = _(
    "Only this case's source handlers can change a protected source's address or lift its "
    "protection."
)


def _username_field(**kwargs):
    if kwargs.get("read_only"):
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("help_text", "A username.")
    return serializers.SlugRelatedField(slug_field="username", **kwargs)


def _active_users():
    return User.objects.filter(is_active=True)


def django_errors(exc: DjangoValidationError) -> dict:
    """A model's ValidationError as DRF's {field: [messages]}, `__all__` as non_field_errors."""
    detail = serializers.as_serializer_error(exc)
    if "__all__" in detail:
        detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop("__all__")
    return detail


class RecordSerializer(KnownFieldsMixin, CountryFieldMixin, serializers.ModelSerializer):
    """A record of a case, written under the model's own validation; a field it does not
    have is refused, not dropped (api.known_input)."""

    #: field → the form's normaliser for it (cases/forms).
    normalisers: dict = {}
    #: The least role that may create or change this kind of record.
    write_role = Role.REPORTER
    # Datetimes are checked against cases.timebounds as sent (api/fields.py).
    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.DateTimeField: BoundedDateTimeField}

    created_by = _username_field(read_only=True)

    class Meta:
        # Uniqueness is checked by the model (full_clean validates its constraints), with the
        # model's messages; DRF's own unique validators would only repeat them.
        validators = []

    @property
    def request(self):
        return self.context["request"]

    def case_id_for(self, attrs) -> int | None:
        case = attrs.get("case") or (self.instance.case if self.instance else None)
        return case.pk if case is not None else None

    def build(self, attrs):
        """The record as it would be saved: a copy of the instance (or a new one) with the
        input applied. Validation runs on the copy, so a refusal leaves the instance as read."""
        obj = copy.copy(self.instance) if self.instance is not None else self.Meta.model()
        if self.instance is None and hasattr(obj, "created_by_id"):
            obj.created_by = self.request.user
        for name, value in attrs.items():
            setattr(obj, name, value)
        return obj

    def validate(self, attrs):
        for name, normalise in self.normalisers.items():
            if isinstance(attrs.get(name), str):
                attrs[name] = normalise(attrs[name])
        if self.instance is not None and "case" in attrs and attrs["case"] != self.instance.case:
            raise serializers.ValidationError({"case": [_("A record stays in its case.")]},
                                              code="case_fixed")
        case_id = self.case_id_for(attrs)
        if case_id is not None:
            # A member below the role gets 403; a non-member never reaches a case here (the
            # related querysets are scoped: "object does not exist", as for a missing id).
            require_role(self.request, case_id, self.write_role)
        obj = self.build(attrs)
        try:
            obj.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(django_errors(exc)) from None
        # The model's clean() may normalise what it checked (an EDTF date): keep its version.
        return {name: getattr(obj, name) for name in attrs}

    def create(self, validated_data):
        obj = self.Meta.model(**validated_data)
        if hasattr(obj, "created_by_id"):
            obj.created_by = self.request.user
        obj._history_user = self.request.user
        obj.save()
        return obj

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance._history_user = self.request.user
        instance.save()
        return instance


def _visible(model):
    """A related-record field's choices: records of the requesting user's cases only."""

    class VisibleRelatedField(KeyRelatedField):
        def get_queryset(self):
            request = self.context.get("request")
            return model.objects.visible_to(getattr(request, "user", None))

    return VisibleRelatedField


CaseField = _visible(Case)
IncidentField = _visible(Incident)
ClaimField = _visible(Claim)
SourceField = _visible(Source)


class _RelayList(serializers.ManyRelatedField):
    """A citation's relays: a list longer than the limit is refused before any of its ids
    is looked up, whatever its length, judged as sent by the rule every writer applies
    (relay_errors): an id sent twice is refused with it. The ids are looked up in one query
    for the whole list, not one each, and refused as DRF's field refuses them one by one:
    the first id in the list that is no whole number (`incorrect_type`) or names no source
    of your cases (`does_not_exist`)."""

    def to_internal_value(self, data):
        if isinstance(data, list) and len(data) > MAX_RELAYS:
            # As sent, not yet parsed: 7 and "7" name one source.
            raise DjangoValidationError(relay_errors(None, None, [str(pk) for pk in data]))
        if isinstance(data, str) or not hasattr(data, "__iter__"):
            self.fail("not_a_list", input_type=type(data).__name__)
        if not self.allow_empty and len(data) == 0:
            self.fail("empty")
        child = self.child_relation
        if child.pk_field is not None:  # not ours: DRF's lookups, one by one
            return super().to_internal_value(data)
        items = list(data)
        queryset = child.get_queryset()
        key_range = connections[queryset.db].ops.integer_field_range(
            queryset.model._meta.pk.get_internal_type())
        keys = [_sent_key(queryset.model, item, key_range) for item in items]
        wanted = {key for key in keys if isinstance(key, int)}
        found = queryset.in_bulk(wanted) if wanted else {}
        sources = []
        for item, key in zip(items, keys, strict=True):
            if key is _NOT_A_KEY:
                child.fail("incorrect_type", data_type=type(item).__name__)
            if key not in found:
                child.fail("does_not_exist", pk_value=item)
            sources.append(found[key])
        return sources


#: A relay id that is no whole number (DRF's `incorrect_type`).
_NOT_A_KEY = object()


def _sent_key(model, item, key_range):
    """The id `item` names as sent, read as a lookup by `model`'s primary key reads it (an
    int); None for an id no record can have (null, or beyond the key's `key_range`);
    _NOT_A_KEY for what is no whole number (a bool, 1.5, "x", a list)."""
    if isinstance(item, bool) or (isinstance(item, float) and not item.is_integer()):
        return _NOT_A_KEY
    try:
        key = model._meta.pk.get_prep_value(item)
    except (TypeError, ValueError, OverflowError):
        return _NOT_A_KEY
    if key is None:
        return None
    low, high = key_range
    return key if (low is None or key >= low) and (high is None or key <= high) else None


@extend_schema_field(OpenApiTypes.INT)
class RelayField(SourceField):
    """A citation's relay, by id: the schema says so directly, since the relays are read
    through a property (Citation.relay_sources) and the deprecated `via` is no model field,
    so there is nothing it could follow."""

    @classmethod
    def many_init(cls, *args, **kwargs):
        # DRF's many_init, with the list above.
        return _RelayList(child_relation=cls(*args, **kwargs),
                          **{key: value for key, value in kwargs.items()
                             if key in MANY_RELATION_KWARGS})


# --- Cases ---------------------------------------------------------------------------------

class LeadField(serializers.SlugRelatedField):
    """A case's lead by username. An unknown or inactive username gets the answer the model
    gives a lead who may not lead (Case.clean), word for word and code for code: the API
    never says whether an account exists."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError:
            raise serializers.ValidationError(str(LEAD_NOT_ELIGIBLE_MESSAGE),
                                              code=LEAD_NOT_ELIGIBLE) from None


class CaseSerializer(RecordSerializer):
    normalisers = {"title": one_line, "summary": tidy_text}
    write_role = Role.EDITOR

    lead = LeadField(slug_field="username", queryset=_active_users(), required=False,
                     allow_null=True,
                     help_text="Username of one of the case's reporters or editors, who leads "
                               "the story; opening a case, only yours. Anyone else is refused "
                               "with code `lead_not_eligible`, whether the account exists or "
                               "not.")
    my_role = serializers.SerializerMethodField(help_text="Your role in this case.")
    source_handler = serializers.SerializerMethodField(
        help_text="Whether you are one of this case's source handlers.")

    class Meta(RecordSerializer.Meta):
        model = Case
        fields = ["id", "slug", "title", "summary", "status", "sensitivity", "lead", "my_role",
                  "source_handler", "created_by", "created_at", "updated_at"]
        # Made by the server with a random ending (Case._unique_slug): a chosen address
        # refused as taken would reveal a case the client cannot see.
        read_only_fields = ["slug"]

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices))
    def get_my_role(self, case):
        role = role_in(self.request, case.pk)
        return role.value if role else None

    def get_source_handler(self, case) -> bool:
        return handles_sources(self.request, case.pk)

    def case_id_for(self, attrs):
        # Opening a case needs the newsroom's right (CaseViewSet.create); changing one needs
        # an editor of it. Who may lead is the model's rule (Case.clean, via full_clean).
        return self.instance.pk if self.instance is not None else None

    def create(self, validated_data):
        # Whoever opens a case becomes its editor (as on the pages).
        return open_case(Case(**validated_data), self.request.user)


# --- Incidents -----------------------------------------------------------------------------

class IncidentTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = IncidentType
        fields = ["slug", "name", "description"]


class IncidentSerializer(RecordSerializer):
    normalisers = {"title": one_line, "description": tidy_text, "occurred": one_line,
                   "place_name": one_line, "admin_region": one_line, "count_group": one_line}

    case = CaseField()
    type = serializers.SlugRelatedField(slug_field="slug", queryset=IncidentType.objects.all(),
                                        required=False, allow_null=True,
                                        help_text="Slug of an incident type "
                                                  "(/api/v1/incident-types/).")
    occurred_display = serializers.CharField(source="when_display", read_only=True,
                                             help_text="The date in plain words.")

    class Meta(RecordSerializer.Meta):
        model = Incident
        fields = ["id", "case", "type", "title", "description", "occurred", "occurred_display",
                  "occurred_earliest", "occurred_latest", "place_name", "admin_region",
                  "country", "latitude", "longitude", "geo_precision", "involved", "detained",
                  "killed", "injured", "missing", "at_large", "involved_qualifier",
                  "detained_qualifier", "killed_qualifier", "injured_qualifier",
                  "missing_qualifier", "at_large_qualifier", "count_group", "in_case_counts",
                  "created_by", "created_at", "updated_at"]
        read_only_fields = ["occurred_earliest", "occurred_latest"]


# --- Sources -------------------------------------------------------------------------------

class SourceSerializer(RecordSerializer):
    normalisers = {"name": one_line, "url": str.strip, "language": language_code,
                   "reliability_note": tidy_text}

    case = CaseField()
    reached_via = SourceField(required=False, allow_null=True,
                              help_text="The source this one is only known through.")
    url_withheld = serializers.SerializerMethodField(
        help_text="True for a protected source: its address is part of its identity, which "
                  "the API never gives (an empty string here). The case's source handlers "
                  "may send one; they read it on the source's page.")

    class Meta(RecordSerializer.Meta):
        model = Source
        fields = ["id", "case", "name", "kind", "url", "url_withheld", "language", "country",
                  "reliability", "reliability_note", "protected", "reached_via", "created_by",
                  "created_at", "updated_at"]

    def _withheld(self, source) -> bool:
        return source.protected and not handles_sources(self.request, source.case_id)

    def get_url_withheld(self, source) -> bool:
        return source.protected

    def to_representation(self, source):
        data = super().to_representation(source)
        data["url"] = source_address(source, handler=False)
        return data

    def validate(self, attrs):
        if self.instance is not None and self._withheld(self.instance):
            # As on the source form: its handlers decide a protected source's address and
            # whether it stays protected. Sending back what was read (an empty, withheld
            # address; protected) changes nothing and is accepted.
            if attrs.get("url"):
                raise serializers.ValidationError(
                    {"url": [PROTECTED_SOURCE_FIELDS_MESSAGE]}, code=PROTECTED_ADDRESS)
            if attrs.get("protected") is False:
                raise serializers.ValidationError(
                    {"protected": [PROTECTED_SOURCE_FIELDS_MESSAGE]}, code=PROTECTED_ADDRESS)
            attrs.pop("url", None)
            attrs.pop("protected", None)
        address = attrs.get("url")
        data = super().validate(attrs)
        if address:
            # Source.clean() set a protected source's address aside for its identity, on
            # the copy it checked: Source.save() stores it there.
            data["url"] = address
        return data


# --- Claims --------------------------------------------------------------------------------

class ClaimSerializer(RecordSerializer):
    normalisers = {"statement": one_line, "figure_unit": one_line}

    case = CaseField()
    incident = IncidentField(required=False, allow_null=True)
    proposed_by = _username_field(read_only=True)
    proposed_verdict = serializers.ChoiceField(
        choices=VerificationStatus.choices, read_only=True, allow_blank=True,
        help_text="A verdict proposed for an editor to decide; empty when none is pending.")

    class Meta(RecordSerializer.Meta):
        model = Claim
        fields = ["id", "case", "incident", "statement", "figure_value", "figure_unit",
                  "figure_qualifier", "credibility", "status", "proposed_verdict",
                  "proposed_by", "created_by", "created_at", "updated_at"]
        # Written only by cases.workflow: /claims/{id}/transition/ and /propose/.
        read_only_fields = ["status", "proposed_verdict"]


class _OriginSerializer(serializers.Serializer):
    sources = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="The sources this origin comes down to: those of its chains that no other "
                  "source of them is reached via.")
    via = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="For each of `sources`, the sources it is reached via, in order.")
    citations = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="The supporting citations that go back to this origin.")


class _PairSerializer(serializers.Serializer):
    citations = serializers.ListField(child=serializers.IntegerField(), min_length=2,
                                      max_length=2)
    independent = serializers.BooleanField(
        help_text="Whether the two citations' chains share no source.")
    shared_sources = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="The sources both chains pass through (none when independent).")


class AttributionSerializer(serializers.Serializer):
    """Why a claim's supporting citations are, or are not, independent
    (cases.attribution.explain): the claim page's words, as ids."""

    independent_origins = _OriginSerializer(many=True)
    pairs = _PairSerializer(many=True)
    pairs_left_out = serializers.IntegerField(
        help_text="Pairs of supporting citations not listed (beyond the first 45).")


class ClaimDetailSerializer(ClaimSerializer):
    """A claim as read on its own: with where its supporting citations come from."""

    attribution = serializers.SerializerMethodField()

    class Meta(ClaimSerializer.Meta):
        fields = [*ClaimSerializer.Meta.fields, "attribution"]

    @extend_schema_field(AttributionSerializer)
    def get_attribution(self, claim) -> dict:
        from cases import attribution

        citations = list(claim.citations.only("pk", "source_id", "relation")
                         .prefetch_related("relay_links").order_by("published_at", "pk"))
        explained = attribution.explain(citations,
                                        attribution.via_map_for_case(claim.case_id))
        return {
            "independent_origins": [
                {"sources": list(origin.roots), "via": [list(v) for v in origin.roots_via],
                 "citations": [c.pk for c in origin.citations]}
                for origin in explained.origins],
            "pairs": [{"citations": [pair.first.pk, pair.second.pk],
                       "independent": pair.independent, "shared_sources": list(pair.shared)}
                      for pair in explained.pairs],
            "pairs_left_out": explained.pairs_left_out,
        }


def fields_of(form_class) -> dict[str, serializers.Field]:
    """DRF fields for the fields of one of the move inputs (cases.forms.verification): the
    same choices, limits and help, so the API takes exactly what the page and the admin take
    and refuses the rest with the same codes (`invalid_choice`, `max_length`)."""
    fields = {}
    for name, field in form_class.base_fields.items():
        common = {"help_text": field.help_text or None}
        if isinstance(field, forms.BooleanField):
            fields[name] = serializers.BooleanField(required=False, default=False, **common)
        elif isinstance(field, forms.ChoiceField):
            fields[name] = serializers.ChoiceField(choices=list(field.choices),
                                                   required=field.required, **common)
        elif isinstance(field, forms.CharField) and not field.required:
            fields[name] = serializers.CharField(max_length=field.max_length, required=False,
                                                 allow_blank=True, default="", **common)
        else:
            raise TypeError(f"{form_class.__name__}.{name}: no API field for {field!r}")
    return fields


class MoveInputSerializer(KnownFieldsSerializer):
    """A workflow move's input, as `input_form` defines it for every door."""

    input_form: type[forms.Form]

    def get_fields(self):
        return fields_of(self.input_form)


class TransitionSerializer(MoveInputSerializer):
    input_form = TransitionInput


class ProposeSerializer(MoveInputSerializer):
    input_form = ProposalInput


class VerificationEventSerializer(serializers.ModelSerializer):
    actor = _username_field(read_only=True, allow_null=False)
    proposed_verdict = serializers.ChoiceField(choices=VerificationStatus.choices,
                                               read_only=True, allow_blank=True)

    class Meta:
        model = VerificationEvent
        fields = ["id", "kind", "from_status", "to_status", "proposed_verdict", "actor", "note",
                  "override_reason", "created_at"]
        read_only_fields = fields


# --- Citations -----------------------------------------------------------------------------

class CitationSerializer(RecordSerializer):
    normalisers = {"quote": tidy_text, "url": str.strip, "language": language_code}

    claim = ClaimField(required=False, allow_null=True,
                       help_text="The claim cited for; give a claim or an incident.")
    incident = IncidentField(required=False, allow_null=True,
                             help_text="The incident cited for; give a claim or an incident.")
    source = SourceField()
    relays = RelayField(
        many=True, required=False, source="relay_sources",
        help_text=f"The sources this statement came through, in order (ids of sources of "
                  f"the same case, each once, not the citation's own source; at most "
                  f"{MAX_RELAYS}). Sending it replaces the citation's relays.")
    via = RelayField(
        required=False, allow_null=True, write_only=True,
        help_text="Deprecated: one relay, as before citations had several. Sending it sets "
                  "`relays` to this one source (null: none); not together with `relays`.")
    source_name = serializers.CharField(source="source.name", read_only=True,
                                        help_text="The source's name, or its codename.")
    relay_names = serializers.SerializerMethodField(
        help_text="The names (a protected source's codename) of the relays, in order.")
    case = serializers.SerializerMethodField(help_text="The case of the claim or incident.")

    class Meta(RecordSerializer.Meta):
        model = Citation
        fields = ["id", "case", "claim", "incident", "source", "source_name", "relation",
                  "relays", "relay_names", "via", "quote", "url", "published_at",
                  "accessed_at", "language", "created_by", "created_at", "updated_at"]

    def get_relay_names(self, citation) -> list[str]:
        return [source.name for source in citation.relay_sources]

    def _handler(self, citation) -> bool:
        return handles_sources(self.request, citation.source.case_id)

    def to_representation(self, citation):
        if citation.pk is not None:
            # The relays' ids and names in one query with their sources, not one per relay,
            # when the list did not read them already: after a write (the view reads none
            # for one, and both writing the relays and DRF's update drop what was read).
            prefetch_related_objects([citation], relays_prefetch())
        data = super().to_representation(citation)
        data["url"] = citation_address(citation, handler=self._handler(citation))
        return data

    @extend_schema_field(OpenApiTypes.INT)
    def get_case(self, citation):
        return citation.source.case_id

    def case_id_for(self, attrs):
        target = None
        for name in ("claim", "incident"):
            if name in attrs:
                target = attrs[name] or target
            elif self.instance is not None:
                target = getattr(self.instance, name) or target
        return target.case_id if target is not None else None

    def validate(self, attrs):
        if "via" in attrs:
            via = attrs.pop("via")
            if "relay_sources" in attrs:
                raise serializers.ValidationError(
                    {"via": [_("Give the relays, or the one deprecated via, not both.")]},
                    code="via_with_relays")
            attrs["relay_sources"] = [via] if via is not None else []
        if self.instance is not None:
            # A citation stays with its claim or incident (as in the claim's form).
            for name in ("claim", "incident"):
                if name in attrs and attrs[name] != getattr(self.instance, name):
                    raise serializers.ValidationError(
                        {name: [_("A citation stays with the claim or incident it was "
                                  "made for.")]})
            if citation_address_withheld(self.instance,
                                         handler=self._handler(self.instance)):
                # As in the claim's form: the address of a protected source's statement is
                # its handlers'. Sending back what was read (empty) keeps it.
                if attrs.get("url"):
                    raise serializers.ValidationError(
                        {"url": [_("Only this case's source handlers can change the "
                                   "address of a protected source's statement.")]},
                        code=PROTECTED_ADDRESS)
                attrs.pop("url", None)
        return super().validate(attrs)

    def create(self, validated_data):
        citation = super().create(validated_data)
        citations_saved([citation], self.request.user)  # captured once the save commits
        return citation

    def update(self, instance, validated_data):
        # A handler read the whole address: an empty one sent back removes it.
        instance.replaces_protected_address = "url" in validated_data
        citation = super().update(instance, validated_data)
        citations_saved([citation], self.request.user)
        return citation


# --- Tasks and requests for comment --------------------------------------------------------

class TaskSerializer(RecordSerializer):
    normalisers = {"title": one_line, "notes": tidy_text}

    case = CaseField()
    claim = ClaimField(required=False, allow_null=True)
    incident = IncidentField(required=False, allow_null=True)
    assignee = _username_field(queryset=_active_users(), required=False, allow_null=True,
                               help_text="Username of a member of the case.")

    class Meta(RecordSerializer.Meta):
        model = Task
        fields = ["id", "case", "title", "notes", "assignee", "due_on", "state", "claim",
                  "incident", "created_by", "created_at", "updated_at"]


class CommentRequestSerializer(RecordSerializer):
    normalisers = {"party_name": one_line, "reply_summary": tidy_text}

    case = CaseField()
    incident = IncidentField(required=False, allow_null=True)
    party_source = SourceField(required=False, allow_null=True,
                               help_text="The party asked, when it is a source of the case.")
    party = serializers.CharField(read_only=True,
                                  help_text="Who was asked: the source's name (or codename), "
                                            "or the party's name.")
    asked_by = _username_field(queryset=_active_users(), required=False, allow_null=True,
                               help_text="Username of the member who asked; you, when left out "
                                         "of a new request.")

    class Meta(RecordSerializer.Meta):
        model = CommentRequest
        fields = ["id", "case", "incident", "party_source", "party_name", "party", "asked_by",
                  "asked_at", "channel", "deadline", "outcome", "reply_summary", "created_by",
                  "created_at", "updated_at"]

    def validate(self, attrs):
        asked_by, case_id = attrs.get("asked_by"), self.case_id_for(attrs)
        if (asked_by is not None and case_id is not None
                and (self.instance is None or asked_by.pk != self.instance.asked_by_id)
                and not Membership.objects.filter(case_id=case_id, user=asked_by).exists()):
            # The request form offers the case's members only.
            raise serializers.ValidationError({"asked_by": [_("Pick a member of this case.")]})
        return super().validate(attrs)

    def build(self, attrs):
        obj = super().build(attrs)
        if self.instance is None and "asked_by" not in attrs:
            obj.asked_by = self.request.user  # as the page's new request does
        return obj

    def create(self, validated_data):
        validated_data.setdefault("asked_by", self.request.user)
        return super().create(validated_data)


# --- Evidence and captures -----------------------------------------------------------------

class TaskStateSerializer(serializers.Serializer):
    """Where the background task making a capture stands (background.state)."""

    id = serializers.CharField()
    status = serializers.ChoiceField(choices=TaskStatus.choices,
                                     help_text="`retrying`: an attempt failed and another "
                                               "one will be made (after `run_after`).")
    attempts = serializers.IntegerField(help_text="Attempts started so far.")
    max_attempts = serializers.IntegerField()
    run_after = serializers.DateTimeField(allow_null=True,
                                          help_text="Not before this (the next attempt).")
    reason = serializers.CharField(help_text="Why the last attempt failed; empty if none did.")


class TimestampSerializer(serializers.Serializer):
    """The RFC 3161 timestamp over the manifest's SHA-256, to check outside Casedesk:
    `openssl ts -verify -token_in -in token.der -digest <manifest_sha256> -CAfile <a root
    you trust>` (the chain given here shows which root that is)."""

    tsa_url = serializers.CharField()
    certified_time = serializers.DateTimeField(source="timestamped_at")
    verified_at = serializers.DateTimeField(allow_null=True,
                                            help_text="When Casedesk verified it.")
    token = serializers.SerializerMethodField(
        help_text="The TimeStampToken (DER, base64): `base64 -d > token.der`.")
    tsa_chain_pem = serializers.CharField(
        help_text="The TSA's certificate, then its issuers up to the root (PEM).")

    def get_token(self, capture) -> str:
        return base64.b64encode(bytes(capture.timestamp_token)).decode()


class EvidenceStateField(serializers.ChoiceField):
    """An evidence file's state in the workspace (cases.enums.EvidenceState), from the
    annotations cases.deletion's `evidence_state` gave its row (the file, or a capture's
    file)."""

    def __init__(self, **kwargs):
        super().__init__(choices=EvidenceState.choices, source="*", read_only=True, **kwargs)

    def to_representation(self, row):
        return state_of(row).value


class EvidenceStateFieldSchema(OpenApiSerializerFieldExtension):
    """One named enum, `EvidenceStateEnum`, for the evidence's and the capture files'
    `state`: left to drf-spectacular, it would take the name of the tasks' `StateEnum`."""

    target_class = EvidenceStateField

    def get_name(self):
        return "EvidenceStateEnum"

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "enum": list(EvidenceState.values)}


EVIDENCE_STATE_HELP = _(
    "The file's state in the workspace: `kept`; `deleted` (deleted from the workspace, the "
    "file still stored and given by `download`; restorable for a while); `purged` (removed "
    "from storage after its deletion: no `download`, its record, hashes and chain of custody "
    "are kept).")
PURGED_AT_HELP = _("When the file was purged from storage; null unless it was.")


class CaptureFileSerializer(serializers.ModelSerializer):
    # A string, not an enum in the schema: there, "role" names the members' roles.
    role = serializers.CharField(help_text="`archive` (WACZ), `screenshot` (PNG), `pdf` or "
                                           "`manifest` (JSON).")
    evidence = serializers.IntegerField(source="evidence_id")
    name = serializers.CharField(source="evidence.original_name")
    size = serializers.IntegerField(source="evidence.size")
    sha256 = serializers.CharField(source="evidence.sha256")
    state = EvidenceStateField(help_text=EVIDENCE_STATE_HELP)
    purged_at = serializers.DateTimeField(source="evidence_purged_at", read_only=True,
                                          allow_null=True, help_text=PURGED_AT_HELP)
    download = serializers.SerializerMethodField(help_text=_(
        "The file (a member of the case; logged in its chain of custody); null once it was "
        "purged from storage."))

    class Meta:
        model = CaptureFile
        fields = ["role", "evidence", "name", "size", "sha256", "state", "purged_at",
                  "download"]

    def get_download(self, capture_file) -> str | None:
        if state_of(capture_file) == EvidenceState.PURGED:
            return None
        return evidence_download_url(self.context["request"], capture_file.evidence_id)


def evidence_download_url(request, evidence_id) -> str:
    return request.build_absolute_uri(reverse("api:evidence-download", args=[evidence_id]))


class CaptureSerializer(serializers.ModelSerializer):
    """A capture of a cited page. For a protected source's address, everything that names or
    shows the page (address, title, headers, manifest, files, hash and timestamp) is given
    to the case's source handlers only: `withheld` is true and they are empty for anyone
    else."""

    requested_by = serializers.SerializerMethodField(
        help_text="Who asked (a username); null when withheld: asking for a protected "
                  "source's capture shows who handles the case's sources.")
    withheld = serializers.SerializerMethodField(
        help_text="True when the capture's details are for the case's source handlers only.")
    url = serializers.SerializerMethodField()
    final_url = serializers.SerializerMethodField()
    title = serializers.SerializerMethodField()
    response_headers = serializers.SerializerMethodField(
        help_text="The page's answer's headers, as [name, value] pairs.")
    manifest = serializers.SerializerMethodField(
        help_text="The manifest (JSON): each file's name, size and SHA-256; the address; "
                  "the time. Its SHA-256 is `manifest_sha256`.")
    manifest_sha256 = serializers.SerializerMethodField()
    timestamp = serializers.SerializerMethodField()
    files = serializers.SerializerMethodField()
    task = serializers.SerializerMethodField(
        help_text="The task making it while it is at work (null once done, or when its "
                  "record was pruned).")

    class Meta:
        model = Capture
        fields = ["id", "case", "citation", "status", "failure_code", "failure_reason",
                  "trigger", "requested_by", "requested_at", "attempts", "worker",
                  "started_at", "finished_at", "captured_at", "http_status", "withheld",
                  "url", "final_url", "title", "response_headers", "manifest",
                  "manifest_sha256", "timestamp", "timestamp_error", "files", "task"]
        read_only_fields = fields

    def _withheld(self, capture) -> bool:
        # The user's memberships are read (once a request) only when a capture is protected.
        return capture.protected and withheld_from(
            capture, handler=handles_sources(self.context["request"], capture.case_id))

    def _details(self, capture) -> dict | None:
        cache = self.context.setdefault("_capture_details", {})
        if capture.pk not in cache:
            cache[capture.pk] = None if self._withheld(capture) else capture.details
        return cache[capture.pk]

    def get_withheld(self, capture) -> bool:
        return self._details(capture) is None

    def _detail(self, capture, name):
        details = self._details(capture)
        return details[name] if details is not None else None

    def get_requested_by(self, capture) -> str | None:
        if self._details(capture) is None:
            return None
        return capture.requested_by.get_username()

    def get_url(self, capture) -> str | None:
        return self._detail(capture, "url")

    def get_final_url(self, capture) -> str | None:
        return self._detail(capture, "final_url")

    def get_title(self, capture) -> str | None:
        return self._detail(capture, "title")

    @extend_schema_field({"type": "array", "nullable": True,
                          "items": {"type": "array", "items": {"type": "string"}}})
    def get_response_headers(self, capture):
        return self._detail(capture, "response_headers")

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": True})
    def get_manifest(self, capture):
        return self._detail(capture, "manifest")

    def get_manifest_sha256(self, capture) -> str | None:
        if self._details(capture) is None:
            return None
        return capture.manifest_sha256

    @extend_schema_field(TimestampSerializer(allow_null=True))
    def get_timestamp(self, capture):
        if self._details(capture) is None or not capture.timestamp_token:
            return None
        return TimestampSerializer(capture, context=self.context).data

    @extend_schema_field(CaptureFileSerializer(many=True))
    def get_files(self, capture):
        if self._details(capture) is None:
            return []
        return CaptureFileSerializer(capture.files.all(), many=True, context=self.context).data

    @extend_schema_field(TaskStateSerializer(allow_null=True))
    def get_task(self, capture):
        states = self.context.get("task_states") or {}
        found = states.get(capture.task_id)
        return TaskStateSerializer(found).data if found is not None else None


class CustodyEntrySerializer(serializers.ModelSerializer):
    actor = _username_field(read_only=True, allow_null=False)

    class Meta:
        model = CustodyEntry
        fields = ["action", "actor", "at", "note"]
        read_only_fields = fields


class EvidenceSerializer(serializers.ModelSerializer):
    """An evidence file of one of your cases: its hashes, a download link (the same access
    rules: members of its case; a protected source's capture, its handlers), its chain of
    custody, and for a web capture's file the capture it belongs to."""

    created_by = _username_field(read_only=True)
    captured_by = _username_field(read_only=True)
    state = EvidenceStateField(help_text=EVIDENCE_STATE_HELP)
    purged_at = serializers.DateTimeField(source="evidence_purged_at", read_only=True,
                                          allow_null=True, help_text=PURGED_AT_HELP)
    download = serializers.SerializerMethodField(help_text=_(
        "The file (logged in its chain of custody); null once it was purged from storage."))
    custody = CustodyEntrySerializer(many=True, read_only=True,
                                     help_text="The chain of custody, oldest first.")
    capture_role = serializers.SerializerMethodField(
        help_text="For a web capture's file: which one it is (archive, screenshot, pdf, "
                  "manifest).")
    capture = serializers.SerializerMethodField(
        help_text="For a web capture's file: the capture, with its manifest and timestamp.")

    class Meta:
        model = Evidence
        fields = ["id", "case", "claim", "incident", "original_name", "description",
                  "content_type", "size", "sha256", "original_sha256", "origin_url",
                  "captured_by", "captured_at", "created_by", "created_at", "state",
                  "purged_at", "download", "custody", "capture_role", "capture"]
        read_only_fields = fields

    def get_download(self, evidence) -> str | None:
        if state_of(evidence) == EvidenceState.PURGED:
            return None
        return evidence_download_url(self.context["request"], evidence.pk)

    @staticmethod
    def _capture_file(evidence):
        try:
            return evidence.capture_file
        except CaptureFile.DoesNotExist:
            return None

    @extend_schema_field({"type": "string", "nullable": True,
                          "enum": [*CaptureFile.Role.values, None]})
    def get_capture_role(self, evidence):
        capture_file = self._capture_file(evidence)
        return capture_file.role if capture_file is not None else None

    @extend_schema_field(CaptureSerializer(allow_null=True))
    def get_capture(self, evidence):
        capture_file = self._capture_file(evidence)
        if capture_file is None:
            return None
        return CaptureSerializer(capture_file.capture, context=self.context).data


class CaptureRequestSerializer(KnownFieldsSerializer):
    """Asking for a capture takes no input (an empty body, or none)."""


# --- Linked cases and incidents (cases/models/links.py) ------------------------------------

class LinkSerializer(KnownFieldsMixin, serializers.ModelSerializer):
    """A link between two records the requesting user may both see; made through cases.links
    (a reporter or editor of both sides; a side in a case you are not a member of does not
    exist for you)."""

    created_by = _username_field(read_only=True)
    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.DateTimeField: BoundedDateTimeField}

    class Meta:
        validators = []

    @property
    def request(self):
        return self.context["request"]

    def validate_note(self, value):
        return tidy_text(value)

    def link(self, validated_data):
        raise NotImplementedError

    def create(self, validated_data):
        try:
            return self.link(validated_data)
        except DjangoValidationError as exc:
            codes = [e.code for e in exc.error_list] if not hasattr(exc, "error_dict") else [
                e.code for errors in exc.error_dict.values() for e in errors]
            if linking.LINK_NOT_ALLOWED in codes:
                message = str(linking.MESSAGES[linking.LINK_NOT_ALLOWED])
                raise PermissionDenied({"detail": ErrorDetail(message, linking.LINK_NOT_ALLOWED),
                                        "code": linking.LINK_NOT_ALLOWED}) from None
            raise serializers.ValidationError(django_errors(exc)) from None


class CaseLinkSerializer(LinkSerializer):
    from_case = CaseField(help_text="A case's id: the case the link is made from.")
    to_case = CaseField(help_text="A case's id: the linked case.")

    class Meta(LinkSerializer.Meta):
        model = CaseLink
        fields = ["id", "from_case", "to_case", "note", "created_by", "created_at"]

    def link(self, validated_data):
        return linking.link_cases(validated_data["from_case"], validated_data["to_case"],
                                  actor=self.request.user, note=validated_data.get("note", ""))


class IncidentLinkSerializer(LinkSerializer):
    from_incident = IncidentField(help_text="An incident's id. For a follow-up: the later one.")
    to_incident = IncidentField(help_text="An incident's id, in this case or another of yours. "
                                          "For a follow-up: the one followed up.")

    class Meta(LinkSerializer.Meta):
        model = IncidentLink
        fields = ["id", "from_incident", "to_incident", "kind", "note", "created_by",
                  "created_at"]

    def link(self, validated_data):
        return linking.link_incidents(
            validated_data["from_incident"], validated_data["to_incident"],
            actor=self.request.user, kind=validated_data.get("kind", "related"),
            note=validated_data.get("note", ""))
