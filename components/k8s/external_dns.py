"""external-dns: Route 53 records in the private zone, owned by this cluster (TXT registry).

The gateway's load balancer is internal: its addresses belong in a private zone
associated with the VPC, never in the public zone (which ACME's DNS-01 uses alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi

from components.aws.iam import document
from components.k8s.charts import ChartPin, KubernetesRange
from components.k8s.dns_zone import DnsZone, hosted_zone_arn
from components.k8s.platform_service import AwsScope, PlatformService
from components.k8s.pods import (
    CONTAINER_SECURITY_CONTEXT,
    POD_SECURITY_CONTEXT,
    Values,
    general_pool,
    resources,
)
from contract import ServiceAccountRef

CHARTS: Final = {
    "external-dns": ChartPin(
        "external-dns",
        "1.21.1",
        "https://kubernetes-sigs.github.io/external-dns/",
        "kubernetes-sigs/external-dns charts/external-dns at external-dns-helm-chart-1.21.1",
        digest="c51403321603d958898fe252b0992ec5aaef0af8cc6c7bc91f04be3101a6e1a7",
        content_digest="4bd50a3d15f4a7fdd87cfe63368816338066c25eb55e599583bff2c663a2c1d1",
        published_digest="5dd033a4b872bf641860695705ee460031d0bc695f114bf8926fee6736814e19",
        kubernetes=KubernetesRange(
            "1.33",
            None,
            "kubernetes-sigs/external-dns README, Kubernetes version compatibility: ExternalDNS >="
            " 0.18 on >= 1.33, no upper bound",
        ),
    ),
}


@dataclass(frozen=True)
class ExternalDnsArgs:
    account: ServiceAccountRef  # the controller's account (contract: external_dns)
    cluster_name: str  # the TXT registry's owner id
    region: str
    zone: DnsZone  # the private zone
    aws: AwsScope
    service_monitor: bool = False


def external_dns_policy(zone_id: str) -> str:
    """Records of one zone; `ListHostedZones` has no resource scope (read-only)."""
    zone = hosted_zone_arn(zone_id)
    return document(
        [
            {
                "Sid": "Records",
                "Effect": "Allow",
                "Action": [
                    "route53:ChangeResourceRecordSets",
                    "route53:ListResourceRecordSets",
                    "route53:ListTagsForResources",
                ],
                "Resource": zone,
            },
            {
                "Sid": "ListZones",
                "Effect": "Allow",
                "Action": "route53:ListHostedZones",
                "Resource": "*",
            },
        ]
    )


def external_dns_values(args: ExternalDnsArgs) -> Values:
    zone = args.zone
    return {
        "provider": {"name": "aws"},
        "env": [{"name": "AWS_DEFAULT_REGION", "value": args.region}],
        "serviceAccount": {"create": False, "name": args.account.name},
        "domainFilters": [zone.domain],
        "txtOwnerId": args.cluster_name,
        "txtPrefix": "extdns-",
        # Never delete records it did not create, nor records when objects go away.
        "policy": "upsert-only",
        "registry": "txt",
        "sources": ["service", "ingress", "istio-gateway", "istio-virtualservice"],
        "extraArgs": [f"--zone-id-filter={zone.hosted_zone_id}", "--aws-zone-type=private"],
        "nodeSelector": general_pool(),
        "resources": resources("20m", "64Mi", "200m", "128Mi"),
        "podSecurityContext": {**POD_SECURITY_CONTEXT, "fsGroup": 65534},
        "securityContext": {**CONTAINER_SECURITY_CONTEXT, "runAsUser": 65534},
        "serviceMonitor": {"enabled": args.service_monitor},
    }


class ExternalDns(PlatformService):
    def __init__(
        self, name: str, args: ExternalDnsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:external_dns:ExternalDns", name, opts)
        role = self.irsa_role(
            "external_dns",
            args.account,
            external_dns_policy(args.zone.hosted_zone_id),
            args.aws,
            aliases=[pulumi.Alias(name="irsa-external_dns", parent=pulumi.ROOT_STACK_RESOURCE)],
        )
        account = self.service_account(args.account.namespace, args.account.name, role)
        self.release(
            "external-dns",
            CHARTS["external-dns"],
            args.account.namespace,
            external_dns_values(args),
            [account],
        )
        self.register_outputs({"role_arn": role.arn})
