"""kube-prometheus-stack: Prometheus, Alertmanager, Grafana, kube-state-metrics, node-exporter.

No credential is ever in the values: Grafana's admin user and password come from
the Secret `grafana-admin`, and the Alertmanager receiver's URL from the Secret
named by `alertReceiverSecret` (mounted, read with `url_file`); both are
ExternalSecrets synced from Secrets Manager.
"""

from __future__ import annotations

from typing import Final

from components.k8s.context import ServiceContext
from components.k8s.pods import Values, general_pool, resources
from components.k8s.storage import STORAGE_CLASS_NAME

RELEASE: Final = "kube-prometheus-stack"
GRAFANA_ADMIN_SECRET: Final = "grafana-admin"  # noqa: S105 - a Secret's name
GRAFANA_ADMIN_KEYS: Final = {"admin-user": "username", "admin-password": "password"}
RECEIVER_URL_KEY: Final = "url"
DASHBOARD_LABEL: Final = "grafana_dashboard"

SERVICE_ACCOUNTS: Final = {
    "prometheusOperator": f"{RELEASE}-operator",
    "prometheus": f"{RELEASE}-prometheus",
    "alertmanager": f"{RELEASE}-alertmanager",
    "grafana": f"{RELEASE}-grafana",
    "kube-state-metrics": f"{RELEASE}-kube-state-metrics",
    "prometheus-node-exporter": f"{RELEASE}-prometheus-node-exporter",
}


def _sa(component: str) -> Values:
    return {"create": False, "name": SERVICE_ACCOUNTS[component]}


def alertmanager_config(receiver_secret: str) -> Values:
    """Route everything to one webhook receiver whose URL is read from a mounted Secret."""
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "platform",
            "group_by": ["alertname", "namespace", "severity"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [{"receiver": "null", "matchers": ['alertname = "Watchdog"']}],
        },
        "receivers": [
            {"name": "null"},
            {
                "name": "platform",
                "webhook_configs": [
                    {
                        "url_file": (
                            f"/etc/alertmanager/secrets/{receiver_secret}/{RECEIVER_URL_KEY}"
                        ),
                        "send_resolved": True,
                    }
                ],
            },
        ],
    }


def kube_prometheus_stack_values(ctx: ServiceContext, *, cert_manager: bool) -> Values:
    pool = general_pool(ctx.contract)
    settings = ctx.platform
    receiver = settings.alert_receiver_secret
    return {
        "crds": {"enabled": True},
        "prometheusOperator": {
            "serviceAccount": _sa("prometheusOperator"),
            "nodeSelector": pool,
            "resources": resources("100m", "256Mi", "500m", "512Mi"),
            # Webhook certificates from cert-manager where it runs, else the chart's job.
            "admissionWebhooks": {"certManager": {"enabled": cert_manager}},
        },
        "prometheus": {
            "serviceAccount": _sa("prometheus"),
            "prometheusSpec": {
                "retention": settings.prometheus_retention,
                "nodeSelector": pool,
                "resources": resources("500m", "2Gi", "2", "4Gi"),
                # Every ServiceMonitor/PodMonitor/PrometheusRule, not only this release's.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "storageClassName": STORAGE_CLASS_NAME,
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {
                                "requests": {"storage": f"{settings.prometheus_storage_gib}Gi"}
                            },
                        }
                    }
                },
                # StatefulSet claims outlive their StatefulSet unless told otherwise:
                # an ephemeral stack deletes them with it, so `pulumi destroy` leaves
                # no EBS volume behind (DESIGN.md decision 9); others keep the data.
                "persistentVolumeClaimRetentionPolicy": {
                    "whenDeleted": "Delete" if ctx.ephemeral else "Retain",
                    "whenScaled": "Retain",
                },
            },
        },
        "alertmanager": {
            "serviceAccount": _sa("alertmanager"),
            "config": alertmanager_config(receiver),
            "alertmanagerSpec": {
                "nodeSelector": pool,
                "resources": resources("50m", "128Mi", "200m", "256Mi"),
                "secrets": [receiver],
            },
        },
        "grafana": {
            "serviceAccount": _sa("grafana"),
            "admin": {
                "existingSecret": GRAFANA_ADMIN_SECRET,
                "userKey": "admin-user",
                "passwordKey": "admin-password",
            },
            "nodeSelector": pool,
            "resources": resources("100m", "256Mi", "500m", "512Mi"),
            "sidecar": {
                "dashboards": {"enabled": True, "label": DASHBOARD_LABEL, "searchNamespace": "ALL"}
            },
        },
        "kube-state-metrics": {
            "serviceAccount": _sa("kube-state-metrics"),
            "nodeSelector": pool,
            "resources": resources("50m", "128Mi", "200m", "256Mi"),
        },
        # A node agent: one per node, every pool (the GPU nodes too), hence no nodeSelector.
        "prometheus-node-exporter": {
            "serviceAccount": _sa("prometheus-node-exporter"),
            "resources": resources("20m", "32Mi", "200m", "64Mi"),
            "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
        },
    }
