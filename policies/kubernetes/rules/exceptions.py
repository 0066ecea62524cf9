"""The one place where a rule of this pack does not report a finding, each with its reason.

``UPSTREAM``: behaviour of a pinned chart that its values cannot change (an agent that
needs the host is not here: its namespace enforces ``privileged``, with the reason on the
Namespace). Before adding an entry, fix what values can fix; each entry names one object
(``<namespace>/<name>`` or, cluster-scoped, ``<name>``) and says why, in a sentence.

``PROGRAM_PENDING``: findings of rules added with the policy kit on the program's own
objects, which the program must fix (not exempt). They keep today's plans passing while
the fix lands; ``tests/policies/test_plans.py`` fails as soon as one no longer matches a
finding, so the list only shrinks.
"""

from __future__ import annotations

from mlops_policy_kit import Exemption

UPSTREAM: tuple[Exemption, ...] = ()

PROGRAM_PENDING: tuple[Exemption, ...] = ()

EXEMPTIONS = (*UPSTREAM, *PROGRAM_PENDING)
