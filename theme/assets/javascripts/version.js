// Writes when and from which commit the site was built into the footer, from version.json.
// Pages themselves carry no build data, so a new commit changes only version.html and version.json.
// A normal same-origin script (the gate's Content-Security-Policy allows no unhashed inline script).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) return;
  var url = new URL("../../version.json", script.src);
  var fr = (document.documentElement.lang || "").slice(0, 2) === "fr";
  fetch(url, { credentials: "same-origin" })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (version) {
      if (!version) return;
      var text;
      if (version.commit) {
        text = (fr ? "Construit le " : "Built on ") + version.built + (fr ? " depuis le commit " : " from commit ") +
          version.commit.slice(0, 12);
      } else {
        text = fr ? "Construit hors dépôt git" : "Built outside a git repository";
      }
      var links = document.querySelectorAll("a[data-dip-version]");
      for (var i = 0; i < links.length; i++) links[i].textContent = text;
    })
    .catch(function () { /* opened from disk: the link to version.html says it all */ });
})();
