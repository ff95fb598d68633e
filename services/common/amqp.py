"""Publishing to RabbitMQ with confirms, a batch at a time, refusing silent drops.

Every message is persistent and `mandatory`: the broker returns a message that no
queue is bound for, and that return is an error here, never a silent loss. A batch
is sent in one go and then waits for all its confirms, instead of one round trip
per message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import amqp
from kombu import Connection

from services.common.topology import declare_topology

log = logging.getLogger(__name__)

CONFIRM_TIMEOUT_SECONDS = 30


class PublishFailed(Exception):
    """The broker did not take every message of a batch; publish it again."""


class Unroutable(PublishFailed):
    def __init__(self, exchange: str, routing_key: str) -> None:
        super().__init__(f"no queue is bound for {routing_key!r} on {exchange!r}")
        self.exchange = exchange
        self.routing_key = routing_key


@dataclass(frozen=True)
class OutgoingMessage:
    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    headers: dict[str, Any] = field(default_factory=dict)


def open_connection(amqp_uri: str, heartbeat: int = 0) -> amqp.Connection:
    """A raw py-amqp connection from a URI (kombu parses it)."""
    connection = Connection(amqp_uri, heartbeat=heartbeat, connect_timeout=5)
    connection.connect()
    return connection.connection


def declare_everything(amqp_uri: str) -> None:
    connection = open_connection(amqp_uri)
    try:
        declare_topology(connection.channel())
    finally:
        connection.close()


class ConfirmingPublisher:
    """One connection in confirm mode; safe to share between green threads."""

    def __init__(self, amqp_uri: str) -> None:
        self.amqp_uri = amqp_uri
        self._connection: amqp.Connection | None = None
        self._channel: Any = None
        self._lock = threading.Lock()
        self._next_tag = 1
        self._unconfirmed: set[int] = set()
        self._nacked = False
        self._returned: list[Unroutable] = []

    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send all messages and return once the broker has confirmed every one."""
        if not messages:
            return
        with self._lock:
            try:
                self._publish_and_wait(messages)
            except (OSError, amqp.exceptions.AMQPError) as error:
                if isinstance(error, PublishFailed):
                    raise
                self._discard_connection()
                raise PublishFailed(f"broker connection failed: {error}") from error

    def close(self) -> None:
        with self._lock:
            self._discard_connection()

    def _publish_and_wait(self, messages: Sequence[OutgoingMessage]) -> None:
        channel = self._ensure_channel()
        self._nacked = False
        self._returned = []
        for message in messages:
            channel.basic_publish(
                _amqp_message(message),
                exchange=message.exchange,
                routing_key=message.routing_key,
                mandatory=True,
            )
            self._unconfirmed.add(self._next_tag)
            self._next_tag += 1
        self._wait_for_confirms()
        if self._returned:
            raise self._returned[0]
        if self._nacked:
            raise PublishFailed("the broker refused part of the batch (nack)")

    def _wait_for_confirms(self) -> None:
        while self._unconfirmed:
            self._connection.drain_events(timeout=CONFIRM_TIMEOUT_SECONDS)

    def _ensure_channel(self) -> Any:
        if self._channel is None:
            self._connection = open_connection(self.amqp_uri)
            channel = self._connection.channel()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            channel.events["basic_return"].add(self._on_return)
            self._channel = channel
            self._next_tag = 1
            self._unconfirmed = set()
        return self._channel

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self._unconfirmed = {t for t in self._unconfirmed if t > delivery_tag}
        else:
            self._unconfirmed.discard(delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked = True
        self._on_ack(delivery_tag, multiple)

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, _msg) -> None:
        self._returned.append(Unroutable(exchange, routing_key))

    def _discard_connection(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # the connection is already broken; nothing to save
                log.debug("closing a broken broker connection failed", exc_info=True)


def _amqp_message(message: OutgoingMessage) -> amqp.Message:
    return amqp.Message(
        message.body,
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=2,
        message_id=message.message_id,
        application_headers=message.headers,
    )
