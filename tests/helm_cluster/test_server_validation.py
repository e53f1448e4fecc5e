"""Every object the chart renders, with every values file, accepted by a real kube-apiserver.

A server-side dry run (``dryRun=All``) with ``fieldValidation=Strict`` of each object of
`helm template` (hooks and the test pod included) into a namespace that enforces the
``restricted`` Pod Security Standard: unknown or duplicate fields, wrong types, failed
validation (immutable selectors, NetworkPolicy peers, PDB and HPA specs, Ingress) and pods
that are not ``restricted`` are refused; the warnings the server returns for workload objects
(PodSecurity ``warn`` mode, deprecated APIs) fail the test too. Needs only etcd and
kube-apiserver (scripts/kube_local.py), so it runs in `make test`; the install / upgrade /
rollback cycle is `make helm-e2e` (test_release_cycle.py).
"""

from __future__ import annotations

import pytest
from kube_local import Cluster

from tests.helm.chart import VALUES_FILES

from .release import create_namespace, render


@pytest.mark.parametrize("values", VALUES_FILES)
def test_every_rendered_object_passes_server_side_validation(
    apiserver: Cluster, values: str
) -> None:
    namespace = "dry-" + values.removesuffix(".yaml").replace("_", "-").replace(".", "-")
    create_namespace(apiserver, namespace)
    manifests = render(apiserver, values, namespace)
    assert manifests
    refused: list[str] = []
    warned: list[str] = []
    for manifest in manifests:
        path = apiserver.resource_path(manifest["apiVersion"], manifest["kind"], namespace)
        response = apiserver.client.post(
            path, json=manifest, params={"dryRun": "All", "fieldValidation": "Strict"}
        )
        what = f"{manifest['kind']} {manifest['metadata']['name']}"
        if response.status_code >= 400:
            refused.append(f"{what}: {response.status_code} {response.json().get('message')}")
        warnings = response.headers.get_list("warning")
        if warnings:
            warned.append(f"{what}: {warnings}")
    assert not refused, "refused by kube-apiserver:\n" + "\n".join(refused)
    assert not warned, "warnings from kube-apiserver:\n" + "\n".join(warned)


def test_the_check_catches_what_is_not_restricted(apiserver: Cluster) -> None:
    """The gate above has teeth: in such a namespace a pod that is not ``restricted`` is
    refused and a Deployment with such a template is answered with a warning."""
    namespace = "dry-not-restricted"
    create_namespace(apiserver, namespace)
    pod_spec = {"containers": [{"name": "app", "image": "busybox"}]}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "loose"}, "spec": pod_spec}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "loose"},
        "spec": {
            "selector": {"matchLabels": {"app": "loose"}},
            "template": {"metadata": {"labels": {"app": "loose"}}, "spec": pod_spec},
        },
    }
    params = {"dryRun": "All", "fieldValidation": "Strict"}
    refused = apiserver.client.post(f"/api/v1/namespaces/{namespace}/pods", json=pod, params=params)
    assert refused.status_code == 403
    assert 'violates PodSecurity "restricted' in refused.json()["message"]
    warned = apiserver.client.post(
        f"/apis/apps/v1/namespaces/{namespace}/deployments", json=deployment, params=params
    )
    assert warned.status_code == 201
    assert any("PodSecurity" in w for w in warned.headers.get_list("warning"))
