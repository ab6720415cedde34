"""Create and edit forms of a case's records: incidents, sources (and identities),
claims with their citations, evidence, tasks and requests for comment."""


from crispy_forms.layout import HTML, Column, Field, Fieldset, Layout, Row
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet, inlineformset_factory
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from capture.tasks import citations_saved

from ..identities import Lineages, citation_address, citation_address_withheld, source_address
from ..models import (
    Citation,
    Claim,
    CommentRequest,
    Evidence,
    Incident,
    Source,
    SourceIdentity,
    Task,
)
from ..text import language_code, one_line, tidy_text
from .base import (
    CREDIBILITY_MEANING,
    RELIABILITY_MEANING,
    CaseRecordForm,
    _IncidentChoiceField,
    _members,
    _scale,
    _UserChoiceField,
)
from .uploads import EvidenceUploadFormMixin


def _note(text: str) -> HTML:
    """A short explanation inside a form's layout, in the reader's language. crispy renders
    an HTML layout object as a template: the text goes in escaped, with any braces."""
    return HTML(format_html('<p class="small text-body-secondary">{}</p>', text)
                .replace("{", "&#123;").replace("}", "&#125;"))


class IncidentForm(CaseRecordForm):
    class Meta:
        model = Incident
        fields = ["title", "type", "description", "occurred", "place_name", "admin_region",
                  "country", "latitude", "longitude", "geo_precision", "involved", "detained",
                  "killed", "injured", "missing", "at_large", "involved_qualifier",
                  "detained_qualifier", "killed_qualifier", "injured_qualifier",
                  "missing_qualifier", "at_large_qualifier", "count_group", "in_case_counts"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "title": _("What happened, in a few words."),
            "place_name": _("The town, village or site, as precisely as it is known."),
            "latitude": _("Decimal degrees (47.2357). Give both coordinates, or neither."),
            "longitude": _("Decimal degrees (39.7015)."),
        }

    def get_layout(self):
        return Layout(
            Fieldset(gettext("What happened"), "title", "type", "description"),
            Fieldset(gettext("When"), "occurred"),
            Fieldset(
                gettext("Where"),
                Row(Column("place_name"), Column("admin_region"), Column("country")),
                Row(Column("latitude"), Column("longitude"), Column("geo_precision")),
            ),
            Fieldset(
                gettext("People"),
                _note(gettext("Leave a count empty when it is unknown; 0 means none. "
                              "Detained, killed, missing and at large are separate outcomes "
                              "and together cannot exceed the people involved; injured "
                              "overlaps with them and is not part of that sum.")),
                Row(Column("involved"), Column("involved_qualifier"), Column("detained"),
                    Column("detained_qualifier")),
                Row(Column("killed"), Column("killed_qualifier"), Column("injured"),
                    Column("injured_qualifier")),
                Row(Column("missing"), Column("missing_qualifier"), Column("at_large"),
                    Column("at_large_qualifier")),
                _note(gettext("A qualifier reads a count as a range (“more than 100”, “about "
                              "300”); the sum is checked against the people involved as "
                              "ranges.")),
                Row(Column("count_group"), Column("in_case_counts")),
            ),
        )

    def clean_title(self):
        return one_line(self.cleaned_data["title"])

    def clean_count_group(self):
        return one_line(self.cleaned_data["count_group"])

    def clean_description(self):
        return tidy_text(self.cleaned_data["description"])

    def clean_occurred(self):
        # Normalised and checked as EDTF by Incident.clean(), which every write path runs.
        return one_line(self.cleaned_data["occurred"])

    def clean_place_name(self):
        return one_line(self.cleaned_data["place_name"])

    def clean_admin_region(self):
        return one_line(self.cleaned_data["admin_region"])


class SourceForm(CaseRecordForm):
    """A source's public side. Its real identity (SourceIdentity) is a separate form that
    only the case's source handlers get."""

    class Meta:
        model = Source
        fields = ["name", "kind", "url", "language", "country", "reliability",
                  "reliability_note", "protected", "reached_via"]
        widgets = {"reliability_note": forms.Textarea(attrs={"rows": 2})}

    def limit_choices(self):
        instance = self.instance
        handler = self.access is None or self.access.can_handle_sources
        if instance.pk and instance.protected:
            if handler:
                # The address is part of the identity (SourceIdentity.address).
                self.initial["url"] = source_address(instance, handler=True)
            else:
                # A protected source's address may point at who they are, and lifting its
                # protection is its handlers' decision.
                del self.fields["url"]
                del self.fields["protected"]
        # Whoever sees the whole address sends it back: emptied, it is removed.
        instance.replaces_protected_address = "url" in self.fields
        sources = Source.objects.of_case(self.case).order_by("name")
        if instance.pk:
            sources = sources.exclude(pk=instance.pk)
        self._limit("reached_via", sources)

    def get_layout(self):
        public = ["url", "reached_via", "protected"]
        if "protected" not in self.fields:
            public = ["reached_via", _note(gettext(
                "Only this case's source handlers can change a protected source's address or "
                "lift its protection."))]
        return Layout(
            Fieldset(gettext("Source"), "name",
                     Row(Column("kind"), Column("language"), Column("country")), *public),
            Fieldset(gettext("Reliability"), "reliability",
                     _scale(gettext("What the grades mean"), RELIABILITY_MEANING),
                     "reliability_note"),
        )

    def clean_name(self):
        name = one_line(self.cleaned_data["name"])
        clash = Source.objects.of_case(self.case).filter(name=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if name and clash.exists():
            raise ValidationError(_("This case already has a source of that name."))
        return name

    def clean_url(self):
        return self.cleaned_data["url"].strip()

    def clean_language(self):
        return language_code(self.cleaned_data["language"])

    def clean_reliability_note(self):
        return tidy_text(self.cleaned_data["reliability_note"])


class SourceIdentityForm(CaseRecordForm):
    """Who a protected source really is. Only ever built for the case's source handlers."""

    class Meta:
        model = SourceIdentity
        fields = ["real_name", "contact", "private_notes"]
        widgets = {"contact": forms.Textarea(attrs={"rows": 2}),
                   "private_notes": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"private_notes": _("Seen only by this case's source handlers.")}

    def conflict_subject(self):
        return gettext("this source's identity")

    def clean_real_name(self):
        return one_line(self.cleaned_data["real_name"])

    def clean_contact(self):
        return tidy_text(self.cleaned_data["contact"])

    def clean_private_notes(self):
        return tidy_text(self.cleaned_data["private_notes"])

    def is_empty(self) -> bool:
        return not any(self.cleaned_data.get(f) for f in self.Meta.fields)


class ClaimForm(CaseRecordForm):
    """A claim's statement, figure and credibility. Its verification status is not here: it
    changes only through cases.workflow (the claim page's moves)."""

    incident = _IncidentChoiceField(queryset=Incident.objects.none(), required=False,
                                    label=_("Incident"),
                                    help_text=_("The event the statement is about, if any."))

    class Meta:
        model = Claim
        fields = ["statement", "incident", "figure_value", "figure_qualifier", "figure_unit",
                  "credibility"]
        widgets = {"statement": forms.Textarea(attrs={"rows": 3})}

    def limit_choices(self):
        self._limit("incident", Incident.objects.of_case(self.case).chronological())

    def get_layout(self):
        return Layout(
            Fieldset(gettext("Statement"), "statement", "incident"),
            Fieldset(
                gettext("Figure"),
                _note(gettext("When the statement gives a number (“at least 49,000 "
                              "deserters”), record it so the running tally can be followed.")),
                Row(Column("figure_qualifier"), Column("figure_value"), Column("figure_unit")),
            ),
            Fieldset(gettext("Credibility"), "credibility",
                     _scale(gettext("What the grades mean"), CREDIBILITY_MEANING)),
        )

    def clean_statement(self):
        return one_line(self.cleaned_data["statement"])

    def clean_figure_unit(self):
        return one_line(self.cleaned_data["figure_unit"])


class _RelaysField(forms.ModelMultipleChoiceField):
    """The sources a citation came through: a multiple select of the case's sources. Written
    by Citation.save() (set_relays), never by the form's save_m2m."""

    def __init__(self, **kwargs):
        super().__init__(queryset=Source.objects.none(), required=False, label=_("Via"),
                         **kwargs)

    def clean(self, value):
        """The sources chosen, one for each id posted, in the order posted. Django's field
        would merge an id posted twice; kept, it is refused as every writer refuses it
        (relay_errors, through Citation.clean)."""
        chosen = {str(source.pk): source for source in super().clean(value)}
        # Every id posted is one of `chosen` now: the field refused any other.
        return [chosen[str(pk)] for pk in self.prepare_value(value or [])]


class CitationForm(CaseRecordForm):
    """One citation in a claim's formset. `source_choices` lets the formset fetch the case's
    sources once for all its forms."""

    relays = _RelaysField()

    class Meta:
        model = Citation
        fields = ["source", "relation", "quote", "url", "published_at", "accessed_at",
                  "language"]
        widgets = {
            "quote": forms.Textarea(attrs={"rows": 2}),
            "published_at": forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                format="%Y-%m-%dT%H:%M"),
            "accessed_at": forms.DateTimeInput(attrs={"type": "datetime-local"},
                                               format="%Y-%m-%dT%H:%M"),
        }
        # The page explains source and relays once, above the citations.
        help_texts = {"source": ""}

    def __init__(self, *args, source_choices=None, lineages=None, **kwargs):
        self._source_choices = source_choices
        self._lineages = lineages
        super().__init__(*args, **kwargs)

    def limit_choices(self):
        sources = Source.objects.of_case(self.case).order_by("name")
        for name in ("source", "relays"):
            self.fields[name].queryset = sources
            if self._source_choices is not None:
                self.fields[name].choices = (self._source_choices if name == "source"
                                             else self._source_choices[1:])
        if self.instance.pk is not None:
            self.initial["relays"] = self.instance.relay_ids
        # A protected source's address is its handlers' (cases/identities.py): anyone else
        # gets no field, so saving keeps what is stored.
        handler = self.access is None or self.access.can_handle_sources
        if citation_address_withheld(self.instance, handler=handler, lineages=self._lineages):
            del self.fields["url"]
        elif self.instance.pk is not None:
            self.initial["url"] = citation_address(self.instance, handler=handler)
        self.instance.replaces_protected_address = "url" in self.fields

    def get_layout(self):
        if "url" in self.fields:
            address = Column("url")
        else:
            address = Column(_note(gettext(
                "The address of a protected source's statement is for this case's source "
                "handlers only.")))
        return Layout(
            Row(Column("source"), Column("relation"), Column("relays")),
            "quote",
            Row(address, Column("language", css_class="col-md-2")),
            Row(Column("published_at"), Column("accessed_at")),
        )

    def conflict_subject(self):
        if self.instance.pk is None or not self.instance.source_id:
            return gettext("a citation")
        return gettext("the citation from %(source)s") % {"source": self.instance.source}

    def clean_quote(self):
        return tidy_text(self.cleaned_data["quote"])

    def clean_url(self):
        return self.cleaned_data["url"].strip()

    def clean_relays(self):
        """The relays in the order stored, those newly chosen after them (a multiple select
        sends its choices in the list's order, not in the order they were picked). A source
        posted twice stays twice, for Citation.clean to refuse."""
        stored = {pk: place for place, pk in
                  enumerate(self.instance.relay_ids if self.instance.pk else ())}
        return sorted(self.cleaned_data["relays"],
                      key=lambda source: stored.get(source.pk, len(stored)))

    def clean(self):
        cleaned = super().clean()
        if "relays" in cleaned:
            # Checked by the model's clean() (same case, not its own source, each once).
            self.instance.set_relays(cleaned["relays"])
        return cleaned

    def clean_language(self):
        return language_code(self.cleaned_data["language"])


# New citations one save of the claim form may add. The page offers a few blank rows; the bound
# keeps a posted TOTAL_FORMS from making the server build (and render) thousands of forms.
MAX_NEW_CITATIONS_PER_SAVE = 20


class BaseCitationFormSet(BaseInlineFormSet):
    validate_max = True

    def __init__(self, *args, case, access=None, **kwargs):
        self.case, self.access = case, access
        self.source_choices = [("", "---------"), *(
            (pk, name) for pk, name in
            Source.objects.of_case(case).order_by("name").values_list("pk", "name"))]
        # Which citations' addresses are handlers-only, for all the forms at once.
        self.lineages = (None if access is None or access.can_handle_sources
                         else Lineages.for_case(case.pk))
        super().__init__(*args, **kwargs)
        # The claim's citations plus a few new ones: Django builds min(TOTAL_FORMS,
        # absolute_max) forms and refuses more with its "too_many_forms" error. The queryset
        # is read here rather than later by the formset itself (it caches it): no extra query.
        self.max_num = self.absolute_max = (len(self.get_queryset())
                                            + max(self.extra, MAX_NEW_CITATIONS_PER_SAVE))

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            # Each form shows its citation's relays: read for all of them in one query.
            self._queryset = super().get_queryset().prefetch_related("relay_links")
        return self._queryset

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "case": self.case, "access": self.access,
                "source_choices": self.source_choices, "lineages": self.lineages}

    def save(self, commit=True):
        saved = super().save(commit)
        # The citations added or changed have their pages captured once the save commits
        # (the caller saves them in its transaction when commit is False).
        if saved and self.access is not None:
            citations_saved(saved, self.access.membership.user)
        return saved

    def add_fields(self, form, index):
        super().add_fields(form, index)
        # Only saved citations can be removed (can_delete_extra=False): the blank rows have no
        # DELETE field, so it joins the layout only where the formset added it.
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = _("Remove this citation")
            form.helper.layout.append(Field("DELETE"))


def citation_formset(extra: int):
    return inlineformset_factory(Claim, Citation, form=CitationForm, formset=BaseCitationFormSet,
                                 fk_name="claim", fields=CitationForm.Meta.fields, extra=extra,
                                 can_delete=True, can_delete_extra=False)


class EvidenceForm(EvidenceUploadFormMixin, CaseRecordForm):
    """An evidence upload. The file is checked (size, kind by content, extension) and an
    image's metadata removed by cases.uploads, the one check the admin uses too; Casedesk
    hashes the file (SHA-256) as it stores it and records who captured it; the file itself is
    never replaced."""

    claim = forms.ModelChoiceField(queryset=Claim.objects.none(), required=False,
                                   label=_("Claim"),
                                   help_text=_("The claim this file supports or refutes, if "
                                               "any."))
    incident = _IncidentChoiceField(queryset=Incident.objects.none(), required=False,
                                    label=_("Incident"))

    class Meta:
        model = Evidence
        fields = ["file", "description", "claim", "incident", "origin_url", "captured_at"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "captured_at": forms.DateTimeInput(attrs={"type": "datetime-local"},
                                               format="%Y-%m-%dT%H:%M"),
        }
        help_texts = {
            # The file's help (what is accepted, up to what size) comes from cases.uploads.
            "origin_url": _("Where the file was found or archived from."),
        }

    def limit_choices(self):
        self._limit("claim", Claim.objects.of_case(self.case).order_by("-updated_at", "pk"))
        self._limit("incident", Incident.objects.of_case(self.case).chronological())

    def get_layout(self):
        return Layout(
            Fieldset(gettext("File"), "file", "description"),
            Fieldset(gettext("About"), Row(Column("claim"), Column("incident"))),
            Fieldset(gettext("Collection"), Row(Column("origin_url"), Column("captured_at"))),
        )

    def clean_description(self):
        return tidy_text(self.cleaned_data["description"])

    def clean_origin_url(self):
        return self.cleaned_data["origin_url"].strip()


class TaskForm(CaseRecordForm):
    assignee = _UserChoiceField(queryset=get_user_model().objects.none(), required=False,
                                label=_("Assignee"), help_text=_("A member of this case."))
    claim = forms.ModelChoiceField(queryset=Claim.objects.none(), required=False,
                                   label=_("Claim"))
    incident = _IncidentChoiceField(queryset=Incident.objects.none(), required=False,
                                    label=_("Incident"))

    class Meta:
        model = Task
        fields = ["title", "notes", "assignee", "due_on", "state", "claim", "incident"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3}),
                   "due_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}
        help_texts = {"title": _("The follow-up to do: ask for comment, archive the "
                                 "original, geolocate a photo…")}

    def limit_choices(self):
        self._limit("assignee", _members(self.case))
        self._limit("claim", Claim.objects.of_case(self.case).order_by("-updated_at", "pk"))
        self._limit("incident", Incident.objects.of_case(self.case).chronological())
        if self.instance.pk is None:
            del self.fields["state"]  # a new task is open

    def get_layout(self):
        return Layout(
            "title", "notes",
            Row(Column("assignee"), Column("due_on"),
                *([Column("state")] if "state" in self.fields else [])),
            Fieldset(gettext("About"), Row(Column("claim"), Column("incident"))),
        )

    def clean_title(self):
        return one_line(self.cleaned_data["title"])

    def clean_notes(self):
        return tidy_text(self.cleaned_data["notes"])


class CommentRequestForm(CaseRecordForm):
    """Right of reply: who was asked, by whom, how, by when, and what came of it."""

    party_source = forms.ModelChoiceField(
        queryset=Source.objects.none(), required=False,
        label=_("Party (a source of this case)"),
        help_text=_("Pick a source of the case, or type the party's name below."))
    asked_by = _UserChoiceField(queryset=get_user_model().objects.none(), required=False,
                                label=_("Asked by"),
                                help_text=_("The member who made the request."))
    incident = _IncidentChoiceField(queryset=Incident.objects.none(), required=False,
                                    label=_("Incident"))

    class Meta:
        model = CommentRequest
        fields = ["party_source", "party_name", "incident", "asked_by", "asked_at", "channel",
                  "deadline", "outcome", "reply_summary"]
        widgets = {
            "asked_at": forms.DateTimeInput(attrs={"type": "datetime-local"},
                                            format="%Y-%m-%dT%H:%M"),
            "deadline": forms.DateTimeInput(attrs={"type": "datetime-local"},
                                            format="%Y-%m-%dT%H:%M"),
            "reply_summary": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"asked_at": _("Asked on")}
        help_texts = {
            "party_name": _("Anyone who is not a source of the case: the Defence Ministry, a "
                            "press office, a named official."),
            "deadline": _("When we said we would publish without their comment."),
            "outcome": _("“No answer by the deadline” is what lets us write that they did not "
                         "comment."),
        }

    def limit_choices(self):
        self._limit("party_source", Source.objects.of_case(self.case).order_by("name"))
        self._limit("asked_by", _members(self.case))
        self._limit("incident", Incident.objects.of_case(self.case).chronological())

    def get_layout(self):
        return Layout(
            Fieldset(gettext("Who was asked"),
                     Row(Column("party_source"), Column("party_name")), "incident"),
            Fieldset(gettext("The request"), Row(Column("asked_by"), Column("channel")),
                     Row(Column("asked_at"), Column("deadline"))),
            Fieldset(gettext("Outcome"), "outcome", "reply_summary"),
        )

    def clean_party_name(self):
        return one_line(self.cleaned_data["party_name"])

    def clean_reply_summary(self):
        return tidy_text(self.cleaned_data["reply_summary"])
