"""The offline demo: bundled sample feeds served on 127.0.0.1, the real pipeline run once.

``make demo`` (``python -m demo``) needs no network. It:

1. serves ``demo/site/`` from a stdlib HTTP server on 127.0.0.1 (a free port, in a thread):
   an RSS 2.0, an Atom and a JSON Feed whose items link to sample article pages on the same
   server; ``{BASE}`` in any served file becomes the server's address. One item links to a
   page that does not exist, so the pipeline falls back to that item's feed summary;
2. writes a config into a working directory (feeds on that server, a SQLite database there,
   ``allow_private_addresses: true`` because the server is on loopback);
3. runs the real CLI as subprocesses: ``pipeline run --once``, then ``pipeline flags list``.

The sample pages are written to exercise the matcher: stories about the December 2024 US
designations must flag; a Ghana story about the NDC party, a climate story about NDCs, a
cricket story whose sidebar lists sanctions headlines, a story about a baker named Akhtar and a
court story citing suit No. 13382 must not. The Urdu feed has the designations story as Urdu
outlets wrote it (it flags, with the names as written and the canonical names in English) and
the National Development Council (نیشنل ڈویلپمنٹ کونسل, "این ڈی سی"), which must not; the demo
prints the Urdu flags on their own at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SITE_DIR = Path(__file__).resolve().with_name("site")
BASE_PLACEHOLDER = "{BASE}"

# (feed name in the config, path on the demo server)
DEMO_FEEDS = (
    ("The Indus Chronicle (RSS 2.0)", "/feeds/chronicle.rss"),
    ("Meridian Security Review (Atom)", "/feeds/meridian.atom"),
    ("Asia Newswire (JSON Feed)", "/feeds/wire.json"),
    ("Sindh Times Urdu (RSS 2.0)", "/feeds/urdu.rss"),
)
URDU_FEED = DEMO_FEEDS[-1][0]

_CONTENT_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}

_NOT_FOUND_PAGE = b"<!DOCTYPE html><html><head><title>404 Not Found</title></head>" + (
    b"<body><h1>Page not found</h1></body></html>"
)


class DemoError(Exception):
    """A step of the demo failed; ``exit_status`` is what ``python -m demo`` returns."""

    def __init__(self, message: str, *, exit_status: int = 1) -> None:
        super().__init__(message)
        self.exit_status = exit_status


class _SiteServer(ThreadingHTTPServer):
    """Serves one directory on 127.0.0.1, with ``{BASE}`` replaced by its own address."""

    daemon_threads = True

    def __init__(self, site_dir: Path) -> None:
        self.site_dir = site_dir.resolve()
        super().__init__(("127.0.0.1", 0), _SiteHandler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def render(self, url_path: str) -> tuple[bytes, str] | None:
        """The body and content type for a request path, or None when there is no such file."""
        relative = url_path.split("?", 1)[0].lstrip("/")
        target = (self.site_dir / relative).resolve()
        content_type = _CONTENT_TYPES.get(target.suffix)
        # The resolved path must stay inside the site: no ../ escapes.
        if content_type is None or not target.is_relative_to(self.site_dir):
            return None
        if not target.is_file():
            return None
        text = target.read_text(encoding="utf-8").replace(BASE_PLACEHOLDER, self.base_url)
        return text.encode("utf-8"), content_type


class _SiteHandler(BaseHTTPRequestHandler):
    server: _SiteServer

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        rendered = self.server.render(self.path)
        status, (body, content_type) = (
            (200, rendered) if rendered else (404, (_NOT_FOUND_PAGE, _CONTENT_TYPES[".html"]))
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the terminal for the pipeline's own output."""


@contextmanager
def serve_site(site_dir: Path = SITE_DIR) -> Iterator[str]:
    """Serve ``site_dir`` on 127.0.0.1 (a free port) in a thread; yield the base URL."""
    server = _SiteServer(site_dir)
    thread = threading.Thread(target=server.serve_forever, name="demo-site", daemon=True)
    thread.start()
    try:
        yield server.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def write_config(workdir: Path, base_url: str) -> Path:
    """Write the demo's feeds.yaml into ``workdir`` and return its path."""
    config = {
        "database": f"sqlite:///{(workdir / 'demo.db').resolve()}",
        # The demo server is on loopback, which the address guard refuses by default.
        # host_delay 0: every demo site is this one server; no need to be polite to ourselves.
        "fetch": {"allow_private_addresses": True, "host_delay": 0},
        "feeds": [
            {"name": name, "url": base_url + path, "tags": ["demo"]} for name, path in DEMO_FEEDS
        ],
    }
    path = workdir / "feeds.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def pipeline_env() -> dict[str, str]:
    """The environment for the ``pipeline`` subprocesses.

    Variables that would point them at another config or database are removed, and loopback
    is exempted from any HTTP proxy the shell has configured.
    """
    overrides = ("PIPELINE_CONFIG", "PIPELINE_DATABASE_URL")
    env = {name: value for name, value in os.environ.items() if name not in overrides}
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
    env["NO_PROXY"] = env["no_proxy"] = no_proxy
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


def pipeline_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", "--config", str(config), *args]


def run_pipeline(config: Path, *args: str) -> None:
    """Run one ``pipeline`` command, its output streaming to this terminal."""
    sys.stdout.flush()
    command = pipeline_command(config, *args)
    # The command is built from sys.executable and fixed arguments: nothing untrusted.
    result = subprocess.run(command, env=pipeline_env(), cwd=config.parent, check=False)  # noqa: S603
    if result.returncode != 0:
        raise DemoError(
            f"`pipeline {' '.join(args)}` failed with exit status {result.returncode}",
            exit_status=result.returncode,
        )


def run_demo(workdir: Path) -> Path:
    """Serve the sample site, poll its feeds once into ``workdir``, print the flags.

    Returns the config path, so the database can be queried afterwards with
    ``pipeline --config PATH ...``.
    """
    workdir = workdir.resolve()  # the subprocesses run from inside it
    with serve_site() as base_url:
        print(f"Sample site: {base_url}/ (feeds: {', '.join(p for _, p in DEMO_FEEDS)})")
        config = write_config(workdir, base_url)
        print("\n$ pipeline run --once")
        run_pipeline(config, "run", "--once")
    print("\n$ pipeline flags list")
    run_pipeline(config, "flags", "list")
    print(f"\n$ pipeline flags list --feed '{URDU_FEED}'   # the Urdu flags")
    run_pipeline(config, "flags", "list", "--feed", URDU_FEED)
    return config
