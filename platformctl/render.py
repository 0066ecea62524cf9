"""Render every Helm release of the plan with the real helm: the objects the cluster would run.

The plan's `resources.json` holds the Helm releases as the engine sees them:
`kubernetes:helm.sh/v3:Release` (inputs `name`, `namespace`, `chart`, `version`,
`repositoryOpts.repo`, `values`) and `kubernetes:helm.sh/v4:Chart` (the same inputs; the
program installs every chart as one). Each is rendered with `helm template` from the
digest-verified chart cache (platformctl.charts), with exactly its release name,
namespace and values, `--kube-version` of the cluster, `--api-versions` of the CRDs the
platform installs, and CRDs included, the way each resource type installs it
(docs/decisions/0020-charts-locked-rendered-as-chart-v4.md):

- a v3 Release runs Helm itself: hooks are created (test hooks are not: only
  `helm test` runs them), so the render keeps them (`--skip-tests`);
- a v4 Chart registers `helm template`'s manifest without hooks (the provider sets
  `DisableHooks`): the render drops them from the plan and the render check names each
  one, since a chart that needs a hook does not work as a v4 Chart.

Both install the chart's `crds/` unless `skipCrds` is set, and set the release namespace
on namespaced objects that name none (Helm's client; the v4 Chart's `Normalize`).

The CRD API versions come from the plan itself, not a hand list: every release is
rendered, the served versions of every CRD in the plan (rendered or typed) become the
`--api-versions`, and the charts whose templates read `.Capabilities.APIVersions` are
rendered again with them until the set no longer changes. A chart that never reads
them renders the same whatever the set, so it is rendered once and cached without it.

Renders run in parallel and are cached on disk by (helm version, chart content digest,
release name, namespace, values digest, kube version, the API versions where the chart
reads them, hooks, CRDs): re-planning an unchanged stack runs no helm at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import yaml

from components.k8s import kfp_manifests
from components.k8s.charts import ChartPin
from components.k8s.kubeflow_pipelines import (
    DIRECTORY_TYPE,
    MANIFESTS_ROOT,
    PIN,
    kustomize_directories,
)
from platformctl.cache_dirs import cache_dir, write_atomically
from platformctl.chart_records import HOOK_ANNOTATION
from platformctl.charts import (
    ChartLockError,
    cached_chart,
    helm_environment,
    resolve_cache_dir,
)
from platformctl.checks import CheckResult, Finding, PlannedObject
from platformctl.kustomize import KustomizeError, kustomize, materialize
from platformctl.manifests import (
    HELM_TYPES,
    REDACTED,
    RELEASE_V3,
    is_kubernetes_object,
    kubernetes_object,
    object_filename,
)
from platformctl.wire import SIG_KEY, SIG_SECRET
from program.services import chart_lock

ENV_RENDER_CACHE: Final = "MLOPS_RENDER_CACHE"
CHECK: Final = "render"
KUSTOMIZE_CHECK: Final = "render"  # Directory findings belong to the same render check
HELM_TIMEOUT_S: Final = 120
MAX_API_ROUNDS: Final = 4
CRD_KIND: Final = "CustomResourceDefinition"

# libyaml: 10-20x faster on the charts' large CRDs and dashboards.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Loader(_BaseLoader):
    """YAML 1.1 as the API server reads it, plus the bare `=` scalar (a CRD enum value
    such as a label-selector operator) that PyYAML's safe loader has no constructor for."""


def _bare_value(loader: Any, node: Any) -> Any:
    loader.read_bare_value = True  # a document standard safe loaders refuse (parse_documents)
    return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:value", _bare_value)

# Built-in kinds that are cluster-scoped (everything else built in is namespaced). Custom
# kinds take their scope from the CRDs in the plan.
CLUSTER_SCOPED_KINDS: Final = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "DeviceClass",
        "FlowSchema",
        "IngressClass",
        "IPAddress",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "ResourceSlice",
        "RuntimeClass",
        "ServiceCIDR",
        "StorageClass",
        "StorageVersionMigration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeAttributesClass",
    }
)


class RenderError(RuntimeError):
    """helm or kubectl failed on one release or kustomization; the message is one line."""


# --- what the plan asks to render ------------------------------------------------------


def _plain(value: Any) -> Any:
    """Wire values to plain data: integral floats to ints, secrets to the marker."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SIG_SECRET:
            return REDACTED
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass(frozen=True)
class HelmRelease:
    """One Helm release of the plan, as its resource's inputs state it."""

    urn: str
    type: str
    name: str  # the release name
    namespace: str
    chart: str
    version: str
    repository: str
    values: Mapping[str, Any]
    skip_crds: bool = False

    @property
    def hooks(self) -> bool:
        """A v3 Release runs Helm's hooks; a v4 Chart registers no hook objects."""
        return self.type == RELEASE_V3

    @property
    def values_digest(self) -> str:
        return hashlib.sha256(json.dumps(self.values, sort_keys=True).encode()).hexdigest()


def helm_releases(resources: Iterable[Mapping[str, Any]]) -> list[HelmRelease]:
    """The v3 Releases and v4 Charts of a plan's resources.json, in order."""
    found: list[HelmRelease] = []
    for resource in resources:
        if resource.get("type") not in HELM_TYPES:
            continue
        inputs = _plain(resource.get("inputs") or {})
        chart = str(inputs.get("chart", ""))
        repository = str((inputs.get("repositoryOpts") or {}).get("repo", ""))
        if chart.startswith("oci://") and not repository:
            repository, _, chart = chart.rpartition("/")
        name = inputs.get("name")  # the release name; a v4 Chart defaults it to its own
        found.append(
            HelmRelease(
                urn=str(resource["urn"]),
                type=str(resource["type"]),
                name=str(name or resource["name"]),
                namespace=str(inputs.get("namespace") or "default"),
                chart=chart,
                version=str(inputs.get("version", "")),
                repository=repository,
                values=inputs.get("values") or {},
                skip_crds=bool(inputs.get("skipCrds", False)),
            )
        )
    return found


def program_objects(resources: Iterable[Mapping[str, Any]]) -> list[PlannedObject]:
    """The program's own typed Kubernetes objects of resources.json (source: their URN)."""
    return [
        PlannedObject(kubernetes_object(r.get("inputs") or {}), source=str(r["urn"]))
        for r in resources
        if is_kubernetes_object(str(r.get("type", ""))) and r.get("type") not in HELM_TYPES
    ]


def pin_for(release: HelmRelease, lock: Mapping[str, ChartPin]) -> ChartPin | None:
    for pin in lock.values():
        if pin.kind == "helm" and (pin.chart, pin.version) == (release.chart, release.version):
            return pin
    return None


# --- CRDs: scopes and API versions -----------------------------------------------------


def crd_api_versions(manifests: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """`group/version` and `group/version/Kind` of every served version of every CRD."""
    found: set[str] = set()
    for obj in manifests:
        if obj.get("kind") != CRD_KIND:
            continue
        spec = obj.get("spec") or {}
        group = spec.get("group")
        kind = (spec.get("names") or {}).get("kind")
        for version in spec.get("versions") or []:
            if group and version.get("name") and version.get("served", True) is True:
                found.add(f"{group}/{version['name']}")
                if kind:
                    found.add(f"{group}/{version['name']}/{kind}")
    return tuple(sorted(found))


def crd_scopes(manifests: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """(group, Kind) -> "Namespaced" | "Cluster", from the CRDs in the plan."""
    scopes: dict[tuple[str, str], str] = {}
    for obj in manifests:
        if obj.get("kind") == CRD_KIND:
            spec = obj.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            if spec.get("group") and kind:
                scopes[(spec["group"], kind)] = str(spec.get("scope", "Namespaced"))
    return scopes


def is_namespaced(obj: Mapping[str, Any], scopes: Mapping[tuple[str, str], str]) -> bool:
    api_version = str(obj.get("apiVersion", ""))
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    kind = str(obj.get("kind", ""))
    if (group, kind) in scopes:
        return scopes[(group, kind)] == "Namespaced"
    return kind not in CLUSTER_SCOPED_KINDS


def with_namespace(obj: dict[str, Any], namespace: str, scopes: Mapping[tuple[str, str], str]):
    """The object with the release namespace set where it is namespaced and names none."""
    metadata = obj.get("metadata") or {}
    if metadata.get("namespace") or not is_namespaced(obj, scopes):
        return obj
    return {**obj, "metadata": {**metadata, "namespace": namespace}}


# --- one helm template --------------------------------------------------------------------


@lru_cache(maxsize=64)
def reads_api_versions(chart_path: Path, digest: str) -> bool:
    """Whether any template of the chart (subcharts included) reads .Capabilities.APIVersions.

    `digest` keys the cache: a different chart at the same path is read again.
    """
    del digest
    with tarfile.open(chart_path, "r:gz") as tar:
        for member in tar:
            if member.isfile() and "/templates/" in f"/{member.name}":
                handle = tar.extractfile(member)
                if handle is not None and b"APIVersions" in handle.read():
                    return True
    return False


def parse_manifests(text: str) -> list[dict[str, Any]]:
    """Every object of a multi-document YAML stream; `List` objects expanded to their items."""
    return [obj for obj, _ in parse_documents(text)]


# A document marker: `---` at the start of a line, then a space, a tab or its end. YAML forbids
# such a line inside any content (`c-forbidden`): wherever it stands, a document starts there,
# so cutting the stream at these lines cuts it exactly where the parser does.
_DOCUMENT_START: Final = re.compile(r"^---(?=[ \t]|$)", re.M)


def parse_documents(text: str) -> list[tuple[dict[str, Any], str]]:
    """Every object of a multi-document YAML stream with its document's own text (helm's
    `# Source:` comment included): the text a manifest file can hold as it is, since it parses
    to the object. "" where one document holds several objects (a `List`'s items) or holds
    what PyYAML's safe loader refuses."""
    pairs: list[tuple[dict[str, Any], str]] = []
    for piece in _DOCUMENT_START.split(text):
        loader = _Loader(piece)
        try:
            docs = []
            while loader.check_data():
                doc = loader.get_data()
                if isinstance(doc, dict) and doc:
                    docs.append(doc)
        finally:
            loader.dispose()
        # A bare `=` scalar (a CRD's enum) is read by the API server and this loader, not by
        # PyYAML's safe loader (checkov, `validate`): such a document is written out instead.
        own = len(docs) == 1 and not getattr(loader, "read_bare_value", False)
        for doc in docs:
            if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
                pairs += [(item, "") for item in doc["items"] if isinstance(item, dict)]
            else:
                pairs.append((doc, piece.strip() + "\n" if own else ""))
    return pairs


def template_argv(
    helm: Path,
    release: HelmRelease,
    chart_path: Path,
    values_path: Path,
    kube_version: str,
    api_versions: Sequence[str],
) -> list[str]:
    argv = [
        str(helm),
        "template",
        release.name,
        str(chart_path),
        "--namespace",
        release.namespace,
        "--kube-version",
        kube_version,
        "--values",
        str(values_path),
        "--skip-tests",
    ]
    if not release.skip_crds:
        argv.append("--include-crds")
    # Hooks are rendered for both types: a v3 Release runs them, and for a v4 Chart, which
    # applies none, the render check names each one the chart would lose (`dropped_hooks`).
    for api_version in api_versions:
        argv += ["--api-versions", api_version]
    return argv


@dataclass(frozen=True)
class RenderJob:
    release: HelmRelease
    pin: ChartPin
    chart_path: Path
    reads_api: bool


def cache_key(job: RenderJob, helm_version: str, kube_version: str, api: Sequence[str]) -> str:
    material = {
        "helm": helm_version,
        "chart": job.pin.content_digest,
        "name": job.release.name,
        "namespace": job.release.namespace,
        "values": job.release.values_digest,
        "kube": kube_version,
        "api": list(api) if job.reads_api else None,
        "hooks": True,  # rendered for both types (template_argv)
        "crds": not job.release.skip_crds,
        "entry": "objects-and-texts",  # what an entry holds (Renderer._write)
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


class Renderer:
    """Runs `helm template` for jobs, through an on-disk cache; counts what it ran."""

    def __init__(
        self, helm: Path, helm_version: str, kube_version: str, cache_dir: Path | None
    ) -> None:
        self.helm, self.helm_version, self.kube_version = helm, helm_version, kube_version
        self.cache_dir = cache_dir
        self.helm_runs = 0
        self.cache_hits = 0
        self._count = threading.Lock()  # renders run in threads
        self._home = Path(tempfile.mkdtemp(prefix="mlops-helm-"))

    def close(self) -> None:
        import shutil  # noqa: PLC0415

        shutil.rmtree(self._home, ignore_errors=True)

    def render(self, job: RenderJob, api: Sequence[str]) -> list[tuple[dict[str, Any], str]]:
        """Each object helm renders, with its document's text (parse_documents)."""
        key = cache_key(job, self.helm_version, self.kube_version, api)
        cached = self._read(key)
        if cached is not None:
            with self._count:
                self.cache_hits += 1
            return cached
        with self._count:
            self.helm_runs += 1
        with tempfile.NamedTemporaryFile(
            "w", dir=self._home, suffix=".json", delete=False, encoding="utf-8"
        ) as values_file:
            json.dump(job.release.values, values_file)  # JSON is YAML
        argv = template_argv(
            self.helm, job.release, job.chart_path, Path(values_file.name), self.kube_version, api
        )
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                env=helm_environment(self._home),
                timeout=HELM_TIMEOUT_S,
                check=False,
            )
        finally:
            Path(values_file.name).unlink(missing_ok=True)
        if proc.returncode != 0:
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            reason = " ".join(lines[-3:]) if lines else f"helm exited {proc.returncode}"
            raise RenderError(f"helm template failed: {reason.removeprefix('Error: ')}")
        pairs = parse_documents(proc.stdout)
        self._write(key, pairs)
        return pairs

    def _path(self, key: str) -> Path | None:
        return self.cache_dir / f"{key}.json" if self.cache_dir is not None else None

    def _read(self, key: str) -> list[tuple[dict[str, Any], str]] | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            objects, texts = data["objects"], data["texts"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(objects, list) or not isinstance(texts, list):
            return None
        return list(zip(objects, texts, strict=True)) if len(objects) == len(texts) else None

    def _write(self, key: str, pairs: list[tuple[dict[str, Any], str]]) -> None:
        path = self._path(key)
        if path is None:
            return
        entry = {"objects": [o for o, _ in pairs], "texts": [t for _, t in pairs]}
        write_atomically(path, json.dumps(entry))


# --- every release of a plan ------------------------------------------------------------


@dataclass
class Rendered:
    """What rendering a plan's releases gave."""

    objects: list[PlannedObject] = field(default_factory=list)
    releases: list[HelmRelease] = field(default_factory=list)
    api_versions: tuple[str, ...] = ()
    helm_runs: int = 0
    cache_hits: int = 0
    notice: str = ""  # one line: why nothing (or not everything) was rendered
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    kustomizations: int = 0  # kustomize.v2.Directory resources (platformctl.kustomize)
    kustomized_objects: int = 0  # of `objects`, those the Directories render
    kubectl_runs: int = 0

    def check(self) -> CheckResult:
        return CheckResult(
            name=CHECK,
            mandatory=True,
            evaluated=len(self.releases) + self.kustomizations,
            findings=list(self.findings),
            details={
                "rendered_objects": len(self.objects),
                "helm_runs": self.helm_runs,
                "kubectl_runs": self.kubectl_runs,
                "cache_hits": self.cache_hits,
                "api_versions": list(self.api_versions),
                "notice": self.notice,
                "seconds": round(self.seconds, 3),
            },
        )


def default_render_cache(environ: Mapping[str, str] = os.environ) -> Path:
    """$MLOPS_RENDER_CACHE, else `<XDG cache>/mlops-platform/renders`."""
    return cache_dir(ENV_RENDER_CACHE, "renders", environ)


def _jobs(
    releases: Sequence[HelmRelease], lock: Mapping[str, ChartPin], chart_cache: Path
) -> tuple[list[RenderJob], list[Finding], list[str]]:
    jobs: list[RenderJob] = []
    findings: list[Finding] = []
    missing: list[str] = []
    for release in releases:
        pin = pin_for(release, lock)
        if pin is None:
            findings.append(
                Finding(
                    CHECK,
                    release.urn,
                    f"Release {release.name} installs chart {release.chart} {release.version}, "
                    "which the chart lock (the service modules' pins, "
                    "program.services.chart_lock) does not pin.",
                )
            )
            continue
        if pin.repository and release.repository.rstrip("/") != pin.repository.rstrip("/"):
            findings.append(
                Finding(
                    CHECK,
                    release.urn,
                    f"Release {release.name} pulls {pin.chart} from {release.repository}, "
                    f"but the lock pins it from {pin.repository}.",
                )
            )
        path = chart_cache / pin.filename
        if not path.is_file():
            missing.append(pin.filename)
            continue
        try:
            cached_chart(pin, chart_cache)
        except ChartLockError as exc:
            findings.append(Finding(CHECK, release.urn, str(exc)))
            continue
        jobs.append(RenderJob(release, pin, path, reads_api_versions(path, pin.content_digest)))
    return jobs, findings, missing


def split_hooks(
    objects: Sequence[dict[str, Any]], release: HelmRelease
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(what the cluster gets, the hooks it does not): a v3 Release runs its hooks, a v4
    Chart applies none (the provider sets `DisableHooks`)."""
    if release.hooks:
        return list(objects), []
    hooks = [
        o
        for o in objects
        if HOOK_ANNOTATION in ((o.get("metadata") or {}).get("annotations") or {})
    ]
    return [o for o in objects if o not in hooks], hooks


def dropped_hook(release: HelmRelease, hook: Mapping[str, Any]) -> Finding:
    """A hook a v4 Chart would not apply: the chart may not work without it."""
    metadata = hook.get("metadata") or {}
    when = (metadata.get("annotations") or {}).get(HOOK_ANNOTATION)
    return Finding(
        CHECK,
        release.urn,
        f"Release {release.name} renders the hook {hook.get('kind')} {metadata.get('name')} "
        f"(helm.sh/hook: {when}), which a helm.v4.Chart does not apply: turn it off through "
        "values, or install the chart as a helm.v3.Release with its reason "
        "(docs/decisions/0020-charts-locked-rendered-as-chart-v4.md).",
    )


def render_releases(
    resources: Sequence[Mapping[str, Any]],
    *,
    kube_version: str,
    helm: Path,
    helm_version: str,
    chart_cache: Path,
    render_cache: Path | None,
    lock: Mapping[str, ChartPin] | None = None,
    workers: int | None = None,
) -> Rendered:
    """Render every Helm release of `resources` (resources.json) into PlannedObjects."""
    started = time.perf_counter()
    releases = helm_releases(resources)
    outcome = Rendered(releases=releases)
    if not releases:
        return outcome
    jobs, outcome.findings, missing = _jobs(releases, lock or chart_lock(), chart_cache)
    if missing:
        outcome.notice = (
            f"{len(missing)} of {len(releases)} charts are not in the chart cache {chart_cache} "
            f"({', '.join(sorted(set(missing)))}): run `python -m platformctl charts pull` "
            "(or `make charts`); their releases are not rendered"
        )
    own = [o.manifest for o in program_objects(resources)]
    renderer = Renderer(helm, helm_version, kube_version, render_cache)
    rendered: dict[int, list[tuple[dict[str, Any], str]]] = {}  # (object, its text)
    used: dict[int, tuple[str, ...]] = {}

    def run(index: int, api: tuple[str, ...]) -> None:
        try:
            rendered[index] = renderer.render(jobs[index], api)
            used[index] = api
        except (RenderError, subprocess.TimeoutExpired) as exc:
            job = jobs[index]
            outcome.findings.append(
                Finding(
                    CHECK,
                    job.release.urn,
                    f"Release {job.release.name} ({job.pin.chart} {job.pin.version}) does not "
                    f"render: {str(exc).splitlines()[0]}",
                )
            )

    def everything() -> list[Mapping[str, Any]]:
        return own + [o for pairs in rendered.values() for o, _ in pairs]

    # Charts that never read the API versions first: their CRDs are then known when the
    # charts that do read them render, so a changed release renders once, not twice.
    readers = [i for i, job in enumerate(jobs) if job.reads_api]
    api = crd_api_versions(own)
    try:
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
            first = [i for i in range(len(jobs)) if i not in readers]
            list(pool.map(lambda i: run(i, api), first))
            pending = readers
            for _round in range(MAX_API_ROUNDS):
                api = crd_api_versions(everything())
                list(pool.map(lambda i, a=api: run(i, a), pending))
                after = crd_api_versions(everything())
                pending = [i for i in readers if i in rendered and used[i] != after]
                api = after
                if not pending:
                    break
    finally:
        renderer.close()
    scopes = crd_scopes(everything())
    for index in sorted(rendered):
        release = jobs[index].release
        texts = {id(obj): text for obj, text in rendered[index]}
        kept, dropped = split_hooks([obj for obj, _ in rendered[index]], release)
        outcome.findings += [dropped_hook(release, hook) for hook in dropped]
        for obj in kept:
            placed = with_namespace(obj, release.namespace, scopes)
            # helm's own text where it is the object still; else the object is written out.
            text = texts[id(obj)] if placed is obj else ""
            outcome.objects.append(PlannedObject(placed, release.urn, release.name, text))
    outcome.api_versions = api
    outcome.helm_runs, outcome.cache_hits = renderer.helm_runs, renderer.cache_hits
    outcome.seconds = time.perf_counter() - started
    return outcome


# --- writing them beside the program's objects -------------------------------------------


def redacted(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret's data and stringData values replaced by the marker: no plaintext on disk."""
    if manifest.get("kind") != "Secret" or manifest.get("apiVersion") != "v1":
        return dict(manifest)
    out = dict(manifest)
    for key in ("data", "stringData"):
        if isinstance(out.get(key), dict):
            out[key] = dict.fromkeys(out[key], REDACTED)
    return out


def collisions(objects: Sequence[PlannedObject]) -> list[Finding]:
    """Objects that would share a manifest file: on a cluster one would overwrite the other."""
    seen: dict[str, PlannedObject] = {}
    findings: list[Finding] = []
    for obj in objects:
        filename = object_filename(obj.manifest)
        first = seen.setdefault(filename, obj)
        if first is not obj:
            findings.append(
                Finding(
                    CHECK,
                    obj.ref,
                    f"{obj.kind} {obj.name} is created by both {first.source} and {obj.source}: "
                    f"on a cluster one would overwrite the other ({filename}).",
                )
            )
    return findings


def yaml_text(manifest: Mapping[str, Any], cache: Path | None) -> str:
    """The object as YAML. Dumping is pure Python even with libyaml (the representer), and
    the charts' dashboards and CRDs are large, so texts are kept by content digest."""
    path = None
    if cache is not None:
        digest = hashlib.sha256(json.dumps(manifest).encode()).hexdigest()
        path = cache / f"{digest}.yaml"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    text = yaml.dump(manifest, Dumper=_Dumper, sort_keys=False, width=100)
    if path is not None:
        write_atomically(path, text)
    return text


def write_rendered(
    rendered: Sequence[PlannedObject],
    program: Sequence[PlannedObject],
    directory: Path,
    yaml_cache: Path | None = None,
) -> tuple[list[Path], list[Finding]]:
    """Write the rendered objects into `directory` (one file per object, as
    platformctl.manifests names them), beside the program's own, which are already there.

    An object whose file another creator already holds is not written: it is a finding
    naming both creators. Secrets are written with their values redacted.
    """
    directory.mkdir(parents=True, exist_ok=True)
    findings = collisions([*program, *rendered])
    clashing = {f.subject for f in findings}
    program_refs = {p.ref for p in program}
    written: set[Path] = set()
    for obj in rendered:
        if obj.ref in clashing and obj.ref in program_refs:
            continue
        path = directory / object_filename(obj.manifest)
        if path in written:
            continue
        secret = obj.manifest.get("kind") == "Secret"  # never helm's text: values redacted
        text = (
            obj.text if obj.text and not secret else yaml_text(redacted(obj.manifest), yaml_cache)
        )
        path.write_text(text, encoding="utf-8")
        written.add(path)
    return sorted(written), findings


# --- kustomize ---------------------------------------------------------------------------


def render_kustomization(tarball: Path, directory: str, kubectl: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize` of one kustomization directory inside a manifests tarball."""
    with tempfile.TemporaryDirectory(prefix="mlops-kustomize-") as tmp:
        with tarfile.open(tarball, "r:gz") as tar:
            tar.extractall(tmp, filter="data")
        target = Path(tmp) / directory
        if not target.is_dir():
            raise RenderError(f"{tarball.name}: no directory {directory}")
        try:
            stream = kustomize(target, kubectl)
        except KustomizeError as exc:
            raise RenderError(str(exc)) from exc
    return parse_manifests(stream)


def render_pinned_kustomization(
    pin: ChartPin, chart_cache: Path, kubectl: Path
) -> list[PlannedObject]:
    """Every kustomization of a kustomize pin, verified from the cache, in the pin's order."""
    tarball = cached_chart(pin, chart_cache)
    source = f"kustomize:{pin.chart}@{pin.version}"
    return [
        PlannedObject(obj, source=f"{source}/{directory}", release=pin.chart)
        for directory in pin.kustomizations
        for obj in render_kustomization(tarball, directory, kubectl)
    ]


# --- the kustomize.v2.Directory resources (Kubeflow Pipelines; platformctl.kustomize) --------


@dataclass(frozen=True)
class DirectoryResource:
    urn: str
    directory: str


def directory_resources(resources: Iterable[Mapping[str, Any]]) -> list[DirectoryResource]:
    """The `kustomize.v2.Directory` resources of a plan's resources.json, in order."""
    return [
        DirectoryResource(str(r["urn"]), str((r.get("inputs") or {}).get("directory", "")))
        for r in resources
        if r.get("type") == DIRECTORY_TYPE
    ]


def known_parts(manifests_root: str = MANIFESTS_ROOT) -> dict[str, str]:
    """A Directory's `directory` -> the overlay part it applies (this tree's overlays)."""
    return {path: part for part, path in kustomize_directories(manifests_root).items()}


@dataclass
class KustomizeRendered:
    objects: list[PlannedObject] = field(default_factory=list)
    directories: list[DirectoryResource] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    kubectl_runs: int = 0
    cache_hits: int = 0
    notice: str = ""

    def check(self) -> CheckResult:
        return CheckResult(
            name=KUSTOMIZE_CHECK,
            mandatory=True,
            evaluated=len(self.directories),
            findings=list(self.findings),
            details={
                "rendered_objects": len(self.objects),
                "kubectl_runs": self.kubectl_runs,
                "cache_hits": self.cache_hits,
                "notice": self.notice,
            },
        )


def kustomize_cache_key(kubectl_version: str, part: str) -> str:
    material = {
        "kubectl": kubectl_version,
        "manifests": PIN.content_digest,
        "overlay": kfp_manifests.overlay_digest(),
        "part": part,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def render_directories(
    resources: Sequence[Mapping[str, Any]],
    *,
    kubectl: Path,
    kubectl_version: str,
    chart_cache: Path,
    render_cache: Path | None,
) -> KustomizeRendered:
    """Every Directory resource of `resources` rendered into PlannedObjects (source: its URN).

    A Directory whose path is not one of this tree's overlays is a finding: the plan
    could not show what it applies.
    """
    out = KustomizeRendered(directories=directory_resources(resources))
    if not out.directories:
        return out
    parts = known_parts()
    with tempfile.TemporaryDirectory(prefix="mlops-kfp-") as tmp:
        materialized: Path | None = None
        for resource in out.directories:
            part = parts.get(resource.directory)
            if part is None:
                out.findings.append(
                    Finding(
                        KUSTOMIZE_CHECK,
                        resource.urn,
                        f"Directory {resource.directory!r} is not one of the platform's "
                        f"overlays ({', '.join(sorted(parts))}): the plan cannot show its objects.",
                    )
                )
                continue
            key = kustomize_cache_key(kubectl_version, part)
            objects = _read_kustomized(render_cache, key)
            if objects is None:
                try:
                    materialized = materialized or materialize(chart_cache, Path(tmp))
                    text = kustomize(materialized / kfp_manifests.OVERLAY_ROOT / part, kubectl)
                    objects = parse_manifests(text)
                except (KustomizeError, subprocess.TimeoutExpired) as exc:
                    out.findings.append(
                        Finding(KUSTOMIZE_CHECK, resource.urn, str(exc).splitlines()[0])
                    )
                    continue
                out.kubectl_runs += 1
                _write_kustomized(render_cache, key, objects)
            else:
                out.cache_hits += 1
            out.objects += [PlannedObject(o, resource.urn, PIN.chart) for o in objects]
    return out


def _kustomize_path(cache: Path | None, key: str) -> Path | None:
    return cache / "kustomize" / f"{key}.json" if cache is not None else None


def _read_kustomized(cache: Path | None, key: str) -> list[dict[str, Any]] | None:
    path = _kustomize_path(cache, key)
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, list) else None


def _write_kustomized(cache: Path | None, key: str, objects: list[dict[str, Any]]) -> None:
    path = _kustomize_path(cache, key)
    if path is None:
        return
    write_atomically(path, json.dumps(objects))


# --- the plan's step -------------------------------------------------------------------------


@dataclass
class RenderStep:
    """The plan's rendering step: the rendered objects, their files, the check and a notice."""

    rendered: Rendered
    paths: list[Path] = field(default_factory=list)

    @property
    def objects(self) -> list[PlannedObject]:
        return self.rendered.objects

    @property
    def notice(self) -> str:
        return self.rendered.notice

    def check(self) -> CheckResult:
        return self.rendered.check()


def plan_step(
    resources: Sequence[Mapping[str, Any]],
    manifest_dir: Path,
    *,
    kube_version: str,
    chart_cache: Path | None = None,
    render_cache: Path | None = None,
) -> RenderStep:
    """Render the plan's releases into `manifest_dir` beside the program's objects.

    Without helm or without a chart cache the step renders nothing and says, in one
    line, how to get them; the rest of the plan is unaffected.
    """
    from platformctl.tools import ToolError, find_tools  # noqa: PLC0415

    releases = helm_releases(resources)
    cache = resolve_cache_dir(chart_cache)
    if not releases and not directory_resources(resources):
        return RenderStep(Rendered())
    if not cache.is_dir():
        return RenderStep(
            Rendered(
                releases=releases,
                notice=(
                    f"no chart cache at {cache}: run `python -m platformctl charts pull` "
                    f"(or `make charts`) to render the plan's {len(releases)} Helm releases"
                ),
            )
        )
    try:
        tools = find_tools()
    except ToolError as exc:
        return RenderStep(Rendered(releases=releases, notice=str(exc)))
    render_cache = render_cache or default_render_cache()
    # The kustomize.v2.Directory resources (Kubeflow Pipelines), beside the releases: kubectl
    # runs while helm does (both are processes of their own).
    with ThreadPoolExecutor(max_workers=1) as beside:
        directories = beside.submit(
            render_directories,
            resources,
            kubectl=tools.kubectl,
            kubectl_version=tools.kubectl_version,
            chart_cache=cache,
            render_cache=render_cache,
        )
        rendered = render_releases(
            resources,
            kube_version=kube_version,
            helm=tools.helm,
            helm_version=tools.helm_version,
            chart_cache=cache,
            render_cache=render_cache,
        )
        kustomized = directories.result()
    rendered.objects += kustomized.objects
    rendered.findings += kustomized.findings
    rendered.kustomizations = len(kustomized.directories)
    rendered.kustomized_objects = len(kustomized.objects)
    rendered.kubectl_runs = kustomized.kubectl_runs
    paths, clashes = write_rendered(
        rendered.objects, program_objects(resources), manifest_dir, render_cache / "yaml"
    )
    rendered.findings += clashes
    return RenderStep(rendered, paths)
