"""Fixtures for Hookwire's end-to-end tests: a real server process and a webhook receiver.

`hookwire` starts the binary (env `HOOKWIRE_BIN`, default the debug build) on a free port with
a fresh SQLite database and yields its URL and the admin token it prints on first start.
`receiver` is a local HTTP server that records every POST it gets; tests wait on it with
`receiver.wait_for(...)` instead of sleeping.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Dict, List, Optional, TypeVar

import pytest

DEFAULT_BIN = "/work/main/target/debug/hookwire"
STARTUP_TIMEOUT_S = 30
SHUTDOWN_TIMEOUT_S = 20
POLL_INTERVAL_S = 0.05

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], timeout: float = 20, what: str = "condition"
) -> T:
    """Polls `condition` every 50 ms until it returns something truthy, and returns that.

    Raises AssertionError naming `what` (and the last value seen) on timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; last value: {value!r}"
            )
        time.sleep(POLL_INTERVAL_S)


# --------------------------------------------------------------------------------------------
# Hookwire server process
# --------------------------------------------------------------------------------------------


@dataclass
class Hookwire:
    url: str
    token: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "<no server log>"
        return "\n".join(text.splitlines()[-lines:])


_URL_LINE = re.compile(r"^Hookwire listening on (http://\S+)")
_TOKEN_LINE = re.compile(r"^Admin token \(shown once; store it now\): (hw_\S+)")


def _pump_lines(stream, lines: "queue.Queue[Optional[str]]") -> None:
    """Moves the server's stdout lines into a queue (None at EOF) so reads can time out."""
    for raw in iter(stream.readline, b""):
        lines.put(raw.decode(errors="replace").rstrip("\r\n"))
    lines.put(None)


@pytest.fixture(scope="session")
def hookwire(tmp_path_factory: pytest.TempPathFactory):
    binary = os.environ.get("HOOKWIRE_BIN", DEFAULT_BIN)
    if not os.path.exists(binary):
        pytest.fail(f"Hookwire binary not found at {binary} (set HOOKWIRE_BIN)")
    data_dir = tmp_path_factory.mktemp("hookwire")
    log_path = data_dir / "hookwire.log"
    log_file = open(log_path, "wb")
    env = {k: v for k, v in os.environ.items() if k != "HOOKWIRE_ADMIN_TOKEN"}
    process = subprocess.Popen(
        [
            binary,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            f"sqlite://{data_dir}/hookwire.db",
            "--allow-private-networks",
        ],
        stdout=subprocess.PIPE,
        stderr=log_file,  # logs go to a file so a full pipe can never stall the server
        env=env,
    )
    lines: "queue.Queue[Optional[str]]" = queue.Queue()
    threading.Thread(
        target=_pump_lines, args=(process.stdout, lines), daemon=True
    ).start()

    url = token = None
    seen: List[str] = []
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while url is None or token is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError("timed out waiting for the listen URL and admin token")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"server exited early with code {process.wait()}")
            seen.append(line)
            if match := _URL_LINE.match(line):
                url = match.group(1)
            elif match := _TOKEN_LINE.match(line):
                token = match.group(1)
    except Exception as error:
        process.kill()
        process.wait()
        log_file.close()
        pytest.fail(
            f"Hookwire did not start: {error}\nstdout: {seen}\n"
            f"log:\n{log_path.read_text(errors='replace')[-4000:]}"
        )

    server = Hookwire(url=url, token=token, process=process, log_path=log_path)
    yield server

    # Graceful stop: SIGTERM, then the process must exit 0 on its own.
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        log_file.close()
        pytest.fail(f"Hookwire did not stop within {SHUTDOWN_TIMEOUT_S}s of SIGTERM")
    log_file.close()
    assert code == 0, f"Hookwire exited with {code}\n{server.log_tail()}"


# --------------------------------------------------------------------------------------------
# Webhook receiver
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One POST the receiver got."""

    path: str
    headers: Dict[str, str]  # lowercase names
    body: bytes


class Receiver:
    """Records POSTs; answers 200 `ok` unless `status_by_path[path]` says otherwise."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: List[Received] = []
        self.status_by_path: Dict[str, int] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        """The full URL of `path` (which starts with '/') on this receiver."""
        return self.base_url + path

    def received(self, path: Optional[str] = None) -> List[Received]:
        """A snapshot of what arrived so far, optionally only for one path."""
        with self._lock:
            items = list(self._received)
        return [r for r in items if path is None or r.path == path]

    def wait_for(
        self,
        predicate: Callable[[List[Received]], T],
        timeout: float = 20,
        what: str = "deliveries",
    ) -> T:
        """Polls the recorded list every 50 ms until `predicate(list)` is truthy; returns it."""
        return wait_until(lambda: predicate(self.received()), timeout, what)

    def wait_for_count(self, path: str, count: int, timeout: float = 20) -> List[Received]:
        """Waits until at least `count` POSTs reached `path`; returns them all."""
        return self.wait_for(
            lambda items: (
                [r for r in items if r.path == path]
                if sum(r.path == path for r in items) >= count
                else None
            ),
            timeout,
            f"{count} POST(s) to {path}",
        )

    def _record(self, item: Received) -> int:
        with self._lock:
            self._received.append(item)
            return self.status_by_path.get(item.path, 200)

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                status = receiver._record(Received(self.path, headers, body))
                reply = b"ok" if status < 400 else b"failing on purpose"
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        return Handler

    def start(self) -> "Receiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()
