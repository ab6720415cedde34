/* The Figures tab's charts (templates/cases/figure_list.html, cases/views/figures.py).
 *
 * One chart per tracked figure: each dated report is a point at its value on its report date,
 * with a bar over the range its qualifier admits ("at least 10": from 10 up; "about 300":
 * 270 to 330); an open-ended range runs to the chart's edge and ends in an arrow. A click on a
 * point opens its claim. The data comes from the page's JSON endpoint (data-figure-data-url);
 * every word shown comes from the page (#figure-chart-labels) or the data, translated there:
 * this script has none of its own. The tables under the charts list every report. */
(function () {
  "use strict";

  const page = document.getElementById("figures-page");
  const labelsNode = document.getElementById("figure-chart-labels");
  if (!page || !labelsNode || typeof window.Chart === "undefined") {
    return;
  }
  const labels = JSON.parse(labelsNode.textContent);
  const lang = document.documentElement.lang || undefined;
  // The points' times are the page's wall-clock times given as UTC (cases/views/figures.py):
  // read them in UTC, and days start at the table's midnights.
  const dateFormat = new Intl.DateTimeFormat(lang, {day: "numeric", month: "short", year: "numeric", timeZone: "UTC"});
  const numberFormat = new Intl.NumberFormat(lang);
  const DAY = 24 * 60 * 60 * 1000;

  const COLOURS = {
    report: "#4c6ef5",
    current: "#2b8a3e",
    flagged: "#c92a2a",
  };

  function colourOf(point) {
    if (point.current) {
      return COLOURS.current;
    }
    return point.contradiction || point.changed ? COLOURS.flagged : COLOURS.report;
  }

  function arrow(ctx, x, y, up) {
    const size = 6;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x - size, y + (up ? size : -size));
    ctx.lineTo(x + size, y + (up ? size : -size));
    ctx.closePath();
    ctx.fill();
  }

  /* The ranges: a bar from each report's low to its high, under its point. */
  const rangeBars = {
    id: "figureRanges",
    beforeDatasetsDraw(chart) {
      const {ctx, chartArea, scales} = chart;
      ctx.save();
      chart.data.datasets.forEach(function (dataset, index) {
        if (!chart.isDatasetVisible(index)) {
          return;
        }
        dataset.data.forEach(function (item) {
          const point = item.point;
          const x = scales.x.getPixelForValue(item.x);
          const top = point.high === null ? chartArea.top : scales.y.getPixelForValue(point.high);
          const bottom = point.low === null ? chartArea.bottom : scales.y.getPixelForValue(point.low);
          const clampedTop = Math.max(chartArea.top, Math.min(chartArea.bottom, top));
          const clampedBottom = Math.max(chartArea.top, Math.min(chartArea.bottom, bottom));
          if (clampedBottom - clampedTop < 1) {
            return;
          }
          ctx.globalAlpha = 0.35;
          ctx.fillStyle = colourOf(point);
          ctx.fillRect(x - 4, clampedTop, 8, clampedBottom - clampedTop);
          ctx.globalAlpha = 0.8;
          if (point.high === null) {
            arrow(ctx, x, chartArea.top, true);
          }
          if (point.low === null) {
            arrow(ctx, x, chartArea.bottom, false);
          }
        });
      });
      ctx.restore();
    },
  };

  function dataset(label, points, colour) {
    return {
      label: label,
      data: points.map(function (point) {
        return {x: point.t, y: point.value, point: point};
      }),
      backgroundColor: colour,
      borderColor: colour,
      pointRadius: 6,
      pointHoverRadius: 8,
    };
  }

  function extent(points) {
    const values = [];
    points.forEach(function (point) {
      values.push(point.value);
      if (point.low !== null) {
        values.push(point.low);
      }
      if (point.high !== null) {
        values.push(point.high);
      }
    });
    const low = Math.min.apply(null, values);
    const high = Math.max.apply(null, values);
    const margin = Math.max((high - low) * 0.15, high * 0.1, 1);
    return {min: Math.max(0, low - margin), max: high + margin};
  }

  /* The time axis: whole days around the reports, a tick every day or every few days. */
  function dayAxis(times) {
    const first = Math.floor(Math.min.apply(null, times) / DAY) * DAY - DAY;
    const last = Math.ceil(Math.max.apply(null, times) / DAY) * DAY + DAY;
    const step = Math.max(1, Math.ceil((last - first) / DAY / 8)) * DAY;
    return {min: first, max: first + Math.ceil((last - first) / step) * step, step: step};
  }

  function draw(figure, container) {
    const points = figure.points;
    if (!points.length) {
      const caption = container.querySelector("[data-figure-caption]");
      if (caption) {
        caption.textContent = labels.noDated;
        container.hidden = false;
        container.querySelector("canvas").hidden = true;
      }
      return;
    }
    container.hidden = false;
    const times = points.map(function (point) { return point.t; });
    const values = extent(points);
    const days = dayAxis(times);
    const current = points.filter(function (point) { return point.current; });
    const flagged = points.filter(function (point) {
      return !point.current && (point.contradiction || point.changed);
    });
    const others = points.filter(function (point) {
      return !point.current && !point.contradiction && !point.changed;
    });
    const datasets = [dataset(labels.reports, others, COLOURS.report)];
    if (flagged.length) {
      datasets.push(dataset(labels.flagged, flagged, COLOURS.flagged));
    }
    if (current.length) {
      datasets.push(dataset(labels.current, current, COLOURS.current));
    }
    const canvas = container.querySelector("canvas");
    const chart = new window.Chart(canvas, {
      type: "scatter",
      data: {datasets: datasets},
      plugins: [rangeBars],
      options: {
        animation: false,
        aspectRatio: 2.5,
        scales: {
          x: {
            type: "linear",
            min: days.min,
            max: days.max,
            title: {display: true, text: labels.axisDate},
            ticks: {
              stepSize: days.step,
              callback: function (value) { return dateFormat.format(new Date(value)); },
            },
          },
          y: {
            min: values.min,
            max: values.max,
            title: {display: true, text: labels.axisValue},
            ticks: {callback: function (value) { return numberFormat.format(value); }},
          },
        },
        plugins: {
          tooltip: {
            callbacks: {
              title: function (items) {
                return items.length ? items[0].raw.point.date : "";
              },
              label: function (item) {
                const point = item.raw.point;
                return [point.label, point.source, point.statusLabel].filter(Boolean).join(" · ");
              },
            },
          },
        },
        onHover: function (event, elements) {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        },
        onClick: function (event, elements) {
          if (elements.length) {
            const hit = elements[0];
            window.location.assign(chart.data.datasets[hit.datasetIndex].data[hit.index].point.url);
          }
        },
      },
    });
  }

  function failed() {
    page.querySelectorAll("[data-figure-chart]").forEach(function (container) {
      const caption = container.querySelector("[data-figure-caption]");
      if (caption) {
        caption.textContent = labels.loadFailed;
      }
      container.querySelector("canvas").hidden = true;
      container.hidden = false;
    });
  }

  fetch(page.dataset.figureDataUrl, {credentials: "same-origin", headers: {Accept: "application/json"}})
    .then(function (response) {
      if (!response.ok) {
        throw new Error(String(response.status));
      }
      return response.json();
    })
    .then(function (data) {
      data.figures.forEach(function (figure) {
        const container = page.querySelector('[data-figure-chart="' + figure.id + '"]');
        if (container) {
          draw(figure, container);
        }
      });
    })
    .catch(failed);
})();
