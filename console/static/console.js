/* quantrac console: small behaviours on top of server-rendered pages (no inline script: CSP).
   - every htmx request carries the page's CSRF token;
   - an acknowledgement with reason "other" requires a note;
   - the alerts page polls /alerts/marker every 2 s and reloads its list when the alert book
     changed, unless the user is filling in an acknowledgement (then a button offers it). */
(function () {
  "use strict";
  var POLL_MS = 2000;  // a new alert shows within ~2 s (+ the list fetch)

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches || !select.matches('.ack-form select[name="reason"]')) return;
    var note = select.form.querySelector('textarea[name="note"]');
    if (note) note.required = select.value === "other";
  });

  function busy(list) {
    if (list.querySelector("details.ack[open]")) return true;
    var active = document.activeElement;
    return !!(active && list.contains(active) && active.closest("form"));
  }

  function openHistories(list) {
    return Array.prototype.map.call(
      list.querySelectorAll("details.history[open]"),
      function (d) { return d.closest("[data-alert]").getAttribute("data-alert"); });
  }

  function startLiveAlerts() {
    var list = document.getElementById("alert-list");
    if (!list || !window.fetch) return;
    var live = document.getElementById("live");
    var stale = document.getElementById("alerts-stale");
    var pending = false;

    function show(on) {
      if (!live) return;
      live.hidden = false;
      live.textContent = live.getAttribute(on ? "data-on" : "data-off");
      live.className = on ? "live on" : "live off";
    }

    function refresh() {
      var current = document.getElementById("alert-list");
      var keepOpen = openHistories(current);
      pending = false;
      if (stale) stale.hidden = true;
      return window.htmx.ajax("GET", current.getAttribute("data-src"),
                              { target: "#alert-list", swap: "outerHTML" }).then(function () {
        var fresh = document.getElementById("alert-list");
        keepOpen.forEach(function (id) {
          var row = fresh.querySelector('[data-alert="' + id + '"] details.history');
          if (row) row.open = true;
        });
      });
    }

    function changed(marker) {
      var current = document.getElementById("alert-list");
      if (current.getAttribute("data-marker") === String(marker)) return;
      if (busy(current)) {
        pending = true;
        if (stale) stale.hidden = false;
        return;
      }
      refresh();
    }

    function poll() {
      if (document.hidden) return;  // a background tab costs the server nothing
      var current = document.getElementById("alert-list");
      fetch(current.getAttribute("data-poll"), { credentials: "same-origin",
                                                  headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.json();
        })
        .then(function (doc) { show(true); changed(doc.marker); })
        .catch(function () { show(false); });
    }

    if (stale) stale.addEventListener("click", refresh);
    document.addEventListener("toggle", function () {
      var current = document.getElementById("alert-list");
      if (pending && current && !busy(current)) refresh();
    }, true);
    document.addEventListener("visibilitychange", poll);
    poll();
    window.setInterval(poll, POLL_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startLiveAlerts);
  } else {
    startLiveAlerts();
  }
})();
