"""Images, resource requests and limits, GPU scheduling, Helm chart pinning."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from mlops_policy_kit import (
    HIGH,
    MANDATORY,
    MEDIUM,
    Config,
    as_list,
    as_map,
    resource_policy,
)
from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._pods import WORKLOAD_TYPES, containers, object_label, pod_spec

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
LIMIT_RANGE = "kubernetes:core/v1:LimitRange"
RESOURCE_QUOTA = "kubernetes:core/v1:ResourceQuota"

DIGEST_RE = re.compile(r"@sha256:[0-9a-f]{64}$")


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


def validate_image_pinned(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    what = object_label(args.resource_type, args.props, args.name)
    for _, c in containers(pod_spec(args.props, args.resource_type)):
        image = c.get("image")
        if not isinstance(image, str) or not image:
            report(f"In the {what}, the container '{c.get('name')}' has no image.", None)
            continue
        _registry, _path, tag, digest = split_image(image)
        if digest is not None:
            if not DIGEST_RE.search(f"@{digest}"):
                report(f"In the {what}, the image {image} has a malformed digest.", None)
            continue
        if config["requireDigest"]:
            report(f"In the {what}, the image {image} must be pinned by digest.", None)
        elif tag is None or tag == "latest":
            report(
                f"In the {what}, the image {image} is not pinned; use an exact version tag or "
                "a digest instead of latest.",
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
    for _, c in containers(pod_spec(args.props, args.resource_type)):
        image = c.get("image")
        if not isinstance(image, str) or not image:
            continue
        registry = split_image(image)[0]
        if not any(fnmatch.fnmatchcase(registry, pattern) for pattern in allowed):
            report(
                f"In the {what}, the image {image} comes from the registry {registry}, which is "
                "not in the allowlist.",
                None,
            )


image_registry = resource_policy(
    name="k8s-pod-image-registry-allowed",
    description="Container images must come from an allowed registry.",
    validate=validate_image_registry,
    types=WORKLOAD_TYPES,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-5.1.2",),
    config={
        "allowedRegistries": {
            "type": "array",
            "items": {"type": "string"},
            "default": [
                "*.dkr.ecr.*.amazonaws.com",
                "public.ecr.aws",
                "registry.k8s.io",
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
    for kind, c in containers(pod_spec(args.props, args.resource_type)):
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
                f"In the {what}, the container '{c.get('name')}' does not set "
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
    spec = pod_spec(args.props, args.resource_type)
    gpu = config["gpuResource"]
    requesting = [
        c.get("name")
        for _, c in containers(spec)
        if any(
            as_map(as_map(c.get("resources")).get(k)).get(gpu) is not None
            for k in ("requests", "limits")
        )
    ]
    if not requesting:
        return
    if not any(_tolerates(t, config) for t in as_list(spec.get("tolerations"))):
        what = object_label(args.resource_type, args.props, args.name)
        report(
            f"In the {what}, the containers {', '.join(map(str, requesting))} request {gpu} but "
            f"the pod does not tolerate the taint {config['taintKey']}={config['taintValue']}:"
            f"{config['taintEffect']}, so it can never be scheduled on a GPU node.",
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
    if not isinstance(version, str) or not EXACT_VERSION_RE.match(version):
        report(
            f"The Helm release '{args.name}' (chart {chart}) must pin an exact chart version, "
            f"not {version!r}.",
            None,
        )
    repo = as_map(args.props.get("repositoryOpts")).get("repo")
    is_oci = isinstance(chart, str) and chart.startswith("oci://")
    if not is_oci and not repo:
        report(f"The Helm release '{args.name}' must name its chart repository.", None)


helm_pinned = resource_policy(
    name="k8s-helm-release-version-pinned",
    description="Helm releases must pin an exact chart version from a named repository.",
    validate=validate_helm_pinned,
    types=(HELM_RELEASE,),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("MLOPS-D8",),
)

POLICIES = [
    image_pinned,
    image_registry,
    resources_set,
    gpu_toleration,
    limit_range_gpu,
    quota_gpu_key,
    helm_pinned,
]
