// Writes when and from which commit the site was built into the footer, from version.json.
// Pages themselves carry no build data, so a new commit changes only version.html and version.json.
// A normal same-origin script (the gate's Content-Security-Policy allows no unhashed inline script).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) return;
  var url = new URL("../../version.json", script.src);
  fetch(url, { credentials: "same-origin" })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (version) {
      if (!version) return;
      // The words are the page's (the copyright partial's data-dip-text-* attributes, in the site's language).
      var links = document.querySelectorAll("a[data-dip-version]");
      for (var i = 0; i < links.length; i++) {
        var link = links[i];
        var text = version.commit
          ? (link.getAttribute("data-dip-text-built") || "").replace("{built}", version.built)
            .replace("{commit}", version.commit.slice(0, 12))
          : link.getAttribute("data-dip-text-outside") || "";
        if (text) link.textContent = text;
      }
    })
    .catch(function () { /* opened from disk: the link to version.html says it all */ });
})();
