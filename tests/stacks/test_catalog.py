"""Node capacity facts of the catalog, against the figures their sources publish."""

from __future__ import annotations

import pytest

from stacks.catalog import (
    EC2_INSTANCE_TYPES,
    EKS_ADDON_PODS,
    ENI_LIMITS,
    allocatable,
    kube_reserved_cpu_millicores,
    kube_reserved_memory_mib,
    max_pods,
)

# The AL2 AMI's published max pods per instance type: awslabs/amazon-eks-ami
# templates/shared/runtime/eni-max-pods.txt at v20260318 (the file's last release before it
# moved into the AL2023 build); nodeadm computes the same from its instance-info table.
PUBLISHED_MAX_PODS = {
    "t3.large": 35,
    "t3.xlarge": 58,
    "m5.large": 29,
    "m5.xlarge": 58,
    "m6i.large": 29,
    "m6i.xlarge": 58,
    "c5.2xlarge": 58,
    "c5a.2xlarge": 58,
    "c6i.2xlarge": 58,
    "c5.4xlarge": 234,
    "m6g.large": 29,
    "g4dn.xlarge": 29,
    "g4dn.2xlarge": 29,
    "g5.xlarge": 58,
}


def test_every_known_instance_type_has_its_eni_limits() -> None:
    assert set(ENI_LIMITS) == set(EC2_INSTANCE_TYPES) == set(PUBLISHED_MAX_PODS)


@pytest.mark.parametrize("instance_type", sorted(PUBLISHED_MAX_PODS))
def test_max_pods_is_the_published_figure(instance_type: str) -> None:
    assert max_pods(instance_type) == PUBLISHED_MAX_PODS[instance_type]


@pytest.mark.parametrize(
    ("vcpus", "reserved"),
    [
        (1, 60),  # 6% of the first core
        (2, 70),  # nodeadm e2e case custom-max-pods-expression: "cpu": "70m" on 2 vCPUs
        (4, 80),
        (8, 90),
        (16, 110),
        (96, 310),  # 60 + 10 + 2 x 5 + 92 cores x 2.5m
    ],
)
def test_kube_reserved_cpu_follows_nodeadm(vcpus: int, reserved: int) -> None:
    assert kube_reserved_cpu_millicores(vcpus) == reserved


def test_kube_reserved_memory_follows_nodeadm() -> None:
    # nodeadm e2e case custom-max-pods-expression: maxPods 44 -> "memory": "739Mi".
    assert kube_reserved_memory_mib(44) == 739
    assert kube_reserved_memory_mib(35) == 640


def test_allocatable_of_the_general_pools_node() -> None:
    # 2 vCPU - 70m; 8 GiB less 7.5% VM overhead (7577Mi) - 640Mi kube-reserved - 100Mi eviction.
    assert allocatable("t3.large") == (1930, 6837, 35, 0)
    assert allocatable("g4dn.xlarge")[3] == 1


def test_addon_pods_cite_their_source_and_request_something() -> None:
    for addon, pods in EKS_ADDON_PODS.items():
        for p in pods:
            assert p.source and p.cpu_millicores > 0, addon
            assert p.daemonset or p.replicas >= 1
