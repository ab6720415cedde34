// The visual timeline of a case (templates/cases/incident_timeline.html), drawn with
// vis-timeline from the case's JSON data (cases/views/visual_timeline.py). Loaded as a file:
// the CSP forbids inline scripts. Its configuration (the data's address, the page's language)
// and every word it shows come from the page: <script type="application/json"> elements
// written by json_script, and the data's own words (titles, dates in plain words, types).
//
// Points are incidents known to the day or minute, bands run from the earliest to the latest
// moment a date allows, and dates without a year are listed apart: the server decides which
// is which, this script only draws it. When the server sends only part of the case (a very
// large case), the script asks again for the part of the axis the reader moves or zooms to.
document.addEventListener("DOMContentLoaded", () => {
  const page = document.getElementById("visual-timeline-page");
  const configElement = document.getElementById("visual-timeline-config");
  const labelsElement = document.getElementById("visual-timeline-labels");
  if (!page || !configElement || !labelsElement || !window.vis || !window.vis.Timeline) return;
  const config = JSON.parse(configElement.textContent);
  const labels = JSON.parse(labelsElement.textContent);

  const find = (name) => page.querySelector(`[data-timeline-${name}]`);
  const chart = find("chart");
  const status = find("status");
  const controls = find("controls");
  const legend = find("legend");
  const placedSection = find("placed");
  const placedList = find("list");
  const unplacedSection = find("unplaced");
  const unplacedList = find("unplaced-list");
  const numbers = new Intl.NumberFormat(config.locale);
  const DAY = 24 * 60 * 60 * 1000;

  // "2025-05-09" or "2025-05-09T14:30" as a moment of the reader's clock: the time as written,
  // not moved by a time zone (the words say 14:30, the axis shows 14:30).
  const localDate = (text) => {
    const match = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?/.exec(text);
    const date = new Date(2000, 0, 1);
    date.setFullYear(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
    date.setHours(match[4] ? Number(match[4]) : 0, match[5] ? Number(match[5]) : 0, 0, 0);
    return date;
  };
  const isoDay = (date) => {
    const pad = (value, width) => String(value).padStart(width, "0");
    return `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1, 2)}-${pad(date.getDate(), 2)}`;
  };
  const element = (tag, text, className) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  };
  const link = (item) => {
    const anchor = element("a", item.title);
    anchor.href = item.url;
    return anchor;
  };
  const say = (text) => {
    status.textContent = text;
    status.hidden = !text;
  };

  const groups = new vis.DataSet();
  const items = new vis.DataSet();
  let groupNames = new Map();
  let timeline = null;
  let range = null; // the case's first and last day, for "Fit all"
  let complete = false; // every placed incident is loaded: no need to ask again
  let requested = 0;

  const colourOf = (groupId) => {
    const group = groups.get(groupId);
    return group ? group.colour : 0;
  };

  const toItem = (item) => {
    const approximate = item.approximate ? " vt-approximate" : "";
    const drawn = {
      id: item.id,
      group: item.group,
      start: localDate(item.start),
      content: link(item),
      // vis-timeline shows a string title as HTML (after its XSS filter); an element as is.
      title: element("span", `${item.title} — ${item.when}`),
      className: `vt-item vt-colour-${colourOf(item.group)} vt-${item.kind}${approximate}`,
      type: item.kind === "point" ? "point" : "range",
    };
    if (item.kind !== "point") drawn.end = localDate(item.end);
    return drawn;
  };

  const describe = (item) => {
    const entry = element("li");
    entry.append(link(item), ` — ${item.when}`);
    const group = groupNames.get(item.group);
    if (group) entry.append(" · ", element("span", group, "text-body-secondary"));
    return entry;
  };

  const showLegend = (data) => {
    legend.replaceChildren(...data.groups.map((group) => {
      const entry = element("li", undefined, "list-inline-item");
      entry.append(element("span", undefined, `vt-swatch vt-colour-${group.colour}`), group.name);
      return entry;
    }));
  };

  const showUnplaced = (data) => {
    unplacedList.replaceChildren(...data.unplaced.map(describe));
    if (data.unplaced_total > data.unplaced.length) {
      unplacedList.append(element("li", labels.shownOf
        .replace("{shown}", numbers.format(data.unplaced.length))
        .replace("{total}", numbers.format(data.unplaced_total)), "text-body-secondary"));
    }
    unplacedSection.hidden = data.unplaced_total === 0;
  };

  // Past the last incident sent, a larger case may hold more than was drawn: shaded, and
  // said, so that no stretch of the axis looks empty only because it was not loaded.
  const notLoaded = (data) => {
    if (!data.truncated || data.items.length === 0) return [];
    const start = localDate(data.items[data.items.length - 1].start);
    const last = data.window.to || range.to;
    const end = new Date(localDate(last).getTime() + DAY);
    if (end <= start) return [];
    return [{
      id: "not-loaded", start, end, type: "background",
      content: element("span", labels.notLoaded), className: "vt-not-loaded",
    }];
  };

  const showPlaced = (data) => {
    items.clear();
    items.add([...data.items.map(toItem), ...notLoaded(data)]);
    // A lane for each type drawn here; the legend keeps every type of the case.
    const drawn = new Set(data.items.map((item) => item.group));
    groups.update(groups.getIds().map((id) => ({ id, visible: drawn.has(id) })));
    placedList.replaceChildren(...data.items.map(describe));
    placedSection.hidden = data.items.length === 0;
    if (data.truncated) say(labels.truncated);
    else if (data.placed_total === 0) say(data.unplaced_total ? labels.noneOnAxis : labels.empty);
    else say("");
  };

  // The case's first to last day, with room on the right for the titles of the last items
  // (which run on to the right of where they start).
  const windowOfCase = () => {
    const start = localDate(range.from);
    const end = new Date(localDate(range.to).getTime() + DAY);
    const span = Math.max(end - start, DAY);
    return { start: new Date(start.getTime() - span * 0.03), end: new Date(end.getTime() + span * 0.3) };
  };

  // The days the server accepts (cases/timebounds.py): a window moved past either end asks
  // for the part of it that can hold incidents, where the day itself would be refused.
  const FIRST_DAY = localDate("0001-01-02");
  const LAST_DAY = localDate("9999-12-30");
  const askable = (date) => isoDay(new Date(Math.min(Math.max(date, FIRST_DAY), LAST_DAY)));

  const fetchData = (window_) => {
    const url = new URL(config.dataUrl, document.baseURI);
    if (window_) {
      url.searchParams.set("from", askable(window_.start));
      url.searchParams.set("to", askable(window_.end));
    }
    const ticket = ++requested;
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => {
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        return response.json();
      })
      .then((data) => (ticket === requested ? data : null));
  };

  const create = (data) => {
    range = data.range;
    complete = !data.truncated;
    groupNames = new Map(data.groups.map((group) => [group.id, group.name]));
    groups.add(data.groups.map((group, order) => ({
      id: group.id,
      content: element("span", group.name),
      className: `vt-group vt-colour-${group.colour}`,
      order,
    })));
    showLegend(data);
    showUnplaced(data);
    showPlaced(data);
    if (data.placed_total === 0) return;

    chart.hidden = false;
    controls.hidden = false;
    timeline = new vis.Timeline(chart, items, groups, {
      locale: config.locale,
      groupOrder: "order",
      stack: true,
      selectable: false,
      showCurrentTime: false,
      orientation: { axis: "both" },
      margin: { item: { horizontal: 4, vertical: 6 } },
      maxHeight: 640,
      zoomMin: 60 * 60 * 1000, // an hour
      zoomMax: 1000 * 365 * DAY,
      tooltip: { followMouse: true, overflowMethod: "flip" },
      ...windowOfCase(),
    });
    // Dragged or scrolled with the mouse: once the reader stops, load what is in view.
    timeline.on("rangechanged", (event) => {
      if (!event.byUser) return;
      loadSoon({ start: event.start, end: event.end });
    });
  };

  const load = (window_) => fetchData(window_)
    .then((data) => {
      if (data) showPlaced(data);
    })
    .catch(() => say(labels.loadFailed));

  // Once the reader stops moving (keys, buttons, mouse), ask for what is in view, when the
  // case is larger than one answer.
  let pendingLoad = null;
  const loadSoon = (window_) => {
    if (complete) return;
    clearTimeout(pendingLoad);
    pendingLoad = setTimeout(() => load(window_), 300);
  };
  // Keys and buttons move at once (no animation), so that presses in a row add up.
  const NOW = { animation: false };
  const move = (fraction) => {
    const { start, end } = timeline.getWindow();
    const shift = (end - start) * fraction;
    timeline.setWindow(start.getTime() + shift, end.getTime() + shift, NOW);
    loadSoon(timeline.getWindow());
  };
  const zoom = (inwards) => {
    if (inwards) timeline.zoomIn(0.5, NOW);
    else timeline.zoomOut(0.5, NOW);
    loadSoon(timeline.getWindow());
  };
  // The whole case, as first shown (and what is in view loads, for a larger case).
  const fit = () => {
    const whole = windowOfCase();
    timeline.setWindow(whole.start, whole.end, NOW);
    loadSoon(whole);
  };

  page.querySelectorAll("[data-timeline-action]").forEach((button) => {
    button.addEventListener("click", () => {
      if (!timeline) return;
      const action = button.dataset.timelineAction;
      if (action === "fit") fit();
      else zoom(action === "zoom-in");
    });
  });
  chart.addEventListener("keydown", (event) => {
    if (!timeline || event.altKey || event.ctrlKey || event.metaKey) return;
    const actions = {
      ArrowLeft: () => move(-0.2),
      ArrowRight: () => move(0.2),
      "+": () => zoom(true),
      "=": () => zoom(true),
      "-": () => zoom(false),
      0: fit,
      Home: fit,
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });

  fetchData(null)
    .then((data) => {
      if (data) create(data);
    })
    .catch(() => say(labels.loadFailed));
});
