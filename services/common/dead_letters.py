"""python -m services.common.dead_letters: inspect and replay dead-lettered messages.

    counts                     how many dead letters wait for each consumer queue
    list   QUEUE [--limit N]   show what waits in QUEUE.dead and why
    replay QUEUE [--limit N]   send messages from QUEUE.dead back to QUEUE

Replay moves each message with a broker confirm before acknowledging it, so a
failure halfway loses nothing (at worst one message is sent twice, and consumers
drop duplicates). Fix the cause first: a replayed message that still breaks its
contract comes straight back.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from services.common.amqp import ConfirmingPublisher, OutgoingMessage, open_connection
from services.common.settings import load_settings
from services.common.topology import (
    ATTEMPTS_HEADER,
    DEAD_AT_HEADER,
    ORIGIN_HEADER,
    REASON_CODE_HEADER,
    REASON_HEADER,
    SUBSCRIPTIONS,
)

DEAD_HEADERS = {
    ATTEMPTS_HEADER,
    DEAD_AT_HEADER,
    ORIGIN_HEADER,
    REASON_CODE_HEADER,
    REASON_HEADER,
}


@dataclass(frozen=True)
class DeadLetter:
    message_id: str | None
    reason_code: str | None
    reason: str | None
    dead_at: str | None
    attempts: int | None
    size: int


@contextmanager
def _channel(amqp_uri: str) -> Iterator[Any]:
    connection = open_connection(amqp_uri)
    try:
        yield connection.channel()
    finally:
        connection.close()


def list_dead_letters(amqp_uri: str, queue: str, limit: int = 100) -> list[DeadLetter]:
    """Peek at dead letters; they stay in the queue (unacknowledged, then returned)."""
    found = []
    with _channel(amqp_uri) as channel:
        for _ in range(limit):
            message = channel.basic_get(_dead_queue(queue), no_ack=False)
            if message is None:
                break
            found.append(_describe(message))
    return found


def dead_letter_counts(amqp_uri: str) -> dict[str, int]:
    """Dead letters waiting for each consumer queue of the topology."""
    with _channel(amqp_uri) as channel:
        return {
            queue: channel.queue_declare(_dead_queue(queue), passive=True).message_count
            for queue in sorted(SUBSCRIPTIONS)
        }


def replay_dead_letters(amqp_uri: str, queue: str, limit: int | None = None) -> int:
    """Move dead letters back to their queue; return how many were moved.

    Only those waiting when it starts: a replayed message that fails again at
    once is back in the dead letters before the last one is moved, and must not
    be moved round and round.
    """
    publisher = ConfirmingPublisher(amqp_uri)
    moved = 0
    try:
        with _channel(amqp_uri) as channel:
            dead_queue = _dead_queue(queue)
            waiting = channel.queue_declare(dead_queue, passive=True).message_count
            limit = waiting if limit is None else min(limit, waiting)
            while moved < limit:
                message = channel.basic_get(dead_queue, no_ack=False)
                if message is None:
                    break
                publisher.publish([_back_to(queue, message)])
                channel.basic_ack(message.delivery_tag)
                moved += 1
    finally:
        publisher.close()
    return moved


def _dead_queue(queue: str) -> str:
    if queue not in SUBSCRIPTIONS:
        known = ", ".join(sorted(SUBSCRIPTIONS))
        raise SystemExit(f"unknown queue {queue!r}; known queues: {known}")
    return SUBSCRIPTIONS[queue].dead_letter_queue


def _headers(message: Any) -> dict[str, Any]:
    return dict(message.properties.get("application_headers") or {})


def _describe(message: Any) -> DeadLetter:
    headers = _headers(message)
    return DeadLetter(
        message_id=message.properties.get("message_id"),
        reason_code=headers.get(REASON_CODE_HEADER),
        reason=headers.get(REASON_HEADER),
        dead_at=headers.get(DEAD_AT_HEADER),
        attempts=headers.get(ATTEMPTS_HEADER),
        size=len(message.body),
    )


def _back_to(queue: str, message: Any) -> OutgoingMessage:
    headers = {k: v for k, v in _headers(message).items() if k not in DEAD_HEADERS}
    return OutgoingMessage(
        exchange="",
        routing_key=queue,
        body=message.body,
        message_id=message.properties.get("message_id") or "",
        headers=headers,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["counts", "list", "replay"])
    parser.add_argument("queue", nargs="?", help="the consumer's queue, without .dead")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    amqp_uri = load_settings().amqp_uri
    if args.action != "counts" and not args.queue:
        parser.error(f"{args.action} needs the consumer's queue")

    if args.action == "counts":
        for queue, count in dead_letter_counts(amqp_uri).items():
            print(f"{count:8d}  {queue}.dead")
    elif args.action == "list":
        letters = list_dead_letters(amqp_uri, args.queue, args.limit or 100)
        for letter in letters:
            print(
                f"{letter.dead_at}  {letter.reason_code}  id={letter.message_id}  "
                f"attempts={letter.attempts}  {letter.size} bytes\n    {letter.reason}"
            )
        print(f"{len(letters)} dead letter(s) shown in {args.queue}.dead")
    else:
        moved = replay_dead_letters(amqp_uri, args.queue, args.limit)
        print(f"{moved} message(s) sent back to {args.queue}")


if __name__ == "__main__":
    main()
