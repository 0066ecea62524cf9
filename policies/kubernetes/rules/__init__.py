"""The Kubernetes pack's rules, one module per area; ``POLICIES`` is the pack's content."""

from mlops_policy_kit import exempt

from . import (
    access,
    gitops,
    mesh,
    monitoring,
    namespaces,
    pod_security,
    secrets,
    serving,
    workloads,
)
from .exceptions import EXEMPTIONS

POLICIES = list(
    exempt(
        [
            *pod_security.POLICIES,
            *workloads.POLICIES,
            *access.POLICIES,
            *namespaces.POLICIES,
            *secrets.POLICIES,
            *mesh.POLICIES,
            *serving.POLICIES,
            *gitops.POLICIES,
            *monitoring.POLICIES,
        ],
        EXEMPTIONS,
    )
)
