/* quantrac console charts (uPlot, served by the console; no inline script: CSP).
   Every <figure class="chart" data-src="/api/v1/plants/…/series?…"> gets a chart of its series:
   valid values as a line, the limit(s) as dashed red lines, excluded readings (status 01/02)
   as orange points with their time shaded; hourly results shade hours holding excluded
   readings. Times in the plant's zone, numbers the reader's way (vi 1.500,5). */
(function () {
  "use strict";
  var COLORS = { value: "#0b6e75", limit: "#b3261e", excluded: "#c2570c",
                 shade: "rgba(194, 87, 12, 0.3)", grid: "#e3e8ec", axis: "#5b6875" };

  function lang() { return document.documentElement.lang === "en" ? "en" : "vi"; }

  function numberFormat() {
    return new Intl.NumberFormat(lang() === "vi" ? "vi-VN" : "en-US",
                                 { maximumFractionDigits: 2 });
  }

  function two(n) { return (n < 10 ? "0" : "") + n; }

  // uPlot hands zone-shifted Dates (tzDate): read them with the local getters.
  function dayLabel(d) {
    return lang() === "vi" ? two(d.getDate()) + "/" + two(d.getMonth() + 1)
                           : two(d.getMonth() + 1) + "-" + two(d.getDate());
  }
  function timeLabel(d) { return two(d.getHours()) + ":" + two(d.getMinutes()); }
  function fullLabel(d) {
    var day = lang() === "vi" ? dayLabel(d) + "/" + d.getFullYear()
                              : d.getFullYear() + "-" + dayLabel(d);
    return day + " " + timeLabel(d);
  }

  function limitValue(fig, name) {
    var text = fig.getAttribute(name);
    return text === null || text === "" ? null : Number(text);
  }

  function shaded(spans) {
    return function (u) {
      var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
      ctx.save();
      ctx.fillStyle = COLORS.shade;
      spans.forEach(function (span) {
        var x0 = u.valToPos(span[0], "x", true), x1 = u.valToPos(span[1], "x", true);
        var width = Math.max(x1 - x0, 5);  // an hour in 30 days is still seen
        ctx.fillRect(x0 - (width - (x1 - x0)) / 2, top, width, height);
      });
      ctx.restore();
    };
  }

  // The value under the cursor (or the newest one) in words under the chart: no legend box.
  function readout(fig, times, values, excluded, zone, fmt, hourly) {
    var out = fig.querySelector(".readout");
    var unit = fig.getAttribute("data-unit") || "";
    function say(i, prefix) {
      var d = uPlot.tzDate(new Date(times[i] * 1000), zone);
      var value = values[i] != null ? values[i] : excluded[i];
      var text = (prefix ? prefix + " " : "") + fullLabel(d) + (hourly ? " (" + fig.getAttribute("data-hour-word") + ")" : "") + ": ";
      text += value == null ? "—" : fmt.format(value) + (unit ? " " + unit : "");
      if (values[i] == null && excluded[i] != null) text += " · " + fig.getAttribute("data-excluded-word");
      out.textContent = text;
    }
    function newest() {
      for (var i = times.length - 1; i >= 0; i--) {
        if (values[i] != null || excluded[i] != null) { say(i, fig.getAttribute("data-newest-word")); return; }
      }
    }
    if (out) newest();
    return function (u) {
      if (!out) return;
      var i = u.cursor.idx;
      if (i == null) newest(); else say(i, "");
    };
  }

  function build(fig, doc) {
    var plot = fig.querySelector(".plot");
    var zone = fig.getAttribute("data-zone") || "Asia/Ho_Chi_Minh";
    var fmt = numberFormat();
    var hourly = doc.resolution === "hour";
    var step = hourly ? 3600 : 300;
    var times = [], values = [], excluded = [], spans = [];
    doc.points.forEach(function (p) {
      var t = Date.parse(p.time) / 1000;
      times.push(t);
      if (hourly) {
        values.push(p.value);
        excluded.push(null);
        if (p.excluded > 0) spans.push([t, t + step]);
      } else if (p.status === "00") {
        values.push(p.value);
        excluded.push(null);
      } else {
        values.push(null);
        excluded.push(p.value);
        spans.push([t - step / 2, t + step / 2]);
      }
    });
    if (!times.length) {
      plot.textContent = fig.getAttribute("data-empty");
      plot.className = "plot empty";
      return;
    }
    var data = [times, values];
    var series = [
      {},
      { label: fig.getAttribute("data-label"), stroke: COLORS.value, width: 2,
        points: { show: hourly ? false : undefined, size: 4 } },
    ];
    if (!hourly) {
      data.push(excluded);
      series.push({ label: fig.getAttribute("data-excluded-label"), stroke: COLORS.excluded,
                    fill: COLORS.excluded, paths: function () { return null; },
                    points: { show: true, size: 7, fill: COLORS.excluded, stroke: COLORS.excluded } });
    }
    [limitValue(fig, "data-limit-max"), limitValue(fig, "data-limit-min")].forEach(function (lim) {
      if (lim === null) return;
      data.push(times.map(function () { return lim; }));
      series.push({ label: fig.getAttribute("data-limit-label") + " " + fmt.format(lim),
                    stroke: COLORS.limit, width: 1.5, dash: [6, 4], points: { show: false } });
    });
    var span = times[times.length - 1] - times[0];
    var width = Math.max(plot.clientWidth || fig.clientWidth, 240);
    var opts = {
      width: width,
      height: width < 500 ? 190 : 230,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), zone); },
      series: series,
      legend: { show: false },
      cursor: { points: { size: 6 } },
      scales: { x: { time: true } },
      axes: [
        { stroke: COLORS.axis, grid: { stroke: COLORS.grid }, ticks: { stroke: COLORS.grid },
          space: 70,
          values: function (u, splits) {
            return splits.map(function (v) {
              var d = uPlot.tzDate(new Date(v * 1000), zone);
              return span <= 2 * 86400 && !(d.getHours() === 0 && d.getMinutes() === 0)
                ? timeLabel(d) : dayLabel(d);
            });
          } },
        { stroke: COLORS.axis, grid: { stroke: COLORS.grid }, ticks: { stroke: COLORS.grid },
          size: 56,
          values: function (u, splits) { return splits.map(function (v) { return fmt.format(v); }); } },
      ],
      hooks: { drawClear: [shaded(spans)], setCursor: [readout(fig, times, values, excluded, zone, fmt, hourly)] },
    };
    plot.textContent = "";
    var chart = new uPlot(opts, data, plot);
    fig.setAttribute("data-drawn", String(times.length));
    return chart;
  }

  function start() {
    if (!window.uPlot || !window.fetch) return;
    var charts = [];
    Array.prototype.forEach.call(document.querySelectorAll("figure.chart[data-src]"), function (fig) {
      fetch(fig.getAttribute("data-src"), { credentials: "same-origin",
                                             headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.json();
        })
        .then(function (doc) {
          var chart = build(fig, doc);
          if (chart) charts.push([fig, chart]);
        })
        .catch(function () { fig.setAttribute("data-failed", "1"); });
    });
    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) window.clearTimeout(pending);
      pending = window.setTimeout(function () {
        charts.forEach(function (entry) {
          var plot = entry[0].querySelector(".plot");
          var width = Math.max(plot.clientWidth || entry[0].clientWidth, 240);
          entry[1].setSize({ width: width, height: width < 500 ? 190 : 230 });
        });
      }, 150);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
