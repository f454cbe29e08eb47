"""The Content-Security-Policy contract between the build and the gate.

A community page may run only the inline scripts (and use only the inline styles) of the trusted
theme. The build computes their hashes from the theme, records them in the release manifest
(``script_hashes``, ``style_hashes``), and writes the same policy into each page as a
``<meta http-equiv="Content-Security-Policy">``, so a site opened from disk or from an archive is
held to it too. The gate sends the policy built from the manifest of the release it serves, never
from the page being served: a script injected into a page is not in the list, so it never runs.

That policy goes on the site's pages and scripts only. A browser applies a response's policy to what
it shows as a document or runs as a worker (a script, such as mkdocs-material's search worker): a
stylesheet, image, font or search fragment loaded by a page is held to the page's policy, not its own.
Every other file gets :data:`RESOURCE_POLICY`, which allows nothing: an SVG or XML file opened at its
own address (a document then) runs no script and loads nothing, and most answers (a page loads a
dozen files) stay short; the site's policy with the theme's hashes is some 700 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import re

_HASH = re.compile(r"^sha256-[A-Za-z0-9+/]{43}=$")

#: Directives every site page carries, whatever its theme.
_REST = ("img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self'; "
         "object-src 'none'; base-uri 'self'; form-action 'self'")

#: Search (Pagefind) compiles its WebAssembly from the site's own index, a copy in each date slice
#: (``pagefind/<slice>/wasm.*.pagefind``): ``'wasm-unsafe-eval'`` allows compiling WebAssembly, and
#: nothing else (no ``eval`` of JavaScript, no inline script). The index fragments it fetches are the
#: site's own (``connect-src 'self'``; ``worker-src 'self'`` if a worker is ever used).
WASM = "'wasm-unsafe-eval'"

#: What the gate adds over HTTP only (a <meta> policy cannot say it).
FRAME_ANCESTORS = "frame-ancestors 'none'"

#: The gate's own pages: no script at all.
GATE_POLICY = ("default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


#: Every site file that is neither a page nor a script (stylesheets, images, fonts, feeds, search data).
RESOURCE_POLICY = "default-src 'none'; frame-ancestors 'none'"

#: The types that get the site's policy: a page, and a script (which may run as a worker).
SITE_POLICY_TYPES = frozenset({"text/html", "text/javascript", "application/javascript",
                               "application/x-javascript", "application/ecmascript", "text/ecmascript"})


def policy_for(content_type: str, site: str) -> str:
    """``site`` (the release's policy) for a page or a script, :data:`RESOURCE_POLICY` for any other file.

    The media type is the manifest's (parameters, case and spaces aside); any other type, an unusual one
    included, gets the policy that allows less.
    """
    media = content_type.partition(";")[0].strip().lower()
    return site if media in SITE_POLICY_TYPES else RESOURCE_POLICY


def inline_hash(content: bytes | str) -> str:
    """The CSP source (without quotes) allowing one inline block: ``sha256-<base64>``."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def site_policy(script_hashes: tuple[str, ...] | list[str] = (), style_hashes: tuple[str, ...] | list[str] = (),
                *, http: bool = True) -> str:
    """The policy of a community site: 'self' plus exactly the theme's inline blocks.

    ``http=False`` gives the form for a ``<meta>`` element (no ``frame-ancestors``, which browsers ignore
    there). A malformed hash is refused rather than copied into a header.
    """
    for value in (*script_hashes, *style_hashes):
        if not _HASH.match(value):
            raise ValueError(f"not a CSP sha256 source: {value!r}")
    script = " ".join(["'self'", WASM, *(f"'{h}'" for h in sorted(set(script_hashes)))])
    style = " ".join(["'self'", *(f"'{h}'" for h in sorted(set(style_hashes)))])
    policy = f"default-src 'self'; script-src {script}; style-src {style}; {_REST}"
    return f"{policy}; {FRAME_ANCESTORS}" if http else policy
