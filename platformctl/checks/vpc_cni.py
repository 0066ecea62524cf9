"""What the VPC CNI enforces that a NetworkPolicy analyzer does not know (pure).

The VPC CNI's network-policy agent attaches its eBPF programs to the pod's veth,
so it sees a pod's egress *before* kube-proxy's DNAT: a connection to a Service
is checked against the ClusterIP, not the pod behind it. Its controller
(aws/amazon-network-policy-controller-k8s v1.1.7, `pkg/resolvers/endpoints.go`,
`computeEgressEndpoints` and `getMatchingServiceClusterIPs`) therefore adds to
an egress rule, for every pod/namespace-selector peer, the ClusterIPs of the
Services in the peer's namespaces whose `spec.selector` the peer's podSelector
matches, on the Service port whose targetPort the rule's port names
(`pkg/k8s/service_utils.go` `LookupServiceListenPort`, then the backing pods'
container ports), skipping headless Services and Service ports whose named
targetPort would resolve to a port the rule does not admit (`hasTargetPortBypass`).
Nothing else reaches a ClusterIP: an ipBlock peer reaches it only if it names it.

`with_cluster_ips` writes those additions into the policies as explicit ipBlock
rules (`<ClusterIP>/32` on the Service port), so the analyzer then computes
exactly what the agent allows. `normalised` rewrites a policy to the shape the
analyzer parses (it rejects `policyTypes: [Egress, Ingress]` and rules of a
direction the policy does not enforce, which the API server accepts and ignores).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from platformctl.checks import PlannedObject
from platformctl.checks.cluster import Cluster, Service
from platformctl.checks.selectors import selector_matches

CNI_RULE_ANNOTATION: Final = "mlops-platform.io/vpc-cni-cluster-ips"
Rule = dict[str, Any]


def _same_target(target: int | str, policy_port: int | str) -> bool:
    return type(target) is type(policy_port) and str(target) == str(policy_port)


def _listen_port(
    service: Service, policy_port: int | str, protocol: str, cluster: Cluster
) -> int | None:
    """The Service port a policy port reaches (LookupServiceListenPort, then the pods' ports)."""
    for port in service.ports:
        if port.protocol == protocol and _same_target(port.target, policy_port):
            return port.port
    for pod in cluster.backends(service):
        container = pod.port(policy_port, protocol)
        if container is None:
            continue
        for port in service.ports:
            if port.protocol != protocol:
                continue
            if (isinstance(port.target, str) and port.target == container.name) or (
                isinstance(port.target, int) and port.target == container.number
            ):
                return port.port
    return None


def _admits(number: int, protocol: str, policy_ports: Sequence[Mapping[str, Any]]) -> bool:
    for entry in policy_ports:
        if str(entry.get("protocol") or "TCP") != protocol:
            continue
        port = entry.get("port")
        if port is None:
            return True
        if isinstance(port, int) and port <= number <= int(entry.get("endPort") or port):
            return True
    return False


def _bypasses(
    service: Service,
    listen: int,
    protocol: str,
    policy_ports: Sequence[Mapping[str, Any]],
    cluster: Cluster,
) -> bool:
    """hasTargetPortBypass: a named targetPort that resolves to a port the rule does not admit."""
    target = next(
        (
            p.target
            for p in service.ports
            if p.port == listen and p.protocol == protocol and isinstance(p.target, str)
        ),
        None,
    )
    if target is None:
        return False
    for pod in cluster.backends(service):
        named = next((p for p in pod.ports if p.name == target and p.protocol == protocol), None)
        if named is not None and not _admits(named.number, protocol, policy_ports):
            return True
    return False


def _service_ports(
    service: Service, policy_ports: Sequence[Mapping[str, Any]], cluster: Cluster
) -> list[Rule] | None:
    """The rule's ports translated to the Service's ports; None: the Service is not added."""
    if not policy_ports:
        return []  # every port
    out: list[Rule] = []
    for entry in policy_ports:
        protocol = str(entry.get("protocol") or "TCP")
        port = entry.get("port")
        if port is None:
            out.append({"protocol": protocol})
            continue
        listen = _listen_port(service, port, protocol, cluster)
        if listen is None:
            continue
        if isinstance(port, int) and _bypasses(service, listen, protocol, policy_ports, cluster):
            continue
        translated: Rule = {"protocol": protocol, "port": listen}
        if entry.get("endPort") is not None and int(entry["endPort"]) >= listen:
            translated["endPort"] = int(entry["endPort"])
        out.append(translated)
    return out or None


def cluster_ip_rules(policy: PlannedObject, cluster: Cluster) -> list[Rule]:
    """The egress rules the CNI's controller adds to `policy` for Services' ClusterIPs."""
    spec = policy.manifest.get("spec") or {}
    if "Egress" not in _policy_types(spec):
        return []
    out: list[Rule] = []
    for rule in spec.get("egress") or []:
        peers = rule.get("to")
        if not peers:  # no `to`: every destination already, ClusterIPs included
            continue
        for peer in peers:
            if "ipBlock" in peer:
                continue
            namespaces = (
                cluster.namespaces_matching(peer["namespaceSelector"] or {})
                if "namespaceSelector" in peer
                else [policy.namespace]
            )
            pod_selector = peer.get("podSelector") or {}
            for service in cluster.services:
                if service.namespace not in namespaces or not service.cluster_ip:
                    continue
                if not selector_matches(pod_selector, dict(service.selector or ())):
                    continue
                translated = _service_ports(service, rule.get("ports") or [], cluster)
                if translated is None:
                    continue
                added: Rule = {"to": [{"ipBlock": {"cidr": f"{service.cluster_ip}/32"}}]}
                if translated:
                    added["ports"] = translated
                if added not in out:
                    out.append(added)
    return out


def _policy_types(spec: Mapping[str, Any]) -> list[str]:
    """The API server's defaulting: Ingress always, Egress when egress rules exist."""
    declared = spec.get("policyTypes")
    if declared:
        return [t for t in ("Ingress", "Egress") if t in declared]
    return ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def normalised(policy: PlannedObject, extra_egress: Sequence[Rule] = ()) -> dict[str, Any]:
    """The policy as the analyzer parses it: only the fields that decide traffic."""
    spec = policy.manifest.get("spec") or {}
    types = _policy_types(spec)
    out_spec: dict[str, Any] = {
        "podSelector": spec.get("podSelector") or {},
        "policyTypes": types,
    }
    if "Ingress" in types and spec.get("ingress") is not None:
        out_spec["ingress"] = spec["ingress"]
    if "Egress" in types:
        egress = list(spec.get("egress") or []) + list(extra_egress)
        if egress or spec.get("egress") is not None:
            out_spec["egress"] = egress
    metadata: dict[str, Any] = {"name": policy.name, "namespace": policy.namespace or "default"}
    if extra_egress:
        metadata["annotations"] = {CNI_RULE_ANNOTATION: str(len(extra_egress))}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata,
        "spec": out_spec,
    }


def with_cluster_ips(cluster: Cluster) -> list[dict[str, Any]]:
    """Every planned NetworkPolicy, normalised, with the CNI's ClusterIP rules written in."""
    return [normalised(p, cluster_ip_rules(p, cluster)) for p in cluster.policies]
