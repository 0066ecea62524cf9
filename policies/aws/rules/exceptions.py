"""The one place where a rule of this pack does not report a finding, each with its reason.

``PROGRAM_PENDING``: findings of rules added with the policy kit on the program's own
resources, which the program must fix (not exempt). They keep today's plans passing while
the fix lands; ``tests/policies/test_plans.py`` fails as soon as one no longer matches a
finding, so the list only shrinks. Each entry names one resource by its Pulumi name (the
pulumi-eks component, which the offline plan sees; a real preview also shows its
``aws:eks/cluster:Cluster`` child, which no entry exempts).
"""

from __future__ import annotations

from mlops_policy_kit import Exemption

PROGRAM_PENDING: tuple[Exemption, ...] = ()

EXEMPTIONS = PROGRAM_PENDING
