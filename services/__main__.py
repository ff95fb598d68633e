"""python -m services: run every built service, each in its own process.

Checks PostgreSQL and RabbitMQ first and stops at once, naming the address and
the setting, if either is unreachable. Stops all services when one of them
stops or on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from services.common.preflight import preflight
from services.common.settings import SettingError, load_settings

# Every service runs in a process of its own.
RUNNABLE = ("identity", "certificates", "reissue", "distribution", "notifications")
# The portal's pages and its gateway to the services' APIs (services/portal).
PORTAL_PORT = int(os.environ.get("XJCERT_PORTAL_HTTP_PORT") or 8080)


def main() -> None:
    try:
        settings = load_settings()
    except SettingError as error:
        sys.exit(str(error))
    preflight(settings)

    children = {
        name: subprocess.Popen([sys.executable, "-m", f"services.{name}"])
        for name in (*RUNNABLE, "portal")
    }
    for name in RUNNABLE:
        print(
            f"{name}: http://{settings.http_host}:{settings.http_port(name)}",
            flush=True,
        )
    print(f"RabbitMQ {settings.amqp_address}, PostgreSQL {settings.database}")
    print(f"Open the portal: http://{settings.http_host}:{PORTAL_PORT}/", flush=True)
    print("See it work: make demo   (Ctrl-C stops)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        _wait_for_first_exit(children)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        _stop(children)


def _wait_for_first_exit(children: dict[str, subprocess.Popen]) -> None:
    while True:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"{name} stopped (exit code {child.returncode})", flush=True)
                return
        time.sleep(0.5)


def _stop(children: dict[str, subprocess.Popen]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    for child in children.values():
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


if __name__ == "__main__":
    main()
