"""Every rule a record's clean() checks refuses with a machine-readable code, which the forms,
the admin and the API pass on beside the field."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from cases.enums import CommentOutcome

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    IncidentFactory,
    SourceFactory,
    TaskFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def codes_of(record) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as excinfo:
        record.clean()
    return {field: [error.code for error in errors]
            for field, errors in excinfo.value.error_dict.items()}


def _incident_half_coordinates(case):
    return IncidentFactory.build(case=case, latitude=47.5, longitude=None,
                                 geo_precision="town")


def _incident_no_precision(case):
    return IncidentFactory.build(case=case, latitude=47.5, longitude=40.1, geo_precision="")


def _incident_counts(case):
    return IncidentFactory.build(case=case, involved=3, detained=4)


def _incident_bad_date(case):
    return IncidentFactory.build(case=case, occurred="the 40th of Maytember")


def _task_outsider(case):
    return TaskFactory.build(case=case, assignee=UserFactory())


def _comment_no_party(case):
    return CommentRequestFactory.build(case=case, party_source=None, party_name=" ")


def _comment_deadline(case):
    request = CommentRequestFactory.build(case=case)
    request.deadline = request.asked_at - dt.timedelta(days=1)
    return request


def _comment_reply(case):
    return CommentRequestFactory.build(case=case, outcome=CommentOutcome.REPLIED,
                                       reply_summary="")


def _source_self(case):
    source = SourceFactory(case=case)
    source.reached_via = source
    return source


def _source_cycle(case):
    first = SourceFactory(case=case)
    second = SourceFactory(case=case, reached_via=first)
    first.reached_via = second
    return first


def _citation_self_relay(case):
    citation = CitationFactory(claim=ClaimFactory(case=case), source=SourceFactory(case=case))
    citation.set_relays([citation.source])
    return citation


def _citation_no_target(case):
    return CitationFactory.build(claim=None, incident=None, source=SourceFactory(case=case))


def _citation_two_targets(case):
    return CitationFactory.build(claim=ClaimFactory(case=case),
                                 incident=IncidentFactory(case=case),
                                 source=SourceFactory(case=case))


def _claim_figure_without_unit(case):
    return ClaimFactory.build(case=case, figure_value=10, figure_unit=" ")


def _task_other_case(case):
    return TaskFactory.build(case=case, claim=ClaimFactory(case=CaseFactory()))


@pytest.mark.parametrize(("make", "expected"), [
    (_incident_half_coordinates, {"longitude": ["coordinates_incomplete"]}),
    (_incident_no_precision, {"geo_precision": ["geo_precision_missing"]}),
    (_incident_counts, {"involved": ["counts_exceed_involved"]}),
    (_task_outsider, {"assignee": ["assignee_not_member"]}),
    (_comment_no_party, {"party_name": ["party_missing"]}),
    (_comment_deadline, {"deadline": ["deadline_before_asked"]}),
    (_comment_reply, {"reply_summary": ["reply_summary_missing"]}),
    (_source_self, {"reached_via": ["attribution_self"]}),
    (_source_cycle, {"reached_via": ["attribution_cycle"]}),
    (_citation_self_relay, {"relays": ["attribution_self"]}),
    (_citation_no_target, {"claim": ["citation_target_missing"]}),
    (_citation_two_targets, {"incident": ["citation_target_ambiguous"]}),
    (_claim_figure_without_unit, {"figure_unit": ["figure_unit_missing"]}),
    (_task_other_case, {"claim": ["other_case"]}),
])
def test_record_clean_refusal_carries_its_code(make, expected):
    assert codes_of(make(CaseFactory())) == expected


def test_incident_clean_passes_on_the_date_parsers_code():
    codes = codes_of(_incident_bad_date(CaseFactory()))
    assert list(codes) == ["occurred"] and None not in codes["occurred"]
