"""render_manifests: one YAML per Kubernetes object, one summary per Helm release."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.k8s.cluster_autoscaler import CHARTS
from platformctl.manifests import object_filename, render_manifests, to_plain
from platformctl.wire import SIG_KEY as SIG
from platformctl.wire import SIG_SECRET as SECRET
from tests.conftest import Plan


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, dev: Plan) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("plan") / "manifests"
    return out, render_manifests([r.as_json() for r in dev.registrations], out)


def test_to_plain_converts_wire_format() -> None:
    assert to_plain({"b": 3.0, "a": [1.5, {SIG: SECRET, "value": "[secret]"}]}) == {
        "a": [1.5, "[secret]"],
        "b": 3,
    }


def test_one_file_per_object_and_release(rendered: tuple[Path, list[Path]], dev: Plan) -> None:
    out, paths = rendered
    # A kustomize.v2.Directory is a component: its objects are rendered, not written here.
    components = ("kubernetes:helm.sh/v3:Release", "kubernetes:kustomize/v2:Directory")
    objects = [
        r
        for r in dev.registrations
        if r.type.startswith("kubernetes:") and r.type not in components
    ]
    releases = dev.by_type("kubernetes:helm.sh/v3:Release")
    assert len(list(out.glob("*.yaml"))) == len(objects)
    assert len(list((out / "helm-releases").glob("*.yaml"))) == len(releases)
    assert len(paths) == len(objects) + len(releases)


def test_object_file_content(rendered: tuple[Path, list[Path]]) -> None:
    out, _ = rendered
    quota = yaml.safe_load((out / "mlops--resourcequota--tenant-quota.yaml").read_text())
    assert list(quota)[:3] == ["apiVersion", "kind", "metadata"]
    assert quota["spec"]["hard"]["requests.nvidia.com/gpu"] == "4"
    namespace = yaml.safe_load((out / "_cluster--namespace--mlops.yaml").read_text())
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    policy = yaml.safe_load((out / "mlflow--networkpolicy--allow-egress-postgres.yaml").read_text())
    port = policy["spec"]["egress"][0]["ports"][0]["port"]
    assert port == 5432
    assert isinstance(port, int)


def test_release_summary(rendered: tuple[Path, list[Path]]) -> None:
    out, _ = rendered
    summary = yaml.safe_load(
        (out / "helm-releases" / "cluster-autoscaler--cluster-autoscaler.yaml").read_text()
    )
    assert {k: summary[k] for k in ("name", "namespace", "chart", "version", "repository")} == {
        "name": "cluster-autoscaler",
        "namespace": "cluster-autoscaler",
        "chart": "cluster-autoscaler",
        "version": CHARTS["cluster-autoscaler"].version,
        "repository": "https://kubernetes.github.io/autoscaler",
    }
    assert summary["values"]["autoDiscovery"] == {"clusterName": "mlops-platform-dev"}


def test_duplicate_objects_are_an_error(tmp_path: Path) -> None:
    reg = {
        "type": "kubernetes:core/v1:ConfigMap",
        "urn": "u1",
        "inputs": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "n"},
        },
    }
    with pytest.raises(ValueError, match="n--configmap--a.yaml"):
        render_manifests([reg, {**reg, "urn": "u2"}], tmp_path)


def test_filenames() -> None:
    assert object_filename({"kind": "StorageClass", "metadata": {"name": "gp3"}}) == (
        "_cluster--storageclass--gp3.yaml"
    )
