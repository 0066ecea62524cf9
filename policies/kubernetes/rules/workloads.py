"""What every pod must get right wherever it runs: images, requests and limits, GPU
scheduling, its ServiceAccount and token, secrets as files; and Helm chart pinning."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mlops_policy_kit import (
    HIGH,
    MANDATORY,
    MEDIUM,
    Config,
    as_list,
    as_map,
    of_type,
    resource_policy,
    stack_policy,
)
from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from ._pods import (
    INFERENCE_SERVICE,
    RUNTIME_KINDS,
    WORKLOAD_TYPES,
    PodView,
    containers,
    metadata_namespace,
    namespace_of,
    object_label,
    pod_views,
)

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_CHART = "kubernetes:helm.sh/v4:Chart"
LIMIT_RANGE = "kubernetes:core/v1:LimitRange"
RESOURCE_QUOTA = "kubernetes:core/v1:ResourceQuota"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
SERVICE_ACCOUNT_PATCH = "kubernetes:core/v1:ServiceAccountPatch"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
# Kinds whose pods a ServiceAccount runs: a ServingRuntime's containers run under the
# InferenceService's account, so runtimes are not asked for one.
POD_OWNERS = tuple(t for t in WORKLOAD_TYPES if t not in RUNTIME_KINDS)

DIGEST_RE = re.compile(r"@sha256:[0-9a-f]{64}$")


def each_container(
    props: Mapping[str, Any], resource_type: str
) -> Iterator[tuple[PodView, str, Mapping[str, Any]]]:
    """(pod, kind of list, container) for every container of every pod spec of a resource."""
    for view in pod_views(props, resource_type):
        for kind, c in containers(view.spec):
            yield view, kind, c


def split_image(image: str) -> tuple[str, str, str | None, str | None]:
    """(registry, repository, tag, digest) with Docker's defaults for short names."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", image
    tag = None
    name, sep, maybe_tag = path.rpartition(":")
    if sep and "/" not in maybe_tag:
        path, tag = name, maybe_tag
    return registry, path, tag, digest


# The image of a pod Istio's injector completes at admission (the gateway chart's proxy):
# istiod's pinned proxy image replaces it.
INJECTED_IMAGE = "auto"


def _has_image(resource_type: str, c: Mapping[str, Any]) -> bool:
    """Whether a container must name its image (an InferenceService's model container gets
    the image of its ServingRuntime)."""
    return not (resource_type == INFERENCE_SERVICE and c.get("name") == "kserve-container")


def validate_image_pinned(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    what = object_label(args.resource_type, args.props, args.name)
    for view, _, c in each_container(args.props, args.resource_type):
        image = c.get("image")
        if not isinstance(image, str) or not image:
            if _has_image(args.resource_type, c):
                report(
                    f"In the {what}{view.where}, the container '{c.get('name')}' has no image.",
                    None,
                )
            continue
        if image == INJECTED_IMAGE:
            continue
        _registry, _path, tag, digest = split_image(image)
        if digest is not None:
            if not DIGEST_RE.search(f"@{digest}"):
                report(
                    f"In the {what}{view.where}, the image {image} has a malformed digest.", None
                )
            continue
        if config["requireDigest"]:
            report(f"In the {what}{view.where}, the image {image} must be pinned by digest.", None)
        elif tag is None or tag == "latest":
            report(
                f"In the {what}{view.where}, the image {image} is not pinned; use an exact "
                "version tag or a digest instead of latest.",
                None,
            )


image_pinned = resource_policy(
    name="k8s-pod-image-pinned",
    description="Container images must be pinned to an exact tag or digest, never latest.",
    validate=validate_image_pinned,
    types=WORKLOAD_TYPES,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CKV_K8S_14", "CKV_K8S_43"),
    config={
        "requireDigest": {
            "type": "boolean",
            "default": False,
            "description": "Accept only images pinned by sha256 digest.",
        }
    },
)


def validate_image_registry(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    allowed = [str(p) for p in config["allowedRegistries"]]
    what = object_label(args.resource_type, args.props, args.name)
    for view, _, c in each_container(args.props, args.resource_type):
        image = c.get("image")
        if not isinstance(image, str) or not image or image == INJECTED_IMAGE:
            continue
        registry = split_image(image)[0]
        if not any(fnmatch.fnmatchcase(registry, pattern) for pattern in allowed):
            report(
                f"In the {what}{view.where}, the image {image} comes from the registry "
                f"{registry}, which is not in the allowlist.",
                None,
            )


image_registry = resource_policy(
    name="k8s-pod-image-registry-allowed",
    description="Container images must come from an allowed registry.",
    validate=validate_image_registry,
    types=WORKLOAD_TYPES,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-5.1.4",),
    config={
        "allowedRegistries": {
            "type": "array",
            "items": {"type": "string"},
            "default": [
                "*.dkr.ecr.*.amazonaws.com",
                "public.ecr.aws",
                "registry.k8s.io",
                "registry.istio.io",
                "ghcr.io",
                "quay.io",
                "docker.io",
                "nvcr.io",
                "gcr.io",
            ],
            "description": "Registry host patterns (fnmatch) images may be pulled from.",
        }
    },
)


def validate_resources(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    what = object_label(args.resource_type, args.props, args.name)
    for view, kind, c in each_container(args.props, args.resource_type):
        if kind == "ephemeralContainers":
            continue  # the API forbids resources on ephemeral containers
        resources = as_map(c.get("resources"))
        missing = [
            f"requests.{r}"
            for r in config["requiredRequests"]
            if as_map(resources.get("requests")).get(r) is None
        ]
        missing += [
            f"limits.{r}"
            for r in config["requiredLimits"]
            if as_map(resources.get("limits")).get(r) is None
        ]
        if missing:
            report(
                f"In the {what}{view.where}, the container '{c.get('name')}' does not set "
                f"{', '.join(missing)}.",
                None,
            )


RESOURCE_NAMES = {"type": "array", "items": {"type": "string", "enum": ["cpu", "memory"]}}

resources_set = resource_policy(
    name="k8s-pod-resources-set",
    description="Containers must declare CPU and memory requests and limits.",
    validate=validate_resources,
    types=WORKLOAD_TYPES,
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CKV_K8S_10", "CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13"),
    config={
        "requiredRequests": {
            **RESOURCE_NAMES,
            "default": ["cpu", "memory"],
            "description": "Resources every container must request.",
        },
        "requiredLimits": {
            **RESOURCE_NAMES,
            "default": ["cpu", "memory"],
            "description": "Resources every container must limit.",
        },
    },
)


GPU_CONFIG: dict[str, dict[str, Any]] = {
    "gpuResource": {
        "type": "string",
        "default": "nvidia.com/gpu",
        "description": "Extended resource name of a GPU.",
    },
    "taintKey": {"type": "string", "default": "nvidia.com/gpu", "description": "GPU taint key."},
    "taintValue": {"type": "string", "default": "true", "description": "GPU taint value."},
    "taintEffect": {"type": "string", "default": "NoSchedule", "description": "GPU taint effect."},
}


def _tolerates(toleration: Any, config: Config) -> bool:
    t = as_map(toleration)
    key, operator = t.get("key"), t.get("operator", "Equal")
    effect = t.get("effect")
    if effect not in (None, "", config["taintEffect"]):
        return False
    if operator == "Exists":
        return key in (None, "", config["taintKey"])
    return key == config["taintKey"] and str(t.get("value")) == config["taintValue"]


def validate_gpu_toleration(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    gpu = config["gpuResource"]
    what = object_label(args.resource_type, args.props, args.name)
    for view in pod_views(args.props, args.resource_type):
        requesting = [
            c.get("name")
            for _, c in containers(view.spec)
            if any(
                as_map(as_map(c.get("resources")).get(k)).get(gpu) is not None
                for k in ("requests", "limits")
            )
        ]
        if requesting and not any(
            _tolerates(t, config) for t in as_list(view.spec.get("tolerations"))
        ):
            report(
                f"In the {what}{view.where}, the containers {', '.join(map(str, requesting))} "
                f"request {gpu} but the pod does not tolerate the taint {config['taintKey']}="
                f"{config['taintValue']}:{config['taintEffect']}, so it can never be scheduled "
                "on a GPU node.",
                None,
            )


gpu_toleration = resource_policy(
    name="k8s-pod-gpu-requires-toleration",
    description="Pods that request GPUs must tolerate the GPU node taint.",
    validate=validate_gpu_toleration,
    types=WORKLOAD_TYPES,
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("MLOPS-D2",),
    config=GPU_CONFIG,
)


def service_account_of(spec: Mapping[str, Any]) -> str:
    """The ServiceAccount a pod runs under (``serviceAccount`` is the deprecated alias)."""
    name = spec.get("serviceAccountName") or spec.get("serviceAccount")
    return name if isinstance(name, str) and name else "default"


def validate_service_account_named(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    what = object_label(args.resource_type, args.props, args.name)
    for view in pod_views(args.props, args.resource_type):
        if service_account_of(view.spec) == "default":
            report(
                f"The {what}{view.where} runs under the namespace's default ServiceAccount; "
                "give it a dedicated one (its own RBAC and, where it calls AWS, its own IAM role).",
                None,
            )


service_account_named = resource_policy(
    name="k8s-pod-service-account-named",
    description="Pods must run under a dedicated ServiceAccount, not the namespace's default.",
    validate=validate_service_account_named,
    types=POD_OWNERS,
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CIS-EKS-4.1.5", "CIS-EKS-5.2.1", "CKV_K8S_41"),
)


def validate_secrets_not_in_env(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    what = object_label(args.resource_type, args.props, args.name)
    for view, _kind, c in each_container(args.props, args.resource_type):
        names = [
            str(e.get("name"))
            for e in map(as_map, as_list(c.get("env")))
            if as_map(e.get("valueFrom")).get("secretKeyRef") is not None
        ]
        names += [
            f"all of {as_map(e.get('secretRef')).get('name')}"
            for e in map(as_map, as_list(c.get("envFrom")))
            if e.get("secretRef") is not None
        ]
        if names:
            report(
                f"In the {what}{view.where}, the container '{c.get('name')}' reads the Secret "
                f"values {', '.join(names)} from environment variables; mount them as files.",
                None,
            )


secrets_not_in_env = resource_policy(
    name="k8s-pod-secrets-not-in-env",
    description="Containers must read Secrets from mounted files, not environment variables.",
    validate=validate_secrets_not_in_env,
    types=WORKLOAD_TYPES,
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CIS-EKS-4.4.1", "CKV_K8S_35"),
)


def _bound_accounts(resources: list[PolicyResource]) -> set[tuple[str, str]]:
    """(namespace, name) of every ServiceAccount a binding of the stack grants a role to."""
    bound = set()
    for binding in of_type(resources, ROLE_BINDING, CLUSTER_ROLE_BINDING):
        for subject in map(as_map, as_list(binding.props.get("subjects"))):
            if subject.get("kind") == "ServiceAccount":
                namespace = subject.get("namespace") or metadata_namespace(binding.props)
                bound.add((str(namespace), str(subject.get("name"))))
    return bound


def _account_automount(resources: list[PolicyResource]) -> dict[tuple[str, str], Any]:
    """(namespace, name) -> the ServiceAccount's automountServiceAccountToken, as declared."""
    out = {}
    for account in of_type(resources, SERVICE_ACCOUNT, SERVICE_ACCOUNT_PATCH):
        name = as_map(account.props.get("metadata")).get("name")
        out[(namespace_of(account.props), str(name))] = account.props.get(
            "automountServiceAccountToken"
        )
    return out


def validate_token_mounted_where_needed(
    args: StackValidationArgs, report: ReportViolation, _: Config
) -> None:
    bound = _bound_accounts(args.resources)
    automount = _account_automount(args.resources)
    for resource in of_type(args.resources, *POD_OWNERS):
        namespace = namespace_of(resource.props)
        what = object_label(resource.resource_type, resource.props, resource.name)
        for view in pod_views(resource.props, resource.resource_type):
            account = service_account_of(view.spec)
            pod_setting = view.spec.get("automountServiceAccountToken")
            mounts = pod_setting if pod_setting is not None else automount.get((namespace, account))
            if mounts is not False and (namespace, account) not in bound:
                report(
                    f"The {what}{view.where} mounts an API token for the ServiceAccount "
                    f"'{account}', which no binding of this stack grants anything; set "
                    "automountServiceAccountToken to false.",
                    resource.urn,
                )


token_mounted_where_needed = stack_policy(
    name="k8s-pod-token-mounted-where-needed",
    description="Only pods whose ServiceAccount is granted a role may mount an API token.",
    validate=validate_token_mounted_where_needed,
    types=(*POD_OWNERS, SERVICE_ACCOUNT, SERVICE_ACCOUNT_PATCH, ROLE_BINDING, CLUSTER_ROLE_BINDING),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CIS-EKS-4.1.6", "CKV_K8S_38"),
)


def validate_limit_range_gpu(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    gpu = config["gpuResource"]
    for limit in map(as_map, as_list(as_map(args.props.get("spec")).get("limits"))):
        for key in ("max", "default", "defaultRequest", "min"):
            if gpu in as_map(limit.get(key)):
                report(
                    f"The LimitRange '{args.name}' sets {key} for {gpu}, which injects GPU "
                    "requests into pods or blocks them; cap GPUs with a ResourceQuota instead.",
                    None,
                )


limit_range_gpu = resource_policy(
    name="k8s-limit-range-no-gpu",
    description="LimitRanges must not constrain GPUs; a ResourceQuota caps them.",
    validate=validate_limit_range_gpu,
    types=(LIMIT_RANGE,),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("MLOPS-D7",),
    config={"gpuResource": GPU_CONFIG["gpuResource"]},
)


def validate_quota_gpu_key(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    gpu = config["gpuResource"]
    for key in as_map(as_map(args.props.get("spec")).get("hard")):
        if gpu in key and key != f"requests.{gpu}":
            report(
                f"The ResourceQuota '{args.name}' names {key}; Kubernetes charges extended "
                f"resources only under requests.{gpu}, so this limit is never enforced.",
                None,
            )


quota_gpu_key = resource_policy(
    name="k8s-resource-quota-gpu-requests-prefix",
    description="A ResourceQuota must cap GPUs under requests.nvidia.com/gpu, the key charged.",
    validate=validate_quota_gpu_key,
    types=(RESOURCE_QUOTA,),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("MLOPS-D7",),
    config={"gpuResource": GPU_CONFIG["gpuResource"]},
)


EXACT_VERSION_RE = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")


def validate_helm_pinned(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    version = args.props.get("version")
    chart = args.props.get("chart")
    kind = "release" if args.resource_type == HELM_RELEASE else "chart"
    if not isinstance(version, str) or not EXACT_VERSION_RE.match(version):
        report(
            f"The Helm {kind} '{args.name}' (chart {chart}) must pin an exact chart version, "
            f"not {version!r}.",
            None,
        )
    repo = as_map(args.props.get("repositoryOpts")).get("repo")
    is_oci = isinstance(chart, str) and chart.startswith("oci://")
    if not is_oci and not repo:
        report(f"The Helm {kind} '{args.name}' must name its chart repository.", None)


helm_pinned = resource_policy(
    name="k8s-helm-release-version-pinned",
    description="Helm releases must pin an exact chart version from a named repository.",
    validate=validate_helm_pinned,
    types=(HELM_RELEASE, HELM_CHART),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("MLOPS-D8",),
)

POLICIES = [
    image_pinned,
    image_registry,
    resources_set,
    gpu_toleration,
    service_account_named,
    secrets_not_in_env,
    token_mounted_where_needed,
    limit_range_gpu,
    quota_gpu_key,
    helm_pinned,
]
