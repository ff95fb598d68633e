"""docs/openapi/*.yaml stay true to the HTTP entrypoints, their schemas and codes."""

import ast
import inspect
import textwrap
import typing
from collections.abc import Iterator
from datetime import date, datetime
from functools import cache, reduce
from itertools import chain
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from prometheus_client import CONTENT_TYPE_LATEST

from services.certificates import presentation
from services.certificates import service as certificates
from services.certificates.catalogue import Kind
from services.common import errors, id_numbers
from services.common.auth import ALGORITHM
from services.common.settings import DEFAULT_HTTP_PORTS
from services.common.web import ApiHandler
from services.distribution import bodies
from services.distribution import service as distribution
from services.identity import service as identity
from services.notifications import service as notifications
from services.reissue import bodies as reissue_bodies
from services.reissue import service as reissue

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "openapi"
SERVICES: dict[str, tuple[ModuleType, type]] = {
    "identity": (identity, identity.IdentityService),
    "certificates": (certificates, certificates.CertificatesService),
    "distribution": (distribution, distribution.DistributionService),
    "reissue": (reissue, reissue.ReissueService),
    "notifications": (notifications, notifications.NotificationsService),
}
# Where the request-body schemas of the services that read bodies are written.
BODY_SCHEMAS: dict[str, ModuleType] = {
    "identity": identity,
    "distribution": bodies,
    "reissue": reissue_bodies,
    "notifications": notifications,
}
# Where each service's refusal codes are written: its own package, the handler
# (web.py) and token checks (auth.py) every entrypoint goes through, and the
# ID-number checks that identity and distribution share.
SOURCES = {
    service: (
        ROOT / "services" / service,
        ROOT / "services" / "common" / "web.py",
        ROOT / "services" / "common" / "auth.py",
        ROOT / "services" / "common" / "id_numbers.py",
    )
    for service in SERVICES
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
ANNOTATIONS = {"description", "title", "examples", "$comment"}
BEARER = [{"bearerAuth": []}]

UNAUTHENTICATED = str(errors.Unauthenticated.status)
TOKEN_REFUSALS = {
    "authentication_required": UNAUTHENTICATED,
    "token_invalid": UNAUTHENTICATED,
    "token_expired": UNAUTHENTICATED,
    "session_ended": UNAUTHENTICATED,
    "role_not_allowed": str(errors.Forbidden.status),
}
BODY_REFUSALS = {
    "malformed_json": str(errors.Invalid.status),
    "invalid_request": str(errors.Invalid.status),
}
# Answers the handler itself may give to any request (web.py), not refusals.
HANDLER_ANSWERS = {"internal_error", "bad_request", "database_unavailable"}
# Services whose refusals the call graph finds in full. Identity's use cases keep
# their dependencies in instance attributes, which `reachable_refusals` cannot
# follow; the tests that read its source whole check it instead.
FULLY_TRACED = ["certificates", "distribution", "reissue", "notifications"]
# A day within the custody of every certificate the certificates examples show.
EXAMPLES_SEEN_ON = date(2026, 1, 8)

per_service = pytest.mark.parametrize("service", SERVICES)


@cache
def document(service: str) -> dict[str, Any]:
    """The service's OpenAPI document, with every local $ref replaced by its target."""
    raw = yaml.safe_load((DOCS / f"{service}.yaml").read_text(encoding="utf-8"))
    return resolved(raw, raw)


def resolved(node: Any, root: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            assert node["$ref"].startswith("#/"), f"{node['$ref']} is not local"
            target: Any = root
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolved(target, root)
        return {key: resolved(value, root) for key, value in node.items()}
    if isinstance(node, list):
        return [resolved(item, root) for item in node]
    return node


def operations(service: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document(service)["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def entrypoints(service: str) -> dict[tuple[str, str], tuple[str, ApiHandler]]:
    """(method, path) of every `api` entrypoint: its method name and handler."""
    _, service_class = SERVICES[service]
    found = {}
    for name, function in inspect.getmembers(service_class, inspect.isfunction):
        for extension in getattr(function, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(extension, ApiHandler):
                for method in extension.method.split(","):
                    key = (method.strip().upper(), openapi_path(extension.url))
                    found[key] = (name, extension)
    assert found, f"no api entrypoints found on {service_class.__name__}"
    return found


def openapi_path(url: str) -> str:
    """A werkzeug rule as an OpenAPI path: /v1/x/<int:id> becomes /v1/x/{id}."""
    parts = []
    for part in url.split("/"):
        if part.startswith("<") and part.endswith(">"):
            part = "{" + part[1:-1].rpartition(":")[2] + "}"
        parts.append(part)
    return "/".join(parts)


def refusals(operation: dict[str, Any]) -> dict[str, set[str]]:
    """Each error code the operation documents, with the statuses it comes under."""
    found: dict[str, set[str]] = {}
    for status, response in operation["responses"].items():
        if int(status) < 400:
            continue
        for code in error_codes(response):
            found.setdefault(code, set()).add(status)
    return found


def error_codes(node: Any) -> Iterator[str]:
    """Codes in error schemas (enum or const of `code`) and in error examples."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "code" and isinstance(value, dict):
                yield from value.get("enum", [])
                if "const" in value:
                    yield value["const"]
            if key == "error" and isinstance(value, dict):
                code = value.get("code")
                if isinstance(code, str):
                    yield code
            yield from error_codes(value)
    elif isinstance(node, list):
        for item in node:
            yield from error_codes(item)


def media_types(service: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for (method, path), operation in operations(service).items():
        body = operation.get("requestBody", {})
        for media in body.get("content", {}).values():
            yield f"{method} {path} request", media
        for status, response in operation["responses"].items():
            for media in response.get("content", {}).values():
                yield f"{method} {path} {status}", media


def body_schema_names(function: Any) -> list[str]:
    """Names of the schema constants the entrypoint passes to `json_body`.

    A name as written in the call: `CREDENTIALS`, or `bodies.BOOK` for a constant
    of an imported module.
    """
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    return [
        ast.unparse(node.args[1])
        for node in ast.walk(tree)
        if is_json_body_call(node)
        and len(node.args) == 2
        and isinstance(node.args[1], ast.Name | ast.Attribute)
    ]


def is_json_body_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "json_body"
    )


def schema_constant(module: ModuleType, name: str) -> Any:
    """The object a name in `body_schema_names` stands for in the service module."""
    return reduce(getattr, name.split("."), module)


def without_annotations(schema: Any) -> Any:
    """A JSON Schema without the keywords that validate nothing."""
    if isinstance(schema, list):
        return [without_annotations(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kept = {}
    for key, value in schema.items():
        if key in ANNOTATIONS:
            continue
        if key == "properties":  # its keys are field names, not keywords
            kept[key] = {name: without_annotations(s) for name, s in value.items()}
        else:
            kept[key] = without_annotations(value)
    return kept


def python_files(sources: tuple[Path, ...]) -> Iterator[Path]:
    for source in sources:
        yield from sorted(source.rglob("*.py")) if source.is_dir() else [source]


def string_literals(sources: tuple[Path, ...]) -> set[str]:
    return {
        node.value
        for path in python_files(sources)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def refusal_statuses() -> dict[str, int]:
    found = {"Refusal": errors.Refusal.status}
    pending = list(errors.Refusal.__subclasses__())
    while pending:
        kind = pending.pop()
        found[kind.__name__] = kind.status
        pending.extend(kind.__subclasses__())
    return found


def refusal_code(call: ast.Call, names: dict[str, Any]) -> str | None:
    """The literal code of a refusal, also one spread from a module-level tuple."""
    first: Any = call.args[0] if call.args else None
    if isinstance(first, ast.Starred) and isinstance(first.value, ast.Name):
        spread = names.get(first.value.id)
        return spread[0] if isinstance(spread, tuple) and spread else None
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def reachable_refusals(function: Any, owner: type) -> dict[str, set[str]]:
    """Refusals that calling `function` can make, with their HTTP statuses.

    Follows the calls into our own code: functions of the module or imported from
    ours, methods called on `self`, and methods of dependencies declared with a
    type on the class (`app: DistributionApplication`). A refusal counts when made
    with a literal code; the ID-number checks choose theirs at run time from
    `WHAT_IS_WRONG`, so reaching them counts every code there.
    """
    made: dict[str, set[str]] = {}
    seen: set[Any] = set()
    pending: list[tuple[Any, type | None]] = [(function, owner)]
    while pending:
        function, owner = pending.pop()
        if function in seen:
            continue
        seen.add(function)
        if function is id_numbers.document_kind:
            for code in id_numbers.WHAT_IS_WRONG:
                made.setdefault(code, set()).add(str(errors.Invalid.status))
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            callee, callee_owner = resolve_call(node.func, function.__globals__, owner)
            if isinstance(callee, type) and issubclass(callee, errors.Refusal):
                code = refusal_code(node, function.__globals__)
                if code is not None:
                    made.setdefault(code, set()).add(str(callee.status))
            elif is_our_function(callee):
                pending.append((callee, callee_owner))
    return made


def resolve_call(
    func: ast.expr, names: dict[str, Any], owner: type | None
) -> tuple[Any, type | None]:
    """What a called expression names, and the class its `self` is, if known."""
    if isinstance(func, ast.Name):
        return names.get(func.id), None
    if not isinstance(func, ast.Attribute):
        return None, None
    base = func.value
    if isinstance(base, ast.Name) and base.id == "self" and owner is not None:
        return getattr(owner, func.attr, None), owner
    if (
        isinstance(base, ast.Attribute)
        and isinstance(base.value, ast.Name)
        and base.value.id == "self"
        and owner is not None
    ):
        dependency = declared_types(owner).get(base.attr)
        if isinstance(dependency, type):
            return getattr(dependency, func.attr, None), dependency
        return None, None
    if isinstance(base, ast.Name):
        target = names.get(base.id)
        if isinstance(target, ModuleType):
            return getattr(target, func.attr, None), None
        if isinstance(target, type):
            return getattr(target, func.attr, None), target
    return None, None


def declared_types(owner: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(owner)
    except (NameError, TypeError):
        return {}


def is_our_function(candidate: Any) -> bool:
    if inspect.ismethod(candidate):
        candidate = candidate.__func__
    return inspect.isfunction(candidate) and candidate.__module__.startswith(
        "services."
    )


def refusals_made(sources: tuple[Path, ...]) -> dict[str, set[str]]:
    """Codes of the refusals made with a literal code, and their HTTP statuses.

    A code given as a literal, or spread from a module-level tuple
    (`Unauthenticated(*WRONG_CREDENTIALS)`), is seen; one computed at run time
    (`Invalid(code, WHAT_IS_WRONG[code])`) is not.
    """
    statuses = refusal_statuses()
    made: dict[str, set[str]] = {}
    for path in python_files(sources):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        tuples = {
            target.id: node.value.elts
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in statuses
                and node.args
            ):
                continue
            first = node.args[0]
            if isinstance(first, ast.Starred) and isinstance(first.value, ast.Name):
                first = tuples.get(first.value.id, [None])[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                status = str(statuses[node.func.id])
                made.setdefault(first.value, set()).add(status)
    return made


@per_service
def test_the_document_is_openapi_3_1_on_the_default_port(service):
    doc = document(service)
    (server,) = doc["servers"]
    scheme = doc["components"]["securitySchemes"]["bearerAuth"]

    assert doc["openapi"].startswith("3.1.")
    assert server["url"] == f"http://127.0.0.1:{DEFAULT_HTTP_PORTS[service]}"
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == (
        "http",
        "bearer",
        "JWT",
    )
    assert ALGORITHM in scheme["description"]


@per_service
def test_every_entrypoint_is_documented_with_the_roles_it_admits(service):
    documented = operations(service)

    for key, (name, handler) in entrypoints(service).items():
        assert key in documented, f"{service}.{name}: {key} is not documented"
        operation = documented[key]
        assert sorted(operation["x-roles"]) == sorted(handler.roles), name
        assert operation["security"] == (BEARER if handler.roles else []), name


@per_service
def test_the_document_has_no_operation_the_code_lacks(service):
    extra = set(operations(service)) - set(entrypoints(service))

    assert not extra, f"{service} documents operations it does not have: {extra}"


@per_service
def test_every_operation_documents_the_refusals_its_handler_makes(service):
    documented = operations(service)
    _, service_class = SERVICES[service]

    for key, (name, handler) in entrypoints(service).items():
        function = getattr(service_class, name)
        answers = refusals(documented[key])
        reads_body = bool(body_schema_names(function))
        expected = {"internal_error": "500"}
        if handler.roles:
            expected |= TOKEN_REFUSALS
        if reads_body:
            expected |= BODY_REFUSALS
        for code, status in expected.items():
            assert status in answers.get(code, set()), f"{name}: {code} {status}"
        if not handler.roles:
            assert not set(answers) & set(TOKEN_REFUSALS), f"{name} needs no token"
        if not reads_body:
            # A query parameter may be refused with a body code too (`days`).
            otherwise = reachable_refusals(function, service_class)
            body_codes = set(answers) & set(BODY_REFUSALS) - set(otherwise)
            assert not body_codes, f"{name} reads no body"


@per_service
def test_every_documented_error_code_is_written_in_the_source(service):
    documented = set(error_codes(document(service)))
    written = string_literals(SOURCES[service])

    assert documented, f"{service} documents no error codes"
    assert not documented - written, (
        f"{service} documents codes its source does not have: "
        f"{sorted(documented - written)}"
    )


@per_service
def test_every_refusal_the_service_makes_is_documented_with_its_status(service):
    package, _, auth, _ = SOURCES[service]
    made = refusals_made((package, auth))
    documented: dict[str, set[str]] = {}
    for operation in operations(service).values():
        for code, statuses in refusals(operation).items():
            documented.setdefault(code, set()).update(statuses)

    assert made
    for code, statuses in made.items():
        assert code in documented, f"{service} never documents {code}"
        assert statuses <= documented[code], f"{code}: {statuses} in the code"


@per_service
def test_each_operation_documents_every_refusal_its_code_can_make(service):
    documented = operations(service)
    _, service_class = SERVICES[service]

    for key, (name, _) in entrypoints(service).items():
        made = reachable_refusals(getattr(service_class, name), service_class)
        answers = refusals(documented[key])
        for code, statuses in made.items():
            assert statuses <= answers.get(code, set()), f"{name}: {code} {statuses}"


@pytest.mark.parametrize("service", FULLY_TRACED)
def test_each_operation_documents_only_refusals_its_code_can_make(service):
    documented = operations(service)
    _, service_class = SERVICES[service]

    for key, (name, handler) in entrypoints(service).items():
        made = reachable_refusals(getattr(service_class, name), service_class)
        possible = set(made) | HANDLER_ANSWERS
        if handler.roles:
            possible |= set(TOKEN_REFUSALS)
        extra = set(refusals(documented[key])) - possible
        assert not extra, f"{name} documents refusals it cannot make: {extra}"


@per_service
def test_request_bodies_are_the_schemas_the_code_enforces(service):
    module, service_class = SERVICES[service]
    documented = operations(service)

    for key, (name, _) in entrypoints(service).items():
        operation = documented[key]
        schema_names = body_schema_names(getattr(service_class, name))
        if not schema_names:
            assert "requestBody" not in operation, f"{name} reads no body"
            continue
        (schema_name,) = schema_names
        body = operation.get("requestBody")
        assert body is not None, f"{name} reads {schema_name}, undocumented"
        schema = body["content"]["application/json"]["schema"]
        enforced = schema_constant(module, schema_name)
        assert body["required"] is True, name
        assert without_annotations(schema) == without_annotations(enforced), name


@pytest.mark.parametrize("service", BODY_SCHEMAS)
def test_the_bodies_a_service_reads_are_found_where_they_are_written(service):
    module, service_class = SERVICES[service]
    written = [
        value for value in vars(BODY_SCHEMAS[service]).values() if type(value) is dict
    ]

    read = [
        schema_constant(module, schema_name)
        for name, _ in entrypoints(service).values()
        for schema_name in body_schema_names(getattr(service_class, name))
    ]

    assert read, "no json_body call found: the request-body test checks nothing"
    for schema in read:
        assert any(schema is value for value in written), schema


@per_service
def test_every_json_body_call_is_seen(service):
    module, service_class = SERVICES[service]
    tree = ast.parse(inspect.getsource(module))
    calls = sum(is_json_body_call(node) for node in ast.walk(tree))

    seen = sum(
        len(body_schema_names(getattr(service_class, name)))
        for name, _ in entrypoints(service).values()
    )

    assert seen == calls, "a json_body call the request-body test cannot read"


@per_service
def test_every_example_fits_its_schema(service):
    checked = 0

    for where, media in media_types(service):
        validator = Draft202012Validator(
            media["schema"], format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        for name, example in media.get("examples", {}).items():
            problems = [e.message for e in validator.iter_errors(example["value"])]
            assert not problems, f"{where} example {name}: {problems}"
            checked += 1

    assert checked


@per_service
def test_metrics_are_the_prometheus_text_exposition(service):
    media_type = CONTENT_TYPE_LATEST.partition(";")[0]
    answer = operations(service)[("GET", "/metrics")]["responses"]["200"]

    assert list(answer["content"]) == [media_type]
    assert CONTENT_TYPE_LATEST in answer["description"]


def presented_again(shown: dict[str, Any]) -> dict[str, Any]:
    """What the presentation writes for a row holding what an example shows."""
    qualification = shown["qualification"]
    booking = shown["booking"] or {}
    mail = shown["mail"] or {}
    row = {
        "certificate_number": shown["certificate_number"],
        "qualification_code": qualification["code"],
        "qualification_name": qualification["name"],
        "level": qualification["level"],
        "specialty": qualification["specialty"],
        "kind": shown["kind"],
        "holder_name": shown["holder_name"],
        "exam_end_date": date.fromisoformat(shown["exam_end_date"]),
        "custody_until": optional(date.fromisoformat, shown["custody_until"]),
        "state": shown["state"],
        "starts_at": optional(datetime.fromisoformat, booking.get("starts_at")),
        "ends_at": optional(datetime.fromisoformat, booking.get("ends_at")),
        "ship_by": optional(date.fromisoformat, mail.get("ship_by")),
        "tracking_number": mail.get("tracking_number"),
    }
    (again,) = presentation.present([row], EXAMPLES_SEEN_ON)["certificates"]
    return again


def optional(parse: Any, value: str | None) -> Any:
    return None if value is None else parse(value)


def test_certificates_read_as_the_presentation_writes_them():
    certificate = document("certificates")["components"]["schemas"]["Certificate"]
    fields = certificate["properties"]
    answer = operations("certificates")[("GET", "/v1/me/certificates")]
    examples = answer["responses"]["200"]["content"]["application/json"]["examples"]
    shown = [c for e in examples.values() for c in e["value"]["certificates"]]
    next_actions = set(chain.from_iterable(presentation.NEXT_ACTIONS.values()))
    next_actions.add(presentation.VIEW_REISSUE)

    assert set(fields["state"]["enum"]) == set(presentation.LABELS)
    assert set(fields["next_actions"]["items"]["enum"]) == next_actions
    assert set(fields["kind"]["enum"]) == {str(kind) for kind in Kind}
    assert shown
    for shown_certificate in shown:
        state = shown_certificate["state"]
        assert shown_certificate["state_label"] == presentation.LABELS[state]
        assert shown_certificate["next_actions"] == presentation.NEXT_ACTIONS[state]
        assert shown_certificate == presented_again(shown_certificate), state
    claim_states = {
        presentation.BOOKED,
        presentation.MAIL_REQUESTED,
        presentation.SHIPPED,
        presentation.DELIVERED,
        presentation.COLLECTED,
    }
    assert claim_states <= {c["state"] for c in shown}, "a claim state not shown"
    assert presentation.NO_CERTIFICATES_NOTICE in [
        e["value"].get("notice") for e in examples.values()
    ]
