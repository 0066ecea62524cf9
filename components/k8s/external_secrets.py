"""External Secrets Operator, the ClusterSecretStore for Secrets Manager, and ExternalSecrets.

The store authenticates with the controller's own IRSA role (scoped to the
platform's secrets), and only the namespaces listed may use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from components.k8s.context import ServiceContext
from components.k8s.pods import Values, general_pool, resources

STORE_NAME: Final = "aws-secrets-manager"
WEBHOOK_SA: Final = "external-secrets-webhook"
CERT_CONTROLLER_SA: Final = "external-secrets-cert-controller"
REFRESH: Final = "1h"


def service_accounts(ctx: ServiceContext) -> list[str]:
    return [ctx.account("external_secrets").name, WEBHOOK_SA, CERT_CONTROLLER_SA]


def external_secrets_values(ctx: ServiceContext) -> Values:
    pool = general_pool(ctx.contract)
    return {
        "installCRDs": True,
        "serviceAccount": {"create": False, "name": ctx.account("external_secrets").name},
        "nodeSelector": pool,
        "resources": resources("50m", "128Mi", "500m", "256Mi"),
        "serviceMonitor": {"enabled": ctx.monitoring},
        "webhook": {
            "serviceAccount": {"create": False, "name": WEBHOOK_SA},
            "nodeSelector": pool,
            "resources": resources("20m", "64Mi", "200m", "128Mi"),
        },
        "certController": {
            "serviceAccount": {"create": False, "name": CERT_CONTROLLER_SA},
            "nodeSelector": pool,
            "resources": resources("20m", "64Mi", "200m", "128Mi"),
        },
    }


def cluster_secret_store(ctx: ServiceContext, allowed_namespaces: Sequence[str]) -> dict[str, Any]:
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": STORE_NAME},
        "spec": {
            "provider": {"aws": {"service": "SecretsManager", "region": ctx.region}},
            "conditions": [{"namespaces": sorted(allowed_namespaces)}],
        },
    }


def external_secret(
    name: str, namespace: str, remote_key: str, properties: Mapping[str, str]
) -> dict[str, Any]:
    """A Secret `name` whose keys come from JSON properties of one Secrets Manager secret."""
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "refreshInterval": REFRESH,
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": STORE_NAME},
            "target": {"name": name, "creationPolicy": "Owner"},
            "data": [
                {"secretKey": key, "remoteRef": {"key": remote_key, "property": prop}}
                for key, prop in sorted(properties.items())
            ],
        },
    }
