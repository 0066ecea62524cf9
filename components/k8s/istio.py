"""Istio: base, istio-cni, istiod and the ingress gateway, with STRICT mTLS in the mesh.

istio-cni sets up each pod's traffic redirection from the node, and native
sidecars (the proxy as a restartable init container) start before and stop
after the application: application pods need neither NET_ADMIN nor an init
container with privileges (docs/decisions/0011-istio-without-privileged-workloads.md).
STRICT mTLS in the namespaces users reach; Prometheus scrapes through the merged
metrics port (15020), which stays plaintext.

The mesh's outbound policy is REGISTRY_ONLY: a sidecar forwards only to Services of the
cluster and to the external hosts of `mesh_external_services` (S3 and STS in the
stack's region, the platform's databases), so a compromised workload cannot reach the
rest of the internet through its 443 egress (the NetworkPolicy there admits AWS's
public ranges, which no policy can name more narrowly).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi

from components.k8s.aws_load_balancer_controller import SERVICE_ANNOTATIONS
from components.k8s.charts import ChartPin, KubernetesRange
from components.k8s.platform_service import PlatformService
from components.k8s.pods import (
    CONTAINER_SECURITY_CONTEXT,
    POD_SECURITY_CONTEXT,
    Values,
    general_pool,
    resources,
)

REPOSITORY: Final = "https://istio-release.storage.googleapis.com/charts"
_VERSION: Final = "1.30.3"  # the newest Istio line that supports Kubernetes 1.36
_SOURCE: Final = "istio/istio manifests/charts at 1.30.3 (istio/release-builder release-1.30)"
_KUBERNETES: Final = KubernetesRange(
    "1.32",
    "1.36",
    "Istio 1.30.0 release announcement: supported on Kubernetes 1.32 to 1.36 "
    "(istio.io/latest/news/releases/1.30.x/announcing-1.30/)",
)

CHARTS: Final = {
    "istio-base": ChartPin(
        "base",
        _VERSION,
        REPOSITORY,
        _SOURCE,
        digest="d51bac7d1fcfae117a005a278e431c16b62927ad7722fcae1c0889d0fb98c286",
        content_digest="1d86c6f459802c9324c7af46b511ad143770551024765e79de9cdb74d82fcfcc",
        kubernetes=_KUBERNETES,
    ),
    "istiod": ChartPin(
        "istiod",
        _VERSION,
        REPOSITORY,
        _SOURCE,
        digest="55d6661f4cfc6472319dc9a0ae1edb889c833feb5249de100e041964301222b7",
        content_digest="05860c0d38219b50fce08228bd33976da423f6d399846ea4aa816ff8747a3df0",
        kubernetes=_KUBERNETES,
    ),
    "istio-cni": ChartPin(
        "cni",
        _VERSION,
        REPOSITORY,
        _SOURCE,
        digest="4a0a393acc46b7a189661895000f1e9f65f167fb937357504dd718374d18088f",
        content_digest="e24e16493c68d55bd0e3f56c6aa3d413c9c6a183bda7878d1d9ebf984866cb90",
        kubernetes=_KUBERNETES,
    ),
}
GATEWAY_CHARTS: Final = {
    "istio-ingressgateway": ChartPin(
        "gateway",
        _VERSION,
        REPOSITORY,
        _SOURCE,
        digest="34cf5cf9f5bd17a738e1f5d0aadaa3c7fbacff4f04a7d3bfa092c70f22b3becd",
        content_digest="2481a51de9b0a50d419acc349397d8c04d8ff08531f99eaeffdcbe22ee71a4f7",
        kubernetes=_KUBERNETES,
    ),
}

GATEWAY_SERVICE_ACCOUNT: Final = "istio-ingressgateway"
GATEWAY_LABELS: Final = {"istio": "ingressgateway", "app": "istio-ingressgateway"}


GATEWAY_HTTPS_PORT: Final = 443  # the gateway's listener (binds below 1024: see the sysctl)
GATEWAY_STATUS_PORT: Final = 15021  # /healthz/ready, the NLB's health check


@dataclass(frozen=True)
class IstioArgs:
    namespace: str  # istio-system: istiod (and the base chart's cluster-wide objects)
    cni_namespace: str  # istio-cni: the CNI node agent, the only part that needs the host
    # Injected namespaces: STRICT mTLS for every workload there (the gateway's own
    # listeners take plain TLS from clients; PeerAuthentication governs sidecars).
    mesh_namespaces: Sequence[str] = ()
    region: str = "us-east-1"  # the AWS endpoints the mesh may reach are this region's
    # Databases the mesh's workloads use: name -> (host, TCP port).
    databases: Mapping[str, tuple[pulumi.Input[str], int]] = field(default_factory=dict)


@dataclass(frozen=True)
class IstioGatewayArgs:
    namespace: str  # istio-ingress: injected, restricted
    istio_namespace: str  # where istiod runs


def base_values(args: IstioArgs) -> Values:
    return {"defaultRevision": "default", "global": {"istioNamespace": args.namespace}}


def istiod_values(args: IstioArgs) -> Values:
    return {
        "global": {
            "istioNamespace": args.namespace,
            "logAsJson": True,
            # One cluster: no istio-reader ClusterRole (it reads every Secret, for the
            # multicluster remote-secret workflow only).
            "enableReaderRBAC": False,
            "proxy": {
                "resources": resources("50m", "128Mi", "500m", "256Mi"),
                # Injected sidecars carry the RuntimeDefault profile, as `restricted` demands.
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        },
        # (Top-level keys: the chart still copies a legacy `pilot:` block onto them.)
        "nodeSelector": general_pool(),
        "resources": resources("200m", "512Mi", "1", "1Gi"),
        "autoscaleMin": 1,
        "seccompProfile": {"type": "RuntimeDefault"},
        # Native sidecars: the proxy starts before and stops after the application, so
        # `holdApplicationUntilProxyStarts` (deprecated with them) is not needed.
        "env": {"ENABLE_NATIVE_SIDECARS": "true"},
        # The CNI node agent redirects traffic: no istio-init with NET_ADMIN.
        "cni": {"enabled": True},
        "meshConfig": {
            "enablePrometheusMerge": True,
            "accessLogFile": "/dev/stdout",
            # Only the cluster's Services and the ServiceEntries below.
            "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
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
        "excludeNamespaces": ["kube-system", args.namespace, args.cni_namespace],
        "resources": resources("50m", "100Mi", "200m", "200Mi"),
        "seccompProfile": {"type": "RuntimeDefault"},
        "global": {"logAsJson": True},
    }


def gateway_values(args: IstioGatewayArgs) -> Values:
    return {
        "name": GATEWAY_SERVICE_ACCOUNT,
        "labels": dict(GATEWAY_LABELS),
        "serviceAccount": {"create": False, "name": GATEWAY_SERVICE_ACCOUNT},
        "nodeSelector": general_pool(),
        "resources": resources("100m", "128Mi", "1", "512Mi"),
        # The chart's own default, kept: a non-root gateway binds 443 only with this
        # (a "safe" sysctl, allowed by `restricted`).
        "securityContext": {
            **POD_SECURITY_CONTEXT,
            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
        },
        "containerSecurityContext": CONTAINER_SECURITY_CONTEXT,
        "service": {
            "type": "LoadBalancer",
            # TLS only: the gateway terminates it (cert-manager's certificates).
            "ports": [
                {
                    "name": "https",
                    "port": GATEWAY_HTTPS_PORT,
                    "protocol": "TCP",
                    "targetPort": GATEWAY_HTTPS_PORT,
                }
            ],
            # An internal NLB from the AWS Load Balancer Controller, with IP targets: the
            # platform is reached from the VPC (VPN), not the internet. Its health check
            # reads the gateway's status port directly on each pod.
            "annotations": {
                **SERVICE_ANNOTATIONS,
                "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
                "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port": str(
                    GATEWAY_STATUS_PORT
                ),
                "service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol": "HTTP",
                "service.beta.kubernetes.io/aws-load-balancer-healthcheck-path": "/healthz/ready",
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


def aws_service_entry(namespace: str, region: str) -> dict[str, Any]:
    """S3 (artifacts, models) and STS (IRSA's token exchange), by TLS server name."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": "aws-apis", "namespace": namespace},
        "spec": {
            "hosts": [
                f"s3.{region}.amazonaws.com",
                f"*.s3.{region}.amazonaws.com",
                f"sts.{region}.amazonaws.com",
            ],
            "exportTo": ["*"],
            "location": "MESH_EXTERNAL",
            "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
            # Wildcard hosts: Envoy routes by SNI to the address the client resolved.
            "resolution": "NONE",
        },
    }


def database_service_entry(
    namespace: str, name: str, host: pulumi.Input[str], port: int
) -> dict[str, Any]:
    """One RDS instance (TLS inside the TCP stream: the sidecar forwards it as TCP)."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": f"database-{name}", "namespace": namespace},
        "spec": {
            "hosts": [host],
            "exportTo": ["*"],
            "location": "MESH_EXTERNAL",
            "ports": [{"number": port, "name": f"tcp-{name}", "protocol": "TCP"}],
            "resolution": "DNS",
        },
    }


class Istio(PlatformService):
    """The mesh: base (CRDs), istio-cni, istiod, and STRICT mTLS where users reach."""

    def __init__(
        self, name: str, args: IstioArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:istio:Istio", name, opts)
        ns = args.namespace
        base = self.release("istio-base", CHARTS["istio-base"], ns, base_values(args))
        cni = self.release(
            "istio-cni", CHARTS["istio-cni"], args.cni_namespace, cni_values(args), [base]
        )
        self.release("istiod", CHARTS["istiod"], ns, istiod_values(args), [base, cni])
        for mesh_ns in args.mesh_namespaces:
            self.custom_resource(
                f"peer-authentication-{mesh_ns}", peer_authentication(mesh_ns), [base]
            )
        self.custom_resource("service-entry-aws-apis", aws_service_entry(ns, args.region), [base])
        for db_name, (host, port) in sorted(args.databases.items()):
            entry = database_service_entry(ns, db_name, "", port)
            entry["spec"]["hosts"] = [host]  # the instance's address, known once it exists
            self.custom_resource(f"service-entry-database-{db_name}", entry, [base])
        self.register_outputs({"releases": sorted(self.releases)})


class IstioGateway(PlatformService):
    """The ingress gateway, in its own injected namespace, behind an internal NLB."""

    def __init__(
        self, name: str, args: IstioGatewayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:istio:IstioGateway", name, opts)
        account = self.service_account(args.namespace, GATEWAY_SERVICE_ACCOUNT)
        self.release(
            "istio-ingressgateway",
            GATEWAY_CHARTS["istio-ingressgateway"],
            args.namespace,
            gateway_values(args),
            [account],
        )
        self.register_outputs({"namespace": args.namespace})
