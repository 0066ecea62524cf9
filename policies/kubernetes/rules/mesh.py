"""The Istio mesh (docs/decisions/0011-istio-without-privileged-workloads.md): STRICT mTLS
in every injected namespace, no policy that allows everything, JWT keys fetched over TLS,
TLS at the gateway, and routes only for the hosts the gateway serves."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from mlops_policy_kit import (
    HIGH,
    MANDATORY,
    MEDIUM,
    Config,
    as_list,
    as_map,
    of_type,
    resource_policy,
    stack_policy,
    str_list,
)
from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from ._levels import NAMESPACE
from ._pods import metadata_namespace, namespace_of, object_label


def _versions(group: str, kind: str, versions: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"kubernetes:{group}/{v}:{kind}" for v in versions)


PEER_AUTHENTICATIONS = _versions("security.istio.io", "PeerAuthentication", ("v1", "v1beta1"))
AUTHORIZATION_POLICIES = _versions("security.istio.io", "AuthorizationPolicy", ("v1", "v1beta1"))
REQUEST_AUTHENTICATIONS = _versions("security.istio.io", "RequestAuthentication", ("v1", "v1beta1"))
GATEWAYS = _versions("networking.istio.io", "Gateway", ("v1", "v1beta1", "v1alpha3"))
VIRTUAL_SERVICES = _versions("networking.istio.io", "VirtualService", ("v1", "v1beta1", "v1alpha3"))
WEAK_MTLS = {"PERMISSIVE", "DISABLE"}


def _mtls_modes(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(where, mode) for the policy's mode and every port-level override."""
    spec = as_map(props.get("spec"))
    modes = [("", str(as_map(spec.get("mtls")).get("mode") or "UNSET"))]
    for port, setting in as_map(spec.get("portLevelMtls")).items():
        modes.append((f" on port {port}", str(as_map(setting).get("mode") or "UNSET")))
    return modes


def validate_peer_authentication(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    what = object_label(args.resource_type, args.props, args.name)
    for where, mode in _mtls_modes(args.props):
        if mode in WEAK_MTLS:
            report(f"The {what} sets mTLS to {mode}{where}; the mesh requires STRICT.", None)


peer_authentication_strict = resource_policy(
    name="k8s-istio-peer-authentication-strict",
    description="PeerAuthentications must not relax mTLS to PERMISSIVE or DISABLE.",
    validate=validate_peer_authentication,
    types=PEER_AUTHENTICATIONS,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("MLOPS-D11",),
)

INJECTION_LABEL = "istio-injection"
REVISION_LABEL = "istio.io/rev"


def _injected(namespace: PolicyResource) -> bool:
    labels = as_map(as_map(namespace.props.get("metadata")).get("labels"))
    return labels.get(INJECTION_LABEL) == "enabled" or bool(labels.get(REVISION_LABEL))


def _namespace_wide_strict(props: Mapping[str, Any]) -> bool:
    spec = as_map(props.get("spec"))
    selector = as_map(as_map(spec.get("selector")).get("matchLabels"))
    return not selector and as_map(spec.get("mtls")).get("mode") == "STRICT"


def validate_mesh_strict(
    args: StackValidationArgs, report: ReportViolation, config: Config
) -> None:
    strict = {
        namespace_of(p.props)
        for p in of_type(args.resources, *PEER_AUTHENTICATIONS)
        if _namespace_wide_strict(p.props)
    }
    if config["rootNamespace"] in strict:
        return  # a mesh-wide STRICT policy covers every namespace
    for ns in of_type(args.resources, NAMESPACE):
        name = str(as_map(ns.props.get("metadata")).get("name") or ns.name)
        if _injected(ns) and name not in strict:
            report(
                f"The namespace '{name}' is in the mesh but no namespace-wide PeerAuthentication "
                "makes its mTLS STRICT, so its sidecars also accept plain text.",
                ns.urn,
            )


mesh_namespace_strict = stack_policy(
    name="k8s-istio-mesh-namespace-strict-mtls",
    description="Every namespace in the mesh must have a namespace-wide STRICT PeerAuthentication.",
    validate=validate_mesh_strict,
    types=(NAMESPACE, *PEER_AUTHENTICATIONS),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("MLOPS-D11",),
    config={
        "rootNamespace": {
            "type": "string",
            "default": "istio-system",
            "description": "Istio's root namespace, where a policy applies to the whole mesh.",
        }
    },
)


def _empty_rule(rule: object) -> bool:
    r = as_map(rule)
    return not (as_list(r.get("from")) or as_list(r.get("to")) or as_list(r.get("when")))


def validate_authorization_policy(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    spec = as_map(args.props.get("spec"))
    if str(spec.get("action") or "ALLOW") != "ALLOW":
        return
    if any(map(_empty_rule, as_list(spec.get("rules")))):
        what = object_label(args.resource_type, args.props, args.name)
        report(
            f"The {what} has an ALLOW rule with no source, operation or condition, which "
            "allows every request; name who may call what.",
            None,
        )


authorization_policy_no_allow_all = resource_policy(
    name="k8s-istio-authorization-policy-no-allow-all",
    description="An ALLOW AuthorizationPolicy must not contain a rule that matches everything.",
    validate=validate_authorization_policy,
    types=AUTHORIZATION_POLICIES,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("MLOPS-D11",),
)


def validate_request_authentication(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    what = object_label(args.resource_type, args.props, args.name)
    for rule in map(as_map, as_list(as_map(args.props.get("spec")).get("jwtRules"))):
        issuer, jwks_uri = str(rule.get("issuer") or ""), rule.get("jwksUri")
        if not issuer:
            report(f"A JWT rule of the {what} names no issuer.", None)
        if rule.get("jwks"):
            continue  # keys given inline
        source = str(jwks_uri) if jwks_uri else issuer  # else istiod uses OIDC discovery
        if source and not source.startswith("https://"):
            report(
                f"The {what} fetches the signing keys of {issuer} from {source}, not over HTTPS.",
                None,
            )


request_authentication_https = resource_policy(
    name="k8s-istio-request-authentication-jwks-https",
    description="RequestAuthentications must name an issuer and fetch its keys over HTTPS.",
    validate=validate_request_authentication,
    types=REQUEST_AUTHENTICATIONS,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("MLOPS-D11",),
)

TERMINATING_MODES = {"SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL"}
ENCRYPTED_MODES = {*TERMINATING_MODES, "ISTIO_MUTUAL", "PASSTHROUGH", "AUTO_PASSTHROUGH"}


def _server_problem(server: Mapping[str, Any]) -> str | None:
    port = as_map(server.get("port"))
    protocol = str(port.get("protocol") or "").upper()
    tls = as_map(server.get("tls"))
    mode = str(tls.get("mode") or "")
    label = f"the server on port {port.get('number')} ({protocol or '?'})"
    if protocol in ("HTTPS", "TLS"):
        if mode not in ENCRYPTED_MODES:
            return f"{label} has no TLS mode"
        if mode in TERMINATING_MODES and not (
            tls.get("credentialName") or tls.get("serverCertificate")
        ):
            return f"{label} terminates TLS without a certificate (credentialName)"
        return None
    if protocol in ("HTTP", "HTTP2") and tls.get("httpsRedirect") is True:
        return None
    return f"{label} serves plain text; redirect it to HTTPS or serve TLS"


def validate_gateway_tls(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    what = object_label(args.resource_type, args.props, args.name)
    for server in map(as_map, as_list(as_map(args.props.get("spec")).get("servers"))):
        problem = _server_problem(server)
        if problem:
            report(f"In the {what}, {problem}.", None)


gateway_tls = resource_policy(
    name="k8s-istio-gateway-tls",
    description="Gateway servers must serve TLS or redirect plain HTTP to HTTPS.",
    validate=validate_gateway_tls,
    types=GATEWAYS,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-5.4.5", "MLOPS-D11"),
)


def _gateway_hosts(gateway: PolicyResource) -> list[tuple[str, str]]:
    """(namespace pattern, host pattern) of every host a Gateway's servers accept."""
    gateway_ns = namespace_of(gateway.props)
    out = []
    for server in map(as_map, as_list(as_map(gateway.props.get("spec")).get("servers"))):
        for entry in str_list(server.get("hosts")):
            namespace, sep, host = entry.partition("/")
            if not sep:
                namespace, host = "*", entry
            out.append((gateway_ns if namespace == "." else namespace, host))
    return out


def _host_allowed(host: str, namespace: str, allowed: list[tuple[str, str]]) -> bool:
    return any(
        ns in ("*", namespace) and fnmatch.fnmatchcase(host, pattern) for ns, pattern in allowed
    )


def validate_virtual_service_hosts(
    args: StackValidationArgs, report: ReportViolation, _: Config
) -> None:
    gateways = {
        (namespace_of(g.props), str(as_map(g.props.get("metadata")).get("name") or g.name)): g
        for g in of_type(args.resources, *GATEWAYS)
    }
    for vs in of_type(args.resources, *VIRTUAL_SERVICES):
        spec = as_map(vs.props.get("spec"))
        namespace = namespace_of(vs.props)
        what = object_label(vs.resource_type, vs.props, vs.name)
        hosts = str_list(spec.get("hosts"))
        if "*" in hosts:
            report(f"The {what} routes every host ('*'); name the hosts it serves.", vs.urn)
        for ref in str_list(spec.get("gateways")):
            if ref == "mesh":
                continue
            gw_ns, sep, gw_name = ref.partition("/")
            key = (gw_ns, gw_name) if sep else (metadata_namespace(vs.props) or "default", ref)
            gateway = gateways.get(key)
            if gateway is None:
                report(
                    f"The {what} binds to the gateway {ref}, which this stack does not define.",
                    vs.urn,
                )
                continue
            allowed = _gateway_hosts(gateway)
            outside = [h for h in hosts if h != "*" and not _host_allowed(h, namespace, allowed)]
            if outside:
                report(
                    f"The {what} routes {', '.join(outside)} through the gateway {ref}, which "
                    "does not serve those hosts to this namespace.",
                    vs.urn,
                )


virtual_service_hosts = stack_policy(
    name="k8s-istio-virtual-service-hosts-on-gateway",
    description="VirtualServices on a gateway may route only hosts that gateway serves.",
    validate=validate_virtual_service_hosts,
    types=(*VIRTUAL_SERVICES, *GATEWAYS),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("MLOPS-D11",),
)

POLICIES = [
    peer_authentication_strict,
    mesh_namespace_strict,
    authorization_policy_no_allow_all,
    request_authentication_https,
    gateway_tls,
    virtual_service_hosts,
]
