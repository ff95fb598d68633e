"""The distribution application: what holders, clerks and administrators can do.

Every use case loads the aggregates it changes, checks the rules, and saves them
all in one call, so a booking, its window and its certificates change together or
not at all. Two callers changing the same window or certificate at once conflict
on a version; the loser looks again and retries, so the rules hold under a rush.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, TypeVar

from eventsourcing.persistence import IntegrityError

from services.common.errors import Conflict, Forbidden, Invalid, NotFound
from services.common.eventstore import ServiceApplication
from services.common.id_numbers import document_kind, normalised
from services.common.identifiers import certificate_id
from services.distribution.domain import (
    REMINDER_DAYS,
    Booking,
    Custody,
    CustodyState,
    MailOrder,
    PickupDay,
    PickupRules,
    PickupWindow,
    Slot,
    pickup_day_id,
    reissued_custody_ends,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
CONFLICT_RETRIES = 30
MAIL_DEADLINE_WORKING_DAYS = 3


class DistributionApplication(ServiceApplication):
    name = "Distribution"
    rules: PickupRules  # set by the composition root before use

    # Every booking attempt on a window, confirmed or refused, loads the window.
    # When a day opens, a full window would otherwise replay every reservation for
    # each refusal, and slow loads widen the race between holders for the last
    # seats: a snapshot every 20 events keeps each load short.
    snapshotting_intervals = {PickupWindow: 20}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.window_queue = WindowQueue()

    # --- certificates entering custody -------------------------------------------

    def open_custody(
        self,
        certificate_id: uuid.UUID,
        certificate_number: str,
        holder_id_number: str,
        holder_name: str,
        custody_until: date,
    ) -> bool:
        """Keep a national paper certificate; False if it was already kept."""
        custody = Custody.open(
            certificate_id,
            certificate_number,
            holder_id_number,
            holder_name,
            custody_until,
        )
        try:
            self.save(custody)
        except IntegrityError:
            return False
        return True

    def keep_reissued(
        self,
        certificate_id: uuid.UUID,
        certificate_number: str,
        holder_id_number: str,
        holder_name: str,
        application_id: uuid.UUID,
        synced_on: date,
    ) -> bool:
        """Keep a reissued certificate until claimed; False if already kept."""
        custody_until = reissued_custody_ends(synced_on)
        custody = self.find_aggregate(certificate_id, Custody)
        if custody is None:
            custody = Custody.open(
                certificate_id,
                certificate_number,
                holder_id_number,
                holder_name,
                custody_until,
                reissued=True,
            )
        elif application_id in custody.reissues:
            return False
        custody.reissue(application_id, custody_until)
        self.save(custody)
        return True

    # --- pickup windows -----------------------------------------------------------

    def open_slots(
        self,
        first: date,
        days: int,
        now: datetime,
        seats_taken: Callable[[Slot], int] | None = None,
    ) -> list[dict[str, Any]]:
        """Future windows of open pickup days, with the seats left in each.

        `seats_taken` may answer from a read model, to list many windows with one
        query; by default each window's aggregate is loaded. Booking always checks
        the aggregate, so a list a moment old can only be too hopeful, never wrong.
        """
        seats_taken = seats_taken or (lambda slot: self._window(slot).seats_taken)
        listed = []
        for offset in range(days):
            day = date.fromordinal(first.toordinal() + offset)
            capacity = self._capacity(day)
            if capacity is None:
                continue
            for slot in self.rules.slots(day):
                if slot.starts_at <= now:
                    continue
                taken = seats_taken(slot)
                listed.append(
                    {
                        "starts_at": slot.starts_at.isoformat(),
                        "ends_at": slot.ends_at.isoformat(),
                        "seats_left": max(0, capacity - taken),
                    }
                )
        return listed

    # --- bookings -----------------------------------------------------------------

    def book(
        self,
        account_id: uuid.UUID,
        holder_id_number: str,
        certificate_numbers: list[str],
        starts_at: datetime,
        now: datetime,
    ) -> uuid.UUID:
        def attempt() -> uuid.UUID:
            custodies = self._claimable(holder_id_number, certificate_numbers, now)
            slot, window = self._bookable_window(starts_at, now)
            booking = Booking.make(account_id, custodies, slot)
            window.reserve(booking.id)
            for custody in custodies:
                custody.book(booking.id, slot.starts_at, slot.ends_at)
            self.save(booking, window, *custodies)
            return booking.id

        return self._taking_turns(starts_at, attempt)

    def cancel_booking(self, account_id: uuid.UUID, booking_id: uuid.UUID, now):
        def attempt() -> None:
            booking = self._own_booking(account_id, booking_id)
            self._refuse_if_started(booking, now, "取消")
            self._end_booking(booking, "cancelled_by_holder")

        self._retrying(attempt)

    def move_booking(
        self,
        account_id: uuid.UUID,
        booking_id: uuid.UUID,
        starts_at: datetime,
        now: datetime,
    ) -> None:
        def attempt() -> None:
            booking = self._own_booking(account_id, booking_id)
            self._refuse_if_started(booking, now, "改约")
            slot, new_window = self._bookable_window(starts_at, now)
            if slot.window_id == booking.window_id:
                return
            old_window = self._window_of(booking)
            old_window.free(booking.id)
            new_window.reserve(booking.id)
            booking.move(slot.starts_at, slot.ends_at)
            custodies = self._custodies(booking.certificate_ids)
            for custody in custodies:
                # Booked again, for the new window: never claimable in between.
                custody.book(booking.id, slot.starts_at, slot.ends_at)
            self.save(booking, old_window, new_window, *custodies)

        self._taking_turns(starts_at, attempt)

    def name_proxy(
        self,
        account_id: uuid.UUID,
        booking_id: uuid.UUID,
        name: str,
        id_number: str,
        now: datetime,
    ) -> None:
        name, number = _proxy_identity(name, id_number)

        def attempt() -> None:
            booking = self._own_booking(account_id, booking_id)
            self._refuse_if_started(booking, now, "指定代领人")
            booking.name_proxy(name, number)
            self.save(booking)

        self._retrying(attempt)

    def hand_over(
        self,
        clerk_id: uuid.UUID,
        booking_id: uuid.UUID,
        handover: dict[str, Any],
    ) -> None:
        """Record the counter's hand-over: at once collected (即时办结).

        Allowed for any active booking, also before its window: a holder who comes
        early on a pickup day is not sent away.
        """

        def attempt() -> None:
            booking = self._booking(booking_id)
            if not booking.is_active():
                raise Conflict("booking_not_active", "该预约已取消、失效或已领取。")
            proxy = _checked_proxy(booking, handover)
            booking.hand_over(
                clerk_id,
                handover["collected_by"],
                proxy.get("name"),
                proxy.get("id_number"),
                proxy.get("authorisation"),
            )
            custodies = self._custodies(booking.certificate_ids)
            for custody in custodies:
                custody.collect(booking.id, handover["collected_by"])
            self.save(booking, *custodies)

        self._retrying(attempt)

    def lapse(self, booking_id: uuid.UUID, now: datetime) -> bool:
        """A booking whose window passed without hand-over lapses (no-show)."""

        def attempt() -> bool:
            booking = self._booking(booking_id)
            if not booking.is_active() or booking.ends_at > now:
                return False
            booking.lapse()
            custodies = self._custodies(booking.certificate_ids)
            for custody in custodies:
                custody.release("no_show")
            self.save(booking, *custodies)
            return True

        return self._retrying(attempt)

    # --- administrators -----------------------------------------------------------

    def set_pickup_day(
        self,
        day: date,
        capacity: int | None,
        closed: bool | None,
        reason: str | None,
    ) -> bool:
        """Change a day's seats or close it; True if the day was newly closed."""

        def attempt() -> bool:
            pickup_day = self._pickup_day(day) or PickupDay.configure(day)
            if capacity is not None and capacity != pickup_day.capacity:
                pickup_day.set_capacity(capacity)
            newly_closed = closed is True and pickup_day.closed_because is None
            if newly_closed:
                pickup_day.close(reason or "停止发证")
            if closed is False and pickup_day.closed_because is not None:
                pickup_day.reopen()
            self.save(pickup_day)
            return newly_closed

        return self._retrying(attempt)

    def is_open(self, day: date) -> bool:
        """The counter opens that day: a pickup day, not closed by administrators."""
        return self._capacity(day) is not None

    def cancel_for_closed_day(self, booking_id: uuid.UUID) -> None:
        def attempt() -> None:
            booking = self._booking(booking_id)
            if booking.is_active():
                self._end_booking(booking, "day_closed")

        self._retrying(attempt)

    # --- mail ---------------------------------------------------------------------

    def request_mail(
        self,
        account_id: uuid.UUID,
        holder_id_number: str,
        certificate_numbers: list[str],
        delivery: dict[str, Any],
        now: datetime,
    ) -> MailOrder:
        def attempt() -> MailOrder:
            custodies = self._claimable(holder_id_number, certificate_numbers, now)
            ship_by = self.rules.calendar.add_working_days(
                now.date(), MAIL_DEADLINE_WORKING_DAYS
            )
            order = MailOrder.request(
                account_id,
                custodies,
                delivery["recipient"],
                delivery["mobile"],
                delivery["address"],
                ship_by,
            )
            for custody in custodies:
                custody.request_mail(order.id, ship_by)
            self.save(order, *custodies)
            return order

        return self._retrying(attempt)

    def edit_mail(
        self, account_id: uuid.UUID, order_id: uuid.UUID, delivery: dict[str, Any]
    ) -> None:
        def attempt() -> None:
            order = self._mail_order(order_id)
            if order.account_id != account_id:
                raise NotFound("mail_order_not_found", "没有找到这个邮寄申请。")
            if order.shipped:
                raise Conflict("already_shipped", "证书已寄出，邮寄信息不能再修改。")
            order.edit(delivery["recipient"], delivery["mobile"], delivery["address"])
            self.save(order)

        self._retrying(attempt)

    def ship(
        self, clerk_id: uuid.UUID, order_id: uuid.UUID, tracking: str, carrier: str
    ) -> None:
        def attempt() -> None:
            order = self._mail_order(order_id)
            if order.shipped:
                if order.tracking_number == tracking:
                    return
                raise Conflict("already_shipped", "该邮寄申请已登记寄出。")
            order.ship(tracking, carrier, clerk_id)
            custodies = self._custodies(order.certificate_ids)
            for custody in custodies:
                custody.ship(order.id, tracking)
            self.save(order, *custodies)

        self._retrying(attempt)

    def deliver(self, order_id: uuid.UUID) -> bool:
        def attempt() -> bool:
            order = self._mail_order(order_id)
            if order.delivered:
                return False
            order.deliver()
            custodies = self._custodies(order.certificate_ids)
            for custody in custodies:
                custody.deliver(order.id)
            self.save(order, *custodies)
            return True

        return self._retrying(attempt)

    # --- custody ------------------------------------------------------------------

    def watch_custody(self, certificate_id: uuid.UUID, today: date) -> None:
        """Remind before custody ends; mark it ended the day after its last day."""

        def attempt() -> None:
            custody = self._custody(certificate_id)
            if custody.state != CustodyState.IN_CUSTODY:
                return
            if today > custody.custody_until:
                custody.expire()
            else:
                days_left = (custody.custody_until - today).days
                due = [d for d in REMINDER_DAYS if days_left <= d]
                if not due or min(due) in custody.reminded:
                    return
                custody.remind(min(due))
            self.save(custody)

        self._retrying(attempt)

    # --- helpers ------------------------------------------------------------------

    def _claimable(
        self, holder_id_number: str, numbers: list[str], now: datetime
    ) -> list[Custody]:
        if not numbers or len(set(numbers)) != len(numbers):
            raise Invalid("invalid_certificates", "请选择要领取的证书，每本只选一次。")
        custodies = []
        for number in numbers:
            custody = self._custody_by_number(number)
            if custody is None or custody.holder_id_number != holder_id_number:
                raise NotFound(
                    "certificate_not_yours",
                    f"证书 {number} 不在您名下，或不是由本中心保管的纸质证书。",
                )
            if custody.state == CustodyState.EXPIRED or (
                now.date() > custody.custody_until
            ):
                raise Conflict(
                    "custody_expired",
                    f"证书 {number} 的保管期已满，不能再预约或邮寄，请申请补办。",
                )
            if not custody.is_claimable(now.date()):
                raise Conflict(
                    "certificate_not_claimable",
                    f"证书 {number} 已有预约、邮寄申请或已领取。",
                )
            custodies.append(custody)
        return custodies

    def _bookable_window(
        self, starts_at: datetime, now: datetime
    ) -> tuple[Slot, PickupWindow]:
        slot = self.rules.slot_starting(starts_at)
        if slot is None:
            raise Invalid(
                "not_a_pickup_window",
                "所选时间不是发证时段：发证时间为工作日的周二、周四，请从可预约时段中选择。",
            )
        if slot.starts_at <= now:
            raise Invalid("window_passed", "所选时段已过，请选择其他时段。")
        capacity = self._capacity(slot.day)
        if capacity is None:
            raise Conflict("day_closed", "该日停止发证，请选择其他日期。")
        window = self._window(slot)
        if window.seats_taken >= capacity:
            raise Conflict("window_full", "该时段已约满，请选择其他时段。")
        return slot, window

    def _capacity(self, day: date) -> int | None:
        """Seats per window that day; None when the counter is closed."""
        if not self.rules.is_pickup_day(day):
            return None
        pickup_day = self._pickup_day(day)
        if pickup_day is not None and pickup_day.closed_because is not None:
            return None
        if pickup_day is not None and pickup_day.capacity is not None:
            return pickup_day.capacity
        return self.rules.settings.capacity

    def _end_booking(self, booking: Booking, reason: str) -> None:
        booking.cancel(reason)
        window = self._window_of(booking)
        window.free(booking.id)
        custodies = self._custodies(booking.certificate_ids)
        for custody in custodies:
            custody.release(reason)
        self.save(booking, window, *custodies)

    def _refuse_if_started(self, booking: Booking, now: datetime, what: str) -> None:
        if not booking.is_active():
            raise Conflict("booking_not_active", "该预约已取消、失效或已领取。")
        if booking.starts_at <= now:
            raise Conflict("window_started", f"预约时段已开始，不能再{what}。")

    def _own_booking(self, account_id: uuid.UUID, booking_id: uuid.UUID) -> Booking:
        booking = self._booking(booking_id)
        if booking.account_id != account_id:
            raise NotFound("booking_not_found", "没有找到这个预约。")
        return booking

    def _window(self, slot: Slot) -> PickupWindow:
        return self.find_aggregate(slot.window_id, PickupWindow) or PickupWindow.open(
            slot
        )

    def _window_of(self, booking: Booking) -> PickupWindow:
        return self._window(Slot(booking.starts_at, booking.ends_at))

    def _pickup_day(self, day: date) -> PickupDay | None:
        return self.find_aggregate(pickup_day_id(day), PickupDay)

    def _custody(self, certificate_id: uuid.UUID) -> Custody:
        custody = self.find_aggregate(certificate_id, Custody)
        if custody is None:
            raise NotFound("certificate_not_found", "没有找到这本证书。")
        return custody

    def _custodies(self, ids: list[uuid.UUID]) -> list[Custody]:
        return [self._custody(certificate_id) for certificate_id in ids]

    def _custody_by_number(self, number: str) -> Custody | None:
        return self.find_aggregate(certificate_id(number), Custody)

    def _booking(self, booking_id: uuid.UUID) -> Booking:
        booking = self.find_aggregate(booking_id, Booking)
        if booking is None:
            raise NotFound("booking_not_found", "没有找到这个预约。")
        return booking

    def _mail_order(self, order_id: uuid.UUID) -> MailOrder:
        order = self.find_aggregate(order_id, MailOrder)
        if order is None:
            raise NotFound("mail_order_not_found", "没有找到这个邮寄申请。")
        return order

    def _taking_turns(self, starts_at: datetime, attempt: Callable[[], T]) -> T:
        """Try at once; after losing a race for the window, wait for a turn.

        Refusals (a full window) and uncontended bookings need no turn, so only
        the holders racing for the same seats queue up."""
        try:
            return attempt()
        except IntegrityError:
            with self.window_queue.one_at_a_time(starts_at):
                return self._retrying(attempt)

    def _retrying(self, attempt: Callable[[], T]) -> T:
        # Conflicts are expected when many holders want the same seats: look again.
        for tries in range(1, CONFLICT_RETRIES + 1):
            try:
                return attempt()
            except IntegrityError:
                if tries == CONFLICT_RETRIES:
                    raise Conflict("busy", "预约人数较多，请稍后再试。") from None
                time.sleep(random.uniform(0, 0.005 * tries))
        raise AssertionError("unreachable")


class WindowQueue:
    """Bookings for the same window wait their turn within this process.

    Holders racing for one window's seats would otherwise lose the version race to
    each other over and over, and the last of them be told "busy". In turn, each
    attempt sees the seats its predecessor took; only bookings arriving at another
    replica at the same moment still conflict, and they retry.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._turns: dict[datetime, tuple[threading.Lock, int]] = {}

    @contextmanager
    def one_at_a_time(self, starts_at: datetime) -> Iterator[None]:
        turn = self._join(starts_at)
        try:
            with turn:
                yield
        finally:
            self._leave(starts_at)

    def _join(self, starts_at: datetime) -> threading.Lock:
        with self._guard:
            turn, waiting = self._turns.get(starts_at, (threading.Lock(), 0))
            self._turns[starts_at] = (turn, waiting + 1)
            return turn

    def _leave(self, starts_at: datetime) -> None:
        with self._guard:
            turn, waiting = self._turns[starts_at]
            if waiting == 1:
                del self._turns[starts_at]
            else:
                self._turns[starts_at] = (turn, waiting - 1)


def _proxy_identity(name: str, id_number: str) -> tuple[str, str]:
    name = " ".join(name.split())
    if not name:
        raise Invalid("invalid_name", "请填写代领人的姓名。")
    number = normalised(id_number)
    document_kind(number)
    return name, number


def _checked_proxy(booking: Booking, handover: dict[str, Any]) -> dict[str, Any]:
    """The proxy's details when a proxy collects; refuses with what is missing."""
    if handover["collected_by"] == "holder":
        if not handover.get("holder_document_checked"):
            raise Invalid("identity_not_checked", "请先核验持证人本人的身份证件。")
        return {}
    missing = [
        label
        for key, label in (
            ("proxy_name", "代领人姓名"),
            ("proxy_id_number", "代领人证件号码"),
            ("holder_document_checked", "持证人身份证件（已核验）"),
            ("proxy_document_checked", "代领人身份证件（已核验）"),
            ("authorisation", "委托书（上传或登记编号）"),
        )
        if not handover.get(key)
    ]
    if missing:
        raise Invalid("proxy_items_missing", "代领缺少：" + "、".join(missing) + "。")
    name, number = _proxy_identity(handover["proxy_name"], handover["proxy_id_number"])
    if booking.proxy_id_number and booking.proxy_id_number != number:
        raise Forbidden(
            "not_the_named_proxy", "持证人预先指定了其他代领人，此人不能代领。"
        )
    return {
        "name": name,
        "id_number": number,
        "authorisation": handover["authorisation"],
    }
