"""Istio: values of its four charts, their order, STRICT mTLS in the mesh namespaces."""

from __future__ import annotations

import pulumi
import pytest

from components.k8s import istio
from tests.conftest import Plan, build_service, service_accounts
from tests.types import HELM_RELEASE, NAMESPACE, PEER_AUTHENTICATION

GENERAL = {"mlops-platform.io/pool": "general"}
ARGS = istio.IstioArgs(namespace="istio-system", mesh_namespaces=["mlops", "mlflow"])


@pytest.fixture(scope="module")
def mesh() -> Plan:
    def factory(opts: pulumi.ResourceOptions) -> None:
        ns = pulumi.CustomResource(NAMESPACE, "ns-istio", {}, opts=opts)
        istio.Istio(
            "istio",
            ARGS,
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[ns])),
        )

    return build_service(factory)


def test_istiod_native_sidecars_with_cni_and_merged_metrics() -> None:
    values = istio.istiod_values(ARGS)
    assert values["pilot"]["env"] == {"ENABLE_NATIVE_SIDECARS": "true"}
    assert values["pilot"]["cni"] == {"enabled": True}
    assert values["pilot"]["nodeSelector"] == GENERAL
    assert values["meshConfig"]["enablePrometheusMerge"] is True
    assert values["sidecarInjectorWebhook"] == {"enableNamespacesByDefault": False}
    assert values["global"]["istioNamespace"] == "istio-system"


def test_istio_cni_and_gateway() -> None:
    cni = istio.cni_values(ARGS)
    assert cni["excludeNamespaces"] == ["kube-system", "istio-system"]
    assert "nodeSelector" not in cni  # a node agent: every node
    gateway = istio.gateway_values(ARGS)
    assert gateway["serviceAccount"] == {"create": False, "name": "istio-ingressgateway"}
    assert gateway["nodeSelector"] == GENERAL
    assert (
        gateway["service"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-scheme"]
        == "internal"
    )
    assert gateway["containerSecurityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_peer_authentication_is_strict() -> None:
    assert istio.peer_authentication("mlops") == {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "mlops"},
        "spec": {"mtls": {"mode": "STRICT"}},
    }


def test_releases_in_order(mesh: Plan) -> None:
    releases = {r.inputs["name"]: r for r in mesh.by_type(HELM_RELEASE)}
    assert sorted(releases) == ["istio-base", "istio-cni", "istio-ingressgateway", "istiod"]
    for name, release in releases.items():
        pin = istio.CHARTS[name]
        assert (release.inputs["chart"], release.inputs["version"]) == (pin.chart, pin.version)
        assert release.inputs["repositoryOpts"] == {"repo": istio.REPOSITORY}
        assert release.inputs["namespace"] == "istio-system"
        assert release.name == f"release-{name}"
    deps = {name: set(r.dependencies) for name, r in releases.items()}
    assert releases["istio-base"].urn in deps["istio-cni"]
    assert {releases["istio-base"].urn, releases["istio-cni"].urn} <= deps["istiod"]
    assert releases["istiod"].urn in deps["istio-ingressgateway"]
    gateway_sa = service_accounts(mesh)["istio-system/istio-ingressgateway"]
    assert gateway_sa.urn in deps["istio-ingressgateway"]


def test_every_child_waits_for_what_the_service_waits_for(mesh: Plan) -> None:
    (ns,) = mesh.by_type(NAMESPACE)
    service = mesh.one("mlops:istio:Istio", "istio")
    children = mesh.children(service)
    assert len(children) == 4 + 1 + 2  # releases, the gateway's account, PeerAuthentications
    assert all(ns.urn in c.dependencies for c in children)
    assert all("pulumi:providers:kubernetes::k8s::" in c.provider for c in children)


def test_strict_mtls_in_each_mesh_namespace(mesh: Plan) -> None:
    found = {r.inputs["metadata"]["namespace"]: r for r in mesh.by_type(PEER_AUTHENTICATION)}
    assert sorted(found) == ["mlflow", "mlops"]
    assert all(r.inputs["spec"] == {"mtls": {"mode": "STRICT"}} for r in found.values())
