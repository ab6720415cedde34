""""Add another citation" on the claim form (static/js/formset.js), in a real browser: rows
added beyond the blank ones the server renders are saved with them. In English and in
Russian (conftest's `interface_language`)."""

import pytest
from playwright.sync_api import expect

from cases.enums import CitationRelation
from cases.forms.records import MAX_NEW_CITATIONS_PER_SAVE
from cases.models import Citation, Claim

from ..factories import PASSWORD, SourceFactory
from .test_flows import success_message, watch

pytestmark = pytest.mark.django_db(transaction=True)

OUTLETS = ["161.ru", "Meduza", "DonDay", "Kommersant", "RBC"]


@pytest.fixture
def reporter_page(open_page, reporter):
    problems = []
    page = open_page("reporter", PASSWORD)
    watch(page, "reporter", problems)
    yield page
    assert not problems, "\n".join(problems)


def fill_citation(card, t, source, quote):
    card.get_by_label(t.label("source")).select_option(label=source)
    card.get_by_label(t.label("relation")).select_option(label=t("Reports", "citation relation"))
    card.get_by_label(t.label("quote")).fill(quote)


def test_add_another_citation_adds_rows_beyond_the_blank_ones(reporter_page, case, reporter,
                                                              t):
    for name in OUTLETS:
        SourceFactory(case=case, name=name)
    page = reporter_page
    page.goto(f"/cases/{case.slug}/claims/new/")
    page.get_by_label(t.label("statement")).fill(
        "Ten conscripts deserted from the training ground.")

    blank = page.locator("section[aria-labelledby=citations-heading] .card")
    expect(blank).to_have_count(3)
    for index in range(3):
        fill_citation(blank.nth(index), t, OUTLETS[index], f"Quote {index + 1}.")

    add = page.get_by_role("button", name=t("Add another citation"))
    added = page.locator("[data-formset-rows=citations] .card")
    add.click()
    add.click()
    expect(added).to_have_count(2)
    expect(page.locator("#id_citations-TOTAL_FORMS")).to_have_value("5")
    # The new row takes the next index, and the cursor goes to its first field.
    new_source = added.nth(1).get_by_label(t.label("source"))
    expect(new_source).to_have_attribute("name", "citations-4-source")
    expect(new_source).to_be_focused()
    fill_citation(added.nth(0), t, OUTLETS[3], "Quote 4.")
    fill_citation(added.nth(1), t, OUTLETS[4], "Quote 5.")
    page.get_by_role("button", name=t("Add"), exact=True).click()

    expect(success_message(page)).to_contain_text(t("Claim added."))
    expect(page.locator("section[aria-labelledby=citations] li[id^=citation-]")).to_have_count(5)
    claim = Claim.objects.get(case=case)
    assert sorted(Citation.objects.filter(claim=claim).values_list(
        "source__name", "quote", "relation", "created_by")) == sorted(
        (name, f"Quote {n}.", CitationRelation.REPORTS, reporter.pk)
        for n, name in enumerate(OUTLETS, start=1))


def test_add_another_citation_stops_at_what_one_save_accepts(reporter_page, case, t):
    SourceFactory(case=case, name="161.ru")
    page = reporter_page
    page.goto(f"/cases/{case.slug}/claims/new/")
    add = page.get_by_role("button", name=t("Add another citation"))
    most = int(add.get_attribute("data-formset-max"))
    for _ in range(most - 3):
        add.click()
    expect(page.locator("#id_citations-TOTAL_FORMS")).to_have_value(str(most))
    expect(add).to_be_disabled()


def test_without_the_script_the_button_stays_hidden_and_the_blank_rows_remain(client, case,
                                                                               reporter):
    client.force_login(reporter)
    content = client.get(f"/cases/{case.slug}/claims/new/").content.decode()
    # A new claim has no citations yet: one save takes at most this many new ones.
    assert (f'data-formset-add="citations" data-formset-max="{MAX_NEW_CITATIONS_PER_SAVE}" '
            'hidden>Add another citation</button>') in content
    for index in range(3):
        assert f'name="citations-{index}-source"' in content
    assert 'name="citations-3-source"' not in content
    # The empty form is inert until copied: its fields are numbered by the script.
    template = content[content.index('<template id="citations-empty-form">'):]
    assert 'name="citations-__prefix__-source"' in template[:template.index("</template>")]
    assert "/static/js/formset.js" in content
