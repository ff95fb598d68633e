"""A stand-in for the exam authority: publishes exam results over plain AMQP.

It uses py-amqp directly, as an outside system would, not Nameko. Used by
`make demo`, the end-to-end tests and the benchmarks.

    python -m tools.exam_authority --candidates 50 --xpcc 5
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import amqp
from stdnum.cn import ric

EXCHANGE = "exam_authority.events"
ROUTING_KEY = "results_published"

SURNAMES = "王李张刘陈杨赵黄周吴马古热买阿艾"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "古丽", "买买提"]


@dataclass(frozen=True)
class Broker:
    uri: str

    def connect(self) -> amqp.Connection:
        parts = urlsplit(self.uri)
        vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        connection = amqp.Connection(
            host=f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}",
            userid=unquote(parts.username or "guest"),
            password=unquote(parts.password or "guest"),
            virtual_host=vhost,
        )
        connection.connect()
        return connection


def id_number(rng: random.Random) -> str:
    """A resident ID number with a valid checksum, for a made-up person."""
    born = date(1985, 1, 1).toordinal() + rng.randrange(0, 365 * 15)
    body = f"650102{date.fromordinal(born):%Y%m%d}{rng.randrange(1000):03d}"
    return body + ric.calc_check_digit(body + "0")  # it skips the last digit


def candidate(rng: random.Random, number: str, place: str) -> dict[str, Any]:
    return {
        "id_number": id_number(rng),
        "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
        "certificate_number": number,
        "registration_place": place,
    }


def results_message(
    session_id: str,
    candidates: list[dict[str, Any]],
    qualification_code: str = "economist",
    level: str = "中级",
    exam_end_date: str = "2025-11-09",
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "type": ROUTING_KEY,
        "version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": "exam_authority",
        "aggregate_id": session_id,
        "data": {
            "exam_session": {
                "session_id": session_id,
                "qualification_code": qualification_code,
                "level": level,
                "exam_end_date": exam_end_date,
            },
            "candidates": candidates,
        },
    }


def sample_candidates(
    session_id: str, count: int, xpcc: int = 0, seed: int = 1
) -> list[dict[str, Any]]:
    rng = random.Random(f"{session_id}/{seed}")
    return [
        candidate(rng, f"{session_id}-{i:06d}", "xpcc" if i < xpcc else "xinjiang")
        for i in range(count)
    ]


def publish(
    broker: Broker,
    body: bytes | dict[str, Any],
    content_type: str = "application/json",
    routing_key: str = ROUTING_KEY,
    exchange: str = EXCHANGE,
) -> None:
    """Publish one message with a confirm, as the exam authority would."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    connection = broker.connect()
    try:
        channel = connection.channel(channel_id=None)
        channel.confirm_select()
        message = amqp.Message(raw, content_type=content_type, delivery_mode=2)
        channel.basic_publish_confirm(
            message, exchange=exchange, routing_key=routing_key, mandatory=True
        )
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--amqp-uri", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--session", default=f"demo-{uuid.uuid4().hex[:8]}")
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--xpcc", type=int, default=2, help="how many from XPCC")
    parser.add_argument("--qualification", default="economist")
    parser.add_argument("--level", default="中级")
    args = parser.parse_args()

    candidates = sample_candidates(args.session, args.candidates, args.xpcc)
    message = results_message(args.session, candidates, args.qualification, args.level)
    publish(Broker(args.amqp_uri), message)
    print(f"published exam session {args.session}: {len(candidates)} candidates")
    print("look one up (the development switch must be on):")
    print(
        "  curl -H 'X-Dev-Applicant-Id-Number: "
        f"{candidates[-1]['id_number']}' http://127.0.0.1:8002/v1/me/certificates"
    )


if __name__ == "__main__":
    main()
