"""Fixture builders for the cost and critical-path tests: resources.json records and objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from platformctl.checks import PlannedObject


def record(
    urn: str,
    typ: str,
    inputs: Mapping[str, Any] | None = None,
    *,
    deps: Sequence[str] = (),
    parent: str = "",
    custom: bool = True,
    provider: str = "",
    property_dependencies: Mapping[str, Sequence[str]] | None = None,
    name: str = "",
) -> dict[str, Any]:
    return {
        "urn": urn,
        "type": typ,
        "name": name or urn,
        "parent": parent,
        "custom": custom,
        "inputs": dict(inputs or {}),
        "dependencies": list(deps),
        "property_dependencies": {k: list(v) for k, v in (property_dependencies or {}).items()},
        "provider": provider,
        "protect": False,
        "aliases": [],
    }


def obj(
    kind: str,
    name: str,
    namespace: str = "",
    *,
    api_version: str = "v1",
    source: str = "",
    annotations: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    **body: Any,
) -> PlannedObject:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if annotations:
        metadata["annotations"] = dict(annotations)
    if labels:
        metadata["labels"] = dict(labels)
    return PlannedObject(
        {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}, source
    )


def container(cpu: str | None = None, memory: str | None = None, **extra: Any) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": "c", "image": "x", "resources": {"requests": requests}, **extra}


def workload(
    kind: str,
    name: str,
    namespace: str,
    containers: Sequence[Mapping[str, Any]],
    *,
    replicas: int | None = None,
    pool: str | None = "general",
    source: str = "",
    init: Sequence[Mapping[str, Any]] = (),
    pod_labels: Mapping[str, str] | None = None,
) -> PlannedObject:
    spec: dict[str, Any] = {"containers": list(containers)}
    if init:
        spec["initContainers"] = list(init)
    if pool is not None:
        spec["nodeSelector"] = {"mlops-platform.io/pool": pool}
    body: dict[str, Any] = {
        "template": {"metadata": {"labels": dict(pod_labels or {})}, "spec": spec}
    }
    if replicas is not None:
        body["replicas"] = replicas
    return obj(kind, name, namespace, api_version="apps/v1", source=source, spec=body)


def gp3_class(name: str = "gp3-encrypted", *, default: bool = True) -> PlannedObject:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else None
    return obj(
        "StorageClass",
        name,
        api_version="storage.k8s.io/v1",
        annotations=annotations,
        provisioner="ebs.csi.aws.com",
        parameters={"type": "gp3", "encrypted": "true"},
    )


def planned_objects(
    resources: Sequence[Mapping[str, Any]], kube_version: str
) -> list[PlannedObject]:
    """What the plan priced and timed: the program's objects and every release rendered by the
    real helm with the pinned charts (from the render cache the plans filled: JSON, fast),
    each attributed to its release. Skipped, saying why, without helm or the charts."""
    from platformctl.render import default_render_cache, program_objects, render_releases
    from tests.platformctl.rendering import shared_charts_or_skip, tools_or_skip

    tools = tools_or_skip()
    rendered = render_releases(
        resources,
        kube_version=kube_version,
        helm=tools.helm,
        helm_version=tools.helm_version,
        chart_cache=shared_charts_or_skip(),
        render_cache=default_render_cache(),
    )
    if rendered.notice or rendered.findings:
        pytest.skip(f"the charts did not all render: {rendered.notice or rendered.findings[0]}")
    return [*program_objects(resources), *rendered.objects]
