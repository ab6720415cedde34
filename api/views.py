"""The API's endpoints. Each one reads through the models' `visible_to(user)` (so another
case's record is a 404, like a missing one), writes under the role the workspace's forms ask
(api.access), validates with the model's own rules (api.serializers) and changes a claim's
status only through cases.workflow."""

from contextlib import contextmanager

import django_filters
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import F, Prefetch
from django.utils.translation import gettext as _
from django.views.generic import TemplateView
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from drf_spectacular.views import SpectacularAPIView
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import (
    action,
    api_view,
    authentication_classes,
    permission_classes,
)
from rest_framework.exceptions import ErrorDetail, NotFound, PermissionDenied
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from background import states
from capture.domain import ASKER_REFUSALS, evidence_visible_to
from capture.errors import CaptureError
from capture.models import Capture, CaptureFile
from capture.tasks import ask_for_capture
from cases import links as linking
from cases import workflow
from cases.deletion import EVIDENCE_PURGED, evidence_state, without_deleted_evidence
from cases.enums import IncidentLinkKind, Role
from cases.evidence_files import EvidencePurged, download_response
from cases.models import (
    Case,
    CaseLink,
    Citation,
    Claim,
    CommentRequest,
    CustodyEntry,
    Incident,
    IncidentLink,
    IncidentType,
    Source,
    Task,
)
from cases.models.source import relays_prefetch
from cases.opening import OPEN_CASE_DENIED, OPEN_CASE_DENIED_MESSAGE, may_open_cases

from . import filters
from . import serializers as s
from .access import CaseRolePermission
from .known_input import KnownQueryParametersMixin
from .preconditions import check_if_match, etag_of
from .renderers import FileRenderer, JSONRenderer
from .schema import CODED_ERROR, VALIDATION_ERROR
from .serializers import django_errors


class LoginNotRequiredMixin:
    """The site's LoginRequiredMiddleware would redirect an API client to the sign-in page;
    the API answers for itself: 401 without a valid token or session, 403 for a role."""

    @classmethod
    def as_view(cls, *args, **kwargs):
        return login_not_required(super().as_view(*args, **kwargs))


class CaseRecordViewSet(LoginNotRequiredMixin, KnownQueryParametersMixin,
                        mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        mixins.CreateModelMixin, mixins.UpdateModelMixin,
                        viewsets.GenericViewSet):
    """Read, create and change the records of your cases. Deleting is the back office's
    (the workspace has no delete either), except for citations.

    A write to an existing record (`versioned_actions`) runs in one transaction on the
    locked row and needs `If-Match` naming the version saved now (api.preconditions); the
    schema documents the header and its 412/428 from the same list."""

    model = None
    # Any segment reaches the view, so a malformed id is answered like a missing one (404).
    lookup_value_regex = "[^/]+"
    permission_classes = [IsAuthenticated, CaseRolePermission]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    #: The least role that may change a record (the workspace forms' min_role).
    write_role = Role.REPORTER
    select_related = ("created_by",)
    ordering = ("pk",)
    #: The actions that change an existing record: locked, and conditional on If-Match.
    versioned_actions = frozenset({"update", "partial_update", "destroy"})
    # Set inside `versioned_write()` only. Not from the request's method: DRF's OPTIONS
    # answer calls get_object() under a PUT clone of the request, outside any transaction.
    _writing = False

    def get_queryset(self):
        records = self.model.objects.visible_to(self.request.user)
        if self._writing:
            # The row is locked for the rest of the write's transaction.
            return records.select_for_update(of=("self",))
        return records.select_related(*self.select_related).order_by(*self.ordering)

    @contextmanager
    def versioned_write(self):
        """One transaction in which get_object() locks the record and checks If-Match."""
        with transaction.atomic():
            self._writing = True
            try:
                yield
            finally:
                self._writing = False

    def case_id_of(self, obj) -> int:
        return obj.case_id

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        return self._with_etag(response, self._object)

    def get_object(self):
        self._object = super().get_object()
        if self._writing:
            # After the object permissions: a viewer is told 403, not asked for a version.
            check_if_match(self.request, self._object)
        return self._object

    def _with_etag(self, response, obj):
        etag = etag_of(obj) if obj else None
        if etag:
            response["ETag"] = etag
        return response

    def update(self, request, *args, **kwargs):
        with self.versioned_write():
            response = super().update(request, *args, **kwargs)
        return self._with_etag(response, self._object)

    def create(self, request, *args, **kwargs):
        with transaction.atomic():
            response = super().create(request, *args, **kwargs)
        # The version to send in If-Match for the next change.
        return self._with_etag(response, self._created)

    def perform_create(self, serializer):
        self._created = serializer.save()


# --- Cases ---------------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(summary="Your cases"),
    create=extend_schema(
        summary="Open a case (you become its editor)",
        description="Needs the newsroom's right to open cases (the group Desk editors): "
                    "without it, 403 with code `open_case_denied`. The address (`slug`) is "
                    "made by the server."),
)
class CaseViewSet(CaseRecordViewSet):
    model = Case
    serializer_class = s.CaseSerializer
    filterset_class = filters.CaseFilter
    write_role = Role.EDITOR
    select_related = ("lead", "created_by")
    ordering = ("-updated_at", "pk")

    def case_id_of(self, obj):
        return obj.pk

    def create(self, request, *args, **kwargs):
        # Before the input is read: without the right, nothing about it is answered.
        if not may_open_cases(request.user):
            message = str(OPEN_CASE_DENIED_MESSAGE)
            raise PermissionDenied({"detail": ErrorDetail(message, OPEN_CASE_DENIED),
                                    "code": OPEN_CASE_DENIED})
        return super().create(request, *args, **kwargs)


class IncidentTypeViewSet(LoginNotRequiredMixin, KnownQueryParametersMixin,
                          viewsets.ReadOnlyModelViewSet):
    """The newsroom's incident types (extended by editors in the back office)."""

    queryset = IncidentType.objects.order_by("name", "pk")
    serializer_class = s.IncidentTypeSerializer
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"
    filterset_class = filters.IncidentTypeFilter


class IncidentViewSet(CaseRecordViewSet):
    model = Incident
    serializer_class = s.IncidentSerializer
    filterset_class = filters.IncidentFilter
    select_related = ("type", "created_by")
    ordering = (F("occurred_earliest").asc(nulls_last=True), "occurred_latest", "pk")


class SourceViewSet(CaseRecordViewSet):
    """Sources by name; protected ones by codename, their address withheld from everyone but
    the case's source handlers. Protected identities are never part of the API."""

    model = Source
    serializer_class = s.SourceSerializer
    filterset_class = filters.SourceFilter
    ordering = ("name", "pk")


def _refused(errors: dict) -> serializers.ValidationError:
    """A refused move: the reasons by field, and their codes in order, as the pages' form
    errors and the admin's message tags carry them."""
    codes = [error.code for messages in errors.values() for error in messages]
    return serializers.ValidationError({**errors, "codes": codes})


MOVE_REFUSAL_CODES = ", ".join(f"`{code}`" for code in workflow.Refusal.codes())
# A refused move's body: the reasons by field (the workflow's under `non_field_errors`), and
# every reason's code, in the same order, under `codes`.
MOVE_REFUSAL = OpenApiResponse(
    description="The move was refused; nothing was changed. `codes` gives each reason's code, "
                "in the order of the messages: the workflow's (" + MOVE_REFUSAL_CODES + ") "
                "or the input's (`invalid_choice`, `max_length`, `required`, `invalid`, "
                "`null`, `unknown_field`). A body that is not strict JSON, or an unknown "
                "query parameter, is refused as by every operation (named, with its code).",
    response={
        **VALIDATION_ERROR,
        "properties": {
            "non_field_errors": {"type": "array", "items": {"type": "string"},
                                 "description": "The workflow's reasons, in words."},
            "codes": {"type": "array", "items": {"type": "string"},
                      "description": "Each reason's machine-readable code."},
        },
    })


@extend_schema_view(
    transition=extend_schema(
        summary="Change the claim's verification status (cases.workflow)",
        description="A refusal (400) lists the workflow's reasons in `non_field_errors` and "
                    "every reason's machine-readable code, in the same order, in `codes`.",
        request=s.TransitionSerializer, responses={200: s.ClaimSerializer, 400: MOVE_REFUSAL}),
    propose=extend_schema(
        summary="Propose a verdict for an editor to decide (cases.workflow)",
        description="A refusal (400) lists the reasons in `non_field_errors` and their codes "
                    "in `codes`.",
        request=s.ProposeSerializer, responses={200: s.ClaimSerializer, 400: MOVE_REFUSAL}),
    events=extend_schema(summary="The claim's verification history",
                         responses={200: s.VerificationEventSerializer(many=True)}),
)
class ClaimViewSet(CaseRecordViewSet):
    """Claims. `status` and `proposed_verdict` are read-only here: they change through
    /transition/ and /propose/, which apply the verification workflow's rules (roles,
    four-eyes, citations, independent sources) and refuse with 400 and its reasons."""

    model = Claim
    serializer_class = s.ClaimSerializer
    filterset_class = filters.ClaimFilter
    select_related = ("created_by", "proposed_by")
    ordering = ("-updated_at", "pk")
    # A move is decided on the claim as read: its statement, status and proposal.
    versioned_actions = CaseRecordViewSet.versioned_actions | {"transition", "propose"}

    def get_serializer_class(self):
        return {"transition": s.TransitionSerializer, "propose": s.ProposeSerializer,
                "events": s.VerificationEventSerializer,
                # Read on its own, a claim also says where its support comes from.
                "retrieve": s.ClaimDetailSerializer}.get(self.action, s.ClaimSerializer)

    def _workflow_move(self, request, move):
        # Any member may ask; the workflow alone decides (a viewer is refused by it, with its
        # own words). Non-members get 404 from the scoped queryset.
        with self.versioned_write():
            claim = self.get_object()
            form = self.get_serializer(data=request.data)
            if not form.is_valid():
                raise _refused(form.errors)
            try:
                move(claim, form.validated_data)
            except DjangoValidationError as exc:
                raise _refused(django_errors(exc)) from None
        claim = self.model.objects.select_related(*self.select_related).get(pk=claim.pk)
        response = Response(s.ClaimSerializer(claim,
                                              context=self.get_serializer_context()).data)
        return self._with_etag(response, claim)

    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated],
            filter_backends=[])
    def transition(self, request, pk=None):
        return self._workflow_move(request, lambda claim, data: workflow.transition(
            claim, data["to_status"], actor=request.user, note=data["note"],
            override_reason=data["override_reason"],
            acknowledge_low_grade=data["acknowledge_low_grade"]))

    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated],
            filter_backends=[])
    def propose(self, request, pk=None):
        return self._workflow_move(request, lambda claim, data: workflow.propose(
            claim, data["verdict"], actor=request.user, note=data["note"]))

    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def events(self, request, pk=None):
        claim = self.get_object()
        events = claim.events.select_related("actor").order_by("created_at", "pk")
        return Response(self.get_serializer(events, many=True).data)


CAPTURE_REFUSED_400 = OpenApiResponse(
    description="Not captured: the citation has no address (`capture_no_address`), or the "
                "body holds a field (none is taken: `unknown_field`).",
    response=VALIDATION_ERROR)
CAPTURE_REFUSED_403 = OpenApiResponse(
    description="Not captured: a viewer asked (`capture_not_allowed`), or someone who is not "
                "one of the case's source handlers asked for a protected source's address "
                "(`capture_protected_address`).",
    response=CODED_ERROR)


class CitationViewSet(mixins.DestroyModelMixin, CaseRecordViewSet):
    """Citations of claims and incidents. Reporters may remove one, as in the claim's form."""

    model = Citation
    serializer_class = s.CitationSerializer
    filterset_class = filters.CitationFilter
    http_method_names = [*CaseRecordViewSet.http_method_names, "delete"]
    select_related = ("source", "created_by")
    ordering = (F("published_at").asc(nulls_first=True), "pk")

    def get_queryset(self):
        records = super().get_queryset()
        if self._writing:
            return records.select_related("source")
        # Each citation's relays, with their names, in one more query.
        return records.prefetch_related(relays_prefetch())

    def case_id_of(self, obj):
        return obj.source.case_id

    @extend_schema(
        summary="Capture the cited page now (queued for a worker)",
        description="Queues a capture of the citation's address (capture.tasks): a WACZ "
                    "archive, a full-page screenshot and a PDF, hashed and timestamped, stored "
                    "as evidence of the case. Answers 202 with the capture and its task's "
                    "state; follow it at /captures/{id}/, its files at /evidence/?capture=. "
                    "A capture of it already queued or running is returned instead of a "
                    "second one. Reporters and editors may ask; a protected source's "
                    "address only its case's source handlers. No If-Match: it changes none "
                    "of the citation's fields, and asking twice is harmless.",
        request=s.CaptureRequestSerializer,
        responses={202: s.CaptureSerializer, 400: CAPTURE_REFUSED_400,
                   403: CAPTURE_REFUSED_403})
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated],
            filter_backends=[])
    def capture(self, request, pk=None):
        citation = self.get_object()
        body = s.CaptureRequestSerializer(data=request.data if request.data else {})
        body.is_valid(raise_exception=True)
        try:
            capture = ask_for_capture(citation, request.user)
        except CaptureError as refusal:
            detail = {"detail": ErrorDetail(refusal.message, refusal.code),
                      "code": refusal.code}
            if refusal.code in ASKER_REFUSALS:
                raise PermissionDenied(detail) from None
            raise serializers.ValidationError(detail) from None
        context = {**self.get_serializer_context(), "task_states": states([capture.task_id])}
        return Response(s.CaptureSerializer(capture, context=context).data, status=202)

    def destroy(self, request, *args, **kwargs):
        with self.versioned_write():
            return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        instance._history_user = self.request.user
        instance.delete()


class TaskViewSet(CaseRecordViewSet):
    model = Task
    serializer_class = s.TaskSerializer
    filterset_class = filters.TaskFilter
    select_related = ("assignee", "created_by")
    ordering = (F("due_on").asc(nulls_last=True), "pk")


class CommentRequestViewSet(CaseRecordViewSet):
    """Requests for comment (right of reply)."""

    model = CommentRequest
    serializer_class = s.CommentRequestSerializer
    filterset_class = filters.CommentRequestFilter
    select_related = ("party_source", "asked_by", "created_by")
    ordering = ("asked_at", "pk")


# --- Linked cases and incidents --------------------------------------------------------------

@extend_schema_field(OpenApiTypes.INT)
class RecordIdFilter(django_filters.ModelChoiceFilter):
    """A record by its id, among those the requesting user may see."""


class CaseLinkFilter(django_filters.FilterSet):
    case = RecordIdFilter(
        queryset=lambda request: Case.objects.visible_to(getattr(request, "user", None)),
        method="touching", help_text="A case's id: its links, from either side.")

    class Meta:
        model = CaseLink
        fields = ["case"]

    def touching(self, links, name, value):
        return links.touching(value)


class IncidentLinkFilter(django_filters.FilterSet):
    incident = RecordIdFilter(
        queryset=lambda request: Incident.objects.visible_to(getattr(request, "user", None)),
        method="touching", help_text="An incident's id: its links, from either side.")
    kind = django_filters.ChoiceFilter(choices=IncidentLinkKind.choices)

    class Meta:
        model = IncidentLink
        fields = ["incident", "kind"]

    def touching(self, links, name, value):
        return links.touching(value)


LINK_REFUSED_400 = OpenApiResponse(
    description="Not linked: a side that does not exist or is in a case you are not a member "
                "of (`link_target_not_found`, the same answer for both, as \"object does not "
                "exist\"), a record linked to itself (`link_to_itself`), a pair already linked "
                "either way (`link_exists`), or an unknown field (`unknown_field`).",
    response=VALIDATION_ERROR)
LINK_REFUSED_403 = OpenApiResponse(
    description="You read one of the two cases but cannot write there: linking and unlinking "
                "need a reporter or editor of both (`link_not_allowed`).",
    response=CODED_ERROR)


class LinkViewSet(LoginNotRequiredMixin, KnownQueryParametersMixin, mixins.ListModelMixin,
                  mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Links whose two sides are both in cases you are a member of; any other link does not
    exist for you (404), however it was made. No change: remove a link (with If-Match) and
    make another."""

    model = None
    lookup_value_regex = "[^/]+"
    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "post", "delete", "head", "options"]
    select_related: tuple = ()

    def get_queryset(self):
        return (self.model.objects.visible_to(self.request.user)
                .select_related("created_by", *self.select_related).order_by("pk"))

    def retrieve(self, request, *args, **kwargs):
        link = self.get_object()
        response = Response(self.get_serializer(link).data)
        response["ETag"] = etag_of(link)
        return response

    def create(self, request, *args, **kwargs):
        with transaction.atomic():
            response = super().create(request, *args, **kwargs)
        # The version to send in If-Match to remove it.
        response["ETag"] = etag_of(self._created)
        return response

    def perform_create(self, serializer):
        self._created = serializer.save()

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            link = get_object_or_404(self.get_queryset().select_for_update(of=("self",)),
                                     pk=kwargs["pk"])
            check_if_match(request, link)
            try:
                linking.unlink(link, actor=request.user)
            except DjangoValidationError:
                message = str(linking.MESSAGES[linking.LINK_NOT_ALLOWED])
                raise PermissionDenied({"detail": ErrorDetail(message, linking.LINK_NOT_ALLOWED),
                                        "code": linking.LINK_NOT_ALLOWED}) from None
        return Response(status=204)


@extend_schema_view(
    list=extend_schema(summary="Links between your cases"),
    create=extend_schema(summary="Link two of your cases (reporter or editor of both)",
                         responses={201: s.CaseLinkSerializer, 400: LINK_REFUSED_400,
                                    403: LINK_REFUSED_403}),
    destroy=extend_schema(summary="Remove a link between two of your cases",
                          responses={204: None, 403: LINK_REFUSED_403}),
)
class CaseLinkViewSet(LinkViewSet):
    model = CaseLink
    serializer_class = s.CaseLinkSerializer
    filterset_class = CaseLinkFilter
    select_related = ("from_case", "to_case")


@extend_schema_view(
    list=extend_schema(summary="Links between incidents of your cases"),
    create=extend_schema(summary="Link two incidents (reporter or editor of both cases)",
                         responses={201: s.IncidentLinkSerializer, 400: LINK_REFUSED_400,
                                    403: LINK_REFUSED_403}),
    destroy=extend_schema(summary="Remove a link between two incidents",
                          responses={204: None, 403: LINK_REFUSED_403}),
)
class IncidentLinkViewSet(LinkViewSet):
    model = IncidentLink
    serializer_class = s.IncidentLinkSerializer
    filterset_class = IncidentLinkFilter
    select_related = ("from_incident", "to_incident")


# --- Evidence and captures -------------------------------------------------------------------

class ReadOnlyCaseDataViewSet(LoginNotRequiredMixin, KnownQueryParametersMixin,
                              viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = "[^/]+"
    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "head", "options"]


EVIDENCE_PURGED_410 = OpenApiResponse(
    description="The file was purged from storage (manage.py purge_deleted_evidence) after "
                "its deletion from the workspace (code `evidence_purged`): it cannot be "
                "downloaded or restored; its record, hashes and chain of custody are kept.",
    response=CODED_ERROR)


@extend_schema_view(
    list=extend_schema(summary="Evidence files of your cases"),
    retrieve=extend_schema(summary="One evidence file: its hashes, custody and capture"),
    download=extend_schema(
        summary="The evidence file itself",
        description="Logged in the file's chain of custody (a download by you). A file "
                    "deleted from the workspace is still given (as on its page) until it is "
                    "purged from storage; then the answer is 410 (`evidence_purged`).",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY,
                   (410, "application/json"): EVIDENCE_PURGED_410}),
)
class EvidenceViewSet(ReadOnlyCaseDataViewSet):
    """Evidence files, with their SHA-256, chain of custody and download link; a web
    capture's files also give the capture: its manifest, the RFC 3161 timestamp token over
    the manifest's SHA-256 (DER, base64) and the TSA's certificate chain (PEM), to check with
    `openssl ts -verify` outside Casedesk. The files of a protected source's capture are for
    the case's source handlers only (for anyone else they do not exist)."""

    serializer_class = s.EvidenceSerializer
    filterset_class = filters.EvidenceFilter

    def get_queryset(self):
        evidence = evidence_visible_to(self.request.user)
        if self.action == "list":  # a file deleted in the workspace is listed no more
            evidence = without_deleted_evidence(evidence)
        # Each file's state (and its capture's files'), read with the rows.
        return (evidence.annotate(**evidence_state())
                .select_related("created_by", "captured_by",
                                "capture_file__capture__requested_by")
                .prefetch_related(
                    Prefetch("custody", CustodyEntry.objects.select_related("actor")
                             .order_by("at", "pk")),
                    Prefetch("capture_file__capture__files",
                             CaptureFile.objects.select_related("evidence").annotate(
                                 **evidence_state("evidence_id"))))
                .order_by("-captured_at", "pk"))

    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None,
            renderer_classes=[JSONRenderer, FileRenderer])
    def download(self, request, pk=None):
        evidence = get_object_or_404(evidence_visible_to(request.user), pk=pk)
        try:
            return download_response(evidence, request.user)
        except EvidencePurged:  # 410, as the evidence page's download
            return Response({"detail": _("This file was purged from storage after its "
                                         "deletion: it cannot be downloaded."),
                             "code": EVIDENCE_PURGED}, status=410)


@extend_schema_view(
    list=extend_schema(summary="Captures of the cited pages of your cases"),
    retrieve=extend_schema(summary="One capture: its state, what the page answered, its "
                                   "files and timestamp"),
)
class CaptureViewSet(ReadOnlyCaseDataViewSet):
    """Captures of cited pages (asked for with POST /citations/{id}/capture/, or made when a
    citation with an address is saved): queued, running, failed (with its code and reason;
    `task` says whether it will be retried) or done. A protected source's capture gives its
    details to the case's source handlers only (`withheld`)."""

    serializer_class = s.CaptureSerializer
    filterset_class = filters.CaptureFilter

    def get_queryset(self):
        return (Capture.objects.visible_to(self.request.user)
                .select_related("requested_by")
                .prefetch_related(Prefetch("files", CaptureFile.objects.select_related(
                    "evidence").annotate(**evidence_state("evidence_id"))))
                .order_by("-requested_at", "-pk"))

    def get_serializer(self, *args, **kwargs):
        if args:
            captures = list(args[0]) if kwargs.get("many") else [args[0]]
            at_work = [c.task_id for c in captures
                       if c.task_id and c.status != Capture.Status.DONE]
            kwargs["context"] = {**self.get_serializer_context(),
                                 "task_states": states(at_work) if at_work else {}}
        return super().get_serializer(*args, **kwargs)


# --- Schema and its documentation page -----------------------------------------------------

@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@permission_classes([])
@authentication_classes([])
def not_found(request, path=""):
    """Any other address under /api/: a JSON 404, not the site's HTML page."""
    raise NotFound(_("No such API address."))


not_found = login_not_required(not_found)


class SchemaView(LoginNotRequiredMixin, SpectacularAPIView):
    """The OpenAPI 3 schema, for signed-in users and token holders."""


class DocsView(TemplateView):
    """Swagger UI, vendored (static/vendor/), started by our own script: no inline code.
    A page like the others, so it needs a signed-in user (LoginRequiredMiddleware)."""

    template_name = "api/docs.html"
