"""Small synthetic plans for the order, scheduling, capacity and identity checks.

Each builder returns plain data in the shapes the plan holds: resources.json records,
PlannedObjects, a CheckContext. A test states the one defect it is about and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from components.aws.iam import irsa_trust_policy
from components.k8s.tenancy.quota import LIMIT_RANGE
from platformctl.check_context import builtin_kinds
from platformctl.checks import PlannedObject
from platformctl.checks.context import CheckContext, NodeShape, Pool, SystemPods, Taint

ACCOUNT = "123456789012"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/TEST"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"
POOL_LABEL = "mlops-platform.io/pool"
GPU_TAINT = Taint("nvidia.com/gpu", "true", "NoSchedule")
GPU_TOLERATION = {
    "key": "nvidia.com/gpu",
    "operator": "Equal",
    "value": "true",
    "effect": "NoSchedule",
}
RELEASE = "kubernetes:helm.sh/v3:Release"
CHART = "kubernetes:helm.sh/v4:Chart"


def urn(typ: str, name: str, stack: str = "dev-platform") -> str:
    return f"urn:pulumi:{stack}::mlops-platform::{typ}::{name}"


def resource(
    typ: str,
    name: str,
    *,
    stack: str = "dev-platform",
    deps: Sequence[str] = (),
    property_deps: Mapping[str, Sequence[str]] | None = None,
    parent: str = "",
    provider: str = "",
    inputs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One resources.json record."""
    return {
        "urn": urn(typ, name, stack),
        "type": typ,
        "name": name,
        "parent": parent,
        "custom": True,
        "inputs": dict(inputs or {}),
        "dependencies": list(deps),
        "property_dependencies": {k: list(v) for k, v in (property_deps or {}).items()},
        "provider": provider,
        "protect": False,
        "aliases": [],
    }


def pool(
    name: str,
    *,
    min_size: int = 2,
    taints: Sequence[Taint] = (),
    cpu: int = 1930,
    memory: int = 6837,
    pods: int = 35,
    gpus: int = 0,
    instance_type: str = "t3.large",
    labels: Mapping[str, str] | None = None,
) -> Pool:
    node_labels: dict[str, frozenset[str] | None] = {
        "kubernetes.io/os": frozenset({"linux"}),
        "kubernetes.io/arch": frozenset({"amd64"}),
        "kubernetes.io/hostname": None,
        POOL_LABEL: frozenset({name}),
    }
    node_labels |= {k: frozenset({v}) for k, v in (labels or {}).items()}
    return Pool(
        name=name,
        labels=node_labels,
        taints=tuple(taints),
        min_size=min_size,
        node=NodeShape(instance_type, cpu, memory, pods, gpus),
    )


def pools() -> tuple[Pool, ...]:
    """dev's shape: general 2 x t3.large, training and gpu at zero, the GPU taint."""
    return (
        pool("general"),
        pool("training", min_size=0, cpu=7910, memory=14162, pods=58, instance_type="c5.2xlarge"),
        pool(
            "gpu",
            min_size=0,
            taints=[GPU_TAINT],
            cpu=3920,
            memory=14481,
            pods=29,
            gpus=1,
            instance_type="g4dn.xlarge",
        ),
    )


def context(
    *,
    pool_list: Sequence[Pool] | None = None,
    crd_directories: Mapping[str, frozenset[str]] | None = None,
    system_pods: Sequence[SystemPods] = (),
    managed: bool = True,
) -> CheckContext:
    return CheckContext(
        cluster_minor="1.33",
        pools=tuple(pool_list if pool_list is not None else pools()),
        general_pool="general",
        gpu_resource="nvidia.com/gpu",
        builtin_kinds=builtin_kinds("1.33"),
        crd_directories=dict(crd_directories or {}),
        system_pods=tuple(system_pods),
        managed_cluster=managed,
    )


def container(
    name: str = "main",
    *,
    cpu: str | None = "100m",
    memory: str | None = "128Mi",
    limits: Mapping[str, str] | None = None,
    image: str = "example/app:1",
    args: Sequence[str] = (),
    gpus: int = 0,
) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    limit = dict(limits or {})
    if gpus:
        requests["nvidia.com/gpu"] = str(gpus)
        limit["nvidia.com/gpu"] = str(gpus)
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limit:
        resources["limits"] = limit
    out: dict[str, Any] = {"name": name, "image": image, "resources": resources}
    if args:
        out["args"] = list(args)
    return out


def pod_spec(
    *,
    containers: Sequence[Mapping[str, Any]] | None = None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Sequence[Mapping[str, Any]] = (),
    affinity: Mapping[str, Any] | None = None,
    service_account: str | None = None,
    init_containers: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": list(containers if containers is not None else [container()]),
        "nodeSelector": dict(
            node_selector if node_selector is not None else {POOL_LABEL: "general"}
        ),
    }
    if tolerations:
        spec["tolerations"] = list(tolerations)
    if affinity:
        spec["affinity"] = dict(affinity)
    if service_account:
        spec["serviceAccountName"] = service_account
    if init_containers:
        spec["initContainers"] = list(init_containers)
    return spec


def workload(
    kind: str, name: str, namespace: str, spec: Mapping[str, Any], *, replicas: int | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": dict(spec)},
    }
    if replicas is not None:
        body["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def planned(manifest: Mapping[str, Any], source: str, release: str = "") -> PlannedObject:
    return PlannedObject(manifest, source, release)


def crd(group: str, kind: str, plural: str, versions: Sequence[str] = ("v1",)) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural},
            "versions": [
                {"name": v, "served": True, "storage": i == 0} for i, v in enumerate(versions)
            ],
        },
    }


def service_monitor(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"matchLabels": {"app": name}}, "endpoints": [{"port": "metrics"}]},
    }


def service(
    name: str,
    namespace: str,
    *,
    type_: str = "ClusterIP",
    annotations: Mapping[str, str] | None = None,
    ports: Sequence[int] = (443,),
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "annotations": dict(annotations or {})},
        "spec": {"type": type_, "ports": [{"port": p} for p in ports]},
    }


def namespace(name: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": dict(labels or {})},
    }


def service_account(name: str, ns: str, role_arn: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": ns}
    if role_arn:
        metadata["annotations"] = {"eks.amazonaws.com/role-arn": role_arn}
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata}


def role(
    name: str, trust: str | Mapping[str, Any], *, stack: str = "dev-platform"
) -> dict[str, Any]:
    policy = trust if isinstance(trust, str) else json.dumps(trust)
    return resource("aws:iam/role:Role", name, stack=stack, inputs={"assumeRolePolicy": policy})


def exact_trust(namespace: str, name: str) -> str:
    """The trust the program writes (components.aws.iam.irsa_trust_policy)."""
    return irsa_trust_policy(OIDC_ARN, f"https://{ISSUER}", namespace, name)


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def limit_range(namespace: str) -> dict[str, Any]:
    """The tenancy baseline's LimitRange (components/k8s/tenancy/quota.py LIMIT_RANGE)."""
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "defaults", "namespace": namespace},
        "spec": {"limits": [dict(LIMIT_RANGE)]},
    }


def resource_quota(namespace: str, hard: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "quota", "namespace": namespace},
        "spec": {"hard": dict(hard)},
    }
