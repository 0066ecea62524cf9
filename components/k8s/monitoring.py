"""kube-prometheus-stack: Prometheus, Alertmanager, Grafana, kube-state-metrics, node-exporter.

No credential is ever in the values: Grafana's admin user and password come from
the Secret `grafana-admin`, and the Alertmanager receiver's URL from the Secret
named by `alertReceiverSecret` (mounted, read with `url_file`); both are
ExternalSecrets synced from Secrets Manager.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.k8s import alerts, dashboards
from components.k8s.charts import ChartPin
from components.k8s.external_secrets import external_secret
from components.k8s.platform_service import PlatformService
from components.k8s.pods import Values, general_pool, resources
from components.k8s.storage import STORAGE_CLASS_NAME

RELEASE: Final = "kube-prometheus-stack"
CHARTS: Final = {
    RELEASE: ChartPin(
        "kube-prometheus-stack",
        "78.3.0",
        "https://prometheus-community.github.io/helm-charts",
        "prometheus-community/helm-charts charts/kube-prometheus-stack",
        digest="ef6125de78cab9718ce33253844dbdf4f553a13c59f277f80d29ef2daf77ffd9",
        content_digest="a0b40785b1249c8bc083d487cc6fbc4a2682254d3633d0ac8939fd0423da4c5c",
    ),
}
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


@dataclass(frozen=True)
class AlertNamespaces:
    """Where the alerts look: the namespaces their expressions select on."""

    workloads: str  # InferenceServices (contract: workloads)
    mlflow: str  # the MLflow server (contract: mlflow)


@dataclass(frozen=True)
class MonitoringArgs:
    namespace: str
    cluster_name: str  # platform secrets live under `<cluster_name>/` in Secrets Manager
    secrets_key_arn: pulumi.Input[str]  # KMS key of those secrets
    prometheus_retention: str  # e.g. "10d"
    prometheus_storage_gib: int
    # Secrets Manager secret `<cluster>/<name>` holding the Alertmanager receiver's URL.
    alert_receiver_secret: str
    # An ephemeral stack (dev): `pulumi destroy` must leave no volume behind and
    # secrets can be re-created at once (docs/decisions/0009-stateful-resources-protected.md).
    ephemeral: bool = False
    # cert-manager runs: it issues the operator's webhook certificates.
    cert_manager: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    # The platform's PrometheusRule (the six alerts, components.k8s.alerts) and the
    # inference dashboard's ConfigMap (components.k8s.dashboards), created once the
    # chart's CRDs and Grafana's sidecar exist; None: neither.
    alerts: AlertNamespaces | None = None


def kube_prometheus_stack_values(args: MonitoringArgs) -> Values:
    pool = general_pool()
    receiver = args.alert_receiver_secret
    return {
        "crds": {"enabled": True},
        "prometheusOperator": {
            "serviceAccount": _sa("prometheusOperator"),
            "nodeSelector": pool,
            "resources": resources("100m", "256Mi", "500m", "512Mi"),
            # Webhook certificates from cert-manager where it runs, else the chart's job.
            "admissionWebhooks": {"certManager": {"enabled": args.cert_manager}},
        },
        "prometheus": {
            "serviceAccount": _sa("prometheus"),
            "prometheusSpec": {
                "retention": args.prometheus_retention,
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
                                "requests": {"storage": f"{args.prometheus_storage_gib}Gi"}
                            },
                        }
                    }
                },
                # StatefulSet claims outlive their StatefulSet unless told otherwise:
                # an ephemeral stack deletes them with it, so `pulumi destroy` leaves
                # no EBS volume behind; others keep the data.
                "persistentVolumeClaimRetentionPolicy": {
                    "whenDeleted": "Delete" if args.ephemeral else "Retain",
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


class Monitoring(PlatformService):
    """kube-prometheus-stack with Grafana's admin and the alert receiver from Secrets Manager.

    Grafana's admin password is a random value kept only in Secrets Manager (and,
    as a secret, in encrypted state); an ExternalSecret copies it into the
    cluster. The receiver's URL is seeded with an address that delivers nowhere;
    operators put the real endpoint in Secrets Manager and Pulumi ignores later
    changes to the value.
    """

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:monitoring:Monitoring", name, opts)
        ns = args.namespace
        accounts = [self.service_account(ns, account) for account in SERVICE_ACCOUNTS.values()]
        password = random.RandomPassword(
            "grafana-admin-password", length=32, special=False, opts=self.child_opts()
        )
        admin = self._secret(
            args,
            GRAFANA_ADMIN_SECRET,
            password.result.apply(lambda p: json.dumps({"username": "admin", "password": p})),
            keep=False,
        )
        receiver_name = args.alert_receiver_secret
        receiver = self._secret(
            args, receiver_name, json.dumps({"url": "http://127.0.0.1:9/unset"}), keep=True
        )
        synced = [
            self.custom_resource(
                f"external-secret-{GRAFANA_ADMIN_SECRET}",
                external_secret(
                    GRAFANA_ADMIN_SECRET,
                    ns,
                    f"{args.cluster_name}/{GRAFANA_ADMIN_SECRET}",
                    GRAFANA_ADMIN_KEYS,
                ),
                [admin],
            ),
            self.custom_resource(
                f"external-secret-{receiver_name}",
                external_secret(
                    receiver_name,
                    ns,
                    f"{args.cluster_name}/{receiver_name}",
                    {RECEIVER_URL_KEY: "url"},
                ),
                [receiver],
            ),
        ]
        release = self.release(
            RELEASE, CHARTS[RELEASE], ns, kube_prometheus_stack_values(args), [*accounts, *synced]
        )
        if args.alerts is not None:
            self._alerts_and_dashboard(ns, args.alerts, release)
        self.register_outputs({"release": RELEASE})

    def _alerts_and_dashboard(
        self, ns: str, where: AlertNamespaces, release: pulumi.Resource
    ) -> None:
        rule = alerts.prometheus_rule(
            namespace=ns, workloads_namespace=where.workloads, mlflow_namespace=where.mlflow
        )
        self.custom_resource(f"prometheus-rule-{alerts.RULE_NAME}", rule, [release])
        board = dashboards.dashboard_configmap(namespace=ns)
        k8s.core.v1.ConfigMap(
            f"configmap-{ns}-{dashboards.CONFIGMAP_NAME}",
            metadata=board["metadata"],
            data=board["data"],
            opts=self.child_opts([release]),
        )

    def _secret(
        self, args: MonitoringArgs, name: str, value: pulumi.Input[str], *, keep: bool
    ) -> aws.secretsmanager.Secret:
        """A Secrets Manager secret `<cluster>/<name>`, encrypted with the platform's key."""
        secret = aws.secretsmanager.Secret(
            f"secret-{name}",
            name=f"{args.cluster_name}/{name}",
            kms_key_id=args.secrets_key_arn,
            recovery_window_in_days=0 if args.ephemeral else 7,
            tags=dict(args.tags),
            opts=self.child_opts(),
        )
        aws.secretsmanager.SecretVersion(
            f"secret-{name}-value",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(value),
            # keep: operators set the real value; Pulumi only seeds it.
            opts=self.child_opts(ignore_changes=["secretString"] if keep else None),
        )
        return secret
