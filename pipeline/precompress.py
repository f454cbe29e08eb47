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
#: The settings trade a few per cent of bytes for a publication that stays about as fast as copying:
#: on mkdocs-material's templates here, brotli 5 gave 26.1 % of the size at 3.8 MB/s per core, brotli
#: 11 gave 23.0 % at 0.1 MB/s (38 times slower: hours for a theme change at 20,000 cables), gzip 9 the
#: same bytes as gzip 6 at a third of its speed.
GZIP_LEVEL = 6
BROTLI_QUALITY = 5


def is_text(content_type: str) -> bool:
    """True for the media types compression shrinks (the part before any ``;``, case-insensitive)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media.endswith(("+xml", "+json")) or media in TEXT_TYPES


def worth_compressing(entry: FileEntry) -> bool:
    """Whether a file is text and large enough to try (a cheap look at the manifest entry, no bytes read)."""
    return entry.size >= MIN_SIZE and is_text(entry.type)


def gzip_bytes(data: bytes) -> bytes:
    """gzip at :data:`GZIP_LEVEL`, with no file name and time 0 in its header: the same bytes for the
    same input."""
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


def brotli_bytes(data: bytes) -> bytes:
    """brotli at :data:`BROTLI_QUALITY`, in text mode."""
    return brotli.compress(data, mode=brotli.MODE_TEXT, quality=BROTLI_QUALITY)


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
