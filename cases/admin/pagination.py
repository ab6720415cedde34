"""Changelists of large tables (claims, citations: millions of rows) without a full COUNT.

Django's changelist counts the rows it lists on every page view (`Paginator.count`), and with
default settings counts the whole table as well (`show_full_result_count`). On PostgreSQL an
exact COUNT reads every row of the table or of its index: at a million claims that costs
more than the rest of the page together. `EstimatedCountPaginator` asks the planner
instead once the table is large: the table's size from `pg_class.reltuples` (kept by
VACUUM/ANALYZE), and for a filtered list the planner's row estimate of that query. The
pager then says "about N" pages; the rows themselves are exact. Small tables, and SQLite,
are counted exactly.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

from ..models import Case

# Below this many rows in the table an exact count is cheap enough.
EXACT_COUNT_BELOW = 100_000


def table_row_estimate(model, using="default") -> int | None:
    """PostgreSQL's estimate of the table's rows, or None where there is none (SQLite, a
    table never analysed)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
                       [model._meta.db_table])
        row = cursor.fetchone()
    if row is None or row[0] < 0:  # -1: never vacuumed or analysed
        return None
    return int(row[0])


def query_row_estimate(queryset) -> int:
    """The planner's estimate of how many rows `queryset` returns (EXPLAIN, not run)."""
    sql, params = queryset.order_by().query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """A paginator whose count is PostgreSQL's estimate for large tables (see above)."""

    #: Whether `count` is an estimate (templates say "about").
    estimated = False

    @cached_property
    def count(self):
        queryset = self.object_list
        model = getattr(queryset, "model", None)
        if model is None:
            return super().count
        table_rows = table_row_estimate(model, queryset.db)
        if table_rows is None or table_rows < EXACT_COUNT_BELOW:
            return super().count
        self.estimated = True
        if not queryset.query.where:
            return table_rows
        return min(query_row_estimate(queryset), table_rows)


class VisibleCaseListFilter(admin.RelatedFieldListFilter):
    """The case filter of a large changelist: the cases the user can see (one small query).

    RelatedOnlyFieldListFilter would list the cases that have a row in this table, which
    means reading every row of it (a million claims) on every page view. Someone in more
    than MAX_CHOICES cases gets no list (a thousand links help nobody and cost a page of
    rendering); `?case__id__exact=` and the search box still filter."""

    MAX_CHOICES = 50

    def field_choices(self, field, request, model_admin):
        cases = Case.objects.order_by("title")
        if not request.user.is_superuser:
            cases = cases.visible_to(request.user)
        choices = [(case.pk, str(case))
                   for case in cases.only("pk", "title")[:self.MAX_CHOICES + 1]]
        self.too_many_choices = len(choices) > self.MAX_CHOICES
        return choices

    def has_output(self):
        return not self.too_many_choices and super().has_output()
