"""Prometheus metrics shared by every service, named <service>_<thing>_total."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class SpineMetrics:
    published: Counter
    consumed: Counter
    dead_lettered: Counter
    retried: Counter
    unroutable: Counter
    relay_lag: Gauge
    parked: Gauge
    handler_seconds: Histogram


_by_service: dict[tuple[str, int], SpineMetrics] = {}


def spine_metrics(
    service: str, registry: CollectorRegistry = DEFAULT_REGISTRY
) -> SpineMetrics:
    """The spine's metrics for one service, created once per registry."""
    key = (service, id(registry))
    if key not in _by_service:
        _by_service[key] = _create(service, registry)
    return _by_service[key]


def _create(service: str, registry: CollectorRegistry) -> SpineMetrics:
    def name(thing: str) -> str:
        return f"{service}_{thing}"

    return SpineMetrics(
        published=Counter(
            name("events_published_total"),
            "Events the relay published and the broker confirmed.",
            ["type"],
            registry=registry,
        ),
        consumed=Counter(
            name("events_consumed_total"),
            "Messages taken from a queue, by outcome.",
            ["queue", "outcome"],
            registry=registry,
        ),
        dead_lettered=Counter(
            name("events_dead_lettered_total"),
            "Messages moved to a dead-letter queue, by reason code.",
            ["queue", "reason"],
            registry=registry,
        ),
        retried=Counter(
            name("events_retried_total"),
            "Messages sent back for a later attempt after their handler failed.",
            ["queue"],
            registry=registry,
        ),
        unroutable=Counter(
            name("relay_unroutable_total"),
            "Events the broker returned because no queue was bound for them.",
            ["type"],
            registry=registry,
        ),
        relay_lag=Gauge(
            name("relay_lag_events"),
            "Recorded events not yet published to the broker.",
            registry=registry,
        ),
        parked=Gauge(
            name("projection_parked_events"),
            "Events waiting for an earlier version of their aggregate.",
            ["projection"],
            registry=registry,
        ),
        handler_seconds=Histogram(
            name("handler_seconds"),
            "Time spent handling one message.",
            ["queue"],
            registry=registry,
        ),
    )
