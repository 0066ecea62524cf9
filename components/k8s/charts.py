"""Every Helm chart the platform installs, pinned in one table (DESIGN.md decision 8).

Each version is one that was published by late 2026 and that we found cited in
the charts' own repositories or documentation (the source is beside each pin).
Bump a version here, in one place; tests assert this table exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class ChartPin:
    chart: str
    version: str
    repository: str
    source: str  # where the pinned version is cited


ISTIO_REPO: Final = "https://istio-release.storage.googleapis.com/charts"
_ISTIO_VERSION: Final = "1.28.0"  # istio.io install docs: `helm pull istio/base --version 1.28.0`
_ISTIO_SOURCE: Final = "istio/istio manifests/charts; helm pull istio/<chart> --version 1.28.0"

CHARTS: Final[dict[str, ChartPin]] = {
    "istio-base": ChartPin("base", _ISTIO_VERSION, ISTIO_REPO, _ISTIO_SOURCE),
    "istiod": ChartPin("istiod", _ISTIO_VERSION, ISTIO_REPO, _ISTIO_SOURCE),
    "istio-cni": ChartPin("cni", _ISTIO_VERSION, ISTIO_REPO, _ISTIO_SOURCE),
    "istio-ingressgateway": ChartPin("gateway", _ISTIO_VERSION, ISTIO_REPO, _ISTIO_SOURCE),
    "cert-manager": ChartPin(
        "cert-manager",
        "v1.18.2",
        "https://charts.jetstack.io",
        "cert-manager/cert-manager deploy/charts/cert-manager",
    ),
    "external-dns": ChartPin(
        "external-dns",
        "1.19.0",
        "https://kubernetes-sigs.github.io/external-dns/",
        "kubernetes-sigs/external-dns charts/external-dns (docs: --version 1.19.0)",
    ),
    "kube-prometheus-stack": ChartPin(
        "kube-prometheus-stack",
        "78.3.0",
        "https://prometheus-community.github.io/helm-charts",
        "prometheus-community/helm-charts charts/kube-prometheus-stack",
    ),
    "external-secrets": ChartPin(
        "external-secrets",
        "0.17.0",  # the first release serving the external-secrets.io/v1 API we validate
        "https://charts.external-secrets.io",
        "external-secrets/external-secrets deploy/charts/external-secrets",
    ),
    "nvidia-device-plugin": ChartPin(
        "nvidia-device-plugin",
        "0.18.0",
        "https://nvidia.github.io/k8s-device-plugin",
        "NVIDIA/k8s-device-plugin deployments/helm (NVIDIA docs: --version 0.18.0)",
    ),
    "dcgm-exporter": ChartPin(
        "dcgm-exporter",
        "4.1.1",
        "https://nvidia.github.io/dcgm-exporter/helm-charts",
        "NVIDIA/dcgm-exporter deployment/",
    ),
    "cluster-autoscaler": ChartPin(
        "cluster-autoscaler",
        "9.46.0",
        "https://kubernetes.github.io/autoscaler",
        "kubernetes/autoscaler charts/cluster-autoscaler",
    ),
}
