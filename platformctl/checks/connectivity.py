"""Connectivity proof: every flow the platform needs is permitted, and nothing else is.

An independent analyzer, network-config-analyzer (nca), computes the
connectivity map from the pods, namespaces, Services and NetworkPolicies the
cluster would run (`cluster.build_cluster`), with the VPC CNI's ClusterIP
rules written into the policies (`vpc_cni`). The needs are derived from the
objects and one declared table (`needs`), never from the policies. The check:

- *missing*: a need the map does not permit, naming source, destination, port
  and the side (egress of the source's namespace, ingress of the
  destination's) whose policy must admit it;
- *extra*: what the map permits beyond the needs, per source workload x
  destination workload (or address region) with its ports. Workload is the
  grain because it is the finest a NetworkPolicy can tell apart (a template's
  pods share labels): a namespace-wide peer that admits every pod of a
  namespace, where one workload needs the flow, shows as one finding per
  workload it wrongly admits. Flows of stand-ins and of EKS's own pods are
  mapped but not judged extra: their needs are not all in the plan.

Docs: docs/connectivity.md; decision: docs/decisions/0021-connectivity-proof.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Final

from platformctl.checks import CheckResult, Finding, PlannedObject
from platformctl.checks.addresses import NetworkModel, Region, RegionMap, regions
from platformctl.checks.cluster import Cluster, Workload, build_cluster
from platformctl.checks.nca import DEFAULT_NCA, NcaRun, Permitted, PodRef, run_nca
from platformctl.checks.needs import (
    DECLARED_FLOWS,
    Addresses,
    DeclaredFlow,
    Need,
    derive_needs,
)
from platformctl.checks.netsets import AddressSet, Conns, union_conns
from platformctl.checks.vpc_cni import with_cluster_ips

NAME: Final = "connectivity"
MISSING: Final = "missing"
EXTRA: Final = "extra"
NEEDED: Final = "needed"
NOT_JUDGED: Final = "not judged"
# nca's "LiveSim" adds placeholder pods (kube-dns, ingress controllers, Istio gateways)
# named `*-livesim` when a policy names pods the input lacks; they are not the cluster's.
LIVESIM: Final = "-livesim"


# --- nca's input --------------------------------------------------------------------


def synthetic_pod(workload: Workload) -> dict[str, Any]:
    """One Pod standing for every pod of a workload (they share the template's labels)."""
    ports: list[dict[str, Any]] = []
    names: set[str] = set()
    for port in workload.ports:
        entry: dict[str, Any] = {"containerPort": port.number, "protocol": port.protocol}
        if port.name and port.name not in names:  # a name is unique within a pod
            entry["name"] = port.name
            names.add(port.name)
        ports.append(entry)
    container: dict[str, Any] = {"name": "main", "image": "none"}
    if ports:
        container["ports"] = ports
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": workload.nca_name,
            "namespace": workload.namespace,
            "labels": workload.label_map,
        },
        "spec": {"serviceAccountName": workload.service_account, "containers": [container]},
    }


def nca_resources(cluster: Cluster) -> list[dict[str, Any]]:
    """Namespaces, the pods NetworkPolicies apply to, and Services, as nca reads them."""
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": dict(labels)},
        }
        for name, labels in sorted(cluster.namespaces.items())
    ]
    out += [synthetic_pod(w) for w in cluster.analysed]
    for service in cluster.services:
        spec: dict[str, Any] = {
            "ports": [
                {
                    "port": p.port,
                    "targetPort": p.target,
                    "protocol": p.protocol,
                    **({"name": p.name} if p.name else {}),
                }
                for p in service.ports
            ]
        }
        if service.selector:
            spec["selector"] = dict(service.selector)
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": service.name, "namespace": service.namespace},
                "spec": spec,
            }
        )
    return out


def _variant(
    policies: Sequence[Mapping[str, Any]], namespaces: Iterable[str], direction: str
) -> list[dict[str, Any]]:
    """The policies plus "allow every <direction>" in each namespace: the other side alone."""
    key = direction.lower()
    return [dict(p) for p in policies] + [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": f"zz-allow-all-{key}", "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": [direction], key: [{}]},
        }
        for ns in sorted(namespaces)
    ]


# --- the permitted map --------------------------------------------------------------------


@dataclass
class PermittedMap:
    """nca's flows indexed by the workloads they join."""

    pod_pod: dict[tuple[Workload, Workload], Conns] = field(default_factory=dict)
    pod_addr: dict[Workload, list[tuple[AddressSet, Conns]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    addr_pod: dict[Workload, list[tuple[AddressSet, Conns]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    @classmethod
    def of(cls, flows: Iterable[Permitted], cluster: Cluster) -> PermittedMap:
        by_ref = {PodRef(w.namespace, w.nca_name): w for w in cluster.analysed}
        out = cls()
        for flow in flows:
            if any(
                isinstance(e, PodRef) and e.name.endswith(LIVESIM)
                for e in (flow.source, flow.destination)
            ):
                continue  # a pod nca invents when a policy names one the input lacks
            src = by_ref.get(flow.source) if isinstance(flow.source, PodRef) else flow.source
            dst = (
                by_ref.get(flow.destination)
                if isinstance(flow.destination, PodRef)
                else flow.destination
            )
            if src is None or dst is None:
                raise ValueError(
                    f"nca named a pod the input does not have: {flow.source} => {flow.destination}"
                )
            if isinstance(src, Workload) and isinstance(dst, Workload):
                out.pod_pod[(src, dst)] = out.pod_pod.get((src, dst), Conns.none()) | flow.conns
            elif isinstance(src, Workload) and isinstance(dst, AddressSet):
                out.pod_addr[src].append((dst, flow.conns))
            elif isinstance(src, AddressSet) and isinstance(dst, Workload):
                out.addr_pod[dst].append((src, flow.conns))
        return out

    def covered(
        self, entries: Sequence[tuple[AddressSet, Conns]], protocol: str, port: int
    ) -> AddressSet:
        out = AddressSet()
        for addresses, conns in entries:
            if conns.admits(protocol, port):
                out = out | addresses
        return out

    def denied_part(self, need: Need) -> AddressSet | None:
        """For an address need: the addresses not admitted (empty: permitted). None: a pod need."""
        if isinstance(need.destination, Addresses) and isinstance(need.source, Workload):
            covered = self.covered(self.pod_addr.get(need.source, []), need.protocol, need.port)
            return need.destination.addresses - covered
        if isinstance(need.source, Addresses) and isinstance(need.destination, Workload):
            covered = self.covered(
                self.addr_pod.get(need.destination, []), need.protocol, need.port
            )
            return need.source.addresses - covered
        return None

    def admits(self, need: Need) -> bool:
        denied = self.denied_part(need)
        if denied is not None:
            return not denied
        assert isinstance(need.source, Workload)
        assert isinstance(need.destination, Workload)
        conns = self.pod_pod.get((need.source, need.destination), Conns.none())
        return conns.admits(need.protocol, need.port)


def _address_extras(
    permitted: Sequence[tuple[AddressSet, Conns]], needed: Sequence[tuple[AddressSet, Conns]]
) -> list[tuple[AddressSet, Conns]]:
    """(addresses, connections) permitted beyond the needed ones, merged by connection set."""
    cuts = {0, 2**32}
    for addresses, _ in (*permitted, *needed):
        for start, end in addresses.intervals:
            cuts |= {start, end + 1}
    bounds = sorted(cuts)

    def covering(entries: Sequence[tuple[AddressSet, Conns]], start: int, end: int) -> Conns:
        # Every cut is a bound of every set: a piece is inside an interval or outside the set.
        return union_conns(
            c for a, c in entries if any(s <= start and end <= e for s, e in a.intervals)
        )

    by_conns: dict[Conns, list[tuple[int, int]]] = defaultdict(list)
    for start, stop in pairwise(bounds):
        allowed = covering(permitted, start, stop - 1)
        if allowed and (extra := allowed - covering(needed, start, stop - 1)):
            by_conns[extra].append((start, stop - 1))
    return [(AddressSet.of(intervals), conns) for conns, intervals in by_conns.items()]


# --- the check ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the connectivity map as the report shows it."""

    source: str
    destination: str
    conns: str
    status: str
    reason: str = ""
    source_namespace: str = ""
    destination_namespace: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "source": self.source,
            "destination": self.destination,
            "connections": self.conns,
            "status": self.status,
            "reason": self.reason,
            "source_namespace": self.source_namespace,
            "destination_namespace": self.destination_namespace,
        }


@dataclass(frozen=True)
class ConnectivityRun:
    """Everything the check computed, for the report and the tests."""

    cluster: Cluster
    needs: tuple[Need, ...]
    unresolved: tuple[str, ...]
    permitted: PermittedMap
    nca: NcaRun
    regions: RegionMap


def analyse(
    objects: Iterable[PlannedObject],
    network: NetworkModel,
    *,
    nca_bin: Path = DEFAULT_NCA,
    cache_dir: Path | None = None,
    table: Sequence[DeclaredFlow] = DECLARED_FLOWS,
) -> ConnectivityRun:
    """Build the cluster, run nca on it, derive the needs."""
    cluster = build_cluster(objects, network)
    nca = run_nca(
        nca_resources(cluster), with_cluster_ips(cluster), nca_bin=nca_bin, cache_dir=cache_dir
    )
    derived = derive_needs(cluster, table)
    return ConnectivityRun(
        cluster=cluster,
        needs=tuple(derived.needs),
        unresolved=tuple(derived.unresolved),
        permitted=PermittedMap.of(nca.flows, cluster),
        nca=nca,
        regions=RegionMap(regions(network, cluster.cluster_ips)),
    )


def _judged(workload: Workload) -> bool:
    return not workload.stand_in and not workload.cluster_part


def one_side_views(
    run: ConnectivityRun, needs: Sequence[Need], *, nca_bin: Path, cache_dir: Path | None
) -> tuple[PermittedMap, PermittedMap]:
    """nca with every ingress opened (egress alone) and every egress opened (ingress alone),
    over the namespaces of `needs` only: enough to say which side denies a pod-to-pod need."""
    involved = (
        {getattr(n.source, "namespace", "") for n in needs}
        | {getattr(n.destination, "namespace", "") for n in needs}
        | {w.namespace for w in run.cluster.workloads if w.cluster_part}
    )
    resources = [
        r
        for r in nca_resources(run.cluster)
        if r["kind"] == "Namespace" or r["metadata"]["namespace"] in involved
    ]
    policies = [p for p in with_cluster_ips(run.cluster) if p["metadata"]["namespace"] in involved]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(
                run_nca,
                resources,
                _variant(policies, involved, d),
                nca_bin=nca_bin,
                cache_dir=cache_dir,
            )
            for d in ("Ingress", "Egress")
        ]
        egress_only, ingress_only = (
            PermittedMap.of(f.result().flows, run.cluster) for f in futures
        )
    return egress_only, ingress_only


def _side(need: Need, egress_only: PermittedMap, ingress_only: PermittedMap) -> str:
    """Which namespace's policy must change, for a pod-to-pod need."""
    src, dst = need.source, need.destination
    assert isinstance(src, Workload)
    assert isinstance(dst, Workload)
    port = f"{need.protocol} {need.port}"
    egress_fix = (
        f"an egress NetworkPolicy in {src.namespace} selecting {src.name} "
        f"must admit {dst.display} on {port}"
    )
    ingress_fix = (
        f"an ingress NetworkPolicy in {dst.namespace} selecting {dst.name} "
        f"must admit {src.display} on {port}"
    )
    egress_ok, ingress_ok = egress_only.admits(need), ingress_only.admits(need)
    if egress_ok and not ingress_ok:
        return f"the egress admits it, the ingress does not: {ingress_fix}"
    if ingress_ok and not egress_ok:
        return f"the ingress admits it, the egress does not: {egress_fix}"
    return f"neither side admits it: {egress_fix}, and {ingress_fix}"


def _missing_message(need: Need, denied: AddressSet | None, side: str) -> str:
    port = f"{need.protocol} {need.port}"
    flow = f"{need.source.display} -> {need.destination.display} on {port} ({need.reason})"
    if denied is None:
        return f"{flow} is denied: {side}."
    if isinstance(need.source, Workload):
        hint = ""
        if isinstance(need.destination, Addresses) and "(ClusterIP)" in need.destination.name:
            hint = (
                " (the VPC CNI checks egress before DNAT: admit the ClusterIP as an ipBlock, "
                "or reach the Service through a pod-selector peer whose podSelector matches "
                "its selector)"
            )
        return (
            f"{flow} is denied for {denied}: an egress NetworkPolicy in {need.source.namespace} "
            f"selecting {need.source.name} must admit {denied} on {port}{hint}."
        )
    assert isinstance(need.destination, Workload)
    return (
        f"{flow} is denied from {denied}: an ingress NetworkPolicy in {need.destination.namespace} "
        f"selecting {need.destination.name} must admit {denied} on {port}."
    )


def _subject(need: Need) -> str:
    end = need.source if isinstance(need.source, Workload) else need.destination
    assert isinstance(end, Workload)
    return end.ref


def missing(
    run: ConnectivityRun, *, nca_bin: Path = DEFAULT_NCA, cache_dir: Path | None = None
) -> tuple[list[Finding], list[Row]]:
    """A finding per required need the map does not permit."""
    denied_needs = [n for n in run.needs if n.required and not run.permitted.admits(n)]
    pod_needs = [n for n in denied_needs if run.permitted.denied_part(n) is None]
    views = (
        one_side_views(run, pod_needs, nca_bin=nca_bin, cache_dir=cache_dir) if pod_needs else None
    )
    findings, rows = [], []
    for need in denied_needs:
        denied = run.permitted.denied_part(need)
        side = _side(need, *views) if denied is None and views else ""
        findings.append(Finding(NAME, _subject(need), _missing_message(need, denied, side)))
        rows.append(
            Row(
                need.source.display,
                need.destination.display,
                f"{need.protocol} {need.port}",
                MISSING,
                need.reason,
                getattr(need.source, "namespace", ""),
                getattr(need.destination, "namespace", ""),
            )
        )
    return findings, rows


@dataclass
class NeededSets:
    """The needs as sets the permitted map is compared with."""

    pairs: dict[tuple[Workload, Workload], Conns] = field(
        default_factory=lambda: defaultdict(Conns.none)
    )
    reasons: dict[tuple[Workload, Workload], set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    outgoing: dict[Workload, list[tuple[AddressSet, Conns]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    incoming: dict[Workload, list[tuple[AddressSet, Conns]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    @classmethod
    def of(cls, needs: Iterable[Need]) -> NeededSets:
        out = cls()
        for need in needs:
            one = Conns.one(need.protocol, need.port)
            src, dst = need.source, need.destination
            if isinstance(src, Workload) and isinstance(dst, Workload):
                out.pairs[(src, dst)] = out.pairs[(src, dst)] | one
                out.reasons[(src, dst)].add(need.reason)
            elif isinstance(src, Workload) and isinstance(dst, Addresses):
                out.outgoing[src].append((dst.addresses, one))
            elif isinstance(src, Addresses) and isinstance(dst, Workload):
                out.incoming[dst].append((src.addresses, one))
        return out


def pod_extras(run: ConnectivityRun, needed: NeededSets) -> tuple[list[Finding], list[Row]]:
    """Pod-to-pod flows, needed or beyond the needs (judged only between planned workloads)."""
    findings, rows = [], []
    for (src, dst), conns in sorted(
        run.permitted.pod_pod.items(), key=lambda kv: (kv[0][0].ref, kv[0][1].ref)
    ):
        want = needed.pairs.get((src, dst), Conns.none()) & conns
        extra = conns - want
        judged = _judged(src) and _judged(dst)
        if want:
            why = ", ".join(sorted(needed.reasons[(src, dst)]))
            rows.append(
                Row(src.display, dst.display, str(want), NEEDED, why, src.namespace, dst.namespace)
            )
        if extra and not (src.cluster_part or dst.cluster_part):  # EKS's own: not our map
            status = EXTRA if judged else NOT_JUDGED
            rows.append(
                Row(src.display, dst.display, str(extra), status, "", src.namespace, dst.namespace)
            )
        if extra and judged:
            findings.append(
                Finding(
                    NAME,
                    src.ref,
                    f"{src.display} -> {dst.display} permits {extra}, which no need explains "
                    f"(needed: {want or 'nothing'}).",
                )
            )
    return findings, rows


def _own_service(workload: Workload, region: Region, cluster: Cluster) -> bool:
    service = cluster.service(*region.service.split("/", 1)) if region.service else None
    return service is not None and workload in cluster.backends(service)


def address_extras(
    run: ConnectivityRun, needed: NeededSets, pod_findings: Sequence[Finding]
) -> tuple[list[Finding], list[Row]]:
    """Flows between pods and address regions, needed or beyond the needs.

    One finding per workload and connection set, naming every region it reaches
    beyond the needs. A ClusterIP is left out where the pods behind it already
    have a finding for the same source (the CNI adds the ClusterIP with them),
    and a pod's own Service is left out as its own pod is.
    """
    findings, rows = [], []
    reported = {(f.subject, f.message.split(" -> ")[1].split(" permits ")[0]) for f in pod_findings}
    cluster = run.cluster
    for outgoing, permitted_by, needed_by in (
        (True, run.permitted.pod_addr, needed.outgoing),
        (False, run.permitted.addr_pod, needed.incoming),
    ):
        for workload in sorted(permitted_by, key=lambda w: w.ref):
            entries, wanted = permitted_by[workload], needed_by.get(workload, [])
            for addresses, conns in entries:
                for n_addresses, n_conns in wanted:
                    if (both := addresses & n_addresses) and (shared := conns & n_conns):
                        rows += _region_rows(workload, both, shared, run.regions, outgoing, NEEDED)
            status = EXTRA if _judged(workload) else NOT_JUDGED
            for addresses, conns in _address_extras(entries, wanted):
                if workload.cluster_part:
                    continue
                rows += _region_rows(workload, addresses, conns, run.regions, outgoing, status)
                if status != EXTRA:
                    continue
                places = []
                for region, part in run.regions.split(addresses):
                    if region.service and outgoing:
                        service = cluster.service(*region.service.split("/", 1))
                        backs = cluster.backends(service) if service else []
                        if _own_service(workload, region, cluster) or any(
                            (workload.ref, b.display) in reported for b in backs
                        ):
                            continue
                    places.append(
                        region.name if part == region.addresses else f"{region.name} ({part})"
                    )
                if places:
                    where = ", ".join(places)
                    flow = (
                        f"{workload.display} -> {where}"
                        if outgoing
                        else f"{where} -> {workload.display}"
                    )
                    findings.append(
                        Finding(
                            NAME, workload.ref, f"{flow} permits {conns}, which no need explains."
                        )
                    )
    return findings, rows


def _region_rows(
    workload: Workload,
    addresses: AddressSet,
    conns: Conns,
    plan: RegionMap,
    outgoing: bool,
    status: str,
) -> list[Row]:
    out = []
    for region, part in plan.split(addresses):
        name = region.name if part == region.addresses else f"{region.name}: {part}"
        # A ClusterIP belongs to its Service's namespace in the picture.
        where = region.service.split("/", 1)[0] if region.service else ""
        if outgoing:
            out.append(
                Row(workload.display, name, str(conns), status, "", workload.namespace, where)
            )
        else:
            out.append(
                Row(name, workload.display, str(conns), status, "", where, workload.namespace)
            )
    return out


def service_port_findings(cluster: Cluster) -> list[Finding]:
    """A Service whose named targetPort its pods do not declare has no endpoint on it."""
    out = []
    for service in cluster.services:
        for pod in cluster.backends(service):
            for port in service.ports:
                if isinstance(port.target, str) and pod.port(port.target, port.protocol) is None:
                    out.append(
                        Finding(
                            NAME,
                            pod.ref,
                            f"Service {service.key} port {port.port} targets {port.target!r}, "
                            f"which {pod.display} does not declare: nothing answers there.",
                        )
                    )
    return out


def check_connectivity(
    objects: Iterable[PlannedObject],
    network: NetworkModel,
    *,
    nca_bin: Path = DEFAULT_NCA,
    cache_dir: Path | None = None,
    table: Sequence[DeclaredFlow] = DECLARED_FLOWS,
    mandatory: bool = True,
) -> CheckResult:
    """The connectivity check of a plan's objects (raises FileNotFoundError without nca)."""
    run = analyse(objects, network, nca_bin=nca_bin, cache_dir=cache_dir, table=table)
    needed = NeededSets.of(run.needs)
    missing_findings, missing_rows = missing(run, nca_bin=nca_bin, cache_dir=cache_dir)
    pod_findings, pod_rows = pod_extras(run, needed)
    address_findings, address_rows = address_extras(run, needed, pod_findings)
    return CheckResult(
        name=NAME,
        mandatory=mandatory,
        evaluated=len([w for w in run.cluster.analysed if not w.cluster_part]),
        findings=service_port_findings(run.cluster)
        + missing_findings
        + pod_findings
        + address_findings,
        details=details(run, _merge_rows(missing_rows + pod_rows + address_rows)),
    )


def _merge_rows(rows: Iterable[Row]) -> list[Row]:
    """One row per (source, destination, status), connections and reasons joined."""
    merged: dict[tuple[str, str, str], Row] = {}
    for row in rows:
        key = (row.source, row.destination, row.status)
        old = merged.get(key)
        if old is None:
            merged[key] = row
            continue
        conns = old.conns if row.conns in old.conns.split("; ") else f"{old.conns}; {row.conns}"
        reason = ", ".join(sorted({*old.reason.split(", "), *row.reason.split(", ")} - {""}))
        merged[key] = Row(
            old.source,
            old.destination,
            conns,
            old.status,
            reason,
            old.source_namespace,
            old.destination_namespace,
        )
    order = {MISSING: 0, EXTRA: 1, NEEDED: 2, NOT_JUDGED: 3}
    return sorted(merged.values(), key=lambda r: (order[r.status], r.source, r.destination))


def details(run: ConnectivityRun, rows: Sequence[Row]) -> dict[str, Any]:
    """What the report shows: the network, the workloads, the map, nca's run."""
    cluster = run.cluster
    return {
        "network": {
            "vpc_cidr": cluster.network.vpc_cidr,
            "service_cidr": cluster.network.service_range,
            "kubernetes_cluster_ip": cluster.network.kubernetes_cluster_ip,
            "control_plane": str(cluster.network.control_plane),
        },
        "workloads": len([w for w in cluster.analysed if not w.cluster_part]),
        "stand_ins": sorted(w.display for w in cluster.workloads if w.stand_in),
        "host_network": sorted(w.display for w in cluster.workloads if w.host_network),
        "needs": len(run.needs),
        "unresolved": list(run.unresolved),
        "nca": {
            "seconds": round(run.nca.seconds, 3),
            "cached": run.nca.cached,
            "digest": run.nca.digest,
        },
        "map": [r.as_json() for r in rows],
    }


# --- a plan directory ------------------------------------------------------------------


def objects_from_manifests(directory: Path) -> list[PlannedObject]:
    """The objects of a plan's `manifests/` (one YAML document per file; release summaries skipped).

    The files carry no URN: `source` is the file name.
    """
    import yaml  # noqa: PLC0415 - only this entry point reads files

    out = []
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        for document in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if isinstance(document, dict) and document.get("kind"):
                out.append(PlannedObject(document, source=path.name))
    return out


def check_plan_directory(plan_dir: Path, **options: Any) -> CheckResult:
    """The check on a written plan: the network from `resources.json`, objects from `manifests/`."""
    import json  # noqa: PLC0415

    from platformctl.checks.addresses import network_from_resources  # noqa: PLC0415

    resources = json.loads((plan_dir / "resources.json").read_text(encoding="utf-8"))
    network = network_from_resources(resources)
    return check_connectivity(objects_from_manifests(plan_dir / "manifests"), network, **options)
