"""Build every community's static site: ``build_sites``.

How a build goes, and why (``orchestrate.build_sites`` reads in this order):

1. Each cable a community will publish is converted from Markdown once, whatever the number of
   communities publishing it, and cached on disk by a hash of its content (``conversions``).
2. Each community is built in its own process (``jobs`` in parallel, ``pipeline/parallel.py``):
   MkDocs with mkdocs-material renders its small site (home, indexes, 404, assets) from a
   docs folder that holds only its own pages, plus one *cable page template* carrying markers
   (``driving``). Every cable page has the same depth and the same navigation, so it is that
   rendered template with the cable's title, content and table of contents put in (``cablepages``):
   the theme's page, without a full MkDocs render per cable. The Atom feed and the sitemap are
   completed (``community``), then Pagefind indexes the site's cable pages into its ``pagefind/``
   folder (``searchindex``).
3. The finished site is audited before it replaces the previous one (pipeline/audit.py): no id,
   title or summary of a cable the community does not publish may appear in any file, no page may
   load an asset from another host, run an inline script or style the trusted theme did not bring,
   or show a classification marking. A hit fails the build and names the file. The hashes of the
   theme's inline scripts and styles are computed from pages of the trusted theme that hold no
   content, written into every page as a ``<meta http-equiv="Content-Security-Policy">``, and kept in
   ``<site>/.diplomatie/csp.json`` for the release manifest (``policy``; publication does not upload
   that folder).
4. A community whose inputs (its cables, configuration, theme, code, commit) hash the same as at
   its last successful build is skipped (``force`` rebuilds it); one where only cable bodies or the
   commit changed is updated in place (``cachekeys``).

The build reads no git: the version of each cable is computed before (``history.published_versions``)
and handed to it. Output is deterministic: the only times in it come from the cables and the commit.
"""

from pipeline.build.job import PROJECT_DIR, BuildError, SiteBuild, UnknownCommunity, base_dir_for
from pipeline.build.orchestrate import build_sites

__all__ = ["PROJECT_DIR", "BuildError", "SiteBuild", "UnknownCommunity", "base_dir_for", "build_sites"]
