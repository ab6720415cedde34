"""axe-core in the browser tests: run it on the page a test is on, and keep the violations
that fail a page (serious or critical).

axe-core is vendored as a test asset (tests/browser/vendor/README.md), not served by the app.
It is evaluated in the page through the DevTools protocol (`page.evaluate`), which the page's
Content-Security-Policy does not govern; `page.add_script_tag()` would add an inline
<script> (its `path=` is read here and sent as the tag's text) that `script-src 'self'` refuses,
and weakening the CSP for the tests (`bypass_csp`) would hide the very violations
tests/browser/test_flows.py:watch() reports.
"""

from pathlib import Path

AXE_SOURCE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"

# WCAG 2.0, 2.1 and 2.2, levels A and AA: the rules axe tags with them.
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
FAILING_IMPACTS = {"serious", "critical"}

# Run in the page: axe's own result, cut down to what a failure message needs.
_RUN = """async (tags) => {
    const results = await window.axe.run(document, {
        runOnly: {type: "tag", values: tags},
        resultTypes: ["violations"],
    });
    return results.violations.map((rule) => ({
        id: rule.id,
        impact: rule.impact,
        help: rule.help,
        nodes: rule.nodes.map((node) => ({
            impact: node.impact,
            target: node.target.map(String).join(" "),
            summary: node.failureSummary,
            html: node.html,
        })),
    }));
}"""

_source = None


def _axe_source():
    global _source
    if _source is None:
        _source = AXE_SOURCE.read_text()
    return _source


def axe_violations(page, tags=WCAG_A_AA):
    """Every violation axe finds on `page` as it is now, as dicts (id, impact, help, nodes)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # The UMD bundle sets window.axe; wrapped in a function so that Playwright runs it as
        # a script and does not take the bundle for a function to call.
        page.evaluate("() => {\n" + _axe_source() + "\n}")
    return page.evaluate(_RUN, tags)


def failing(violations):
    """The violations that fail a page: serious or critical, each node at that impact."""
    kept = []
    for rule in violations:
        nodes = [node for node in rule["nodes"]
                 if (node["impact"] or rule["impact"]) in FAILING_IMPACTS]
        if nodes:
            kept.append({**rule, "nodes": nodes})
    return kept


def describe(where, violations):
    """One line per failing element: where (the page), rule id, impact, target, what."""
    lines = []
    for rule in violations:
        for node in rule["nodes"]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"{where}: {rule['id']} ({node['impact'] or rule['impact']}) at "
                         f"{node['target']}: {rule['help']}. {summary} [{node['html'][:160]}]")
    return lines
