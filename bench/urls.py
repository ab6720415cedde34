"""The benchmark's URLconf (bench/pages.py): the whole app (config.urls) plus what the
benchmark compares it with. Selected with ROOT_URLCONF in the benchmark's processes only;
the app itself never routes here.

- `/bench/trivial/`: a view that does nothing, for the framework's own cost per request
  (middleware, session, sign-in, two-factor check) under wrk;
- `/bench/floor/timeline/<slug>/`, `/bench/floor/claims/<slug>/`: the floor of the timeline
  and the claims board: the rows the page shows, fetched with ONE raw SQL query (membership
  check included) and rendered by a minimal template, behind the same middleware;
- `/bench/stock-admin/`: Django's admin with default settings (a plain ModelAdmin for
  claims, which counts every row) on an AdminSite of its own.
"""

import functools

from django.contrib import admin
from django.db import connection
from django.http import HttpResponse
from django.template import engines
from django.urls import path

from cases.models import Claim
from cases.views.workspace import (  # the pages' own sizes: the floor fetches the same rows
    BOARD_COLUMN_SIZE,
    TIMELINE_CLAIMS_PER_INCIDENT,
    TIMELINE_PAGE_SIZE,
)
from config.urls import urlpatterns as app_urlpatterns


def trivial(request):
    return HttpResponse("ok", content_type="text/plain")


# One query: the first timeline page (incidents in date order) with each incident's claims and
# their citation counts, and the number of incidents for the pager. No row without membership.
TIMELINE_SQL = """
WITH page AS (
  SELECT i.id, i.title, i.occurred, i.place_name, i.admin_region, i.description, i.involved,
         i.detained, i.killed, i.injured, i.missing, i.at_large, i.occurred_earliest,
         i.occurred_latest, t.name AS type_name, count(*) OVER () AS total
  FROM cases_incident i
  JOIN cases_case c ON c.id = i.case_id
  JOIN cases_membership m ON m.case_id = c.id AND m.user_id = %(user)s
  LEFT JOIN cases_incidenttype t ON t.id = i.type_id
  WHERE c.slug = %(slug)s
  ORDER BY i.occurred_earliest NULLS LAST, i.occurred_latest, i.id
  LIMIT %(limit)s
)
SELECT p.*, (
  SELECT json_agg(json_build_array(k.id, k.statement, k.status,
                  (SELECT count(*) FROM cases_citation ci WHERE ci.claim_id = k.id))
                  ORDER BY k.id)
  FROM (SELECT id, statement, status FROM cases_claim WHERE incident_id = p.id
        ORDER BY id LIMIT %(per_incident)s) k) AS claims,
  (SELECT count(*) FROM cases_claim k WHERE k.incident_id = p.id) AS claim_total
FROM page p
ORDER BY p.occurred_earliest NULLS LAST, p.occurred_latest, p.id
"""

# One query: the newest 20 claims of each status, each status' total, citation counts.
CLAIMS_SQL = """
SELECT r.id, r.statement, r.status, r.credibility, r.figure_value, r.figure_unit, r.total,
       (SELECT count(*) FROM cases_citation ci WHERE ci.claim_id = r.id) AS citations
FROM (
  SELECT k.id, k.statement, k.status, k.credibility, k.figure_value, k.figure_unit,
         row_number() OVER (PARTITION BY k.status ORDER BY k.updated_at DESC, k.id) AS rank,
         count(*) OVER (PARTITION BY k.status) AS total
  FROM cases_claim k
  JOIN cases_case c ON c.id = k.case_id
  JOIN cases_membership m ON m.case_id = c.id AND m.user_id = %(user)s
  WHERE c.slug = %(slug)s
) r
WHERE r.rank <= %(limit)s
ORDER BY r.status, r.rank
"""

_TEMPLATES = {
    "timeline": (
        "<!doctype html><title>{{ slug }}</title><ol>{% for row in rows %}"
        "<li><b>{{ row.1 }}</b> {{ row.2 }} · {{ row.14 }} · {{ row.3 }}, {{ row.4 }}"
        "<p>{{ row.5 }}</p>"
        "<p>{{ row.6 }} involved, {{ row.7 }} detained, {{ row.11 }} at large</p>"
        "<ul>{% for claim in row.16 %}<li>"
        '<a href="/cases/{{ slug }}/claims/{{ claim.0 }}/">{{ claim.1 }}</a>'
        " {{ claim.2 }} {{ claim.3 }} citations</li>{% endfor %}</ul>"
        "{{ row.17 }} claims</li>\n{% endfor %}</ol><p>{{ total }} incidents</p>"),
    "claims": (
        "<!doctype html><title>{{ slug }}</title>{% for row in rows %}<article>"
        '<a href="/cases/{{ slug }}/claims/{{ row.0 }}/">{{ row.1 }}</a>'
        " {{ row.2 }} ({{ row.6 }}) credibility {{ row.3 }} · {{ row.7 }} citations"
        ' {{ row.4|default_if_none:"" }} {{ row.5 }}</article>\n{% endfor %}'),
}


@functools.cache
def _template(name):
    return engines["django"].from_string(_TEMPLATES[name])


def floor_rows(kind: str, user_id: int, slug: str):
    """The floor's one raw query (psycopg, through Django's connection)."""
    sql, limit = ((TIMELINE_SQL, TIMELINE_PAGE_SIZE) if kind == "timeline"
                  else (CLAIMS_SQL, BOARD_COLUMN_SIZE))
    with connection.cursor() as cursor:
        cursor.execute(sql, {"user": user_id, "slug": slug, "limit": limit,
                             "per_incident": TIMELINE_CLAIMS_PER_INCIDENT})
        return cursor.fetchall()


def render_floor(kind: str, rows, slug: str) -> str:
    total = rows[0][15] if kind == "timeline" and rows else len(rows)
    return _template(kind).render({"rows": rows, "slug": slug, "total": total})


def floor(kind):
    def view(request, slug):
        return HttpResponse(render_floor(kind, floor_rows(kind, request.user.pk, slug), slug))
    return view


stock_site = admin.AdminSite(name="stock_admin")
stock_site.register(Claim, admin.ModelAdmin)

urlpatterns = [
    path("bench/trivial/", trivial, name="bench_trivial"),
    path("bench/floor/timeline/<slug:slug>/", floor("timeline"), name="bench_floor_timeline"),
    path("bench/floor/claims/<slug:slug>/", floor("claims"), name="bench_floor_claims"),
    path("bench/stock-admin/", stock_site.urls),
    *app_urlpatterns,
]
