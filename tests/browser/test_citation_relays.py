"""A citation's several relays on the claim form, in a real browser: a row added with "Add
another citation" (static/js/formset.js) carries its multiple select of the case's sources,
and the relays chosen there are saved in order and drawn on the claim page."""

import pytest
from playwright.sync_api import expect

from cases.models import Citation, Claim

from ..factories import SourceFactory
from .test_citation_formset import fill_citation, reporter_page  # noqa: F401 (fixture)
from .test_flows import success_message

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_added_citation_row_takes_several_relays(reporter_page, case, reporter, t):  # noqa: F811
    for name in ("161.ru", "DonDay", "Meduza", "Fontanka"):
        SourceFactory(case=case, name=name)
    page = reporter_page
    page.goto(f"/cases/{case.slug}/claims/new/")
    page.get_by_label(t.label("statement")).fill("Ten recruits deserted.")
    blank = page.locator("section[aria-labelledby=citations-heading] .card")
    fill_citation(blank.nth(0), t, "Fontanka", "Fontanka's own reporter.")

    page.get_by_role("button", name=t("Add another citation")).click()
    added = page.locator("[data-formset-rows=citations] .card").nth(0)
    fill_citation(added, t, "Meduza", "Meduza, citing DonDay and 161.ru.")
    # By its name: its label ("Via") is new to the Russian catalogue, which t() reads.
    relays = added.locator("select[multiple]")
    expect(relays).to_have_attribute("name", "citations-3-relays")
    relays.select_option(label=["161.ru", "DonDay"])
    page.get_by_role("button", name=t("Add"), exact=True).click()

    expect(success_message(page)).to_contain_text(t("Claim added."))
    claim = Claim.objects.get(case=case)
    meduza = Citation.objects.get(claim=claim, source__name="Meduza")
    assert [link.source.name for link in meduza.relay_links.all()] == ["161.ru", "DonDay"]
    # The claim page draws both relays and says the two citations are independent.
    chains = page.locator(".attribution-chain")
    expect(chains).to_have_count(2)
    expect(chains.nth(1).locator(".chain-relays li")).to_have_count(2)
    expect(page.locator(".attribution-pairs")).to_contain_text("Fontanka")
