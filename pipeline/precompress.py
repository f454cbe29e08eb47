"""Precompressed representations of a site's text files: gzip and brotli, made once at publication.

The gate (and nginx in front of it) sends a member the smallest representation their browser
accepts; compressing each file once here, at the highest settings, costs less than compressing it
at every request, and the bytes are content-addressed blobs like the files themselves
(docs/storage.md). Only text is compressed (HTML, CSS, JavaScript, JSON, XML, SVG, feeds, sitemaps);
images, fonts and Pagefind's fragments are compressed already. A representation is kept only when it
saves something worth a blob (:func:`worth_keeping`).

Both outputs are deterministic (gzip without a file name and with time 0; brotli has neither), so
publishing the same bytes again produces the same blobs, and the store finds them already there.
"""

from __future__ import annotations

import gzip

import brotli

from gate.store import ENCODINGS, FileEntry

#: Media types (before any ``;``) worth compressing, besides every ``text/*`` and ``*+xml``/``*+json``.
TEXT_TYPES = frozenset({"application/json", "application/xml", "application/javascript",
                        "application/manifest+json", "application/atom+xml", "application/rss+xml",
                        "image/svg+xml", "application/ld+json"})
#: Smaller files are sent as they are: a compressed copy would save less than a packet.
MIN_SIZE = 256
#: Brotli's best quality (11) runs at 0.06 to 0.4 MB/s on one core here, quality 9 about 5x faster
#: for 5 to 11 % more bytes (measured on the theme's scripts and stylesheets). Pages and the theme's
#: files stay at 11; larger files (a search index rewritten at every edit, the theme's word lists)
#: take 9, so an edit's publication is not held up by one file.
BROTLI_BEST_UP_TO = 256 << 10


def is_text(content_type: str) -> bool:
    """True for the media types compression shrinks (the part before any ``;``, case-insensitive)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media.endswith(("+xml", "+json")) or media in TEXT_TYPES


def worth_compressing(entry: FileEntry) -> bool:
    """Whether a file is text and large enough to try (a cheap look at the manifest entry, no bytes read)."""
    return entry.size >= MIN_SIZE and is_text(entry.type)


def gzip_bytes(data: bytes) -> bytes:
    """gzip at level 9, with no file name and time 0 in its header: the same bytes for the same input."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def brotli_bytes(data: bytes) -> bytes:
    """brotli at quality 11 (9 above :data:`BROTLI_BEST_UP_TO`, 256 KiB), in text mode."""
    quality = 11 if len(data) <= BROTLI_BEST_UP_TO else 9
    return brotli.compress(data, mode=brotli.MODE_TEXT, quality=quality)


def worth_keeping(compressed: int, identity: int) -> bool:
    """A representation earns its blob when it saves at least 5 % and at least 64 bytes."""
    return compressed <= identity - max(64, identity // 20)


def precompress(data: bytes, content_type: str) -> dict[str, bytes]:
    """The representations of ``data`` worth keeping, by coding name ("br", "gzip"); {} for a file
    that is not text, too small, or does not shrink. Brotli is dropped when it is not smaller than gzip."""
    if len(data) < MIN_SIZE or not is_text(content_type):
        return {}
    out = {}
    gz = gzip_bytes(data)
    if worth_keeping(len(gz), len(data)):
        out["gzip"] = gz
    br = brotli_bytes(data)
    if worth_keeping(len(br), len(data)) and ("gzip" not in out or len(br) < len(gz)):
        out["br"] = br
    return {name: out[name] for name in ENCODINGS if name in out}
