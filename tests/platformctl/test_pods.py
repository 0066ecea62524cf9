"""Pods of the planned objects: quantities, admission defaults, init containers and sidecars,
replicas, the operator's pods and the mesh's proxy."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from platformctl.checks.pods import (
    LimitDefaults,
    QuantityError,
    admitted,
    pod_shapes,
    quantity,
    shown,
)
from tests.platformctl.check_fixtures import (
    container,
    limit_range,
    namespace,
    planned,
    pod_spec,
    urn,
    workload,
)

SOURCE = urn("kubernetes:helm.sh/v3:Release", "release-app")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Decimal("0.1")),
        ("1", Decimal(1)),
        ("0.5", Decimal("0.5")),
        (2, Decimal(2)),
        ("128Mi", Decimal(128 * 2**20)),
        ("1Gi", Decimal(2**30)),
        ("512M", Decimal(512 * 10**6)),
        ("1e3", Decimal(1000)),
        ("12Ki", Decimal(12 * 1024)),
        ("250u", Decimal("0.00025")),
    ],
)
def test_quantities_parse_as_kubernetes_does(text: object, value: Decimal) -> None:
    assert quantity(text) == value


@pytest.mark.parametrize("text", ["", "1.2.3", "10 Mi", "Mi", "1Kb"])
def test_a_bad_quantity_is_one_clear_error(text: str) -> None:
    with pytest.raises(QuantityError, match="is not a Kubernetes quantity"):
        quantity(text)


@given(st.integers(min_value=0, max_value=10**6))
def test_millicores_and_mebibytes_round_trip(n: int) -> None:
    assert quantity(f"{n}m") * 1000 == n
    assert quantity(f"{n}Mi") == n * 2**20
    assert shown("cpu", quantity(f"{n}m")) == f"{n}m"
    assert shown("memory", quantity(f"{n}Mi")) == f"{n}Mi"


DEFAULTS = LimitDefaults(
    "mlops/LimitRange/defaults",
    default_request={"cpu": quantity("100m"), "memory": quantity("128Mi")},
    default_limit={"cpu": quantity("500m"), "memory": quantity("512Mi")},
)


def test_limits_alone_become_the_requests_before_the_limit_range_runs() -> None:
    c = admitted(
        container(cpu=None, memory=None, limits={"cpu": "1", "memory": "1Gi"}), False, DEFAULTS
    )
    assert c.requests == {"cpu": Decimal(1), "memory": Decimal(2**30)}
    assert c.defaulted_requests == () and c.stated_requests


def test_a_container_without_resources_gets_the_limit_range_defaults() -> None:
    c = admitted(container(cpu=None, memory=None), False, DEFAULTS)
    assert c.requests == DEFAULTS.default_request
    assert c.limits == DEFAULTS.default_limit
    assert set(c.defaulted_requests) == {"cpu", "memory"} and not c.stated_requests


def test_a_container_without_resources_and_no_limit_range_requests_nothing() -> None:
    c = admitted(container(cpu=None, memory=None), False, None)
    assert c.requests == {} and c.limits == {}


def _shape(spec: dict[str, Any], **kwargs: Any):
    (shape,) = pod_shapes([planned(workload("Deployment", "app", "mlops", spec, **kwargs), SOURCE)])
    return shape


@pytest.mark.parametrize(
    ("init", "containers", "cpu"),
    [
        ([], [("a", "100m"), ("b", "50m")], 150),  # containers add up
        ([("init", "500m", None)], [("a", "100m")], 500),  # an init container runs alone
        # a native sidecar runs beside the containers and the init containers after it
        ([("proxy", "50m", "Always"), ("init", "200m", None)], [("a", "100m")], 250),
        ([("proxy", "50m", "Always")], [("a", "100m")], 150),
    ],
)
def test_a_pods_request_follows_the_init_container_and_sidecar_rules(
    init: list[tuple[str, str, str | None]], containers: list[tuple[str, str]], cpu: int
) -> None:
    inits = []
    for name, request, restart in init:
        c = container(name, cpu=request)
        if restart:
            c["restartPolicy"] = restart
        inits.append(c)
    spec = pod_spec(containers=[container(n, cpu=r) for n, r in containers], init_containers=inits)
    assert _shape(spec).cpu_millicores == cpu


def test_replicas_come_from_the_spec_or_the_autoscaler_minimum() -> None:
    assert _shape(pod_spec(), replicas=3).replicas == 3
    assert _shape(pod_spec()).replicas == 1
    deployment = workload("Deployment", "istiod", "istio-system", pod_spec())
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "istiod", "namespace": "istio-system"},
        "spec": {
            "minReplicas": 2,
            "maxReplicas": 5,
            "scaleTargetRef": {"kind": "Deployment", "name": "istiod"},
        },
    }
    (shape,) = pod_shapes([planned(deployment, SOURCE), planned(hpa, SOURCE)])
    assert shape.replicas == 2


def _operator(args: list[str]) -> dict[str, Any]:
    image = "quay.io/prometheus-operator/prometheus-operator:v0.86.0"
    return workload(
        "Deployment",
        "operator",
        "monitoring",
        pod_spec(containers=[container(image=image, args=args)]),
    )


def _prometheus() -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": "k8s", "namespace": "monitoring"},
        "spec": {
            "replicas": 2,
            "serviceAccountName": "prometheus",
            "nodeSelector": {"mlops-platform.io/pool": "general"},
            "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}},
        },
    }


def test_prometheus_operator_pods_carry_the_config_reloader_its_flags_size() -> None:
    flags = ["--config-reloader-cpu-request=10m", "--config-reloader-memory-request=50Mi"]
    objects = [planned(_operator(flags), SOURCE), planned(_prometheus(), SOURCE)]
    prometheus = next(s for s in pod_shapes(objects) if s.owner.kind == "Prometheus")
    assert prometheus.replicas == 2
    assert prometheus.service_account == "prometheus"
    assert prometheus.cpu_millicores == 510
    assert round(prometheus.memory_mib) == 2048 + 50
    assert [c.name for c in prometheus.containers] == [
        "init-config-reloader",
        "prometheus",
        "config-reloader",
    ]


def test_a_zero_reloader_flag_sets_no_request() -> None:
    flags = ["--config-reloader-cpu-request=0", "--config-reloader-memory-request=0"]
    objects = [planned(_operator(flags), SOURCE), planned(_prometheus(), SOURCE)]
    prometheus = next(s for s in pod_shapes(objects) if s.owner.kind == "Prometheus")
    reloader = next(c for c in prometheus.containers if c.name == "config-reloader")
    assert reloader.requests == {} and not reloader.stated_requests


def test_custom_resources_make_no_pods_without_their_operator() -> None:
    assert pod_shapes([planned(_prometheus(), SOURCE)]) == []


def _injector(native: bool = True) -> list[Any]:
    values = {"global": {"proxy": {"resources": {"requests": {"cpu": "50m", "memory": "128Mi"}}}}}
    istiod = workload(
        "Deployment",
        "istiod",
        "istio-system",
        pod_spec(
            containers=[
                {
                    **container(),
                    "env": [{"name": "ENABLE_NATIVE_SIDECARS", "value": str(native).lower()}],
                }
            ]
        ),
    )
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
        "data": {"values": json.dumps(values), "config": ""},
    }
    return [planned(istiod, SOURCE), planned(config, SOURCE)]


def test_the_mesh_adds_its_proxy_in_injected_namespaces() -> None:
    app = planned(workload("Deployment", "app", "mlops", pod_spec()), SOURCE)
    injected = planned(namespace("mlops", {"istio-injection": "enabled"}), SOURCE)
    shapes = {s.ref: s for s in pod_shapes([*_injector(), injected, app])}
    shape = shapes["mlops/Deployment/app"]
    assert shape.injected == ("istio-proxy",)
    assert shape.cpu_millicores == 150  # 100m + the proxy's 50m
    proxy = next(c for c in shape.containers if c.name == "istio-proxy")
    assert proxy.init and proxy.sidecar


@pytest.mark.parametrize(
    ("labels", "pod_labels", "host_network"),
    [
        ({"istio-injection": "disabled"}, {}, False),
        ({"istio-injection": "enabled"}, {"sidecar.istio.io/inject": "false"}, False),
        ({"istio-injection": "enabled"}, {}, True),
    ],
)
def test_the_mesh_adds_nothing_where_injection_is_off(
    labels: dict[str, str], pod_labels: dict[str, str], host_network: bool
) -> None:
    manifest = workload("Deployment", "app", "mlops", pod_spec())
    manifest["spec"]["template"]["metadata"]["labels"].update(pod_labels)
    manifest["spec"]["template"]["spec"]["hostNetwork"] = host_network
    objects = [*_injector(), planned(namespace("mlops", labels), SOURCE), planned(manifest, SOURCE)]
    shape = next(s for s in pod_shapes(objects) if s.ref == "mlops/Deployment/app")
    assert shape.injected == () and shape.cpu_millicores == 100


def test_limit_range_defaults_apply_in_their_namespace_only() -> None:
    bare = pod_spec(containers=[container(cpu=None, memory=None)])
    objects = [
        planned(limit_range("monitoring"), SOURCE),
        planned(workload("Deployment", "a", "monitoring", bare), SOURCE),
        planned(workload("Deployment", "b", "other", bare), SOURCE),
    ]
    shapes = {s.owner.name: s for s in pod_shapes(objects)}
    assert shapes["a"].cpu_millicores == 100 and round(shapes["a"].memory_mib) == 128
    assert shapes["b"].cpu_millicores == 0
