"""Istio: base, istiod, istio-cni and the ingress gateway (DESIGN.md decision 11).

istio-cni sets up each pod's traffic redirection from the node, and native
sidecars (the proxy as a restartable init container) start before and stop
after the application: application pods need neither NET_ADMIN nor an init
container with privileges. STRICT mTLS in the namespaces users reach; Prometheus
scrapes through the merged metrics port (15020), which stays plaintext.
"""

from __future__ import annotations

from typing import Any, Final

from components.k8s.context import ServiceContext
from components.k8s.pods import (
    CONTAINER_SECURITY_CONTEXT,
    POD_SECURITY_CONTEXT,
    Values,
    general_pool,
    resources,
)

GATEWAY_SERVICE_ACCOUNT: Final = "istio-ingressgateway"
GATEWAY_LABELS: Final = {"istio": "ingressgateway", "app": "istio-ingressgateway"}


def base_values(ctx: ServiceContext) -> Values:
    return {"defaultRevision": "default", "global": {"istioNamespace": ctx.ns("istio")}}


def istiod_values(ctx: ServiceContext) -> Values:
    return {
        "global": {
            "istioNamespace": ctx.ns("istio"),
            "logAsJson": True,
            "proxy": {
                "resources": resources("50m", "128Mi", "500m", "256Mi"),
                "holdApplicationUntilProxyStarts": True,
            },
        },
        "pilot": {
            "nodeSelector": general_pool(ctx.contract),
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


def cni_values(ctx: ServiceContext) -> Values:
    """The node agent: runs on every node (GPU nodes too: their pods need redirection)."""
    return {
        "cniBinDir": "/opt/cni/bin",
        "cniConfDir": "/etc/cni/net.d",
        "chained": True,
        "excludeNamespaces": ["kube-system", ctx.ns("istio")],
        "resources": resources("50m", "100Mi", "200m", "200Mi"),
        "seccompProfile": {"type": "RuntimeDefault"},
        "global": {"logAsJson": True},
    }


def gateway_values(ctx: ServiceContext) -> Values:
    return {
        "name": GATEWAY_SERVICE_ACCOUNT,
        "labels": dict(GATEWAY_LABELS),
        "serviceAccount": {"create": False, "name": GATEWAY_SERVICE_ACCOUNT},
        "nodeSelector": general_pool(ctx.contract),
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
