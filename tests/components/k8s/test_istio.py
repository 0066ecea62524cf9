"""Istio: the mesh (base, cni, istiod) and its gateway, each in its own namespace.

The mesh's values and order, STRICT mTLS in the mesh namespaces, REGISTRY_ONLY egress
with the external hosts the workloads use; the gateway in its injected namespace with
the ports its load balancer and NetworkPolicy agree on.
"""

from __future__ import annotations

import pulumi
import pytest

from components.k8s import istio
from components.k8s.tenancy import network_policies
from tests.conftest import Plan, build_service, service_accounts
from tests.types import HELM_RELEASE, NAMESPACE, PEER_AUTHENTICATION

GENERAL = {"mlops-platform.io/pool": "general"}
SERVICE_ENTRY = "kubernetes:networking.istio.io/v1:ServiceEntry"
ARGS = istio.IstioArgs(
    namespace="istio-system",
    cni_namespace="istio-cni",
    mesh_namespaces=["mlops", "mlflow"],
    region="eu-west-1",
    databases={"mlflow": ("mlflow.abc.eu-west-1.rds.amazonaws.com", 5432)},
)
GATEWAY = istio.IstioGatewayArgs(namespace="istio-ingress", istio_namespace="istio-system")


def _after_a_namespace(component):  # type: ignore[no-untyped-def]
    def factory(opts: pulumi.ResourceOptions) -> None:
        ns = pulumi.CustomResource(NAMESPACE, "ns", {}, opts=opts)
        component(pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[ns])))

    return factory


@pytest.fixture(scope="module")
def mesh() -> Plan:
    return build_service(_after_a_namespace(lambda opts: istio.Istio("istio", ARGS, opts)))


@pytest.fixture(scope="module")
def gateway() -> Plan:
    return build_service(
        _after_a_namespace(lambda opts: istio.IstioGateway("istio-gateway", GATEWAY, opts))
    )


def test_istiod_native_sidecars_with_cni_merged_metrics_and_seccomp() -> None:
    values = istio.istiod_values(ARGS)
    assert values["env"] == {"ENABLE_NATIVE_SIDECARS": "true"}
    assert values["cni"] == {"enabled": True}
    assert values["nodeSelector"] == GENERAL
    assert values["meshConfig"]["enablePrometheusMerge"] is True
    assert values["sidecarInjectorWebhook"] == {"enableNamespacesByDefault": False}
    assert values["global"]["istioNamespace"] == "istio-system"
    # Injected sidecars carry RuntimeDefault: restricted namespaces admit the pods.
    assert values["global"]["proxy"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "holdApplicationUntilProxyStarts" not in values["global"]["proxy"]
    # One cluster: no reader ClusterRole (it reads every Secret).
    assert values["global"]["enableReaderRBAC"] is False


def test_the_mesh_forwards_only_to_registered_hosts() -> None:
    assert istio.istiod_values(ARGS)["meshConfig"]["outboundTrafficPolicy"] == {
        "mode": "REGISTRY_ONLY"
    }
    entry = istio.aws_service_entry("istio-system", "eu-west-1")
    assert entry["spec"]["hosts"] == [
        "s3.eu-west-1.amazonaws.com",
        "*.s3.eu-west-1.amazonaws.com",
        "sts.eu-west-1.amazonaws.com",
    ]
    assert entry["spec"]["ports"] == [{"number": 443, "name": "tls", "protocol": "TLS"}]
    assert (entry["spec"]["location"], entry["spec"]["resolution"]) == ("MESH_EXTERNAL", "NONE")


def test_cni_runs_in_its_own_namespace_on_every_node() -> None:
    cni = istio.cni_values(ARGS)
    assert cni["excludeNamespaces"] == ["kube-system", "istio-system", "istio-cni"]
    assert "nodeSelector" not in cni
    assert cni["seccompProfile"] == {"type": "RuntimeDefault"}


def test_the_gateway_ports_agree_with_its_load_balancer_and_policy() -> None:
    values = istio.gateway_values(GATEWAY)
    assert values["serviceAccount"] == {"create": False, "name": "istio-ingressgateway"}
    assert values["nodeSelector"] == GENERAL
    (port,) = values["service"]["ports"]
    assert (port["port"], port["targetPort"]) == (443, 443)
    annotations = values["service"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-healthcheck-port"] == "15021"
    # The NetworkPolicy admits the same listener and health-check ports.
    assert (network_policies.GATEWAY_PORT, network_policies.GATEWAY_HEALTH_PORT) == (443, 15021)
    # The chart's sysctl is kept: the non-root gateway binds 443.
    assert {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"} in values[
        "securityContext"
    ]["sysctls"]
    assert values["containerSecurityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert values["labels"]["istio"] == "ingressgateway"


def test_peer_authentication_is_strict() -> None:
    assert istio.peer_authentication("mlops") == {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "mlops"},
        "spec": {"mtls": {"mode": "STRICT"}},
    }


def test_mesh_releases_in_order(mesh: Plan) -> None:
    releases = {r.inputs["name"]: r for r in mesh.by_type(HELM_RELEASE)}
    assert sorted(releases) == ["istio-base", "istio-cni", "istiod"]
    namespaces = {name: r.inputs["namespace"] for name, r in releases.items()}
    assert namespaces == {
        "istio-base": "istio-system",
        "istio-cni": "istio-cni",
        "istiod": "istio-system",
    }
    for name, release in releases.items():
        pin = istio.CHARTS[name]
        assert (release.inputs["chart"], release.inputs["version"]) == (pin.chart, pin.version)
        assert release.inputs["repositoryOpts"] == {"repo": istio.REPOSITORY}
    deps = {name: set(r.dependencies) for name, r in releases.items()}
    assert releases["istio-base"].urn in deps["istio-cni"]
    assert {releases["istio-base"].urn, releases["istio-cni"].urn} <= deps["istiod"]


def test_every_child_waits_for_what_the_service_waits_for(mesh: Plan) -> None:
    (ns,) = mesh.by_type(NAMESPACE)
    service = mesh.one("mlops:istio:Istio", "istio")
    children = mesh.children(service)
    # releases, PeerAuthentications, the AWS and database ServiceEntries
    assert len(children) == 3 + 2 + 2
    assert all(ns.urn in c.dependencies for c in children)
    assert all("pulumi:providers:kubernetes::k8s::" in c.provider for c in children)


def test_strict_mtls_in_each_mesh_namespace(mesh: Plan) -> None:
    found = {r.inputs["metadata"]["namespace"]: r for r in mesh.by_type(PEER_AUTHENTICATION)}
    assert sorted(found) == ["mlflow", "mlops"]
    assert all(r.inputs["spec"] == {"mtls": {"mode": "STRICT"}} for r in found.values())


def test_each_database_is_a_registered_host_on_its_port(mesh: Plan) -> None:
    entries = {r.inputs["metadata"]["name"]: r.inputs for r in mesh.by_type(SERVICE_ENTRY)}
    assert sorted(entries) == ["aws-apis", "database-mlflow"]
    db = entries["database-mlflow"]["spec"]
    assert db["hosts"] == ["mlflow.abc.eu-west-1.rds.amazonaws.com"]
    assert db["ports"] == [{"number": 5432, "name": "tcp-mlflow", "protocol": "TCP"}]
    assert (db["location"], db["resolution"]) == ("MESH_EXTERNAL", "DNS")


def test_the_gateway_is_its_own_service_in_its_own_namespace(gateway: Plan) -> None:
    (release,) = gateway.by_type(HELM_RELEASE)
    assert release.inputs["name"] == "istio-ingressgateway"
    assert release.inputs["namespace"] == "istio-ingress"
    account = service_accounts(gateway)["istio-ingress/istio-ingressgateway"]
    assert account.urn in release.dependencies
