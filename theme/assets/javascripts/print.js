// What a printed page (or "print to PDF") needs that CSS alone cannot give (the print rules are in
// diplomatie.css): each link of the text with its full address (a[data-dip-url], resolved by the
// browser from the page's own address, so right at any depth and on any host), and the text of the
// top and bottom margins of every printed page: the page's classification banner and, on a cable
// page, its reference (the custom property --dip-print-banner, a CSS string, which the @page margin
// boxes show). A normal same-origin script, like the theme's others; it sets a style property
// through the DOM, which the Content-Security-Policy allows (no style attribute in any page).
(function () {
  "use strict";
  var links = document.querySelectorAll("article a[href]");
  for (var i = 0; i < links.length; i++) {
    var link = links[i];
    var href = link.getAttribute("href");
    // In-page anchors (a table of contents, a heading's permalink) say nothing on paper.
    if (!href || href.charAt(0) === "#" || link.classList.contains("headerlink")) continue;
    link.setAttribute("data-dip-url", link.href);
  }
  var banner = document.querySelector(".dip-banner");
  if (!banner) return;
  var reference = document.querySelector("article [data-pagefind-meta='reference']");
  var text = banner.textContent.trim() + (reference ? " · " + reference.textContent.trim() : "");
  // As a CSS string: quotes and backslashes escaped, line breaks dropped.
  var css = '"' + text.replace(/[\\"]/g, "\\$&").replace(/[\r\n]+/g, " ") + '"';
  document.documentElement.style.setProperty("--dip-print-banner", css);
})();
