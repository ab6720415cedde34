"""The property-based fuzzer of the web pages: every form (the workspace's, the admin's add,
change, delete and action forms, the account pages') and every page's query parameters,
found by fuzz/discovery.py as each role, each given `examples` hypothesis examples.

`make fuzz` runs it against gunicorn and counts the answers (a 500 is recorded, and fuzzing
goes on); the CI subset (tests/test_form_fuzz.py) runs it in-process, derandomized, and lets
the first exception fail the test with hypothesis' smallest example."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import hypothesis
from hypothesis import HealthCheck, Phase, example, given, settings

from .browser import Browser
from .discovery import (
    NOT_SUBMITTED,
    Discovered,
    FormTarget,
    PageTarget,
    admin_seeds,
    crawl,
    label_forms,
    site_seeds,
)
from .fixtures import World
from .ledger import Ledger, short
from .targets import (
    FormRunner,
    PageRunner,
    form_examples,
    form_strategy,
    page_examples,
    page_strategy,
)


class ServerError(AssertionError):
    pass


@dataclass
class Budget:
    examples: int  # per form and per page, per role
    seed: int | None  # None: derandomized (CI)
    raise_on_error: bool = False  # CI: stop at the first 500 and shrink it


def target_seed(seed: int, role: str, label: str) -> int:
    """Each target's own seed, so that one target can be replayed alone (FUZZ_ONLY)."""
    return int(hashlib.sha256(f"{seed}:{role}:{label}".encode()).hexdigest()[:12], 16)


def fuzz_one(runner, strategy, *, kind: str, label: str, role: str, budget: Budget,
             ledger: Ledger, explicit: list[dict] = ()) -> None:
    """`examples` generated examples, after the `explicit` ones."""
    @settings(max_examples=budget.examples, database=None, deadline=None,
              derandomize=budget.seed is None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate]
              + ([Phase.shrink] if budget.raise_on_error else []),
              report_multiple_bugs=False, print_blob=False)
    @given(strategy)
    def check(example):
        sent = runner.run(example)
        if sent is None:
            ledger.record(kind, label, role)
            return
        status = sent.response.status
        ledger.record(kind, label, role, method=sent.method, path=sent.path, status=status,
                      fuzz_id=sent.fuzz_id, changed=sent.changed)
        if budget.raise_on_error and (status >= 500 or status == 0):
            raise ServerError(f"{role} {label}: {status} for {sent.method} {sent.path[:300]} "
                              f"changing {short(sent.changed, 500)}\n"
                              f"{sent.response.text[-2500:]}")

    for pinned in reversed(explicit):
        check = example(pinned)(check)
    if budget.seed is not None:
        check = hypothesis.seed(target_seed(budget.seed, role, label))(check)
    check()


def discover(browser: Browser, world: World, *, site: bool = True, admin=None,
             anonymous: bool = False, **crawl_options) -> Discovered:
    """`admin`: None, or which registered models' admin pages to start from (a predicate)."""
    if anonymous:
        seeds = ["/accounts/login/"]
    else:
        seeds = (site_seeds(world) if site else []) + \
            (admin_seeds(world, admin) if admin is not None else [])
    return crawl(browser, seeds, **crawl_options)


def fuzz_discovered(found: Discovered, browser: Browser, budget: Budget, ledger: Ledger, *,
                    between: Callable[[], None] = lambda: None,
                    only: Callable[[str], bool] = lambda label: True,
                    errors: list[str] | None = None) -> None:
    """Every page, then every form of one role. `between()` runs after each form (the guard
    that restores the accounts, and signs in again). With `errors`, a failing target is
    noted there and the next one runs (CI); without, the exception propagates."""
    targets: list[PageTarget | FormTarget] = [
        *sorted(found.pages.values(), key=lambda t: t.view),
        *sorted(found.forms.values(), key=lambda t: t.label),
    ]
    for target in targets:
        if not only(target.label) or getattr(target, "view", "") in NOT_SUBMITTED and \
                isinstance(target, FormTarget):
            continue
        if isinstance(target, PageTarget):
            runner, strategy, kind = PageRunner(target, browser), page_strategy(target), "page"
            explicit = page_examples(target)
        else:
            runner, strategy, kind = FormRunner(target, browser), form_strategy(target.form), \
                "form"
            explicit = form_examples(target.form)
        try:
            fuzz_one(runner, strategy, kind=kind, label=target.label, role=found.role,
                     budget=budget, ledger=ledger, explicit=explicit)
        except Exception as exc:
            if errors is None:
                raise
            errors.append(f"{found.role} {target.label}: {type(exc).__name__}: {exc}")
        finally:
            if kind == "form":
                between()


__all__ = ["Budget", "ServerError", "discover", "fuzz_discovered", "fuzz_one", "label_forms"]
