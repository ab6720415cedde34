"""The newsroom pages so far: sign-in, dashboard, case list, new case, case overview."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from cases import workflow
from cases.enums import CaseStatus, FigureQualifier, Role, Sensitivity
from cases.enums import VerificationStatus as S
from cases.models import Case, Membership

from .factories import (
    PASSWORD,
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    IncidentFactory,
    MembershipFactory,
    SourceFactory,
    TaskFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_pages_without_sign_in_redirect_to_sign_in(client, case):
    for url in (reverse("cases:dashboard"), reverse("cases:case_list"),
                reverse("cases:case_overview", args=[case.slug])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login") + "?next=")


def test_sign_in_with_the_right_password_opens_the_dashboard(client, reporter):
    response = client.post(reverse("account_login"), {"login": "reporter", "password": PASSWORD},
                           follow=True)
    assert response.context["user"] == reporter
    assert b"My cases" in response.content


def test_sign_in_with_a_wrong_password_is_refused_with_a_message(client, reporter):
    response = client.post(reverse("account_login"), {"login": "reporter", "password": "nope"})
    assert not response.context["user"].is_authenticated
    assert "username and/or password you specified are not correct" in response.content.decode()


def test_sign_out_ends_the_session(client, reporter):
    client.force_login(reporter)
    client.post(reverse("account_logout"))
    response = client.get(reverse("cases:dashboard"))
    assert response.status_code == 302


def test_dashboard_shows_my_cases_tasks_overdue_replies_and_verdicts(client, case, editor,
                                                                     reporter):
    other_case = CaseFactory(title="Somebody else's story")
    claim = ClaimFactory(case=case, statement="Ten men deserted.", created_by=reporter)
    SourceFactory(case=case)
    workflow.propose(claim, S.CONFIRMED, actor=reporter, note="Two outlets say so.")
    TaskFactory(case=case, title="Archive the original", assignee=editor,
                due_on=timezone.localdate() - dt.timedelta(days=2))
    TaskFactory(case=other_case, title="Hidden task", assignee=editor)
    CommentRequestFactory(case=case, party_name="Defence Ministry",
                          asked_at=timezone.now() - dt.timedelta(days=10),
                          deadline=timezone.now() - dt.timedelta(days=3))
    client.force_login(editor)
    page = client.get(reverse("cases:dashboard")).content.decode()
    assert case.title in page and other_case.title not in page
    assert "Ten men deserted." in page and "proposes" in page
    assert "Archive the original" in page and "overdue since" in page
    assert "Hidden task" not in page
    assert "Defence Ministry" in page
    assert "proposed confirmed" in page  # the activity feed


def test_dashboard_hides_the_verdict_queue_from_reporters(client, case, reporter):
    client.force_login(reporter)
    page = client.get(reverse("cases:dashboard")).content.decode()
    assert "Waiting for a verdict" not in page


def test_dashboard_query_count_does_not_grow_with_data(client, case, editor,
                                                       django_assert_max_num_queries):
    def populate(n):
        for _i in range(n):
            c = CaseFactory()
            MembershipFactory(case=c, user=editor, role=Role.EDITOR)
            claim = ClaimFactory(case=c)
            workflow.propose(claim, S.FALSE, actor=editor, note="Wrong.")
            TaskFactory(case=c, assignee=editor)
            CommentRequestFactory(case=c, deadline=timezone.now() - dt.timedelta(days=1),
                                  asked_at=timezone.now() - dt.timedelta(days=2))
            IncidentFactory(case=c)
            SourceFactory(case=c)

    client.force_login(editor)
    populate(1)
    with django_assert_max_num_queries(20) as baseline:
        client.get(reverse("cases:dashboard"))
    populate(199)  # 1 and 200 records cost the same
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        response = client.get(reverse("cases:dashboard"))
    assert response.content.decode().count("Wrong.") == 0  # notes are not on the dashboard


def test_case_list_shows_only_my_cases_with_my_role(client, case, viewer):
    CaseFactory(title="Secret investigation")
    client.force_login(viewer)
    page = client.get(reverse("cases:case_list")).content.decode()
    assert case.title in page
    assert "Secret investigation" not in page
    assert "Viewer" in page


def test_case_list_filters_by_status_role_sensitivity_and_text(client, editor, case):
    closed = CaseFactory(title="Closed story", status=CaseStatus.CLOSED,
                         sensitivity=Sensitivity.RESTRICTED)
    MembershipFactory(case=closed, user=editor, role=Role.VIEWER)
    client.force_login(editor)

    def titles(**params):
        response = client.get(reverse("cases:case_list"), params)
        return {c.title for c in response.context["page"].object_list}

    assert titles() == {case.title, "Closed story"}
    assert titles(status="closed") == {"Closed story"}
    assert titles(role="editor") == {case.title}
    assert titles(sensitivity="restricted") == {"Closed story"}
    assert titles(q="rostov") == {case.title}


def test_case_list_query_count_does_not_grow_with_cases(client, editor,
                                                        django_assert_max_num_queries):
    client.force_login(editor)
    MembershipFactory(user=editor, role=Role.EDITOR)
    with django_assert_max_num_queries(20) as baseline:
        client.get(reverse("cases:case_list"))
    for _ in range(199):
        MembershipFactory(user=editor, role=Role.REPORTER)
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        client.get(reverse("cases:case_list"))


def test_case_create_makes_the_creator_its_editor(client, desk_editor):
    client.force_login(desk_editor)
    response = client.post(reverse("cases:case_create"), {
        "title": "  Border   arrests ", "summary": "Two men arrested.",
        "status": "active", "sensitivity": "sensitive", "lead": desk_editor.pk,
    })
    case = Case.objects.get()
    assert response["Location"] == reverse("cases:case_overview", args=[case.slug])
    assert case.title == "Border arrests"
    assert re.fullmatch(r"border-arrests-[a-z2-9]{5}", case.slug)
    assert (case.created_by, case.lead) == (desk_editor, desk_editor)
    membership = Membership.objects.get(case=case)
    assert (membership.user, membership.role, membership.added_by) == (desk_editor, "editor",
                                                                       desk_editor)
    assert case.history.get().history_user == desk_editor
    assert membership.history.get().history_user == desk_editor


def test_case_create_with_bad_input_shows_errors_and_writes_nothing(client, desk_editor, case):
    client.force_login(desk_editor)
    response = client.post(reverse("cases:case_create"), {
        "title": "", "status": "bogus", "sensitivity": "normal",
    })
    assert response.status_code == 400  # as the record forms answer invalid input
    form = response.context["form"]
    assert {name: [e.code for e in errors] for name, errors in form.errors.as_data().items()} == {
        "title": ["required"], "status": ["invalid_choice"]}
    assert "This field is required." in response.content.decode()
    assert Case.objects.count() == 1
    assert not Membership.objects.filter(user=desk_editor).exists()


def test_case_overview_is_404_for_an_outsider(client, case, outsider):
    client.force_login(outsider)
    assert client.get(reverse("cases:case_overview", args=[case.slug])).status_code == 404


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REPORTER, Role.EDITOR])
def test_case_overview_shows_members_figures_and_counts(client, case, make_member, role):
    user = make_member(role)
    source = SourceFactory(case=case, name="IStories")
    for value, published in ((Decimal("40000"), 10), (Decimal("49000"), 2)):
        claim = ClaimFactory(case=case, figure_value=value, figure_unit="arrest warrants",
                             figure_qualifier=FigureQualifier.AT_LEAST)
        CitationFactory(claim=claim, source=source,
                        published_at=timezone.now() - dt.timedelta(days=published))
    for title, counts in (("Desertion", {"involved": 10}), ("First catch", {"detained": 6}),
                          ("Manhunt", {"at_large": 4})):
        IncidentFactory(case=case, title=title, count_group="Rostov desertion", **counts)
    IncidentFactory(case=case, title="Elsewhere", involved=1, detained=1)  # not added up
    client.force_login(user)
    page = " ".join(client.get(reverse("cases:case_overview", args=[case.slug]))
                    .content.decode().split())
    # the current value (the latest of two consistent reports) and why; the series is on the
    # Figures tab
    assert "at least 49,000 arrest warrants" in page
    assert "at least 40,000 arrest warrants" not in page
    assert "reported" in page and "by IStories (F)" in page and "2 reports" in page
    assert ("<strong>Rostov desertion</strong> <span class=\"small text-body-secondary\">(3 "
            "incidents)</span>: 10 involved · 6 detained · 4 at large") in page
    assert "<strong>Elsewhere</strong>: 1 involved · 1 detained" in page
    assert page.count("adds up") == 2
    assert user.username in page
    assert f"You are {role.label.lower()}" in page


def test_case_overview_query_count_does_not_grow(client, case, editor,
                                                 django_assert_max_num_queries):
    client.force_login(editor)

    def populate(n):
        for _ in range(n):
            claim = ClaimFactory(case=case, figure_value=3, figure_unit=f"unit {_}")
            CitationFactory(claim=claim)
            IncidentFactory(case=case, involved=3, detained=1)
            MembershipFactory(case=case, user=UserFactory())

    populate(1)
    with django_assert_max_num_queries(30) as baseline:
        client.get(reverse("cases:case_overview", args=[case.slug]))
    populate(199)
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        client.get(reverse("cases:case_overview", args=[case.slug]))
