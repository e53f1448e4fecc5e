"""values.schema.json rejects unknown keys and wrong types; helm lint passes on all values."""

from __future__ import annotations

import pytest

from tests.helm.chart import CHART, VALUES_FILES, helm, template, values_path


@pytest.mark.parametrize("values", VALUES_FILES)
def test_helm_lint_passes(values: str) -> None:
    args = ["lint", "--strict", str(CHART)]
    if values != "default":
        args += ["-f", str(values_path(values))]
    result = helm(*args)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("replicaCount=3", "additional properties 'replicaCount' not allowed"),
        ("services.customer.replica=2", "additional properties 'replica' not allowed"),
        ("services.billing.port=4010", "additional properties 'billing' not allowed"),
        ("gateway.ingress.tls=true", "additional properties 'tls' not allowed"),
        ("services.customer.replicas=two", "got string, want integer"),
        ("gateway.autoscaling.enabled=yes", "got string, want boolean"),
        ("services.quoting.port=70000", "maximum"),
        ("default.logLevel=LOUD", "value must be one of"),
        ("mongodb.bundled.replicas=0", "minimum"),
    ],
)
def test_schema_rejects_unknown_keys_and_wrong_types(assignment: str, message: str) -> None:
    for command in (["lint", str(CHART), "--set", assignment], None):
        result = helm(*command) if command else template(sets=(assignment,))
        assert result.returncode != 0, assignment
        output = result.stdout + result.stderr
        assert "schema" in output and message in output, output


def test_missing_data_stores_fail_with_an_actionable_message() -> None:
    result = template(sets=("mongodb.bundled.enabled=false",))
    assert result.returncode != 0
    assert "set mongodb.external.existingSecret.name" in result.stderr


def test_auth_must_be_configured() -> None:
    result = template(sets=("auth.hs256.generate=false",))
    assert result.returncode != 0
    assert "auth.jwksUrl" in result.stderr
