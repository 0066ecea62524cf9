"""The cluster the planned objects describe: workloads, stand-ins, EKS's parts, ClusterIPs."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from platformctl.checks import PlannedObject
from platformctl.checks.cluster import build_cluster
from tests.platformctl.connectivity.conftest import NETWORK, objects

POD_SPEC = {
    "containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "name": "http"}]}]
}
TEMPLATE = {"metadata": {"labels": {"app": "x"}}, "spec": POD_SPEC}


def planned(
    kind: str, body: dict[str, Any], api_version: str = "apps/v1", ns: str = "app"
) -> PlannedObject:
    return PlannedObject(
        {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": "x", "namespace": ns},
            **body,
        },
        "urn:x",
    )


@pytest.mark.parametrize(
    ("kind", "api_version", "body"),
    [
        (
            "Pod",
            "v1",
            {
                "metadata": {"name": "x", "namespace": "app", "labels": {"app": "x"}},
                "spec": POD_SPEC,
            },
        ),
        ("Deployment", "apps/v1", {"spec": {"template": TEMPLATE}}),
        ("StatefulSet", "apps/v1", {"spec": {"template": TEMPLATE}}),
        ("DaemonSet", "apps/v1", {"spec": {"template": TEMPLATE}}),
        ("ReplicaSet", "apps/v1", {"spec": {"template": TEMPLATE}}),
        ("Job", "batch/v1", {"spec": {"template": TEMPLATE}}),
        ("CronJob", "batch/v1", {"spec": {"jobTemplate": {"spec": {"template": TEMPLATE}}}}),
    ],
)
def test_one_workload_per_pod_template(kind: str, api_version: str, body: dict[str, Any]) -> None:
    cluster = build_cluster([planned(kind, body, api_version)], NETWORK)
    ours = [w for w in cluster.workloads if not w.cluster_part]
    assert [
        (w.namespace, w.name, w.kind, w.label_map, [p.number for p in w.ports]) for w in ours
    ] == [("app", "x", kind, {"app": "x"}, [80])]


def test_native_sidecars_listen_and_host_network_pods_are_not_policed() -> None:
    spec = {
        "hostNetwork": True,
        "containers": [{"name": "c", "image": "x"}],
        "initContainers": [
            {
                "name": "proxy",
                "image": "x",
                "restartPolicy": "Always",
                "ports": [{"containerPort": 15090}],
            },
            {"name": "init", "image": "x", "ports": [{"containerPort": 1}]},
        ],
    }
    cluster = build_cluster([planned("DaemonSet", {"spec": {"template": {"spec": spec}}})], NETWORK)
    agent = next(w for w in cluster.workloads if w.name == "x")
    assert [p.number for p in agent.ports] == [15090]
    assert agent.host_network
    assert agent not in cluster.analysed


def test_operator_pods_of_prometheus_and_alertmanager() -> None:
    prometheus = PlannedObject(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "Prometheus",
            "metadata": {"name": "k8s", "namespace": "monitoring"},
            "spec": {"serviceAccountName": "prom", "podMetadata": {"labels": {"team": "a"}}},
        },
        "urn:p",
    )
    alertmanager = PlannedObject(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "Alertmanager",
            "metadata": {"name": "main", "namespace": "monitoring"},
        },
        "urn:a",
    )
    cluster = build_cluster([prometheus, alertmanager], NETWORK)
    prom = next(w for w in cluster.workloads if w.name == "prometheus-k8s")
    assert prom.label_map == {
        "app.kubernetes.io/instance": "k8s",
        "app.kubernetes.io/managed-by": "prometheus-operator",
        "app.kubernetes.io/name": "prometheus",
        "operator.prometheus.io/name": "k8s",
        "operator.prometheus.io/shard": "0",
        "prometheus": "k8s",
        "team": "a",
    }
    assert prom.service_account == "prom"
    assert {(p.number, p.name) for p in prom.ports} == {(9090, "web"), (8080, "reloader-web")}
    am = next(w for w in cluster.workloads if w.name == "alertmanager-main")
    assert am.label_map["alertmanager"] == "main"
    assert {(p.number, p.protocol) for p in am.ports} >= {
        (9093, "TCP"),
        (9094, "TCP"),
        (9094, "UDP"),
    }


def test_stand_ins_for_service_accounts_no_pod_runs_under() -> None:
    cluster = build_cluster(objects(), NETWORK)
    assert [w.display for w in cluster.workloads if w.stand_in] == []
    extra = [
        PlannedObject(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "runner", "namespace": "app"},
            },
            "urn:sa",
        ),
        PlannedObject(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "quiet", "namespace": "app"},
                "automountServiceAccountToken": False,
            },
            "urn:sa2",
        ),
        PlannedObject(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": "app"},
            },
            "urn:d",
        ),
    ]
    cluster = build_cluster([*objects(), *extra], NETWORK)
    stand_ins = {w.name: w for w in cluster.workloads if w.stand_in}
    assert sorted(stand_ins) == ["quiet", "runner"]
    assert stand_ins["runner"].api_token
    assert not stand_ins["quiet"].api_token
    assert stand_ins["runner"].labels == ()  # only namespace-wide policies apply


def test_what_eks_adds() -> None:
    cluster = build_cluster([], NETWORK)
    assert {w.ref for w in cluster.workloads} == {
        "kube-system/Deployment/coredns",
        "kube-system/DaemonSet/kube-proxy",
        "kube-system/DaemonSet/aws-node",
    }
    assert cluster.service("default", "kubernetes").cluster_ip == "172.20.0.1"
    assert cluster.service("kube-system", "kube-dns").cluster_ip == "172.20.0.10"
    assert cluster.namespaces["kube-system"] == {"kubernetes.io/metadata.name": "kube-system"}


def test_cluster_ips_are_stable_distinct_and_inside_the_service_cidr() -> None:
    services = [
        PlannedObject(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"s{i}", "namespace": "app"},
                "spec": {"ports": [{"port": 80}]},
            },
            "urn",
        )
        for i in range(200)
    ]
    headless = PlannedObject(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "h", "namespace": "app"},
            "spec": {"clusterIP": "None", "ports": [{"port": 80}]},
        },
        "urn",
    )
    first = build_cluster([*services, headless], NETWORK)
    second = build_cluster(list(reversed(services)), NETWORK)
    ips = [s.cluster_ip for s in first.services if s.namespace == "app" and s.name != "h"]
    assert len(set(ips)) == 200
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("172.20.0.0/16") for ip in ips)
    assert {"172.20.0.1", "172.20.0.10"}.isdisjoint(ips)
    assert first.cluster_ips == second.cluster_ips
    assert first.service("app", "h").cluster_ip is None


@pytest.mark.parametrize(
    ("namespace_label", "pod_label", "injected"),
    [
        ("enabled", None, True),
        ("enabled", "false", False),
        ("disabled", "true", False),  # the namespace's `disabled` wins (the gateway defect)
        (None, "true", True),
        (None, None, False),
    ],
)
def test_istio_injection_rule(
    namespace_label: str | None, pod_label: str | None, injected: bool
) -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app", "labels": {}}}
    if namespace_label:
        ns["metadata"]["labels"]["istio-injection"] = namespace_label
    labels = {"app": "x", **({"sidecar.istio.io/inject": pod_label} if pod_label else {})}
    template = {"metadata": {"labels": labels}, "spec": POD_SPEC}
    cluster = build_cluster(
        [PlannedObject(ns, "urn"), planned("Deployment", {"spec": {"template": template}})], NETWORK
    )
    workload = next(w for w in cluster.workloads if w.name == "x")
    assert cluster.injected(workload) is injected
    assert cluster.wants_sidecar(workload) is (pod_label == "true")


def test_bound_service_accounts() -> None:
    cluster = build_cluster(objects(), NETWORK)
    by_name = {w.name: w for w in cluster.workloads}
    assert cluster.is_bound(by_name["api"])
    assert cluster.is_bound(by_name["prometheus-k8s"])
    assert not cluster.is_bound(by_name["client"])
    group = PlannedObject(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "all", "namespace": "app"},
            "subjects": [{"kind": "Group", "name": "system:serviceaccounts:app"}],
        },
        "urn",
    )
    cluster = build_cluster([*objects(), group], NETWORK)
    assert cluster.is_bound(next(w for w in cluster.workloads if w.name == "client"))


def test_a_charts_service_account_without_pods_is_no_stand_in() -> None:
    def account(name: str, labels: dict[str, str], release: str = "") -> PlannedObject:
        meta = {"name": name, "namespace": "app", "labels": labels}
        manifest = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}
        return PlannedObject(manifest, "urn", release)

    cluster = build_cluster(
        [
            account("typed", {"app.kubernetes.io/managed-by": "pulumi"}),
            account("from-file", {"app.kubernetes.io/managed-by": "Helm"}),
            account("from-release", {}, release="istio-base"),
        ],
        NETWORK,
    )
    assert [w.name for w in cluster.workloads if w.stand_in] == ["typed"]
