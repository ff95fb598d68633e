"""The identity service: thin HTTP entrypoints over the accounts use cases."""

from __future__ import annotations

import logging
from typing import Any

from werkzeug.wrappers import Request, Response

from services.common.auth import Role, TokenIssuer
from services.common.consuming import fact_handler
from services.common.db import ensure_schema, open_pool, schema_lock
from services.common.dependencies import CallContext, EventStore, settings_of
from services.common.envelope import ContractViolation, Envelope
from services.common.errors import Unavailable
from services.common.health import Health, Readiness, not_ready_message
from services.common.session_ends import EndedSessions, SessionEndsRecord
from services.common.web import (
    PUBLIC,
    api,
    caller_of,
    json_body,
    json_response,
    metrics_response,
)
from services.identity.accounts import Accounts
from services.identity.application import IdentityApplication, publication
from services.identity.realname import RealNameService
from services.identity.sessions import SessionStore

log = logging.getLogger(__name__)

CREDENTIALS = {
    "type": "object",
    "required": ["mobile", "password"],
    "properties": {
        "mobile": {"type": "string", "maxLength": 20},
        "password": {"type": "string", "maxLength": 1024},
    },
    "additionalProperties": False,
}
REAL_NAME = {
    "type": "object",
    "required": ["name", "id_number"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "id_number": {"type": "string", "maxLength": 30},
    },
    "additionalProperties": False,
}
REFRESH = {
    "type": "object",
    "required": ["refresh_token"],
    "properties": {"refresh_token": {"type": "string", "maxLength": 200}},
    "additionalProperties": False,
}
NEW_PASSWORD = {
    "type": "object",
    "required": ["current_password", "new_password"],
    "properties": {
        "current_password": {"type": "string", "maxLength": 1024},
        "new_password": {"type": "string", "maxLength": 1024},
    },
    "additionalProperties": False,
}


class AccountsProvider(EventStore):
    """The identity event store, with sessions, tokens and real-name checks."""

    def __init__(self) -> None:
        super().__init__(IdentityApplication, publication)

    def setup(self) -> None:
        super().setup()
        settings = settings_of(self.container)
        self.session_pool = open_pool(settings.database, max_size=5)
        sessions = SessionStore(self.session_pool, "identity_read")
        with schema_lock(settings.database, "identity_read"):
            ensure_schema(self.session_pool, "identity_read")
            sessions.setup()
        url = settings.realname_service_url
        self.accounts = Accounts(
            app=self.app,
            sessions=sessions,
            issuer=TokenIssuer(settings.secrets.read("token_private_key")),
            realname=RealNameService(url) if url else None,
        )

    def stop(self) -> None:
        super().stop()
        self.session_pool.close()

    def get_dependency(self, worker_ctx: Any) -> Accounts:
        return self.accounts


class IdentityService:
    name = "identity"

    call_context = CallContext()
    health: Health = Readiness()
    accounts: Accounts = AccountsProvider()
    ended_sessions: EndedSessions = SessionEndsRecord()

    @fact_handler("identity.sessions", expected_exceptions=ContractViolation)
    def end_sessions(self, envelope: Envelope) -> str:
        """From identity: refuse the access tokens of these sessions from now on."""
        return self.ended_sessions.record(envelope)

    @api("POST", "/v1/accounts", roles=PUBLIC)
    def register(self, request: Request) -> Response:
        body = json_body(request, CREDENTIALS)
        account_id = self.accounts.register_applicant(body["mobile"], body["password"])
        log.info("applicant account %s registered", account_id)
        return json_response({"account_id": str(account_id)}, 201)

    @api("POST", "/v1/sessions", roles=PUBLIC)
    def sign_in(self, request: Request) -> dict:
        body = json_body(request, CREDENTIALS)
        address = request.remote_addr or "unknown"
        return self.accounts.sign_in(
            body["mobile"], body["password"], address
        ).to_dict()

    @api("POST", "/v1/sessions/refresh", roles=PUBLIC)
    def refresh(self, request: Request) -> dict:
        body = json_body(request, REFRESH)
        return self.accounts.refresh(body["refresh_token"]).to_dict()

    @api("POST", "/v1/sessions/sign-out", roles=PUBLIC)
    def sign_out(self, request: Request) -> Response:
        body = json_body(request, REFRESH)
        self.accounts.sign_out(body["refresh_token"])
        return Response(status=204)

    @api("GET", "/v1/me", roles=Role.ALL)
    def me(self, request: Request) -> dict:
        return self.accounts.profile(caller_of(request).account_id)

    @api("POST", "/v1/me/real-name", roles={Role.APPLICANT})
    def verify_real_name(self, request: Request) -> dict:
        body = json_body(request, REAL_NAME)
        caller = caller_of(request)
        kind = self.accounts.verify_real_name(
            caller.account_id, body["name"], body["id_number"]
        )
        log.info("account %s verified its real name", caller.account_id)
        return {"real_name_verified": True, "document_kind": kind}

    @api("POST", "/v1/me/password", roles=Role.ALL)
    def change_password(self, request: Request) -> Response:
        body = json_body(request, NEW_PASSWORD)
        self.accounts.change_password(
            caller_of(request).account_id,
            body["current_password"],
            body["new_password"],
        )
        return Response(status=204)

    @api("GET", "/metrics", roles=PUBLIC)
    def metrics(self, request: Request) -> Response:
        return metrics_response()

    @api("GET", "/health/live", roles=PUBLIC)
    def live(self, request: Request) -> dict:
        """The process answers; Kubernetes restarts it when this stops."""
        return {"status": "live"}

    @api("GET", "/health/ready", roles=PUBLIC)
    def ready(self, request: Request) -> dict:
        """Ready while the database and the broker answer; else out of rotation."""
        if unreachable := self.health.unreachable():
            raise Unavailable("not_ready", not_ready_message(unreachable))
        return {"status": "ready"}
