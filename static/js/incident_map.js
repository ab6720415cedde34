// The Map tab of a case (templates/cases/incident_map.html): the case's located incidents on a
// Leaflet map, clustered with Leaflet.markercluster, from the GeoJSON of
// cases/views/maps.py. Loaded as a file: the CSP forbids inline scripts. Its configuration
// (the data's address with the page's filters, the tile URL or none) and every word it shows
// come from the page (json_script) and from the data itself; the vendored outlines' addresses
// from the map's data-countries-url and data-regions-url.
//
// Each incident is drawn at its geo precision: a pin for a point; a circle of the radius the
// server gives for a town or a district; for a region or a country the outline from the
// vendored Natural Earth files, found by the incident's region name and country code, else
// by the region or country its coordinates fall in, else a circle. Every incident also has a
// pin (a ring for an area) in the clusters, so the groups count every incident.
//
// Without a tile URL (air-gapped newsrooms, the tests) the countries' outlines are the base
// map; the outline files are fetched only when the base map or a feature needs them.
document.addEventListener("DOMContentLoaded", () => {
  const container = document.querySelector("[data-incident-map]");
  const configElement = document.getElementById("incident-map-config");
  if (!container || !configElement || !window.L) return;
  const config = JSON.parse(configElement.textContent);
  const labels = config.labels;
  const status = document.querySelector("[data-map-status]");
  const say = (text) => {
    if (status) status.textContent = text;
  };

  const escapeHtml = (text) => {
    const element = document.createElement("span");
    element.textContent = text || "";
    return element.innerHTML;
  };

  const map = L.map(container, {
    zoomControl: false, worldCopyJump: true, minZoom: 1, maxZoom: 18,
  });
  L.control.zoom({ zoomInTitle: labels.zoomIn, zoomOutTitle: labels.zoomOut }).addTo(map);
  map.setView([30, 20], 2);
  if (config.tileUrl) {
    L.tileLayer(config.tileUrl, {
      attribution: escapeHtml(config.tileAttribution), maxZoom: 19,
    }).addTo(map);
  } else {
    container.classList.add("incident-map-offline");
  }

  const getJSON = (url) => fetch(url, { credentials: "same-origin" }).then((response) => {
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response.json();
  });

  // world-atlas stitches a ring that crosses the antimeridian (Russia's Chukotka, Fiji) into
  // one, from 179° to -179°, for spherical renderers; Leaflet's flat map would draw it right
  // across the world. Such a ring continues east past 180° instead. A ring that circles the
  // pole (Antarctica) spans the whole world either way and is left as it is.
  const unwrapRing = (ring) => {
    const xs = ring.map(([x]) => x);
    const span = Math.max(...xs) - Math.min(...xs);
    if (span <= 180) return ring;
    const shifted = ring.map(([x, y]) => [x < 0 ? x + 360 : x, y]);
    const shiftedXs = shifted.map(([x]) => x);
    return Math.max(...shiftedXs) - Math.min(...shiftedXs) < span ? shifted : ring;
  };
  const unwrap = (feature) => {
    const geometry = feature.geometry;
    if (geometry && geometry.type === "Polygon") {
      geometry.coordinates = geometry.coordinates.map(unwrapRing);
    } else if (geometry && geometry.type === "MultiPolygon") {
      geometry.coordinates = geometry.coordinates.map((polygon) => polygon.map(unwrapRing));
    }
    return feature;
  };

  // A vendored TopoJSON file as GeoJSON features; null when it cannot be had (the map then
  // draws circles instead of outlines).
  const loadOutlines = (url, objectName) => getJSON(url)
    .then((topology) => topojson.feature(topology, topology.objects[objectName]).features
      .map(unwrap))
    .catch(() => null);

  // --- finding an incident's region or country ------------------------------------------
  const GENERIC_WORDS = new RegExp(
    "\\b(oblast|region|province|krai|kray|republic|autonomous|okrug|state|governorate"
    + "|prefecture|county|department|voivodeship|city|of|the)\\b", "g");
  const normalise = (text) => (text || "").toLowerCase().normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "").replace(/['’ʼ`]/g, "")
    .replace(GENERIC_WORDS, " ").replace(/[^\p{L}\p{N}]+/gu, " ").trim();

  const inRing = (x, y, ring) => {
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  };
  const inPolygon = (x, y, rings) => inRing(x, y, rings[0])
    && !rings.slice(1).some((hole) => inRing(x, y, hole));
  const contains = (outline, x, y) => {
    const geometry = outline.geometry;
    if (!geometry) return false;
    if (!outline.bbox) outline.bbox = L.geoJSON(outline).getBounds();
    // An unwrapped outline may lie east of 180°: the point is looked for there too.
    return [x, x + 360].some((lon) => {
      if (!outline.bbox.contains([y, lon])) return false;
      if (geometry.type === "Polygon") return inPolygon(lon, y, geometry.coordinates);
      if (geometry.type === "MultiPolygon") {
        return geometry.coordinates.some((polygon) => inPolygon(lon, y, polygon));
      }
      return false;
    });
  };

  const regionIndex = (regions) => {
    const byName = new Map();
    const byCountry = new Map();
    regions.forEach((region, index) => {
      const { n: name, a3 } = region.properties;
      region.key = `region-${index}`;
      byName.set(`${a3}|${normalise(name)}`, region);
      if (!byCountry.has(a3)) byCountry.set(a3, []);
      byCountry.get(a3).push(region);
    });
    return { byName, byCountry, all: regions };
  };

  const findRegion = (index, props, x, y) => {
    if (!index) return null;
    const named = index.byName.get(`${props.country_a3}|${normalise(props.admin_region)}`);
    if (named) return named;
    const candidates = index.byCountry.get(props.country_a3) || index.all;
    return candidates.find((region) => contains(region, x, y)) || null;
  };

  const findCountry = (countries, props, x, y) => {
    if (!countries) return null;
    return countries.find((country) => props.country_n3 && country.id === props.country_n3)
      || countries.find((country) => contains(country, x, y)) || null;
  };

  // --- drawing ----------------------------------------------------------------------------
  const AREA_STYLE = { color: "#0d6efd", weight: 2, fillColor: "#0d6efd", fillOpacity: 0.12 };
  const BASE_STYLE = { color: "#8a9099", weight: 0.6, fillColor: "#f6f4ee", fillOpacity: 1 };

  // A region's outline may stand for hundreds of incidents: its popup names the first few
  // and sends the reader to the table for the rest.
  const POPUP_MAX = 20;

  const popupFor = (features) => {
    const box = document.createElement("div");
    box.className = "incident-map-popup";
    const list = document.createElement("ul");
    features.slice(0, POPUP_MAX).forEach((feature) => {
      const props = feature.properties;
      const item = document.createElement("li");
      const title = document.createElement("strong");
      title.textContent = props.title;
      item.append(title);
      const facts = [props.when, props.type].filter(Boolean).join(" · ");
      if (facts) {
        const line = document.createElement("div");
        line.textContent = facts;
        item.append(line);
      }
      const place = document.createElement("div");
      place.textContent = props.place;
      item.append(place);
      const link = document.createElement("a");
      link.href = props.url;
      link.textContent = labels.openIncident;
      link.dataset.incidentId = feature.id;
      item.append(link);
      list.append(item);
    });
    box.append(list);
    if (features.length > POPUP_MAX) {
      const more = document.createElement("p");
      more.className = "mt-2 mb-0";
      more.textContent = labels.more;
      box.append(more);
    }
    return box;
  };

  const clusterIcon = (cluster) => {
    const count = cluster.getChildCount();
    const size = count < 10 ? "small" : count < 100 ? "medium" : "large";
    return L.divIcon({
      html: `<div><span>${Number(count)}</span></div>`,
      className: `marker-cluster marker-cluster-${size}`,
      iconSize: L.point(40, 40),
    });
  };

  const draw = (features, countries, regions) => {
    const clusters = L.markerClusterGroup({
      showCoverageOnHover: false, iconCreateFunction: clusterIcon, maxClusterRadius: 60,
    });
    const areas = L.featureGroup();
    const outlines = new Map(); // outline key -> {outline, features}
    const regionsByName = regions ? regionIndex(regions) : null;
    // What the view must show, worked out before anything is drawn: the map then opens on
    // it at once, with no zoom animation for the clusters to follow.
    const bounds = L.latLngBounds([]);
    const pins = [];

    features.forEach((feature) => {
      const props = feature.properties;
      const [x, y] = feature.geometry.coordinates;
      const latlng = L.latLng(y, x);
      const popup = () => popupFor([feature]);
      bounds.extend(props.radius ? latlng.toBounds(2 * props.radius) : latlng);
      const isArea = ["town", "district", "region", "country"].includes(props.precision);
      if (!isArea) {
        pins.push(L.marker(latlng, { title: props.title, alt: props.title }).bindPopup(popup));
        return;
      }
      pins.push(L.marker(latlng, {
        title: props.title,
        icon: L.divIcon({ className: "incident-map-area-centre", iconSize: L.point(24, 24) }),
      }).bindPopup(popup));
      let outline = null;
      if (props.precision === "region") outline = findRegion(regionsByName, props, x, y);
      if (props.precision === "country") outline = findCountry(countries, props, x, y);
      if (outline) {
        const key = outline.key || `country-${outline.id}`;
        if (!outlines.has(key)) outlines.set(key, { outline, features: [] });
        outlines.get(key).features.push(feature);
      } else if (props.radius) {
        areas.addLayer(L.circle(latlng, {
          ...AREA_STYLE, radius: props.radius, className: "incident-map-circle",
        }).bindPopup(popup));
      }
    });
    outlines.forEach(({ outline, features: inside }) => {
      const className = outline.key ? "incident-map-region" : "incident-map-country";
      const shape = L.geoJSON(outline, { style: { ...AREA_STYLE, className } })
        .bindPopup(() => popupFor(inside));
      bounds.extend(shape.getBounds());
      areas.addLayer(shape);
    });

    if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [24, 24], maxZoom: 11, animate: false });
    }
    areas.addTo(map);
    clusters.addTo(map);
    clusters.addLayers(pins); // in one pass: thousands of pins cluster in a moment
    container.dataset.features = String(features.length);
    container.dataset.outlines = String(outlines.size);
    container.dataset.areas = String(areas.getLayers().length);
  };

  // Filters that cannot be read: the page says so, and there is nothing to ask for.
  if (!config.dataUrl) return;

  getJSON(config.dataUrl).then((collection) => {
    const features = collection.features;
    const precisions = new Set(features.map((feature) => feature.properties.precision));
    const wantCountries = !config.tileUrl || precisions.has("country");
    return Promise.all([
      wantCountries ? loadOutlines(container.dataset.countriesUrl, "countries") : null,
      precisions.has("region") ? loadOutlines(container.dataset.regionsUrl, "regions") : null,
    ]).then(([countries, regions]) => {
      if (!config.tileUrl && countries) {
        L.geoJSON(countries, { style: BASE_STYLE, interactive: false }).addTo(map);
      }
      if (countries || regions) map.attributionControl.addAttribution(escapeHtml(labels.outlines));
      draw(features, countries, regions);
      say(features.length ? labels.loaded : labels.empty);
      container.dataset.mapReady = "true";
    });
  }).catch((error) => {
    console.error(error);
    say(labels.loadFailed);
    container.dataset.mapReady = "failed";
  });
});
