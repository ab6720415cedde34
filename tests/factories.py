"""factory_boy factories for every model. Related records default to the same case."""

import datetime as dt
import io

import factory
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone

from cases import models
from cases.enums import CitationRelation, Role

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@newsroom.example")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Case

    title = factory.Sequence(lambda n: f"Case {n}")
    summary = "A developing story."


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Membership

    case = factory.SubFactory(CaseFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.REPORTER


class IncidentTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.IncidentType
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Incident type {n}")
    slug = factory.Sequence(lambda n: f"incident-type-{n}")


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Incident

    case = factory.SubFactory(CaseFactory)
    title = factory.Sequence(lambda n: f"Incident {n}")
    occurred = "2025-05-09"
    place_name = "Training ground"
    admin_region = "Rostov Oblast"
    country = "RU"


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Source

    case = factory.SubFactory(CaseFactory)
    name = factory.Sequence(lambda n: f"Source {n}")


class ClaimFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Claim

    case = factory.SubFactory(CaseFactory)
    statement = factory.Sequence(lambda n: f"Checkable statement number {n}.")


class CitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Citation

    claim = factory.SubFactory(ClaimFactory)
    source = factory.SubFactory(
        SourceFactory,
        case=factory.LazyAttribute(lambda s: (s.factory_parent.claim
                                              or s.factory_parent.incident).case),
    )
    incident = None
    relation = CitationRelation.REPORTS
    quote = "As reported."
    published_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))

    @classmethod
    def _create(cls, model_class, *args, relays=(), **kwargs):
        """`relays=[source, …]`: the sources the citation came through, written by its save
        (so its address is sealed when one of them is protected)."""
        citation = model_class(*args, **kwargs)
        if relays:
            citation.set_relays(relays)
        citation.save()
        return citation


class EvidenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Evidence

    case = factory.SubFactory(CaseFactory)
    file = factory.LazyFunction(lambda: ContentFile(b"evidence bytes", name="photo.jpg"))
    description = "Archived copy."


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Task

    case = factory.SubFactory(CaseFactory)
    title = factory.Sequence(lambda n: f"Follow-up {n}")
    due_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=3))


class CommentRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CommentRequest

    case = factory.SubFactory(CaseFactory)
    party_name = "Defence Ministry"
    deadline = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=2))


class DeskEditorFactory(UserFactory):
    """A user who may open cases: a member of the group Desk editors (cases/opening.py)."""

    @factory.post_generation
    def desk_editors(obj, create, extracted, **kwargs):
        if create:
            from cases.opening import desk_editors

            obj.groups.add(desk_editors())


def api_key_for(user, *, created_by=None) -> str:
    """The key of a new API token for `user` (made by `created_by`, by default the user):
    tokens keep only a hash of their key, so a test keeps the key it is given here."""
    from api.models import ApiToken

    return ApiToken.objects.issue(user, created_by=created_by or user)[1]


def pdf_document(*, info: dict | None = None, xmp: bytes | None = None,
                 page_xmp: bytes | None = None) -> bytes:
    """A one-page PDF made here, with the given document information entries
    ({"/Author": …}), an XMP packet in its catalog and one on its page; none by default."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    writer.metadata = None  # pypdf would name itself as /Producer
    if info:
        writer.add_metadata(info)
    for holder, packet in ((writer.root_object, xmp), (page, page_xmp)):
        if packet:
            stream = DecodedStreamObject()
            stream.set_data(packet)
            stream.update({NameObject("/Type"): NameObject("/Metadata"),
                           NameObject("/Subtype"): NameObject("/XML")})
            holder[NameObject("/Metadata")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
