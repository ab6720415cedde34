"""Deleting a case takes everything in it; a source that is still cited cannot go alone."""

import pytest
from django.db.models import RestrictedError

from cases.models import Case, Citation, CommentRequest, Source

from .factories import CitationFactory, ClaimFactory, CommentRequestFactory, SourceFactory

pytestmark = pytest.mark.django_db


def test_case_with_citations_and_comment_requests_can_be_deleted(case):
    outlet = SourceFactory(case=case)
    CitationFactory(claim=ClaimFactory(case=case), source=SourceFactory(case=case), relays=[outlet])
    CommentRequestFactory(case=case, party_source=outlet, party_name="")
    case.delete()
    assert not Case.objects.exists()
    assert not Source.objects.exists() and not Citation.objects.exists()
    assert not CommentRequest.objects.exists()


@pytest.mark.parametrize("role", ["source", "via", "party"])
def test_source_still_in_use_cannot_be_deleted_on_its_own(case, role):
    source = SourceFactory(case=case)
    if role == "party":
        CommentRequestFactory(case=case, party_source=source, party_name="")
    else:
        kwargs = {"source": source} if role == "source" else {
            "source": SourceFactory(case=case), "relays": [source]}
        CitationFactory(claim=ClaimFactory(case=case), **kwargs)
    with pytest.raises(RestrictedError):
        source.delete()
    assert Source.objects.filter(pk=source.pk).exists()
