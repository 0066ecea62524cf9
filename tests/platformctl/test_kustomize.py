"""Kubeflow Pipelines' manifests rendered with the real kubectl: what the cluster would get."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from components.k8s import kfp_manifests as kfp
from components.k8s.kubeflow_pipelines import DIRECTORY_TYPE, PIN, kustomize_directories
from components.k8s.tenancy.plan import quota_for
from platformctl.kustomize import KustomizeError, materialize
from platformctl.render import render_directories
from platformctl.validate import DEFAULT_CRD_SCHEMA_DIR, validate_object
from tests.platformctl.rendering import ROOT, shared_charts_or_skip, tools_or_skip

URN = "urn:pulumi:dev-platform::mlops-platform::mlops:kubeflow_pipelines:KubeflowPipelines$"


def _resources(paths: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return [
        {
            "type": DIRECTORY_TYPE,
            "urn": f"{URN}{DIRECTORY_TYPE}::kustomize-kubeflow-pipelines-{part}",
            "inputs": {"directory": path},
        }
        for part, path in (paths or kustomize_directories()).items()
    ]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory):
    tools = tools_or_skip()
    charts = shared_charts_or_skip()
    return render_directories(
        _resources(),
        kubectl=tools.kubectl,
        kubectl_version=tools.kubectl_version,
        chart_cache=charts,
        render_cache=tmp_path_factory.mktemp("render-cache"),
    )


def _objects(rendered, kind: str | None = None) -> list[dict[str, Any]]:
    return [o.manifest for o in rendered.objects if kind is None or o.kind == kind]


def test_both_directories_render_without_findings(rendered) -> None:
    assert rendered.findings == []
    assert rendered.kubectl_runs == 2
    sources = Counter(o.source.rpartition("::")[2] for o in rendered.objects)
    assert sources["kustomize-kubeflow-pipelines-cluster"] == 12  # 11 CRDs, a params ConfigMap
    assert {o.release for o in rendered.objects} == {PIN.chart}


def test_exactly_the_kept_workloads_are_deployed(rendered) -> None:
    names = {d["metadata"]["name"] for d in _objects(rendered, "Deployment")}
    assert names == set(kfp.KEPT_DEPLOYMENTS)
    kinds = Counter(o.kind for o in rendered.objects)
    assert kinds["ServiceAccount"] == 0  # every account is typed by the component
    assert kinds["MutatingWebhookConfiguration"] == 0
    assert kinds["PersistentVolumeClaim"] == 0  # no in-cluster state
    assert kinds["Secret"] == 0  # no static keys, credentials through External Secrets
    assert kinds["Namespace"] == 0  # the tenancy baseline owns it


def test_no_object_carries_an_object_store_key(rendered) -> None:
    text = json.dumps(_objects(rendered)).lower()
    assert "minio123" not in text
    assert "mlpipeline-minio-artifact" not in text
    assert "seaweedfs" not in text


def _pods(rendered) -> list[tuple[str, dict[str, Any]]]:
    return [
        (d["metadata"]["name"], d["spec"]["template"]["spec"])
        for d in _objects(rendered, "Deployment")
    ]


def test_every_pod_meets_restricted_pod_security_on_the_general_pool(rendered) -> None:
    for name, pod in _pods(rendered):
        assert pod["nodeSelector"]["mlops-platform.io/pool"] == "general", name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert not pod.get("hostNetwork") and not pod.get("hostPID"), name
        assert pod["serviceAccountName"] in {a.name for a in kfp.ACCOUNTS}, name
        for volume in pod.get("volumes", []):
            assert "hostPath" not in volume, name
        for container in pod["containers"] + pod.get("initContainers", []):
            where = f"{name}/{container['name']}"
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in context["capabilities"], where
            assert context.get("privileged") in (None, False), where
            assert context["runAsUser"] >= 10000, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert set(container["resources"]) == {"requests", "limits"}, where
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where


def test_the_api_server_and_ml_metadata_get_the_rds_ca_first(rendered) -> None:
    for name, pod in _pods(rendered):
        if name not in ("ml-pipeline", "metadata-grpc-deployment"):
            continue
        fetch = next(c for c in pod["initContainers"] if c["name"] == "fetch-rds-ca")
        assert {"name": kfp.RDS_CA_VOLUME, "mountPath": kfp.RDS_CA_DIR} in fetch["volumeMounts"]
        assert {"name": kfp.RDS_CA_VOLUME, "emptyDir": {"sizeLimit": "1Mi"}} in pod["volumes"]


def test_the_deployments_read_only_the_typed_config_and_secrets(rendered) -> None:
    config_maps, secrets = set(), set()
    for _name, pod in _pods(rendered):
        for container in pod["containers"] + pod.get("initContainers", []):
            for env in container.get("env", []):
                source = env.get("valueFrom") or {}
                if "configMapKeyRef" in source:
                    config_maps.add(source["configMapKeyRef"]["name"])
                if "secretKeyRef" in source:
                    secrets.add(source["secretKeyRef"]["name"])
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                secrets.add(volume["secret"]["secretName"])
    assert secrets == {kfp.DB_SECRET, kfp.MLMD_CONFIG_SECRET}
    rendered_maps = {o["metadata"]["name"] for o in _objects(rendered, "ConfigMap")}
    assert config_maps - rendered_maps == {kfp.CONFIG_MAP}  # typed by the component


def test_the_platform_requests_fit_the_namespace_quota(rendered) -> None:
    def cpu(value: str) -> float:
        return float(value[:-1]) / 1000 if value.endswith("m") else float(value)

    requested = sum(
        cpu(c["resources"]["requests"]["cpu"])
        for _n, pod in _pods(rendered)
        for c in pod["containers"]
    )
    quota = quota_for("kubeflow", gpu_quota=4)
    # The control plane leaves most of the namespace's CPU to pipeline runs.
    assert requested < cpu(quota.requests_cpu) / 4


def test_a_second_render_reads_the_cache(rendered, tmp_path: Path) -> None:
    tools = tools_or_skip()
    cache = tmp_path / "cache"
    first = render_directories(
        _resources(),
        kubectl=tools.kubectl,
        kubectl_version=tools.kubectl_version,
        chart_cache=shared_charts_or_skip(),
        render_cache=cache,
    )
    second = render_directories(
        _resources(),
        kubectl=tools.kubectl,
        kubectl_version=tools.kubectl_version,
        chart_cache=shared_charts_or_skip(),
        render_cache=cache,
    )
    assert (first.kubectl_runs, second.kubectl_runs, second.cache_hits) == (2, 0, 2)
    assert [o.manifest for o in second.objects] == [o.manifest for o in first.objects]


# --- the defects the step exists to catch ---------------------------------------------------


def test_a_directory_that_is_not_an_overlay_of_this_tree_is_a_finding(tmp_path: Path) -> None:
    tools = tools_or_skip()
    stale = {"platform": "out/kustomize/kubeflow-pipelines-manifests-2.17.0-000000000000/x"}
    result = render_directories(
        _resources(stale),
        kubectl=tools.kubectl,
        kubectl_version=tools.kubectl_version,
        chart_cache=shared_charts_or_skip(),
        render_cache=None,
    )
    (finding,) = result.findings
    assert "is not one of the platform's overlays" in finding.message
    assert result.objects == []


def _tampered_cache(tmp_path: Path) -> Path:
    """A copy of the pinned tarball with one manifest changed: the digests no longer match."""
    original = shared_charts_or_skip() / PIN.filename
    out = io.BytesIO()
    with tarfile.open(original, "r:gz") as src, tarfile.open(fileobj=out, mode="w:gz") as dst:
        for member in src:
            data = src.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if member.name.endswith("mysql-secret.yaml") and data is not None:
                data = data.replace(b"root", b"admin")
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    cache = tmp_path / "charts"
    cache.mkdir()
    (cache / PIN.filename).write_bytes(out.getvalue())
    return cache


def test_a_tampered_tarball_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KustomizeError, match=PIN.filename):
        materialize(_tampered_cache(tmp_path), tmp_path / "project")
    assert not (tmp_path / "project" / "out" / "kustomize").exists() or not any(
        (tmp_path / "project" / "out" / "kustomize").iterdir()
    )


def test_materialize_writes_the_overlays_beside_the_upstream_once(tmp_path: Path) -> None:
    charts = shared_charts_or_skip()
    root = materialize(charts, tmp_path)
    for relative, text in kfp.overlay_files().items():
        assert (root / relative).read_text(encoding="utf-8") == text
    assert (root / "manifests/kustomize/env/platform-agnostic/kustomization.yaml").is_file()
    marker = json.loads((root / ".materialized").read_text())
    assert marker == {"pin": PIN.digest, "overlay": kfp.overlay_digest()}
    # Idempotent: the copy is reused, not rewritten.
    stamp = (root / ".materialized").stat().st_mtime_ns
    assert materialize(charts, tmp_path) == root
    assert (root / ".materialized").stat().st_mtime_ns == stamp
    shutil.rmtree(root)


def test_the_api_server_is_the_release_the_pipelines_client_pairs_with(rendered) -> None:
    """`python -m pipelines submit` speaks v2beta1 through kfp.Client; KFP releases its SDK,
    API client and backend in step, so the backend must be the client's minor."""
    (api,) = [d for d in _objects(rendered, "Deployment") if d["metadata"]["name"] == "ml-pipeline"]
    image = api["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"ghcr.io/kubeflow/kfp-api-server:{PIN.version}"
    pins = dict(
        line.split("==", 1)
        for line in (ROOT / "pipelines" / "requirements.txt").read_text().splitlines()
        if line.startswith(("kfp==", "kfp-server-api=="))
    )
    minor = ".".join(PIN.version.split(".")[:2])
    assert {name: v.split(".")[:2] for name, v in pins.items()} == {
        "kfp": minor.split("."),
        "kfp-server-api": minor.split("."),
    }


@pytest.mark.parametrize("version", ["1.33", "1.36"])
def test_every_rendered_object_validates_at_the_cluster_minors(rendered, version: str) -> None:
    """Built-in kinds strictly at today's minor and at the 1.36 the platform moves to; the
    CRDs themselves are built-in objects (their custom resources are Argo's, at run time)."""
    results = [
        validate_object(o.manifest, version, DEFAULT_CRD_SCHEMA_DIR) for o in rendered.objects
    ]
    assert [errors for _kind, errors in results if errors] == []
    assert {kind for kind, _errors in results} == {"builtin"}
