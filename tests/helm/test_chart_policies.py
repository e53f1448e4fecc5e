"""Policies every rendering of the chart must satisfy (default, prod and ci/*.yaml values)."""

from __future__ import annotations

import pytest

from tests.helm.chart import (
    SERVICES,
    VALUES_FILES,
    WORKLOADS,
    Manifest,
    config_of,
    container_of,
    render,
)


def _replicas_floor(deployment: Manifest, hpas: dict[str, Manifest]) -> int:
    name = deployment["metadata"]["name"]
    if name in hpas:
        return int(hpas[name]["spec"]["minReplicas"])
    return int(deployment["spec"]["replicas"])


@pytest.mark.parametrize("values", VALUES_FILES)
def test_every_workload_is_a_hardened_deployment_with_probes_and_limits(values: str) -> None:
    rendered = render(values)
    deployments = {d["metadata"]["name"]: d for d in rendered.of_kind("Deployment")}
    assert set(deployments) == {f"crm-{w}" for w in WORKLOADS}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        container = container_of(deployment)
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz", name
        limits = container["resources"]["limits"]
        assert {"cpu", "memory"} <= set(limits), name
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["capabilities"]["drop"] == ["ALL"], name
        assert pod["automountServiceAccountToken"] is False, name
        # The read-only root needs a writable scratch dir, and CRM_VAR_DIR must live in it.
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], name


@pytest.mark.parametrize("values", VALUES_FILES)
def test_services_listen_on_all_interfaces_and_keep_state_in_scratch(values: str) -> None:
    rendered = render(values)
    for service in SERVICES:
        config = config_of(rendered, service)
        assert config["HOST"] == "0.0.0.0"
        port = rendered.get("Service", f"crm-{service}")["spec"]["ports"][0]["port"]
        assert config["PORT"] == str(port)
        assert config["CRM_VAR_DIR"].startswith("/tmp/")
    gateway = config_of(rendered, "gateway")
    assert gateway["GATEWAY_HOST"] == "0.0.0.0"
    assert gateway["CRM_VAR_DIR"].startswith("/tmp/")


@pytest.mark.parametrize("values", VALUES_FILES)
def test_pdb_exactly_when_more_than_one_replica(values: str) -> None:
    rendered = render(values)
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in rendered.of_kind("HorizontalPodAutoscaler")
    }
    pdbs = {p["metadata"]["name"]: p for p in rendered.of_kind("PodDisruptionBudget")}
    for deployment in rendered.of_kind("Deployment"):
        name = deployment["metadata"]["name"]
        if _replicas_floor(deployment, hpas) > 1:
            pdb = pdbs[name]
            selector = deployment["spec"]["selector"]["matchLabels"]
            assert pdb["spec"]["selector"]["matchLabels"] == selector
        else:
            assert name not in pdbs


def test_default_install_has_single_replicas_and_no_pdb_or_hpa() -> None:
    rendered = render()
    assert all(d["spec"]["replicas"] == 1 for d in rendered.of_kind("Deployment"))
    assert rendered.of_kind("PodDisruptionBudget") == []
    assert rendered.of_kind("HorizontalPodAutoscaler") == []


@pytest.mark.parametrize("values", VALUES_FILES)
def test_hpa_when_autoscaling_enabled_and_then_no_fixed_replicas(values: str) -> None:
    rendered = render(values)
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in rendered.of_kind("HorizontalPodAutoscaler")
    }
    for hpa in hpas.values():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    for deployment in rendered.of_kind("Deployment"):
        name = deployment["metadata"]["name"]
        # With an HPA, a fixed replica count would fight it on every upgrade.
        assert ("replicas" in deployment["spec"]) == (name not in hpas)


def test_prod_autoscales_the_enabled_services_only() -> None:
    rendered = render("values-prod.yaml")
    scaled = {
        h["spec"]["scaleTargetRef"]["name"] for h in rendered.of_kind("HorizontalPodAutoscaler")
    }
    assert scaled == {f"crm-{w}" for w in WORKLOADS if w != "insights"}


def test_hpa_can_be_switched_on_for_one_service() -> None:
    rendered = render(sets=("services.quoting.autoscaling.enabled=true",))
    hpa = rendered.get("HorizontalPodAutoscaler", "crm-quoting")
    assert hpa["spec"]["minReplicas"] == 2
    assert rendered.find("HorizontalPodAutoscaler", "crm-customer") is None
    assert rendered.find("PodDisruptionBudget", "crm-quoting") is not None


@pytest.mark.parametrize("values", VALUES_FILES)
def test_replicas_spread_over_zones_and_nodes(values: str) -> None:
    rendered = render(values)
    for deployment in rendered.of_kind("Deployment"):
        constraints = deployment["spec"]["template"]["spec"].get("topologySpreadConstraints")
        if values == "minimal-values.yaml":
            assert constraints is None  # switched off there on purpose
            continue
        keys = {c["topologyKey"] for c in constraints}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert all(c["labelSelector"]["matchLabels"] == selector for c in constraints)


@pytest.mark.parametrize("values", VALUES_FILES)
def test_every_workload_has_its_service_account_configmap_and_service(values: str) -> None:
    rendered = render(values)
    for workload in WORKLOADS:
        name = f"crm-{workload}"
        deployment = rendered.get("Deployment", name)
        pod = deployment["spec"]["template"]["spec"]
        assert container_of(deployment)["envFrom"] == [{"configMapRef": {"name": name}}]
        rendered.get("ConfigMap", name)
        service = rendered.get("Service", name)
        assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        if values == "minimal-values.yaml":
            assert pod["serviceAccountName"] == "default"
        else:
            assert pod["serviceAccountName"] == name
            assert rendered.get("ServiceAccount", name)["automountServiceAccountToken"] is False
