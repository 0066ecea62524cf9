"""cert-manager and its ClusterIssuer.

With a hosted zone: ACME (Let's Encrypt) DNS-01 through Route 53, with an IRSA
role scoped to that zone. Without one: a self-signed issuer, so certificates
still work in stacks without DNS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pulumi

from components.aws.iam import document
from components.k8s.charts import ChartPin, KubernetesRange
from components.k8s.dns_zone import DnsZone, hosted_zone_arn
from components.k8s.platform_service import AwsScope, PlatformService
from components.k8s.pods import Values, general_pool, resources
from contract import ServiceAccountRef

CHARTS: Final = {
    "cert-manager": ChartPin(
        "cert-manager",
        "v1.21.1",
        "https://charts.jetstack.io",
        "cert-manager/cert-manager deploy/charts/cert-manager at v1.21.1",
        digest="a8cd66ff9f8a185ad95acc56ce933d740a3957902e7c3054016f9b9779f6006e",
        content_digest="a0c7a1277d94b703a7aaf0239cffcb8f9f1d4b6fdadd876661cd37c3bc08a7b4",
        kubernetes=KubernetesRange(
            "1.33",
            "1.36",
            "cert-manager.io/docs/releases: 1.21 supports and is tested on Kubernetes 1.33 to 1.36",
        ),
    ),
}
LETSENCRYPT: Final = "https://acme-v02.api.letsencrypt.org/directory"
ACME_ISSUER: Final = "letsencrypt"
SELF_SIGNED_ISSUER: Final = "selfsigned"
WEBHOOK_SA: Final = "cert-manager-webhook"
CAINJECTOR_SA: Final = "cert-manager-cainjector"


@dataclass(frozen=True)
class CertManagerArgs:
    controller: ServiceAccountRef  # the controller's account (contract: cert_manager)
    region: str
    aws: AwsScope
    zone: DnsZone | None = None  # ACME DNS-01 in this zone; a self-signed issuer without
    service_monitor: bool = False  # the ServiceMonitor CRD exists (monitoring runs)


def dns01_policy(zone_id: str) -> str:
    """ACME DNS-01 in one zone: only `_acme-challenge` TXT records.

    The ClusterIssuer names the zone id, so cert-manager needs no
    `route53:ListHostedZonesByName` (a `*` resource).
    """
    zone = hosted_zone_arn(zone_id)
    return document(
        [
            {
                "Sid": "ChallengeRecords",
                "Effect": "Allow",
                "Action": "route53:ChangeResourceRecordSets",
                "Resource": zone,
                "Condition": {
                    "ForAllValues:StringEquals": {
                        "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]
                    },
                    "ForAllValues:StringLike": {
                        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                            "_acme-challenge.*"
                        ]
                    },
                },
            },
            {
                "Sid": "ReadZone",
                "Effect": "Allow",
                "Action": "route53:ListResourceRecordSets",
                "Resource": zone,
            },
            {
                "Sid": "ChangeStatus",
                "Effect": "Allow",
                "Action": "route53:GetChange",
                "Resource": "arn:aws:route53:::change/*",
            },
        ]
    )


def cert_manager_values(args: CertManagerArgs) -> Values:
    pool = general_pool()
    return {
        "crds": {"enabled": True, "keep": True},
        "global": {"leaderElection": {"namespace": args.controller.namespace}},
        "serviceAccount": {"create": False, "name": args.controller.name},
        "nodeSelector": pool,
        "resources": resources("50m", "128Mi", "500m", "256Mi"),
        # Route 53's nameservers answer the DNS-01 self-check authoritatively.
        "dns01RecursiveNameservers": "",
        "prometheus": {
            "enabled": True,
            "servicemonitor": {"enabled": args.service_monitor},
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


def cluster_issuer(zone: DnsZone | None, region: str) -> dict[str, Any]:
    if zone is None:
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
                "selector": {"dnsZones": [zone.domain]},
                # Ambient credentials: the controller's IRSA role.
                "dns01": {"route53": {"region": region, "hostedZoneID": zone.hosted_zone_id}},
            }
        ],
    }
    if zone.acme_email:
        acme["email"] = zone.acme_email
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": ACME_ISSUER},
        "spec": {"acme": acme},
    }


class CertManager(PlatformService):
    def __init__(
        self, name: str, args: CertManagerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:cert_manager:CertManager", name, opts)
        ns = args.controller.namespace
        role = None
        if args.zone is not None:
            role = self.irsa_role(
                "cert_manager",
                args.controller,
                dns01_policy(args.zone.hosted_zone_id),
                args.aws,
                # Until this component owned it, the role sat at the stack's root.
                aliases=[pulumi.Alias(name="irsa-cert_manager", parent=pulumi.ROOT_STACK_RESOURCE)],
            )
        accounts = [
            self.service_account(ns, args.controller.name, role),
            self.service_account(ns, WEBHOOK_SA),
            self.service_account(ns, CAINJECTOR_SA),
        ]
        release = self.release(
            "cert-manager", CHARTS["cert-manager"], ns, cert_manager_values(args), accounts
        )
        issuer = cluster_issuer(args.zone, args.region)
        self.issuer_name: str = issuer["metadata"]["name"]
        self.custom_resource(f"cluster-issuer-{self.issuer_name}", issuer, [release])
        self.register_outputs({"issuer": self.issuer_name})
