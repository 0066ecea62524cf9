"""Shared by the serving tests (Knative, KServe, KEDA): args, the real render, pod checks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from components.k8s import knative, kserve
from components.k8s.artifact_access import ArtifactStoreRef
from contract import contract
from platformctl.checks import PlannedObject
from platformctl.render import program_objects, render_releases
from tests.conftest import SCOPE, Plan
from tests.platformctl.rendering import shared_charts_or_skip, tools_or_skip

KUBE_VERSION = "1.36"  # the version set these charts belong to (../shared/charts)
GENERAL = {"mlops-platform.io/pool": "general"}
BUCKET = "arn:aws:s3:::c1-artifacts-123456789012-eu-west-1"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/key-artifacts"
STORE = ArtifactStoreRef(bucket_arn=BUCKET, key_arn=KEY)
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
REGISTRIES = ("index.docker.io", "gcr.io", ECR)


def knative_args(**changes: Any) -> knative.KnativeArgs:
    base: dict[str, Any] = {
        "operator_namespace": "knative-operator",
        "serving_namespace": "knative-serving",
        "gateway_namespace": "istio-system",
        "gateway_service": "istio-ingressgateway",
        "gateway_selector": {"istio": "ingressgateway"},
        "domain": "example.com",
        "registries": REGISTRIES,
    }
    return knative.KnativeArgs(**{**base, **changes})


def kserve_args(**changes: Any) -> kserve.KserveArgs:
    base: dict[str, Any] = {
        "model_reader": contract().service_accounts["model_reader"],
        "artifacts": STORE,
        "aws": SCOPE,
        "namespace": "kserve",
        "workloads_namespace": "mlops",
        "region": "eu-west-1",
        "serving_namespace": "knative-serving",
        "gateway_namespace": "istio-system",
        "domain": "example.com",
    }
    return kserve.KserveArgs(**{**base, **changes})


def render(plan: Plan, cache: Path) -> list[PlannedObject]:
    """The plan's own objects and its releases rendered by the pinned helm at 1.36."""
    tools = tools_or_skip()
    charts = shared_charts_or_skip()
    resources = [r.as_json() for r in plan.registrations]
    rendered = render_releases(
        resources,
        kube_version=KUBE_VERSION,
        helm=tools.helm,
        helm_version=tools.helm_version,
        chart_cache=charts,
        render_cache=cache,
    )
    assert rendered.findings == []
    return program_objects(resources) + rendered.objects


def of_kind(objects: Sequence[PlannedObject], kind: str) -> dict[str, Mapping[str, Any]]:
    return {o.name: o.manifest for o in objects if o.kind == kind}


def pod_specs(objects: Sequence[PlannedObject]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for o in objects:
        if o.kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield f"{o.kind}/{o.name}", o.manifest["spec"]["template"]["spec"]


def restricted_problems(spec: Mapping[str, Any]) -> list[str]:
    """What keeps a pod spec from Pod Security `restricted` (the controls that values set)."""
    problems = []
    pod = spec.get("securityContext") or {}
    for kind in ("initContainers", "containers"):
        for c in spec.get(kind) or []:
            sc = c.get("securityContext") or {}
            name = c["name"]
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{name}: allowPrivilegeEscalation")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{name}: capabilities.drop ALL")
            if not (sc.get("runAsNonRoot") or pod.get("runAsNonRoot")):
                problems.append(f"{name}: runAsNonRoot")
            seccomp = (sc.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
            if seccomp not in ("RuntimeDefault", "Localhost"):
                problems.append(f"{name}: seccompProfile")
            if sc.get("privileged"):
                problems.append(f"{name}: privileged")
    return problems


def resource_problems(spec: Mapping[str, Any]) -> list[str]:
    out = []
    for kind in ("initContainers", "containers"):
        for c in spec.get(kind) or []:
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                for name in ("cpu", "memory"):
                    if (res.get(part) or {}).get(name) is None:
                        out.append(f"{c['name']}: {part}.{name}")
    return out


def on_general_pool(spec: Mapping[str, Any]) -> bool:
    """A nodeSelector on the general pool, or a required node affinity to it."""
    if spec.get("nodeSelector", {}).get("mlops-platform.io/pool") == "general":
        return True
    required = (
        (spec.get("affinity") or {})
        .get("nodeAffinity", {})
        .get("requiredDuringSchedulingIgnoredDuringExecution", {})
    )
    terms = required.get("nodeSelectorTerms") or []
    return bool(terms) and all(
        {"key": "mlops-platform.io/pool", "operator": "In", "values": ["general"]}
        in term.get("matchExpressions", [])
        for term in terms
    )


def cpu(value: str) -> float:
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


def mebibytes(value: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value) / 2**20
