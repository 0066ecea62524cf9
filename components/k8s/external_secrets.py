"""External Secrets Operator, the ClusterSecretStore for Secrets Manager, and ExternalSecrets.

The store authenticates with the controller's own IRSA role (scoped to the
platform's secrets and the RDS-managed ones), and only the namespaces listed may
use it. No secret value ever passes through Pulumi: the operator copies it from
Secrets Manager into the cluster (docs/decisions/0005-two-databases.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi

from components.aws.iam import Statement, document
from components.k8s.charts import ChartPin, KubernetesRange
from components.k8s.platform_service import AwsScope, PlatformService
from components.k8s.pods import POD_SECURITY_CONTEXT, Values, general_pool, resources
from contract import ServiceAccountRef

CHARTS: Final = {
    "external-secrets": ChartPin(
        "external-secrets",
        "2.9.0",
        "https://charts.external-secrets.io",
        "external-secrets/external-secrets deploy/charts/external-secrets at helm-chart-2.9.0",
        digest="5ca6764c866e0de2b0e0186f9e2d7c33cd300f01b891d6599dac8580f56e2100",
        content_digest="fa55f56c3a430aa5bc505ef795e6f9c1a4e3a0e752c13eff18d0aae8858b31e8",
        published_digest="da2d5c126a103b4c1b16a9dc1c168c4332a3687144e88ac070e594f81a0b6578",
        kubernetes=KubernetesRange(
            "1.36",
            "1.36",
            "external-secrets docs/introduction/stability-support.md at helm-chart-2.9.0: 2.9 is "
            "tested on Kubernetes 1.36; ESO supports only its current minor",
        ),
    ),
}
STORE_NAME: Final = "aws-secrets-manager"
WEBHOOK_SA: Final = "external-secrets-webhook"
CERT_CONTROLLER_SA: Final = "external-secrets-cert-controller"
REFRESH: Final = "1h"


@dataclass(frozen=True)
class ExternalSecretsArgs:
    controller: ServiceAccountRef  # contract: external_secrets
    cluster_name: str  # every platform secret lives under `<cluster_name>/`
    region: str
    account_id: pulumi.Input[str]
    # The RDS-managed master secrets, which live outside `<cluster_name>/`.
    database_secret_arns: Sequence[pulumi.Input[str]]
    secrets_key_arn: pulumi.Input[str]  # the KMS key Secrets Manager encrypts them with
    store_namespaces: Sequence[str]  # the namespaces that may read through the store
    aws: AwsScope
    service_monitor: bool = False


def platform_secrets_prefix_arn(region: str, account_id: str, cluster_name: str) -> str:
    """Every Secrets Manager secret of the platform lives under `<cluster_name>/`."""
    return f"arn:aws:secretsmanager:{region}:{account_id}:secret:{cluster_name}/*"


def external_secrets_policy(
    region: str,
    account_id: str,
    cluster_name: str,
    extra_secret_arns: Sequence[str],
    kms_key_arn: str,
) -> str:
    """Read the platform's secrets (and the RDS-managed ones), decrypt through Secrets Manager."""
    secrets = [platform_secrets_prefix_arn(region, account_id, cluster_name), *extra_secret_arns]
    statements: list[Statement] = [
        {
            "Sid": "ReadPlatformSecrets",
            "Effect": "Allow",
            "Action": [
                "secretsmanager:GetSecretValue",
                "secretsmanager:DescribeSecret",
                "secretsmanager:ListSecretVersionIds",
            ],
            "Resource": secrets,
        },
        {
            "Sid": "DecryptThroughSecretsManager",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": kms_key_arn,
            "Condition": {
                "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
            },
        },
    ]
    return document(statements)


POD_CONTEXT: Final[Values] = {"enabled": True, **POD_SECURITY_CONTEXT}


def external_secrets_values(args: ExternalSecretsArgs) -> Values:
    pool = general_pool()
    return {
        "installCRDs": True,
        "serviceAccount": {"create": False, "name": args.controller.name},
        "nodeSelector": pool,
        "resources": resources("50m", "128Mi", "500m", "256Mi"),
        # The chart's pod contexts are empty: the restricted profile's pod half, explicitly.
        "podSecurityContext": POD_CONTEXT,
        "serviceMonitor": {"enabled": args.service_monitor},
        "webhook": {
            "serviceAccount": {"create": False, "name": WEBHOOK_SA},
            "nodeSelector": pool,
            "resources": resources("20m", "64Mi", "200m", "128Mi"),
            "podSecurityContext": POD_CONTEXT,
        },
        "certController": {
            "serviceAccount": {"create": False, "name": CERT_CONTROLLER_SA},
            "nodeSelector": pool,
            "resources": resources("20m", "64Mi", "200m", "128Mi"),
            "podSecurityContext": POD_CONTEXT,
        },
    }


def cluster_secret_store(region: str, allowed_namespaces: Sequence[str]) -> dict[str, Any]:
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": STORE_NAME},
        "spec": {
            "provider": {"aws": {"service": "SecretsManager", "region": region}},
            "conditions": [{"namespaces": sorted(allowed_namespaces)}],
        },
    }


def external_secret(
    name: str,
    namespace: str,
    remote_key: str,
    properties: Mapping[str, str],
    template: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Secret `name` whose keys come from JSON properties of one Secrets Manager secret.

    With `template`, the Secret's keys are those templates instead (ESO's v2 engine,
    the properties as `{{ .key }}`): a whole configuration file with a secret in it.
    """
    target: dict[str, Any] = {"name": name, "creationPolicy": "Owner"}
    if template is not None:
        target["template"] = {"engineVersion": "v2", "data": dict(sorted(template.items()))}
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "refreshInterval": REFRESH,
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": STORE_NAME},
            "target": target,
            "data": [
                {"secretKey": key, "remoteRef": {"key": remote_key, "property": prop}}
                for key, prop in sorted(properties.items())
            ],
        },
    }


class ExternalSecrets(PlatformService):
    def __init__(
        self, name: str, args: ExternalSecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:external_secrets:ExternalSecrets", name, opts)
        ns = args.controller.namespace
        policy = pulumi.Output.all(
            args.account_id, args.secrets_key_arn, *args.database_secret_arns
        ).apply(
            lambda v: external_secrets_policy(
                args.region, v[0], args.cluster_name, sorted(v[2:]), v[1]
            )
        )
        role = self.irsa_role(
            "external_secrets",
            args.controller,
            policy,
            args.aws,
            aliases=[pulumi.Alias(name="irsa-external_secrets", parent=pulumi.ROOT_STACK_RESOURCE)],
        )
        accounts = [
            self.service_account(ns, args.controller.name, role),
            self.service_account(ns, WEBHOOK_SA),
            self.service_account(ns, CERT_CONTROLLER_SA),
        ]
        release = self.release(
            "external-secrets",
            CHARTS["external-secrets"],
            ns,
            external_secrets_values(args),
            accounts,
        )
        self.store = self.custom_resource(
            "cluster-secret-store",
            cluster_secret_store(args.region, args.store_namespaces),
            [release],
        )
        self.register_outputs({"store": STORE_NAME})
