"""The chart lock: digests as index.json records them, content digests, and `charts pull`
against a real Helm repository served on 127.0.0.1."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import re
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.k8s.charts import ChartPin
from components.k8s.kubeflow_pipelines import KUSTOMIZATIONS
from platformctl.__main__ import main as cli
from platformctl.charts import (
    ChartLockError,
    cached_chart,
    content_digest,
    default_cache_dir,
    helm_environment,
    pull,
    resolve_cache_dir,
    verify_bytes,
)
from program.services import chart_lock, chart_table
from tests.platformctl.rendering import shared_charts_or_skip, tools_or_skip

CHARTS = chart_table()


def _repack(data: bytes, *, mtime: int, level: int, extra: bytes | None = None) -> bytes:
    """The same archive with other timestamps, owners and gzip level (and maybe a file more)."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as src,
        gzip.GzipFile(fileobj=out, mode="wb", compresslevel=level, mtime=mtime) as gz,
        tarfile.open(fileobj=gz, mode="w") as dst,
    ):
        members = [m for m in src if m.isfile()]
        for member in reversed(members):  # another member order too
            body = src.extractfile(member).read()  # type: ignore[union-attr]
            member.mtime, member.uid, member.uname = mtime, 1234, "someone"
            dst.addfile(member, io.BytesIO(body))
        if extra is not None:
            info = tarfile.TarInfo(f"{members[0].name.split('/')[0]}/templates/extra.yaml")
            info.size = len(extra)
            dst.addfile(info, io.BytesIO(extra))
    return out.getvalue()


def test_pins_record_the_digests_of_index_json() -> None:
    charts = shared_charts_or_skip()
    entries = {e["file"]: e for e in json.loads((charts / "index.json").read_text())["entries"]}
    for key, pin in chart_lock().items():
        entry = entries[pin.filename]
        assert (pin.chart.removesuffix("-manifests"), pin.version) == (
            entry["name"],
            entry["version"],
        ), key
        assert pin.digest == entry["sha256"], key
        assert pin.published_digest == (entry["published_digest"] or ""), key
        assert pin.repository == (entry["repository"] if pin.kind == "helm" else ""), key
        data = (charts / pin.filename).read_bytes()
        assert hashlib.sha256(data).hexdigest() == pin.digest, key
        assert content_digest(data) == pin.content_digest, key


def test_every_pin_has_a_digest_and_a_kind() -> None:
    assert all(p.kind == "helm" and len(p.digest) == 64 for p in CHARTS.values())
    kfp = KUSTOMIZATIONS["kubeflow-pipelines"]
    assert kfp.kind == "kustomize"
    assert kfp.filename == "kubeflow-pipelines-manifests-2.17.0.tgz"
    assert kfp.kustomizations == (
        "manifests/kustomize/cluster-scoped-resources",
        "manifests/kustomize/env/platform-agnostic",
    )


def test_content_digest_ignores_timestamps_order_owners_and_gzip() -> None:
    charts = shared_charts_or_skip()
    pin = CHARTS["external-dns"]
    data = (charts / pin.filename).read_bytes()
    rebuilt = _repack(data, mtime=1_000_000_000, level=1)
    assert hashlib.sha256(rebuilt).hexdigest() != pin.digest
    assert content_digest(rebuilt) == pin.content_digest
    assert verify_bytes(pin, rebuilt, "a mirror") == "content"
    assert verify_bytes(pin, data, "the cache") == "sha256"


def test_the_published_digest_verifies() -> None:
    pin = replace(CHARTS["external-dns"], published_digest=hashlib.sha256(b"upstream").hexdigest())
    assert verify_bytes(pin, b"upstream", "upstream") == "sha256"


def test_changed_content_fails_with_one_line_naming_the_chart() -> None:
    charts = shared_charts_or_skip()
    pin = CHARTS["external-dns"]
    tampered = _repack((charts / pin.filename).read_bytes(), mtime=0, level=9, extra=b"kind: X\n")
    with pytest.raises(ChartLockError) as err:
        verify_bytes(pin, tampered, "a mirror")
    message = str(err.value)
    assert message.startswith(f"{pin.filename} (a mirror): digest mismatch: sha256 ")
    assert "\n" not in message
    with pytest.raises(ChartLockError, match="is not a chart archive"):
        verify_bytes(pin, b"not a tarball", "a mirror")


def test_cache_folder_precedence(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert default_cache_dir(env) == tmp_path / "xdg" / "mlops-platform" / "charts"
    assert resolve_cache_dir(None, env) == tmp_path / "xdg" / "mlops-platform" / "charts"
    env["MLOPS_CHART_CACHE"] = str(tmp_path / "env")
    assert resolve_cache_dir(None, env) == tmp_path / "env"
    assert resolve_cache_dir(tmp_path / "flag", env) == tmp_path / "flag"
    assert default_cache_dir({}).parts[-3:] == (".cache", "mlops-platform", "charts")


def test_cached_chart_says_how_to_get_a_missing_one(tmp_path: Path) -> None:
    pin = CHARTS["istio-base"]
    with pytest.raises(
        ChartLockError, match=rf"^{re.escape(pin.filename)}: not in the chart cache "
    ):
        cached_chart(pin, tmp_path)


# --- a real Helm repository on 127.0.0.1 ----------------------------------------------------


@pytest.fixture
def helm_repo(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`helm repo index` over copies of two shared charts, served over HTTP on 127.0.0.1."""
    charts = shared_charts_or_skip()
    helm = tools_or_skip().helm
    root = tmp_path / "repo"
    root.mkdir()
    for pin in (CHARTS["external-dns"], CHARTS["dcgm-exporter"]):
        shutil.copy(charts / pin.filename, root / pin.filename)
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0),
        functools.partial(_QuietHandler, directory=str(root)),
    )
    url = f"http://127.0.0.1:{server.server_address[1]}"
    subprocess.run(
        [str(helm), "repo", "index", str(root), "--url", url],
        check=True,
        capture_output=True,
        env=helm_environment(tmp_path / "helm-home"),
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, root
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _local(pin: ChartPin, url: str) -> ChartPin:
    return replace(pin, repository=url)


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.is_dir() else []


def test_pull_fetches_and_verifies(helm_repo: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = helm_repo
    helm = tools_or_skip().helm
    cache = tmp_path / "cache"
    pins = {k: _local(CHARTS[k], url) for k in ("external-dns", "dcgm-exporter")}
    done, errors = pull(cache, helm, pins)
    assert errors == []
    assert [(d.key, d.action, d.verified_by) for d in done] == [
        ("dcgm-exporter", "pulled", "sha256"),
        ("external-dns", "pulled", "sha256"),
    ]
    assert _leftovers(cache) == sorted(p.filename for p in pins.values())
    again, errors = pull(cache, helm, pins)
    assert errors == []
    assert [d.action for d in again] == ["cached", "cached"]


def test_pull_refuses_a_chart_whose_digest_differs(
    helm_repo: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = helm_repo
    helm = tools_or_skip().helm
    pin = CHARTS["external-dns"]
    # The repository now serves other content under the same name and version.
    tampered = _repack((root / pin.filename).read_bytes(), mtime=0, level=9, extra=b"kind: X\n")
    (root / pin.filename).write_bytes(tampered)
    cache = tmp_path / "cache"
    done, errors = pull(cache, helm, {"external-dns": _local(pin, url)})
    assert done == []
    assert len(errors) == 1
    assert errors[0].startswith(f"{pin.filename} (pulled from {url}): digest mismatch: sha256 ")
    assert _leftovers(cache) == []  # no partial file, no temporary folder


def test_pull_reports_a_missing_chart(helm_repo: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = helm_repo
    helm = tools_or_skip().helm
    cache = tmp_path / "cache"
    absent = replace(_local(CHARTS["cluster-autoscaler"], url))
    done, errors = pull(cache, helm, {"cluster-autoscaler": absent})
    assert done == []
    assert len(errors) == 1
    assert errors[0].startswith(
        f"{absent.filename}: cannot pull cluster-autoscaler {absent.version} from {url}: "
    )
    assert "\n" not in errors[0]
    assert _leftovers(cache) == []


def test_unpublished_manifests_must_be_copied(tmp_path: Path) -> None:
    helm = tools_or_skip().helm
    done, errors = pull(tmp_path, helm, dict(KUSTOMIZATIONS))
    assert done == []
    assert errors == [
        f"kubeflow-pipelines-manifests-2.17.0.tgz: not in the chart cache {tmp_path}, and no "
        f"repository publishes it ({KUSTOMIZATIONS['kubeflow-pipelines'].source}): copy it "
        "from ../shared/charts/"
    ]


def test_cli_verifies_every_pin_in_the_shared_cache(capsys) -> None:
    charts = shared_charts_or_skip()
    tools_or_skip()
    assert cli(["charts", "pull", "--cache", str(charts)]) == 0
    out = capsys.readouterr().out
    for pin in chart_lock().values():
        assert f"cached {charts / pin.filename} (verified by sha256)" in out
