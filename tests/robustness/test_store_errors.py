"""A SPARQL store that is down, at a wrong URL, refusing a query, slow, or not a store: one line, exit 2, nothing written."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kgpeft.cli import main
from tests.robustness.conftest import MAX_SECONDS, assert_refused, snapshot

COUNTRIES = Path(__file__).parents[2] / "kg" / "countries.ttl"


@contextmanager
def fake_store(status: int, body: bytes, delay: float = 0.0):
    """A loopback HTTP server answering every request with ``status`` and ``body`` after ``delay`` seconds."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up first (the timeout case)
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sparql"
    finally:
        server.shutdown()
        server.server_close()


def free_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/sparql"


def refuse(argv: list[str], capsys, folder: Path) -> tuple[str, float]:
    before = snapshot(folder)
    start = time.monotonic()
    code = main(argv)
    seconds = time.monotonic() - start
    return assert_refused(code, capsys, folder, before), seconds


def commands(url: str, tiny_checkpoint: Path, folder: Path) -> list[list[str]]:
    out = str(folder / "adapter")
    return [
        ["kg", "stats", url],
        ["fit", "--kg", url, "--base-model", str(tiny_checkpoint), "--output-dir", out, "--teacher", "oracle"],
        ["ask", "--kg", url, "--base-model", str(tiny_checkpoint), "--no-4bit", "Which region is Germany in?"],
        ["teacher", "fit", "--kg", url, "--teacher", "oracle", "--output", str(folder / "teacher")],
    ]


CASES = {
    "down": (None, "no SPARQL store answers there"),
    "sparql error": ((400, b"Parser error at 1:7\nexpected a variable", 0.0), "HTTP 400"),
    "server error": ((500, b"internal error", 0.0), "HTTP 500"),
    "not found": ((404, b"Not Found", 0.0), "check the endpoint path"),
    "not a store": ((200, b"<html>hello</html>", 0.0), "not SPARQL JSON results"),
    "slow": ((200, b"{}", 5.0), "did not answer within 1 s"),
}


@pytest.mark.parametrize("case", CASES)
def test_store_failures_are_one_line(case, tiny_checkpoint, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KGPEFT_SPARQL_TIMEOUT", "1")
    monkeypatch.chdir(tmp_path)
    server, expected = CASES[case]
    with fake_store(*server) if server else _just(free_port_url()) as url:
        for argv in commands(url, tiny_checkpoint, tmp_path):
            line, seconds = refuse(argv, capsys, tmp_path)
            assert expected in line and url in line, line
            assert seconds <= MAX_SECONDS, f"{argv[0]} took {seconds:.1f} s"


def test_wrong_path_on_a_real_store(sparql_store, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = sparql_store(COUNTRIES).replace("/query", "/nothing-here")
    line, _ = refuse(["kg", "stats", url], capsys, tmp_path)
    assert "HTTP 404" in line and "/query" in line


def test_a_bad_timeout_setting_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KGPEFT_SPARQL_TIMEOUT", "soon")
    line, _ = refuse(["kg", "stats", free_port_url()], capsys, tmp_path)
    assert "KGPEFT_SPARQL_TIMEOUT" in line


@contextmanager
def _just(value):
    yield value
