"""The portal as a holder sees it: the gateway process, and Chromium driving it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.support.infrastructure import eventually
from tests.support.processes import ROOT, ServiceProcess, free_port

SCREENSHOTS = ROOT / "test-results" / "screenshots"


class GatewayProcess:
    """`python -m services.portal`, passing API calls to the given services."""

    def __init__(self, services: list[ServiceProcess], environment: dict, log: Path):
        self.port = free_port()
        self.environment = {
            **os.environ,
            **environment,
            "XJCERT_PORTAL_HTTP_PORT": str(self.port),
            **{
                f"XJCERT_{service.name.upper()}_HTTP_PORT": str(service.port)
                for service in services
            },
        }
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GatewayProcess:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.portal"],
                cwd=ROOT,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        eventually(self._ready, timeout=30, what="the portal to answer")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def _ready(self) -> bool:
        try:
            return requests.get(self.url + "/guide.json", timeout=2).ok
        except requests.ConnectionError:
            return False


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise AssertionError(
            "the browser tests need Chromium: apt-get install chromium "
            "(.ci/run installs it)"
        )
    return found


@contextmanager
def browser_page(base_url: str, phone: bool = False) -> Iterator:
    """A fresh headless Chromium page on the portal; a phone's screen if asked."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox"]
        )
        viewport = {"width": 390, "height": 844} if phone else None
        context = browser.new_context(
            base_url=base_url, locale="zh-CN", viewport=viewport
        )
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
