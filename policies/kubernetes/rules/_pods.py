"""Where pod specs live in each kind that carries one, and how to walk their containers.

A resource's properties are its manifest (apiVersion, kind, metadata, spec...), for a
typed object and for a chart's rendered object alike (a Chart v4 child is registered as
``kubernetes:<group>/<version>:<Kind>`` with the manifest as its inputs). Most kinds hold
one pod template; a KServe InferenceService holds one per component (predictor,
transformer, explainer), each a pod spec whose ``model`` (or framework key) is a further
container; a ServingRuntime holds the containers KServe copies into the predictor's pod.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlops_policy_kit import as_list, as_map

POD = "kubernetes:core/v1:Pod"
INFERENCE_SERVICE = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
KNATIVE_SERVICE = "kubernetes:serving.knative.dev/v1:Service"
SERVING_RUNTIME = "kubernetes:serving.kserve.io/v1alpha1:ServingRuntime"
CLUSTER_SERVING_RUNTIME = "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime"

# Kind -> path from the manifest to the object holding the pod's metadata and spec.
POD_TEMPLATE_KINDS: dict[str, tuple[str, ...]] = {
    POD: (),
    "kubernetes:core/v1:PodTemplate": ("template",),
    "kubernetes:core/v1:ReplicationController": ("spec", "template"),
    "kubernetes:apps/v1:Deployment": ("spec", "template"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template"),
    "kubernetes:batch/v1:Job": ("spec", "template"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
    KNATIVE_SERVICE: ("spec", "template"),
}
INFERENCE_COMPONENTS = ("predictor", "transformer", "explainer")
# Keys of an InferenceService component that are containers besides `containers`.
MODEL_CONTAINER_KEYS = (
    "model",
    "sklearn",
    "xgboost",
    "tensorflow",
    "pytorch",
    "triton",
    "onnx",
    "huggingface",
    "pmml",
    "lightgbm",
    "paddle",
)
RUNTIME_KINDS = (SERVING_RUNTIME, CLUSTER_SERVING_RUNTIME)
WORKLOAD_TYPES = (*POD_TEMPLATE_KINDS, INFERENCE_SERVICE, *RUNTIME_KINDS)

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
KSERVE_CONTAINER = "kserve-container"  # the name KServe gives a component's model container


@dataclass(frozen=True)
class PodView:
    """One pod spec of a resource: where it is (for messages), its annotations and spec."""

    where: str
    annotations: Mapping[str, Any]
    spec: Mapping[str, Any]


def _follow(node: Mapping[str, Any], path: tuple[str, ...]) -> Mapping[str, Any]:
    for key in path:
        node = as_map(node.get(key))
    return node


def _component_spec(component: Mapping[str, Any]) -> dict[str, Any]:
    """An InferenceService component as a pod spec: its model container joins the others."""
    extra = [
        {"name": KSERVE_CONTAINER, **as_map(component.get(key))}
        for key in MODEL_CONTAINER_KEYS
        if isinstance(component.get(key), Mapping)
    ]
    return {**component, "containers": [*as_list(component.get("containers")), *extra]}


def pod_views(props: Mapping[str, Any], resource_type: str) -> list[PodView]:
    """Every pod spec a resource of ``resource_type`` describes."""
    if resource_type in POD_TEMPLATE_KINDS:
        template = _follow(props, POD_TEMPLATE_KINDS[resource_type])
        metadata = as_map(template.get("metadata"))
        return [PodView("", as_map(metadata.get("annotations")), as_map(template.get("spec")))]
    if resource_type == INFERENCE_SERVICE:
        spec = as_map(props.get("spec"))
        return [
            PodView(
                f" ({name})",
                as_map(as_map(spec.get(name)).get("annotations")),
                _component_spec(as_map(spec.get(name))),
            )
            for name in INFERENCE_COMPONENTS
            if isinstance(spec.get(name), Mapping)
        ]
    if resource_type in RUNTIME_KINDS:
        spec = as_map(props.get("spec"))
        return [PodView("", as_map(spec.get("annotations")), spec)]
    return []


def containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(kind of list, container) for every container of a pod spec."""
    for key in CONTAINER_LISTS:
        for c in as_list(spec.get(key)):
            yield key, as_map(c)


def metadata_namespace(props: Mapping[str, Any]) -> str:
    """The object's namespace as written; empty for cluster-scoped or unset."""
    ns = as_map(props.get("metadata")).get("namespace")
    return ns if isinstance(ns, str) else ""


def namespace_of(props: Mapping[str, Any]) -> str:
    """The namespace a namespaced object lands in (the API's ``default`` when unset)."""
    return metadata_namespace(props) or "default"


def object_label(resource_type: str, props: Mapping[str, Any], fallback: str) -> str:
    kind = resource_type.rsplit(":", 1)[-1]
    name = as_map(props.get("metadata")).get("name") or fallback
    namespace = metadata_namespace(props)
    if resource_type in CLUSTER_SCOPED_TYPES:
        return f"{kind} '{name}'"
    return f"{kind} '{namespace or 'default'}/{name}'"


def security_context(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_map(obj.get("securityContext"))


def container_name(c: Mapping[str, Any]) -> str:
    return f"the container '{c.get('name', '?')}'"


# Kinds the platform creates or renders that are not namespaced.
CLUSTER_SCOPED_TYPES = frozenset(
    {
        "kubernetes:core/v1:Namespace",
        "kubernetes:core/v1:PersistentVolume",
        "kubernetes:core/v1:Node",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
        "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
        "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration",
        "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration",
        "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
        "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
        "kubernetes:apiregistration.k8s.io/v1:APIService",
        "kubernetes:storage.k8s.io/v1:StorageClass",
        "kubernetes:storage.k8s.io/v1:CSIDriver",
        "kubernetes:scheduling.k8s.io/v1:PriorityClass",
        "kubernetes:networking.k8s.io/v1:IngressClass",
        "kubernetes:node.k8s.io/v1:RuntimeClass",
        "kubernetes:cert-manager.io/v1:ClusterIssuer",
        "kubernetes:external-secrets.io/v1:ClusterSecretStore",
        "kubernetes:external-secrets.io/v1:ClusterExternalSecret",
        CLUSTER_SERVING_RUNTIME,
        "kubernetes:serving.kserve.io/v1alpha1:ClusterStorageContainer",
        "kubernetes:keda.sh/v1alpha1:ClusterTriggerAuthentication",
    }
)
