"""Every control of the Pod Security Standards "restricted" profile (baseline included).

One rule per control, on Pods and every kind with a pod template. Each rule takes an
``exemptNamespaces`` list: the namespaces labelled ``privileged`` for node agents
(DESIGN decision 11) are exempted there, with the reason beside the label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mlops_policy_kit import (
    CRITICAL,
    HIGH,
    MANDATORY,
    MEDIUM,
    Config,
    as_list,
    as_map,
    number,
    resource_policy,
    str_list,
)
from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._pods import (
    WORKLOAD_TYPES,
    containers,
    namespace_of,
    object_label,
    pod_annotations,
    pod_spec,
    security_context,
)

EXEMPT_CONFIG: dict[str, dict[str, Any]] = {
    "exemptNamespaces": {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "Namespaces where this control is not enforced (privileged node agents).",
    }
}

# A check returns the problems it finds in one pod spec, as sentence fragments.
PodCheck = Callable[[Mapping[str, Any], Mapping[str, Any], Config], Iterator[str]]


def pod_rule(
    *,
    name: str,
    description: str,
    check: PodCheck,
    severity: Any,
    benchmarks: tuple[str, ...],
    config: dict[str, dict[str, Any]] | None = None,
):
    """A mandatory resource policy applying ``check(spec, annotations, config)`` to pods."""

    def validate(args: ResourceValidationArgs, report: ReportViolation, cfg: Config) -> None:
        if namespace_of(args.props) in set(cfg.get("exemptNamespaces", [])):
            return
        spec = pod_spec(args.props, args.resource_type)
        annotations = pod_annotations(args.props, args.resource_type)
        what = object_label(args.resource_type, args.props, args.name)
        for problem in check(spec, annotations, cfg):
            report(f"In the {what}, {problem}.", None)

    validate.__name__ = f"validate_{name.replace('-', '_')}"
    return resource_policy(
        name=name,
        description=description,
        validate=validate,
        types=WORKLOAD_TYPES,
        level=MANDATORY,
        severity=severity,
        benchmarks=benchmarks,
        config={**EXEMPT_CONFIG, **(config or {})},
    )


def _cname(c: Mapping[str, Any]) -> str:
    return f"the container '{c.get('name', '?')}'"


# --- baseline controls ------------------------------------------------------------------


def check_privileged(spec, _annotations, _cfg) -> Iterator[str]:
    if as_map(security_context(spec).get("windowsOptions")).get("hostProcess") is True:
        yield "the pod runs as a Windows HostProcess"
    for _, c in containers(spec):
        sc = security_context(c)
        if sc.get("privileged") is True:
            yield f"{_cname(c)} must not be privileged"
        if as_map(sc.get("windowsOptions")).get("hostProcess") is True:
            yield f"{_cname(c)} must not run as a Windows HostProcess"


def check_host_namespaces(spec, _annotations, _cfg) -> Iterator[str]:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is True:
            yield f"the pod must not set {key}"


def check_host_path(spec, _annotations, _cfg) -> Iterator[str]:
    for volume in map(as_map, as_list(spec.get("volumes"))):
        if volume.get("hostPath") is not None:
            yield f"the volume '{volume.get('name')}' must not be a hostPath"


def check_host_ports(spec, _annotations, _cfg) -> Iterator[str]:
    for _, c in containers(spec):
        for port in map(as_map, as_list(c.get("ports"))):
            if number(port.get("hostPort"), 0.0):
                yield f"{_cname(c)} must not bind hostPort {int(port['hostPort'])}"


def check_proc_mount(spec, _annotations, _cfg) -> Iterator[str]:
    for _, c in containers(spec):
        mount = security_context(c).get("procMount")
        if mount not in (None, "Default"):
            yield f"{_cname(c)} must use the Default procMount, not {mount}"


APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def check_apparmor(spec, annotations, _cfg) -> Iterator[str]:
    for key, value in annotations.items():
        if key.startswith(APPARMOR_PREFIX) and not (
            value == "runtime/default" or str(value).startswith("localhost/")
        ):
            yield f"the AppArmor annotation {key} must be runtime/default or localhost/*"
    profiles = [("the pod", security_context(spec))]
    profiles += [(_cname(c), security_context(c)) for _, c in containers(spec)]
    for who, sc in profiles:
        kind = as_map(sc.get("appArmorProfile")).get("type")
        if kind not in (None, "RuntimeDefault", "Localhost"):
            yield f"{who} must not use the AppArmor profile {kind}"


SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def check_selinux(spec, _annotations, _cfg) -> Iterator[str]:
    contexts = [("the pod", security_context(spec))]
    contexts += [(_cname(c), security_context(c)) for _, c in containers(spec)]
    for who, sc in contexts:
        options = as_map(sc.get("seLinuxOptions"))
        if options.get("type", "") not in SELINUX_TYPES:
            yield f"{who} must not set the SELinux type {options.get('type')}"
        for key in ("user", "role"):
            if options.get(key):
                yield f"{who} must not set the SELinux {key}"


SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}


def check_sysctls(spec, _annotations, _cfg) -> Iterator[str]:
    for sysctl in map(as_map, as_list(security_context(spec).get("sysctls"))):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"the pod must not set the unsafe sysctl {sysctl.get('name')}"


# --- restricted controls -----------------------------------------------------------------

ALLOWED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def check_volume_types(spec, _annotations, _cfg) -> Iterator[str]:
    for volume in map(as_map, as_list(spec.get("volumes"))):
        kinds = [k for k in volume if k != "name" and volume.get(k) is not None]
        bad = [k for k in kinds if k not in ALLOWED_VOLUME_TYPES]
        if bad:
            yield f"the volume '{volume.get('name')}' uses the disallowed type {', '.join(bad)}"


def check_privilege_escalation(spec, _annotations, _cfg) -> Iterator[str]:
    for _, c in containers(spec):
        if security_context(c).get("allowPrivilegeEscalation") is not False:
            yield f"{_cname(c)} must set allowPrivilegeEscalation to false"


def check_run_as_non_root(spec, _annotations, _cfg) -> Iterator[str]:
    pod_level = security_context(spec).get("runAsNonRoot")
    for _, c in containers(spec):
        own = security_context(c).get("runAsNonRoot")
        if own is False or (own is None and pod_level is not True):
            yield f"{_cname(c)} must run with runAsNonRoot true"


def check_run_as_user(spec, _annotations, _cfg) -> Iterator[str]:
    if number(security_context(spec).get("runAsUser")) == 0:
        yield "the pod must not set runAsUser to 0"
    for _, c in containers(spec):
        if number(security_context(c).get("runAsUser")) == 0:
            yield f"{_cname(c)} must not set runAsUser to 0"


SECCOMP_OK = {"RuntimeDefault", "Localhost"}


def check_seccomp(spec, _annotations, _cfg) -> Iterator[str]:
    pod_type = as_map(security_context(spec).get("seccompProfile")).get("type")
    if pod_type is not None and pod_type not in SECCOMP_OK:
        yield f"the pod must not use the seccomp profile {pod_type}"
    for _, c in containers(spec):
        own = as_map(security_context(c).get("seccompProfile")).get("type")
        if own is not None and own not in SECCOMP_OK:
            yield f"{_cname(c)} must not use the seccomp profile {own}"
        elif own is None and pod_type not in SECCOMP_OK:
            yield f"{_cname(c)} must run with the seccomp profile RuntimeDefault or Localhost"


def check_drop_all(spec, _annotations, _cfg) -> Iterator[str]:
    for _, c in containers(spec):
        drop = str_list(as_map(security_context(c).get("capabilities")).get("drop"))
        if "ALL" not in drop:
            yield f"{_cname(c)} must drop the capability ALL"


def check_add_capabilities(spec, _annotations, cfg) -> Iterator[str]:
    allowed = set(cfg["allowedCapabilities"])
    for _, c in containers(spec):
        add = str_list(as_map(security_context(c).get("capabilities")).get("add"))
        bad = [cap for cap in add if cap not in allowed]
        if bad:
            yield f"{_cname(c)} must not add the capabilities {', '.join(bad)}"


privileged = pod_rule(
    name="k8s-pod-no-privileged",
    description="Pods must not run privileged containers or Windows HostProcess containers.",
    check=check_privileged,
    severity=CRITICAL,
    benchmarks=("PSS-baseline-privileged", "CKV_K8S_16", "CIS-EKS-4.2.1"),
)
host_namespaces = pod_rule(
    name="k8s-pod-no-host-namespaces",
    description="Pods must not share the host's network, PID or IPC namespaces.",
    check=check_host_namespaces,
    severity=HIGH,
    benchmarks=("PSS-baseline-host-namespaces", "CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19"),
)
host_path = pod_rule(
    name="k8s-pod-no-host-path",
    description="Pods must not mount hostPath volumes.",
    check=check_host_path,
    severity=HIGH,
    benchmarks=("PSS-baseline-hostpath-volumes", "CKV_K8S_27"),
)
host_ports = pod_rule(
    name="k8s-pod-no-host-ports",
    description="Containers must not bind host ports.",
    check=check_host_ports,
    severity=MEDIUM,
    benchmarks=("PSS-baseline-host-ports", "CKV_K8S_26"),
)
proc_mount = pod_rule(
    name="k8s-pod-proc-mount-default",
    description="Containers must use the default /proc mount.",
    check=check_proc_mount,
    severity=MEDIUM,
    benchmarks=("PSS-baseline-proc-mount",),
)
apparmor = pod_rule(
    name="k8s-pod-apparmor-not-unconfined",
    description="Pods must not override the runtime's AppArmor profile with an unconfined one.",
    check=check_apparmor,
    severity=MEDIUM,
    benchmarks=("PSS-baseline-apparmor",),
)
selinux = pod_rule(
    name="k8s-pod-selinux-restricted",
    description="Pods must not set custom SELinux users, roles or types.",
    check=check_selinux,
    severity=MEDIUM,
    benchmarks=("PSS-baseline-selinux",),
)
sysctls = pod_rule(
    name="k8s-pod-sysctls-safe",
    description="Pods may set only the safe, namespaced sysctls.",
    check=check_sysctls,
    severity=MEDIUM,
    benchmarks=("PSS-baseline-sysctls",),
)
volume_types = pod_rule(
    name="k8s-pod-volume-types-restricted",
    description="Pods may use only the volume types the restricted profile allows.",
    check=check_volume_types,
    severity=MEDIUM,
    benchmarks=("PSS-restricted-volume-types",),
)
privilege_escalation = pod_rule(
    name="k8s-pod-no-privilege-escalation",
    description="Containers must set allowPrivilegeEscalation to false.",
    check=check_privilege_escalation,
    severity=HIGH,
    benchmarks=("PSS-restricted-privilege-escalation", "CKV_K8S_20", "CIS-EKS-4.2.5"),
)
run_as_non_root = pod_rule(
    name="k8s-pod-run-as-non-root",
    description="Containers must run with runAsNonRoot set to true.",
    check=check_run_as_non_root,
    severity=HIGH,
    benchmarks=("PSS-restricted-running-as-non-root", "CKV_K8S_23", "CIS-EKS-4.2.6"),
)
run_as_user = pod_rule(
    name="k8s-pod-run-as-user-not-root",
    description="Pods and containers must not set runAsUser to 0.",
    check=check_run_as_user,
    severity=HIGH,
    benchmarks=("PSS-restricted-running-as-non-root-user", "CKV_K8S_40"),
)
seccomp = pod_rule(
    name="k8s-pod-seccomp-profile",
    description="Containers must run with the RuntimeDefault or a Localhost seccomp profile.",
    check=check_seccomp,
    severity=MEDIUM,
    benchmarks=("PSS-restricted-seccomp", "CKV_K8S_31", "CIS-EKS-4.6.2"),
)
drop_all = pod_rule(
    name="k8s-pod-capabilities-drop-all",
    description="Containers must drop every Linux capability.",
    check=check_drop_all,
    severity=HIGH,
    benchmarks=("PSS-restricted-capabilities", "CKV_K8S_37", "CIS-EKS-4.2.8"),
)
add_capabilities = pod_rule(
    name="k8s-pod-capabilities-add-restricted",
    description="Containers may add back only the NET_BIND_SERVICE capability.",
    check=check_add_capabilities,
    severity=HIGH,
    benchmarks=("PSS-restricted-capabilities", "CKV_K8S_25", "CKV_K8S_39"),
    config={
        "allowedCapabilities": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["NET_BIND_SERVICE"],
            "description": "Capabilities a container may add.",
        }
    },
)

POLICIES = [
    privileged,
    host_namespaces,
    host_path,
    host_ports,
    proc_mount,
    apparmor,
    selinux,
    sysctls,
    volume_types,
    privilege_escalation,
    run_as_non_root,
    run_as_user,
    seccomp,
    drop_all,
    add_capabilities,
]
