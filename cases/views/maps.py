"""The Map tab: a case's located incidents on a Leaflet map (static/js/incident_map.js), and
the GeoJSON it draws. What is mapped and how, the filters, and the bound: cases/maps.py.

The page works without JavaScript: the filter form is a GET form, and below the map a table
lists the mapped incidents page by page with the same filters (the map's text alternative).
The script reads its configuration (the data address with the page's filters, the tile URL,
translated labels) from `json_script`, and the vendored outlines' addresses from the map's
data- attributes (written with {% static %} in the template); it holds no text of its own.

Both views are members-only through case_view (404 for anyone else) and read a fixed number
of rows however many incidents the case holds (tests/test_incident_map.py pins the queries)."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.urls import reverse
from django.utils.translation import gettext

from .. import maps
from .case_page import case_view
from .visual_timeline import incident_link_prefix

#: Rows of the table below the map, a page.
TABLE_PAGE_SIZE = 50


@case_view(tab="map")
def incident_map(request, case_page):
    case = case_page.case
    # Always bound: no parameter at all is valid (every filter is optional) and filters nothing.
    map_filter = maps.IncidentMapFilter(request.GET, case=case)
    # Filters that cannot be read show their errors and nothing else: neither the table nor
    # the map guesses what was meant (the data endpoint refuses them with 400).
    filters_valid = map_filter.is_valid()
    matching = map_filter.qs if filters_valid else map_filter.queryset.none()
    counts = maps.totals(matching)
    paginator = Paginator(maps.in_map_order(maps.located(matching)), TABLE_PAGE_SIZE)
    paginator.count = counts["located"]  # counted above with the unlocated, in one query
    page = paginator.get_page(request.GET.get("page"))
    writer = maps.FeatureWriter(incident_link_prefix(case))
    rows = [writer.properties(row) for row in page.object_list.values(*maps.FEATURE_FIELDS)]
    query = _filter_query(request)
    return case_page.render("cases/incident_map.html", {
        "filter": map_filter,
        "counts": counts,
        "page": page,
        "rows": rows,
        "filter_query": query,
        "filters_valid": filters_valid,
        "max_features": maps.MAX_FEATURES,
        "over_limit": counts["located"] > maps.MAX_FEATURES,
        "map_config": {
            "dataUrl": (reverse("cases:incident_map_data", args=[case.slug])
                        + (f"?{query}" if query else "")) if filters_valid else "",
            "tileUrl": settings.CASEDESK_MAP_TILE_URL,
            "tileAttribution": settings.CASEDESK_MAP_TILE_ATTRIBUTION,
            "labels": {
                "zoomIn": gettext("Zoom in"),
                "zoomOut": gettext("Zoom out"),
                "outlines": gettext("Country and region outlines: Natural Earth (public "
                                    "domain)"),
                "openIncident": gettext("On the timeline"),
                "loadFailed": gettext("The map could not be loaded. Reload the page; the table "
                                      "below lists the same incidents."),
                "empty": gettext("No located incident matches these filters."),
                "more": gettext("More incidents here: the table below lists them all."),
                "loaded": gettext("Map loaded."),
            },
        },
    })


@case_view(tab="map")
def incident_map_data(request, case_page):
    """The located incidents that match the page's filters, as a GeoJSON FeatureCollection:
    at most maps.MAX_FEATURES, `truncated` when more match."""
    map_filter = maps.IncidentMapFilter(request.GET, case=case_page.case)
    if not map_filter.is_valid():
        # Each error with its code, as the visual timeline's data refuses its window.
        return JsonResponse({"errors": map_filter.errors.get_json_data()}, status=400)
    rows = maps.feature_rows(map_filter.qs)
    collection = maps.feature_collection(rows, incident_link_prefix(case_page.case))
    return JsonResponse(collection, content_type="application/geo+json")


def _filter_query(request) -> str:
    """The page's filters as a query string, and nothing else of it: the data address the
    script is given asks for the same incidents whatever else the page's address holds (its
    table's page), and "Clear filters" is offered only when there are some."""
    params = request.GET.copy()
    for name in list(params):
        if name not in maps.IncidentMapFilter.base_filters:
            del params[name]
    return params.urlencode()
