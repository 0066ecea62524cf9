"""The serving flows on the real dev plan (docs/serving.md, "Network flows"), proven by nca:
every one the plan can place is permitted, KEDA's pods reach each other only where needed,
and a policy taken away is a missing flow naming the side to change (about 25 s: slow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from platformctl.checks.addresses import network_from_resources
from platformctl.checks.connectivity import check_connectivity, objects_from_manifests
from tests.platformctl.connectivity.conftest import needs_nca
from tests.platformctl.rendering import needs_shared_charts

pytestmark = [pytest.mark.nca, pytest.mark.slow, needs_nca, needs_shared_charts]

# (source, destination, connections) of the serving flows that have pods at both ends.
PLACED = {
    (
        "keda/keda-operator-metrics-apiserver",
        "keda/keda-operator",
        "TCP 9666",
    ): "KEDA's metrics server asks the operator for scaler values (gRPC)",
    (
        "keda/keda-operator",
        "monitoring/prometheus-kube-prometheus-stack-prometheus",
        "TCP 9090",
    ): "KEDA's Prometheus scalers of the models that ask for KEDA",
    (
        "kubeflow/pipeline-runner (stand-in)",
        "istio-ingress/istio-ingressgateway",
        "TCP 8081",
    ): "pipeline runs call InferenceServices by their host, knative-local-gateway",
    (
        "monitoring/prometheus-kube-prometheus-stack-prometheus",
        "mlops/kserve-model-reader (stand-in)",
        "TCP 15020",
    ): "inference metrics, through the sidecars",
    (
        "kubeflow/pipeline-runner (stand-in)",
        "mlops/kserve-model-reader (stand-in)",
        "TCP 8012,8080",
    ): "pipelines call inference services",
}
# Created by the Knative operator at run time: not in the plan, listed as unresolved.
AT_RUN_TIME = (
    "requests to revisions scaled to zero wait in the activator",
    "the activator proxies to and probes revisions (queue-proxy)",
    "the autoscaler reads revisions' queue-proxy metrics",
    "the activator reports request statistics to the autoscaler (websocket)",
    "autoscaler replicas forward statistics to the bucket's owner",
    "gRPC (h2c) requests to revisions scaled to zero wait in the activator",
    "net-istio probes the gateway pods' listeners before marking an Ingress ready",
)


def _rows(result) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(m["source"], m["destination"], m["connections"]): m for m in result.details["map"]}


@pytest.fixture(scope="module")
def dev(plans) -> tuple[Path, Any]:
    plan_dir = Path(plans["dev"]["dir"])
    import json

    network = network_from_resources(json.loads((plan_dir / "resources.json").read_text()))
    return plan_dir, network


def test_serving_flows_are_permitted_and_a_removed_policy_is_a_missing_flow(
    dev, nca_cache: Path
) -> None:
    """One nca run on the dev plan without KEDA's operator ingress (the defect): that flow is
    missing, naming the side to change; every other serving flow stays permitted."""
    plan_dir, network = dev
    removed = (
        "keda--networkpolicy--allow-ingress-keda-operator-from-keda-operator-metrics-apiserver.yaml"
    )
    everything = objects_from_manifests(plan_dir / "manifests")
    objects = [o for o in everything if o.source != removed]
    assert len(objects) == len(everything) - 1
    result = check_connectivity(objects, network, cache_dir=nca_cache)
    rows = _rows(result)
    grpc = ("keda/keda-operator-metrics-apiserver", "keda/keda-operator", "TCP 9666")
    assert rows[grpc]["status"] == "missing"
    assert any(
        "keda/keda-operator-metrics-apiserver -> keda/keda-operator on TCP 9666" in f.message
        and "the egress admits it, the ingress does not" in f.message
        for f in result.findings
    )
    for key, reason in PLACED.items():
        if key != grpc:
            assert rows[key]["status"] == "needed", key
        assert rows[key]["reason"] == reason
    unresolved = "\n".join(result.details["unresolved"])
    for reason in AT_RUN_TIME:
        assert f"declared flow '{reason}'" in unresolved
    # Between KEDA's own pods nothing is permitted beyond the gRPC the metrics server needs.
    extra = [
        m
        for m in result.details["map"]
        if m["status"] == "extra" and m["source_namespace"] == m["destination_namespace"] == "keda"
    ]
    assert extra == []
