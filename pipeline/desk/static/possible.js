// The "Possible" tab's keys (as the queue's): j/k move, Enter opens the story, p promotes,
// d dismisses. No inline scripts: the Content-Security-Policy allows only files like this one.
"use strict";

(function () {
  if (document.body.dataset.page !== "possible") return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const rows = Array.from(document.querySelectorAll("li.candidate-row"));
  let current = rows.length ? 0 : -1;

  function show() {
    rows.forEach(function (row, index) { row.classList.toggle("selected", index === current); });
    if (current >= 0) rows[current].scrollIntoView({ block: "nearest" });
  }

  function decide(decision) {
    if (current < 0 || !rows[current].querySelector("form.decide")) return;
    const body = new URLSearchParams({ decision: decision, csrf_token: csrf });
    fetch("/candidates/" + rows[current].dataset.candidate + "/decide", {
      method: "POST", body: body, credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf },
    }).then(function (response) {
      if (response.ok) window.location.reload();
    });
  }

  const keys = {
    j: function () { if (current < rows.length - 1) { current += 1; show(); } },
    k: function () { if (current > 0) { current -= 1; show(); } },
    Enter: function () { if (current >= 0) window.location.href = rows[current].dataset.href; },
    p: function () { decide("promote"); },
    d: function () { decide("dismiss"); },
  };
  document.addEventListener("keydown", function (event) {
    if (event.target.closest("input, textarea, select") || event.ctrlKey || event.metaKey) return;
    const handler = keys[event.key];
    if (handler) { event.preventDefault(); handler(); }
  });
  show();
})();
