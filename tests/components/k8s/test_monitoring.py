"""kube-prometheus-stack: no credential in values; admin and receiver from Secrets Manager."""

from __future__ import annotations

import json

import pytest
import yaml

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
        "node_exporter_namespace": "node-exporter",
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
    grafana = values["grafana"]
    # Grafana reads its password from the mounted Secret, never an environment variable,
    # so neither Grafana nor its sidecars get a secretKeyRef (and the chart no Secret).
    assert grafana["env"] == {
        "GF_SECURITY_ADMIN_USER": "admin",
        "GF_SECURITY_ADMIN_PASSWORD__FILE": "/etc/secrets/grafana-admin/admin-password",
    }
    assert grafana["extraSecretMounts"] == [
        {
            "name": "grafana-admin",
            "secretName": "grafana-admin",
            "mountPath": "/etc/secrets/grafana-admin",
            "readOnly": True,
            "defaultMode": 0o440,
        }
    ]
    assert "admin" not in grafana and "adminPassword" not in grafana
    assert grafana["sidecar"]["dashboards"]["skipReload"] is True
    assert grafana["sidecar"]["datasources"]["initDatasources"] is True
    # Its sidecars read ConfigMaps through the platform's ClusterRole, not Secrets.
    assert grafana["rbac"] == {"useExistingClusterRole": "grafana-configmap-reader"}
    assert monitoring.grafana_reader_rules() == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}
    ]
    assert values["kube-state-metrics"]["collectorsExclude"] == ["secrets"]
    # Alertmanager's configuration is the ExternalSecret's Secret: the chart renders none.
    am = values["alertmanager"]
    assert am["alertmanagerSpec"]["useExistingSecret"] is True
    assert am["alertmanagerSpec"]["configSecret"] == "alertmanager-config"
    assert "config" not in am
    # EKS hides these: no scrape, no absent() alert firing forever.
    for hidden in ("kubeControllerManager", "kubeScheduler", "kubeEtcd"):
        assert values[hidden] == {"enabled": False}
    assert values["kubelet"] == {"serviceMonitor": {"insecureSkipVerify": False}}
    assert values["crds"] == {"enabled": False}  # MonitoringCrds installs them first
    assert values["prometheus-node-exporter"]["namespaceOverride"] == "node-exporter"
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "7d"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"] == {"requests": {"storage": "20Gi"}}
    assert claim["storageClassName"] == "gp3-encrypted"
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
    # Alertmanager's whole configuration, templated with the receiver's URL.
    config = external["alertmanager-config"].inputs["spec"]
    assert config["data"] == [
        {"secretKey": "url", "remoteRef": {"key": "c1/alertmanager-receiver", "property": "url"}}
    ]
    template = config["target"]["template"]
    assert template["engineVersion"] == "v2"
    rendered = yaml.safe_load(template["data"]["alertmanager.yaml"])
    platform = next(r for r in rendered["receivers"] if r["name"] == "platform")
    assert platform["webhook_configs"] == [{"url": "{{ .url }}", "send_resolved": True}]
    (release,) = plan.by_type(HELM_RELEASE)
    # The chart starts once its accounts, both synced secrets and Grafana's role exist.
    (reader,) = plan.by_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
    assert reader.inputs["metadata"]["name"] == "grafana-configmap-reader"
    assert {r.urn for r in external.values()} | {reader.urn} <= set(release.dependencies)
    assert {sa.urn for sa in service_accounts(plan).values()} <= set(release.dependencies)
    # node-exporter's account in its own (privileged) namespace, the others in monitoring.
    assert sorted(service_accounts(plan)) == sorted(
        f"{'node-exporter' if c == 'prometheus-node-exporter' else 'monitoring'}/{n}"
        for c, n in monitoring.SERVICE_ACCOUNTS.items()
    )


def test_secrets_go_at_once_and_prod_protects_them() -> None:
    """A recovery window would block re-creating the stack under its name for a week."""
    kept = build_service(
        lambda opts: monitoring.Monitoring("monitoring", _args(ephemeral=False), opts)
    )
    assert {r.inputs["recoveryWindowInDays"] for r in kept.by_type(SECRET)} == {0.0}
    assert not any(r.protect for r in kept.by_type(SECRET))
    prod = build_service(
        lambda opts: monitoring.Monitoring("monitoring", _args(ephemeral=False, protect=True), opts)
    )
    assert all(r.protect for r in prod.by_type(SECRET))


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
