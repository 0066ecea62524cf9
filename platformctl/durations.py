"""Typical creation times on a first `pulumi up`, each with its source: the weights of the
critical path (platformctl/critical_path.py).

Figures are typical, not promises: AWS publishes few creation times, so most come
from measured runs reported in public issue threads, cited beside each. Where no
public figure exists the entry says it is an assumption and why it is that size.
A type that is not listed takes `DEFAULT`: one API call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Duration:
    minutes: float
    source: str


DEFAULT: Final = Duration(0.05, "assumption: one API call and its read-back, a few seconds")
COMPONENT: Final = Duration(0.0, "a component creates nothing: it completes when its children do")
PROVIDER: Final = Duration(0.0, "a provider is configured in the engine, nothing is created")

CREATE: Final[dict[str, Duration]] = {
    "eks:index:Cluster": Duration(
        10.0,
        "aws/containers-roadmap#1227: AWS reports the control plane at 9 minutes on average "
        "(users measure 9-14); pulumi-eks adds the OIDC provider and its own checks",
    ),
    "aws:eks/cluster:Cluster": Duration(9.0, "aws/containers-roadmap#1227 (9 minutes average)"),
    "eks:index:ManagedNodeGroup": Duration(
        3.0,
        "terraform-aws-modules/terraform-aws-eks and eksctl issue logs: a managed node group "
        "is ACTIVE 2-4 minutes after creation, its nodes joined",
    ),
    "aws:eks/nodeGroup:NodeGroup": Duration(3.0, "as eks:index:ManagedNodeGroup"),
    "aws:eks/addon:Addon": Duration(
        1.5,
        "assumption: EKS reports an add-on ACTIVE once its pods are ready (image pull and "
        "start on nodes that just joined)",
    ),
    "aws:rds/instance:Instance": Duration(
        8.0,
        "hashicorp/terraform#1097 and terraform-provider-aws#44925: creating, then backing-up "
        "before 'available'; 5-10 minutes for a small instance",
    ),
    "aws:ec2/natGateway:NatGateway": Duration(
        2.0, "assumption from Terraform apply logs: 1-2 minutes until 'available'"
    ),
    "aws:ec2/vpcEndpoint:VpcEndpoint": Duration(
        2.0, "assumption: interface endpoints provision an ENI per AZ, 1-2 minutes"
    ),
    "aws:kms/key:Key": Duration(0.1, "assumption: one call, seconds"),
    "aws:iam/role:Role": Duration(0.1, "assumption: one call, seconds (propagation is lazy)"),
}

# --- the Kubernetes layers -------------------------------------------------------------------
# A helm.v3.Release waits until every object it installs is ready (Pulumi's `skipAwait`
# is false by default: Helm's --wait), so a release takes the install itself, plus
# the start of its slowest workload, plus its hooks.
HELM_INSTALL: Final = Duration(
    0.3, "assumption: Helm renders, installs CRDs first, applies the objects: ~20 s"
)
POD_START: Final = Duration(
    1.0,
    "assumption: pulling a 100-300 MB image onto a node that never pulled it and starting "
    "it; the readiness probe's own delays are added from the rendered workload",
)
HOOK_JOB: Final = Duration(0.5, "assumption: a hook Job pulls its image and runs once")
CERTIFICATE: Final = Duration(
    0.2,
    "assumption: cert-manager signs with a self-signed or CA issuer within seconds of "
    "the Certificate; a workload mounting the Secret waits for it",
)
ACME_CERTIFICATE: Final = Duration(
    2.0,
    "assumption: ACME DNS-01 waits for the TXT record to propagate (cert-manager's "
    "propagation check) before the order completes",
)
NLB: Final = Duration(
    4.0,
    "kubernetes-sigs/aws-load-balancer-controller#1786 and #1834 (AWS support quoted): a "
    "LoadBalancer Service serves 4-5 minutes after creation, target registration alone "
    "taking 3-5 minutes; Pulumi does not wait for it, the platform's users do",
)
