"""HTTP entrypoints: who may call, JSON in and out, and a clear answer to every error.

`api(method, url, roles=...)` replaces Nameko's `http`: every entrypoint declares
the roles it admits (or `PUBLIC`), the caller's token is checked before a worker
starts, and every failure becomes a JSON answer with a stable code, including a
path or method that does not exist. A database that cannot be reached answers
503 `database_unavailable`, so the caller knows to try again; any other unexpected
error answers 500 `internal_error`, never a stack trace.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from jsonschema import Draft202012Validator
from nameko.exceptions import BadRequest
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, Map
from werkzeug.wrappers import Request, Response

from services.common.auth import Caller, TokenVerifier, admit
from services.common.dependencies import settings_of
from services.common.errors import Invalid, Refusal, Unauthenticated, Unavailable
from services.common.session_ends import SessionEnds
from services.common.workdays import CalendarYearNotCovered

log = logging.getLogger(__name__)

# The database could not be reached or its connection broke: the caller may try
# again in a moment, which an `internal_error` would not tell them.
DATABASE_UNREACHABLE = (
    psycopg.OperationalError,
    PoolTimeout,
    StoreOperationalError,
    StoreInterfaceError,
)

PUBLIC: frozenset[str] = frozenset()


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, default=str),
        status=status,
        mimetype="application/json",
    )


def metrics_response() -> Response:
    """The process's Prometheus metrics, for every service's `GET /metrics`."""
    return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def refusal_response(refusal: Refusal) -> Response:
    return json_response(
        {"error": {"code": refusal.code, "message": refusal.message}}, refusal.status
    )


class JsonApp(WsgiApp):
    """Nameko's WSGI app, answering unknown paths and methods in JSON too."""

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:
            response = _routing_error(exc)
        return response(environ, start_response)


# eventlet listens with a backlog of 50. When a crowd connects at once (the morning
# bookings open), connections the kernel cannot queue are dropped after their
# handshake and the holder's request is reset; a deeper queue lets them wait their
# turn instead. Linux caps it at net.core.somaxconn (4096 by default).
LISTEN_BACKLOG = 2048


# The id no record has: uuid4 never makes it.
NOWHERE = uuid.UUID(int=0)


class IdConverter(BaseConverter):
    """`<uuid:...>` in a path: an id that is not a UUID names nothing, like NOWHERE.

    werkzeug's own converter makes a malformed id a path that matches no
    operation (404 `not_found`). Looked up as NOWHERE instead, it gets the
    operation's own answer for an unknown id, such as `application_not_found`,
    which is what its document promises and what tells a person what is wrong.
    """

    def to_python(self, value: str) -> uuid.UUID:
        try:
            return uuid.UUID(value)
        except ValueError:
            return NOWHERE

    def to_url(self, value: uuid.UUID) -> str:
        return str(value)


class JsonWebServer(WebServer):
    def get_wsgi_app(self) -> WsgiApp:
        return JsonApp(self)

    def make_url_map(self) -> Map:
        # As Nameko's, with our converter: rules compile when added to the map.
        url_map = Map(converters={"uuid": IdConverter})
        for provider in self._providers:
            rule = provider.get_url_rule()
            rule.endpoint = provider
            url_map.add(rule)
        return url_map

    def start(self) -> None:
        super().start()
        self._sock.listen(LISTEN_BACKLOG)


class ApiHandler(HttpRequestHandler):
    server = JsonWebServer()
    session_ends = SessionEnds()

    def __init__(self, method: str, url: str, roles: frozenset[str], **kwargs: Any):
        self.roles = frozenset(roles)
        kwargs.setdefault("expected_exceptions", Refusal)
        super().__init__(method, url, **kwargs)

    def setup(self) -> None:
        super().setup()
        public_key = settings_of(self.container).secrets.read("token_public_key")
        self.verifier = TokenVerifier(public_key)

    def handle_request(self, request: Request) -> Response:
        request.caller = None
        if self.roles:
            try:
                request.caller = self.verifier.caller(
                    request.headers.get("Authorization")
                )
                if self.session_ends.sessions.has_ended(request.caller):
                    raise Unauthenticated("session_ended", "您已退出登录，请重新登录。")
                admit(request.caller, self.roles)
            except Refusal as refusal:
                return refusal_response(refusal)
        return super().handle_request(request)

    def response_from_result(self, result: Any) -> Response:
        if isinstance(result, Response):
            return result
        return json_response(result)

    def response_from_exception(self, exc: BaseException) -> Response:
        if isinstance(exc, Refusal):
            return refusal_response(exc)
        if isinstance(exc, CalendarYearNotCovered):
            # Operators see it in calendar_year_missing_total; the caller, plainly.
            return refusal_response(
                Unavailable(
                    "calendar_year_missing",
                    f"{exc.year} 年的工作日安排尚未录入，暂时无法办理，请稍后再试。",
                )
            )
        if isinstance(exc, DATABASE_UNREACHABLE):
            log.warning(
                "database unreachable answering %s %s: %s",
                self.method,
                self.url,
                type(exc).__name__,
            )
            return refusal_response(
                Unavailable("database_unavailable", "系统暂时无法办理，请稍后再试。")
            )
        if isinstance(exc, BadRequest):  # arguments that do not fit the method
            return json_response(
                {"error": {"code": "bad_request", "message": "请求格式不正确。"}}, 400
            )
        if isinstance(exc, HTTPException):  # e.g. a path that does not match
            return json_response(
                {"error": {"code": "bad_request", "message": "请求格式不正确。"}},
                exc.code or 400,
            )
        log.error("unexpected error answering %s %s", self.method, self.url)
        return json_response(
            {
                "error": {
                    "code": "internal_error",
                    "message": "系统暂时出现问题，请稍后再试；如仍有问题请联系中心。",
                }
            },
            500,
        )


api = ApiHandler.decorator


ROUTING_ERRORS = {
    404: ("not_found", "没有这个地址，请检查网址。"),
    405: ("method_not_allowed", "这个地址不支持该请求方式。"),
}


def _routing_error(exc: HTTPException) -> Response:
    status = exc.code or 400
    code, message = ROUTING_ERRORS.get(status, ("bad_request", "请求格式不正确。"))
    return json_response({"error": {"code": code, "message": message}}, status)


def caller_of(request: Request) -> Caller:
    caller = getattr(request, "caller", None)
    if caller is None:
        raise RuntimeError("this entrypoint admits anyone; it has no caller")
    return caller


def json_body(request: Request, schema: dict[str, Any]) -> dict[str, Any]:
    """The request's JSON body, checked against a schema; a refusal names the field."""
    try:
        body = json.loads(request.get_data() or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Invalid("malformed_json", "请求内容不是有效的 JSON。") from None
    errors = sorted(
        Draft202012Validator(schema).iter_errors(body), key=lambda e: list(e.path)
    )
    if errors:
        raise Invalid("invalid_request", _describe(errors[0]))
    return body


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error.path) or "请求内容"
    if error.validator == "required":
        field = error.message.split("'")[1]
        return f"缺少必填项 {field}。"
    if error.validator == "additionalProperties":
        return f"{where} 含有不认识的字段。"
    if error.validator == "type":
        return f"{where} 的类型不正确。"
    return f"{where} 的格式不正确。"
