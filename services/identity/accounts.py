"""What callers can do with accounts: register, verify, sign in, refresh, sign out.

Composes the event-sourced application with the session store, the token issuer
and, when configured, the outside real-name service.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.auth import ACCESS_TOKEN_LIFETIME, Role, TokenIssuer
from services.common.errors import (
    Invalid,
    Locked,
    TooManyAttempts,
    Unauthenticated,
)
from services.common.id_numbers import document_kind, normalised
from services.common.workdays import BEIJING
from services.identity.application import IdentityApplication
from services.identity.domain import Account
from services.identity.passwords import (
    check_strength,
    hash_password,
    needs_rehash,
    password_matches,
)
from services.identity.realname import RealNameService
from services.identity.sessions import SessionStore

MOBILE_PATTERN = re.compile(r"^1[3-9]\d{9}$")
FAILURES_BEFORE_LOCK = 5
LOCK_DURATION = timedelta(minutes=15)
FAILURES_PER_ADDRESS = 20

WRONG_CREDENTIALS = ("wrong_credentials", "手机号或密码不正确。")


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
            "refresh_token": self.refresh_token,
        }


class Accounts:
    def __init__(
        self,
        app: IdentityApplication,
        sessions: SessionStore,
        issuer: TokenIssuer,
        realname: RealNameService | None = None,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.issuer = issuer
        self.realname = realname

    def register_applicant(self, mobile: str, password: str) -> uuid.UUID:
        return self._register(mobile, password, [Role.APPLICANT])

    def verify_real_name(self, account_id: uuid.UUID, name: str, id_number: str) -> str:
        name = " ".join(name.split())
        if not name:
            raise Invalid("invalid_name", "请填写与证件一致的姓名。")
        number = normalised(id_number)
        kind = document_kind(number)
        account = self.app.account(account_id)
        if account.real_name_verified:
            if account.id_number == number and account.real_name == name:
                return kind  # the same verification again changes nothing
            raise Invalid(
                "already_verified", "本账号已完成实名认证，如需更正请联系中心。"
            )
        if self.realname is not None:
            self.realname.confirm(name, number)
        self.app.verify_real_name(account_id, name, number, kind)
        return kind

    def sign_in(self, mobile: str, password: str, address: str) -> Tokens:
        if self.sessions.recent_failures(f"address:{address}") >= FAILURES_PER_ADDRESS:
            raise TooManyAttempts(
                "too_many_attempts", "登录失败次数过多，请 15 分钟后再试。"
            )
        account = self.app.account_by_mobile(mobile)
        if account is None:
            self.sessions.record_failure(f"address:{address}")
            raise Unauthenticated(*WRONG_CREDENTIALS)
        now = datetime.now(UTC)
        if account.is_locked(now):
            raise _locked(account)
        if not password_matches(account.password_hash, password):
            self._failed(account, address, now)
        self.sessions.forget_failures(f"account:{account.id}")
        if needs_rehash(account.password_hash):
            self.app.change_password(account.id, hash_password(password))
        return self._tokens(account, uuid.uuid4())

    def refresh(self, refresh_token: str) -> Tokens:
        outcome = self.sessions.use(refresh_token)
        if outcome.replayed:
            self.app.end_sessions(
                outcome.account_id, outcome.ended_sessions, "refresh_token_reused"
            )
        if outcome.session_id is None:
            raise Unauthenticated("refresh_token_invalid", "登录已失效，请重新登录。")
        account = self.app.account(outcome.account_id)
        return self._tokens(account, outcome.session_id)

    def sign_out(self, refresh_token: str) -> None:
        ended = self.sessions.revoke(refresh_token)
        if ended is not None:
            account_id, session_id = ended
            self.app.end_sessions(account_id, (session_id,), "signed_out")

    def change_password(
        self, account_id: uuid.UUID, current_password: str, new_password: str
    ) -> None:
        account = self.app.account(account_id)
        if not password_matches(account.password_hash, current_password):
            raise Invalid("wrong_password", "当前密码不正确。")
        check_strength(new_password, account.mobile)
        ended = self.sessions.revoke_all(account_id)
        self.app.change_password(account_id, hash_password(new_password), ended)

    def profile(self, account_id: uuid.UUID) -> dict[str, Any]:
        account = self.app.account(account_id)
        return {
            "account_id": str(account.id),
            "roles": account.roles,
            "mobile": _masked_mobile(account.mobile),
            "real_name_verified": account.real_name_verified,
            "document_kind": account.document_kind,
        }

    def _register(self, mobile: str, password: str, roles: list[str]) -> uuid.UUID:
        return self.app.register(mobile, checked_credentials(mobile, password), roles)

    def _failed(self, account: Account, address: str, now: datetime) -> None:
        subject = f"account:{account.id}"
        self.sessions.record_failure(subject, f"address:{address}")
        if self.sessions.recent_failures(subject) >= FAILURES_BEFORE_LOCK:
            self.app.lock(account.id, now + LOCK_DURATION)
            self.sessions.forget_failures(subject)
            raise _locked(self.app.account(account.id))
        raise Unauthenticated(*WRONG_CREDENTIALS)

    def _tokens(self, account: Account, session_id: uuid.UUID) -> Tokens:
        roles = frozenset(account.roles)
        access = self.issuer.access_token(account.id, roles, session_id)
        return Tokens(access, self.sessions.issue(account.id, session_id))


def checked_credentials(mobile: str, password: str) -> str:
    """The password's hash, once mobile and password pass their checks."""
    if not MOBILE_PATTERN.match(mobile):
        raise Invalid("invalid_mobile", "请输入 11 位中国大陆手机号码。")
    check_strength(password, mobile)
    return hash_password(password)


def _locked(account: Account) -> Locked:
    until = account.locked_until.astimezone(BEIJING).strftime("%H:%M")
    return Locked(
        "account_locked",
        f"密码错误次数过多，账号已暂时锁定，请于北京时间 {until} 后再试。",
    )


def _masked_mobile(mobile: str) -> str:
    return f"{mobile[:3]}****{mobile[-4:]}"
