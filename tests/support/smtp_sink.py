"""A real SMTP server in a process of its own, keeping each message it accepts.

Run as `python -m tests.support.smtp_sink --port P --dir D`; tests use `SmtpSink`.
Recipients at refused.invalid are refused with 550, those at deferred.invalid with
451; every other message is written to D as <n>.eml, n counting from 1.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import threading
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.infrastructure import eventually
from tests.support.processes import ROOT, free_port

REFUSED_DOMAIN = "@refused.invalid"
DEFERRED_DOMAIN = "@deferred.invalid"


class SmtpSink:
    """The sink's process, started on a free port; a context manager."""

    def __init__(
        self,
        directory: Path,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.port = free_port()
        self.username = username
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SmtpSink:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "tests.support.smtp_sink"]
        command += ["--port", str(self.port), "--dir", str(self.directory)]
        if self.username is not None:
            command += ["--username", self.username, "--password", self.password or ""]
        with (self.directory / "sink.log").open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        eventually(self._accepting, timeout=30, what="the SMTP sink to accept")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def messages(self) -> list[EmailMessage]:
        """Every message accepted so far, in the order it arrived."""
        paths = sorted(self.directory.glob("*.eml"), key=lambda path: int(path.stem))
        return [_parsed(path.read_bytes()) for path in paths]

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _accepting(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = (self.directory / "sink.log").read_text(errors="replace")
            raise AssertionError(
                f"the SMTP sink exited with {self.process.returncode}:\n{log[-3000:]}"
            )
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False


def _parsed(content: bytes) -> EmailMessage:
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


class Recorder:
    """aiosmtpd handler: refuses the test domains, writes the rest to files.

    Its methods all run on the controller's one event loop, one at a time.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().endswith(REFUSED_DOMAIN):
            return "550 5.1.1 mailbox unavailable"
        if address.lower().endswith(DEFERRED_DOMAIN):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        # Written beside and renamed, so a reader never sees half a message.
        partial = self.directory / f"{self.count}.part"
        partial.write_bytes(envelope.original_content or envelope.content)
        os.replace(partial, self.directory / f"{self.count}.eml")
        return "250 2.0.0 accepted"


def _authenticator(username: str, password: str):
    expected = LoginPassword(username.encode(), password.encode())

    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        # Not handled here, so that aiosmtpd answers a failure with 535 itself.
        return AuthResult(success=auth_data == expected, handled=False)

    return authenticate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--username", help="require AUTH with these credentials")
    parser.add_argument("--password", default="")
    arguments = parser.parse_args()

    options = {}
    if arguments.username is not None:
        options = {
            "authenticator": _authenticator(arguments.username, arguments.password),
            "auth_required": True,
            # Tests speak plain SMTP on the loopback address.
            "auth_require_tls": False,
        }
    controller = Controller(
        Recorder(arguments.dir), hostname="127.0.0.1", port=arguments.port, **options
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    controller.start()
    try:
        stopping.wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
