"""Argo CD: GitOps for the workloads (layer 3), and nothing else.

The boundary (docs/decisions/0035-mlflow-server-and-gitops.md): Pulumi owns the
infrastructure and the platform, Argo CD owns the workloads. One AppProject,
`workloads`, is all Argo CD may do: sync from this repository only, into the
workloads namespace of this cluster only, namespaced kinds of a short list only
(no cluster-scoped kind at all). One Application per environment, the root of that
environment's `workloads/<env>/` folder, syncs it automatically, prunes and heals.

Secrets from Secrets Manager through External Secrets, none in values: the admin's
password (the bcrypt hash Argo CD checks, from the same random value an operator
reads in Secrets Manager), the server's signing key, Redis's password (the chart's
secret-init Job, which would mint one inside the cluster, is off). The UI stays
cluster-internal (`make port-forward-argocd`, sign in as admin): with SSO it could be
published on the gateway (docs/argocd.md says how).

The chart's own NetworkPolicies are off: the server's admits every source, its
metrics rules every namespace, and the rest repeat the tenancy baseline's
same-namespace rule (components/k8s/tenancy/network_policies.py), which with
default deny is what remains. ServiceMonitors are ours, after the operator's CRDs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.k8s.charts import ChartPin, KubernetesRange
from components.k8s.platform_service import MANAGED_BY, PlatformService
from components.k8s.pods import Values, general_pool, resources

RELEASE: Final = "argocd"  # with the chart's nameOverride `argocd`: Service argocd-server
CHARTS: Final = {
    RELEASE: ChartPin(
        "argo-cd",
        "10.1.1",  # Argo CD v3.4.4
        "https://argoproj.github.io/argo-helm",
        "argoproj/argo-helm charts/argo-cd, tag argo-cd-10.1.1",
        digest="556464ee08dc48dd80e6fdf415b6f2e5a5aaba49f30a5649693f05e3e16f4b26",
        content_digest="753efc7f458e69de5b80ddf71b39aa04ed2ba1117056bd68b25bf4be4b0826e2",
        published_digest="a677dfa6ca7e9f9a71fe9bf54ea86a9011d5c7db8e137c5171e78c4493af20e5",
        # No upper bound: the chart's kubeVersion is >=1.25.0-0 and Argo CD declares no
        # minor unsupported; its CI is narrower (../shared/charts/README.md, Caveats).
        kubernetes=KubernetesRange(
            "1.32",
            None,
            "argo-cd 10.1.1 Chart.yaml kubeVersion >=1.25.0-0; argoproj/argo-cd "
            "docs/operator-manual/tested-kubernetes-versions.md at v3.4.4",
            tested="Argo CD 3.4 is tested on 1.32-1.35 (1.36 untested; 3.5 tests 1.33-1.36)",
        ),
    ),
}
IN_CLUSTER: Final = "https://kubernetes.default.svc"
ARGOCD_UID: Final = 999  # the argocd image's user (quay.io/argoproj/argocd:v3.4.4)
PROJECT: Final = "workloads"
REDIS_IMAGE: Final = "public.ecr.aws/docker/library/redis"  # tag: the chart's, 8.2.3-alpine
ARGOCD_SECRET: Final = "argocd-secret"  # noqa: S105 - the Secret Argo CD reads by name
REDIS_SECRET: Final = "argocd-redis"  # noqa: S105 - the Secret the chart's pods read
PLATFORM_SECRET: Final = "argocd"  # noqa: S105 - Secrets Manager <cluster>/argocd
SECRET_KEYS: Final = ("admin-password", "admin-password-bcrypt", "server-secretkey", "redis")

# The components that run, their ServiceAccounts (ours, typed; the chart creates none)
# and whether they call the API (the repo server and Redis never do: no token).
SERVICE_ACCOUNTS: Final[dict[str, tuple[str, bool]]] = {
    "controller": ("argocd-application-controller", True),
    "server": ("argocd-server", True),
    "repoServer": ("argocd-repo-server", False),
    "applicationSet": ("argocd-applicationset-controller", True),
    "redis": ("argocd-redis", False),
}
# The `app.kubernetes.io/name` of the metrics Services the chart renders with
# `metrics.enabled` (argo-cd 10.1.1: the controller's is `argocd-metrics`, port 8082;
# the server's 8083; the repo server's 8084), all on the port named `http-metrics`.
METRICS_SERVICES: Final = ("argocd-metrics", "argocd-server-metrics", "argocd-repo-server-metrics")
METRICS_PORT_NAME: Final = "http-metrics"
# What the workloads folder may hold: namespaced kinds only, none cluster-scoped.
# (API group, kind, resource): the AppProject's whitelist and the write Role's rules.
WORKLOAD_KINDS: Final = (
    ("serving.kserve.io", "InferenceService", "inferenceservices"),
    ("serving.kserve.io", "InferenceGraph", "inferencegraphs"),
    ("serving.kserve.io", "TrainedModel", "trainedmodels"),
    ("keda.sh", "ScaledObject", "scaledobjects"),
    ("", "ConfigMap", "configmaps"),
)
# What Argo CD watches besides them: the objects KServe and Knative make of an
# InferenceService, so that health and the resource tree show (read only).
OBSERVED_KINDS: Final = (
    ("", "Pod", "pods"),
    ("", "Service", "services"),
    ("apps", "Deployment", "deployments"),
    ("apps", "ReplicaSet", "replicasets"),
    ("autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
    ("serving.knative.dev", "Service", "services"),
    ("serving.knative.dev", "Configuration", "configurations"),
    ("serving.knative.dev", "Revision", "revisions"),
    ("serving.knative.dev", "Route", "routes"),
    ("autoscaling.internal.knative.dev", "PodAutoscaler", "podautoscalers"),
)
READ: Final = ("get", "list", "watch")
WRITE: Final = ("create", "update", "patch", "delete")
WRITER_ROLE: Final = "argocd-workloads-writer"


@dataclass(frozen=True)
class ArgocdArgs:
    namespace: str  # argocd
    cluster_name: str  # platform secrets live under `<cluster_name>/` in Secrets Manager
    secrets_key_arn: pulumi.Input[str]
    repository_url: str  # the only repository Argo CD may read: this one
    target_revision: str  # the branch or tag of the workloads
    environment: str  # the folder workloads/<environment>/
    workloads_namespace: str  # the only destination
    service_monitor: bool = False  # the prometheus-operator CRDs exist
    protect: bool = False  # the Secrets Manager secret (prod): no recovery window either way
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        url = self.repository_url
        if not url.startswith("https://") or any(c in url for c in "*? "):
            raise ValueError(
                f"gitRepositoryUrl = {url!r}: allowed: one https:// repository URL, no wildcard"
            )
        if not self.target_revision or " " in self.target_revision:
            raise ValueError(
                f"gitTargetRevision = {self.target_revision!r}: allowed: a branch or tag"
            )


def workloads_path(environment: str) -> str:
    return f"workloads/{environment}"


def _component(
    account: str, requests: tuple[str, str], limits: tuple[str, str], *, metrics: bool = True
) -> Values:
    return {
        "serviceAccount": {"create": False, "name": account},
        "resources": resources(*requests, *limits),
        "metrics": {"enabled": metrics},
    }


def _by_group(kinds: tuple[tuple[str, str, str], ...]) -> dict[str, list[tuple[str, str]]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for group, kind, resource in kinds:
        groups.setdefault(group, []).append((kind, resource))
    return groups


def read_rules() -> list[dict[str, Any]]:
    """Cluster-wide read of exactly what Argo CD watches (no wildcard, no write)."""
    return [
        {"apiGroups": [g], "resources": sorted({r for _, r in items}), "verbs": list(READ)}
        for g, items in sorted(_by_group(WORKLOAD_KINDS + OBSERVED_KINDS).items())
    ]


def server_rules() -> list[dict[str, Any]]:
    """The UI's reads, logs and events; its Application edits (no Jobs, no exec, no delete)."""
    return [
        *read_rules(),
        {"apiGroups": [""], "resources": ["events"], "verbs": ["list", "create"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        {
            "apiGroups": ["argoproj.io"],
            "resources": ["applications", "applicationsets"],
            "verbs": ["get", "list", "update", "watch"],
        },
    ]


def writer_role(namespace: str) -> dict[str, Any]:
    """Write access to the workload kinds in the workloads namespace only."""
    return {
        "metadata": {"name": WRITER_ROLE, "namespace": namespace},
        "rules": [
            {"apiGroups": [g], "resources": sorted(r for _, r in items), "verbs": [*READ, *WRITE]}
            for g, items in sorted(_by_group(WORKLOAD_KINDS).items())
        ],
    }


def resource_inclusions() -> str:
    """argocd-cm `resource.inclusions`: the cluster cache watches only these kinds."""
    return json.dumps(
        [
            {"apiGroups": [g], "kinds": sorted({k for k, _ in items}), "clusters": ["*"]}
            for g, items in sorted(_by_group(WORKLOAD_KINDS + OBSERVED_KINDS).items())
        ]
    )


def argocd_values(args: ArgocdArgs) -> Values:
    accounts = {k: v[0] for k, v in SERVICE_ACCOUNTS.items()}
    # The repo server renders manifests from git and never calls the API: no token.
    repo_server = {
        **_component(accounts["repoServer"], ("100m", "256Mi"), ("1", "1Gi")),
        "automountServiceAccountToken": False,
    }
    return {
        "crds": {"install": True, "keep": True},
        "global": {
            "domain": f"argocd.{args.cluster_name}.internal",
            "nodeSelector": general_pool(),
            "networkPolicy": {"create": False},  # the tenancy baseline governs (module doc)
            "logging": {"format": "json"},
            # The pod level of restricted Pod Security (the containers' is the chart's
            # default); the image's user, 999, which Argo CD's files belong to.
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": ARGOCD_UID,
                "runAsGroup": ARGOCD_UID,
                "fsGroup": ARGOCD_UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        },
        "configs": {
            "cm": {
                "admin.enabled": True,  # its password from Secrets Manager; SSO: docs/argocd.md
                "users.anonymous.enabled": False,
                "exec.enabled": False,
                "statusbadge.enabled": False,
                "resource.inclusions": resource_inclusions(),
            },
            "params": {
                "server.insecure": False,  # the server speaks TLS (port-forward to 443)
                "reposerver.parallelism.limit": 2,
            },
            "rbac": {"policy.default": "", "policy.csv": "g, admin, role:admin\n"},
            # argocd-secret comes from an ExternalSecret: no value in the chart's values.
            "secret": {"createSecret": False},
        },
        # Least privilege instead of the chart's `*` on `*`: read what it watches,
        # write only the workload kinds in the workloads namespace (writer_role).
        "controller": {
            **_component(accounts["controller"], ("250m", "512Mi"), ("1", "1Gi")),
            "clusterRoleRules": {"enabled": True, "rules": read_rules()},
        },
        "server": {
            **_component(accounts["server"], ("50m", "128Mi"), ("500m", "256Mi")),
            "clusterRoleRules": {"enabled": True, "rules": server_rules()},
        },
        "repoServer": repo_server,
        # Unused by the root Application; no metrics (8080 is no metrics port of the baseline).
        "applicationSet": {
            **_component(
                accounts["applicationSet"], ("50m", "64Mi"), ("500m", "128Mi"), metrics=False
            ),
            "readinessProbe": {"enabled": True},
            "livenessProbe": {"enabled": True},
        },
        "redis": {
            "serviceAccount": {"create": False, "name": accounts["redis"]},
            "automountServiceAccountToken": False,
            # The chart's image, from ECR Public's classic host (the chart names its
            # dual-stack alias ecr-public.aws.com, which the registry allowlist lacks).
            "image": {"repository": REDIS_IMAGE},
            "resources": resources("50m", "64Mi", "500m", "128Mi"),
            "readinessProbe": {"enabled": True},
            "livenessProbe": {"enabled": True},
        },
        # The password comes from Secrets Manager (argocd-redis, key `auth`), not a Job.
        "redisSecretInit": {"enabled": False},
        "dex": {"enabled": False},
        "notifications": {"enabled": False},
    }


def app_project(args: ArgocdArgs) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": PROJECT, "namespace": args.namespace},
        "spec": {
            "description": "The workloads Argo CD syncs; Pulumi owns everything else.",
            "sourceRepos": [args.repository_url],
            "destinations": [{"server": IN_CLUSTER, "namespace": args.workloads_namespace}],
            "clusterResourceWhitelist": [],  # no cluster-scoped kind
            "namespaceResourceWhitelist": [{"group": g, "kind": k} for g, k, _ in WORKLOAD_KINDS],
            "orphanedResources": {"warn": True},
        },
    }


def root_application(args: ArgocdArgs) -> dict[str, Any]:
    """The environment's root: everything Argo CD runs there comes from this folder."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": f"{PROJECT}-{args.environment}",
            "namespace": args.namespace,
            # Deleting the Application deletes what it synced, not only itself.
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": PROJECT,
            "source": {
                "repoURL": args.repository_url,
                "targetRevision": args.target_revision,
                "path": workloads_path(args.environment),
            },
            "destination": {"server": IN_CLUSTER, "namespace": args.workloads_namespace},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["ServerSideApply=true", "PrunePropagationPolicy=foreground"],
                # Longer than KServe's install, which Argo CD does not wait for: a first sync
                # that meets no InferenceService CRD yet is retried for about 40 minutes.
                "retry": {
                    "limit": 12,
                    "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"},
                },
            },
        },
    }


def argocd_external_secret(namespace: str, remote_key: str) -> dict[str, Any]:
    """argocd-secret: the admin's bcrypt hash and the server's key, from Secrets Manager.

    The keys are Argo CD's own names; the template only adds the label by which Argo CD's
    settings informer finds the Secret (`mergePolicy: Merge` keeps the data's keys).
    """
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": ARGOCD_SECRET, "namespace": namespace},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "aws-secrets-manager"},
            "target": {
                "name": ARGOCD_SECRET,
                "creationPolicy": "Owner",
                "template": {
                    "engineVersion": "v2",
                    "type": "Opaque",
                    "mergePolicy": "Merge",
                    "metadata": {"labels": {"app.kubernetes.io/part-of": "argocd"}},
                },
            },
            "data": [
                {
                    "secretKey": "admin.password",
                    "remoteRef": {"key": remote_key, "property": "admin-password-bcrypt"},
                },
                {
                    "secretKey": "server.secretkey",
                    "remoteRef": {"key": remote_key, "property": "server-secretkey"},
                },
            ],
        },
    }


def redis_external_secret(namespace: str, remote_key: str) -> dict[str, Any]:
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": REDIS_SECRET, "namespace": namespace},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "aws-secrets-manager"},
            "target": {"name": REDIS_SECRET, "creationPolicy": "Owner"},
            "data": [{"secretKey": "auth", "remoteRef": {"key": remote_key, "property": "redis"}}],
        },
    }


def service_monitor(namespace: str) -> dict[str, Any]:
    """Every Argo CD metrics Service; the namespace is outside the mesh: scraped directly."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {
            "name": "argocd",
            "namespace": namespace,
            "labels": {"release": "kube-prometheus-stack"},
        },
        "spec": {
            "selector": {
                "matchExpressions": [
                    {
                        "key": "app.kubernetes.io/name",
                        "operator": "In",
                        "values": list(METRICS_SERVICES),
                    }
                ]
            },
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [{"port": METRICS_PORT_NAME, "interval": "30s"}],
        },
    }


class Argocd(PlatformService):
    def __init__(
        self, name: str, args: ArgocdArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:argocd:Argocd", name, opts)
        ns = args.namespace
        accounts = [self._account(ns, name, api) for name, api in SERVICE_ACCOUNTS.values()]
        remote_key = f"{args.cluster_name}/{PLATFORM_SECRET}"
        secret = self._platform_secret(args, remote_key)
        synced = [
            self.custom_resource(
                f"external-secret-{ns}-{ARGOCD_SECRET}",
                argocd_external_secret(ns, remote_key),
                [secret],
            ),
            self.custom_resource(
                f"external-secret-{ns}-{REDIS_SECRET}",
                redis_external_secret(ns, remote_key),
                [secret],
            ),
        ]
        release = self.release(
            RELEASE, CHARTS[RELEASE], ns, argocd_values(args), [*accounts, *synced]
        )
        role = writer_role(args.workloads_namespace)
        writer = k8s.rbac.v1.Role(
            f"role-{args.workloads_namespace}-{WRITER_ROLE}",
            metadata={**role["metadata"], "labels": MANAGED_BY},
            rules=role["rules"],
            opts=self.child_opts(),
        )
        k8s.rbac.v1.RoleBinding(
            f"role-binding-{args.workloads_namespace}-{WRITER_ROLE}",
            metadata={**role["metadata"], "labels": MANAGED_BY},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": WRITER_ROLE},
            subjects=[
                {"kind": "ServiceAccount", "name": SERVICE_ACCOUNTS[c][0], "namespace": ns}
                for c in ("controller", "server")
            ],
            opts=self.child_opts([writer]),
        )
        project = self.custom_resource(f"app-project-{PROJECT}", app_project(args), [release])
        self.custom_resource(
            f"application-{PROJECT}-{args.environment}", root_application(args), [project]
        )
        if args.service_monitor:
            self.custom_resource(f"service-monitor-{ns}-argocd", service_monitor(ns), [release])
        self.register_outputs({"release": RELEASE, "project": PROJECT})

    def _account(self, namespace: str, name: str, automount: bool) -> pulumi.Resource:
        """A typed ServiceAccount; a token only for the components that call the API."""
        return k8s.core.v1.ServiceAccount(
            f"sa-{namespace}-{name}",
            metadata={"name": name, "namespace": namespace, "labels": MANAGED_BY},
            automount_service_account_token=automount,
            opts=self.child_opts(),
        )

    def _platform_secret(self, args: ArgocdArgs, remote_key: str) -> aws.secretsmanager.Secret:
        admin = random.RandomPassword(
            "argocd-admin-password", length=32, special=False, opts=self.child_opts()
        )
        key = random.RandomPassword(
            "argocd-server-secretkey", length=48, special=False, opts=self.child_opts()
        )
        redis = random.RandomPassword(
            "argocd-redis-password", length=32, special=False, opts=self.child_opts()
        )
        secret = aws.secretsmanager.Secret(
            f"secret-{PLATFORM_SECRET}",
            name=remote_key,
            kms_key_id=args.secrets_key_arn,
            # Deleted at once, as monitoring's: a recovery window would block re-creating
            # the stack under the same name for a week; prod protects it instead.
            recovery_window_in_days=0,
            tags=dict(args.tags),
            opts=self.child_opts(protect=args.protect),
        )
        value = pulumi.Output.all(admin.result, admin.bcrypt_hash, key.result, redis.result).apply(
            lambda v: json.dumps(dict(zip(SECRET_KEYS, v, strict=True)))
        )
        aws.secretsmanager.SecretVersion(
            f"secret-{PLATFORM_SECRET}-value",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(value),
            opts=self.child_opts(),
        )
        return secret
