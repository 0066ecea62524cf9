"""kube-prometheus-stack: Prometheus, Alertmanager, Grafana, kube-state-metrics, node-exporter.

No credential is ever in the values or the rendered chart: Grafana's admin user and
password are files of the Secret `grafana-admin` (mounted, read through `__FILE`
variables, never an environment variable), and Alertmanager's whole configuration is
the Secret `alertmanager-config`, templated by External Secrets with the receiver's
URL from the Secrets Manager secret named by `alertReceiverSecret`. Both Secrets
are ExternalSecrets synced from Secrets Manager; the chart renders no Secret.
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
import yaml

from components.k8s import alerts, dashboards
from components.k8s.charts import ChartPin, KubernetesRange
from components.k8s.external_secrets import external_secret
from components.k8s.platform_service import MANAGED_BY, PlatformService
from components.k8s.pods import Values, general_pool, resources
from components.k8s.storage import STORAGE_CLASS_NAME

RELEASE: Final = "kube-prometheus-stack"
_OPERATOR_KUBERNETES: Final = KubernetesRange(
    "1.25",
    None,
    "prometheus-operator Documentation/getting-started/compatibility.md at v0.93: >= 1.25, "
    "no upper bound published (operator v0.93 is built with client-go v0.36, Kubernetes 1.36)",
)
CHARTS: Final = {
    RELEASE: ChartPin(
        "kube-prometheus-stack",
        "88.5.3",
        "https://prometheus-community.github.io/helm-charts",
        "prometheus-community/helm-charts charts/kube-prometheus-stack at "
        "kube-prometheus-stack-88.5.3",
        digest="53a702e7faec727171804c6a1794b165249404ceb2778f9659bb403697a91e34",
        content_digest="51dd8514015ec64b9f8b1371f6f89a46483bcacca7398458f674ddc7183aa218",
        kubernetes=_OPERATOR_KUBERNETES,
    ),
}
# The operator's CRDs, installed first (before any chart that renders a ServiceMonitor,
# PodMonitor or PrometheusRule); kube-prometheus-stack then installs no CRDs itself.
CRDS_RELEASE: Final = "prometheus-operator-crds"
CRD_CHARTS: Final = {
    CRDS_RELEASE: ChartPin(
        "prometheus-operator-crds",
        "31.0.1",
        "https://prometheus-community.github.io/helm-charts",
        "prometheus-community/helm-charts charts/prometheus-operator-crds at "
        "prometheus-operator-crds-31.0.1",
        digest="938081532d01fd9909100bbc2a9de3a7edc0932ed25900af960fee9a3b9a7fcf",
        content_digest="1de9c20cded636ee50bb9434b8c072708f013e997f556419d736b56349468b36",
        kubernetes=_OPERATOR_KUBERNETES,
    ),
}
GRAFANA_ADMIN_SECRET: Final = "grafana-admin"  # noqa: S105 - a Secret's name
GRAFANA_ADMIN_KEYS: Final = {"admin-user": "username", "admin-password": "password"}
GRAFANA_ADMIN_USER: Final = "admin"
GRAFANA_ADMIN_MOUNT: Final = "/etc/secrets/grafana-admin"
# Grafana's sidecars read ConfigMaps (dashboards, datasources) in every namespace; the
# chart's own ClusterRole grants Secrets too, so Grafana binds this one instead.
GRAFANA_READER_ROLE: Final = "grafana-configmap-reader"
ALERTMANAGER_CONFIG_SECRET: Final = "alertmanager-config"  # noqa: S105 - a Secret's name
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


def alertmanager_config() -> Values:
    """Route everything to one webhook receiver; its URL is filled in by External Secrets."""
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
                # ESO's template engine replaces this with the secret's `url` property.
                "webhook_configs": [
                    {"url": "{{ ." + RECEIVER_URL_KEY + " }}", "send_resolved": True}
                ],
            },
        ],
    }


def grafana_reader_rules() -> list[Values]:
    """What Grafana's dashboard and datasource sidecars read: ConfigMaps, never Secrets."""
    return [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]


@dataclass(frozen=True)
class MonitoringCrdsArgs:
    namespace: str  # where the CRD release lives (its objects are cluster-scoped)


class MonitoringCrds(PlatformService):
    """The Prometheus operator's CRDs, before every chart or object that uses them."""

    def __init__(
        self, name: str, args: MonitoringCrdsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:monitoring:MonitoringCrds", name, opts)
        self.release(CRDS_RELEASE, CRD_CHARTS[CRDS_RELEASE], args.namespace, {})
        self.register_outputs({"release": CRDS_RELEASE})


@dataclass(frozen=True)
class AlertNamespaces:
    """Where the alerts look: the namespaces their expressions select on."""

    workloads: str  # InferenceServices (contract: workloads)
    mlflow: str  # the MLflow server (contract: mlflow)


@dataclass(frozen=True)
class MonitoringArgs:
    namespace: str
    # node-exporter's own privileged namespace: the only part of the stack needing the host.
    node_exporter_namespace: str
    cluster_name: str  # platform secrets live under `<cluster_name>/` in Secrets Manager
    secrets_key_arn: pulumi.Input[str]  # KMS key of those secrets
    prometheus_retention: str  # e.g. "10d"
    prometheus_storage_gib: int
    # Secrets Manager secret `<cluster>/<name>` holding the Alertmanager receiver's URL.
    alert_receiver_secret: str
    # An ephemeral stack (dev): `pulumi destroy` must leave no volume behind
    # (docs/decisions/0009-stateful-resources-protected.md).
    ephemeral: bool = False
    # prod: a destroy stops at the secrets (the receiver URL is the operators').
    protect: bool = False
    # cert-manager runs: it issues the operator's webhook certificates.
    cert_manager: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    # The platform's PrometheusRule (the six alerts, components.k8s.alerts) and the
    # inference dashboard's ConfigMap (components.k8s.dashboards), created once the
    # chart's CRDs and Grafana's sidecar exist; None: neither.
    alerts: AlertNamespaces | None = None


def kube_prometheus_stack_values(args: MonitoringArgs) -> Values:
    pool = general_pool()
    return {
        # The CRDs come from MonitoringCrds (prometheus-operator-crds), installed first.
        "crds": {"enabled": False},
        # EKS runs the control plane: its controller manager, scheduler and etcd cannot
        # be scraped, and their `absent()` alerts would fire forever.
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        # EKS nodes bootstrap their kubelet serving certificate (serverTLSBootstrap) from
        # the cluster CA, which Prometheus's token volume carries: verify it.
        "kubelet": {"serviceMonitor": {"insecureSkipVerify": False}},
        "prometheusOperator": {
            "serviceAccount": _sa("prometheusOperator"),
            "nodeSelector": pool,
            "resources": resources("100m", "256Mi", "500m", "512Mi"),
            # The reloader the operator adds to Prometheus and Alertmanager: sized, not the
            # namespace's LimitRange defaults.
            "prometheusConfigReloader": {"resources": resources("10m", "32Mi", "100m", "64Mi")},
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
            "alertmanagerSpec": {
                # The configuration is the ExternalSecret's Secret: the chart renders none.
                "useExistingSecret": True,
                "configSecret": ALERTMANAGER_CONFIG_SECRET,
                "nodeSelector": pool,
                "resources": resources("50m", "128Mi", "200m", "256Mi"),
            },
        },
        "grafana": {
            "serviceAccount": _sa("grafana"),
            # Read from the mounted Secret: no credential in an environment variable, and
            # the sidecars get none either (so they do not call Grafana's reload API).
            "env": {
                # The user name is no secret; the datasource init container of this chart
                # version honours only the plain variable (not `__FILE`) for it.
                "GF_SECURITY_ADMIN_USER": GRAFANA_ADMIN_USER,
                "GF_SECURITY_ADMIN_PASSWORD__FILE": f"{GRAFANA_ADMIN_MOUNT}/admin-password",
            },
            "extraSecretMounts": [
                {
                    "name": GRAFANA_ADMIN_SECRET,
                    "secretName": GRAFANA_ADMIN_SECRET,
                    "mountPath": GRAFANA_ADMIN_MOUNT,
                    "readOnly": True,
                    "defaultMode": 0o440,
                }
            ],
            "rbac": {"useExistingClusterRole": GRAFANA_READER_ROLE},
            # Grafana writes only to its volumes (/var/lib/grafana, the provisioning dirs).
            "containerSecurityContext": {"readOnlyRootFilesystem": True},
            "nodeSelector": pool,
            "resources": resources("100m", "256Mi", "500m", "512Mi"),
            "sidecar": {
                "resources": resources("20m", "64Mi", "200m", "128Mi"),
                "securityContext": {"readOnlyRootFilesystem": True},
                # Dashboards: Grafana's file provider rereads the folder every 30 s, so
                # the sidecar needs no reload call (which would need the admin password).
                "dashboards": {
                    "enabled": True,
                    "label": DASHBOARD_LABEL,
                    "searchNamespace": "ALL",
                    "resource": "configmap",
                    "skipReload": True,
                },
                # Datasources (this stack's Prometheus and Alertmanager) are written once,
                # before Grafana starts; changing one takes a rollout of Grafana.
                "datasources": {
                    "resource": "configmap",
                    "initDatasources": True,
                    "skipReload": True,
                },
            },
        },
        "kube-state-metrics": {
            "serviceAccount": _sa("kube-state-metrics"),
            # No Secret metrics: without the collector its ClusterRole reads no Secret.
            "collectorsExclude": ["secrets"],
            "nodeSelector": pool,
            "resources": resources("50m", "128Mi", "200m", "256Mi"),
        },
        # A node agent: one per node, every pool (the GPU nodes too), hence no nodeSelector;
        # in its own privileged namespace (hostNetwork, hostPID, host paths).
        "prometheus-node-exporter": {
            "namespaceOverride": args.node_exporter_namespace,
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
        accounts = [
            self.service_account(
                args.node_exporter_namespace if component == "prometheus-node-exporter" else ns,
                account,
            )
            for component, account in SERVICE_ACCOUNTS.items()
        ]
        password = random.RandomPassword(
            "grafana-admin-password", length=32, special=False, opts=self.child_opts()
        )
        admin = self._secret(
            args,
            GRAFANA_ADMIN_SECRET,
            password.result.apply(
                lambda p: json.dumps({"username": GRAFANA_ADMIN_USER, "password": p})
            ),
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
                f"external-secret-{ALERTMANAGER_CONFIG_SECRET}",
                external_secret(
                    ALERTMANAGER_CONFIG_SECRET,
                    ns,
                    f"{args.cluster_name}/{receiver_name}",
                    {RECEIVER_URL_KEY: "url"},
                    template={"alertmanager.yaml": yaml.safe_dump(alertmanager_config())},
                ),
                [receiver],
            ),
        ]
        reader = k8s.rbac.v1.ClusterRole(
            f"clusterrole-{GRAFANA_READER_ROLE}",
            metadata={"name": GRAFANA_READER_ROLE, "labels": MANAGED_BY},
            rules=grafana_reader_rules(),
            opts=self.child_opts(),
        )
        release = self.release(
            RELEASE,
            CHARTS[RELEASE],
            ns,
            kube_prometheus_stack_values(args),
            [*accounts, *synced, reader],
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
            # Deleted at once: a recovery window would block re-creating the stack under
            # the same name for a week; prod protects them instead.
            recovery_window_in_days=0,
            tags=dict(args.tags),
            opts=self.child_opts(protect=args.protect),
        )
        aws.secretsmanager.SecretVersion(
            f"secret-{name}-value",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(value),
            # keep: operators set the real value; Pulumi only seeds it.
            opts=self.child_opts(ignore_changes=["secretString"] if keep else None),
        )
        return secret
