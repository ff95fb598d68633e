"""Messages from outside systems, published raw on the real broker, and what the
running product made of them: dead letters with their reasons, rows applied,
metrics. Shared by the poison, fuzzing and wrong-exchange tests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import amqp

from services.common import dead_letters
from tests.support.infrastructure import (
    ScratchDatabase,
    ScratchVhost,
    environment_for,
    eventually,
)
from tests.support.privacy import assert_no_personal_data
from tests.support.processes import ROOT, ServiceProcess
from tools.exam_authority import Broker

ROUTED = "routed"
RETURNED = "returned"


@dataclass
class RunningProduct:
    """Services started once for a whole test module, on their own database and
    virtual host: starting them per test would not fit the time budget."""

    log_dir: Path
    database: ScratchDatabase = field(default_factory=ScratchDatabase)
    vhost: ScratchVhost = field(default_factory=ScratchVhost)
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def environment(self) -> dict[str, str]:
        return environment_for(
            self.database,
            self.vhost,
            XJCERT_MAX_DELIVERY_ATTEMPTS="3",
            XJCERT_MATERIALS_DIR=str(self.log_dir / "materials"),
        )

    def start(self, *names: str) -> RunningProduct:
        for name in names:
            self.services[name] = ServiceProcess(
                name, self.environment, self.log_dir / f"{name}.log"
            )
        # In parallel: each start mostly waits for imports and the first probe.
        with ThreadPoolExecutor(len(names)) as pool:
            list(pool.map(lambda name: self.services[name].start(), names))
        return self

    def stop(self) -> None:
        with ThreadPoolExecutor(max(1, len(self.services))) as pool:
            list(pool.map(lambda service: service.stop(), self.services.values()))
        try:
            for service in self.services.values():
                assert_no_personal_data(service.log_text(), service.name)
        finally:
            self.database.drop()
            self.vhost.drop()

    def ready(self, name: str) -> bool:
        return self.services[name].get("/health/ready").status_code == 200

    def scalar(self, query: str, *params: Any) -> Any:
        return self.database.scalar(query, *params)

    def operator(self, *args: str) -> str:
        """Run an operator command (`python -m ...`) against this product."""
        finished = subprocess.run(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env={**os.environ, **self.environment},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert finished.returncode == 0, finished.stdout + finished.stderr
        return finished.stdout

    def replay(self, queue: str) -> str:
        return self.operator("services.common.dead_letters", "replay", queue)

    def dead_letters(self, queue: str) -> list[dead_letters.DeadLetter]:
        return dead_letters.list_dead_letters(self.vhost.amqp_uri, queue)

    def dead_lettered_total(self, service: str, queue: str) -> float:
        """The service's own count of messages it moved to `queue`.dead."""
        return self._counted(service, "events_dead_lettered_total", queue)

    def consumed_total(self, service: str, queue: str) -> float:
        """Messages of `queue` the service settled, whatever the outcome."""
        return self._counted(service, "events_consumed_total", queue)

    def _counted(self, service: str, metric: str, queue: str) -> float:
        text = self.services[service].get("/metrics").text
        pattern = re.compile(
            rf'^{service}_{metric}\{{[^}}]*queue="{re.escape(queue)}"'
            r"[^}]*\}\s+([0-9.e+]+)$",
            re.MULTILINE,
        )
        return sum(float(value) for value in pattern.findall(text))


@dataclass(frozen=True)
class Published:
    message_id: str
    outcome: str  # ROUTED, or RETURNED when no queue is bound for it


def publish_raw(
    amqp_uri: str,
    exchange: str,
    routing_key: str,
    bodies: list[bytes | dict[str, Any]],
    content_type: str | None = "application/json",
) -> list[Published]:
    """Publish each body with a confirm and `mandatory`, as an outside system
    must; a body the broker returns as unroutable is reported, not raised."""
    connection = Broker(amqp_uri).connect()
    returned: list[str] = []
    published = []
    try:
        channel = connection.channel()
        channel.confirm_select()
        channel.events["basic_return"].add(
            lambda _exc, _exchange, _key, message: returned.append(
                message.properties.get("message_id")
            )
        )
        for body in bodies:
            message_id = str(uuid.uuid4())
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            properties = {"content_type": content_type} if content_type else {}
            channel.basic_publish_confirm(
                amqp.Message(raw, delivery_mode=2, message_id=message_id, **properties),
                exchange=exchange,
                routing_key=routing_key,
                mandatory=True,
            )
            outcome = RETURNED if message_id in returned else ROUTED
            published.append(Published(message_id, outcome))
    finally:
        connection.close()
    return published


def dead_letter_of(
    product: RunningProduct, queue: str, message_id: str, timeout: float = 60
) -> dead_letters.DeadLetter:
    """Wait until the message waits in `queue`.dead; return it as listed."""

    def found() -> dead_letters.DeadLetter | None:
        for letter in product.dead_letters(queue):
            if letter.message_id == message_id:
                return letter
        return None

    return eventually(found, timeout=timeout, what=f"{message_id} in {queue}.dead")
