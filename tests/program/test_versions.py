"""One version set (docs/decisions/0018-one-version-set.md): the cluster's Kubernetes minor
lies inside every pinned component's supported range, and a version outside one is refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.k8s import cluster_autoscaler
from components.k8s.charts import KubernetesRange
from program.services import chart_lock, version_gaps
from stacks.catalog import (
    DEFAULT_KUBERNETES_VERSION,
    EKS_STANDARD_SUPPORT_ENDS,
    SUPPORTED_KUBERNETES_VERSIONS,
)
from stacks.defaults import defaults_for
from stacks.loader import load_from_stack_file
from stacks.settings import ClusterSettings
from tests.conftest import STACKS, build_stack


def test_every_pin_records_the_range_its_project_supports() -> None:
    for name, pin in chart_lock().items():
        assert pin.kubernetes is not None, name
        assert pin.kubernetes.source, name


@pytest.mark.parametrize("minor", SUPPORTED_KUBERNETES_VERSIONS)
def test_every_version_the_settings_allow_is_inside_every_range(minor: str) -> None:
    assert version_gaps(minor) == []
    assert minor in EKS_STANDARD_SUPPORT_ENDS  # and in EKS standard support
    assert minor in cluster_autoscaler.IMAGE_TAGS  # the autoscaler's minor is the cluster's


def test_a_standard_support_version_outside_the_set_says_which_pin_excludes_it() -> None:
    outside = sorted(set(EKS_STANDARD_SUPPORT_ENDS) - set(SUPPORTED_KUBERNETES_VERSIONS))
    for minor in outside:
        assert any(g.startswith("external-secrets ") for g in version_gaps(minor)), minor


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_runs_a_version_of_the_set(stack: str) -> None:
    minor = load_from_stack_file(stack).cluster.minor_version
    assert minor == DEFAULT_KUBERNETES_VERSION
    assert version_gaps(minor) == []


def test_a_pin_that_does_not_support_the_cluster_is_a_gap() -> None:
    lock = chart_lock()
    narrowed = {
        **lock,
        "cert-manager": replace(
            lock["cert-manager"], kubernetes=KubernetesRange("1.30", "1.34", "a test")
        ),
    }
    assert version_gaps("1.36", narrowed) == [
        f"cert-manager {lock['cert-manager'].version} supports Kubernetes 1.30-1.34 (a test), "
        "not 1.36"
    ]
    unrecorded = {"x": replace(lock["cert-manager"], kubernetes=None)}
    assert version_gaps("1.36", unrecorded) == [
        f"x {lock['cert-manager'].version}: no supported Kubernetes range recorded"
    ]


def test_the_platform_refuses_a_cluster_version_outside_a_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lock = chart_lock()
    narrowed = replace(lock["istiod"], kubernetes=KubernetesRange("1.30", "1.35", "a test"))
    monkeypatch.setattr("program.services.chart_lock", lambda: {**lock, "istiod": narrowed})
    with pytest.raises(Exception, match=r"kubernetesVersion 1\.36: istiod .* not 1\.36"):
        build_stack("dev")


@pytest.mark.parametrize(("environment", "support"), [("dev", "STANDARD"), ("prod", "EXTENDED")])
def test_the_upgrade_policy_is_explicit_per_environment(environment: str, support: str) -> None:
    """EKS's own default is EXTENDED: every environment says what happens when it lapses."""
    cluster = defaults_for(environment).get("cluster", {})
    assert ClusterSettings.model_validate(cluster).upgrade_support == support
