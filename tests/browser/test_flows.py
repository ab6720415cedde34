"""The main flows of the workspace, in a real browser (Chromium driven by Playwright against
pytest-django's live server): what each user sees, and what the database holds afterwards.

Every test builds its own case and people with the factories and signs in through the real
login page (conftest.open_page). Each runs in English and in Russian ([en], [ru]): buttons,
labels and messages are found by their words in the test's language (`t`, tests/browser/
language.py), and what a page states is checked in that language. Playwright's locators wait
for what they look for, so no test sleeps. `browser` (below) also fails a test on whatever
went wrong on the way: a server error, a stylesheet or script that did not load, a script
error, a Content-Security-Policy violation.
"""

import re

import pytest
from playwright.sync_api import expect

from cases import workflow
from cases.enums import CitationRelation, VerificationEventKind, VerificationStatus
from cases.models import Citation, Claim, Incident, Source, VerificationEvent

from ..factories import (
    PASSWORD,
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    IncidentFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


CSP_WATCH = """
    document.addEventListener("securitypolicyviolation", (event) => {
        window.reportCspViolation(
            `${event.effectiveDirective} blocked ${event.blockedURI || "inline"}: ${event.sample}`);
    });
"""


def watch(page, username, problems):
    """Record on `problems` what goes wrong in the browser from now on: a server error on a
    page, a failed request for a stylesheet, script or image, a Content-Security-Policy
    violation, a script error, an error on the console."""

    def on_response(response):
        document = response.request.resource_type == "document"
        # A refused form comes back as 400 or 409 on purpose; anything else must load.
        if response.status >= 500 or (response.status >= 400 and not document):
            problems.append(f"{username}: HTTP {response.status} on "
                            f"{response.request.method} {response.url}")

    def on_console(message):
        # Failed loads are judged by on_response, which knows what was requested.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"{username}: console error: {message.text}")

    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"{username}: script error: {exc}"))
    page.expose_function("reportCspViolation",
                         lambda text: problems.append(f"{username}: CSP violation: {text}"))
    page.add_init_script(CSP_WATCH)


@pytest.fixture
def browser(open_page):
    """browser(username) -> a signed-in Page (its own browser context). The test fails at
    the end if any page it went through had a server error or a browser-side error."""
    problems = []

    def sign_in(username):
        page = open_page(username, PASSWORD)
        watch(page, username, problems)
        return page

    yield sign_in
    assert not problems, "\n".join(problems)


def claim_path(case, claim):
    return f"/cases/{case.slug}/claims/{claim.pk}/"


def transition_form(page, t):
    return page.locator("form", has=page.get_by_role("button", name=t("Change status")))


def propose_form(page, t):
    return page.locator("form", has=page.get_by_role("button", name=t("Propose"), exact=True))


def citation_card(page, index):
    return page.locator("section[aria-labelledby=citations-heading] .card").nth(index)


def success_message(page):
    return page.locator(".messages .alert-success")


# --- 1. A reporter records an incident, two sources and a claim, and proposes a verdict -----

def add_source_through_the_form(page, t, name, url):
    page.get_by_role("link", name=t("Sources"), exact=True).click()
    page.get_by_role("link", name=t("New source")).click()
    expect(page.get_by_role("heading", name=t("New source"))).to_be_visible()
    page.get_by_label(t.label("name or codename")).fill(name)
    page.get_by_label(t.label("kind")).select_option(
        label=t("News outlet", "source kind"))
    page.get_by_label(t.label("address")).fill(url)
    page.get_by_label(t.label("language"), exact=True).fill("ru")
    page.get_by_role("button", name=t("Add"), exact=True).click()
    expect(success_message(page)).to_contain_text(t("Source “%(name)s” added.", name=name))
    expect(page.get_by_role("cell", name=name)).to_be_visible()


# An incident of 9 May, year unknown: the date in words, as each language writes it.
MAY_9 = {"en": "9 May, year unknown", "ru": "9 мая, год неизвестен"}


def test_reporter_adds_incident_sources_and_claim_and_proposes_a_verdict(
        browser, case, reporter, t):
    page = browser("reporter")
    may_9 = t.pick(**MAY_9)

    # Open the case from the case list.
    page.get_by_role("navigation", name=t("Main")).get_by_role("link", name=t("Cases")).click()
    page.get_by_role("link", name=case.title).click()
    expect(page.get_by_role("heading", level=1, name=case.title)).to_be_visible()

    # The incident, with a day and month of an unknown year.
    page.get_by_role("link", name=t("Timeline"), exact=True).click()
    page.get_by_role("link", name=t("New incident")).click()
    page.get_by_label(t.label("title")).fill("Ten conscripts desert the training ground")
    page.get_by_label(t("When")).fill("XXXX-05-09")
    page.get_by_label(t.label("place")).fill("Kadamovsky training ground")
    page.get_by_label(t.label("region")).fill("Rostov Oblast")
    page.get_by_label(t.label("country")).select_option("RU")
    page.get_by_label(t.label("people involved"), exact=True).fill("10")
    page.get_by_label(t.label("detained"), exact=True).fill("6")
    page.get_by_label(t.label("at large"), exact=True).fill("4")
    page.get_by_role("button", name=t("Add to the timeline")).click()

    expect(success_message(page)).to_contain_text(t(
        "Incident “%(name)s” added to the timeline.",
        name="Ten conscripts desert the training ground"))
    entry = page.locator("li.card", has_text="Ten conscripts desert the training ground")
    expect(entry.locator(".timeline-date")).to_have_text(may_9)
    expect(entry).to_contain_text(t.pick(
        en="Kadamovsky training ground, Rostov Oblast, Russia",
        ru="Kadamovsky training ground, Rostov Oblast, Россия"))
    expect(entry).to_contain_text(re.compile(r"\s+·\s+".join(re.escape(part) for part in (
        t("%(involved)s involved", involved=10), t("%(detained)s detained", detained=6),
        t("%(at_large)s at large", at_large=4)))))
    expect(entry).to_contain_text(t("adds up"))

    # Two independent outlets, through the "New source" form.
    add_source_through_the_form(page, t, "161.ru", "https://161.ru/")
    add_source_through_the_form(page, t, "Meduza", "https://meduza.io/")

    # The claim, about the incident, cited by both outlets.
    page.get_by_role("link", name=t("Claims"), exact=True).click()
    page.get_by_role("link", name=t("New claim")).click()
    page.get_by_label(t.label("statement")).fill("Ten conscripts deserted from the Kadamovsky "
                                           "training ground.")
    page.get_by_label(t.label("incident"), exact=True).select_option(
        label=f"Ten conscripts desert the training ground ({may_9})")
    page.get_by_label(t.label("figure")).fill("10")
    page.get_by_label(t.label("counted")).fill("deserters")
    first, second = citation_card(page, 0), citation_card(page, 1)
    first.get_by_label(t.label("source")).select_option(label="161.ru")
    first.get_by_label(t.label("relation")).select_option(
        label=t("Reports", "citation relation"))
    first.get_by_label(t.label("quote")).fill("Ten conscripts left the unit on 9 May.")
    second.get_by_label(t.label("source")).select_option(label="Meduza")
    second.get_by_label(t.label("relation")).select_option(
        label=t("Confirms", "citation relation"))
    second.get_by_label(t.label("quote")).fill("Relatives confirmed that ten men had fled.")
    page.get_by_role("button", name=t("Add"), exact=True).click()

    expect(success_message(page)).to_contain_text(t("Claim added."))
    citations = page.locator("section[aria-labelledby=citations] li[id^=citation-]")
    expect(citations).to_have_count(2)
    expect(citations.nth(0)).to_contain_text(t.pick(en="161.ru reports",
                                                    ru="161.ru сообщает"))
    expect(citations.nth(0)).to_contain_text("Ten conscripts left the unit on 9 May.")
    expect(citations.nth(1)).to_contain_text(t.pick(en="Meduza confirms",
                                                    ru="Meduza подтверждает"))
    expect(page.locator("#citations")).to_contain_text(t.pick(
        en="2 independent origins", ru="2 независимых первоисточника"))
    expect(page.locator("article .status-badge")).to_have_text(
        t("Unverified", "verification status"))

    # Propose it as confirmed. (The note is found by its name, not its label: see
    # test_every_field_of_the_claim_page_has_its_own_label.)
    proposal = propose_form(page, t)
    proposal.get_by_label(t("Proposed verdict")).select_option(
        label=t("Confirmed", "verification status"))
    proposal.get_by_label(t("Note")).fill("161.ru and Meduza report it independently.")
    proposal.get_by_role("button", name=t("Propose"), exact=True).click()

    expect(success_message(page)).to_contain_text(
        t("Your proposed verdict is recorded for the editors."))
    expect(page.locator("article .alert-info")).to_have_text(re.compile(t.pick(
        en=r"reporter proposes confirmed", ru=r"reporter предлагает вердикт: подтверждено")))
    expect(page.locator("section[aria-labelledby=history] li")).to_contain_text(
        re.compile(t.pick(en=r"reporter\s+proposed\s+confirmed",
                          ru=r"reporter\s+предложил\(а\) вердикт:\s+подтверждено")
                   + r"\s+161\.ru and Meduza report it independently\."))
    expect(page.locator("article .status-badge")).to_have_text(
        t("Unverified", "verification status"))

    # The timeline shows the claim under its incident, with the fuzzy date in words.
    page.get_by_role("link", name=t("Timeline"), exact=True).click()
    entry = page.locator("li.card", has_text="Ten conscripts desert the training ground")
    expect(entry.locator(".timeline-date")).to_have_text(may_9)
    expect(entry.get_by_role("link", name="Ten conscripts deserted from the Kadamovsky "
                                           "training ground.")).to_be_visible()
    expect(entry).to_contain_text(t.pick(en="2 citations", ru="2 ссылки"))

    # The database.
    incident = Incident.objects.get(case=case)
    assert (incident.title, incident.occurred, incident.place_name, incident.admin_region,
            incident.country.code) == ("Ten conscripts desert the training ground",
                                       "XXXX-05-09", "Kadamovsky training ground",
                                       "Rostov Oblast", "RU")
    assert (incident.involved, incident.detained, incident.killed, incident.missing,
            incident.at_large) == (10, 6, None, None, 4)
    assert incident.created_by == reporter
    assert set(Source.objects.filter(case=case).values_list("name", "created_by__username")) \
        == {("161.ru", "reporter"), ("Meduza", "reporter")}
    claim = Claim.objects.get(case=case)
    assert claim.incident == incident
    assert claim.created_by == reporter
    assert claim.figure_value == 10 and claim.figure_unit == "deserters"
    assert claim.status == VerificationStatus.UNVERIFIED
    assert (claim.proposed_verdict, claim.proposed_by) == (VerificationStatus.CONFIRMED,
                                                           reporter)
    citations = list(Citation.objects.filter(claim=claim).select_related("source")
                     .order_by("source__name"))
    assert [(c.source.name, c.relation, c.created_by) for c in citations] == [
        ("161.ru", CitationRelation.REPORTS, reporter),
        ("Meduza", CitationRelation.CONFIRMS, reporter),
    ]
    event = VerificationEvent.objects.get(claim=claim)
    assert (event.kind, event.proposed_verdict, event.actor, event.note) == (
        VerificationEventKind.PROPOSAL, VerificationStatus.CONFIRMED, reporter,
        "161.ru and Meduza report it independently.")
    assert event.from_status == event.to_status == VerificationStatus.UNVERIFIED


# --- 2. An editor confirms it -----------------------------------------------------------------

def claim_with_two_independent_sources(case, reporter, *, propose=True):
    incident = IncidentFactory(case=case, title="Ten conscripts desert the training ground",
                               occurred="XXXX-05-09", created_by=reporter)
    claim = ClaimFactory(case=case, incident=incident, created_by=reporter,
                         statement="Ten conscripts deserted from the Kadamovsky training "
                                   "ground.")
    CitationFactory(claim=claim, source=SourceFactory(case=case, name="161.ru"),
                    created_by=reporter)
    CitationFactory(claim=claim, source=SourceFactory(case=case, name="Meduza"),
                    relation=CitationRelation.CONFIRMS, created_by=reporter)
    if propose:
        workflow.propose(claim, VerificationStatus.CONFIRMED, actor=reporter,
                         note="161.ru and Meduza report it independently.")
    return claim


# The statuses in running text, as each language writes them.
CONFIRMED = {"en": "confirmed", "ru": "подтверждено"}
UNVERIFIED = {"en": "unverified", "ru": "не проверено"}


def test_editor_confirms_a_proposed_claim(browser, case, reporter, editor, t):
    claim = claim_with_two_independent_sources(case, reporter)
    page = browser("editor")
    proposes = t.pick(en="reporter proposes confirmed",
                      ru="reporter предлагает вердикт: подтверждено")

    # The review queue leads to the claim.
    page.get_by_role("link", name=t("Review queue")).click()
    queued = page.locator("li", has_text=claim.statement)
    expect(queued).to_contain_text(proposes)
    queued.get_by_role("link", name=claim.statement).click()
    expect(page).to_have_url(re.compile(re.escape(claim_path(case, claim)) + "$"))
    expect(page.locator("article .alert-info")).to_have_text(re.compile(re.escape(proposes)))

    move = transition_form(page, t)
    move.get_by_label(t("New status")).select_option(
        label=t("Verdict: %(status)s", status=t.pick(**CONFIRMED)))
    move.get_by_label(t("Note")).fill("Two independent outlets; relatives reached by Meduza "
                                      "confirm the names.")
    move.get_by_role("button", name=t("Change status")).click()

    expect(success_message(page)).to_contain_text(
        t("The claim is now %(status)s.", status=t.pick(**CONFIRMED)))
    expect(page.locator("article .status-badge")).to_have_text(
        t("Confirmed", "verification status"))
    expect(page.locator("article .alert-info")).to_have_count(0)  # the proposal is settled
    history = page.locator("section[aria-labelledby=history] li")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text(re.compile(
        rf"editor\s+{t.pick(**UNVERIFIED)} → {t.pick(**CONFIRMED)}\s+Two independent outlets; "
        r"relatives reached by Meduza confirm the names\."))
    expect(history.nth(1)).to_contain_text(re.compile(t.pick(
        en=r"reporter\s+proposed\s+confirmed",
        ru=r"reporter\s+предложил\(а\) вердикт:\s+подтверждено")))
    # A verdict closes the claim: reopening is the one move left, and no more proposals.
    expect(move.get_by_label(t("New status")).locator("option")).to_have_text(
        [t("Reopen for review")])
    expect(propose_form(page, t)).to_have_count(0)

    claim.refresh_from_db()
    assert claim.status == VerificationStatus.CONFIRMED
    assert (claim.proposed_verdict, claim.proposed_by) == ("", None)
    event = VerificationEvent.objects.filter(claim=claim).latest()
    assert (event.kind, event.from_status, event.to_status, event.actor) == (
        VerificationEventKind.TRANSITION, VerificationStatus.UNVERIFIED,
        VerificationStatus.CONFIRMED, editor)
    assert event.note == ("Two independent outlets; relatives reached by Meduza confirm the "
                          "names.")
    assert event.override_reason == ""


# --- 3. A viewer reads, and is offered nothing to change --------------------------------------

def test_viewer_sees_the_verdict_and_no_edit_controls(browser, case, reporter, editor, viewer,
                                                      t):
    claim = claim_with_two_independent_sources(case, reporter)
    workflow.transition(claim, VerificationStatus.CONFIRMED, actor=editor,
                        note="Two independent outlets.")
    CommentRequestFactory(case=case, incident=claim.incident, created_by=reporter)
    page = browser("viewer")

    # "New source", "Edit claim and citations"...: any link that starts with New or says Edit.
    edit_control = re.compile(t.pick(en=r"^\s*New\b", ru=r"^\s*Нов(ый|ая|ое)\b")
                              + rf"|\b{re.escape(t('Edit'))}\b")

    def assert_read_only(where):
        expect(page.get_by_role("link", name=edit_control),
               f"no New/Edit link on the {where}").to_have_count(0)
        expect(page.locator("a[href*='/new/'], a[href*='/edit/']"),
               f"no link to a form on the {where}").to_have_count(0)
        # The one form a viewer gets is "Sign out".
        expect(page.locator("main form"), f"no form on the {where}").to_have_count(0)

    page.goto(claim_path(case, claim))
    expect(page.locator("article .status-badge")).to_have_text(
        t("Confirmed", "verification status"))
    expect(page.get_by_text(t("You are %(role)s", role=t("Viewer", "role").lower()))
           ).to_be_visible()
    expect(page.get_by_text(t("You can read this claim; changing it needs a reporter's or "
                              "editor's role."))).to_be_visible()
    expect(page.locator("section[aria-labelledby=citations] li[id^=citation-]")).to_have_count(2)
    expect(page.get_by_role("button", name=t("Change status"))).to_have_count(0)
    expect(page.get_by_role("button", name=t("Propose"))).to_have_count(0)
    expect(page.get_by_role("heading", name=t("Propose a verdict"))).to_have_count(0)
    assert_read_only("claim page")

    page.get_by_role("link", name=t("Timeline"), exact=True).click()
    entry = page.locator("li.card", has_text="Ten conscripts desert the training ground")
    expect(entry.locator(".timeline-date")).to_have_text(t.pick(**MAY_9))
    expect(entry.locator(".status-badge")).to_have_text(t("Confirmed", "verification status"))
    expect(page.get_by_text(t("Right of reply"))).to_be_visible()
    assert_read_only("timeline")

    page.get_by_role("link", name=t("Claims"), exact=True).click()
    column = page.locator("section[aria-labelledby=col-confirmed]")
    expect(column.get_by_role("link", name=claim.statement)).to_be_visible()
    assert_read_only("claims board")

    page.get_by_role("link", name=t("Sources"), exact=True).click()
    expect(page.get_by_role("cell", name="161.ru")).to_be_visible()
    # Each source's history, and nothing to edit it with.
    expect(page.get_by_role("link", name=t("History"), exact=True).first).to_be_visible()
    assert_read_only("sources page")

    page.get_by_role("link", name=t("Overview"), exact=True).click()
    assert_read_only("case overview")

    assert Claim.objects.get(pk=claim.pk).status == VerificationStatus.CONFIRMED


# --- 4. Two editors edit one incident at once: no lost update ---------------------------------

def test_second_save_of_an_incident_edited_meanwhile_is_refused_and_input_kept(
        browser, case, reporter, editor, second_editor, t):
    incident = IncidentFactory(case=case, title="Desertion at the training ground",
                               place_name="Training ground", created_by=reporter)
    page_a, page_b = browser("editor"), browser("second_editor")
    for page in (page_a, page_b):
        page.goto(f"/cases/{case.slug}/timeline/")
        page.locator("li.card", has_text=incident.title).get_by_role(
            "link", name=t("Edit"), exact=True).click()
        expect(page.get_by_role("heading", name=t("Edit incident"))).to_be_visible()

    # B saves first.
    page_b.get_by_label(t.label("title")).fill(
        "Ten conscripts desert the Kadamovsky training ground")
    page_b.get_by_role("button", name=t("Save changes")).click()
    expect(success_message(page_b)).to_contain_text(t(
        "Incident “%(name)s” saved.", name="Ten conscripts desert the Kadamovsky training ground"))

    # A, on the page opened before B's save, changes the title and the place.
    page_a.get_by_label(t.label("title")).fill("Twelve conscripts desert the training ground")
    page_a.get_by_label(t.label("place")).fill("Kadamovsky range")
    page_a.get_by_role("button", name=t("Save changes")).click()

    notice = page_a.locator("#conflict")
    expect(notice).to_contain_text(t("Not saved: this changed while you were editing it"))
    expect(notice).to_contain_text(re.compile(t.pick(
        en=r"second_editor changed title of this incident",
        ru=r"second_editor изменил\(а\) запись: инцидент .*Изменённые поля: название")))
    expect(page_a.get_by_label(t.label("title"))).to_have_value(
        "Twelve conscripts desert the training ground")
    expect(page_a.get_by_label(t.label("place"))).to_have_value("Kadamovsky range")
    expect(page_a.locator("#div_id_title")).to_contain_text(t(
        "Changed meanwhile by %(who)s. Saved value: %(saved)s", who="second_editor",
        saved="Ten conscripts desert the Kadamovsky training ground"))
    expect(success_message(page_a)).to_have_count(0)

    incident.refresh_from_db()
    assert incident.title == "Ten conscripts desert the Kadamovsky training ground"
    assert incident.place_name == "Training ground"

    # Having seen B's change, A may still save on purpose: the refused page is restamped.
    page_a.get_by_role("button", name=t("Save changes")).click()
    expect(success_message(page_a)).to_contain_text(t(
        "Incident “%(name)s” saved.", name="Twelve conscripts desert the training ground"))
    incident.refresh_from_db()
    assert (incident.title, incident.place_name) == (
        "Twelve conscripts desert the training ground", "Kadamovsky range")


# --- 5. The workflow refuses a verdict, in the browser ----------------------------------------

def test_confirming_on_two_citations_of_one_origin_is_refused_and_note_kept(
        browser, case, reporter, editor, t):
    outlet = SourceFactory(case=case, name="161.ru")
    insiders = SourceFactory(case=case, name="Anonymous military investigators",
                             reached_via=outlet)
    claim = ClaimFactory(case=case, created_by=reporter,
                         statement="Ten conscripts deserted from the training ground.")
    CitationFactory(claim=claim, source=outlet, created_by=reporter)
    CitationFactory(claim=claim, source=insiders, relays=[outlet], created_by=reporter,
                    relation=CitationRelation.CONFIRMS)
    updated_at = Claim.objects.get(pk=claim.pk).updated_at
    page = browser("editor")

    page.goto(claim_path(case, claim))
    expect(page.locator("#citations")).to_contain_text(t.pick(
        en="1 independent origin among", ru="1 независимый первоисточник среди"))
    move = transition_form(page, t)
    move.get_by_label(t("New status")).select_option(
        label=t("Verdict: %(status)s", status=t.pick(**CONFIRMED)))
    note = "Both say ten; the unit's commander did not deny it."
    move.get_by_label(t("Note")).fill(note)
    move.get_by_role("button", name=t("Change status")).click()

    not_done = t("Not done: the claim is still %(status)s.", status=t.pick(**UNVERIFIED))
    refusal = page.get_by_role("alert").filter(has_text=not_done)
    expect(refusal).to_contain_text(not_done)
    expect(refusal).to_contain_text(t.pick(
        en="Confirmed needs two independent sources",
        ru="Для статуса «подтверждено» нужны два независимых источника"))
    expect(success_message(page)).to_have_count(0)
    move = transition_form(page, t)
    expect(move.get_by_label(t("Note"))).to_have_value(note)
    expect(move.get_by_label(t("New status"))).to_have_value(VerificationStatus.CONFIRMED)
    expect(page.locator("article .status-badge")).to_have_text(
        t("Unverified", "verification status"))

    claim.refresh_from_db()
    assert claim.status == VerificationStatus.UNVERIFIED
    assert claim.updated_at == updated_at
    assert not VerificationEvent.objects.filter(claim=claim).exists()


# --- UI details that once went wrong ---------------------------------------------------------

def test_every_field_of_the_claim_page_has_its_own_label(browser, case, reporter, t):
    claim = claim_with_two_independent_sources(case, reporter, propose=False)
    page = browser("reporter")
    page.goto(claim_path(case, claim))
    proposal = propose_form(page, t)
    note = proposal.get_by_role("textbox", name=t("Note"))
    expect(note).to_be_visible()
    # Clicking the propose form's "Note" label should put the cursor in that form's note.
    proposal.get_by_text(t("Note"), exact=False).click()
    expect(note).to_be_focused(timeout=1_000)
    expect(note).to_have_count(1, timeout=1_000)
    duplicates = page.evaluate("""() => {
        const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
        return [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))];
    }""")
    assert duplicates == []


def test_a_refused_move_gives_its_reason_once(browser, case, reporter, editor, t):
    claim = ClaimFactory(case=case, created_by=reporter)  # no citation: a verdict is refused
    page = browser("editor")
    page.goto(claim_path(case, claim))
    move = transition_form(page, t)
    move.get_by_label(t("New status")).select_option(
        label=t("Verdict: %(status)s", status=t.pick(en="false", ru="ложно")))
    move.get_by_label(t("Note")).fill("Nobody else reports it.")
    move.get_by_role("button", name=t("Change status")).click()
    reason = t("A verdict needs at least one citation.")
    not_done = t("Not done: the claim is still %(status)s.", status=t.pick(**UNVERIFIED))
    expect(page.get_by_role("alert").filter(has_text=not_done)).to_contain_text(reason)
    expect(page.get_by_text(reason)).to_have_count(1, timeout=1_000)
