"""A local control plane (scripts/kube_local.py) for the chart's cluster tests."""

from __future__ import annotations

from collections.abc import Iterator

import kube_local
import pytest


@pytest.fixture(scope="module")
def apiserver() -> Iterator[kube_local.Cluster]:
    """etcd + kube-apiserver only: enough for server-side dry runs."""
    with kube_local.Cluster(apiserver_only=True) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[kube_local.Cluster]:
    """The whole control plane with three kwok nodes: pods are scheduled and reported."""
    with kube_local.Cluster() as cluster:
        yield cluster
