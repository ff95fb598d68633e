"""The manifests say what the product needs: each runnable service deployed with
probes that mean something, pinned images, its own secrets by name, and the
broker, database, monitoring and network rules the product relies on."""

from __future__ import annotations

import filecmp
import re
import tomllib
from typing import Any

import pytest

from services.__main__ import RUNNABLE
from services.common.settings import DEFAULT_HTTP_PORTS
from services.common.topology import PRODUCERS, SUBSCRIPTIONS, exchange_name
from services.common.workdays import DEFAULT_REGIONAL_FILE
from tests.deploy.conftest import DEPLOY, OVERLAYS, ROOT, named, of_kind, rendered

SECRETS_DIR = "/etc/xjcert/secrets"
SECRET_READ = re.compile(r"""secrets\.(?:read|text)\(\s*["'](\w+)["']""")
# Every service reads these through shared code (event store, token checks).
EVERY_SERVICE_READS = {"event_cipher_key", "token_public_key"}

per_service = pytest.mark.parametrize("service", RUNNABLE)
per_overlay = pytest.mark.parametrize("overlay", OVERLAYS)


def product_version() -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return pyproject["project"]["version"]


def deployment(overlay: str, service: str) -> dict[str, Any]:
    return named(overlay, "Deployment", f"xjcert-{service}")


def pod(resource: dict[str, Any]) -> dict[str, Any]:
    return resource["spec"]["template"]["spec"]


def container(resource: dict[str, Any]) -> dict[str, Any]:
    (found,) = pod(resource)["containers"]
    return found


def all_containers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod(resource)
    return spec.get("initContainers", []) + spec["containers"]


def workloads(overlay: str) -> list[dict[str, Any]]:
    return of_kind(overlay, "Deployment") + of_kind(overlay, "Job")


def env_of(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container(resource).get("env", [])}


def secret_files(resource: dict[str, Any]) -> set[str]:
    (volume,) = [v for v in pod(resource)["volumes"] if v["name"] == "secrets"]
    return {
        item["path"]
        for source in volume["projected"]["sources"]
        for item in source["secret"]["items"]
    }


def secrets_read_by(service: str) -> set[str]:
    sources = (ROOT / "services" / service).rglob("*.py")
    return EVERY_SERVICE_READS | {
        name for path in sources for name in SECRET_READ.findall(path.read_text())
    }


# --- the services ------------------------------------------------------------------


@per_overlay
@per_service
def test_each_service_has_its_deployment_service_budget_scaler_and_monitor(
    overlay, service
):
    name = f"xjcert-{service}"
    for kind in (
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ServiceMonitor",
    ):
        assert named(overlay, kind, name)
    assert container(deployment(overlay, service))["command"] == [
        "python",
        "-m",
        f"services.{service}",
    ]


@per_service
def test_probes_ask_the_service_on_its_own_port(service):
    main = container(deployment("prod", service))
    (port,) = main["ports"]

    assert port == {"name": "http", "containerPort": DEFAULT_HTTP_PORTS[service]}
    assert main["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {
        "path": "/health/ready",
        "port": "http",
    }
    # Longer than the readiness check's own limit (CHECK_SECONDS, 4 s).
    assert main["readinessProbe"]["timeoutSeconds"] > 4
    assert main["startupProbe"]["httpGet"]["path"] == "/health/live"


@per_service
def test_pods_wait_for_the_schema_job_of_their_release(service):
    (wait,) = pod(deployment("prod", service))["initContainers"]
    (job_container,) = pod(named("prod", "Job", "xjcert-schema"))["containers"]

    assert wait["command"][:5] == ["python", "-m", "services.ops", "schema", "wait"]
    assert job_container["command"] == [
        "python",
        "-m",
        "services.ops",
        "schema",
        "create",
    ]


@per_overlay
def test_every_container_is_restricted_and_sized(overlay):
    for workload in workloads(overlay):
        spec = pod(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        for each in all_containers(workload):
            context = each["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, each["name"]
            assert context["allowPrivilegeEscalation"] is False, each["name"]
            assert context["capabilities"] == {"drop": ["ALL"]}, each["name"]
            assert set(each["resources"]) == {"requests", "limits"}, each["name"]


@per_overlay
def test_images_are_pinned_and_the_product_tag_is_its_version(overlay):
    images = [c["image"] for w in workloads(overlay) for c in all_containers(w)]
    images.append(of_kind(overlay, "RabbitmqCluster")[0]["spec"]["image"])
    images.append(of_kind(overlay, "Cluster")[0]["spec"]["imageName"])

    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and re.match(r"^\d+\.\d+", tag), image
    product = {
        tag
        for name, _, tag in (i.rpartition(":") for i in images)
        if name.rpartition("/")[2] == "xjcert"
    }
    assert product == {product_version()}


@per_service
def test_each_service_mounts_exactly_the_secrets_its_code_reads(service):
    workload = deployment("prod", service)
    env = env_of(workload)
    files = {
        name.removeprefix("XJCERT_").removesuffix("_FILE").lower(): item["value"]
        for name, item in env.items()
        if name.endswith("_FILE")
    }

    assert set(files) == secrets_read_by(service)
    assert secret_files(workload) == set(files)
    for secret, path in files.items():
        assert path == f"{SECRETS_DIR}/{secret}"


@per_overlay
def test_secrets_are_referenced_by_name_never_written(overlay):
    assert not of_kind(overlay, "Secret")
    for workload in workloads(overlay):
        for each in all_containers(workload):
            for item in each.get("env", []):
                if item["name"] in {"XJCERT_DATABASE_URL", "XJCERT_AMQP_URI"}:
                    assert "secretKeyRef" in item["valueFrom"], item["name"]
                else:
                    assert "://" not in item.get("value", ""), item["name"]


def test_every_setting_in_the_config_map_is_one_the_code_reads():
    code = "\n".join(p.read_text() for p in (ROOT / "services").rglob("*.py"))
    settings = named("prod", "ConfigMap", "xjcert-settings")["data"]
    env_names = {
        item["name"]
        for workload in workloads("prod")
        for each in all_containers(workload)
        for item in each.get("env", [])
    }

    for name in set(settings) | env_names:
        read_as = name.removesuffix("_FILE").removeprefix("XJCERT_").lower()
        assert name in code or f'"{read_as}"' in code, name


def test_the_site_names_reach_the_ingress_the_settings_and_the_backups():
    site = dict(
        line.split("=", 1)
        for line in (DEPLOY / "overlays/prod/site.env").read_text().split()
    )
    ingress = named("prod", "Ingress", "xjcert-portal")
    store = named("prod", "ObjectStore", "xjcert-backups")["spec"]["configuration"]
    settings = named("prod", "ConfigMap", "xjcert-settings")["data"]

    assert ingress["spec"]["rules"][0]["host"] == site["PORTAL_HOST"]
    assert ingress["spec"]["tls"][0]["hosts"] == [site["PORTAL_HOST"]]
    assert settings["XJCERT_VERIFICATION_URL"] == (
        f"https://{site['PORTAL_HOST']}/verify"
    )
    assert store["destinationPath"] == site["BACKUP_DESTINATION"]
    assert store["endpointURL"] == site["BACKUP_ENDPOINT"]


# --- the calendar ------------------------------------------------------------------


def test_the_mounted_calendar_is_the_packaged_one_at_the_packaged_path():
    dockerfile = (ROOT / "Dockerfile").read_text()
    python = re.search(r"python:(\d+\.\d+)\.", dockerfile).group(1)
    venv = re.search(r"python -m venv (\S+)", dockerfile).group(1)
    packaged = DEFAULT_REGIONAL_FILE.relative_to(ROOT)
    mounts = [
        m
        for d in of_kind("prod", "Deployment")
        for m in container(d).get("volumeMounts", [])
        if m["name"] == "calendar"
    ]

    assert filecmp.cmp(
        DEPLOY / "base/calendar" / DEFAULT_REGIONAL_FILE.name,
        DEFAULT_REGIONAL_FILE,
        shallow=False,
    ), "run python -m services.ops calendar load, which changes both"
    assert len(mounts) == len(RUNNABLE)
    for mount in mounts:
        assert mount["mountPath"] == (
            f"{venv}/lib/python{python}/site-packages/{packaged}"
        )


# --- the broker --------------------------------------------------------------------


def outside_systems() -> list[str]:
    return [p for p in PRODUCERS if p not in DEFAULT_HTTP_PORTS]


def permission_of(user: str) -> dict[str, str]:
    (found,) = [
        p["spec"]
        for p in of_kind("prod", "Permission")
        if p["spec"]["userReference"]["name"] == user
    ]
    assert found["vhost"] == "xjcert"
    return found["permissions"]


def every_resource_name() -> set[str]:
    queues = {
        name
        for s in SUBSCRIPTIONS.values()
        for name in (s.queue, s.retry_queue, s.dead_letter_queue)
    }
    return queues | {exchange_name(p) for p in PRODUCERS}


def allowed(pattern: str) -> set[str]:
    return {name for name in every_resource_name() if re.search(pattern, name)}


def test_three_broker_nodes_and_quorum_queues_by_default():
    cluster = named("prod", "RabbitmqCluster", "xjcert-broker")
    vhost = named("prod", "Vhost", "xjcert")

    assert cluster["spec"]["replicas"] == 3
    assert vhost["spec"]["defaultQueueType"] == "quorum"


@pytest.mark.parametrize("producer", outside_systems())
def test_an_outside_system_writes_only_to_its_exchange(producer):
    user = f"xjcert-{producer.replace('_', '-')}"
    permissions = permission_of(user)
    inbox = {s.queue for s in SUBSCRIPTIONS.values() if s.queue.startswith(producer)}

    assert named("prod", "User", user)["spec"]["importCredentialsSecret"]["name"]
    assert allowed(permissions["write"]) == {exchange_name(producer)}
    assert allowed(permissions["read"]) == inbox
    assert allowed(permissions["configure"]) == set()


def test_the_ministry_reads_its_inbox():
    assert allowed(permission_of("xjcert-ministry")["read"]) == {
        "ministry.reissue_batches"
    }


# --- the database ------------------------------------------------------------------


def test_postgresql_has_replicas_synchronous_commits_and_backups():
    spec = named("prod", "Cluster", "xjcert-db")["spec"]
    (plugin,) = spec["plugins"]
    backup = named("prod", "ScheduledBackup", "xjcert-db-nightly")["spec"]

    assert spec["instances"] >= 3
    assert spec["postgresql"]["synchronous"]["number"] >= 1
    assert plugin["isWALArchiver"] is True
    assert named("prod", "ObjectStore", plugin["parameters"]["barmanObjectName"])
    assert backup["cluster"]["name"] == "xjcert-db"
    assert backup["pluginConfiguration"]["name"] == plugin["name"]


def test_the_connection_budget_fits_max_connections():
    # Per pod: the event store's pool (3), eventsourcing's pool (4 + 6 overflow),
    # the read models' pool (workers + 2), the relay's lock connection, identity's
    # session pool (5); plus the schema Job and a few operators' commands.
    settings = named("prod", "ConfigMap", "xjcert-settings")["data"]
    per_pod = 3 + 10 + int(settings["XJCERT_MAX_WORKERS"]) + 2 + 1 + 5
    pods = sum(
        h["spec"]["maxReplicas"] for h in of_kind("prod", "HorizontalPodAutoscaler")
    )
    parameters = named("prod", "Cluster", "xjcert-db")["spec"]["postgresql"]

    assert pods * per_pod + 20 <= int(parameters["parameters"]["max_connections"])


# --- monitoring --------------------------------------------------------------------


def alerts() -> list[dict[str, Any]]:
    (rules,) = of_kind("prod", "PrometheusRule")
    return [r for g in rules["spec"]["groups"] for r in g["rules"] if "alert" in r]


def runbook_sections() -> set[str]:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    return set(re.findall(r"^### (Xjcert\w+)$", text, re.MULTILINE))


def exported_metric_names() -> set[str]:
    metrics = (ROOT / "services/common/metrics.py").read_text()
    things = re.findall(r'name\("(\w+)"\)', metrics)
    names = {f"{s}_{t}" for s in RUNNABLE for t in things}
    for path in (ROOT / "services").rglob("*.py"):
        names |= set(re.findall(r'(?:Gauge|Counter)\(\s*"(\w+)"', path.read_text()))
    return names | {f"{n}_bucket" for n in names}


def metric_references(expr: str) -> tuple[set[str], set[str]]:
    """Plain metric names, and the __name__ patterns, used by an expression."""
    patterns = set(re.findall(r'__name__=~"([^"]+)"', expr))
    words = set(re.findall(r"\b([a-z][a-z0-9_]+)(?=\{)", expr))
    return {w for w in words if not w.startswith("kube_")}, patterns


def test_the_runbook_has_a_section_for_every_alert_and_no_other():
    names = {a["alert"] for a in alerts()}

    assert names == runbook_sections()
    for alert in alerts():
        anchor = alert["alert"].lower()
        assert alert["annotations"]["runbook"] == f"docs/operations.md#{anchor}"


def test_the_alerts_cover_what_hurts():
    watched = " ".join(a["expr"] for a in alerts())

    for metric in (
        "_events_dead_lettered_total",
        "_relay_lag_events",
        "reissue_reviews_overdue",
        "reissue_syncs_overdue",
        "distribution_mail_overdue",
        "certificates_centre_signatures_overdue",
        "calendar_year_missing_total",
        "kube_deployment_status_replicas_unavailable",
    ):
        assert metric in watched, metric


def test_alerts_and_the_dashboard_use_metrics_the_services_export():
    import json

    dashboard = json.loads((DEPLOY / "base/monitoring/dashboard.json").read_text())
    expressions = [a["expr"] for a in alerts()] + [
        t["expr"] for p in dashboard["panels"] for t in p["targets"]
    ]
    exported = exported_metric_names()

    for expr in expressions:
        names, patterns = metric_references(expr)
        assert names <= exported, names - exported
        for pattern in patterns:
            assert any(re.fullmatch(pattern, n) for n in exported), pattern


@per_service
def test_prometheus_scrapes_each_service_on_its_http_port(service):
    monitor = named("prod", "ServiceMonitor", f"xjcert-{service}")["spec"]
    selected = named("prod", "Service", f"xjcert-{service}")["metadata"]["labels"]

    assert monitor["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]
    assert monitor["selector"]["matchLabels"].items() <= selected.items()


# --- the network -------------------------------------------------------------------


def policy(name: str) -> dict[str, Any]:
    return named("prod", "NetworkPolicy", name)["spec"]


def test_nothing_comes_in_unless_allowed():
    deny = policy("xjcert-default-deny-ingress")

    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_only_the_ingress_controller_and_prometheus_reach_the_services():
    (rule,) = policy("xjcert-services-ingress")["ingress"]
    namespaces = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in rule["from"]
    }

    assert namespaces == {"ingress-nginx", "monitoring"}
    assert rule["ports"] == [{"port": "http"}]


def test_the_services_reach_only_the_broker_the_database_and_dns():
    egress = policy("xjcert-product-egress")["egress"]
    ports = sorted(port["port"] for rule in egress for port in rule["ports"])

    assert ports == [53, 53, 5432, 5672]


def test_outside_systems_reach_the_broker_over_tls_only_in_production():
    outside = named("prod", "Service", "xjcert-broker-outside")["spec"]
    cluster = named("prod", "RabbitmqCluster", "xjcert-broker")["spec"]

    assert [p["port"] for p in outside["ports"]] == [5671]
    assert cluster["tls"]["secretName"]
    assert not [s for s in of_kind("dev", "Service") if s["spec"].get("type")]


# --- the ingress -------------------------------------------------------------------


def ingress_routes() -> list[tuple[str, str]]:
    (rule,) = named("prod", "Ingress", "xjcert-portal")["spec"]["rules"]
    return [
        (path["path"], path["backend"]["service"]["name"])
        for path in rule["http"]["paths"]
    ]


def routed_to(path: str) -> str | None:
    """The backend of the longest Prefix rule matching `path` element by element."""
    matching = [
        (prefix, backend)
        for prefix, backend in ingress_routes()
        if path == prefix or path.startswith(prefix.rstrip("/") + "/")
    ]
    return max(matching, key=lambda m: len(m[0]))[1] if matching else None


def example_path(url: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"x\1", url)


@per_service
def test_the_portal_reaches_every_v1_entrypoint_of_its_service_and_nothing_else(
    service,
):
    from tests.unit.test_openapi import entrypoints

    for _method, url in entrypoints(service):
        expected = f"xjcert-{service}" if url.startswith("/v1/") else None
        assert routed_to(example_path(url)) == expected, url


def test_every_other_path_reaches_the_portal_pages_which_pass_nothing_on():
    (rule,) = named("prod", "Ingress", "xjcert-portal-pages")["spec"]["rules"]
    portal = deployment("prod", "portal")

    assert [
        (p["path"], p["backend"]["service"]["name"]) for p in rule["http"]["paths"]
    ] == [("/", "xjcert-portal")]
    assert env_of(portal)["XJCERT_PORTAL_PASS_API"]["value"] == "false"
    assert "volumes" not in pod(portal), "the pages need no secret"


def test_the_portal_pages_are_reached_by_the_ingress_and_reach_nothing():
    spec = policy("xjcert-portal")
    (rule,) = spec["ingress"]

    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["egress"] == []
    assert [peer["namespaceSelector"]["matchLabels"] for peer in rule["from"]] == [
        {"kubernetes.io/metadata.name": "ingress-nginx"}
    ]


def test_every_rendered_overlay_keeps_one_schema_job():
    for overlay in OVERLAYS:
        assert len(of_kind(overlay, "Job")) == 1
        assert rendered(overlay)
