"""Every control of the Pod Security Standards (baseline and restricted), as of Kubernetes 1.36.

One rule per control, on every kind that carries a pod spec (``_pods.WORKLOAD_TYPES``).
Each control has the level that defines it and is enforced where the pod's namespace
enforces that level or a stricter one, as the Pod Security admission controller does
(``_levels``): a node agent in a namespace labelled ``privileged`` is exempt from all of
them, a pod in a ``baseline`` namespace from the restricted ones. Controls whose rule
differs by level (seccomp, capabilities, /proc mount, user namespaces) apply the rule of
the namespace's level, as pod-security-admission v0.36 does. The checks follow its
``policy/check_*.go`` field for field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlops_policy_kit import (
    CRITICAL,
    HIGH,
    MANDATORY,
    MEDIUM,
    Config,
    ConfigSchema,
    as_list,
    as_map,
    number,
    of_type,
    stack_policy,
    str_list,
)
from pulumi_policy import ReportViolation, Severity, StackValidationArgs

from ._levels import (
    BASELINE,
    NAMESPACE,
    NAMESPACE_LEVELS_CONFIG,
    RESTRICTED,
    applies,
    level_of,
    namespace_levels,
)
from ._pods import (
    WORKLOAD_TYPES,
    container_name,
    containers,
    metadata_namespace,
    object_label,
    pod_views,
    security_context,
)

# A check returns the problems it finds in one pod spec, as sentence fragments.
PodCheck = Callable[[Mapping[str, Any], Mapping[str, Any], str, Config], Iterator[str]]


@dataclass(frozen=True)
class Control:
    """One Pod Security Standards control."""

    name: str
    description: str
    level: str
    check: PodCheck
    severity: Severity
    benchmarks: tuple[str, ...]
    config: ConfigSchema | None = None


def control_policy(control: Control) -> Any:
    """A mandatory stack policy applying ``control`` to every pod where its level applies."""

    def validate(args: StackValidationArgs, report: ReportViolation, cfg: Config) -> None:
        levels = namespace_levels(args.resources)
        for resource in of_type(args.resources, *WORKLOAD_TYPES):
            level = level_of(metadata_namespace(resource.props), levels, cfg)
            if not applies(control.level, level):
                continue
            what = object_label(resource.resource_type, resource.props, resource.name)
            for view in pod_views(resource.props, resource.resource_type):
                for problem in control.check(view.spec, view.annotations, level, cfg):
                    report(f"In the {what}{view.where}, {problem}.", resource.urn)

    validate.__name__ = f"validate_{control.name.replace('-', '_')}"
    return stack_policy(
        name=control.name,
        description=control.description,
        validate=validate,
        types=(*WORKLOAD_TYPES, NAMESPACE),
        level=MANDATORY,
        severity=control.severity,
        benchmarks=control.benchmarks,
        config={**NAMESPACE_LEVELS_CONFIG, **(control.config or {})},
    )


def _user_namespace(spec: Mapping[str, Any]) -> bool:
    """A pod in its own user namespace (``hostUsers: false``): its root is not the host's."""
    return spec.get("hostUsers") is False


def _contexts(spec: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(who, securityContext) for the pod and each of its containers."""
    return [("the pod", security_context(spec))] + [
        (container_name(c), security_context(c)) for _, c in containers(spec)
    ]


# --- baseline -------------------------------------------------------------------------


def check_privileged(spec, _annotations, _level, _cfg) -> Iterator[str]:
    if as_map(security_context(spec).get("windowsOptions")).get("hostProcess") is True:
        yield "the pod runs as a Windows HostProcess"
    for _, c in containers(spec):
        sc = security_context(c)
        if sc.get("privileged") is True:
            yield f"{container_name(c)} must not be privileged"
        if as_map(sc.get("windowsOptions")).get("hostProcess") is True:
            yield f"{container_name(c)} must not run as a Windows HostProcess"


def check_host_namespaces(spec, _annotations, _level, _cfg) -> Iterator[str]:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is True:
            yield f"the pod must not set {key}"


def check_host_path(spec, _annotations, _level, _cfg) -> Iterator[str]:
    for volume in map(as_map, as_list(spec.get("volumes"))):
        if volume.get("hostPath") is not None:
            yield f"the volume '{volume.get('name')}' must not be a hostPath"


def check_host_ports(spec, _annotations, _level, _cfg) -> Iterator[str]:
    for _, c in containers(spec):
        for port in map(as_map, as_list(c.get("ports"))):
            if number(port.get("hostPort"), 0.0):
                yield f"{container_name(c)} must not bind hostPort {int(port['hostPort'])}"


PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
LIFECYCLE_HOOKS = ("postStart", "preStop")


def check_host_probes(spec, _annotations, _level, _cfg) -> Iterator[str]:
    for _, c in containers(spec):
        handlers = [(p, as_map(c.get(p))) for p in PROBES]
        handlers += [(h, as_map(as_map(c.get("lifecycle")).get(h))) for h in LIFECYCLE_HOOKS]
        for where, handler in handlers:
            for action in ("httpGet", "tcpSocket"):
                host = as_map(handler.get(action)).get("host")
                if host:
                    yield (
                        f"{container_name(c)} must not aim its {where} {action} at the host {host}"
                    )


def check_proc_mount(spec, _annotations, level, _cfg) -> Iterator[str]:
    if level == BASELINE and _user_namespace(spec):
        return  # baseline relaxes /proc masks inside a user namespace; restricted does not
    for _, c in containers(spec):
        mount = security_context(c).get("procMount")
        if mount not in (None, "Default"):
            yield f"{container_name(c)} must use the Default procMount, not {mount}"


APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def check_apparmor(spec, annotations, _level, _cfg) -> Iterator[str]:
    for key, value in annotations.items():
        if key.startswith(APPARMOR_PREFIX) and not (
            not value or value == "runtime/default" or str(value).startswith("localhost/")
        ):
            yield f"the AppArmor annotation {key} must be runtime/default or localhost/*"
    for who, sc in _contexts(spec):
        kind = as_map(sc.get("appArmorProfile")).get("type")
        if kind not in (None, "RuntimeDefault", "Localhost"):
            yield f"{who} must not use the AppArmor profile {kind}"


SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def check_selinux(spec, _annotations, _level, _cfg) -> Iterator[str]:
    for who, sc in _contexts(spec):
        options = as_map(sc.get("seLinuxOptions"))
        if options.get("type", "") not in SELINUX_TYPES:
            yield f"{who} must not set the SELinux type {options.get('type')}"
        for key in ("user", "role"):
            if options.get(key):
                yield f"{who} must not set the SELinux {key}"


# pod-security-admission v0.36 (Kubernetes 1.36): the 1.32 set.
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
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
}


def check_sysctls(spec, _annotations, _level, _cfg) -> Iterator[str]:
    for sysctl in map(as_map, as_list(security_context(spec).get("sysctls"))):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"the pod must not set the unsafe sysctl {sysctl.get('name')}"


SECCOMP_OK = {"RuntimeDefault", "Localhost"}


def check_seccomp(spec, _annotations, level, _cfg) -> Iterator[str]:
    """Baseline: a profile, where set, is not Unconfined. Restricted: every container has one."""
    pod_type = as_map(security_context(spec).get("seccompProfile")).get("type")
    if pod_type is not None and pod_type not in SECCOMP_OK:
        yield f"the pod must not use the seccomp profile {pod_type}"
    for _, c in containers(spec):
        own = as_map(security_context(c).get("seccompProfile")).get("type")
        if own is not None and own not in SECCOMP_OK:
            yield f"{container_name(c)} must not use the seccomp profile {own}"
        elif level == RESTRICTED and own is None and pod_type not in SECCOMP_OK:
            yield (
                f"{container_name(c)} must run with the seccomp profile RuntimeDefault or Localhost"
            )


# The capabilities a container runtime grants by default: what baseline lets a container add.
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}


def check_add_capabilities(spec, _annotations, level, cfg) -> Iterator[str]:
    allowed = set(cfg["allowedCapabilities"]) if level == RESTRICTED else BASELINE_CAPABILITIES
    for _, c in containers(spec):
        add = str_list(as_map(security_context(c).get("capabilities")).get("add"))
        bad = [cap for cap in add if cap not in allowed]
        if bad:
            yield f"{container_name(c)} must not add the capabilities {', '.join(bad)}"


# --- restricted ------------------------------------------------------------------------

ALLOWED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def check_volume_types(spec, _annotations, _level, _cfg) -> Iterator[str]:
    for volume in map(as_map, as_list(spec.get("volumes"))):
        kinds = [k for k in volume if k != "name" and volume.get(k) is not None]
        bad = [k for k in kinds if k not in ALLOWED_VOLUME_TYPES]
        if bad:
            yield f"the volume '{volume.get('name')}' uses the disallowed type {', '.join(bad)}"


def check_privilege_escalation(spec, _annotations, _level, _cfg) -> Iterator[str]:
    for _, c in containers(spec):
        if security_context(c).get("allowPrivilegeEscalation") is not False:
            yield f"{container_name(c)} must set allowPrivilegeEscalation to false"


def check_run_as_non_root(spec, _annotations, _level, _cfg) -> Iterator[str]:
    if _user_namespace(spec):
        return
    pod_level = security_context(spec).get("runAsNonRoot")
    if pod_level is False:
        yield "the pod must not set runAsNonRoot to false"
    for _, c in containers(spec):
        own = security_context(c).get("runAsNonRoot")
        if own is False or (own is None and pod_level is not True):
            yield f"{container_name(c)} must run with runAsNonRoot true"


def check_run_as_user(spec, _annotations, _level, _cfg) -> Iterator[str]:
    if _user_namespace(spec):
        return
    for who, sc in _contexts(spec):
        if number(sc.get("runAsUser")) == 0:
            yield f"{who} must not set runAsUser to 0"


def check_drop_all(spec, _annotations, _level, _cfg) -> Iterator[str]:
    for _, c in containers(spec):
        drop = str_list(as_map(security_context(c).get("capabilities")).get("drop"))
        if "ALL" not in drop:
            yield f"{container_name(c)} must drop the capability ALL"


CONTROLS = [
    Control(
        "k8s-pod-no-privileged",
        "Pods must not run privileged containers or Windows HostProcess containers.",
        BASELINE,
        check_privileged,
        CRITICAL,
        ("PSS-baseline-privileged", "PSS-baseline-hostprocess", "CKV_K8S_16", "CIS-EKS-4.2.1"),
    ),
    Control(
        "k8s-pod-no-host-namespaces",
        "Pods must not share the host's network, PID or IPC namespaces.",
        BASELINE,
        check_host_namespaces,
        HIGH,
        (
            "PSS-baseline-host-namespaces",
            "CKV_K8S_17",
            "CKV_K8S_18",
            "CKV_K8S_19",
            "CIS-EKS-4.2.2",
            "CIS-EKS-4.2.3",
            "CIS-EKS-4.2.4",
        ),
    ),
    Control(
        "k8s-pod-no-host-path",
        "Pods must not mount hostPath volumes.",
        BASELINE,
        check_host_path,
        HIGH,
        ("PSS-baseline-hostpath-volumes", "CKV_K8S_27"),
    ),
    Control(
        "k8s-pod-no-host-ports",
        "Containers must not bind host ports.",
        BASELINE,
        check_host_ports,
        MEDIUM,
        ("PSS-baseline-host-ports", "CKV_K8S_26"),
    ),
    Control(
        "k8s-pod-no-host-probes",
        "Probes and lifecycle hooks must not target another host.",
        BASELINE,
        check_host_probes,
        MEDIUM,
        ("PSS-baseline-host-probes-lifecycle-hooks",),
    ),
    Control(
        "k8s-pod-proc-mount-default",
        "Containers must use the default /proc mount.",
        BASELINE,
        check_proc_mount,
        MEDIUM,
        ("PSS-baseline-proc-mount",),
    ),
    Control(
        "k8s-pod-apparmor-not-unconfined",
        "Pods must not override the runtime's AppArmor profile with an unconfined one.",
        BASELINE,
        check_apparmor,
        MEDIUM,
        ("PSS-baseline-apparmor",),
    ),
    Control(
        "k8s-pod-selinux-restricted",
        "Pods must not set custom SELinux users, roles or types.",
        BASELINE,
        check_selinux,
        MEDIUM,
        ("PSS-baseline-selinux",),
    ),
    Control(
        "k8s-pod-sysctls-safe",
        "Pods may set only the safe, namespaced sysctls.",
        BASELINE,
        check_sysctls,
        MEDIUM,
        ("PSS-baseline-sysctls",),
    ),
    Control(
        "k8s-pod-seccomp-profile",
        "Containers must run with the RuntimeDefault or a Localhost seccomp profile.",
        BASELINE,
        check_seccomp,
        MEDIUM,
        ("PSS-restricted-seccomp", "PSS-baseline-seccomp", "CKV_K8S_31"),
    ),
    Control(
        "k8s-pod-capabilities-add-restricted",
        "Containers may add back only NET_BIND_SERVICE, or the runtime defaults under baseline.",
        BASELINE,
        check_add_capabilities,
        HIGH,
        (
            "PSS-restricted-capabilities",
            "PSS-baseline-capabilities",
            "CKV_K8S_25",
            "CKV_K8S_28",
            "CKV_K8S_39",
        ),
        {
            "allowedCapabilities": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["NET_BIND_SERVICE"],
                "description": "Capabilities a container may add where restricted applies.",
            }
        },
    ),
    Control(
        "k8s-pod-volume-types-restricted",
        "Pods may use only the volume types the restricted profile allows.",
        RESTRICTED,
        check_volume_types,
        MEDIUM,
        ("PSS-restricted-volume-types",),
    ),
    Control(
        "k8s-pod-no-privilege-escalation",
        "Containers must set allowPrivilegeEscalation to false.",
        RESTRICTED,
        check_privilege_escalation,
        HIGH,
        ("PSS-restricted-privilege-escalation", "CKV_K8S_20", "CIS-EKS-4.2.5"),
    ),
    Control(
        "k8s-pod-run-as-non-root",
        "Containers must run with runAsNonRoot set to true.",
        RESTRICTED,
        check_run_as_non_root,
        HIGH,
        ("PSS-restricted-running-as-non-root", "CKV_K8S_23"),
    ),
    Control(
        "k8s-pod-run-as-user-not-root",
        "Pods and containers must not set runAsUser to 0.",
        RESTRICTED,
        check_run_as_user,
        HIGH,
        ("PSS-restricted-running-as-non-root-user", "CKV_K8S_40"),
    ),
    Control(
        "k8s-pod-capabilities-drop-all",
        "Containers must drop every Linux capability.",
        RESTRICTED,
        check_drop_all,
        HIGH,
        ("PSS-restricted-capabilities", "CKV_K8S_37"),
    ),
]

LEVEL_OF = {c.name: c.level for c in CONTROLS}
POLICIES = [control_policy(c) for c in CONTROLS]
