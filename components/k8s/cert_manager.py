"""cert-manager and its ClusterIssuer.

With a hosted zone: ACME (Let's Encrypt) DNS-01 through Route 53, with an IRSA
role scoped to that zone. Without one: a self-signed issuer, so certificates
still work in stacks without DNS.
"""

from __future__ import annotations

from typing import Any, Final

from components.k8s.context import ServiceContext
from components.k8s.pods import Values, general_pool, resources

LETSENCRYPT: Final = "https://acme-v02.api.letsencrypt.org/directory"
ACME_ISSUER: Final = "letsencrypt"
SELF_SIGNED_ISSUER: Final = "selfsigned"
WEBHOOK_SA: Final = "cert-manager-webhook"
CAINJECTOR_SA: Final = "cert-manager-cainjector"


def service_accounts(ctx: ServiceContext) -> list[str]:
    return [ctx.account("cert_manager").name, WEBHOOK_SA, CAINJECTOR_SA]


def cert_manager_values(ctx: ServiceContext) -> Values:
    pool = general_pool(ctx.contract)
    controller_sa = ctx.account("cert_manager").name
    return {
        "crds": {"enabled": True, "keep": True},
        "global": {"leaderElection": {"namespace": ctx.ns("cert_manager")}},
        "serviceAccount": {"create": False, "name": controller_sa},
        "nodeSelector": pool,
        "resources": resources("50m", "128Mi", "500m", "256Mi"),
        # Route 53's nameservers answer the DNS-01 self-check authoritatively.
        "dns01RecursiveNameservers": "",
        "prometheus": {
            "enabled": True,
            "servicemonitor": {"enabled": ctx.monitoring},
        },
        "webhook": {
            "serviceAccount": {"create": False, "name": WEBHOOK_SA},
            "nodeSelector": pool,
            "resources": resources("20m", "64Mi", "200m", "128Mi"),
        },
        "cainjector": {
            "serviceAccount": {"create": False, "name": CAINJECTOR_SA},
            "nodeSelector": pool,
            "resources": resources("20m", "128Mi", "200m", "256Mi"),
        },
        # The Helm hook job only waits for the webhook; Pulumi waits on the release.
        "startupapicheck": {"enabled": False},
    }


def cluster_issuer(ctx: ServiceContext) -> dict[str, Any]:
    dns = ctx.dns
    if not dns.hosted_zone_id:
        return {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": SELF_SIGNED_ISSUER},
            "spec": {"selfSigned": {}},
        }
    acme: dict[str, Any] = {
        "server": LETSENCRYPT,
        "privateKeySecretRef": {"name": f"{ACME_ISSUER}-account-key"},
        "solvers": [
            {
                "selector": {"dnsZones": [dns.domain]},
                # Ambient credentials: the controller's IRSA role.
                "dns01": {"route53": {"region": ctx.region, "hostedZoneID": dns.hosted_zone_id}},
            }
        ],
    }
    if dns.acme_email:
        acme["email"] = dns.acme_email
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": ACME_ISSUER},
        "spec": {"acme": acme},
    }
