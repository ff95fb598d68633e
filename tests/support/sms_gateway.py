"""An SMS gateway stand-in in a process of its own: `POST /messages` with basic auth.

Run as `python -m tests.support.sms_gateway --port P --dir D --username U
--password W`; tests use `SmsGatewayStandIn`. Each accepted message is a line of
D/received.jsonl, each refused attempt (bad auth, bad body, or a failure asked for
through `POST /control`) a line of D/refused.jsonl.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import signal
import socket
import subprocess
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from tests.support.infrastructure import eventually
from tests.support.processes import ROOT, free_port

FIELDS = ("message_id", "mobile", "text")


class SmsGatewayStandIn:
    """The stand-in's process, started on a free port; a context manager."""

    def __init__(
        self,
        directory: Path,
        username: str = "xjcert",
        password: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.port = free_port()
        self.username = username
        self.password = password or secrets.token_urlsafe(12)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/messages"

    def start(self) -> SmsGatewayStandIn:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "tests.support.sms_gateway"]
        command += ["--port", str(self.port), "--dir", str(self.directory)]
        command += ["--username", self.username, "--password", self.password]
        with (self.directory / "gateway.log").open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        eventually(self._accepting, timeout=30, what="the SMS gateway to accept")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def received(self) -> list[dict[str, Any]]:
        """Accepted messages: the JSON body plus `idempotency_key`, in order."""
        return _lines(self.directory / "received.jsonl")

    def refused(self) -> list[dict[str, Any]]:
        """Refused attempts: `status`, `idempotency_key` and `body`, in order."""
        return _lines(self.directory / "refused.jsonl")

    def fail_next(self, n: int, status: int = 503) -> None:
        """The next `n` requests to /messages are answered with `status`."""
        response = requests.post(
            f"http://127.0.0.1:{self.port}/control",
            json={"fail_next": n, "status": status},
            timeout=5,
        )
        response.raise_for_status()

    def __enter__(self) -> SmsGatewayStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _accepting(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = (self.directory / "gateway.log").read_text(errors="replace")
            raise AssertionError(
                f"the SMS gateway exited with {self.process.returncode}:\n"
                + log[-3000:]
            )
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


class Gateway:
    """What the server remembers: its credentials, the failures asked for, files."""

    def __init__(self, directory: Path, username: str, password: str) -> None:
        self.directory = directory
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.authorization = f"Basic {token}"
        self.failures_left = 0
        self.failure_status = 503
        self.lock = threading.Lock()

    def take_failure(self) -> int | None:
        with self.lock:
            if self.failures_left <= 0:
                return None
            self.failures_left -= 1
            return self.failure_status

    def record(self, name: str, entry: dict[str, Any]) -> None:
        with self.lock, (self.directory / name).open("a", encoding="utf-8") as file:
            file.write(json.dumps(entry, ensure_ascii=False) + "\n")


class Handler(BaseHTTPRequestHandler):
    gateway: Gateway  # set on a subclass made for each server

    def do_POST(self) -> None:
        if self.path == "/messages":
            self._message()
        elif self.path == "/control":
            self._control()
        else:
            self._answer(HTTPStatus.NOT_FOUND, {"error": "no such path"})

    def _message(self) -> None:
        key = self.headers.get("Idempotency-Key")
        body = self._body()
        status = self._refusal(body)
        if status is not None:
            entry = {"status": int(status), "idempotency_key": key, "body": body}
            self.gateway.record("refused.jsonl", entry)
            self._answer(status, {"status": "refused"})
            return
        self.gateway.record("received.jsonl", {**body, "idempotency_key": key})
        self._answer(HTTPStatus.OK, {"status": "accepted"})

    def _refusal(self, body: Any) -> int | None:
        if self.headers.get("Authorization") != self.gateway.authorization:
            return HTTPStatus.UNAUTHORIZED
        failure = self.gateway.take_failure()
        if failure is not None:
            return failure
        if not isinstance(body, dict) or not all(
            isinstance(body.get(field), str) for field in FIELDS
        ):
            return HTTPStatus.BAD_REQUEST
        return None

    def _control(self) -> None:
        body = self._body()
        with self.gateway.lock:
            self.gateway.failures_left = int(body["fail_next"])
            self.gateway.failure_status = int(body.get("status", 503))
        self._answer(HTTPStatus.OK, {"status": "ok"})

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return None

    def _answer(self, status: int, body: dict[str, str]) -> None:
        content = json.dumps(body).encode()
        self.send_response(status)
        if status == HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", 'Basic realm="sms"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the files are the record."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    arguments = parser.parse_args()

    gateway = Gateway(arguments.dir, arguments.username, arguments.password)
    handler = type("GatewayHandler", (Handler,), {"gateway": gateway})
    server = ThreadingHTTPServer(("127.0.0.1", arguments.port), handler)

    def stop(signum: int, frame: object) -> None:
        # shutdown() waits for serve_forever to return, so not on this thread.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with server:
        server.serve_forever()


if __name__ == "__main__":
    main()
