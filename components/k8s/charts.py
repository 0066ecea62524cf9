"""Every Helm chart the platform installs, pinned in one table (DESIGN.md decision 8).

Each version is one that was published by late 2026 and that we found cited in
the charts' own repositories or documentation (the source is beside each pin).
Bump a version here, in one place; tests assert this table exactly.

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
from typing import Final, Literal


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

    @property
    def filename(self) -> str:
        """The file in a chart cache (`helm pull` names charts `<chart>-<version>.tgz`)."""
        return f"{self.chart}-{self.version}.tgz"

    @property
    def accepted_digests(self) -> frozenset[str]:
        """Byte digests a verified copy may have: ours, or the one upstream publishes."""
        return frozenset(d for d in (self.digest, self.published_digest) if d)

    @property
    def is_oci(self) -> bool:
        return self.repository.startswith("oci://")


ISTIO_REPO: Final = "https://istio-release.storage.googleapis.com/charts"
_ISTIO_VERSION: Final = "1.28.0"  # istio.io install docs: `helm pull istio/base --version 1.28.0`
_ISTIO_SOURCE: Final = "istio/istio manifests/charts; helm pull istio/<chart> --version 1.28.0"

CHARTS: Final[dict[str, ChartPin]] = {
    "istio-base": ChartPin(
        "base",
        _ISTIO_VERSION,
        ISTIO_REPO,
        _ISTIO_SOURCE,
        digest="ef0a117d2f1822097d9cbedd893ed6d911384cdc5b7814aad351cf2d735a3689",
        content_digest="c53461d217346a515841e24ba9d748d63b208e69a4053473ea09fed553b41cdd",
    ),
    "istiod": ChartPin(
        "istiod",
        _ISTIO_VERSION,
        ISTIO_REPO,
        _ISTIO_SOURCE,
        digest="a69ed776c3aade9cfe98991af9c639e60cc1c493647302f5e442fe5a6be24aab",
        content_digest="e60cdadce73222ce1c5f24cc3f11ef11589416a2af4c8a059655c1f1b814b89d",
    ),
    "istio-cni": ChartPin(
        "cni",
        _ISTIO_VERSION,
        ISTIO_REPO,
        _ISTIO_SOURCE,
        digest="65885c62283ad96cf52ac4e7699cbc44f64e661fafe4841f0935f235cf2d7a66",
        content_digest="a0ff8d8d7ec708493f4d89e46908896466ee78ac97b8d0cd6bf41be9c1994ca4",
    ),
    "istio-ingressgateway": ChartPin(
        "gateway",
        _ISTIO_VERSION,
        ISTIO_REPO,
        _ISTIO_SOURCE,
        digest="73003afda57d5766ceeb3b6aa44f65ce15db5dae979711505e833177f727ea73",
        content_digest="2fe4db01791e8e87c817f5f16d26a5ef67c7251e38e395b022fd483bc1685377",
    ),
    "cert-manager": ChartPin(
        "cert-manager",
        "v1.18.2",
        "https://charts.jetstack.io",
        "cert-manager/cert-manager deploy/charts/cert-manager",
        digest="8de156ea0934fe1ae687649566d2d79d736553e1c5aa7311b5206dc87d7c1d2c",
        content_digest="174ba5a398b86c831a526be25b017756f8bc88d1402c631bd4135bc4f4d14653",
    ),
    "external-dns": ChartPin(
        "external-dns",
        "1.19.0",
        "https://kubernetes-sigs.github.io/external-dns/",
        "kubernetes-sigs/external-dns charts/external-dns (docs: --version 1.19.0)",
        digest="77867a4562f7942bddd86f3b9be8ba7d48762bceb799c974057480f8edfbeb64",
        content_digest="34671d3fd2c58483c3f62e791a32d79abedd8e3fb2b0fbc1013c4df6a9b1faab",
        published_digest="8bd576acf7c9074cdf6ca21662a1e923b786d0576a3e6cf3f75d252860a0af6e",
    ),
    "kube-prometheus-stack": ChartPin(
        "kube-prometheus-stack",
        "78.3.0",
        "https://prometheus-community.github.io/helm-charts",
        "prometheus-community/helm-charts charts/kube-prometheus-stack",
        digest="ef6125de78cab9718ce33253844dbdf4f553a13c59f277f80d29ef2daf77ffd9",
        content_digest="a0b40785b1249c8bc083d487cc6fbc4a2682254d3633d0ac8939fd0423da4c5c",
    ),
    "external-secrets": ChartPin(
        "external-secrets",
        "0.17.0",  # the first release serving the external-secrets.io/v1 API we validate
        "https://charts.external-secrets.io",
        "external-secrets/external-secrets deploy/charts/external-secrets",
        digest="e13779cde1e23100d2b8504714107a7f6d87fe9642c2676d8894d8b01f36662e",
        content_digest="3bd008e060ac316adeaf0c86acb9a300055af8e0ebbe92c5b9052fdd197ef81f",
        published_digest="fb5ce4831ed81621047943b850c056545d0953741a496b0f1638023d68d9c162",
    ),
    "nvidia-device-plugin": ChartPin(
        "nvidia-device-plugin",
        "0.18.0",
        "https://nvidia.github.io/k8s-device-plugin",
        "NVIDIA/k8s-device-plugin deployments/helm (NVIDIA docs: --version 0.18.0)",
        digest="3abe7949ce08e14dac6a3ebf81d6e2ed3fca15a0a0fb751e67de40c72761d4e4",
        content_digest="7e05a118594ca13eae791c2f0a5a217753c63c78ed9c06af0e4f9eccd8cdffdd",
        published_digest="3abe7949ce08e14dac6a3ebf81d6e2ed3fca15a0a0fb751e67de40c72761d4e4",
    ),
    "dcgm-exporter": ChartPin(
        "dcgm-exporter",
        "4.1.1",
        "https://nvidia.github.io/dcgm-exporter/helm-charts",
        "NVIDIA/dcgm-exporter deployment/",
        digest="42c57f185a7f74fadd4f4a3cfddbdfcab65fdf378d18e0a4fbec921ea7b09515",
        content_digest="b9c026cb0dfa613d494cfcc1f71a1c06db70118b8bbf66433e89b0eb9176ab1d",
        published_digest="42c57f185a7f74fadd4f4a3cfddbdfcab65fdf378d18e0a4fbec921ea7b09515",
    ),
    "cluster-autoscaler": ChartPin(
        "cluster-autoscaler",
        "9.46.0",
        "https://kubernetes.github.io/autoscaler",
        "kubernetes/autoscaler charts/cluster-autoscaler",
        digest="c5dd937e69c11f45ee05052d24b6a154ba7193c7499cbed03fd0fa535a74a4f4",
        content_digest="a2c84bb3b72c1c54503dfdca35ed74029167b8723d1f661ce03b790bc601fa8e",
        published_digest="67c01eab14239033d20b28e4eb50ea79795d4ac58a8e2d62a292ad670ed407c8",
    ),
}

# Pinned kustomize manifests: Kubeflow Pipelines ships no chart. Nothing installs it
# yet (layer 3); `platformctl.render.render_kustomization` renders it with kubectl.
KUSTOMIZATIONS: Final[dict[str, ChartPin]] = {
    "kubeflow-pipelines": ChartPin(
        "kubeflow-pipelines-manifests",
        "2.17.0",
        # No repository publishes this tarball: it is kubeflow/pipelines 2.17.0's
        # manifests/kustomize with its remote Argo Workflows bases vendored
        # (../shared/charts/README.md), so `charts pull` can only verify a copy.
        "",
        "kubeflow/pipelines manifests/kustomize at 2.17.0 (Argo Workflows v4.0.5 vendored)",
        digest="c0dbf7f3f2d39f68d1e637a33c6348a24dbef081cb3ee12bdd9621d8b02bd95f",
        content_digest="042da27257cfecb5f763a8ce3a3fcdd6f0802ae95c6e06a1c2b27799457631f2",
        kind="kustomize",
        kustomizations=(
            "manifests/kustomize/cluster-scoped-resources",
            "manifests/kustomize/env/platform-agnostic",
        ),
    ),
}


def chart_lock() -> dict[str, ChartPin]:
    """Every locked artefact: the charts the program installs and the kustomize manifests."""
    return {**CHARTS, **KUSTOMIZATIONS}
