"""The Kubernetes pack's rules, one module per area; ``POLICIES`` is the pack's content."""

from . import access, namespaces, pod_security, workloads

POLICIES = [
    *pod_security.POLICIES,
    *workloads.POLICIES,
    *access.POLICIES,
    *namespaces.POLICIES,
]
