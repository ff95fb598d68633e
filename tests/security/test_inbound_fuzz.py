"""Inbound facts fuzzed against their contracts: the envelope parser refuses
anything malformed with its documented refusal, and running services dead-letter
every invalid message with a reason while applying the valid ones, losing none.

Messages are mutations of the examples in docs/asyncapi.yaml: fields dropped,
values of the wrong type, huge or odd unicode strings, extra fields, nested junk,
bodies that are not JSON at all. XJCERT_FUZZ_EXAMPLES (default 80) sets the
examples per contract at unit level; XJCERT_FUZZ_LIVE (default 10) the fuzzed
messages published to each outside system's exchange, fixed by a seed.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from services.common.envelope import ContractViolation, parse_message
from tests.support.infrastructure import eventually
from tests.support.poison import RunningProduct, publish_raw
from tools.authorities import fact
from tools.exam_authority import results_message, sample_candidates

pytestmark = pytest.mark.security

ASYNCAPI = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
EXAMPLES = int(os.environ.get("XJCERT_FUZZ_EXAMPLES", "80"))
LIVE = int(os.environ.get("XJCERT_FUZZ_LIVE", "10"))
PARSER_REFUSALS = {
    "unsupported_content_type",
    "malformed_json",
    "schema_violation",
    "unknown_type",
    "invalid_date",
}
SEEDED = "fz-nat"  # national paper certificates the valid facts name
SIGNED_SEEDS = {"industry_authority": ("fz-ind", "constructor", "二级")}
SIGNED_SEEDS["health_commission"] = ("fz-hea", "nurse", "初级")
READ = "SELECT count(*) FROM certificates_read.applicant_certificates WHERE "
VALID_APPLIED = {
    "results_published": (READ + "certificate_number LIKE %s", "fz-ok-%"),
    "certificates_printed": (
        READ + "printed_on IS NOT NULL AND " + "certificate_number LIKE %s",
        f"{SEEDED}-%",
    ),
    "batch_arrived": (
        "SELECT count(*) FROM reissue.reissue_events WHERE topic LIKE %s",
        "%ArrivalRecorded",
    ),
    "industry_authority.events/ecert_signed": (
        READ + "authority_signed_at IS NOT NULL AND certificate_number LIKE %s",
        "fz-ind-%",
    ),
    "health_commission.events/ecert_signed": (
        READ + "authority_signed_at IS NOT NULL AND certificate_number LIKE %s",
        "fz-hea-%",
    ),
}
CLOSED_PERIOD = "2025-09"


@cache
def inbound_examples() -> dict[str, dict[str, Any]]:
    """The example of every channel whose messages come from another system."""
    channels = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))["channels"]
    examples = {}
    for name, channel in channels.items():
        operation = channel.get("publish")
        if operation is None and name != "real_name_verified":
            continue
        message = (operation or channel["subscribe"])["message"]
        examples[name] = message["examples"][0]["payload"]
    return examples


# --- strategies built from the examples ------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "\ud800", "2025-02-30", "0" * 40, "../../etc", "NaN"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner)
    ),
    max_leaves=12,
)
HUGE_STRINGS = st.builds(
    lambda char, n: char * n,
    st.sampled_from(["字", "A", "\u202e", "😀", "\x00"]),
    st.integers(min_value=1_000, max_value=200_000),
)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON value: dict keys and list positions, nested."""
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _at(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


def _mutate(example: dict, path: tuple, action: str, junk: Any) -> Any:
    message = _copy(example)
    if not path:
        return junk if action == "replace" else message
    parent, last = _at(message, path[:-1]), path[-1]
    if action == "drop" and isinstance(parent, dict):
        del parent[last]
    elif action == "extra" and isinstance(_at(message, path), dict):
        _at(message, path)["x_extra"] = junk
    elif action == "nest":
        parent[last] = [[[{"junk": junk, "inner": parent[last]}]]]
    else:
        parent[last] = junk
    return message


@st.composite
def mutated_bodies(draw, example: dict) -> tuple[bytes, str | None]:
    """One message body and content type, derived from a valid example."""
    kind = draw(st.sampled_from(["field"] * 6 + ["bytes", "deep", "bigint", "type"]))
    content_type: str | None = "application/json"
    if kind == "bytes":
        body = draw(st.binary(max_size=200))
    elif kind == "deep":
        # Nesting deeper than the decoder's recursion limit.
        depth = draw(st.integers(min_value=500, max_value=100_000))
        body = b"[" * depth + b"]" * draw(st.sampled_from([0, depth]))
    elif kind == "bigint":
        digits = draw(st.integers(min_value=4_000, max_value=20_000))
        raw = json.dumps({**example, "version": 0}).encode()
        body = raw.replace(b'"version": 0', b'"version": ' + b"7" * digits)
    elif kind == "type":
        body = json.dumps(example).encode()
        content_type = draw(st.sampled_from(["text/plain", "application/xml", None]))
    else:
        path = draw(st.sampled_from(paths(example)))
        action = draw(st.sampled_from(["drop", "replace", "extra", "nest", "huge"]))
        junk = draw(HUGE_STRINGS if action == "huge" else JSON_VALUES)
        body = json.dumps(_mutate(example, path, action, junk)).encode()
    return body, content_type


# --- (a) the parser ---------------------------------------------------------------


def _personal_values(example: dict) -> list[str]:
    data = example["data"]
    people = data.get("candidates", []) + [data]
    return [
        person[key]
        for person in people
        for key in ("id_number", "name")
        if isinstance(person.get(key), str)
    ]


@pytest.mark.parametrize("channel", sorted(inbound_examples()))
def test_the_parser_refuses_any_fuzzed_message_only_with_a_contract_violation(
    channel,
):
    example = inbound_examples()[channel]
    personal = _personal_values(example)
    seen: dict[str, int] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated_bodies(example))
    def parse_fuzzed(generated: tuple[bytes, str | None]) -> None:
        body, content_type = generated
        try:
            parse_message(body, content_type)
            outcome = "accepted"
        except ContractViolation as refusal:
            assert refusal.code in PARSER_REFUSALS, refusal.code
            assert not any(value in refusal.reason for value in personal)
            outcome = refusal.code
        seen[outcome] = seen.get(outcome, 0) + 1

    assert parse_message(json.dumps(example).encode(), "application/json")
    parse_fuzzed()
    print(f"{channel}: {sum(seen.values())} fuzzed messages parsed: {seen}")


# --- (b) the running services --------------------------------------------------------


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    running = RunningProduct(tmp_path_factory.mktemp("inbound-fuzz"))
    try:
        running.start("certificates", "reissue", "distribution")
        sessions = [results_message(SEEDED, sample_candidates(SEEDED, 3))] + [
            results_message(tag, sample_candidates(tag, 3), code, level)
            for tag, code, level in SIGNED_SEEDS.values()
        ]
        publish_raw(
            running.vhost.amqp_uri,
            "exam_authority.events",
            "results_published",
            sessions,
        )
        eventually(
            lambda: running.scalar(READ + "certificate_number LIKE 'fz-%%'") == 9,
            timeout=90,
            what="the seeded certificates",
        )
        running.operator("services.ops", "batch", "close", CLOSED_PERIOD, "--yes")
        yield running
    finally:
        running.stop()


def fixed_batch(example: dict, size: int, salt: int) -> list[tuple[bytes, str | None]]:
    """`size` fuzzed bodies, the same on every run: hypothesis, derandomized."""
    drawn: list[tuple[bytes, str | None]] = []

    @seed(salt)
    @settings(
        max_examples=size,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated_bodies(example))
    def collect(generated: tuple[bytes, str | None]) -> None:
        drawn.append(generated)

    collect()
    return drawn[:size]


def _valid_facts(channel: str) -> list[dict]:
    """Messages that must be applied, naming things the product has on record."""
    numbers = [f"{SEEDED}-{i:06d}" for i in range(3)]
    now = datetime.now(UTC).isoformat()
    if channel == "results_published":
        return [
            results_message(f"fz-ok-{n}", sample_candidates(f"fz-ok-{n}", 1))
            for n in range(3)
        ]
    if channel == "certificates_printed":
        return [
            fact("ministry", channel, f"p-{n}", _arrival(f"fz-{n}", [number], now))
            for n, number in enumerate(numbers)
        ]
    if channel == "batch_arrived":
        return [
            fact("ministry", channel, "b", _arrival(CLOSED_PERIOD, [number], now))
            for number in numbers
        ]
    if channel.endswith("/ecert_signed"):
        producer = channel.split(".")[0]
        tag = SIGNED_SEEDS[producer][0]
        return [
            fact(
                producer,
                "ecert_signed",
                f"{tag}-{i:06d}",
                {"certificate_number": f"{tag}-{i:06d}", "signed_at": now},
            )
            for i in range(3)
        ]
    return []


def _arrival(batch: str, numbers: list[str], arrived_at: str) -> dict:
    return {
        "batch": batch,
        "arrived_at": arrived_at,
        "certificates": [{"certificate_number": n} for n in numbers],
    }


LIVE_CHANNELS = {
    # channel: (exchange, routing key, consumer queue, its service)
    "results_published": (
        "exam_authority.events",
        "results_published",
        "certificates.exam_results",
        "certificates",
    ),
    "industry_authority.events/ecert_signed": (
        "industry_authority.events",
        "ecert_signed",
        "certificates.industry_signatures",
        "certificates",
    ),
    "health_commission.events/ecert_signed": (
        "health_commission.events",
        "ecert_signed",
        "certificates.health_signatures",
        "certificates",
    ),
    "certificates_printed": (
        "ministry.events",
        "certificates_printed",
        "certificates.printed",
        "certificates",
    ),
    "batch_arrived": (
        "ministry.events",
        "batch_arrived",
        "reissue.ministry_batches",
        "reissue",
    ),
    "mail_delivered": (
        "postal_service.events",
        "mail_delivered",
        "distribution.postal",
        "distribution",
    ),
}


@pytest.mark.parametrize("channel", sorted(LIVE_CHANNELS))
def test_fuzzed_messages_on_the_wire_are_dead_lettered_or_applied_and_none_is_lost(
    channel, product
):
    exchange, key, queue, service = LIVE_CHANNELS[channel]
    fuzzed = fixed_batch(inbound_examples()[channel], LIVE, salt=len(channel))
    fuzzed += killers(inbound_examples()[channel])
    valid = _valid_facts(channel)
    before = int(product.consumed_total(service, queue))

    sent = _publish_each(product, exchange, key, fuzzed, valid)
    breaking = [_breaks(body, content_type) for body, content_type in fuzzed]
    invalid = [s.message_id for s, bad in zip(sent, breaking, strict=False) if bad]
    settled = eventually(
        lambda: _settled(product, service, queue, before + len(sent)),
        timeout=90,
        what=f"all {len(sent)} messages on {queue} to be settled",
    )
    dead = {letter.message_id: letter for letter in product.dead_letters(queue)}
    applied = settled - before - len(dead)
    print(
        f"{exchange} {key}: {len(sent)} published ({len(invalid)} breaking the "
        f"contract, {len(valid)} known good); {len(dead)} dead-lettered by reason "
        f"{_by_reason(dead)}, {applied} applied"
    )

    assert product.ready(service)
    assert all(s.outcome == "routed" for s in sent)
    assert set(invalid) <= set(dead), "an invalid message was not dead-lettered"
    assert all(letter.reason_code and letter.reason for letter in dead.values())
    assert set(dead) <= {s.message_id for s in sent}
    assert not {s.message_id for s in sent[len(fuzzed) :]} & set(dead)
    assert applied + len(dead) == len(sent)
    assert _valid_applied(product, channel) == len(valid)


def killers(example: dict) -> list[tuple[bytes, str | None]]:
    """Bodies that once made the parser raise something other than its refusal:
    nesting deeper than the decoder's recursion limit, and a version too long
    to be a contract's file name."""
    version = json.dumps({**example, "version": 0}).replace(
        '"version": 0', '"version": ' + "9" * 4_000
    )
    return [(b"[" * 100_000, "application/json"), (version.encode(), None)]


def _valid_applied(product: RunningProduct, channel: str) -> int:
    query, pattern = VALID_APPLIED.get(channel, (None, None))
    return 0 if query is None else product.scalar(query, pattern)


def _publish_each(product, exchange, key, fuzzed, valid) -> list:
    sent = []
    for body, content_type in fuzzed:
        sent += publish_raw(
            product.vhost.amqp_uri, exchange, key, [body], content_type=content_type
        )
    return sent + publish_raw(product.vhost.amqp_uri, exchange, key, valid)


def _settled(product: RunningProduct, service: str, queue: str, total: int) -> int:
    """How many messages the service has settled (applied or dead-lettered), once
    that is `total`, and the broker holds none of them any more."""
    consumed = product.consumed_total(service, queue)
    idle = product.vhost.queue_depth(queue) + product.vhost.queue_depth(
        f"{queue}.retry"
    )
    return int(consumed) if consumed >= total and idle == 0 else 0


def _by_reason(dead: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for letter in dead.values():
        counts[letter.reason_code] = counts.get(letter.reason_code, 0) + 1
    return counts


def _breaks(body: bytes, content_type: str | None) -> bool:
    """An oracle independent of the product: does the body break the contract?"""
    if content_type not in ("application/json", None):
        return True
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError):
        return True
    if not _valid("envelope.v1", raw):
        return True
    name = f"{raw['producer']}.{raw['type']}.v{raw['version']}"
    try:
        return not _valid(name, raw["data"]) or not _calendar_dates(raw)
    except OSError:
        return True


def _valid(name: str, instance: Any) -> bool:
    text = resources.files("services.common.contracts").joinpath(f"{name}.json")
    schema = json.loads(text.read_text(encoding="utf-8"))
    checker = Draft202012Validator.FORMAT_CHECKER
    return Draft202012Validator(schema, format_checker=checker).is_valid(instance)


def _calendar_dates(raw: dict) -> bool:
    stamps = [raw["occurred_at"]] + [
        raw["data"][key] for key in ("signed_at", "arrived_at") if key in raw["data"]
    ]
    try:
        for stamp in stamps:
            datetime.fromisoformat(stamp)
        uuid.UUID(raw["event_id"])
    except ValueError:
        return False
    return True
