"""The mesh check: what the Istio injector makes of a pod is what its namespace admits."""

from __future__ import annotations

import json
from typing import Any

from platformctl.checks.mesh import check_mesh
from tests.platformctl.check_fixtures import (
    container,
    context,
    namespace,
    planned,
    pod_spec,
    urn,
    workload,
)

SOURCE = urn("kubernetes:helm.sh/v4:Chart", "release-app")
RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}


def _injector(**proxy: Any) -> dict[str, Any]:
    values = {"global": {"proxy": {"resources": {"requests": {"cpu": "10m"}}, **proxy}}}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
        "data": {"values": json.dumps(values)},
    }


def _gateway(ns: str) -> dict[str, Any]:
    proxy = container("istio-proxy", image="auto")
    return workload("Deployment", "gateway", ns, pod_spec(containers=[proxy]))


def _check(*manifests: dict[str, Any]):  # type: ignore[no-untyped-def]
    return check_mesh([planned(m, SOURCE) for m in manifests], [], context())


def test_a_gateway_in_an_injected_restricted_namespace_passes() -> None:
    result = _check(
        _injector(seccompProfile={"type": "RuntimeDefault"}),
        namespace("istio-ingress", {"istio-injection": "enabled", **RESTRICTED}),
        _gateway("istio-ingress"),
        namespace("mlops", {"istio-injection": "enabled", **RESTRICTED}),
        workload("Deployment", "app", "mlops", pod_spec()),
    )
    assert result.ok and result.mandatory and result.evaluated == 2


def test_the_gateway_in_a_namespace_without_injection_never_starts() -> None:
    """Issue 10 item 4: the gateway chart's pod in istio-system (injection disabled)."""
    result = _check(
        _injector(seccompProfile={"type": "RuntimeDefault"}),
        namespace("istio-system", {"istio-injection": "disabled", **RESTRICTED}),
        _gateway("istio-system"),
    )
    [finding] = result.findings
    assert finding.subject == "istio-system/Deployment/gateway"
    assert "image 'auto', which only the Istio injector replaces" in finding.message
    assert "(istio-injection is 'disabled')" in finding.message


def test_a_pod_that_asks_for_injection_is_injected() -> None:
    gateway = _gateway("istio-system")
    gateway["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] = "true"
    result = _check(
        _injector(seccompProfile={"type": "RuntimeDefault"}),
        namespace("istio-system", RESTRICTED),
        gateway,
    )
    assert result.ok


def test_a_proxy_without_seccomp_is_rejected_by_restricted_namespaces() -> None:
    """Issue 10 item 20: global.proxy.seccompProfile unset: restricted rejects injected pods."""
    result = _check(
        _injector(),
        namespace("mlops", {"istio-injection": "enabled", **RESTRICTED}),
        workload("Deployment", "app", "mlops", pod_spec()),
        namespace("monitoring", {"pod-security.kubernetes.io/enforce": "baseline"}),
        workload("Deployment", "agent", "monitoring", pod_spec()),
    )
    [finding] = result.findings
    assert finding.subject == "istio-system/ConfigMap/istio-sidecar-injector"
    assert finding.message == (
        "The injected istio-proxy has no seccompProfile (global.proxy.seccompProfile: "
        "{type: RuntimeDefault}): Pod Security 'restricted' rejects every injected pod of mlops."
    )


def test_a_privileged_proxy_is_rejected_too() -> None:
    result = _check(
        _injector(seccompProfile={"type": "RuntimeDefault"}, privileged=True),
        namespace("mlops", {"istio-injection": "enabled", **RESTRICTED}),
        workload("Deployment", "app", "mlops", pod_spec()),
    )
    [finding] = result.findings
    assert "a privileged container (global.proxy.privileged)" in finding.message


def test_pods_opting_out_are_not_injected() -> None:
    app = workload("Deployment", "job", "mlops", pod_spec())
    app["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] = "false"
    result = _check(
        _injector(),
        namespace("mlops", {"istio-injection": "enabled", **RESTRICTED}),
        app,
    )
    assert result.ok
