"""external-dns: Route 53 records for the hosted zone, owned by this cluster (TXT registry)."""

from __future__ import annotations

from components.k8s.context import ServiceContext
from components.k8s.pods import (
    CONTAINER_SECURITY_CONTEXT,
    POD_SECURITY_CONTEXT,
    Values,
    general_pool,
    resources,
)


def external_dns_values(ctx: ServiceContext) -> Values:
    dns = ctx.dns
    if not (dns.hosted_zone_id and dns.domain):
        raise ValueError("services.externalDns = True: needs hostedZoneId and domain")
    return {
        "provider": {"name": "aws"},
        "env": [{"name": "AWS_DEFAULT_REGION", "value": ctx.region}],
        "serviceAccount": {"create": False, "name": ctx.account("external_dns").name},
        "domainFilters": [dns.domain],
        "txtOwnerId": ctx.cluster_name,
        "txtPrefix": "extdns-",
        # Never delete records it did not create, nor records when objects go away.
        "policy": "upsert-only",
        "registry": "txt",
        "sources": ["service", "ingress", "istio-gateway", "istio-virtualservice"],
        "extraArgs": [f"--zone-id-filter={dns.hosted_zone_id}", "--aws-zone-type=public"],
        "nodeSelector": general_pool(ctx.contract),
        "resources": resources("20m", "64Mi", "200m", "128Mi"),
        "podSecurityContext": {**POD_SECURITY_CONTEXT, "fsGroup": 65534},
        "securityContext": {**CONTAINER_SECURITY_CONTEXT, "runAsUser": 65534},
        "serviceMonitor": {"enabled": ctx.monitoring},
    }
