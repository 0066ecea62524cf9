"""Pinned charts and the pure Helm values of every platform service."""

from __future__ import annotations

import pytest
import yaml

from components.k8s import (
    cert_manager,
    cluster_autoscaler,
    external_dns,
    external_secrets,
    istio,
    monitoring,
    nvidia,
)
from components.k8s.charts import CHARTS
from components.k8s.context import ServiceContext
from stacks.loader import settings_from_config

GENERAL = {"mlops-platform.io/pool": "general"}
GPU = {"mlops-platform.io/pool": "gpu"}
GPU_TOLERATION = [
    {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
]


def context(**config) -> ServiceContext:
    settings = settings_from_config(
        {"environment": "dev", **config}, stack="dev", region="eu-west-1"
    )
    return ServiceContext(
        contract=settings.contract,
        cluster_name=settings.cluster_name,
        region=settings.region,
        minor_version=settings.cluster.minor_version,
        namespaces=dict(settings.contract.namespaces),
        platform=settings.platform,
        dns=settings.dns,
        monitoring=settings.services.monitoring,
        ephemeral=settings.environment == "dev",
    )


CTX = context()
ZONE = context(hostedZoneId="Z0123456789ABC", domain="ml.example.com", acmeEmail="ops@example.com")


def test_chart_table_is_pinned_exactly() -> None:
    istio_repo = "https://istio-release.storage.googleapis.com/charts"
    assert {k: (p.chart, p.version, p.repository) for k, p in CHARTS.items()} == {
        "istio-base": ("base", "1.28.0", istio_repo),
        "istiod": ("istiod", "1.28.0", istio_repo),
        "istio-cni": ("cni", "1.28.0", istio_repo),
        "istio-ingressgateway": ("gateway", "1.28.0", istio_repo),
        "cert-manager": ("cert-manager", "v1.18.2", "https://charts.jetstack.io"),
        "external-dns": (
            "external-dns",
            "1.19.0",
            "https://kubernetes-sigs.github.io/external-dns/",
        ),
        "kube-prometheus-stack": (
            "kube-prometheus-stack",
            "78.3.0",
            "https://prometheus-community.github.io/helm-charts",
        ),
        "external-secrets": ("external-secrets", "0.17.0", "https://charts.external-secrets.io"),
        "nvidia-device-plugin": (
            "nvidia-device-plugin",
            "0.18.0",
            "https://nvidia.github.io/k8s-device-plugin",
        ),
        "dcgm-exporter": (
            "dcgm-exporter",
            "4.1.1",
            "https://nvidia.github.io/dcgm-exporter/helm-charts",
        ),
        "cluster-autoscaler": (
            "cluster-autoscaler",
            "9.46.0",
            "https://kubernetes.github.io/autoscaler",
        ),
    }
    assert all(p.source for p in CHARTS.values())


def test_istiod_native_sidecars_with_cni_and_merged_metrics() -> None:
    values = istio.istiod_values(CTX)
    assert values["pilot"]["env"] == {"ENABLE_NATIVE_SIDECARS": "true"}
    assert values["pilot"]["cni"] == {"enabled": True}
    assert values["pilot"]["nodeSelector"] == GENERAL
    assert values["meshConfig"]["enablePrometheusMerge"] is True
    assert values["sidecarInjectorWebhook"] == {"enableNamespacesByDefault": False}


def test_istio_cni_and_gateway() -> None:
    cni = istio.cni_values(CTX)
    assert cni["excludeNamespaces"] == ["kube-system", "istio-system"]
    assert "nodeSelector" not in cni  # a node agent: every node
    gateway = istio.gateway_values(CTX)
    assert gateway["serviceAccount"] == {"create": False, "name": "istio-ingressgateway"}
    assert gateway["nodeSelector"] == GENERAL
    assert (
        gateway["service"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-scheme"]
        == "internal"
    )
    assert gateway["containerSecurityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_peer_authentication_is_strict() -> None:
    assert istio.peer_authentication("mlops") == {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "mlops"},
        "spec": {"mtls": {"mode": "STRICT"}},
    }


def test_cert_manager_values_and_issuers() -> None:
    values = cert_manager.cert_manager_values(CTX)
    assert values["serviceAccount"] == {"create": False, "name": "cert-manager"}
    assert values["webhook"]["serviceAccount"] == {"create": False, "name": "cert-manager-webhook"}
    assert values["cainjector"]["serviceAccount"] == {
        "create": False,
        "name": "cert-manager-cainjector",
    }
    for part in (values, values["webhook"], values["cainjector"]):
        assert part["nodeSelector"] == GENERAL
        assert set(part["resources"]) == {"requests", "limits"}
    assert cert_manager.cluster_issuer(CTX) == {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "selfsigned"},
        "spec": {"selfSigned": {}},
    }
    acme = cert_manager.cluster_issuer(ZONE)["spec"]["acme"]
    assert acme["email"] == "ops@example.com"
    assert acme["solvers"] == [
        {
            "selector": {"dnsZones": ["ml.example.com"]},
            "dns01": {"route53": {"region": "eu-west-1", "hostedZoneID": "Z0123456789ABC"}},
        }
    ]


def test_external_dns_values() -> None:
    values = external_dns.external_dns_values(ZONE)
    assert values["provider"] == {"name": "aws"}
    assert values["serviceAccount"] == {"create": False, "name": "external-dns"}
    assert values["domainFilters"] == ["ml.example.com"]
    assert values["txtOwnerId"] == "mlops-platform-dev"
    assert values["extraArgs"] == ["--zone-id-filter=Z0123456789ABC", "--aws-zone-type=public"]
    assert values["nodeSelector"] == GENERAL


def test_external_dns_without_zone_refuses() -> None:
    with pytest.raises(ValueError, match=r"^services\.externalDns = True: needs hostedZoneId"):
        external_dns.external_dns_values(CTX)


def test_external_secrets_values_and_store() -> None:
    values = external_secrets.external_secrets_values(CTX)
    assert values["serviceAccount"] == {"create": False, "name": "external-secrets"}
    assert values["webhook"]["serviceAccount"]["create"] is False
    assert values["certController"]["serviceAccount"]["create"] is False
    store = external_secrets.cluster_secret_store(CTX, ["mlflow", "monitoring"])
    assert store["spec"] == {
        "provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}},
        "conditions": [{"namespaces": ["mlflow", "monitoring"]}],
    }


def test_monitoring_values_keep_credentials_out() -> None:
    values = monitoring.kube_prometheus_stack_values(CTX, cert_manager=True)
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


def test_monitoring_retention_and_storage_from_settings() -> None:
    ctx = context(prometheusRetention="30d", prometheusStorageGib=100)
    spec = monitoring.kube_prometheus_stack_values(ctx, cert_manager=False)["prometheus"][
        "prometheusSpec"
    ]
    assert spec["retention"] == "30d"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "100Gi"


def test_prometheus_volumes_go_with_an_ephemeral_stack_only() -> None:
    def policy(environment: str) -> dict:
        ctx = context(environment=environment)
        values = monitoring.kube_prometheus_stack_values(ctx, cert_manager=False)
        return values["prometheus"]["prometheusSpec"]["persistentVolumeClaimRetentionPolicy"]

    assert policy("dev") == {"whenDeleted": "Delete", "whenScaled": "Retain"}
    assert policy("staging") == {"whenDeleted": "Retain", "whenScaled": "Retain"}


def test_gpu_agents_select_gpu_pool_and_tolerate_taint() -> None:
    plugin = nvidia.device_plugin_values(CTX)
    assert plugin["nodeSelector"] == GPU
    assert plugin["tolerations"] == GPU_TOLERATION
    assert "config" not in plugin  # no time-slicing by default
    dcgm = nvidia.dcgm_exporter_values(CTX)
    assert dcgm["nodeSelector"] == GPU
    assert dcgm["tolerations"] == GPU_TOLERATION
    assert dcgm["serviceAccount"] == {"create": False, "name": "dcgm-exporter"}
    assert dcgm["serviceMonitor"] == {"enabled": False}
    monitor = nvidia.dcgm_service_monitor("nvidia-device-plugin")
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s"}
    ]


def test_time_slicing_config() -> None:
    plugin = nvidia.device_plugin_values(context(gpuTimeSlicingReplicas=4))
    assert plugin["config"]["default"] == "default"
    assert yaml.safe_load(plugin["config"]["map"]["default"]) == {
        "version": "v1",
        "flags": {"migStrategy": "none"},
        "sharing": {
            "timeSlicing": {
                "renameByDefault": False,
                "resources": [{"name": "nvidia.com/gpu", "replicas": 4}],
            }
        },
    }


def test_cluster_autoscaler_values() -> None:
    values = cluster_autoscaler.cluster_autoscaler_values(CTX)
    assert values["autoDiscovery"] == {"clusterName": "mlops-platform-dev"}
    assert values["rbac"]["serviceAccount"] == {"create": False, "name": "cluster-autoscaler"}
    assert values["image"] == {"tag": "v1.33.0"}
    assert values["extraArgs"] == {
        "expander": "least-waste",
        "scale-down-unneeded-time": "10m",
        "scale-down-utilization-threshold": "0.5",
        "balance-similar-node-groups": True,
        "skip-nodes-with-local-storage": False,
        "stderrthreshold": "info",
    }
    tuned = cluster_autoscaler.cluster_autoscaler_values(
        context(
            autoscalerExpander="priority",
            autoscalerScaleDownUnneededMinutes=20,
            autoscalerScaleDownUtilizationPercent=65,
            autoscalerBalanceSimilarNodeGroups=False,
        )
    )["extraArgs"]
    assert tuned["expander"] == "priority"
    assert tuned["scale-down-unneeded-time"] == "20m"
    assert tuned["scale-down-utilization-threshold"] == "0.65"
    assert tuned["balance-similar-node-groups"] is False
