// "Signed in as <name>" in the header (partials/header.html): a page is the same file for every member,
// served from caches, so the gate says who is signed in (GET /signed-in, gate/signedin.py: JSON, never
// cached, the session cookie its only authority). A normal same-origin script and request, as the
// Content-Security-Policy allows; signed out, or without scripts, the slot stays hidden.
(function () {
  "use strict";
  var slot = document.querySelector("[data-dip-signed-in]");
  if (!slot || !window.fetch) return;
  var url = slot.getAttribute("data-dip-signed-in") + "?c=" + encodeURIComponent(slot.getAttribute("data-dip-community") || "")
    + "&lang=" + encodeURIComponent(document.documentElement.lang || "");
  fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
    .then(function (answer) { return answer.ok ? answer.json() : null; })
    .then(function (who) {
      if (who && typeof who.text === "string" && who.text) {
        slot.textContent = who.text;
        slot.title = who.text;
        slot.hidden = false;
      }
    })
    .catch(function () { /* no line rather than a wrong one */ });
})();
