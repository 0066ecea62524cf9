"""The checks' context: Helm's crds/ directories read from chart archives, kept by digest."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from platformctl.check_context import (
    _crd_file,
    builtin_kinds,
    chart_crd_directories,
    crd_names_in,
)
from tests.platformctl.rendering import shared_charts_or_skip

CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.org
spec:
  group: example.org
"""
# metadata after spec: the head-only parse must fall back to the whole document.
CRD_SPEC_FIRST = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  group: example.org
metadata:
  name: gadgets.example.org
"""


@pytest.mark.parametrize(
    ("path", "in_crds"),
    [
        ("chart/crds/widgets.yaml", True),
        ("chart/charts/crds/crds/crd-servicemonitors.yaml", True),  # kube-prometheus-stack's
        ("chart/charts/a/charts/b/crds/x.yaml", True),
        ("chart/templates/crds/x.yaml", False),  # a template: rendered, not pre-installed
        ("chart/charts/crds/templates/upgrade/crds.yaml", False),
        ("chart/crds", False),
    ],
)
def test_helm_crds_directories(path: str, in_crds: bool) -> None:
    assert _crd_file(path.split("/")) is in_crds


def test_crd_names_from_the_document_heads() -> None:
    text = f"{CRD}---\n{CRD_SPEC_FIRST}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
    assert crd_names_in(text) == {"widgets.example.org", "gadgets.example.org"}


def _chart(tmp_path: Path) -> Path:
    """A chart archive with a CRD in crds/, one in a packaged subchart's crds/, one template."""

    def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    sub = io.BytesIO()
    with tarfile.open(fileobj=sub, mode="w:gz") as tar:
        add(tar, "sub/crds/gadgets.yaml", CRD_SPEC_FIRST.encode())
    path = tmp_path / "chart-1.0.0.tgz"
    with tarfile.open(path, "w:gz") as tar:
        add(tar, "chart/crds/widgets.yaml", CRD.encode())
        add(tar, "chart/charts/sub-1.0.0.tgz", sub.getvalue())
        add(tar, "chart/templates/crd.yaml", CRD.replace("widgets", "templated").encode())
    return path


def test_a_chart_archives_crds_directories_are_kept_by_digest(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    names = chart_crd_directories(_chart(tmp_path), "digest-1", cache)
    assert names == {"widgets.example.org", "gadgets.example.org"}
    assert (cache / "checks" / "crds-digest-1.json").is_file()
    chart_crd_directories.cache_clear()
    # The next plan reads the kept entry, not the archive.
    assert chart_crd_directories(tmp_path / "absent.tgz", "digest-1", cache) == names


def test_kube_prometheus_stacks_crds_come_from_its_crds_subchart() -> None:
    chart = shared_charts_or_skip() / "kube-prometheus-stack-78.3.0.tgz"
    names = chart_crd_directories(chart, "kube-prometheus-stack-78.3.0")
    assert "servicemonitors.monitoring.coreos.com" in names and len(names) == 10


def test_builtin_kinds_are_the_minors_without_alpha_and_kept(tmp_path: Path) -> None:
    kinds = builtin_kinds("1.33", tmp_path)
    assert ("", "v1", "Pod") in kinds and ("apps", "v1", "DaemonSet") in kinds
    assert ("monitoring.coreos.com", "v1", "ServiceMonitor") not in kinds
    assert not [k for k in kinds if "alpha" in k[1]]
    assert list((tmp_path / "checks").glob("kinds-*-1.33.json"))
