"""kube-prometheus-stack: no credential in values; admin and receiver from Secrets Manager."""

from __future__ import annotations

import json

import pytest

from components.k8s import alerts, dashboards, monitoring
from tests.conftest import TAGS, Plan, build_service, service_accounts
from tests.types import (
    CONFIG_MAP,
    EXTERNAL_SECRET,
    HELM_RELEASE,
    PROMETHEUS_RULE,
    RANDOM_PASSWORD,
    SECRET,
    SECRET_VERSION,
)

GENERAL = {"mlops-platform.io/pool": "general"}
KEY = "arn:aws:kms:eu-west-1:123456789012:key/key-data"


def _args(**overrides: object) -> monitoring.MonitoringArgs:
    args = {
        "namespace": "monitoring",
        "cluster_name": "c1",
        "secrets_key_arn": KEY,
        "prometheus_retention": "7d",
        "prometheus_storage_gib": 20,
        "alert_receiver_secret": "alertmanager-receiver",
        "ephemeral": True,
        "cert_manager": True,
        "tags": TAGS,
    } | overrides
    return monitoring.MonitoringArgs(**args)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def plan() -> Plan:
    return build_service(lambda opts: monitoring.Monitoring("monitoring", _args(), opts))


def test_values_keep_credentials_out() -> None:
    values = monitoring.kube_prometheus_stack_values(_args())
    assert values["grafana"]["admin"] == {
        "existingSecret": "grafana-admin",
        "userKey": "admin-user",
        "passwordKey": "admin-password",
    }
    assert "adminPassword" not in values["grafana"]
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "7d"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"] == {"requests": {"storage": "20Gi"}}
    assert claim["storageClassName"] == "gp3-encrypted"
    am = values["alertmanager"]
    assert am["alertmanagerSpec"]["secrets"] == ["alertmanager-receiver"]
    platform = next(r for r in am["config"]["receivers"] if r["name"] == "platform")
    assert platform["webhook_configs"] == [
        {"url_file": "/etc/alertmanager/secrets/alertmanager-receiver/url", "send_resolved": True}
    ]
    for component, name in monitoring.SERVICE_ACCOUNTS.items():
        assert values[component]["serviceAccount"] == {"create": False, "name": name}
    for key in ("prometheusOperator", "grafana", "kube-state-metrics"):
        assert values[key]["nodeSelector"] == GENERAL
    assert spec["nodeSelector"] == GENERAL
    assert values["prometheusOperator"]["admissionWebhooks"] == {"certManager": {"enabled": True}}


def test_retention_and_storage_from_args() -> None:
    values = monitoring.kube_prometheus_stack_values(
        _args(prometheus_retention="30d", prometheus_storage_gib=100)
    )
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "30d"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "100Gi"


def test_prometheus_volumes_go_with_an_ephemeral_stack_only() -> None:
    def policy(ephemeral: bool) -> dict:
        values = monitoring.kube_prometheus_stack_values(_args(ephemeral=ephemeral))
        return values["prometheus"]["prometheusSpec"]["persistentVolumeClaimRetentionPolicy"]

    assert policy(True) == {"whenDeleted": "Delete", "whenScaled": "Retain"}
    assert policy(False) == {"whenDeleted": "Retain", "whenScaled": "Retain"}


def test_admin_and_receiver_come_from_secrets_manager(plan: Plan) -> None:
    secrets = {r.inputs["name"]: r.inputs for r in plan.by_type(SECRET)}
    assert sorted(secrets) == ["c1/alertmanager-receiver", "c1/grafana-admin"]
    assert all(s["kmsKeyId"] == KEY and s["recoveryWindowInDays"] == 0 for s in secrets.values())
    versions = plan.by_type(SECRET_VERSION)
    assert len(versions) == 2
    for version in versions:
        assert "[secret]" in json.dumps(version.inputs["secretString"])
    assert len(plan.by_type(RANDOM_PASSWORD)) == 1
    external = {r.inputs["metadata"]["name"]: r for r in plan.by_type(EXTERNAL_SECRET)}
    assert external["grafana-admin"].inputs["spec"]["data"] == [
        {
            "secretKey": "admin-password",
            "remoteRef": {"key": "c1/grafana-admin", "property": "password"},
        },
        {
            "secretKey": "admin-user",
            "remoteRef": {"key": "c1/grafana-admin", "property": "username"},
        },
    ]
    (release,) = plan.by_type(HELM_RELEASE)
    # The chart starts once its accounts and both synced secrets exist.
    assert {r.urn for r in external.values()} <= set(release.dependencies)
    assert {sa.urn for sa in service_accounts(plan).values()} <= set(release.dependencies)
    assert sorted(service_accounts(plan)) == sorted(
        f"monitoring/{n}" for n in monitoring.SERVICE_ACCOUNTS.values()
    )


def test_kept_stacks_keep_deleted_secrets_recoverable() -> None:
    plan = build_service(
        lambda opts: monitoring.Monitoring("monitoring", _args(ephemeral=False), opts)
    )
    assert {r.inputs["recoveryWindowInDays"] for r in plan.by_type(SECRET)} == {7.0}


def test_the_alerts_and_the_dashboard_after_the_chart() -> None:
    where = monitoring.AlertNamespaces(workloads="mlops", mlflow="mlflow")
    plan = build_service(
        lambda opts: monitoring.Monitoring("monitoring", _args(alerts=where), opts)
    )
    release = plan.one(HELM_RELEASE, "release-kube-prometheus-stack")
    (rule,) = plan.by_type(PROMETHEUS_RULE)
    expected = alerts.prometheus_rule(
        namespace="monitoring", workloads_namespace="mlops", mlflow_namespace="mlflow"
    )
    assert rule.inputs["metadata"] == expected["metadata"]
    assert rule.inputs["spec"] == expected["spec"]
    assert [r["alert"] for r in rule.inputs["spec"]["groups"][0]["rules"]] == [
        "HighInferenceLatency",
        "HighInferenceErrorRate",
        "InferenceServiceRestarts",
        "MLflowDown",
        "HighPipelineFailureRate",
        "LowGPUUtilization",
    ]
    (board,) = plan.by_type(CONFIG_MAP)
    shipped = dashboards.dashboard_configmap(namespace="monitoring")
    assert board.inputs["metadata"] == shipped["metadata"]
    assert board.inputs["data"] == shipped["data"]
    # The rule's CRD and Grafana's sidecar come with the chart.
    assert release.urn in rule.dependencies
    assert release.urn in board.dependencies


def test_no_alerts_or_dashboard_unless_asked(plan: Plan) -> None:
    assert plan.by_type(PROMETHEUS_RULE) == []
    assert plan.by_type(CONFIG_MAP) == []
