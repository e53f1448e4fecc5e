"""`helm install`, `test`, `upgrade`, `rollback` and `uninstall` of the chart on a real
control plane (etcd, kube-apiserver, controller-manager, scheduler) whose nodes are kwok's
(scripts/kube_local.py): Deployments roll out ReplicaSets, the scheduler places pods on the
three fake nodes, kwok reports them Running and Ready (and the pods of the topics Job and of
`helm test` Succeeded), so `helm --wait` and the hooks complete as on a real cluster. Each
step is checked against the API. Namespaces enforce the ``restricted`` Pod Security Standard.

`make helm-e2e`; not in `make test` (a few minutes). Steps depend on each other: run with -x.
Timings land in var/kube/helm-e2e-timings.json.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from kube_local import Cluster, until

from tests.helm.chart import CHART, WORKLOADS

from .release import Timings, create_namespace, helm, history, release_status, values_args

NAMESPACE = "crm"
PROD_NAMESPACE = "crm-prod"
RELEASE = "crm"
INSTANCE = f"app.kubernetes.io/instance={RELEASE}"
APP_VERSION = "0.1.0"
NEW_TAG = "0.1.1"
WAIT = ("--wait", "--timeout", "5m")
TIMINGS = Timings()
Obj = dict[str, Any]


def deployments(cluster: Cluster, namespace: str) -> dict[str, Obj]:
    items = cluster.list(
        f"/apis/apps/v1/namespaces/{namespace}/deployments", labelSelector=INSTANCE
    )
    return {d["metadata"]["name"]: d for d in items}


def replica_sets(cluster: Cluster, namespace: str, deployment: str) -> list[Obj]:
    items = cluster.list(
        f"/apis/apps/v1/namespaces/{namespace}/replicasets", labelSelector=INSTANCE
    )
    return [
        rs
        for rs in items
        if any(o["name"] == deployment for o in rs["metadata"].get("ownerReferences", []))
    ]


def images(deployment: Obj) -> set[str]:
    return {c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]}


def rolled_out(deployment: Obj) -> bool:
    spec, status = deployment["spec"], deployment.get("status", {})
    want = spec.get("replicas", 1)
    return bool(
        status.get("observedGeneration") == deployment["metadata"]["generation"]
        and status.get("updatedReplicas") == want
        and status.get("availableReplicas") == want
        and status.get("replicas") == want
    )


def pods(cluster: Cluster, namespace: str, selector: str = INSTANCE) -> list[Obj]:
    return cluster.list(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector)


def config_value(cluster: Cluster, namespace: str, name: str, key: str) -> str | None:
    config = cluster.get(f"/api/v1/namespaces/{namespace}/configmaps/{name}")
    assert config is not None, f"ConfigMap {name} missing"
    value: str | None = config["data"].get(key)
    return value


def check_hooks_succeeded(cluster: Cluster, namespace: str, since: str | None = None) -> str:
    """The topics Job hook ran (after ``since``), succeeded, and was deleted (hook-succeeded)."""
    status = release_status(cluster, namespace)
    hooks = {h["name"]: h for h in status.get("hooks", [])}
    topics = hooks[f"{RELEASE}-kafka-topics"]
    last_run = topics["last_run"]
    assert last_run["phase"] == "Succeeded", topics
    if since is not None:
        assert last_run["started_at"] > since, (last_run, since)
    job = cluster.get(f"/apis/batch/v1/namespaces/{namespace}/jobs/{RELEASE}-kafka-topics")
    assert job is None, "hook-succeeded should have deleted the Job"
    return str(last_run["started_at"])


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 120) -> Any:
    return until(what, check, timeout_s, every_s=0.5)


#: Secrets an operator creates before a production install (values-prod.yaml says which).
PROD_SECRETS = ("crm-mongodb", "crm-kafka", "crm-smtp", "crm-tls")


def subset_mismatches(rendered: Any, live: Any, where: str = "") -> list[str]:
    """Where ``live`` (the API's object, defaults filled in) differs from what was rendered."""
    if live is None and rendered in (0, "", False, [], {}):
        return []  # a zero value the API server omits (omitempty)
    if isinstance(rendered, dict):
        if not isinstance(live, dict):
            return [f"{where}: {live!r}"]
        return [
            m
            for key, value in rendered.items()
            for m in subset_mismatches(value, live.get(key), f"{where}.{key}")
        ]
    if isinstance(rendered, list):
        if not isinstance(live, list) or len(live) != len(rendered):
            return [f"{where}: {live!r}"]
        return [
            m
            for i, (mine, theirs) in enumerate(zip(rendered, live, strict=True))
            for m in subset_mismatches(mine, theirs, f"{where}[{i}]")
        ]
    if rendered != live and str(rendered) != str(live):
        return [f"{where}: rendered {rendered!r}, live {live!r}"]
    return []


def check_release_objects(cluster: Cluster, namespace: str) -> int:
    """Every object of the release's manifest exists, with the rendered spec/data."""
    manifest = helm(cluster, "get", "manifest", RELEASE, "-n", namespace).stdout
    objects = [m for m in yaml.safe_load_all(manifest) if m]
    problems = []
    for obj in objects:
        path = cluster.resource_path(obj["apiVersion"], obj["kind"], namespace)
        live = cluster.get(f"{path}/{obj['metadata']['name']}")
        what = f"{obj['kind']}/{obj['metadata']['name']}"
        if live is None:
            problems.append(f"{what} missing")
            continue
        for field in ("spec", "data", "rules", "subjects", "roleRef"):
            if field in obj and not (obj["kind"] == "Deployment" and field == "spec"):
                problems += [
                    f"{what}{m}"
                    for m in subset_mismatches(obj[field], live.get(field), f".{field}")
                ]
        if obj["kind"] == "Deployment":
            # spec.replicas is the HPA's once it scaled; the rest must be as rendered.
            spec = {k: v for k, v in obj["spec"].items() if k != "replicas"}
            problems += [f"{what}{m}" for m in subset_mismatches(spec, live["spec"], ".spec")]
    assert not problems, "\n".join(problems)
    return len(objects)


def leftovers(cluster: Cluster, namespace: str) -> list[str]:
    """Every object of the release still in the namespace, except what is kept on purpose
    and the Secrets the operator made before installing."""
    found = []
    for path in (
        "/api/v1/namespaces/{ns}/pods",
        "/api/v1/namespaces/{ns}/services",
        "/api/v1/namespaces/{ns}/configmaps",
        "/api/v1/namespaces/{ns}/secrets",
        "/api/v1/namespaces/{ns}/serviceaccounts",
        "/apis/apps/v1/namespaces/{ns}/deployments",
        "/apis/apps/v1/namespaces/{ns}/replicasets",
        "/apis/apps/v1/namespaces/{ns}/statefulsets",
        "/apis/apps/v1/namespaces/{ns}/controllerrevisions",
        "/apis/batch/v1/namespaces/{ns}/jobs",
        "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
        "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
        "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
        "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
        "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
    ):
        for obj in cluster.list(path.format(ns=namespace)):
            meta = obj["metadata"]
            kind = path.rsplit("/", 1)[1]
            if kind == "configmaps" and meta["name"] == "kube-root-ca.crt":
                continue
            if kind == "serviceaccounts" and meta["name"] == "default":
                continue
            if kind == "secrets" and meta["name"] in PROD_SECRETS:
                continue
            # The generated signing key is kept on purpose (helm.sh/resource-policy: keep):
            # tokens stay valid across a reinstall.
            if (
                kind == "secrets"
                and meta.get("annotations", {}).get("helm.sh/resource-policy") == "keep"
            ):
                continue
            found.append(f"{kind}/{meta['name']}")
    return found


# --- default values: the evaluation install ------------------------------------------------


def test_install_default_values(cluster: Cluster) -> None:
    create_namespace(cluster, NAMESPACE)
    with TIMINGS.step("install default values (--wait, topics hook)"):
        helm(cluster, "install", RELEASE, str(CHART), "-n", NAMESPACE, *WAIT)

    status = release_status(cluster, NAMESPACE)
    assert status["info"]["status"] == "deployed"
    assert status["version"] == 1
    check_hooks_succeeded(cluster, NAMESPACE)
    assert check_release_objects(cluster, NAMESPACE) == 45

    found = deployments(cluster, NAMESPACE)
    assert set(found) == {f"{RELEASE}-{w}" for w in WORKLOADS}
    for name, deployment in found.items():
        assert rolled_out(deployment), (name, deployment.get("status"))
        component = name.removeprefix(f"{RELEASE}-")
        assert images(deployment) == {f"ghcr.io/crm-suite/crm-{component}:{APP_VERSION}"}
        assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        assert len(replica_sets(cluster, NAMESPACE, name)) == 1
    for name in (f"{RELEASE}-mongodb", f"{RELEASE}-kafka"):
        sts = cluster.get(f"/apis/apps/v1/namespaces/{NAMESPACE}/statefulsets/{name}")
        assert sts is not None and sts["status"].get("readyReplicas") == sts["spec"]["replicas"]
    claims = cluster.list(f"/api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims")
    assert len(claims) == 2 and all(c["status"]["phase"] == "Bound" for c in claims)

    running = pods(cluster, NAMESPACE)
    assert len(running) == len(WORKLOADS) + 2
    for pod in running:
        assert pod["status"]["phase"] == "Running", pod["metadata"]["name"]
        assert pod["spec"]["nodeName"].startswith("kwok-node-")
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert config_value(cluster, NAMESPACE, f"{RELEASE}-gateway", "LOG_LEVEL") == "INFO"
    secret = cluster.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/{RELEASE}-jwt")
    assert secret is not None and base64.b64decode(secret["data"]["jwt-secret"])


def test_helm_test(cluster: Cluster) -> None:
    with TIMINGS.step("helm test"):
        result = helm(cluster, "test", RELEASE, "-n", NAMESPACE, "--timeout", "3m")
    assert f"TEST SUITE:     {RELEASE}-helm-test" in result.stdout
    assert "Phase:          Succeeded" in result.stdout
    # hook-succeeded: the test pod is deleted once it passed.
    wait_for(
        "test pod deleted",
        lambda: cluster.get(f"/api/v1/namespaces/{NAMESPACE}/pods/{RELEASE}-helm-test") is None,
    )


def test_upgrade_changes_image_tag_and_a_value(cluster: Cluster) -> None:
    before = check_hooks_succeeded(cluster, NAMESPACE)
    jwt_before = cluster.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/{RELEASE}-jwt")
    with TIMINGS.step("upgrade image tag + LOG_LEVEL (--wait, topics hook)"):
        helm(
            cluster,
            "upgrade",
            RELEASE,
            str(CHART),
            "-n",
            NAMESPACE,
            "--reuse-values",
            "--set",
            f"default.image.tag={NEW_TAG}",
            "--set",
            "default.logLevel=DEBUG",
            *WAIT,
        )
    status = release_status(cluster, NAMESPACE)
    assert status["info"]["status"] == "deployed" and status["version"] == 2
    check_hooks_succeeded(cluster, NAMESPACE, since=before)
    check_release_objects(cluster, NAMESPACE)

    for name, deployment in deployments(cluster, NAMESPACE).items():
        component = name.removeprefix(f"{RELEASE}-")
        assert images(deployment) == {f"ghcr.io/crm-suite/crm-{component}:{NEW_TAG}"}
        assert rolled_out(deployment), (name, deployment.get("status"))
        assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
        sets = replica_sets(cluster, NAMESPACE, name)
        assert len(sets) == 2, [rs["metadata"]["name"] for rs in sets]
        assert sorted(rs["spec"]["replicas"] for rs in sets) == [0, deployment["spec"]["replicas"]]
    assert config_value(cluster, NAMESPACE, f"{RELEASE}-gateway", "LOG_LEVEL") == "DEBUG"
    # Only the new pods remain, all on the new tag.
    wait_for(
        "old pods gone",
        lambda: all(
            c["image"].endswith(f":{NEW_TAG}")
            for p in pods(cluster, NAMESPACE, f"{INSTANCE},app.kubernetes.io/component=gateway")
            for c in p["spec"]["containers"]
        ),
    )
    # The generated signing key survives the upgrade (lookup), so tokens stay valid.
    jwt_after = cluster.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/{RELEASE}-jwt")
    assert jwt_before is not None and jwt_after is not None
    assert jwt_after["data"] == jwt_before["data"]


def test_rollback_to_first_revision(cluster: Cluster) -> None:
    with TIMINGS.step("rollback to revision 1 (--wait)"):
        helm(cluster, "rollback", RELEASE, "1", "-n", NAMESPACE, *WAIT)
    entries = history(cluster, NAMESPACE)
    assert [(e["revision"], e["status"]) for e in entries] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "deployed"),
    ]
    check_release_objects(cluster, NAMESPACE)
    for name, deployment in deployments(cluster, NAMESPACE).items():
        component = name.removeprefix(f"{RELEASE}-")
        assert images(deployment) == {f"ghcr.io/crm-suite/crm-{component}:{APP_VERSION}"}
        assert rolled_out(deployment), (name, deployment.get("status"))
        # The first ReplicaSet is scaled up again (revision 3), no third one is made.
        assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        sets = replica_sets(cluster, NAMESPACE, name)
        assert len(sets) == 2
        active = [rs for rs in sets if rs["spec"]["replicas"] > 0]
        assert len(active) == 1
        assert active[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        assert "1" in active[0]["metadata"]["annotations"].get(
            "deployment.kubernetes.io/revision-history", "1"
        )
    assert config_value(cluster, NAMESPACE, f"{RELEASE}-gateway", "LOG_LEVEL") == "INFO"


def test_switching_to_an_hpa_keeps_the_running_pods(cluster: Cluster) -> None:
    """A release with fixed replicas upgraded to an HPA: helm drops `replicas` from the
    Deployment, which the API server defaulted to 1 (3 pods -> 1 until the HPA's next sync)
    before the chart kept the live count (_workload.tpl)."""
    gateway = f"{RELEASE}-gateway"
    path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{gateway}"
    with TIMINGS.step("upgrade gateway to 3 replicas (--wait)"):
        helm(
            cluster,
            "upgrade",
            RELEASE,
            str(CHART),
            "-n",
            NAMESPACE,
            "--reuse-values",
            "--set",
            "gateway.replicas=3",
            *WAIT,
        )
    with TIMINGS.step("upgrade gateway to an HPA (--wait)"):
        helm(
            cluster,
            "upgrade",
            RELEASE,
            str(CHART),
            "-n",
            NAMESPACE,
            "--reuse-values",
            "--set",
            "gateway.autoscaling.enabled=true",
            *WAIT,
        )
    deployment = cluster.get(path)
    assert deployment is not None
    assert deployment["spec"]["replicas"] == 3
    assert rolled_out(deployment)
    hpa = cluster.get(
        f"/apis/autoscaling/v2/namespaces/{NAMESPACE}/horizontalpodautoscalers/{gateway}"
    )
    assert hpa is not None and hpa["spec"]["minReplicas"] == 2
    events = cluster.list(f"/api/v1/namespaces/{NAMESPACE}/events")
    scaled_down = [
        e["message"]
        for e in events
        if e["involvedObject"]["name"] == gateway
        and "Scaled down" in e.get("message", "")
        and e["message"].endswith("to 1")
    ]
    assert scaled_down == []


def test_storage_change_is_refused_before_anything_is_applied(cluster: Cluster) -> None:
    """The API server refuses any change of a StatefulSet's volumeClaimTemplates ("Forbidden:
    updates to statefulset spec...") after helm applied part of the upgrade and recorded a
    failed revision; the chart now fails first with what to do, and that recipe works."""
    revisions = len(history(cluster, NAMESPACE))
    args = (
        "upgrade",
        RELEASE,
        str(CHART),
        "-n",
        NAMESPACE,
        "--reuse-values",
        "--set",
        "mongodb.bundled.storage.size=16Gi",
    )
    with pytest.raises(AssertionError, match=r"mongodb\.bundled\.storage cannot change"):
        helm(cluster, *args, *WAIT)
    assert len(history(cluster, NAMESPACE)) == revisions
    assert release_status(cluster, NAMESPACE)["info"]["status"] == "deployed"

    # The documented way: orphan the StatefulSet (pods and claims stay), upgrade.
    sts_path = f"/apis/apps/v1/namespaces/{NAMESPACE}/statefulsets/{RELEASE}-mongodb"
    pod_path = f"/api/v1/namespaces/{NAMESPACE}/pods/{RELEASE}-mongodb-0"
    pod_before = cluster.get(pod_path)
    assert pod_before is not None
    response = cluster.client.request("DELETE", sts_path, json={"propagationPolicy": "Orphan"})
    assert response.is_success, response.text
    wait_for("StatefulSet gone", lambda: cluster.get(sts_path) is None)
    with TIMINGS.step("upgrade mongodb storage after orphaning the StatefulSet (--wait)"):
        helm(cluster, *args, *WAIT)
    sts = cluster.get(sts_path)
    assert sts is not None
    assert (
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "16Gi"
    )
    pod_after = cluster.get(pod_path)
    assert pod_after is not None
    assert pod_after["metadata"]["uid"] == pod_before["metadata"]["uid"]  # adopted, not replaced
    # The same size written another way is no change (the server keeps 16Gi canonical).
    helm(
        cluster,
        "upgrade",
        RELEASE,
        str(CHART),
        "-n",
        NAMESPACE,
        "--reuse-values",
        "--set",
        "mongodb.bundled.storage.size=16384Mi",
        *WAIT,
    )


def test_uninstall_leaves_nothing_behind(cluster: Cluster) -> None:
    with TIMINGS.step("uninstall (--wait)"):
        helm(cluster, "uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "5m")
    wait_for("release objects deleted", lambda: not leftovers(cluster, NAMESPACE))
    # Kept on purpose: the signing key Secret (resource-policy keep) and the StatefulSets'
    # volume claims (Kubernetes keeps them: the data of the bundled stores outlives a release).
    kept = cluster.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/{RELEASE}-jwt")
    assert kept is not None
    claims = cluster.list(f"/api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims")
    assert sorted(c["metadata"]["name"] for c in claims) == [
        f"data-{RELEASE}-kafka-0",
        f"data-{RELEASE}-mongodb-0",
    ]
    releases = cluster.list(f"/api/v1/namespaces/{NAMESPACE}/secrets", labelSelector="owner=helm")
    assert releases == []


def test_reinstall_adopts_the_kept_key_and_the_volumes(cluster: Cluster) -> None:
    kept = cluster.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/{RELEASE}-jwt")
    assert kept is not None
    with TIMINGS.step("reinstall into the same namespace (--wait)"):
        helm(cluster, "install", RELEASE, str(CHART), "-n", NAMESPACE, *WAIT)
    secret = cluster.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/{RELEASE}-jwt")
    assert secret is not None and secret["data"] == kept["data"]  # tokens stay valid
    assert secret["metadata"]["uid"] == kept["metadata"]["uid"]
    claims = cluster.list(f"/api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims")
    assert len(claims) == 2 and all(c["status"]["phase"] == "Bound" for c in claims)
    helm(cluster, "uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "5m")
    wait_for("release objects deleted again", lambda: not leftovers(cluster, NAMESPACE))


# --- production values: external stores, JWKS, HPAs, PDBs, NetworkPolicies, Ingress -------


def _secret(name: str, data: dict[str, str], kind: str = "Opaque") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": kind,
        "stringData": data,
    }


def test_install_production_values(cluster: Cluster) -> None:
    create_namespace(cluster, PROD_NAMESPACE)
    secrets_path = f"/api/v1/namespaces/{PROD_NAMESPACE}/secrets"
    cluster.create(
        secrets_path, _secret("crm-mongodb", {"mongodb-uri": "mongodb://db-0/?replicaSet=rs0"})
    )
    cluster.create(secrets_path, _secret("crm-kafka", {"bootstrap-servers": "kafka-0:9092"}))
    cluster.create(secrets_path, _secret("crm-smtp", {"password": "relay-password"}))
    cluster.create(
        secrets_path,
        _secret(
            "crm-tls", {"tls.crt": "placeholder", "tls.key": "placeholder"}, "kubernetes.io/tls"
        ),
    )
    with TIMINGS.step("install production values (--wait, topics hook)"):
        helm(
            cluster,
            "install",
            RELEASE,
            str(CHART),
            "-n",
            PROD_NAMESPACE,
            *values_args("values-prod.yaml"),
            *WAIT,
        )
    assert release_status(cluster, PROD_NAMESPACE)["info"]["status"] == "deployed"
    check_hooks_succeeded(cluster, PROD_NAMESPACE)
    check_release_objects(cluster, PROD_NAMESPACE)

    hpas = {
        h["metadata"]["name"]: h
        for h in cluster.list(
            f"/apis/autoscaling/v2/namespaces/{PROD_NAMESPACE}/horizontalpodautoscalers"
        )
    }
    assert set(hpas) == {f"{RELEASE}-{w}" for w in WORKLOADS if w != "insights"}
    pdbs = {
        p["metadata"]["name"]: p
        for p in cluster.list(f"/apis/policy/v1/namespaces/{PROD_NAMESPACE}/poddisruptionbudgets")
    }
    assert set(pdbs) == {f"{RELEASE}-{w}" for w in WORKLOADS}
    policies = cluster.list(
        f"/apis/networking.k8s.io/v1/namespaces/{PROD_NAMESPACE}/networkpolicies"
    )
    assert f"{RELEASE}-default-deny" in {p["metadata"]["name"] for p in policies}
    ingress = cluster.get(
        f"/apis/networking.k8s.io/v1/namespaces/{PROD_NAMESPACE}/ingresses/{RELEASE}-gateway"
    )
    assert ingress is not None and ingress["spec"]["tls"][0]["secretName"] == "crm-tls"
    assert not any(
        d["metadata"]["name"].endswith(("mongodb", "kafka"))
        for d in deployments(cluster, PROD_NAMESPACE).values()
    )

    # The HPA controller lifts each Deployment to its minReplicas (no metrics needed for
    # that), the new pods are scheduled and Ready, and each PDB then allows a disruption.
    def scaled() -> bool:
        found = deployments(cluster, PROD_NAMESPACE)
        for name, hpa in hpas.items():
            deployment = found[name]
            if deployment["spec"]["replicas"] != hpa["spec"]["minReplicas"] or not rolled_out(
                deployment
            ):
                return False
        return True

    with TIMINGS.step("HPAs scale production Deployments to minReplicas"):
        wait_for("Deployments at the HPA floor", scaled, 180)

    def pdbs_healthy() -> bool:
        items = cluster.list(f"/apis/policy/v1/namespaces/{PROD_NAMESPACE}/poddisruptionbudgets")
        return all(
            p.get("status", {}).get("currentHealthy", 0) >= 2
            and p["status"].get("disruptionsAllowed", 0) >= 1
            for p in items
        )

    wait_for("PodDisruptionBudgets healthy", pdbs_healthy, 180)

    with TIMINGS.step("uninstall production release (--wait)"):
        helm(cluster, "uninstall", RELEASE, "-n", PROD_NAMESPACE, "--wait", "--timeout", "5m")
    wait_for("production release objects deleted", lambda: not leftovers(cluster, PROD_NAMESPACE))
