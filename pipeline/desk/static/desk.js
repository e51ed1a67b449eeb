// Keyboard shortcuts for the desk: j/k move, Enter opens, r/d decide. No inline scripts:
// the Content-Security-Policy allows only this file.
"use strict";

(function () {
  const page = document.body.dataset.page;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  function typing(event) {
    const target = event.target;
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  function onKeys(handlers) {
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && typing(event)) {
        event.target.blur();
        return;
      }
      if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
      const handler = handlers[event.key];
      if (handler) {
        event.preventDefault();
        handler();
      }
    });
  }

  function queuePage() {
    const table = document.querySelector("table.queue");
    const canReview = table.dataset.canReview === "yes";
    let rows = Array.from(document.querySelectorAll("tr.flag-row"));
    let index = -1;

    function select(next) {
      if (rows.length === 0) return;
      index = Math.max(0, Math.min(rows.length - 1, next));
      rows.forEach(function (row, i) {
        row.classList.toggle("selected", i === index);
        row.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      rows[index].scrollIntoView({ block: "nearest" });
    }

    function decide(status) {
      if (!canReview || index < 0) return;
      const row = rows[index];
      const body = new FormData();
      body.append("status", status);
      fetch("/flags/" + row.dataset.id + "/review", {
        method: "POST",
        body: body,
        headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
        credentials: "same-origin",
      }).then(function (response) {
        if (!response.ok) {
          row.classList.add("failed");
          return;
        }
        // The decided flag leaves this view (unless it lists every status): reload the page
        // so that counts and pages stay right, and keep the selection where it was.
        sessionStorage.setItem("desk-selected", String(index));
        window.location.reload();
      });
    }

    rows.forEach(function (row, i) {
      row.addEventListener("click", function () { select(i); });
    });
    const kept = sessionStorage.getItem("desk-selected");
    sessionStorage.removeItem("desk-selected");
    if (kept !== null && rows.length) select(Math.min(Number(kept) || 0, rows.length - 1));

    onKeys({
      j: function () { select(index + 1); },
      k: function () { select(index - 1); },
      Enter: function () { if (index >= 0) window.location.href = rows[index].dataset.href; },
      o: function () { if (index >= 0) window.location.href = rows[index].dataset.href; },
      r: function () { decide("relevant"); },
      d: function () { decide("dismissed"); },
    });
  }

  function flagPage() {
    const head = document.querySelector(".flag-head");
    const form = document.getElementById("review-form");
    function go(url) { if (url) window.location.href = url; }
    function decide(buttonId) {
      if (!form) return;
      form.requestSubmit(document.getElementById(buttonId));
    }
    onKeys({
      j: function () { go(head.dataset.next); },
      k: function () { go(head.dataset.previous); },
      r: function () { decide("relevant"); },
      d: function () { decide("dismiss"); },
      n: function () { const note = document.getElementById("note"); if (note) note.focus(); },
      u: function () { go("/"); },
    });
  }

  if (page === "queue") queuePage();
  if (page === "flag") flagPage();
})();
