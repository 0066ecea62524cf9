"""Istio: base, istio-cni, istiod and the ingress gateway, with STRICT mTLS in the mesh.

istio-cni sets up each pod's traffic redirection from the node, and native
sidecars (the proxy as a restartable init container) start before and stop
after the application: application pods need neither NET_ADMIN nor an init
container with privileges (docs/decisions/0011-istio-without-privileged-workloads.md).
STRICT mTLS in the namespaces users reach; Prometheus scrapes through the merged
metrics port (15020), which stays plaintext.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi

from components.k8s.charts import ChartPin
from components.k8s.platform_service import PlatformService
from components.k8s.pods import (
    CONTAINER_SECURITY_CONTEXT,
    POD_SECURITY_CONTEXT,
    Values,
    general_pool,
    resources,
)

REPOSITORY: Final = "https://istio-release.storage.googleapis.com/charts"
_VERSION: Final = "1.28.0"  # istio.io install docs: `helm pull istio/base --version 1.28.0`
_SOURCE: Final = "istio/istio manifests/charts; helm pull istio/<chart> --version 1.28.0"

CHARTS: Final = {
    "istio-base": ChartPin(
        "base",
        _VERSION,
        REPOSITORY,
        _SOURCE,
        digest="ef0a117d2f1822097d9cbedd893ed6d911384cdc5b7814aad351cf2d735a3689",
        content_digest="c53461d217346a515841e24ba9d748d63b208e69a4053473ea09fed553b41cdd",
    ),
    "istiod": ChartPin(
        "istiod",
        _VERSION,
        REPOSITORY,
        _SOURCE,
        digest="a69ed776c3aade9cfe98991af9c639e60cc1c493647302f5e442fe5a6be24aab",
        content_digest="e60cdadce73222ce1c5f24cc3f11ef11589416a2af4c8a059655c1f1b814b89d",
    ),
    "istio-cni": ChartPin(
        "cni",
        _VERSION,
        REPOSITORY,
        _SOURCE,
        digest="65885c62283ad96cf52ac4e7699cbc44f64e661fafe4841f0935f235cf2d7a66",
        content_digest="a0ff8d8d7ec708493f4d89e46908896466ee78ac97b8d0cd6bf41be9c1994ca4",
    ),
    "istio-ingressgateway": ChartPin(
        "gateway",
        _VERSION,
        REPOSITORY,
        _SOURCE,
        digest="73003afda57d5766ceeb3b6aa44f65ce15db5dae979711505e833177f727ea73",
        content_digest="2fe4db01791e8e87c817f5f16d26a5ef67c7251e38e395b022fd483bc1685377",
    ),
}

GATEWAY_SERVICE_ACCOUNT: Final = "istio-ingressgateway"
GATEWAY_LABELS: Final = {"istio": "ingressgateway", "app": "istio-ingressgateway"}


@dataclass(frozen=True)
class IstioArgs:
    namespace: str  # istio-system: istiod, istio-cni, the gateway
    # Namespaces users reach through the mesh: STRICT mTLS for every workload there.
    mesh_namespaces: Sequence[str] = ()


def base_values(args: IstioArgs) -> Values:
    return {"defaultRevision": "default", "global": {"istioNamespace": args.namespace}}


def istiod_values(args: IstioArgs) -> Values:
    return {
        "global": {
            "istioNamespace": args.namespace,
            "logAsJson": True,
            "proxy": {
                "resources": resources("50m", "128Mi", "500m", "256Mi"),
                "holdApplicationUntilProxyStarts": True,
            },
        },
        "pilot": {
            "nodeSelector": general_pool(),
            "resources": resources("200m", "512Mi", "1", "1Gi"),
            "autoscaleMin": 1,
            "env": {"ENABLE_NATIVE_SIDECARS": "true"},
            # The CNI node agent redirects traffic: no istio-init with NET_ADMIN.
            "cni": {"enabled": True},
        },
        "meshConfig": {
            "enablePrometheusMerge": True,
            "accessLogFile": "/dev/stdout",
            "outboundTrafficPolicy": {"mode": "ALLOW_ANY"},
        },
        # Injection only where a namespace opts in with istio-injection=enabled.
        "sidecarInjectorWebhook": {"enableNamespacesByDefault": False},
    }


def cni_values(args: IstioArgs) -> Values:
    """The node agent: runs on every node (GPU nodes too: their pods need redirection)."""
    return {
        "cniBinDir": "/opt/cni/bin",
        "cniConfDir": "/etc/cni/net.d",
        "chained": True,
        "excludeNamespaces": ["kube-system", args.namespace],
        "resources": resources("50m", "100Mi", "200m", "200Mi"),
        "seccompProfile": {"type": "RuntimeDefault"},
        "global": {"logAsJson": True},
    }


def gateway_values(args: IstioArgs) -> Values:
    return {
        "name": GATEWAY_SERVICE_ACCOUNT,
        "labels": dict(GATEWAY_LABELS),
        "serviceAccount": {"create": False, "name": GATEWAY_SERVICE_ACCOUNT},
        "nodeSelector": general_pool(),
        "resources": resources("100m", "128Mi", "1", "512Mi"),
        "securityContext": POD_SECURITY_CONTEXT,
        "containerSecurityContext": CONTAINER_SECURITY_CONTEXT,
        "service": {
            "type": "LoadBalancer",
            # An internal NLB: the platform is reached from the VPC (VPN), not the internet.
            "annotations": {
                "service.beta.kubernetes.io/aws-load-balancer-type": "external",
                "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
                "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
            },
        },
    }


def peer_authentication(namespace: str) -> dict[str, Any]:
    """STRICT mTLS for every workload of a mesh namespace."""
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {"mtls": {"mode": "STRICT"}},
    }


class Istio(PlatformService):
    def __init__(
        self, name: str, args: IstioArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:istio:Istio", name, opts)
        ns = args.namespace
        base = self.release("istio-base", CHARTS["istio-base"], ns, base_values(args))
        cni = self.release("istio-cni", CHARTS["istio-cni"], ns, cni_values(args), [base])
        istiod = self.release("istiod", CHARTS["istiod"], ns, istiod_values(args), [base, cni])
        gateway_account = self.service_account(ns, GATEWAY_SERVICE_ACCOUNT)
        self.gateway = self.release(
            "istio-ingressgateway",
            CHARTS["istio-ingressgateway"],
            ns,
            gateway_values(args),
            [istiod, gateway_account],
        )
        for mesh_ns in args.mesh_namespaces:
            self.custom_resource(
                f"peer-authentication-{mesh_ns}", peer_authentication(mesh_ns), [base]
            )
        self.register_outputs({"releases": sorted(self.releases)})
