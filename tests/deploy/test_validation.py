"""Every rendered resource is valid: built-in kinds against Kubernetes' own schemas,
custom resources against the fields their operators document.

kubernetes-validate only warns about kinds it has no schema for, so custom
resources are checked here against tests/deploy/schemas/*.json, each written
from its operator's API reference (the source is in the schema's $comment).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
from jsonschema import Draft202012Validator

from tests.deploy.conftest import OVERLAYS, rendered

SCHEMAS = Path(__file__).parent / "schemas"
# The oldest Kubernetes the manifests are meant for, and the newest the
# validator knows.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.utils.latest_version())


@cache
def custom_schemas() -> dict[tuple[str, str], Draft202012Validator]:
    validators = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        key = (
            schema["properties"]["apiVersion"]["const"],
            schema["properties"]["kind"]["const"],
        )
        validators[key] = Draft202012Validator(schema)
    return validators


def is_custom(resource: dict) -> bool:
    return (resource["apiVersion"], resource["kind"]) in custom_schemas()


def label(resource: dict) -> str:
    return f"{resource['kind']}/{resource['metadata']['name']}"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_built_in_kinds_pass_kubernetes_validate_strictly(overlay, version):
    built_in = [r for r in rendered(overlay) if not is_custom(r)]

    assert built_in
    for resource in built_in:
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(part) for part in error.path)
            pytest.fail(f"{label(resource)} at {where}: {error.message}")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_fit_the_fields_their_operators_document(overlay):
    custom = [r for r in rendered(overlay) if is_custom(r)]

    assert {r["kind"] for r in custom} == {kind for _, kind in custom_schemas()}
    for resource in custom:
        validator = custom_schemas()[(resource["apiVersion"], resource["kind"])]
        problems = [
            f"{'.'.join(map(str, e.path))}: {e.message}"
            for e in validator.iter_errors(resource)
        ]
        assert not problems, f"{label(resource)}: {problems}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_kind_goes_unchecked(overlay):
    for resource in rendered(overlay):
        if is_custom(resource):
            continue
        try:
            kubernetes_validate.validate(resource, KUBERNETES_VERSIONS[-1])
        except kubernetes_validate.SchemaNotFoundError:
            pytest.fail(f"{label(resource)}: neither built in nor in {SCHEMAS}")


def test_every_schema_says_where_it_came_from():
    for path in SCHEMAS.glob("*.json"):
        assert "docs" in json.loads(path.read_text())["$comment"], path.name


def test_a_typo_in_a_custom_resource_is_caught():
    cluster = next(r for r in rendered("prod") if r["kind"] == "RabbitmqCluster")
    typo = {**cluster, "spec": {**cluster["spec"], "replica": 3}}

    validator = custom_schemas()[(typo["apiVersion"], typo["kind"])]

    assert not validator.is_valid(typo)
