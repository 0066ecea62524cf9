"""The pin of one Helm chart (or kustomize tarball), and its lock entry.

Each platform service's module pins its own charts; `program.services` gathers
every pin into the chart table and lock the plan and `platformctl charts` read
(docs/decisions/0008-charts-pinned-and-rendered.md).

Each pin is also a lock entry (docs/decisions/0020-charts-locked-rendered-as-chart-v4.md):
`digest` is the sha256 of the packaged chart as `../shared/charts/index.json` records
it, `published_digest` the repository index's digest where upstream publishes other
bytes for the same chart, and `content_digest` a digest over the chart's files
(paths and contents; no tar timestamps, owners or gzip), so that a repackaging of the
same files verifies too. `platformctl.charts` checks every chart it pulls or renders
against them. Bump a pin only to a chart that is in `../shared/charts/`.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Literal


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.removeprefix("v").split(".")[:2]
    return int(major), int(minor)


@dataclass(frozen=True)
class KubernetesRange:
    """The Kubernetes minors a component's project supports, and where it says so
    (docs/decisions/0018-one-version-set.md). `maximum` is None where the project
    publishes no upper bound; `tested` notes what its CI covers when that is narrower."""

    minimum: str
    maximum: str | None
    source: str
    tested: str = ""

    def contains(self, minor: str) -> bool:
        if _minor(minor) < _minor(self.minimum):
            return False
        return self.maximum is None or _minor(minor) <= _minor(self.maximum)

    def __str__(self) -> str:
        return f"{self.minimum}-{self.maximum}" if self.maximum else f">= {self.minimum}"


@dataclass(frozen=True)
class ChartPin:
    chart: str
    version: str
    repository: str
    source: str  # where the pinned version is cited
    _: KW_ONLY
    digest: str  # sha256 of the packaged chart (../shared/charts/index.json `sha256`)
    content_digest: str  # sha256 over its files' paths and contents (platformctl.charts)
    published_digest: str = ""  # the repository index's digest, where index.json gives one
    kind: Literal["helm", "kustomize"] = "helm"
    # kustomize pins: the kustomization directories inside the tarball, applied in order.
    kustomizations: tuple[str, ...] = ()
    # The Kubernetes minors the component supports; a test holds the cluster inside it.
    kubernetes: KubernetesRange | None = None
    # The cache file's name where upstream's archive is not `<chart>-<version>.tgz`
    # (the Knative operator publishes chart 1.23.0 as knative-operator-v1.23.0.tgz).
    archive: str = ""

    @property
    def filename(self) -> str:
        """The file in a chart cache (`helm pull` names charts `<chart>-<version>.tgz`)."""
        return self.archive or f"{self.chart}-{self.version}.tgz"

    @property
    def accepted_digests(self) -> frozenset[str]:
        """Byte digests a verified copy may have: ours, or the one upstream publishes."""
        return frozenset(d for d in (self.digest, self.published_digest) if d)

    @property
    def is_oci(self) -> bool:
        return self.repository.startswith("oci://")
