"""The plan's resource graph: what each resource waits for before the engine creates it.

An edge `a -> b` means `a` is not created before `b` is. Four kinds, all recorded in
resources.json:

- `dependencies` and `property_dependencies`: the engine's own dependency set;
- `provider`: a resource is created through its provider, which is configured only once
  its inputs are known (the Kubernetes provider's kubeconfig comes from the stack
  reference, which the plan records as waiting for every resource of the AWS stack:
  `pulumi up` of `<env>-platform` starts after `<env>` has finished);
- `parent`: the SDK registers a child only once its parent's registration has returned,
  and the parent is registered only once its own `depends_on` are created.

`provider` values are provider references, `<urn>::<id>`: the URN is what counts.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

EDGE_KINDS = ("dependencies", "property_dependencies", "provider", "parent")


def provider_urn(reference: str) -> str:
    """`<urn>::<id>` -> `<urn>` (a provider reference names the provider's URN and id)."""
    return reference.rpartition("::")[0] if reference.count("::") >= 4 else reference


class ResourceGraph:
    """Edges of resources.json, and which resources each one transitively waits for."""

    def __init__(self, resources: Iterable[Mapping[str, Any]]) -> None:
        self.resources: dict[str, Mapping[str, Any]] = {str(r["urn"]): r for r in resources}
        self.edges: dict[str, set[str]] = {}
        self.edge_counts: Counter[str] = Counter()
        for urn, record in self.resources.items():
            targets: set[str] = set()
            found = {
                "dependencies": set(record.get("dependencies") or []),
                "property_dependencies": {
                    dep
                    for deps in (record.get("property_dependencies") or {}).values()
                    for dep in deps or []
                },
                "provider": {provider_urn(str(record.get("provider") or ""))},
                "parent": {str(record.get("parent") or "")},
            }
            for kind in EDGE_KINDS:
                known = {t for t in found[kind] if t in self.resources and t != urn}
                self.edge_counts[kind] += len(known)
                targets |= known
            self.edges[urn] = targets
        self._ancestors: dict[str, frozenset[str]] = {}

    def __contains__(self, urn: object) -> bool:
        return urn in self.resources

    def type_of(self, urn: str) -> str:
        return str(self.resources.get(urn, {}).get("type", ""))

    def waits_for_all(self, urn: str) -> frozenset[str]:
        """Every resource `urn` transitively waits for (not itself)."""
        if urn not in self._ancestors:
            seen: set[str] = set()
            queue = deque(self.edges.get(urn, ()))
            while queue:
                current = queue.popleft()
                if current in seen:
                    continue
                seen.add(current)
                queue.extend(self.edges.get(current, set()) - seen)
            seen.discard(urn)
            self._ancestors[urn] = frozenset(seen)
        return self._ancestors[urn]

    def waits_for(self, urn: str, other: str) -> bool:
        return other in self.waits_for_all(urn)

    def path(self, urn: str, other: str) -> Sequence[str]:
        """One shortest chain of edges from `urn` to `other` (empty when there is none)."""
        previous: dict[str, str] = {}
        queue = deque([urn])
        while queue:
            current = queue.popleft()
            if current == other:
                chain = [current]
                while chain[-1] != urn:
                    chain.append(previous[chain[-1]])
                return list(reversed(chain))
            for nxt in sorted(self.edges.get(current, ())):
                if nxt not in previous and nxt != urn:
                    previous[nxt] = current
                    queue.append(nxt)
        return []


def short_name(urn: str) -> str:
    """The resource name at the end of a URN (`...::release-cert-manager` -> that name)."""
    return urn.rpartition("::")[2] or urn
