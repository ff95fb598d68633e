"""A steady workload across every service, and the reconciliation that follows it.

`Workload` is a background thread that plays holders and a reviewer: exam results
published for each holder, accounts registered and verified, pickups booked in
distribution, reissue applications started, completed, submitted and approved.
Every command it sends (an HTTP request, or a results message published with a
confirm) is recorded with its outcome. A command answered 2xx (or confirmed)
carries a check of the effect it promised.

`Ledger` reads what was recorded anywhere: every fact in every service's event
store (decoded as the relays publish them) and every read model. Its `problems`
are the differences: a fact some read model never applied, or applied twice; a
parked or dead-lettered fact; a notice missing or texted twice; a command that was
answered 2xx but whose effect is nowhere to be seen.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import requests

from services.common.envelope import Envelope
from services.common.relay import envelope_for
from services.common.settings import Settings
from services.common.topology import SUBSCRIPTIONS
from services.notifications.views import notice_id
from services.ops.schema import SCHEMAS
from tests.support.holders import PASSWORD, Holder, new_mobile
from tests.support.infrastructure import ScratchDatabase, ScratchVhost, eventually
from tests.support.materials import commitment_letter, one_inch_photo
from tests.support.sms_gateway import SmsGatewayStandIn
from tools.exam_authority import Broker, publish, results_message, sample_candidates

# Custody of certificates from this exam ended long ago: they may be reissued.
LONG_AGO = "2019-06-02"
RECENT = "2025-11-09"

# How long one step keeps trying through an outage before the round gives up.
STEP_SECONDS = 120.0
PAUSE_SECONDS = 0.5

# Answers that mean "not yet": a fact this service needs is still on its way.
NOT_YET = frozenset(
    {"certificate_not_found", "certificate_not_yours", "real_name_required"}
)

# Which read model (schema, projection) each queue feeds.
PROJECTIONS: dict[str, tuple[str, str]] = {
    "certificates.read_model": ("certificates_read", "applicant_certificates"),
    "certificates.accounts": ("certificates_read", "verified_accounts"),
    "certificates.custody": ("certificates_read", "certificate_custody"),
    "certificates.reissue": ("certificates_read", "certificate_reissues"),
    "distribution.accounts": ("distribution_read", "verified_accounts"),
    "distribution.views": ("distribution_read", "distribution_views"),
    "reissue.certificates": ("reissue_read", "known_certificates"),
    "reissue.custody": ("reissue_read", "known_custody"),
    "reissue.accounts": ("reissue_read", "verified_accounts"),
    "reissue.views": ("reissue_read", "applications"),
    "notifications.views": ("notifications_read", "own_facts"),
    "notifications.certificates": ("notifications_read", "certificate_facts"),
    "notifications.distribution": ("notifications_read", "distribution_facts"),
    "notifications.reissue": ("notifications_read", "reissue_facts"),
}
READ_SCHEMAS = ("certificates_read", "distribution_read", "reissue_read")

# Facts whose holder is named in the facts themselves: each must be told once.
TOLD = {
    "booking_made": "appointment_booked",
    "reissue_approved": "reissue_approved",
    "reissue_returned": "reissue_returned",
}

Effect = Callable[["Ledger"], str | None]


@dataclass
class Command:
    """One command the workload sent and what became of it."""

    name: str
    status: int | None = None  # the HTTP status; 250 for a confirmed publish
    error: str = ""  # no answer at all: the connection failed
    code: str = ""  # the error code of a refusal
    effect: Effect | None = None  # for an accepted command: its promised effect

    @property
    def outcome(self) -> str:
        if self.error:
            return "connection error"
        assert self.status is not None
        if self.status < 300:
            return "accepted"
        if self.code in NOT_YET:
            return "not yet"
        return "refused" if self.status < 500 else "failed"


@functools.cache
def _materials() -> dict[str, bytes]:
    return {"photo": one_inch_photo(), "commitment_letter": commitment_letter()}


class Workload:
    """Holders and a reviewer at work, one round after another, until stopped."""

    def __init__(
        self,
        urls: dict[str, str],
        amqp_uri: str,
        reviewer: Holder,
        prefix: str,
    ) -> None:
        self.urls = urls
        self.broker = Broker(amqp_uri)
        self.reviewer = reviewer
        self.prefix = prefix
        self.commands: list[Command] = []
        self.rounds = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=prefix, daemon=True)
        self._crash: BaseException | None = None

    # --- control ----------------------------------------------------------------

    def start(self) -> Workload:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=STEP_SECONDS * 2)
        if self._crash is not None:
            raise AssertionError("the workload itself failed") from self._crash

    def wait_for_rounds(self, rounds: int, timeout: float = 300) -> None:
        eventually(
            lambda: self.rounds >= rounds or self._crash is not None,
            timeout=timeout,
            interval=0.5,
            what=f"{rounds} rounds of work",
        )
        if self._crash is not None:
            raise AssertionError("the workload itself failed") from self._crash

    def accepted(self) -> list[Command]:
        """The commands answered 2xx (or confirmed), each with its effect."""
        with self._lock:
            return [c for c in self.commands if c.effect is not None]

    def outcomes(self) -> Counter[str]:
        with self._lock:
            return Counter(command.outcome for command in self.commands)

    def summary(self) -> str:
        counts = self.outcomes()
        with self._lock:
            unaccepted = Counter(
                f"{c.name}: {c.error or c.status} {c.code}".strip()
                for c in self.commands
                if c.outcome != "accepted"
            )
        return (
            f"{len(self.commands)} commands in {self.rounds} rounds: "
            f"{counts['accepted']} accepted, {counts['not yet']} answered 'not yet', "
            f"{counts['refused']} refused, "
            f"{counts['failed']} failed, {counts['connection error']} connection "
            f"errors {dict(unaccepted)}"
        )

    # --- the rounds -------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                if self.rounds % 2 == 0:
                    self._pickup_round(self.rounds)
                else:
                    self._reissue_round(self.rounds)
                self.rounds += 1
        except BaseException as crash:  # reported by stop() and wait_for_rounds()
            self._crash = crash

    def _pickup_round(self, n: int) -> None:
        """Results arrive, the holder verifies and books a pickup window."""
        candidate = self._results(f"{self.prefix}-pickup-{n}", RECENT)
        holder = candidate and self._verified_holder(candidate)
        if not holder:
            return
        number = candidate["certificate_number"]
        window = self._window(holder, n)
        if window is None:
            return
        self._until_done(
            lambda: self._send(
                "book a pickup",
                "POST",
                self.urls["distribution"] + "/v1/bookings",
                holder,
                json={"certificate_numbers": [number], "starts_at": window},
                effect=lambda answer: _booking_visible(answer["booking_id"], number),
            )
        )

    def _reissue_round(self, n: int) -> None:
        """An old certificate, out of custody: apply, attach, submit, approve."""
        candidate = self._results(f"{self.prefix}-reissue-{n}", LONG_AGO)
        holder = candidate and self._verified_holder(candidate)
        if not holder:
            return
        reissue = self.urls["reissue"]
        started = self._until_done(
            lambda: self._send(
                "start a reissue application",
                "POST",
                reissue + "/v1/reissue/applications",
                holder,
                json={
                    "certificate_number": candidate["certificate_number"],
                    "reason": "custody_expired",
                },
                effect=lambda answer: _application_visible(answer["application_id"]),
            )
        )
        if started is None:
            return
        application = started.json()["application_id"]
        path = f"{reissue}/v1/reissue/applications/{application}"
        for material, content in _materials().items():
            if not self._until_done(
                lambda m=material, c=content: self._send(
                    f"attach the {m}",
                    "PUT",
                    f"{path}/materials/{m}",
                    holder,
                    data=c,
                    effect=lambda answer, m=m: _material_recorded(application, m),
                )
            ):
                return
        if not self._until_done(
            lambda: self._send(
                "submit the application",
                "POST",
                f"{path}/submit",
                holder,
                effect=lambda answer: _fact_recorded(application, "reissue_submitted"),
            )
        ):
            return
        self._until_done(
            lambda: self._send(
                "approve the application",
                "POST",
                f"{reissue}/v1/review/applications/{application}/approve",
                self.reviewer,
                effect=lambda answer: _approval_visible(application),
            )
        )

    def _results(self, session: str, exam_end_date: str) -> dict | None:
        """The exam authority publishes one candidate's results, with a confirm."""
        candidates = sample_candidates(session, 1)
        message = results_message(session, candidates, exam_end_date=exam_end_date)
        numbers = [c["certificate_number"] for c in candidates]

        def attempt() -> bool:
            command = Command("publish exam results")
            try:
                publish(self.broker, message)
            except Exception as error:  # a cut connection, a broker restart
                command.error = type(error).__name__
            else:
                command.status = 250
                command.effect = _certificates_visible(numbers)
            self._record(command)
            return command.status == 250

        return candidates[0] if self._retrying(attempt) else None

    def _verified_holder(self, candidate: dict) -> Holder | None:
        identity = self.urls["identity"]
        holder = Holder(identity, new_mobile())
        credentials = {"mobile": holder.mobile, "password": PASSWORD}
        registered = self._until_done(
            lambda: self._send(
                "register an account",
                "POST",
                identity + "/v1/accounts",
                json=credentials,
                effect=lambda answer: _recipient_known(holder.mobile),
            )
        )
        signed_in = registered and self._until_done(
            lambda: self._send(
                "sign in", "POST", identity + "/v1/sessions", json=credentials
            )
        )
        if not signed_in:
            return None
        holder.access_token = signed_in.json()["access_token"]
        id_number = candidate["id_number"]
        verified = self._until_done(
            lambda: self._send(
                "verify the real name",
                "POST",
                identity + "/v1/me/real-name",
                holder,
                json={"name": candidate["name"], "id_number": id_number},
                effect=lambda answer: _verification_known(id_number),
            )
        )
        holder.id_number = id_number
        return holder if verified else None

    def _window(self, holder: Holder, n: int) -> str | None:
        """A pickup window with seats left (a read, not a command)."""
        url = self.urls["distribution"] + "/v1/pickup/windows?days=30"

        def attempt() -> list[str] | None:
            try:
                answer = requests.get(url, headers=holder.auth, timeout=20)
            except requests.RequestException:
                return None
            if not answer.ok:
                return None
            windows = answer.json()["windows"]
            return [w["starts_at"] for w in windows if w["seats_left"] > 0] or None

        windows = self._retrying(attempt)
        return windows[n % len(windows)] if windows else None

    # --- sending ----------------------------------------------------------------

    def _send(
        self,
        name: str,
        method: str,
        url: str,
        who: Holder | None = None,
        *,
        json: dict | None = None,
        data: bytes | None = None,
        effect: Callable[[dict], Effect] | None = None,
    ) -> requests.Response | None:
        """One command, recorded with its outcome; None if nothing answered."""
        headers = dict(who.auth) if who else {}
        if data is not None:
            headers["Content-Type"] = "application/octet-stream"
        command = Command(name)
        try:
            answer = requests.request(
                method, url, json=json, data=data, headers=headers, timeout=30
            )
        except requests.RequestException as error:
            command.error = type(error).__name__
            self._record(command)
            return None
        command.status = answer.status_code
        command.code = _error_code(answer)
        if answer.ok and effect is not None:
            command.effect = effect(answer.json() if answer.content else {})
        self._record(command)
        return answer

    def _until_done(
        self, attempt: Callable[[], requests.Response | None]
    ) -> requests.Response | None:
        """Try again through outages and "not yet"; give up on any other refusal."""
        outcome: dict[str, requests.Response] = {}

        def once() -> bool:
            answer = attempt()
            if answer is None or answer.status_code >= 500:
                return False
            if answer.ok:
                outcome["done"] = answer
                return True
            if _error_code(answer) in NOT_YET:
                return False
            outcome["refused"] = answer
            return True

        self._retrying(once)
        return outcome.get("done")

    def _retrying(self, attempt: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + STEP_SECONDS
        while not self._stopping.is_set() and time.monotonic() < deadline:
            if result := attempt():
                return result
            time.sleep(PAUSE_SECONDS)
        return None

    def _record(self, command: Command) -> None:
        with self._lock:
            self.commands.append(command)


def _error_code(answer: requests.Response) -> str:
    try:
        return answer.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""


# --- the effects a 2xx answer promised ------------------------------------------


def _certificates_visible(numbers: list[str]) -> Effect:
    def check(ledger: Ledger) -> str | None:
        shown = ledger.scalar(
            "SELECT count(*) FROM certificates_read.applicant_certificates "
            "WHERE certificate_number = ANY(%s)",
            numbers,
        )
        return None if shown == len(numbers) else f"certificates {numbers} not shown"

    return check


def _recipient_known(mobile: str) -> Effect:
    def check(ledger: Ledger) -> str | None:
        known = ledger.scalar(
            "SELECT count(*) FROM notifications_read.recipients WHERE mobile = %s",
            mobile,
        )
        return None if known == 1 else "a registered account unknown to notifications"

    return check


def _verification_known(id_number: str) -> Effect:
    def check(ledger: Ledger) -> str | None:
        missing = [
            schema
            for schema in READ_SCHEMAS
            if not ledger.scalar(
                f"SELECT count(*) FROM {schema}.verified_accounts WHERE id_number = %s",
                id_number,
            )
        ]
        if not ledger.scalar(
            "SELECT count(*) FROM notifications_read.recipients WHERE id_number = %s",
            id_number,
        ):
            missing.append("notifications_read")
        return f"a verification missing from {missing}" if missing else None

    return check


def _booking_visible(booking_id: str, number: str) -> Effect:
    def check(ledger: Ledger) -> str | None:
        if not ledger.scalar(
            "SELECT count(*) FROM distribution_read.bookings WHERE booking_id = %s",
            booking_id,
        ):
            return f"booking {booking_id} not in distribution's read model"
        state = ledger.scalar(
            "SELECT c.state FROM certificates_read.certificate_custody c "
            "JOIN certificates_read.applicant_certificates a USING (certificate_id) "
            "WHERE a.certificate_number = %s",
            number,
        )
        return None if state == "booked" else f"booking {booking_id} shown as {state}"

    return check


def _application_visible(application_id: str) -> Effect:
    def check(ledger: Ledger) -> str | None:
        for table in (
            "reissue_read.applications",
            "certificates_read.certificate_reissues",
            "notifications_read.applications",
        ):
            if not ledger.scalar(
                f"SELECT count(*) FROM {table} WHERE application_id = %s",
                application_id,
            ):
                return f"application {application_id} not in {table}"
        return None

    return check


def _material_recorded(application_id: str, material: str) -> Effect:
    def check(ledger: Ledger) -> str | None:
        attached = [
            fact
            for fact in ledger.facts_of(application_id)
            if fact.type == "reissue_material_attached"
            and fact.data["material"] == material
        ]
        return None if attached else f"{material} of {application_id} not recorded"

    return check


def _fact_recorded(aggregate_id: str, fact_type: str) -> Effect:
    def check(ledger: Ledger) -> str | None:
        types = [fact.type for fact in ledger.facts_of(aggregate_id)]
        return None if fact_type in types else f"no {fact_type} for {aggregate_id}"

    return check


def _approval_visible(application_id: str) -> Effect:
    def check(ledger: Ledger) -> str | None:
        if problem := _fact_recorded(application_id, "reissue_approved")(ledger):
            return problem
        state = ledger.scalar(
            "SELECT state FROM certificates_read.certificate_reissues "
            "WHERE application_id = %s",
            application_id,
        )
        if state in (None, "draft", "submitted", "returned"):
            return f"approved application {application_id} shown as {state}"
        return None

    return check


# --- reconciliation -------------------------------------------------------------


@dataclass
class Ledger:
    """Every fact recorded anywhere, and the database to compare it with."""

    database: ScratchDatabase
    facts: list[Envelope]
    by_aggregate: dict[str, list[Envelope]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        grouped: dict[str, list[Envelope]] = defaultdict(list)
        for fact in self.facts:
            grouped[fact.aggregate_id].append(fact)
        self.by_aggregate = dict(grouped)

    def facts_of(self, aggregate_id: str) -> list[Envelope]:
        return self.by_aggregate.get(str(aggregate_id), [])

    def of_type(self, *types: str) -> list[Envelope]:
        return [fact for fact in self.facts if fact.type in types]

    def scalar(self, query: str, *params: Any) -> Any:
        return self.database.scalar(query, *params)

    def rows(self, query: str, *params: Any) -> list[tuple]:
        with self.database.connect() as conn:
            return conn.execute(query, params).fetchall()


@contextmanager
def event_stores(settings: Settings) -> Iterator[dict[str, Any]]:
    """Each service's eventsourcing application, opened on the scratch database."""
    apps: dict[str, Any] = {}
    try:
        for service, schema in SCHEMAS.items():
            apps[service] = schema.application.from_settings(settings, service)
        yield apps
    finally:
        for app in apps.values():
            app.close()


def recorded_facts(apps: dict[str, Any]) -> list[Envelope]:
    """Every fact the relays publish (or will), decoded from the event stores."""
    facts = []
    for service, app in apps.items():
        translate = SCHEMAS[service].translate
        position = 0
        while page := app.recorder.select_notifications(
            start=position, limit=1000, inclusive_of_start=False
        ):
            for notification in page:
                domain_event = app.mapper.to_domain_event(notification)
                if envelope := envelope_for(domain_event, service, translate):
                    facts.append(envelope)
            position = page[-1].id
    return facts


@dataclass
class Reconciliation:
    problems: list[str]
    facts: int
    notices: int
    texts: int
    repeated_texts: int
    commands: Counter[str]

    def summary(self) -> str:
        return (
            f"{self.facts} facts recorded; {self.notices} notices expected, "
            f"{self.texts} texts accepted "
            f"({self.repeated_texts} repeated under the same idempotency key); "
            f"commands: {dict(self.commands)}"
            + (f"; PROBLEMS: {self.problems}" if self.problems else "")
        )


def reconcile(
    settings: Settings,
    database: ScratchDatabase,
    vhost: ScratchVhost,
    workload: Workload,
    sms_gateway: SmsGatewayStandIn | None,
    timeout: float = 180,
) -> Reconciliation:
    """Wait until everything recorded is everywhere it should be, or time out;
    the last comparison either way."""
    with event_stores(settings) as apps:
        last: list[Reconciliation] = []

        def settled() -> bool:
            ledger = Ledger(database, recorded_facts(apps))
            last[:] = [_compare(ledger, vhost, workload, sms_gateway)]
            return not last[0].problems

        # On timeout the caller asserts on the problems, which say more.
        with suppress(AssertionError):
            eventually(settled, timeout=timeout, interval=3, what="reconciliation")
        return last[0]


def _compare(
    ledger: Ledger,
    vhost: ScratchVhost,
    workload: Workload,
    sms_gateway: SmsGatewayStandIn | None,
) -> Reconciliation:
    problems = _projection_problems(ledger)
    problems += _parked_and_dead(ledger, vhost)
    problems += _row_problems(ledger)
    told, texts, repeats, notice_problems = _notice_problems(ledger, sms_gateway)
    problems += notice_problems
    problems += _command_problems(ledger, workload)
    return Reconciliation(
        problems, len(ledger.facts), told, texts, repeats, workload.outcomes()
    )


def _projection_problems(ledger: Ledger) -> list[str]:
    """Each read model has applied every fact it follows, up to the last one."""
    problems = []
    for queue, (schema, projection) in PROJECTIONS.items():
        subscription = SUBSCRIPTIONS[queue]
        expected: dict[str, int] = {}
        for fact in ledger.facts:
            if fact.producer == subscription.producer and (
                fact.type in subscription.types
            ):
                version = fact.aggregate_version or 0
                expected[fact.aggregate_id] = max(
                    expected.get(fact.aggregate_id, 0), version
                )
        applied = dict(
            ledger.rows(
                f"SELECT aggregate_id, version FROM {schema}.projection_versions "
                "WHERE projection = %s AND version > 0",
                projection,
            )
        )
        behind = [a for a, v in expected.items() if applied.get(a) != v]
        unknown = [a for a in applied if a not in expected]
        if behind:
            problems.append(
                f"{schema}.{projection}: {len(behind)} of {len(expected)} aggregates "
                f"not at their last fact (first: {behind[0]})"
            )
        if unknown:
            problems.append(
                f"{schema}.{projection}: {len(unknown)} aggregates nobody recorded"
            )
    return problems


def _parked_and_dead(ledger: Ledger, vhost: ScratchVhost) -> list[str]:
    problems = []
    for schema in {schema for schema, _ in PROJECTIONS.values()}:
        parked = ledger.scalar(f"SELECT count(*) FROM {schema}.parked_events")
        if parked:
            problems.append(f"{parked} facts parked in {schema}")
    for subscription in SUBSCRIPTIONS.values():
        if subscription.queue.startswith("ministry."):
            continue  # the ministry's inbox, not a consumer of ours
        try:
            dead = vhost.queue_depth(subscription.dead_letter_queue)
        except requests.RequestException as error:  # a busy broker: ask again
            return [*problems, f"the management API did not answer: {error}"]
        if dead:
            problems.append(f"{dead} dead letters in {subscription.dead_letter_queue}")
    return problems


def _row_problems(ledger: Ledger) -> list[str]:
    """Rows of the main read models: one per fact that makes one."""
    problems = []
    registered = ledger.of_type("certificate_registered")
    rows, distinct = ledger.rows(
        "SELECT count(*), count(DISTINCT certificate_number) "
        "FROM certificates_read.applicant_certificates"
    )[0]
    if not rows == distinct == len(registered):
        problems.append(
            f"{len(registered)} certificates recorded, {rows} rows shown "
            f"({distinct} distinct)"
        )
    kept_here = {
        fact.aggregate_id
        for fact in registered
        if fact.data["kind"] == "national_paper"
        and fact.data["registration_place"] == "xinjiang"
    }
    opened = Counter(fact.aggregate_id for fact in ledger.of_type("custody_opened"))
    if set(opened) != kept_here or any(n > 1 for n in opened.values()):
        problems.append(
            f"{len(kept_here)} paper certificates recorded, custody opened "
            f"{sum(opened.values())} times for {len(opened)}"
        )
    made = {fact.aggregate_id for fact in ledger.of_type("booking_made")}
    shown = {str(row[0]) for row in ledger.rows(BOOKINGS)}
    if made != shown:
        problems.append(f"{len(made)} bookings recorded, {len(shown)} shown")
    arrived = Counter(fact.aggregate_id for fact in ledger.of_type("reissue_arrived"))
    if any(n > 1 for n in arrived.values()):
        problems.append("a reissue recorded as arrived more than once")
    return problems


BOOKINGS = "SELECT booking_id FROM distribution_read.bookings"


def _notice_problems(
    ledger: Ledger, sms_gateway: SmsGatewayStandIn | None
) -> tuple[int, int, int, list[str]]:
    """Each fact told to its holder once, and texted once per notice."""
    accounts = {
        fact.aggregate_id: fact.data["account_id"]
        for fact in ledger.of_type("reissue_started")
    }
    expected = set()
    for fact in ledger.of_type(*TOLD):
        account = fact.data.get("account_id") or accounts.get(fact.aggregate_id)
        expected.add(str(notice_id(fact.event_id, TOLD[fact.type], account)))
    notices = {str(row[0]) for row in ledger.rows("SELECT notice_id FROM " + NOTICES)}
    problems = []
    if missing := expected - notices:
        problems.append(f"{len(missing)} of {len(expected)} facts never told")
    if sms_gateway is None:
        return len(expected), 0, 0, problems
    sent = dict(
        ledger.rows(
            "SELECT notice_id::text, state FROM notifications_read.deliveries "
            "WHERE channel = 'sms'"
        )
    )
    unsent = [n for n in expected if sent.get(n) != "sent"]
    if unsent:
        problems.append(f"{len(unsent)} texts not sent (first: {sent.get(unsent[0])})")
    keys = Counter(message["idempotency_key"] for message in sms_gateway.received())
    texted = {key.removesuffix(".sms") for key in keys}
    if lost := {n for n in expected if sent.get(n) == "sent"} - texted:
        problems.append(f"{len(lost)} texts recorded as sent never reached the gateway")
    repeats = sum(n - 1 for n in keys.values())
    return len(expected), len(keys), repeats, problems


NOTICES = "notifications_read.notices WHERE account_id IS NOT NULL"


def _command_problems(ledger: Ledger, workload: Workload) -> list[str]:
    problems = []
    for command in workload.accepted():
        assert command.effect is not None
        try:
            problem = command.effect(ledger)
        except Exception as error:  # a table not there yet, say
            problem = f"{type(error).__name__}: {error}"
        if problem:
            problems.append(f"'{command.name}' answered {command.status}: {problem}")
    return problems


def run_id() -> str:
    return uuid.uuid4().hex[:6]
