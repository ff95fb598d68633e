"""The identity application: accounts and their uniqueness claims, event-sourced."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError

from services.common.auth import Role
from services.common.errors import Conflict, NotFound
from services.common.eventstore import ServiceApplication, event_store_env
from services.common.relay import Publication
from services.common.settings import Settings
from services.identity.domain import Account, Claim, claim_id

MOBILE = "mobile"
ID_NUMBER = "id_number"
# The sessions one `sessions_ended` fact names (its contract allows 1,000).
SESSIONS_PER_FACT = 500


class IdentityApplication(ServiceApplication):
    name = "Identity"

    def __init__(self, *args: Any, lookup_key: bytes, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lookup_key = lookup_key

    @classmethod
    def from_settings(cls, settings: Settings, schema: str) -> IdentityApplication:
        return cls(
            env=event_store_env(settings, schema),
            lookup_key=settings.secrets.read("lookup_key"),
        )

    def register(self, mobile: str, password_hash: str, roles: list[str]) -> uuid.UUID:
        account = Account.register(mobile, password_hash, roles)
        claim = Claim.make(self._claim(MOBILE, mobile), account.id)
        try:
            self.save(account, claim)
        except IntegrityError:
            raise Conflict(
                "mobile_taken", "该手机号已注册，请直接登录；忘记密码请联系中心。"
            ) from None
        return account.id

    def account(self, account_id: uuid.UUID) -> Account:
        try:
            account = self.repository.get(account_id)
        except AggregateNotFoundError:
            account = None
        if not isinstance(account, Account):
            raise NotFound("account_not_found", "账号不存在。")
        return account

    def account_by_mobile(self, mobile: str) -> Account | None:
        claim = self._find_claim(MOBILE, mobile)
        return None if claim is None else self.account(claim.account_id)

    def verify_real_name(
        self, account_id: uuid.UUID, name: str, id_number: str, document_kind: str
    ) -> None:
        account = self.account(account_id)
        account.verify_real_name(name, id_number, document_kind)
        claim = Claim.make(self._claim(ID_NUMBER, id_number), account.id)
        try:
            self.save(account, claim)
        except IntegrityError:
            # Never say whose account holds it: only that it is taken.
            raise Conflict(
                "id_number_taken",
                "该证件号码已在另一个账号完成实名认证。如非本人操作，请联系中心。",
            ) from None

    def change_password(
        self,
        account_id: uuid.UUID,
        password_hash: str,
        ended_sessions: tuple[uuid.UUID, ...] = (),
    ) -> None:
        """A new password, and the end of the sessions signed in with the old one."""
        account = self.account(account_id)
        account.change_password(password_hash)
        _end(account, ended_sessions, "password_changed")
        self.save(account)

    def end_sessions(
        self, account_id: uuid.UUID, session_ids: tuple[uuid.UUID, ...], reason: str
    ) -> None:
        account = self.account(account_id)
        _end(account, session_ids, reason)
        self.save(account)

    def lock(self, account_id: uuid.UUID, until: datetime) -> None:
        account = self.account(account_id)
        account.lock(until)
        self.save(account)

    def _claim(self, kind: str, value: str) -> uuid.UUID:
        return claim_id(self.lookup_key, kind, value)

    def _find_claim(self, kind: str, value: str) -> Claim | None:
        try:
            return self.repository.get(self._claim(kind, value))
        except AggregateNotFoundError:
            return None


def _end(account: Account, session_ids: tuple[uuid.UUID, ...], reason: str) -> None:
    # One fact names at most SESSIONS_PER_FACT sessions, within what the contract
    # allows; an account signed in on more devices ends them in several facts.
    ids = [str(session_id) for session_id in session_ids]
    for start in range(0, len(ids), SESSIONS_PER_FACT):
        account.end_sessions(ids[start : start + SESSIONS_PER_FACT], reason)


def publication(domain_event: DomainEventProtocol) -> Publication | None:
    """What other services see of identity's recorded events."""
    account_id = str(domain_event.originator_id)
    if isinstance(domain_event, Account.Registered):
        staff = bool(set(domain_event.roles) & Role.STAFF)
        kind = "staff_account_created" if staff else "applicant_registered"
        data = {"account_id": account_id, "roles": domain_event.roles}
        if not staff:
            # Notifications texts holders at the number they registered with.
            data["mobile"] = domain_event.mobile
        return Publication(kind, 1, data)
    if isinstance(domain_event, Account.RealNameVerified):
        return Publication(
            "real_name_verified",
            1,
            {
                "account_id": account_id,
                "name": domain_event.name,
                "id_number": domain_event.id_number,
                "document_kind": domain_event.document_kind,
            },
        )
    if isinstance(domain_event, Account.PasswordChanged):
        return Publication("password_changed", 1, {"account_id": account_id})
    if isinstance(domain_event, Account.SessionsEnded):
        return Publication(
            "sessions_ended",
            1,
            {
                "account_id": account_id,
                "session_ids": domain_event.session_ids,
                "reason": domain_event.reason,
            },
        )
    if isinstance(domain_event, Account.Locked):
        return Publication(
            "account_locked",
            1,
            {"account_id": account_id, "locked_until": domain_event.until.isoformat()},
        )
    return None
