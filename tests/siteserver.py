"""Built sites served on 127.0.0.1 as the gate serves them, minus membership: each site under
/c/<community>/, with the Content-Security-Policy the gate sends (the site's on its pages and scripts,
the one that runs nothing on every other file: gate/csp.py policy_for) and its 404 page for a missing
path. For the browser tests and the search benchmark."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

from gate.csp import policy_for, site_policy


class _GateLike(http.server.SimpleHTTPRequestHandler):
    """/c/<community>/<path> from <out>/<community>/<path>."""

    def __init__(self, *args, out: Path, **kwargs):
        self.out = out
        super().__init__(*args, directory=str(out), **kwargs)

    def log_message(self, *args):
        pass

    def _community(self) -> str:
        parts = self.path.split("?")[0].split("/")
        return parts[2] if len(parts) > 3 and parts[1] == "c" else ""

    def translate_path(self, path):
        community = self._community()
        rest = path.split("?")[0].split("/", 3)[3] if community else ""
        return str(self.out / community / rest) if community else str(self.out / ".none")

    def send_header(self, keyword, value):
        if keyword.lower() == "content-type":
            self.content_type = value
        super().send_header(keyword, value)

    def end_headers(self):
        csp = self.out / self._community() / ".diplomatie/csp.json"
        if self._community() and csp.is_file():  # a build from before the policy file has none
            code = json.loads(csp.read_text())
            site = site_policy(code["script_hashes"], code["style_hashes"])
            self.send_header("Content-Security-Policy", policy_for(getattr(self, "content_type", ""), site))
        self.content_type = ""  # the next request on this connection sends its own
        super().end_headers()

    def send_error(self, code, message=None, explain=None):
        page = self.out / self._community() / "404.html"
        if code != 404 or not self._community() or not page.is_file():
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def serving(out: Path) -> Iterator[str]:
    """Serve the sites built in ``out`` (one folder per community) while the block runs; yields the
    base URL (``http://127.0.0.1:<port>``)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_GateLike, out=out))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
