"""How the rendered objects connect: network paths, data stores, auth, topics, helm test."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.helm.chart import (
    SERVICES,
    VALUES_FILES,
    WORKLOADS,
    Manifest,
    Rendered,
    config_of,
    container_of,
    render,
)

RELEASE = {"app.kubernetes.io/name": "crm", "app.kubernetes.io/instance": "crm"}


def _pods_of(component: str) -> dict[str, str]:
    return {**RELEASE, "app.kubernetes.io/component": component}


def _policy(rendered: Rendered, name: str) -> Manifest:
    return rendered.get("NetworkPolicy", f"crm-{name}")


def _peer_components(rules: list[dict[str, Any]], key: str) -> set[str]:
    return {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for rule in rules
        for peer in rule.get(key, [])
        if "podSelector" in peer
    }


@pytest.mark.parametrize("values", [v for v in VALUES_FILES if v != "minimal-values.yaml"])
def test_network_is_denied_by_default_for_every_pod_of_the_release(values: str) -> None:
    rendered = render(values)
    deny = _policy(rendered, "default-deny")["spec"]
    assert deny["podSelector"] == {"matchLabels": RELEASE}
    assert sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny and "egress" not in deny
    # Every pod the chart runs carries the labels the deny policy selects.
    for kind in ("Deployment", "StatefulSet", "Job"):
        for workload in rendered.of_kind(kind):
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert RELEASE.items() <= labels.items(), workload["metadata"]["name"]


# Quoting and the service desk read a customer's primary contact address from the customer
# service (crm_common.customers.contacts) when they e-mail a quote or a survey invitation.
CONTACT_READERS = {"quoting", "service-desk"}


@pytest.mark.parametrize("values", [v for v in VALUES_FILES if v != "minimal-values.yaml"])
def test_only_the_gateway_reaches_the_subgraphs(values: str) -> None:
    rendered = render(values)
    gateway = _policy(rendered, "gateway")["spec"]
    assert _peer_components(gateway["egress"], "to") == set(SERVICES)
    for service in SERVICES:
        policy = _policy(rendered, service)["spec"]
        assert policy["podSelector"]["matchLabels"] == _pods_of(service)
        callers = {"gateway", *CONTACT_READERS} if service == "customer" else {"gateway"}
        assert _peer_components(policy["ingress"], "from") == callers
        port = int(config_of(rendered, service)["PORT"])
        assert [p["port"] for rule in policy["ingress"] for p in rule["ports"]] == [port]


def test_services_reach_bundled_mongodb_and_kafka_and_contacts_only() -> None:
    rendered = render()
    for service in SERVICES:
        egress = _policy(rendered, service)["spec"]["egress"]
        extra = {"customer"} if service in CONTACT_READERS else set()
        assert _peer_components(egress, "to") == {"mongodb", "kafka", *extra}
        ports = sorted(p["port"] for rule in egress for p in rule["ports"])
        webhooks = [443] if service == "engagement" else []
        assert ports == sorted([9092, 27017, *([4001] if extra else []), *webhooks])
        # No SMTP server configured: no e-mail leaves, no egress for it.
        assert config_of(rendered, service)["EMAIL_SENDER_ENABLED"] == "false"


def test_smtp_settings_and_password_secret_reach_every_service() -> None:
    rendered = render("values-prod.yaml")
    for service in SERVICES:
        config = config_of(rendered, service)
        assert (config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_TLS"]) == (
            "smtp.example.com", "587", "starttls",
        )  # fmt: skip
        assert config["SMTP_USERNAME"] == "crm-mailer"
        assert config["EMAIL_SENDER_ENABLED"] == "true"
        assert config["PUBLIC_BASE_URL"] == "https://crm.example.com"
        assert "SMTP_PASSWORD" not in config
        deployment = rendered.get("Deployment", f"crm-{service}")
        env = {e["name"]: e for e in container_of(deployment).get("env", [])}
        assert env["SMTP_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "crm-smtp", "key": "password",
        }  # fmt: skip
        egress = _policy(rendered, service)["spec"]["egress"]
        external = [r for r in egress if "ipBlock" in r.get("to", [{}])[0]]
        assert ("10.40.0.0/16", 587) in [
            (r["to"][0]["ipBlock"]["cidr"], r["ports"][0]["port"]) for r in external
        ]
    assert "SMTP_HOST" not in config_of(rendered, "gateway")
    # A password given as a value goes into a chart-made Secret, never into a ConfigMap.
    made = render(sets=("smtp.host=mail.local", "smtp.password=s3cret", "smtp.tls=none"))
    secret = made.get("Secret", "crm-smtp")
    assert secret["data"]["smtp-password"] == "czNjcmV0"
    env = {e["name"]: e for e in container_of(made.get("Deployment", "crm-quoting")).get("env", [])}
    assert env["SMTP_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "crm-smtp"
    assert config_of(made, "quoting")["PUBLIC_BASE_URL"] == "http://crm-gateway-public:80"
    assert config_of(made, "quoting")["CUSTOMER_GRAPHQL_URLS"] == "http://crm-customer:4001/graphql"


def test_webhook_settings_and_egress_reach_the_engagement_service_only() -> None:
    rendered = render()
    config = config_of(rendered, "engagement")
    assert (config["WEBHOOKS_ENABLED"], config["WEBHOOKS_TIMEOUT_S"]) == ("true", "15")
    assert float(config["WEBHOOKS_RETRY_WINDOW_S"]) == 24 * 3600
    receivers = [
        rule for rule in _policy(rendered, "engagement")["spec"]["egress"] if "to" not in rule
    ]
    assert receivers == [{"ports": [{"port": 443, "protocol": "TCP"}]}]  # any address, HTTPS
    for service in set(SERVICES) - {"engagement"}:
        assert "WEBHOOKS_ENABLED" not in config_of(rendered, service)
    off = render(sets=("webhooks.enabled=false",))
    assert config_of(off, "engagement")["WEBHOOKS_ENABLED"] == "false"
    assert all("to" in rule for rule in _policy(off, "engagement")["spec"]["egress"])


def test_prod_egress_goes_to_the_configured_external_networks() -> None:
    rendered = render("values-prod.yaml")
    egress = _policy(rendered, "customer")["spec"]["egress"]
    assert [(r["to"][0]["ipBlock"]["cidr"], r["ports"][0]["port"]) for r in egress] == [
        ("10.20.0.0/16", 27017),
        ("10.30.0.0/16", 9092),
        ("10.40.0.0/16", 587),  # SMTP
    ]
    workloads = _policy(rendered, "workloads")["spec"]
    assert sorted(workloads["podSelector"]["matchExpressions"][0]["values"]) == sorted(WORKLOADS)
    otlp = workloads["egress"][0]
    assert otlp["ports"] == [{"port": 4318, "protocol": "TCP"}]
    assert otlp["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "observability"
    }
    # Only the ingress controller (and the helm test pod) reach the gateway.
    sources = _policy(rendered, "gateway")["spec"]["ingress"][0]["from"]
    assert sources[0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
    assert sources[1]["podSelector"]["matchLabels"] == _pods_of("helm-test")


def test_network_policies_can_be_switched_off() -> None:
    assert render("minimal-values.yaml").of_kind("NetworkPolicy") == []


def test_gateway_composes_every_service_and_partner_subgraphs() -> None:
    rendered = render("scaled-values.yaml")
    subgraphs = dict(
        item.split("=", 1)
        for item in config_of(rendered, "gateway")["GATEWAY_SUBGRAPHS"].split(",")
    )
    expected = {
        service: f"http://crm-{service}.crm.svc:{config_of(rendered, service)['PORT']}/graphql"
        for service in SERVICES
    }
    expected["partner-billing"] = "http://billing.partner.svc.cluster.local:8080/graphql"
    assert subgraphs == expected
    # Same order as the gateway's local default: it is the planner's tie-break order.
    assert list(subgraphs) == [*SERVICES, "partner-billing"]
    partner_rule = _policy(rendered, "gateway")["spec"]["egress"][-1]
    assert partner_rule["ports"] == [{"port": 8080, "protocol": "TCP"}]


def test_bundled_stores_are_wired_into_services_but_not_the_gateway() -> None:
    rendered = render()
    mongo = rendered.get("StatefulSet", "crm-mongodb")
    kafka = rendered.get("StatefulSet", "crm-kafka")
    assert mongo["spec"]["serviceName"] == "crm-mongodb-headless"
    assert kafka["spec"]["replicas"] == 1
    for service in SERVICES:
        config = config_of(rendered, service)
        assert config["MONGODB_URI"] == (
            "mongodb://crm-mongodb-0.crm-mongodb-headless.crm.svc:27017/?replicaSet=rs0"
        )
        assert config["KAFKA_BOOTSTRAP_SERVERS"] == "crm-kafka-0.crm-kafka-headless.crm.svc:9092"
    gateway = config_of(rendered, "gateway")
    assert "MONGODB_URI" not in gateway and "KAFKA_BOOTSTRAP_SERVERS" not in gateway
    server_properties = rendered.get("ConfigMap", "crm-kafka")["data"]["server.properties"]
    assert "auto.create.topics.enable=false" in server_properties


def test_three_member_mongodb_replica_set_lists_every_member() -> None:
    rendered = render("scaled-values.yaml")
    uri = config_of(rendered, "customer")["MONGODB_URI"]
    hosts = uri.removeprefix("mongodb://").split("/")[0].split(",")
    assert hosts == [f"crm-mongodb-{i}.crm-mongodb-headless.crm.svc:27017" for i in range(3)]
    script = rendered.get("ConfigMap", "crm-mongodb")["data"]["start.sh"]
    assert all(host in script for host in hosts)


def test_prod_takes_store_endpoints_from_existing_secrets() -> None:
    rendered = render("values-prod.yaml")
    assert rendered.of_kind("StatefulSet") == []
    for service in SERVICES:
        env = {
            e["name"]: e for e in container_of(rendered.get("Deployment", f"crm-{service}"))["env"]
        }
        assert env["MONGODB_URI"]["valueFrom"]["secretKeyRef"] == {
            "name": "crm-mongodb",
            "key": "mongodb-uri",
        }
        assert env["KAFKA_BOOTSTRAP_SERVERS"]["valueFrom"]["secretKeyRef"]["name"] == "crm-kafka"
        assert "MONGODB_URI" not in config_of(rendered, service)
    assert "env" not in container_of(rendered.get("Deployment", "crm-gateway"))


@pytest.mark.parametrize("values", VALUES_FILES)
def test_otlp_endpoint_reaches_every_workload_when_set(values: str) -> None:
    rendered = render(values)
    endpoints = {config_of(rendered, w).get("OTEL_EXPORTER_OTLP_ENDPOINT") for w in WORKLOADS}
    assert len(endpoints) == 1  # all or none
    assert {config_of(rendered, w)["OTEL_SERVICE_NAME"] for w in WORKLOADS} == set(WORKLOADS)


def test_hs256_key_is_generated_once_and_mounted_everywhere() -> None:
    rendered = render()
    secret = rendered.get("Secret", "crm-jwt")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert len(secret["data"]["jwt-secret"]) > 64
    for workload in WORKLOADS:
        config = config_of(rendered, workload)
        assert config["JWT_SECRET_FILE"] == "/var/run/secrets/crm/jwt/jwt-secret"
        pod = rendered.get("Deployment", f"crm-{workload}")["spec"]["template"]["spec"]
        assert {"name": "jwt", "secret": {"secretName": "crm-jwt", "defaultMode": 0o440}} in pod[
            "volumes"
        ]


def test_jwks_mode_has_no_signing_key_anywhere() -> None:
    rendered = render("values-prod.yaml")
    assert rendered.of_kind("Secret") == []
    for workload in WORKLOADS:
        config = config_of(rendered, workload)
        assert config["JWKS_URL"] == "https://login.example.com/.well-known/jwks.json"
        assert config["JWT_ISSUER"] == "https://login.example.com/"
        assert "JWT_SECRET_FILE" not in config


def test_ingress_routes_the_host_with_tls_and_rate_limits() -> None:
    rendered = render("values-prod.yaml")
    ingress = rendered.get("Ingress", "crm-gateway")
    assert ingress["spec"]["tls"] == [{"hosts": ["crm.example.com"], "secretName": "crm-tls"}]
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "crm.example.com"
    backend = rule["http"]["paths"][0]["backend"]["service"]["name"]
    public = rendered.get("Service", backend)
    assert public["spec"]["selector"] == rendered.get("Service", "crm-gateway")["spec"]["selector"]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/limit-rps"] == "50"
    assert annotations["nginx.ingress.kubernetes.io/limit-connections"] == "50"
    assert render().find("Ingress", "crm-gateway") is None


@pytest.mark.parametrize("values", ["default", "values-prod.yaml"])
def test_topics_job_is_a_hook_running_the_topic_module_from_the_gateway_image(values: str) -> None:
    rendered = render(values)
    job = rendered.get("Job", "crm-kafka-topics")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert "python -m crm_common.events.topics" in container["command"][-1]
    assert container["image"] == container_of(rendered.get("Deployment", "crm-gateway"))["image"]
    env = {e["name"]: e for e in container["env"]}
    assert "KAFKA_BOOTSTRAP_SERVERS" in env
    expected_rf = "3" if values == "values-prod.yaml" else "1"
    assert env["KAFKA_REPLICATION_FACTOR"]["value"] == expected_rf
    assert env["KAFKA_TOPIC_PARTITIONS"]["value"] == "3"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_helm_test_pod_checks_health_and_typename_through_the_gateway() -> None:
    rendered = render()
    pod = rendered.get("Pod", "crm-helm-test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    container = pod["spec"]["containers"][0]
    script = container["command"][-1]
    assert "/healthz" in script and "{ __typename }" in script
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GATEWAY_URL"] == "http://crm-gateway.crm.svc:4000"
    compile(script, "helm-test", "exec")  # the inline script is valid Python


def test_gateway_runs_in_production_mode_with_edge_limits_by_default() -> None:
    config = config_of(render(), "gateway")
    assert config["GATEWAY_ENV"] == "production"
    assert config["GATEWAY_MAX_COST"] == "20000"
    assert config["GATEWAY_RATE_LIMIT_USER_RPS"] == "50"
    assert config["GATEWAY_RATE_LIMIT_TENANT_RPS"] == "500"
    assert config["GATEWAY_PROPAGATE_HEADERS"] == "authorization,accept-language,x-request-id"
    assert config["GATEWAY_ALLOW_LIST"] == "false"
    assert "GATEWAY_PERSISTED_QUERIES_FILE" not in config


def test_allow_list_mounts_the_persisted_operations_and_keeps_the_helm_test_probe() -> None:
    query = "query Me { __typename }"
    digest = hashlib.sha256(query.encode()).hexdigest()
    rendered = render(
        sets=(
            "gateway.persistedQueries.allowList=true",
            f"gateway.persistedQueries.operations.{digest}={query}",
        )
    )
    config = config_of(rendered, "gateway")
    assert config["GATEWAY_ALLOW_LIST"] == "true"
    path = config["GATEWAY_PERSISTED_QUERIES_FILE"]
    directory, file_name = path.rsplit("/", 1)
    operations = json.loads(
        rendered.get("ConfigMap", "crm-gateway-persisted-queries")["data"][file_name]
    )
    probe = "{ __typename }"
    assert operations == {digest: query, hashlib.sha256(probe.encode()).hexdigest(): probe}
    gateway = rendered.get("Deployment", "crm-gateway")
    mounts = {m["name"]: m for m in container_of(gateway)["volumeMounts"]}
    assert mounts["persisted-queries"]["mountPath"] == directory
    volumes = {v["name"]: v for v in gateway["spec"]["template"]["spec"]["volumes"]}
    assert volumes["persisted-queries"]["configMap"]["name"] == "crm-gateway-persisted-queries"
