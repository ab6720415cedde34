"""What the pages measured by bench/pages.py do to stay cheap as data grows: the timeline
page by page with a few claims per incident, the claims board's columns in one query, the
claim changelist's estimated count and its filters that read no table, dates parsed once."""

import datetime as dt
import re

import pytest
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from cases import fuzzydate, workflow
from cases.admin import pagination
from cases.enums import Role
from cases.enums import VerificationStatus as S
from cases.models import Claim
from cases.views.dashboard import DASHBOARD_LIST_LIMIT
from cases.views.workspace import (
    BOARD_COLUMN_SIZE,
    TIMELINE_CLAIMS_PER_INCIDENT,
    TIMELINE_PAGE_SIZE,
)

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    IncidentFactory,
    MembershipFactory,
    SourceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def url(name, case, *args):
    return reverse(f"cases:{name}", args=[case.slug, *args])


# --- timeline -------------------------------------------------------------------------------

def test_timeline_shows_one_page_of_incidents_at_a_time(client, case, viewer):
    for day in range(1, TIMELINE_PAGE_SIZE + 6):
        IncidentFactory(case=case, title=f"Incident {day:02d}",
                        occurred=f"2025-{(day - 1) // 28 + 1:02d}-{(day - 1) % 28 + 1:02d}")
    client.force_login(viewer)

    first = client.get(url("timeline", case))
    second = client.get(url("timeline", case), {"page": 2})

    assert len(first.context["page"].object_list) == TIMELINE_PAGE_SIZE
    assert "Incident 01" in first.content.decode()
    assert f"Incident {TIMELINE_PAGE_SIZE + 1:02d}" not in first.content.decode()
    assert [i.title for i in second.context["page"].object_list] == [
        f"Incident {d:02d}" for d in range(TIMELINE_PAGE_SIZE + 1, TIMELINE_PAGE_SIZE + 6)]


def test_timeline_shows_a_few_claims_per_incident_and_counts_the_rest(client, case, viewer):
    crowded = IncidentFactory(case=case, title="Crowded", occurred="2025-05-01")
    quiet = IncidentFactory(case=case, title="Quiet", occurred="2025-05-02")
    claims = [ClaimFactory(case=case, incident=crowded, statement=f"Crowded claim {n}")
              for n in range(TIMELINE_CLAIMS_PER_INCIDENT + 3)]
    ClaimFactory(case=case, incident=quiet, statement="The only quiet claim")
    client.force_login(viewer)

    page = client.get(url("timeline", case)).content.decode()

    shown = [c for c in claims if url("claim_detail", case, c.pk) in page]
    assert shown == claims[:TIMELINE_CLAIMS_PER_INCIDENT]  # the first ones, by id
    total = TIMELINE_CLAIMS_PER_INCIDENT + 3
    assert f"{TIMELINE_CLAIMS_PER_INCIDENT} of {total} claims shown" in page
    assert "The only quiet claim" in page
    assert "1 of 1 claims shown" not in page


def test_timeline_places_an_unknown_year_by_its_claims_first_report(client, case, viewer):
    IncidentFactory(case=case, title="Later event", occurred="2025-07-01")
    desertion = IncidentFactory(case=case, title="Undated desertion", occurred="XXXX-05-09")
    # Reported only through a claim about it, not a citation of the incident itself.
    CitationFactory(claim=ClaimFactory(case=case, incident=desertion),
                    source=SourceFactory(case=case),
                    published_at=dt.datetime(2025, 5, 12, tzinfo=dt.UTC))
    client.force_login(viewer)

    page = client.get(url("timeline", case)).content.decode()

    assert page.index("Undated desertion") < page.index("Later event")


def test_timeline_query_count_is_pinned(client, case, viewer, settings,
                                        django_assert_num_queries):
    for n in range(TIMELINE_PAGE_SIZE + 5):
        incident = IncidentFactory(case=case, occurred=f"2025-05-{n % 28 + 1:02d}")
        for _ in range(n % 8):
            CitationFactory(claim=ClaimFactory(case=case, incident=incident))
    client.force_login(viewer)
    # The warm-up fills per-process caches and, as the first request after signing in, saves
    # the session; no later request of this test does (the refresh interval is raised).
    settings.SESSION_REFRESH_SECONDS = 24 * 60 * 60
    client.get(url("timeline", case))
    # session, user, case + membership, count, incidents, their claims, requests for comment,
    # on the first page and the second alike
    for page in (1, 2):
        cache.clear()  # what rendering the entries costs (served from the cache: test_fragments)
        with django_assert_num_queries(7):
            response = client.get(url("timeline", case), {"page": page})
        assert response.context["page"].number == page


# --- claims board -----------------------------------------------------------------------------

def test_claims_board_columns_come_from_one_query_with_their_totals(client, case, viewer):
    old = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for n in range(BOARD_COLUMN_SIZE + 5):
        claim = ClaimFactory(case=case, statement=f"Unverified {n:02d}")
        Claim.objects.filter(pk=claim.pk).update(updated_at=old + dt.timedelta(days=n))
    for n in range(3):
        ClaimFactory(case=case, statement=f"In review {n}", status=S.IN_REVIEW)
    client.force_login(viewer)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url("claims_board", case))

    columns = {status: (total, [c.claim.statement for c in cards])
               for status, total, cards in response.context["columns"]}
    total, unverified = columns[S.UNVERIFIED]
    assert total == BOARD_COLUMN_SIZE + 5
    # the newest first, and only as many as a column shows
    assert unverified == [f"Unverified {n:02d}" for n in range(BOARD_COLUMN_SIZE + 4, 4, -1)]
    assert columns[S.IN_REVIEW][0] == 3
    assert columns[S.CONFIRMED] == (0, [])
    claim_reads = [q for q in queries.captured_queries if 'FROM "cases_claim"' in q["sql"]]
    assert len(claim_reads) == 1


# --- admin claim changelist -------------------------------------------------------------------

@pytest.fixture
def claim_staff(case):
    user = UserFactory(username="desk", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="cases", codename__in=["view_claim", "change_claim"]))
    MembershipFactory(case=case, user=user, role=Role.EDITOR)
    return user


def test_claim_changelist_counts_exactly_while_the_table_is_small(client, case, claim_staff):
    ClaimFactory.create_batch(3, case=case)
    ClaimFactory(case=CaseFactory())  # another case's claim: neither listed nor counted
    client.force_login(claim_staff)

    response = client.get(reverse("admin:cases_claim_changelist"))

    assert response.context["cl"].result_count == 3
    assert not response.context["cl"].paginator.estimated
    assert "about 3" not in response.content.decode()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's estimates")
def test_claim_changelist_estimates_its_count_on_a_large_table(client, case, claim_staff,
                                                                monkeypatch):
    ClaimFactory.create_batch(3, case=case)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cases_claim")
    monkeypatch.setattr(pagination, "EXACT_COUNT_BELOW", 1)  # "large" from one row on
    # and no estimate so small that it is checked with a count (the test below)
    monkeypatch.setattr(pagination.EstimatedCountPaginator, "CHECK_ESTIMATES_UP_TO", 0)
    client.force_login(claim_staff)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:cases_claim_changelist"))

    cl = response.context["cl"]
    assert cl.paginator.estimated
    assert cl.result_count >= 1  # the planner's estimate, not a count
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(cl.result_list) == 3  # the rows themselves are exact
    assert f"about {cl.result_count} claim" in response.content.decode()


def test_claim_changelist_filters_read_no_claims(client, case, claim_staff):
    ClaimFactory.create_batch(3, case=case)
    CaseFactory(title="Bravo desk")
    client.force_login(claim_staff)

    with CaptureQueriesContext(connection) as queries:
        content = client.get(reverse("admin:cases_claim_changelist")).content.decode()

    assert case.title in content and "Bravo desk" not in content
    claim_reads = [q["sql"] for q in queries.captured_queries
                   if 'FROM "cases_claim"' in q["sql"]]
    # the exact count (a small table's, on PostgreSQL too) and the page of rows: no MIN/MAX
    # or DISTINCT pass of a date hierarchy, no "cases that have claims" pass of
    # RelatedOnlyFieldListFilter
    assert not [sql for sql in claim_reads if "MIN(" in sql or "DISTINCT" in sql]
    assert len(claim_reads) == 2


def test_claim_changelist_query_count_is_pinned(client, case, claim_staff, settings,
                                                django_assert_num_queries):
    ClaimFactory.create_batch(3, case=case)
    client.force_login(claim_staff)
    changelist = reverse("admin:cases_claim_changelist")
    # The warm-up fills per-process caches (content types, templates) and, as the first
    # request after signing in, saves the session; no later request of this test does
    # (however slow the machine: the refresh interval is raised).
    settings.SESSION_REFRESH_SECONDS = 24 * 60 * 60
    client.get(changelist)

    # session, user, its permissions (user, groups), its memberships, the case filter's
    # cases, the count (PostgreSQL first asks for the table's size), the page of rows
    with django_assert_num_queries(9 if connection.vendor == "postgresql" else 8):
        response = client.get(changelist)

    assert response.context["cl"].result_count == 3


def test_admin_reads_the_users_memberships_once_without_joining_or_sorting(client, case,
                                                                          claim_staff):
    client.force_login(claim_staff)

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("admin:cases_claim_changelist"))

    # Membership's default order joined the case and the user and sorted, for a dict.
    memberships = [q["sql"] for q in queries.captured_queries
                   if q["sql"].startswith('SELECT "cases_membership"."case_id"')]
    assert len(memberships) == 1
    assert "JOIN" not in memberships[0] and "ORDER BY" not in memberships[0]


def test_claim_changelist_of_a_member_of_many_cases_reads_no_case_list(client, case,
                                                                      claim_staff,
                                                                      monkeypatch):
    monkeypatch.setattr(pagination.VisibleCaseListFilter, "MAX_CHOICES", 2)
    for other_case in CaseFactory.create_batch(2):
        MembershipFactory(case=other_case, user=claim_staff, role=Role.EDITOR)
    ClaimFactory(case=case)
    client.force_login(claim_staff)

    with CaptureQueriesContext(connection) as queries:
        content = client.get(reverse("admin:cases_claim_changelist")).content.decode()

    # Three cases, two at most in the list: the memberships, read for the permission checks
    # anyway, tell so without a query of the cases.
    assert not [q for q in queries.captured_queries if 'FROM "cases_case"' in q["sql"]]
    assert 'data-filter-title="case"' not in content
    assert case.title in content  # in the claim's row


def test_claim_changelist_rows_are_djangos_markup_without_a_widget_or_reverse_per_row(
        client, case, claim_staff):
    claim = ClaimFactory(case=case, statement='Ten <b>"conscripts"</b> & two officers fled')
    client.force_login(claim_staff)

    response = client.get(reverse("admin:cases_claim_changelist")
                          + "?status__exact=unverified")

    # The checkbox and the row's link are written without Django's per-row machinery
    # (cases/admin/changelist.py): the same markup, the same URL.
    cl = response.context["cl"]
    claim_admin = cl.model_admin
    checkbox = claim_admin.action_checkbox(claim)
    assert checkbox == admin.ModelAdmin.action_checkbox(claim_admin, claim)
    assert cl.url_for_result(claim) == ChangeList.url_for_result(cl, claim)
    content = response.content.decode()
    assert checkbox in content
    assert (f'<a href="/admin/cases/claim/{claim.pk}/change/'
            f'?_changelist_filters=status__exact%3Dunverified">{escape(str(claim))}</a>'
            in content)


def test_estimates_are_checked_up_to_what_the_claim_changelist_lists_at_once():
    # Django lists every row, without a LIMIT, when the count fits on one page or under
    # "Show all": no estimate that small may go unchecked.
    claim_admin = admin.site.get_model_admin(Claim)
    checked_up_to = pagination.EstimatedCountPaginator.CHECK_ESTIMATES_UP_TO
    assert claim_admin.list_per_page <= checked_up_to
    assert claim_admin.list_max_show_all <= checked_up_to


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's estimates")
def test_claim_changelist_checks_a_small_estimate_with_a_count_that_stops_early(
        client, case, claim_staff, monkeypatch):
    ClaimFactory.create_batch(5, case=case, statement="A military court sentenced a deserter.")
    ClaimFactory(case=case, statement="Two soldiers were detained.")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cases_claim")
    monkeypatch.setattr(pagination, "EXACT_COUNT_BELOW", 1)  # "large" from one row on
    # The same proportions as the real ones (50 a page, 200 for "Show all", 200 checked).
    monkeypatch.setattr(pagination.EstimatedCountPaginator, "CHECK_ESTIMATES_UP_TO", 3)
    claim_admin = admin.site.get_model_admin(Claim)
    monkeypatch.setattr(claim_admin, "list_per_page", 2)
    monkeypatch.setattr(claim_admin, "list_max_show_all", 3)
    changelist = reverse("admin:cases_claim_changelist")
    client.force_login(claim_staff)

    response = client.get(changelist + "?q=military+court")

    cl = response.context["cl"]
    # The planner guesses a row or so for LIKE patterns, however many rows match: once,
    # at a million claims, Django then listed 118,605 of them on one page (96 MB, 39 s).
    assert pagination.query_row_estimate(cl.queryset) <= 3
    assert cl.paginator.lower_bound and cl.result_count == 4
    assert len(cl.result_list) == 2
    assert "at least 4 claims" in response.content.decode()
    shown_all = client.get(changelist + "?q=military+court&all=").context["cl"]
    assert len(shown_all.result_list) == 2  # not for a count known only from below

    response = client.get(changelist + "?q=detained")

    cl = response.context["cl"]
    assert cl.result_count == 1 and len(cl.result_list) == 1
    assert not cl.paginator.estimated and not cl.paginator.lower_bound
    assert "about 1 claim" not in response.content.decode()


@pytest.mark.parametrize("model", ["claim", "citation", "verificationevent"])
def test_large_table_changelists_read_no_table_for_their_filters(client, case, model):
    staff = UserFactory(username="records", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="cases", codename=f"view_{model}"))
    MembershipFactory(case=case, user=staff, role=Role.EDITOR)
    claim = ClaimFactory(case=case, statement="Ten men deserted.")
    CitationFactory(claim=claim, source=SourceFactory(case=case))
    workflow.transition(claim, S.IN_REVIEW, actor=staff)
    MembershipFactory(case=CaseFactory(title="Alpha desk"), user=staff, role=Role.VIEWER)
    CaseFactory(title="Bravo desk")  # not the user's: never offered
    client.force_login(staff)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(f"admin:cases_{model}_changelist"))

    content = response.content.decode()
    assert response.context["cl"].result_count == 1
    assert "Alpha desk" in content and "Bravo desk" not in content  # the case filter
    assert "_facets" not in content  # no "Show counts": a count per choice of every row
    table = f'FROM "cases_{model}"'
    reads = [q["sql"] for q in queries.captured_queries if table in q["sql"]]
    # no date hierarchy (MIN/MAX, DISTINCT years) and no "cases that have rows" pass
    assert not [sql for sql in reads if "MIN(" in sql or "DISTINCT" in sql]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_a_cases_claims_newest_first_can_use_their_index(case):
    """The back office's claim list filtered by case walks (case, id) backwards."""
    queryset = Claim.objects.filter(case=case).order_by("-pk")[:50]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        plan = queryset.explain()
    assert "claim_case_newest" in plan


# --- dates ------------------------------------------------------------------------------------

def test_fuzzy_date_is_parsed_once_per_distinct_value():
    fuzzydate._parse_normalized.cache_clear()

    first = fuzzydate.parse("2025-05-08/2025-05-09")  # a range: the EDTF parser's work
    again = fuzzydate.parse("2025-05-08/2025-05-09")

    assert first is again and first.describe() == "8–9 May 2025"
    assert fuzzydate._parse_normalized.cache_info().hits == 1


def test_fuzzy_date_refusal_is_not_cached():
    for _ in range(2):
        with pytest.raises(ValidationError):
            fuzzydate.parse("2025-02-30")


# --- dashboard --------------------------------------------------------------------------------

def test_dashboard_lists_twenty_cases_newest_first_and_counts_the_rest(client, editor):
    cases = CaseFactory.create_batch(DASHBOARD_LIST_LIMIT + 4)
    for case_ in cases:
        MembershipFactory(case=case_, user=editor, role=Role.VIEWER)
    newest = cases[7]
    newest.summary = "Touched last"
    newest.save()  # updated_at moves
    client.force_login(editor)

    response = client.get(reverse("cases:dashboard"))

    shown = [m.case for m in response.context["memberships"]]
    assert len(shown) == DASHBOARD_LIST_LIMIT
    assert shown[0] == newest
    # the editor's own `case` fixture membership counts too: 24 + 1 cases, 20 shown
    assert "5 more…" in response.content.decode()


def test_dashboard_reads_the_users_cases_as_a_subquery_not_a_list(client, editor):
    for case_ in CaseFactory.create_batch(30):
        MembershipFactory(case=case_, user=editor, role=Role.EDITOR)
    client.force_login(editor)

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("cases:dashboard"))

    # An editor of a thousand cases once sent a thousand ids in each of ten queries and built
    # three thousand model instances to show twenty (bench/README.md).
    membership_rows = [q["sql"] for q in queries.captured_queries
                       if q["sql"].startswith('SELECT "cases_membership"."id"')]
    assert len(membership_rows) == 1 and f"LIMIT {DASHBOARD_LIST_LIMIT}" in membership_rows[0]
    assert not [q["sql"] for q in queries.captured_queries
                if re.search(r"IN \((\d+, ){29}\d+\)", q["sql"])]


def test_awaiting_verdict_is_oldest_first_across_the_editors_cases_only(client, case, editor):
    other_case, other_editor = CaseFactory(), UserFactory()
    MembershipFactory(case=other_case, user=other_editor, role=Role.EDITOR)
    mine, theirs = ClaimFactory(case=case), ClaimFactory(case=other_case)
    later = ClaimFactory(case=case)
    for claim in (mine, later):
        workflow.transition(claim, S.IN_REVIEW, actor=editor)
    workflow.transition(theirs, S.IN_REVIEW, actor=other_editor)
    Claim.objects.filter(pk=later.pk).update(updated_at=mine.updated_at + dt.timedelta(hours=1))
    client.force_login(editor)

    listed = list(client.get(reverse("cases:dashboard")).context["awaiting_verdict"])

    assert listed == [mine, later]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_awaiting_review_matches_its_partial_indexes(case):
    """awaiting_review() must repeat the indexes' condition for PostgreSQL to use them: with
    sequential scans and sorts priced out, the plan shows which index the query can use."""
    queryset = (Claim.objects.filter(case=case).awaiting_review()
                .order_by("updated_at")[:DASHBOARD_LIST_LIMIT])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        plan = queryset.explain()
    assert "claim_awaiting_by_case_date" in plan or "claim_awaiting_by_date" in plan
