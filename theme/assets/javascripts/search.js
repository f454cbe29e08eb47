// The site's search: Pagefind's index of the cable pages (pagefind/, built by the pipeline), drawn
// by this script in the header's panel (partials/dip-search-panel.html). A query loads only the
// pieces of the index it needs, then one fragment per result shown. The index is cut in slices by
// date (pipeline/build/searchindex.py: a year, or a part of it, each a Pagefind index of its own,
// listed newest first in pagefind/slices.json): a query searches the newest slice first and shows
// its results at once, then adds the older slices' when they come (the page says so), so the first
// results cost one slice's work however large the archive is.
// A normal same-origin script (the Content-Security-Policy allows no unhashed inline script;
// Pagefind's WebAssembly needs 'wasm-unsafe-eval', nothing more). Results are built as DOM nodes,
// never as HTML, their excerpts from the result's text (the index keeps no word positions).
(function () {
  "use strict";
  var script = document.currentScript;
  var panel = document.getElementById("dip-search-panel");
  if (!script || !panel) return;
  // The site's root from this script's own address (assets/javascripts/search.js): right at any
  // depth, and on the 404 page, which the gate serves at any path.
  var root = new URL("../../", script.src);
  // The words it writes and the language it sorts and names months in: the panel's data-dip-*
  // attributes (partials/dip-search-panel.html, the catalogue's texts in the site's language).
  function words(name) { return panel.getAttribute("data-dip-text-" + name) || ""; }
  var locale = panel.getAttribute("data-dip-locale") || document.documentElement.lang || "en";
  var PAGE = 10, DEBOUNCE = 60, SETTLE = 300;
  var forms = document.querySelectorAll("form[data-dip-search]");
  var status = panel.querySelector(".dip-search__status");
  var list = panel.querySelector(".dip-search__results");
  var more = panel.querySelector(".dip-search__more");
  var selects = {};
  Array.prototype.forEach.call(panel.querySelectorAll("select[data-dip-filter]"), function (select) {
    selects[select.getAttribute("data-dip-filter")] = select;
  });
  var loading = null, ready = false, months = [], filling = null, seq = 0, results = [], shown = 0, input = null;
  var asked = "";  // the query whose results are shown (their excerpts mark its words)

  // What Pagefind does not fold, spelled out as the index spells it (pipeline/build/searchindex.py
  // SPELLED_OUT): typographic apostrophes, the oe and ae ligatures.
  function spell(text) {
    return text.replace(/[\u2019\u2018\u02bc\u2032]/g, "'").replace(/\u0153/g, "oe").replace(/\u0152/g, "OE")
      .replace(/\u00e6/g, "ae").replace(/\u00c6/g, "AE");
  }

  // The library, the list of slices, and the newest slice's entry, metadata and WebAssembly: fetched
  // once, when the page is idle or on the first sign that the reader may search, whichever comes
  // first (see the end). Older slices load when a query reaches them (after the first results).
  // A failure is not kept: the next query tries again (a restarted server, an expired session whose
  // sign-in page came back instead of the list, must not switch search off until the page reloads).
  var library = null, slices = null, instances = {};
  function load() {
    if (!loading) {
      library = import(new URL("pagefind/pagefind.js", root).href);
      loading = Promise.all([library, fetch(new URL("pagefind/slices.json", root).href).then(function (response) {
        if (!response.ok) throw new Error("no index");
        return response.json();
      })]).then(function (loaded) {
        slices = loaded[1].slices;
        if (!slices.length) throw new Error("no index");
        return instance([slices[0]]);
      }).then(function () { ready = true; }, function (error) {
        loading = null;
        throw error;
      });
    }
    return loading;
  }

  // One Pagefind instance per group of slices: its first slice's index, and the others merged into
  // it (Pagefind's mergeIndex, which shares the first one's WebAssembly). No worker: a query over
  // one slice is a few milliseconds of work, and starting a worker (its script, its own copy of the
  // WebAssembly) delays the first results by hundreds. An empty preload returns once the metadata
  // and the WebAssembly are loaded and compiled (init() returns before), and fetches nothing more.
  function instance(group) {
    var key = group.map(function (slice) { return slice.name; }).join(" ");
    function path(slice) { return new URL("pagefind/" + slice.name + "/", root).pathname; }
    if (!instances[key]) {
      instances[key] = library.then(function (pagefind) {
        var one = pagefind.createInstance({ basePath: path(group[0]), baseUrl: root.pathname, noWorker: true });
        return one.init().then(function () {
          return Promise.all(group.slice(1).map(function (slice) { return one.mergeIndex(path(slice), { baseUrl: root.pathname }); }));
        }).then(function () { return one.preload(""); }).then(function () { return one; });
      }).catch(function (error) {
        delete instances[key];
        throw error;
      });
    }
    return instances[key];
  }

  function option(select, value, text) {
    var item = document.createElement("option");
    item.value = value;
    item.textContent = text;
    select.appendChild(item);
  }

  // An option, or the label of the page's preset one (added before the choices were loaded).
  function add(select, value, label) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === value) { select.options[i].textContent = label; return; }
    }
    option(select, value, label);
  }

  var monthFormat = null;
  // One formatter for every month (toLocaleDateString would build one per call: ~1 ms each).
  function monthName(value) {
    var parts = value.split("-");
    if (!monthFormat) monthFormat = new Intl.DateTimeFormat(locale, { month: "long", year: "numeric", timeZone: "UTC" });
    return monthFormat.format(new Date(Date.UTC(+parts[0], +parts[1] - 1, 1)));
  }

  // The filters' choices: the values the index holds, with their counts (summed over the groups).
  // Filled once, after a first search, beside it: a failure leaves them to the next search and never
  // touches the results shown.
  function fill() {
    if (!filling) filling = fillChoices().catch(function () { filling = null; });
    return filling;
  }

  function fillChoices() {
    return Promise.all(groupsFor({}).map(function (group) {
      return instance(group).then(function (one) { return one.filters(); });
    })).then(function (all) {
      var filters = {};
      all.forEach(function (one) {
        Object.keys(one).forEach(function (name) {
          filters[name] = filters[name] || {};
          Object.keys(one[name]).forEach(function (value) {
            filters[name][value] = (filters[name][value] || 0) + one[name][value];
          });
        });
      });
      ["post", "subject", "language"].forEach(function (name) {
        // Subjects are labels (« Énergie »): sorted as the reader's language sorts them.
        Object.keys(filters[name] || {}).sort(function (a, b) { return a.localeCompare(b, locale); }).forEach(function (value) {
          add(selects[name], value, value + " (" + filters[name][value] + ")");
        });
      });
      months = Object.keys(filters.month || {}).sort();
      months.forEach(function (value) {
        add(selects.from, value, monthName(value));
        add(selects.until, value, monthName(value));
      });
    });
  }

  // The date range as the months it holds: from a month (or a year's index page: its year) until a
  // month (or year), inclusive. Before the months are loaded, a year's twelve.
  function monthsBetween(from, until) {
    var known = months.slice();
    [from, until].forEach(function (bound) {
      for (var m = 1; bound.length === 4 && m <= 12; m++) known.push(bound + "-" + (m < 10 ? "0" : "") + m);
    });
    return known.filter(function (m, i) {
      return known.indexOf(m) === i && (!from || m >= from) && (!until || m.slice(0, until.length) <= until);
    });
  }

  function chosenFilters() {
    var filters = {};
    ["post", "subject", "language"].forEach(function (name) {
      if (selects[name].value) filters[name] = selects[name].value;
    });
    var from = selects.from.value, until = selects.until.value;
    if (from || until) {
      filters.month = { any: monthsBetween(from, until) };
      if (!filters.month.any.length) filters.month.any = ["none"];
    }
    return filters;
  }

  function text(tag, className, value) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    node.textContent = value;
    return node;
  }

  // The excerpt: the passage of EXCERPT words of the result's text holding most words of the query,
  // those words marked. Drawn here, not by Pagefind: the index keeps how often a page holds a word,
  // not where (pipeline/build/pagefindindex.py), so Pagefind's excerpt would be a passage at random.
  // A word of the text matches a word of the query when, accents, case and a leading « l' » aside,
  // it is that word if it has two letters, begins with it if it has three or four, else when both
  // begin alike for at least four letters and at most four short of the shorter: « électricité »
  // marks « électrique », « négociations » « négocier » (a stemmer's work, roughly: Pagefind
  // stemmed). A query's words of one letter (« l' », « d' ») mark nothing.
  var EXCERPT = 30;
  // What parts words: spaces, ASCII and Latin-1 punctuation, general punctuation (« ’ … —).
  var APART = /[\s!-\/:-@\[-`{-~\u00a0-\u00bf\u2000-\u206f]+/;
  function fold(value) {
    return spell(value).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  function wanted(query, all) {
    return fold(query).split(APART).filter(function (word) { return word.length > (all ? 0 : 1); });
  }
  function alike(piece, word) {
    if (word.length <= 2) return piece === word;
    if (word.length <= 4) return piece.indexOf(word) === 0;
    var same = 0, most = Math.min(piece.length, word.length);
    while (same < most && piece.charAt(same) === word.charAt(same)) same++;
    return same >= Math.max(4, most - 4);
  }
  function matches(word, words) {
    return fold(word).split(APART).some(function (piece) {
      return piece && words.some(function (one) { return alike(piece, one); });
    });
  }
  // A quoted phrase: Pagefind finds the cables holding all its words (the index keeps no positions),
  // and the phrase itself is looked for in each one's text, word after word (a word of four letters
  // or fewer as it is, a longer one by its beginning, as above), in the CHECKED best results of each
  // step of the search at most (each costs a fragment); the status says so when there were more.
  var CHECKED = 200;
  var QUOTED = /["\u00ab\u201c\u201e]([^"\u00bb\u201c\u201d\u201e]*)["\u00bb\u201c\u201d]/g;
  function phrasesOf(value) {
    var found = [], match;
    QUOTED.lastIndex = 0;
    while ((match = QUOTED.exec(value))) {
      var words = wanted(match[1], true);
      if (words.length > 1) found.push(words);
    }
    return found;
  }
  function holds(content, phrases) {
    var words = fold(content || "").split(APART).filter(Boolean);
    return phrases.every(function (phrase) {
      for (var i = 0; i + phrase.length <= words.length; i++) {
        var k = 0;
        while (k < phrase.length && (phrase[k].length <= 4 ? words[i + k] === phrase[k] : alike(words[i + k], phrase[k]))) k++;
        if (k === phrase.length) return true;
      }
      return false;
    });
  }
  function checked(found, phrases, limited) {
    if (!phrases.length) return Promise.resolve(found);
    var some = found.slice(0, CHECKED);
    if (found.length > CHECKED) limited();
    return Promise.all(some.map(function (result) { return result.data(); })).then(function (data) {
      return some.filter(function (result, k) { return holds(data[k].content, phrases); });
    });
  }

  function excerpt(content, query) {
    var all = (content || "").split(/\s+/).filter(Boolean), words = wanted(query);
    var found = all.map(function (word) { return words.length > 0 && matches(word, words); });
    // Among the passages holding most of the query's words, the middle one of the first run: the
    // words found sit in the middle of the passage, as Pagefind places them.
    var last = Math.max(0, all.length - EXCERPT), count = 0, most = -1, run = [];
    for (var i = 0; i < Math.min(EXCERPT, all.length); i++) count += found[i] ? 1 : 0;
    for (var start = 0; start <= last; start++) {
      if (start > 0) count += (found[start + EXCERPT - 1] ? 1 : 0) - (found[start - 1] ? 1 : 0);
      if (count > most) { most = count; run = [start]; }
      else if (count === most && run[run.length - 1] === start - 1) run.push(start);
    }
    var best = run[Math.floor(run.length / 2)] || 0;
    var out = document.createElement("p");
    out.className = "dip-search__excerpt";
    var end = Math.min(all.length, best + EXCERPT);
    if (best > 0) out.appendChild(document.createTextNode("… "));
    for (var j = best; j < end; j++) {
      if (j > best) out.appendChild(document.createTextNode(" "));
      out.appendChild(found[j] ? text("mark", "", all[j]) : document.createTextNode(all[j]));
    }
    if (end < all.length) out.appendChild(document.createTextNode(" …"));
    return out;
  }

  function render(data, query) {
    var item = document.createElement("li");
    var link = text("a", "dip-search__title", data.meta.title || data.url);
    link.href = data.url;
    item.appendChild(text("h3", "", "")).appendChild(link);
    var meta = [data.meta.reference, data.meta.date, data.meta.post].filter(Boolean).join(" · ");
    if (meta) item.appendChild(text("p", "dip-search__meta", meta));
    item.appendChild(excerpt(data.content, query));
    return item;
  }

  // The next results (``count``, a page by default), each shown as soon as its fragment (and those
  // before it) arrived. The very first result's fragment is fetched alone, then the rest together:
  // the first result is not kept waiting while the browser decodes nine other fragments.
  function showMore(mine, count) {
    var slice = results.slice(shown, shown + (count || PAGE));
    var first = shown === 0 ? 1 : slice.length;
    shown += slice.length;
    list.setAttribute("aria-busy", "true");
    function append(data) {
      return data.then(function (page) { if (mine === seq) list.appendChild(render(page, asked)); });
    }
    var chain = Promise.resolve();
    slice.slice(0, first).forEach(function (result) {
      var data = result.data();
      chain = chain.then(function () { return append(data); });
    });
    chain = chain.then(function () {
      if (mine !== seq) return;
      var rest = slice.slice(first).map(function (result) { return result.data(); });
      return rest.reduce(function (done, data) { return done.then(function () { return append(data); }); }, Promise.resolve());
    });
    return chain.then(function () {
      if (mine !== seq) return;
      more.hidden = shown >= results.length;
      list.setAttribute("aria-busy", "false");
    });
  }

  function say(count, searching) {
    if (searching) {
      // Said while older slices are searched: the results are the newest cables' so far.
      if (count === 0) return words("newest-none");
      if (count === 1) return words("newest-one");
      return words("newest-many").replace("{count}", String(count));
    }
    if (count === 0) return words("none");
    if (count === 1) return words("one");
    return words("many").replace("{count}", String(count));
  }

  // What a query searches, in two steps: the newest slice holding a month of the chosen date range,
  // then every older one in that range at once (one more WebAssembly fetch, however many slices).
  function groupsFor(filters) {
    var range = filters.month ? filters.month.any : null;
    var chosen = slices.filter(function (slice) {
      return !range || range.some(function (m) { return m >= slice.from && m <= slice.until; });
    });
    return [chosen.slice(0, 1), chosen.slice(1)].filter(function (group) { return group.length; });
  }

  function wait(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function open() {
    panel.hidden = false;
  }

  function close() {
    panel.hidden = true;
    if (input) input.focus();
  }

  function search() {
    // Pagefind gets the words without their quotation marks (it would look for a quoted phrase's words
    // side by side, from positions the index does not keep); the phrase is checked after (checked()).
    var phrases = phrasesOf(spell(input ? input.value : "")), limited = false;
    var query = spell((input ? input.value : "")).replace(/["\u00ab\u00bb\u201c\u201d\u201e]/g, " ").replace(/\s+/g, " ").trim();
    var mine = ++seq;
    var filters = chosenFilters();
    if (!query && !Object.keys(filters).length) {
      list.textContent = "";
      list.setAttribute("aria-busy", "false");
      status.textContent = "";
      more.hidden = true;
      return Promise.resolve();
    }
    open();
    status.textContent = words("searching");
    var waited = !ready;
    results = [];
    shown = 0;
    asked = query;
    list.textContent = "";
    more.hidden = true;
    var options = { filters: filters };
    if (!query) options.sort = { date: "desc" };
    // Keys typed in a burst make one search: the first query, once the library is loaded, runs at
    // once (the burst typed meanwhile is behind it); later ones wait 60 ms for the next key. Only the
    // latest query is searched, and a query stops after the newest slice once a newer one is typed.
    return load().then(function () { return waited ? null : wait(DEBOUNCE); }).then(function () {
      var todo = groupsFor(filters);
      function next(i) {
        if (mine !== seq) return;
        if (i >= todo.length) {
          status.textContent = limited ? words("phrase-checked").replace("{count}", String(results.length))
            .replace("{checked}", String(CHECKED)) : say(results.length, false);
          more.hidden = shown >= results.length;
          fill();
          return;
        }
        // The older slices wait for a pause in the typing: their search is most of a query's work (at
        // 20,000 cables about 0.4 s for a word found everywhere, in tasks of 0.1 s at most: a reader
        // still typing would feel it on every key; bench/search.py).
        return (i ? wait(SETTLE) : Promise.resolve()).then(function () {
          return mine === seq ? instance(todo[i]) : null;
        }).then(function (one) {
          if (mine !== seq || !one) return;
          return one.search(query || null, options);
        }).then(function (found) {
          return found && checked(found.results, phrases, function () { limited = true; });
        }).then(function (found) {
          if (mine !== seq || !found) return;
          merge(found, !query);
          status.textContent = say(results.length, i + 1 < todo.length);
          // The first page fills as slices come; later results wait for "more".
          var shownBefore = shown;
          return (shown < PAGE && results.length > shown ? showMore(mine, PAGE - shown) : Promise.resolve()).then(function () {
            if (mine !== seq) return;
            if (shownBefore === shown) more.hidden = shown >= results.length;
            return next(i + 1);
          });
        });
      }
      return next(0);
    }).catch(function () {
      if (mine !== seq) return;
      status.textContent = words("unavailable");
      list.setAttribute("aria-busy", "false");
    });

    // A slice's results join those not shown yet: by relevance for a query (the shown ones stay
    // where they are), after the others when sorted by date (older slices hold older cables).
    function merge(found, byDate) {
      var waiting = results.slice(shown).concat(found);
      if (!byDate) waiting.sort(function (a, b) { return b.score - a.score; });
      results = results.slice(0, shown).concat(waiting);
    }
  }

  Array.prototype.forEach.call(forms, function (form) {
    var field = form.querySelector("input[type=search]");
    if (!field) return;
    if (!input) input = field;
    // An index page's form (by post, subject, year) starts with its page's filter chosen.
    ["post", "subject", "from", "until"].forEach(function (name) {
      var preset = form.getAttribute("data-dip-preset-" + name);
      if (preset) {
        add(selects[name], preset, preset);
        selects[name].value = preset;
      }
    });
    form.addEventListener("submit", function (event) { event.preventDefault(); input = field; search(); });
    field.addEventListener("input", function () { input = field; search(); });
    field.addEventListener("focus", function () { input = field; load().catch(function () {}); });
    // The reader on the way to the field: the pointer over the form, a finger or a click on it.
    ["pointerenter", "pointerdown", "touchstart"].forEach(function (name) {
      form.addEventListener(name, function () { load().catch(function () {}); }, { passive: true, once: true });
    });
    field.addEventListener("keydown", function (event) {
      if (event.key === "Escape") close();
    });
  });
  Object.keys(selects).forEach(function (name) {
    selects[name].addEventListener("change", search);
  });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") close();
  });
  panel.querySelector(".dip-search__close").addEventListener("click", close);
  more.addEventListener("click", function () {
    var mine = seq;
    showMore(mine).catch(function () {
      if (mine !== seq) return;
      status.textContent = words("unavailable");
      list.setAttribute("aria-busy", "false");
    });
  });

  // A reader who opens a page and types at once should not wait for the library, the index's
  // metadata and the WebAssembly to load and compile after the first key: they load as soon as the
  // page is idle after loading (about 130 KB and the metadata, kept by the browser's cache for the
  // next pages), unless the reader asked to save data, in which case they load on the first sign of a
  // search (above). Index chunks and fragments, which grow with the site, load only for a query.
  function preload() {
    var connection = navigator.connection;
    if (connection && connection.saveData) return;
    if (window.requestIdleCallback) window.requestIdleCallback(function () { load().catch(function () {}); }, { timeout: 2000 });
    else setTimeout(function () { load().catch(function () {}); }, 200);
  }
  if (document.readyState === "complete") preload();
  else window.addEventListener("load", preload, { once: true });
})();
