"""The longest chain of creations of a first `pulumi up`, weighted by typical durations.

The graph is what the engine waits for (resources.json): a resource starts once
every resource of its `dependencies` and `property_dependencies` and its provider
have been created, and once its parent has (a custom parent) or has been
registered (a component parent); a component completes when its last child does,
so waiting on a component waits for all of it. The platform stack's
StackReference depends on every resource of the AWS stack (platformctl/plan.py):
every resource of a stack that reads another starts after that stack has finished,
as two `pulumi up` runs in a row do (`make install`).

Weights come from platformctl/durations.py. A Helm release weighs its install plus
the start of its slowest rendered workload (readiness probe delays read from the
rendered objects), its hook Jobs and the certificates it asks for; DaemonSets on a
pool whose minimum is 0 have no pod to wait for. A LoadBalancer Service of a release
adds an NLB step after both the release's install and the AWS Load Balancer
Controller's release: the controller creates the load balancer.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from contract import contract
from platformctl.checks import PlannedObject
from platformctl.durations import (
    ACME_CERTIFICATE,
    CERTIFICATE,
    COMPONENT,
    CREATE,
    DEFAULT,
    HELM_INSTALL,
    HOOK_JOB,
    NLB,
    POD_START,
    PROVIDER,
    Duration,
)

HELM_RELEASE: Final = "kubernetes:helm.sh/v3:Release"
STACK_REFERENCE: Final = "pulumi:pulumi:StackReference"
LBC_CHART: Final = "aws-load-balancer-controller"
NODE_GROUP_TYPES: Final = ("eks:index:ManagedNodeGroup", "aws:eks/nodeGroup:NodeGroup")
WORKLOAD_KINDS: Final = ("Deployment", "StatefulSet", "DaemonSet")
HOOKS: Final = ("pre-install", "post-install")


@dataclass(frozen=True)
class Step:
    """One creation on the chain: what, how long it takes, when it is done (minutes)."""

    urn: str
    name: str
    type: str
    minutes: float
    done_at: float
    source: str


@dataclass
class CriticalPath:
    minutes: float = 0.0
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _stack(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::...` -> the stack."""
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:")


def _provider_urn(reference: str) -> str:
    """A provider reference is `<provider URN>::<provider id>`."""
    return reference.rsplit("::", 1)[0] if reference else ""


def _probe_minutes(spec: Mapping[str, Any]) -> float:
    """The longest readiness delay of a pod's containers: initial delay plus one period."""
    longest = 0.0
    for container in spec.get("containers") or []:
        for key in ("startupProbe", "readinessProbe"):
            probe = container.get(key) or {}
            if probe:
                seconds = float(probe.get("initialDelaySeconds", 0)) + float(
                    probe.get("periodSeconds", 10)
                )
                longest = max(longest, seconds / 60)
    return longest


def _pool_minimums(resources: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    label = contract().node_pool_label
    minimums: dict[str, int] = {}
    for r in resources:
        if r.get("type") in NODE_GROUP_TYPES:
            inputs = r.get("inputs") or {}
            pool = (inputs.get("labels") or {}).get(label)
            if pool:
                scaling = inputs.get("scalingConfig") or {}
                minimums[str(pool)] = int(scaling.get("minSize", 0))
    return minimums


def release_duration(
    objects: Sequence[PlannedObject], pool_minimums: Mapping[str, int]
) -> Duration:
    """How long one Helm release takes to be ready, from its rendered objects."""
    label = contract().node_pool_label
    if not objects:
        return Duration(
            HELM_INSTALL.minutes + POD_START.minutes,
            "not rendered (chart not in the cache): install plus one workload start",
        )
    slowest, slowest_ref = 0.0, ""
    hooks = 0
    certificates: list[PlannedObject] = []
    acme_issuers = {
        o.name
        for o in objects
        if o.kind in ("ClusterIssuer", "Issuer") and "acme" in (o.manifest.get("spec") or {})
    }
    for obj in objects:
        annotations = obj.metadata.get("annotations") or {}
        hook = str(annotations.get("helm.sh/hook", ""))
        if obj.kind == "Job" and any(h in hook for h in HOOKS):
            hooks += 1
            continue
        if obj.kind == "Certificate" and obj.group == "cert-manager.io":
            certificates.append(obj)
        if obj.kind not in WORKLOAD_KINDS:
            continue
        spec = ((obj.manifest.get("spec") or {}).get("template") or {}).get("spec") or {}
        pool = (spec.get("nodeSelector") or {}).get(label)
        if obj.kind == "DaemonSet" and pool is not None and pool_minimums.get(str(pool), 1) == 0:
            continue  # no node of that pool at first: nothing to wait for
        minutes = POD_START.minutes + _probe_minutes(spec)
        if minutes > slowest:
            slowest, slowest_ref = minutes, obj.ref
    total = HELM_INSTALL.minutes + slowest + hooks * HOOK_JOB.minutes
    parts = [f"install {HELM_INSTALL.minutes} min"]
    if slowest_ref:
        parts.append(f"slowest workload {slowest_ref} {slowest:.2f} min")
    if hooks:
        parts.append(f"{hooks} hook Job(s) x {HOOK_JOB.minutes} min")
    if certificates:
        acme = any(
            ((c.manifest.get("spec") or {}).get("issuerRef") or {}).get("name") in acme_issuers
            for c in certificates
        )
        issue = ACME_CERTIFICATE if acme else CERTIFICATE
        total += issue.minutes
        parts.append(f"certificates {issue.minutes} min")
    return Duration(round(total, 3), "; ".join(parts))


Time = tuple[float, tuple[str, str] | None]  # minutes, and ("done" | "start", urn) before it


class _Graph:
    """Start and completion times of every resource, memoised (the graph is acyclic)."""

    def __init__(
        self, resources: Sequence[Mapping[str, Any]], objects: Sequence[PlannedObject]
    ) -> None:
        self.records: dict[str, Mapping[str, Any]] = {str(r["urn"]): r for r in resources}
        self.children: dict[str, list[str]] = defaultdict(list)
        for urn, r in self.records.items():
            if r.get("parent") in self.records:
                self.children[str(r["parent"])].append(urn)
        self.by_release: dict[str, list[PlannedObject]] = defaultdict(list)
        for obj in objects:
            self.by_release[obj.source].append(obj)
        self.minimums = _pool_minimums(resources)
        # `pulumi up` of a stack that reads another starts once that one has finished:
        # stack -> the other stacks' resources its StackReferences wait for.
        self.after_stacks: dict[str, list[str]] = defaultdict(list)
        for urn, r in self.records.items():
            if r.get("type") == STACK_REFERENCE:
                self.after_stacks[_stack(urn)] += [
                    d for d in r.get("dependencies") or [] if _stack(d) != _stack(urn)
                ]
        self._start: dict[str, Time] = {}
        self._weight: dict[str, Duration] = {}
        self._done: dict[str, Time] = {}

    def weight(self, urn: str) -> Duration:
        if urn not in self._weight:
            self._weight[urn] = self._weigh(urn)
        return self._weight[urn]

    def _weigh(self, urn: str) -> Duration:
        r = self.records[urn]
        typ = str(r.get("type"))
        if typ in CREATE:
            return CREATE[typ]
        if typ == HELM_RELEASE:
            return release_duration(self.by_release.get(urn, []), self.minimums)
        if typ.startswith("pulumi:providers:"):
            return PROVIDER
        return DEFAULT if r.get("custom") else COMPONENT

    def waits_for(self, urn: str) -> list[str]:
        r = self.records[urn]
        deps = set(r.get("dependencies") or [])
        for values in (r.get("property_dependencies") or {}).values():
            deps.update(values or [])
        deps.add(_provider_urn(str(r.get("provider") or "")))
        return sorted(d for d in deps if d in self.records and d != urn)

    def start(self, urn: str) -> Time:
        if urn not in self._start:
            best: Time = (0.0, None)
            for dep in [*self.waits_for(urn), *self.after_stacks.get(_stack(urn), [])]:
                t = self.done(dep)[0]
                if t > best[0]:
                    best = (t, ("done", dep))
            parent = str(self.records[urn].get("parent") or "")
            if parent in self.records:
                custom = bool(self.records[parent].get("custom"))
                t = self.done(parent)[0] if custom else self.start(parent)[0]
                if t > best[0]:
                    best = (t, ("done" if custom else "start", parent))
            self._start[urn] = best
        return self._start[urn]

    def done(self, urn: str) -> Time:
        if urn not in self._done:
            begun = self.start(urn)[0]
            best: Time = (begun + self.weight(urn).minutes, ("start", urn))
            if self.weight(urn) is COMPONENT:
                for child in sorted(self.children.get(urn, [])):
                    t = self.done(child)[0]
                    if t > best[0]:
                        best = (t, ("done", child))
            self._done[urn] = best
        return self._done[urn]

    def load_balancers(self, notes: list[str]) -> list[tuple[float, str, str, float]]:
        """(done at, Service ref, what it waited for, begun at) per LoadBalancer Service."""
        controllers = [
            u
            for u, r in self.records.items()
            if r.get("type") == HELM_RELEASE and (r.get("inputs") or {}).get("chart") == LBC_CHART
        ]
        found = []
        for release, objs in sorted(self.by_release.items()):
            if release not in self.records:
                continue
            for obj in objs:
                spec = obj.manifest.get("spec") or {}
                if obj.kind != "Service" or spec.get("type") != "LoadBalancer":
                    continue
                begun, after = self.start(release)[0] + HELM_INSTALL.minutes, release
                for controller in controllers:
                    if self.done(controller)[0] > begun:
                        begun, after = self.done(controller)[0], controller
                if not controllers:
                    notes.append(
                        f"{obj.ref}: no AWS Load Balancer Controller release in this plan, so "
                        "nothing creates its NLB; timed as if one were ready"
                    )
                found.append((begun + NLB.minutes, obj.ref, after, begun))
        return found

    def walk(self, state: tuple[str, str] | None) -> list[Step]:
        """The creations on the way back from `state` to the first one, first first."""
        steps: list[Step] = []
        while state is not None:
            kind, urn = state
            if kind == "start":
                state = self.start(urn)[1]
                continue
            t, state = self.done(urn)
            w = self.weight(urn)
            if w is not COMPONENT:
                r = self.records[urn]
                steps.append(
                    Step(urn, str(r.get("name")), str(r.get("type")), w.minutes, t, w.source)
                )
        return steps[::-1]


def critical_path(
    resources: Sequence[Mapping[str, Any]], objects: Sequence[PlannedObject] = ()
) -> CriticalPath:
    """The longest chain (see the module docstring) and its minutes."""
    if not resources:
        return CriticalPath()
    graph = _Graph(resources, objects)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph.records) + 100))
    try:
        finish = {urn: graph.done(urn)[0] for urn in sorted(graph.records)}
        notes: list[str] = []
        nlbs = graph.load_balancers(notes)
    finally:
        sys.setrecursionlimit(limit)
    end = max(sorted(finish), key=lambda u: finish[u])
    total, state, tail = finish[end], ("done", end), []
    if nlbs and max(nlbs)[0] > total:
        total, ref, after, begun = max(nlbs)
        if graph.records[after].get("inputs", {}).get("chart") == LBC_CHART:
            state = ("done", after)
        else:  # the Service exists once its release has installed its objects
            state = ("start", after)
            name = f"{graph.records[after].get('name')} (install)"
            tail.append(
                Step(after, name, HELM_RELEASE, HELM_INSTALL.minutes, begun, HELM_INSTALL.source)
            )
        tail.append(Step(f"nlb:{ref}", f"NLB of {ref}", "NLB", NLB.minutes, total, NLB.source))
    return CriticalPath(round(total, 3), [*graph.walk(state), *tail], notes)
