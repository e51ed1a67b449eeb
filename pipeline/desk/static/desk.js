// Keyboard shortcuts and decisions for the desk. No inline scripts: the Content-Security-Policy
// allows only files like this one.
//   queue: j/k move, Enter opens, x selects, r/d decide every entity of the story (or of the
//          selected stories; a confirmation when more than one flag changes), u undoes.
//   story: r/d every entity (confirmed), per-entity buttons, u undoes.
//   flag:  j/k newer/older, r/d decide, n note, u back to the queue.
"use strict";

(function () {
  const page = document.body.dataset.page;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const TOAST_KEY = "desk-toast";
  const SELECTED_KEY = "desk-selected";

  function typing(event) {
    return event.target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  function onKeys(handlers) {
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && typing(event)) {
        event.target.blur();
        return;
      }
      const dialog = document.getElementById("confirm");
      if (dialog && dialog.open) return;  // the dialog has its own keys (Enter, Esc)
      if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
      const handler = handlers[event.key];
      if (handler) {
        event.preventDefault();
        handler();
      }
    });
  }

  // ---- decisions, confirmation, undo ---------------------------------------------------------

  function confirmed(text, names) {
    const dialog = document.getElementById("confirm");
    if (!dialog || names.length < 2) return Promise.resolve(true);
    document.getElementById("confirm-text").textContent = text;
    const list = document.getElementById("confirm-list");
    list.replaceChildren();
    names.forEach(function (name) {
      const item = document.createElement("li");
      item.textContent = name;
      list.appendChild(item);
    });
    dialog.returnValue = "";
    dialog.showModal();
    document.getElementById("confirm-yes").focus();
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function () { resolve(dialog.returnValue === "yes"); },
        { once: true });
    });
  }

  function post(changes) {
    return fetch("/reviews", {
      method: "POST",
      body: JSON.stringify({ changes: changes }),
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf,
        Accept: "application/json" },
      credentials: "same-origin",
    });
  }

  function describe(status, count) {
    const verb = { relevant: "marked relevant", dismissed: "dismissed", new: "reopened" }[status];
    return count + " flag" + (count === 1 ? "" : "s") + " " + verb;
  }

  // Decide, then reload (counts and pages stay right) and show what happened, with an undo.
  function decide(flags, status, names, question, failedElement) {
    const changes = flags.map(function (id) { return { flag_id: Number(id), status: status }; });
    if (changes.length === 0) return;
    confirmed(question, names).then(function (yes) {
      if (!yes) return;
      post(changes).then(function (response) {
        if (!response.ok) {
          if (failedElement) failedElement.classList.add("failed");
          return null;
        }
        return response.json();
      }).then(function (answer) {
        if (!answer) return;
        const undo = answer.changed
          .filter(function (c) { return c.from_status !== c.to_status; })
          .map(function (c) { return { flag_id: c.flag_id, status: c.from_status }; });
        sessionStorage.setItem(TOAST_KEY, JSON.stringify(
          { text: describe(status, answer.changed.length), undo: undo }));
        window.location.reload();
      });
    });
  }

  function toast() {
    const box = document.getElementById("toast");
    const kept = sessionStorage.getItem(TOAST_KEY);
    sessionStorage.removeItem(TOAST_KEY);
    if (!box || !kept) return function () {};
    const note = JSON.parse(kept);
    document.getElementById("toast-text").textContent = note.text;
    box.hidden = false;
    const timer = window.setTimeout(function () { box.hidden = true; }, 10000);
    function undo() {
      if (box.hidden || !note.undo || note.undo.length === 0) return;
      window.clearTimeout(timer);
      post(note.undo).then(function (response) {
        sessionStorage.setItem(TOAST_KEY, JSON.stringify(
          { text: response.ok ? "Undone." : "Undo failed.", undo: [] }));
        window.location.reload();
      });
    }
    document.getElementById("undo").hidden = !note.undo || note.undo.length === 0;
    document.getElementById("undo").addEventListener("click", undo);
    return undo;
  }

  // ---- the queue -----------------------------------------------------------------------------

  function queuePage() {
    const list = document.querySelector("ol.stories");
    const canReview = list.dataset.canReview === "yes";
    const rows = Array.from(document.querySelectorAll("li.story-row"));
    const bulk = document.getElementById("bulk");
    let index = -1;

    function select(next) {
      if (rows.length === 0) return;
      index = Math.max(0, Math.min(rows.length - 1, next));
      rows.forEach(function (row, i) {
        row.classList.toggle("selected", i === index);
        row.setAttribute("aria-current", i === index ? "true" : "false");
      });
      rows[index].scrollIntoView({ block: "nearest" });
    }

    function picked() { return rows.filter(function (row) { return row.classList.contains("picked"); }); }

    function showBulk() {
      if (!bulk) return;
      const count = picked().length;
      bulk.hidden = count === 0;
      document.getElementById("bulk-count").textContent = count + " selected";
    }

    function toggle(row) {
      row.classList.toggle("picked");
      row.querySelector("input.pick").checked = row.classList.contains("picked");
      showBulk();
    }

    function flagsOf(chosen) {
      return chosen.flatMap(function (row) { return row.dataset.flags.split(",").filter(Boolean); });
    }

    function namesOf(chosen) {
      return chosen.flatMap(function (row) {
        const title = row.querySelector("a.title").textContent;
        return Array.from(row.querySelectorAll("li.chip[data-flag]")).map(function (chip) {
          return chip.dataset.entity + " · " + title;
        });
      });
    }

    function decideRows(status) {
      if (!canReview) return;
      const chosen = picked().length ? picked() : (index >= 0 ? [rows[index]] : []);
      if (chosen.length === 0) return;
      sessionStorage.setItem(SELECTED_KEY, String(Math.max(index, 0)));
      const flags = flagsOf(chosen);
      const what = status === "relevant" ? "Mark relevant" : "Dismiss";
      decide(flags, status, namesOf(chosen),
        what + ": all " + flags.length + " entities of " + chosen.length +
        (chosen.length === 1 ? " story?" : " stories?"), chosen[0]);
    }

    rows.forEach(function (row, i) {
      row.addEventListener("click", function (event) {
        if (event.target.closest("a, button")) return;
        if (event.target.closest("input.pick")) { toggle(row); return; }
        select(i);
      });
      row.querySelectorAll("button[data-decide]").forEach(function (button) {
        button.addEventListener("click", function () {
          const chip = button.closest("li.chip");
          sessionStorage.setItem(SELECTED_KEY, String(i));
          decide([chip.dataset.flag], button.dataset.decide, [chip.dataset.entity], "", chip);
        });
      });
    });
    if (bulk) {
      bulk.querySelectorAll("button[data-bulk]").forEach(function (button) {
        button.addEventListener("click", function () {
          if (button.dataset.bulk === "clear") {
            picked().forEach(toggle);
          } else {
            decideRows(button.dataset.bulk);
          }
        });
      });
    }
    const kept = sessionStorage.getItem(SELECTED_KEY);
    sessionStorage.removeItem(SELECTED_KEY);
    if (kept !== null && rows.length) select(Math.min(Number(kept) || 0, rows.length - 1));
    const undo = toast();

    function open() { if (index >= 0) window.location.href = rows[index].dataset.href; }
    onKeys({
      j: function () { select(index + 1); },
      k: function () { select(index - 1); },
      Enter: open,
      o: open,
      x: function () { if (index >= 0) toggle(rows[index]); },
      r: function () { decideRows("relevant"); },
      d: function () { decideRows("dismissed"); },
      u: undo,
    });
  }

  // ---- one story -----------------------------------------------------------------------------

  function storyPage() {
    const head = document.querySelector(".story-page");
    const entityRows = Array.from(document.querySelectorAll("tr.entity-row"));
    function names() {
      return entityRows.map(function (row) { return row.querySelector("a").textContent; });
    }
    function all(status) {
      const flags = head.dataset.flags.split(",").filter(Boolean);
      const what = status === "relevant" ? "Mark relevant" : "Dismiss";
      decide(flags, status, names(), what + ": all " + flags.length + " entities of this story?", head);
    }
    entityRows.forEach(function (row) {
      row.querySelectorAll("button[data-decide]").forEach(function (button) {
        button.addEventListener("click", function () {
          decide([row.dataset.flag], button.dataset.decide, [], "", row);
        });
      });
    });
    document.querySelectorAll("button[data-decide-all]").forEach(function (button) {
      button.addEventListener("click", function () { all(button.dataset.decideAll); });
    });
    const undo = toast();
    const canReview = document.querySelector("button[data-decide]") !== null;
    onKeys({
      r: function () { if (canReview) all("relevant"); },
      d: function () { if (canReview) all("dismissed"); },
      u: undo,
    });
  }

  // ---- one flag ------------------------------------------------------------------------------

  function flagPage() {
    const head = document.querySelector(".flag-head");
    const form = document.getElementById("review-form");
    function go(url) { if (url) window.location.href = url; }
    function submit(buttonId) {
      if (!form) return;
      form.requestSubmit(document.getElementById(buttonId));
    }
    onKeys({
      j: function () { go(head.dataset.next); },
      k: function () { go(head.dataset.previous); },
      r: function () { submit("relevant"); },
      d: function () { submit("dismiss"); },
      n: function () { const note = document.getElementById("note"); if (note) note.focus(); },
      u: function () { go("/"); },
    });
  }

  if (page === "queue") queuePage();
  if (page === "story") storyPage();
  if (page === "flag") flagPage();
})();
