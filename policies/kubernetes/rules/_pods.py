"""Where the pod spec lives in each kind that has one, and how to walk its containers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mlops_policy_kit import (
    as_list,
    as_map,
)

POD = "kubernetes:core/v1:Pod"
POD_TEMPLATE_KINDS = {
    POD: (),
    "kubernetes:core/v1:PodTemplate": ("template",),
    "kubernetes:core/v1:ReplicationController": ("spec", "template"),
    "kubernetes:apps/v1:Deployment": ("spec", "template"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template"),
    "kubernetes:batch/v1:Job": ("spec", "template"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
}
WORKLOAD_TYPES = tuple(POD_TEMPLATE_KINDS)

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def pod_template(props: Mapping[str, Any], resource_type: str) -> Mapping[str, Any]:
    """The object holding ``metadata`` and ``spec`` of the pod (the Pod itself for a Pod)."""
    node: Mapping[str, Any] = props
    for key in POD_TEMPLATE_KINDS.get(resource_type, ()):
        node = as_map(node.get(key))
    return node


def pod_spec(props: Mapping[str, Any], resource_type: str) -> Mapping[str, Any]:
    return as_map(pod_template(props, resource_type).get("spec"))


def pod_annotations(props: Mapping[str, Any], resource_type: str) -> Mapping[str, Any]:
    return as_map(as_map(pod_template(props, resource_type).get("metadata")).get("annotations"))


def containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(kind of list, container) for every container of a pod spec."""
    for key in CONTAINER_LISTS:
        for c in as_list(spec.get(key)):
            yield key, as_map(c)


def namespace_of(props: Mapping[str, Any]) -> str:
    ns = as_map(props.get("metadata")).get("namespace")
    return ns if isinstance(ns, str) and ns else "default"


def object_label(resource_type: str, props: Mapping[str, Any], fallback: str) -> str:
    kind = resource_type.rsplit(":", 1)[-1]
    name = as_map(props.get("metadata")).get("name") or fallback
    return f"{kind} '{namespace_of(props)}/{name}'"


def security_context(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_map(obj.get("securityContext"))
