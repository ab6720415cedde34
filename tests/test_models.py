"""The domain model: evidence integrity, figures and their qualifiers, attribution chains,
incidents (fuzzy dates, places, counts), citations, sources, follow-ups and per-case
visibility of every kind of record."""

import datetime as dt
import hashlib
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.db.models import RestrictedError
from django.utils import timezone

from cases import attribution
from cases.enums import (
    CitationRelation,
    CommentOutcome,
    FigureQualifier,
    GeoPrecision,
    Role,
    TaskState,
)
from cases.enums import VerificationStatus as S
from cases.figures import Figure
from cases.models import (
    Case,
    Citation,
    Claim,
    CommentRequest,
    Evidence,
    Incident,
    Membership,
    Source,
    Task,
)

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    EvidenceFactory,
    IncidentFactory,
    MembershipFactory,
    SourceFactory,
    TaskFactory,
    UserFactory,
)

Q = FigureQualifier


def errors_of(excinfo) -> dict[str, list[str]]:
    return excinfo.value.message_dict


# ---------------------------------------------------------------------------------------------
# Evidence


def test_evidence_hash_and_size_computed_from_content_on_save(case):
    content = b"%PDF-1.7 indictment of the deserters" * 100

    evidence = EvidenceFactory(case=case, file=ContentFile(content, name="indictment.pdf"))

    evidence.refresh_from_db()
    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    assert evidence.size == len(content)
    with evidence.file.open("rb") as stored:
        assert stored.read() == content


def test_evidence_hash_of_large_file_covers_every_chunk(case):
    content = bytes(range(256)) * 12_000  # ~3 MB: several chunks

    evidence = EvidenceFactory(case=case, file=ContentFile(content, name="video.mp4"))

    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    assert evidence.size == len(content)


def test_evidence_keeps_original_name_and_stores_under_generated_name(case):
    upload = SimpleUploadedFile("Фото с полигона 09.05.jpg", b"\xff\xd8\xff jpeg bytes",
                                content_type="image/jpeg")

    evidence = EvidenceFactory(case=case, file=upload)

    evidence.refresh_from_db()
    assert evidence.original_name == "Фото с полигона 09.05.jpg"
    assert evidence.content_type == "image/jpeg"
    assert re.fullmatch(rf"evidence/{case.pk}/[0-9a-f]{{32}}", evidence.file.name)
    assert "полигона" not in evidence.file.name


def test_evidence_path_in_uploaded_name_is_not_used(case):
    upload = SimpleUploadedFile("../../etc/passwd", b"not really", content_type="text/plain")

    evidence = EvidenceFactory(case=case, file=upload)

    assert ".." not in evidence.file.name
    assert evidence.original_name == "passwd"


def test_evidence_two_uploads_with_same_name_get_different_stored_names(case):
    first = EvidenceFactory(case=case, file=ContentFile(b"one", name="photo.jpg"))
    second = EvidenceFactory(case=case, file=ContentFile(b"two", name="photo.jpg"))

    assert first.file.name != second.file.name
    assert first.sha256 != second.sha256


def test_evidence_explicit_original_name_is_kept(case):
    evidence = EvidenceFactory(case=case, original_name="Scan from the courthouse.pdf",
                               file=ContentFile(b"scan", name="tmp123.pdf"))

    assert evidence.original_name == "Scan from the courthouse.pdf"


def test_evidence_resave_without_new_file_keeps_hash(case):
    evidence = EvidenceFactory(case=case, file=ContentFile(b"original", name="a.txt"))
    digest = evidence.sha256

    evidence = Evidence.objects.get(pk=evidence.pk)
    evidence.description = "Re-described."
    evidence.save()

    evidence.refresh_from_db()
    assert evidence.sha256 == digest == hashlib.sha256(b"original").hexdigest()
    assert evidence.size == len(b"original")


def test_evidence_new_file_is_hashed_again(case):
    evidence = EvidenceFactory(case=case, file=ContentFile(b"first version", name="a.txt"))

    evidence.file = ContentFile(b"second, longer version", name="b.txt")
    evidence.save()

    evidence.refresh_from_db()
    assert evidence.sha256 == hashlib.sha256(b"second, longer version").hexdigest()
    assert evidence.size == len(b"second, longer version")


def test_evidence_new_file_records_its_own_original_name(case):
    evidence = EvidenceFactory(case=case, file=ContentFile(b"first version", name="a.txt"))

    evidence.file = ContentFile(b"second version", name="b.txt")
    evidence.save()

    assert evidence.original_name == "b.txt"


def test_evidence_empty_file_has_empty_hash(case):
    evidence = EvidenceFactory(case=case, file=ContentFile(b"", name="empty.txt"))

    assert evidence.sha256 == hashlib.sha256(b"").hexdigest()
    assert evidence.size == 0


def test_evidence_clean_refuses_claim_of_another_case(case):
    foreign_claim = ClaimFactory(case=CaseFactory())
    evidence = EvidenceFactory(case=case)
    evidence.claim = foreign_claim

    with pytest.raises(ValidationError) as excinfo:
        evidence.clean()

    assert "claim" in errors_of(excinfo)


# ---------------------------------------------------------------------------------------------
# Figures


@pytest.mark.parametrize("figure, expected", [
    (Figure(Decimal("49000"), Q.AT_LEAST, "arrest warrants"),
     "at least 49,000 arrest warrants"),
    (Figure(Decimal("49000.00"), Q.AT_LEAST, "arrest warrants"),
     "at least 49,000 arrest warrants"),
    (Figure(Decimal("300"), Q.NEARLY), "nearly 300"),
    (Figure(Decimal("10"), Q.EXACTLY, "deserters"), "10 deserters"),
    (Figure(Decimal("1234.50"), Q.ABOUT, "km"), "about 1,234.5 km"),
    (Figure(Decimal("1000000"), Q.AT_MOST, "roubles"), "at most 1,000,000 roubles"),
    (Figure(Decimal("0.00"), Q.EXACTLY, "killed"), "0 killed"),
    (Figure(300, "nearly"), "nearly 300"),
])
def test_figure_str_reads_like_the_report(figure, expected):
    assert str(figure) == expected


@pytest.mark.parametrize("figure, bounds", [
    (Figure(Decimal(10)), (10, 10)),
    (Figure(Decimal(49000), Q.AT_LEAST), (49000, None)),
    (Figure(Decimal(50), Q.AT_MOST), (None, 50)),
    (Figure(Decimal(300), Q.ABOUT), (270, 330)),
    (Figure(Decimal(300), Q.NEARLY), (270, 300)),
])
def test_figure_bounds(figure, bounds):
    assert figure.bounds() == tuple(None if b is None else Decimal(b) for b in bounds)


@pytest.mark.parametrize("figure, number, admitted", [
    (Figure(Decimal(10)), 10, True),
    (Figure(Decimal(10)), 11, False),
    (Figure(Decimal(49000), Q.AT_LEAST), 49000, True),
    (Figure(Decimal(49000), Q.AT_LEAST), 60000, True),
    (Figure(Decimal(49000), Q.AT_LEAST), 48999, False),
    (Figure(Decimal(50), Q.AT_MOST), 50, True),
    (Figure(Decimal(50), Q.AT_MOST), 0, True),
    (Figure(Decimal(50), Q.AT_MOST), 51, False),
    (Figure(Decimal(300), Q.ABOUT), 270, True),
    (Figure(Decimal(300), Q.ABOUT), 330, True),
    (Figure(Decimal(300), Q.ABOUT), 331, False),
    (Figure(Decimal(300), Q.ABOUT), 269, False),
    (Figure(Decimal(300), Q.NEARLY), 291, True),
    (Figure(Decimal(300), Q.NEARLY), 270, True),
    (Figure(Decimal(300), Q.NEARLY), 300, False),  # nearly 300 is below 300
    (Figure(Decimal(300), Q.NEARLY), 301, False),
    (Figure(Decimal(300), Q.NEARLY), 250, False),
    (Figure(Decimal(300), Q.NEARLY), "299.5", True),
])
def test_figure_admits(figure, number, admitted):
    assert figure.admits(number) is admitted


@pytest.mark.parametrize("first, second, consistent", [
    (Figure(Decimal(300), Q.NEARLY), Figure(Decimal(291)), True),
    (Figure(Decimal(300), Q.NEARLY), Figure(Decimal(300)), False),
    (Figure(Decimal(300), Q.NEARLY), Figure(Decimal(250)), False),
    (Figure(Decimal(300), Q.NEARLY), Figure(Decimal(300), Q.AT_LEAST), False),
    (Figure(Decimal(300), Q.NEARLY), Figure(Decimal(280), Q.AT_LEAST), True),
    (Figure(Decimal(300), Q.NEARLY), Figure(Decimal(300), Q.ABOUT), True),
    (Figure(Decimal(300), Q.NEARLY), Figure(Decimal(270)), True),
    (Figure(Decimal(49000), Q.AT_LEAST), Figure(Decimal(52000)), True),
    (Figure(Decimal(49000), Q.AT_LEAST), Figure(Decimal(40000)), False),
    (Figure(Decimal(49000), Q.AT_LEAST), Figure(Decimal(60000), Q.AT_LEAST), True),
    (Figure(Decimal(49000), Q.AT_LEAST), Figure(Decimal(49000), Q.AT_MOST), True),
    (Figure(Decimal(49000), Q.AT_LEAST), Figure(Decimal(48000), Q.AT_MOST), False),
    (Figure(Decimal(50), Q.AT_MOST), Figure(Decimal(10), Q.AT_MOST), True),
    (Figure(Decimal(10)), Figure(Decimal(10)), True),
    (Figure(Decimal(10)), Figure(Decimal(11)), False),
    (Figure(Decimal(300), Q.ABOUT), Figure(Decimal(330)), True),
    (Figure(Decimal(300), Q.ABOUT), Figure(Decimal(340), Q.ABOUT), True),
    (Figure(Decimal(100), Q.ABOUT), Figure(Decimal(200), Q.ABOUT), False),
])
def test_figure_consistent_with_is_symmetric(first, second, consistent):
    assert first.consistent_with(second) is consistent
    assert second.consistent_with(first) is consistent


def test_claim_figure_built_from_fields(case):
    claim = ClaimFactory(case=case, figure_value=Decimal("49000"), figure_unit="arrest warrants",
                         figure_qualifier=Q.AT_LEAST)

    claim.refresh_from_db()
    assert claim.figure == Figure(Decimal("49000"), Q.AT_LEAST, "arrest warrants")
    assert str(claim.figure) == "at least 49,000 arrest warrants"
    assert claim.figure.admits(50000)


def test_claim_without_figure_has_none(case):
    assert ClaimFactory(case=case).figure is None


def test_claim_figure_zero_is_a_figure(case):
    claim = ClaimFactory(case=case, figure_value=Decimal(0), figure_unit="killed")

    assert str(claim.figure) == "0 killed"


def test_claim_clean_figure_needs_unit(case):
    claim = ClaimFactory.build(case=case, figure_value=Decimal(10), figure_unit="  ")

    with pytest.raises(ValidationError) as excinfo:
        claim.clean()

    assert errors_of(excinfo) == {"figure_unit": ["Say what the figure counts."]}


def test_claim_clean_refuses_incident_of_another_case(case):
    claim = ClaimFactory.build(case=case, incident=IncidentFactory(case=CaseFactory()))

    with pytest.raises(ValidationError) as excinfo:
        claim.clean()

    assert "incident" in errors_of(excinfo)


def test_claim_with_figures_queryset(case):
    with_figure = ClaimFactory(case=case, figure_value=Decimal(6), figure_unit="caught")
    ClaimFactory(case=case)

    assert list(Claim.objects.with_figures()) == [with_figure]


def test_claim_str_is_shortened(case):
    claim = ClaimFactory(case=case, statement="word " * 40)

    assert len(str(claim)) == 80
    assert str(claim).endswith("…")


# ---------------------------------------------------------------------------------------------
# Attribution: lineage and independence (pure, on a via map)


def citation(source, via=None):
    return SimpleNamespace(source_id=source, relay_ids=[via] if via else [])


# 1 ← 2 ← 3 (3 is reached via 2, 2 via 1); 4 alone; 5 reached via 1; 6 ↔ 7 a cycle
VIA = {1: None, 2: 1, 3: 2, 4: None, 5: 1, 6: 7, 7: 6, 8: None}


@pytest.mark.parametrize("cit, expected", [
    (citation(1), {1}),
    (citation(3), {3, 2, 1}),
    (citation(4, via=3), {4, 3, 2, 1}),
    (citation(8, via=4), {8, 4}),
    (citation(6), {6, 7}),  # a cycle ends, it does not loop
    (citation(99), {99}),  # a source the map does not know
])
def test_lineage_follows_via_and_reached_via(cit, expected):
    assert attribution.lineage(cit, VIA) == frozenset(expected)


@pytest.mark.parametrize("first, second, independent", [
    (citation(1), citation(4), True),
    (citation(1), citation(1), False),  # the same source
    (citation(3), citation(1), False),  # 3 is reached through 2 and 1
    (citation(3), citation(5), False),  # both go back to 1
    (citation(8, via=4), citation(4), False),  # 8 relayed by 4
    (citation(8, via=4), citation(5), True),
    (citation(6), citation(7), False),  # cycle
    (citation(6), citation(4), True),
])
def test_are_independent(first, second, independent):
    assert attribution.are_independent(first, second, VIA) is independent
    assert attribution.are_independent(second, first, VIA) is independent


def test_independent_pair_found_among_dependent_citations():
    a, b, c = citation(3), citation(5), citation(8)

    assert attribution.independent_pair([a, b, c], VIA) == (a, c)


@pytest.mark.parametrize("citations", [
    [], [citation(1)], [citation(1), citation(2), citation(3), citation(5)],
    [citation(6), citation(7)],
])
def test_independent_pair_none_when_all_share_an_origin(citations):
    assert attribution.independent_pair(citations, VIA) is None


def test_origins_groups_dependent_citations():
    groups = attribution.origins([citation(3), citation(4), citation(5), citation(8, via=4)],
                                 VIA)

    assert sorted(sorted(g) for g in groups) == [[1, 2, 3, 5], [4, 8]]


def test_origins_merges_groups_a_later_citation_links():
    # 10 and 11 look independent until a citation of 11 relayed via 10 arrives.
    via = {10: None, 11: None, 12: None}
    groups = attribution.origins([citation(10), citation(11), citation(12),
                                  citation(11, via=10)], via)

    assert sorted(sorted(g) for g in groups) == [[10, 11], [12]]


def test_origins_of_nothing_is_empty():
    assert attribution.origins([], VIA) == []


def supporting(source, via=None, relation=CitationRelation.REPORTS):
    return SimpleNamespace(source_id=source, relay_ids=[via] if via else [],
                           relation=relation)


def test_supporting_origins_count_only_the_citations_that_report_or_confirm():
    origins = attribution.supporting_origins(
        [supporting(3), supporting(4, relation=CitationRelation.CONFIRMS),
         supporting(8, relation=CitationRelation.DENIES),
         supporting(5, relation=CitationRelation.DECLINED_TO_COMMENT)], VIA)

    assert [c.source_id for c in origins.citations] == [3, 4]
    assert (origins.count, origins.independent) == (2, True)
    assert origins.source_ids == {1, 2, 3, 4}


@pytest.mark.parametrize("citations, count, independent", [
    ([], 0, False),
    ([supporting(1)], 1, False),
    ([supporting(3), supporting(5)], 1, False),  # both go back to 1
    ([supporting(3), supporting(5), supporting(8, via=4)], 2, True),
])
def test_supporting_origins_count_and_independence(citations, count, independent):
    origins = attribution.supporting_origins(citations, VIA)

    assert (origins.count, origins.independent) == (count, independent)


def test_supporting_origins_the_two_ends_of_a_chain_are_independent_in_one_group():
    """The workflow asks for a pair that shares no source; the pages count groups linked
    through shared sources. A chain's two ends are both: independent, and one group."""
    via = {1: None, 2: None, 3: None, 4: None}
    origins = attribution.supporting_origins(
        [supporting(1, via=2), supporting(2, via=3), supporting(4, via=3)], via)

    assert (origins.count, origins.independent) == (1, True)


# Attribution on stored sources


def test_via_map_for_case_lists_only_that_case(case):
    outlet = SourceFactory(case=case, name="161.ru")
    investigators = SourceFactory(case=case, name="Investigators", reached_via=outlet)
    SourceFactory(case=CaseFactory(), name="Elsewhere")

    assert attribution.via_map_for_case(case.pk) == {outlet.pk: None,
                                                     investigators.pk: outlet.pk}


def test_reached_via_chain_of_stored_sources(case):
    insiders = SourceFactory(case=case, name="Insiders")
    outlet = SourceFactory(case=case, name="161.ru", reached_via=insiders)
    agency = SourceFactory(case=case, name="Agency", reached_via=outlet)

    assert attribution.reached_via_chain(agency) == {agency.pk, outlet.pk, insiders.pk}
    assert attribution.reached_via_chain(insiders) == {insiders.pk}


def test_reached_via_chain_with_cycle_in_stored_data_terminates(case):
    first = SourceFactory(case=case, name="First")
    second = SourceFactory(case=case, name="Second", reached_via=first)
    Source.objects.filter(pk=first.pk).update(reached_via=second)  # bypassing clean()

    assert attribution.reached_via_chain(first) == {first.pk, second.pk}


def test_independence_of_stored_citations(case):
    claim = ClaimFactory(case=case)
    outlet = SourceFactory(case=case, name="161.ru")
    relayed = CitationFactory(claim=claim, source=SourceFactory(case=case, name="Investigators"),
                              relays=[outlet])
    direct = CitationFactory(claim=claim, source=outlet)
    other = CitationFactory(claim=claim, source=SourceFactory(case=case, name="Prosecutor"))
    via_map = attribution.via_map_for_case(case.pk)

    assert not attribution.are_independent(relayed, direct, via_map)
    assert attribution.are_independent(relayed, other, via_map)
    assert attribution.independent_pair([relayed, direct], via_map) is None
    assert len(attribution.origins([relayed, direct, other], via_map)) == 2


# ---------------------------------------------------------------------------------------------
# Source


def test_source_clean_refuses_itself_as_relay(case):
    source = SourceFactory(case=case)
    source.reached_via = source

    with pytest.raises(ValidationError) as excinfo:
        source.clean()

    assert errors_of(excinfo) == {"reached_via": ["A source cannot be reached through itself."]}


def test_source_clean_refuses_circular_reached_via(case):
    first = SourceFactory(case=case, name="First")
    second = SourceFactory(case=case, name="Second", reached_via=first)
    first.reached_via = second

    with pytest.raises(ValidationError) as excinfo:
        first.clean()

    assert "circular" in errors_of(excinfo)["reached_via"][0]


def test_source_clean_refuses_long_circular_reached_via(case):
    a = SourceFactory(case=case, name="A")
    b = SourceFactory(case=case, name="B", reached_via=a)
    c = SourceFactory(case=case, name="C", reached_via=b)
    a.reached_via = c

    with pytest.raises(ValidationError) as excinfo:
        a.clean()

    assert "reached_via" in errors_of(excinfo)


def test_source_clean_accepts_a_chain(case):
    a = SourceFactory(case=case, name="A")
    b = SourceFactory(case=case, name="B", reached_via=a)
    c = SourceFactory(case=case, name="C")
    c.reached_via = b

    c.clean()  # no error


def test_source_clean_refuses_relay_of_another_case(case):
    source = SourceFactory(case=case)
    source.reached_via = SourceFactory(case=CaseFactory())

    with pytest.raises(ValidationError) as excinfo:
        source.clean()

    assert errors_of(excinfo) == {"reached_via": ["This record belongs to another case."]}


def test_source_deleting_a_common_origin_is_refused(case):
    insiders = SourceFactory(case=case, name="Insiders")
    SourceFactory(case=case, name="161.ru", reached_via=insiders)
    SourceFactory(case=case, name="Baza", reached_via=insiders)

    with pytest.raises(RestrictedError):
        insiders.delete()


def test_source_name_unique_per_case(case):
    SourceFactory(case=case, name="161.ru")
    SourceFactory(case=CaseFactory(), name="161.ru")  # another case: fine

    with pytest.raises(IntegrityError), transaction.atomic():
        SourceFactory(case=case, name="161.ru")


# ---------------------------------------------------------------------------------------------
# Citation


def test_citation_clean_refuses_source_of_another_case(case):
    claim = ClaimFactory(case=case)
    cit = CitationFactory.build(claim=claim, source=SourceFactory(case=CaseFactory()))

    with pytest.raises(ValidationError) as excinfo:
        cit.clean()

    assert errors_of(excinfo) == {"source": ["This record belongs to another case."]}


def test_citation_clean_refuses_relay_of_another_case(case):
    claim = ClaimFactory(case=case)
    cit = CitationFactory.build(claim=claim, source=SourceFactory(case=case))
    cit.set_relays([SourceFactory(case=CaseFactory())])

    with pytest.raises(ValidationError) as excinfo:
        cit.clean()

    assert errors_of(excinfo) == {"relays": ["This record belongs to another case."]}


def test_citation_clean_refuses_relay_same_as_source(case):
    source = SourceFactory(case=case)
    cit = CitationFactory.build(claim=ClaimFactory(case=case), source=source)
    cit.set_relays([source])

    with pytest.raises(ValidationError) as excinfo:
        cit.clean()

    assert errors_of(excinfo) == {"relays": ["A source cannot be relayed through itself."]}


def test_citation_clean_refuses_claim_and_incident(case):
    cit = CitationFactory.build(claim=ClaimFactory(case=case),
                                incident=IncidentFactory(case=case),
                                source=SourceFactory(case=case))

    with pytest.raises(ValidationError) as excinfo:
        cit.clean()

    assert "incident" in errors_of(excinfo)


def test_citation_clean_refuses_neither_claim_nor_incident(case):
    cit = Citation(source=SourceFactory(case=case))

    with pytest.raises(ValidationError) as excinfo:
        cit.clean()

    assert "claim" in errors_of(excinfo)


def test_citation_of_incident_is_valid(case):
    incident = IncidentFactory(case=case)
    cit = CitationFactory(claim=None, incident=incident, source=SourceFactory(case=case))

    cit.full_clean()
    assert cit.target == incident


@pytest.mark.parametrize("target", ["both", "neither"])
def test_citation_db_constraint_claim_xor_incident(case, target):
    source = SourceFactory(case=case)
    kwargs = ({"claim": ClaimFactory(case=case), "incident": IncidentFactory(case=case)}
              if target == "both" else {})

    with pytest.raises(IntegrityError), transaction.atomic():
        Citation.objects.create(source=source, **kwargs)


def test_citation_supporting_queryset(case):
    claim = ClaimFactory(case=case)
    reports = CitationFactory(claim=claim, relation=CitationRelation.REPORTS)
    confirms = CitationFactory(claim=claim, relation=CitationRelation.CONFIRMS)
    CitationFactory(claim=claim, relation=CitationRelation.DENIES)
    CitationFactory(claim=claim, relation=CitationRelation.DECLINED_TO_COMMENT)

    assert set(Citation.objects.supporting()) == {reports, confirms}


# ---------------------------------------------------------------------------------------------
# Incident


def test_incident_clean_refuses_bad_edtf(case):
    incident = IncidentFactory.build(case=case, occurred="last Tuesday")

    with pytest.raises(ValidationError) as excinfo:
        incident.clean()

    assert "not a date Casedesk understands" in errors_of(excinfo)["occurred"][0]


def test_incident_clean_normalises_edtf(case):
    incident = IncidentFactory.build(case=case, occurred="~2024-05-09")

    incident.clean()

    assert incident.occurred == "2024-05-09~"


@pytest.mark.parametrize("lat, lon, field", [
    (Decimal("47.2"), None, "longitude"),
    (None, Decimal("39.7"), "latitude"),
])
def test_incident_clean_refuses_half_coordinates(case, lat, lon, field):
    incident = IncidentFactory.build(case=case, latitude=lat, longitude=lon,
                                     geo_precision=GeoPrecision.TOWN)

    with pytest.raises(ValidationError) as excinfo:
        incident.clean()

    assert errors_of(excinfo)[field] == ["Give both latitude and longitude, or neither."]


def test_incident_clean_coordinates_need_precision(case):
    incident = IncidentFactory.build(case=case, latitude=Decimal("47.2"),
                                     longitude=Decimal("39.7"))

    with pytest.raises(ValidationError) as excinfo:
        incident.clean()

    assert "geo_precision" in errors_of(excinfo)


def test_incident_full_clean_refuses_coordinates_out_of_range(case):
    incident = IncidentFactory.build(case=case, latitude=Decimal("91"),
                                     longitude=Decimal("39.7"), geo_precision=GeoPrecision.POINT)

    with pytest.raises(ValidationError) as excinfo:
        incident.full_clean()

    assert "latitude" in errors_of(excinfo)


def test_incident_clean_refuses_subcounts_exceeding_involved(case):
    incident = IncidentFactory.build(case=case, involved=10, detained=6, at_large=4, killed=1)

    with pytest.raises(ValidationError) as excinfo:
        incident.clean()

    assert errors_of(excinfo)["involved"] == [
        "Detained, killed, missing and at large add up to 11, more than the 10 people "
        "involved."]


def test_incident_clean_reports_every_error_at_once(case):
    incident = IncidentFactory.build(case=case, occurred="soon", latitude=Decimal(1),
                                     involved=1, detained=2)

    with pytest.raises(ValidationError) as excinfo:
        incident.clean()

    assert {"occurred", "longitude", "geo_precision", "involved"} <= set(errors_of(excinfo))


def test_incident_clean_injured_overlap_is_not_counted(case):
    incident = IncidentFactory.build(case=case, involved=10, detained=6, at_large=4, injured=3)

    incident.clean()  # no error


def test_incident_clean_valid_place_and_counts(case):
    incident = IncidentFactory.build(case=case, latitude=Decimal("47.2"),
                                     longitude=Decimal("39.7"),
                                     geo_precision=GeoPrecision.TOWN, involved=10, detained=6)

    incident.clean()  # no error


def test_incident_count_balance_reconciles_ten_as_six_plus_four(case):
    incident = IncidentFactory(case=case, involved=10, detained=6, at_large=4)

    balance = incident.count_balance()

    assert (balance.involved, balance.accounted, balance.unaccounted) == (10, 10, 0)
    assert balance.reconciles


def test_incident_count_balance_open_remainder(case):
    balance = IncidentFactory(case=case, involved=10, detained=6).count_balance()

    assert balance.unaccounted == 4
    assert not balance.reconciles


def test_incident_count_balance_unknown_involved(case):
    balance = IncidentFactory(case=case, detained=6, at_large=4).count_balance()

    assert balance.involved is None
    assert balance.accounted == 10
    assert balance.unaccounted is None
    assert not balance.reconciles


def test_incident_count_zero_is_not_unknown(case):
    balance = IncidentFactory(case=case, involved=0).count_balance()

    assert balance.reconciles
    assert balance.unaccounted == 0


@pytest.mark.parametrize("typed, stored, earliest, latest", [
    ("2025-05-09", "2025-05-09", dt.date(2025, 5, 9), dt.date(2025, 5, 9)),
    ("2025-05", "2025-05", dt.date(2025, 5, 1), dt.date(2025, 5, 31)),
    ("2025", "2025", dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
    ("~2024-05-09", "2024-05-09~", dt.date(2024, 5, 9), dt.date(2024, 5, 9)),
    ("2025-05-08 / 2025-05-09", "2025-05-08/2025-05-09", dt.date(2025, 5, 8),
     dt.date(2025, 5, 9)),
    ("2025-05-09 14:30", "2025-05-09T14:30:00", dt.date(2025, 5, 9), dt.date(2025, 5, 9)),
    ("05-09", "XXXX-05-09", None, None),
    ("XXXX-05-09", "XXXX-05-09", None, None),
])
def test_incident_save_normalises_and_derives_dates(case, typed, stored, earliest, latest):
    incident = IncidentFactory(case=case, occurred=typed)

    incident.refresh_from_db()
    assert incident.occurred == stored
    assert (incident.occurred_earliest, incident.occurred_latest) == (earliest, latest)


def test_incident_unknown_year_is_described_in_words(case):
    incident = IncidentFactory(case=case, occurred="XXXX-05-09")

    assert incident.when_display == "9 May, year unknown"
    assert incident.when.precision == "unknown_year"


def test_incident_save_rederives_dates_when_occurred_changes(case):
    incident = IncidentFactory(case=case, occurred="2025-05-09")

    incident.occurred = "2025-06"
    incident.save(update_fields=["occurred"])

    incident.refresh_from_db()
    assert (incident.occurred_earliest, incident.occurred_latest) == (
        dt.date(2025, 6, 1), dt.date(2025, 6, 30))


def test_incident_save_becoming_unknown_year_clears_dates(case):
    incident = IncidentFactory(case=case, occurred="2025-05-09")

    incident.occurred = "05-09"
    incident.save()

    incident.refresh_from_db()
    assert (incident.occurred_earliest, incident.occurred_latest) == (None, None)


def test_incident_save_refuses_bad_edtf_and_writes_nothing(case):
    with pytest.raises(ValidationError):
        IncidentFactory(case=case, occurred="whenever")

    assert not Incident.objects.exists()


def test_incident_when_of_unparseable_legacy_value_falls_back(case):
    incident = IncidentFactory(case=case)
    Incident.objects.filter(pk=incident.pk).update(occurred="sometime")
    incident.refresh_from_db()

    assert incident.when is None
    assert incident.when_display == "sometime"


def test_incident_db_constraint_refuses_half_coordinates(case):
    with pytest.raises(IntegrityError), transaction.atomic():
        IncidentFactory(case=case, latitude=Decimal("47.2"), longitude=None)


def test_incident_chronological_puts_unknown_year_last(case):
    unknown = IncidentFactory(case=case, occurred="XXXX-05-09", title="unknown")
    late = IncidentFactory(case=case, occurred="2025-05-09", title="late")
    month = IncidentFactory(case=case, occurred="2025-05", title="month")
    early = IncidentFactory(case=case, occurred="2024", title="early")
    also_unknown = IncidentFactory(case=case, occurred="XXXX-01", title="also unknown")

    ordered = list(Incident.objects.chronological())

    assert ordered == [early, month, late, unknown, also_unknown]
    assert list(Incident.objects.all()) == [early, month, late, unknown, also_unknown]


# ---------------------------------------------------------------------------------------------
# Case and membership


def test_case_slug_made_from_title_with_a_random_ending(db):
    first = CaseFactory(title="Rostov desertion")
    second = CaseFactory(title="Rostov desertion")

    for case in (first, second):
        assert re.fullmatch(r"rostov-desertion-[a-z2-9]{5}", case.slug), case.slug
    assert first.slug != second.slug


def test_case_slug_of_title_without_latin_letters(db):
    assert re.fullmatch(r"case-[a-z2-9]{5}", CaseFactory(title="Дезертиры").slug)


def test_case_slug_ending_is_drawn_again_when_taken(db, monkeypatch):
    taken = CaseFactory(title="Rostov desertion")
    tail = taken.slug.rsplit("-", 1)[1]
    draws = iter([*tail, *"k7m2q"])
    monkeypatch.setattr("cases.models.case.secrets.choice", lambda alphabet: next(draws))

    assert CaseFactory(title="Rostov desertion").slug == "rostov-desertion-k7m2q"


def test_membership_role_of(case, reporter, outsider):
    assert Membership.objects.role_of(reporter, case) == Role.REPORTER
    assert case.role_of(reporter) == Role.REPORTER
    assert case.role_of(outsider) is None


def test_membership_unique_per_case(case, reporter):
    with pytest.raises(IntegrityError), transaction.atomic():
        MembershipFactory(case=case, user=reporter, role=Role.EDITOR)


# ---------------------------------------------------------------------------------------------
# Follow-ups: comment requests and tasks


ASKED = dt.datetime(2025, 5, 12, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("outcome, deadline_days, expected", [
    (CommentOutcome.PENDING, 3650, "asked 12 May 2025, awaiting reply"),
    (CommentOutcome.PENDING, None, "asked 12 May 2025, awaiting reply"),
    (CommentOutcome.PENDING, 1, "asked 12 May 2025, deadline passed"),
    (CommentOutcome.REPLIED, 1, "asked 12 May 2025, replied"),
    (CommentOutcome.DECLINED, 1, "asked 12 May 2025, declined to comment"),
    (CommentOutcome.NO_ANSWER, 1, "asked 12 May 2025, no answer by the deadline"),
])
def test_comment_request_summary(case, outcome, deadline_days, expected):
    deadline = None if deadline_days is None else ASKED + dt.timedelta(days=deadline_days)
    request = CommentRequestFactory(case=case, asked_at=ASKED, deadline=deadline,
                                    outcome=outcome, reply_summary="They deny it.")

    assert request.summary == expected
    assert str(request) == f"Defence Ministry: {expected}"


@pytest.mark.parametrize("outcome, deadline_delta, overdue", [
    (CommentOutcome.PENDING, dt.timedelta(hours=-1), True),
    (CommentOutcome.PENDING, dt.timedelta(hours=1), False),
    (CommentOutcome.PENDING, None, False),
    (CommentOutcome.NO_ANSWER, dt.timedelta(hours=-1), False),
    (CommentOutcome.REPLIED, dt.timedelta(hours=-1), False),
])
def test_comment_request_is_overdue(case, outcome, deadline_delta, overdue):
    now = timezone.now()
    request = CommentRequestFactory(
        case=case, asked_at=now - dt.timedelta(days=2), outcome=outcome,
        deadline=None if deadline_delta is None else now + deadline_delta,
    )

    assert request.is_overdue is overdue
    assert (request in CommentRequest.objects.past_deadline()) is overdue


def test_comment_request_party_from_source(case):
    source = SourceFactory(case=case, name="Defence Ministry press office")
    request = CommentRequestFactory(case=case, party_name="", party_source=source)

    assert request.party == "Defence Ministry press office"


def test_comment_request_clean_errors(case):
    request = CommentRequestFactory.build(
        case=case, party_name=" ", asked_at=ASKED, deadline=ASKED - dt.timedelta(days=1),
        outcome=CommentOutcome.REPLIED, reply_summary="",
        party_source=None,
    )

    with pytest.raises(ValidationError) as excinfo:
        request.clean()

    assert set(errors_of(excinfo)) == {"party_name", "deadline", "reply_summary"}


def test_comment_request_clean_refuses_source_of_another_case(case):
    request = CommentRequestFactory.build(case=case,
                                          party_source=SourceFactory(case=CaseFactory()))

    with pytest.raises(ValidationError) as excinfo:
        request.clean()

    assert "party_source" in errors_of(excinfo)


def test_comment_request_db_constraint_needs_a_party(case):
    with pytest.raises(IntegrityError), transaction.atomic():
        CommentRequestFactory(case=case, party_name="", party_source=None)


@pytest.mark.parametrize("state, due_delta, overdue", [
    (TaskState.OPEN, -1, True),
    (TaskState.OPEN, 0, False),  # due today is not late yet
    (TaskState.OPEN, 1, False),
    (TaskState.OPEN, None, False),
    (TaskState.DONE, -1, False),
    (TaskState.CANCELLED, -1, False),
])
def test_task_is_overdue_and_overdue_queryset(case, state, due_delta, overdue):
    today = timezone.localdate()
    task = TaskFactory(case=case, state=state,
                       due_on=None if due_delta is None else today + dt.timedelta(days=due_delta))

    assert task.is_overdue is overdue
    assert (task in Task.objects.overdue()) is overdue


def test_task_overdue_on_a_given_day(case):
    task = TaskFactory(case=case, due_on=dt.date(2025, 5, 10))

    assert list(Task.objects.overdue(today=dt.date(2025, 5, 11))) == [task]
    assert list(Task.objects.overdue(today=dt.date(2025, 5, 10))) == []


def test_task_clean_assignee_must_be_member(case, reporter, outsider):
    TaskFactory.build(case=case, assignee=reporter).clean()  # a member: fine

    with pytest.raises(ValidationError) as excinfo:
        TaskFactory.build(case=case, assignee=outsider).clean()

    assert "assignee" in errors_of(excinfo)


def test_task_ordering_puts_undated_last(case):
    undated = TaskFactory(case=case, due_on=None)
    later = TaskFactory(case=case, due_on=dt.date(2025, 6, 1))
    sooner = TaskFactory(case=case, due_on=dt.date(2025, 5, 1))

    assert list(Task.objects.all()) == [sooner, later, undated]


# ---------------------------------------------------------------------------------------------
# Per-case visibility


def _records_of(case):
    claim = ClaimFactory(case=case)
    incident = IncidentFactory(case=case)
    source = SourceFactory(case=case)
    return {
        Case: case,
        Claim: claim,
        Incident: incident,
        Source: source,
        Citation: CitationFactory(claim=claim, source=source),
        Task: TaskFactory(case=case, claim=claim),
        CommentRequest: CommentRequestFactory(case=case, incident=incident),
        Evidence: EvidenceFactory(case=case, claim=claim),
    }


@pytest.fixture
def visible_world(case, make_member):
    other_case = CaseFactory(title="Another story")
    member = make_member(Role.VIEWER, username="member")
    return member, _records_of(case), _records_of(other_case)


MODELS = [Case, Claim, Incident, Source, Citation, Task, CommentRequest, Evidence]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_visible_to_member_returns_only_member_cases_records(visible_world, model):
    member, mine, theirs = visible_world

    visible = list(model.objects.visible_to(member))

    assert visible == [mine[model]]
    assert theirs[model] not in visible


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_visible_to_outsider_returns_nothing(visible_world, outsider, model):
    assert not model.objects.visible_to(outsider).exists()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_visible_to_anonymous_and_inactive_return_nothing(visible_world, model):
    from django.contrib.auth.models import AnonymousUser

    member = visible_world[0]
    assert not model.objects.visible_to(AnonymousUser()).exists()
    member.is_active = False
    member.save()
    assert not model.objects.visible_to(member).exists()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_visible_to_superuser_is_not_implied(visible_world, model):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)

    assert not model.objects.visible_to(admin).exists()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_visible_to_member_of_both_cases_sees_both(visible_world, model):
    member, mine, theirs = visible_world
    MembershipFactory(case=theirs[Case], user=member, role=Role.VIEWER)

    assert set(model.objects.visible_to(member)) == {mine[model], theirs[model]}


def test_case_where_role_at_least(case, reporter, viewer):
    assert list(Case.objects.where_role_at_least(reporter, Role.REPORTER)) == [case]
    assert list(Case.objects.where_role_at_least(viewer, Role.REPORTER)) == []
    assert list(Case.objects.where_role_at_least(viewer, Role.VIEWER)) == [case]


# ---------------------------------------------------------------------------------------------
# Claims awaiting review


def test_claim_awaiting_review(case, reporter):
    def claim(status, proposed=""):
        return ClaimFactory(case=case, status=status, proposed_verdict=proposed,
                            proposed_by=reporter if proposed else None)

    in_review = claim(S.IN_REVIEW)
    proposed_open = claim(S.CORROBORATED, S.CONFIRMED)
    proposed_new = claim(S.UNVERIFIED, S.FALSE)
    claim(S.UNVERIFIED)
    claim(S.DISPUTED)
    claim(S.CONFIRMED)
    claim(S.FALSE, S.FALSE)  # a stale proposal on a decided claim is not work to do

    assert set(Claim.objects.awaiting_review()) == {in_review, proposed_open, proposed_new}


def test_claim_final_and_open_querysets(case):
    decided = {ClaimFactory(case=case, status=s) for s in S.finals()}
    undecided = {ClaimFactory(case=case, status=s) for s in
                 (S.UNVERIFIED, S.IN_REVIEW, S.CORROBORATED, S.DISPUTED)}

    assert set(Claim.objects.final()) == decided
    assert set(Claim.objects.open()) == undecided
