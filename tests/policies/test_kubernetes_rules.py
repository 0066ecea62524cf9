"""Kubernetes pack: the baseline passes; each mutation breaks exactly the rule named."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from .fixtures import container, k8s_baseline, meta, pod_spec
from .policy_harness import K8S_POLICIES, evaluate, find, inputs, rec, violated

Records = list[dict[str, Any]]
DEPLOY = "kubernetes:apps/v1:Deployment"
CRON = "kubernetes:batch/v1:CronJob"

KINDS_WITH_PODS = {
    "kubernetes:core/v1:Pod": lambda spec: {"spec": spec},
    "kubernetes:core/v1:PodTemplate": lambda spec: {"template": {"spec": spec}},
    "kubernetes:core/v1:ReplicationController": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:apps/v1:Deployment": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:apps/v1:StatefulSet": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:apps/v1:DaemonSet": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:apps/v1:ReplicaSet": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:batch/v1:Job": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:batch/v1:CronJob": lambda spec: {
        "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}
    },
}


def spec_of(records: Records) -> dict[str, Any]:
    """The pod spec of the MLflow Deployment."""
    return inputs(records, DEPLOY)["spec"]["template"]["spec"]


def pod(fn: Callable[[dict[str, Any]], Any]) -> Callable[[Records], None]:
    return lambda records: fn(spec_of(records)) and None


def ctr(fn: Callable[[dict[str, Any]], Any]) -> Callable[[Records], None]:
    """Mutate the first container's securityContext."""
    return lambda records: fn(spec_of(records)["containers"][0]["securityContext"]) and None


def drop(typ: str, name: str | None = None) -> Callable[[Records], None]:
    return lambda records: records.remove(find(records, typ, name))


def add_lb_service(annotations: dict[str, str]) -> Callable[[Records], None]:
    def mutate(records: Records) -> None:
        svc = inputs(records, "kubernetes:core/v1:Service")
        svc["metadata"]["annotations"] = annotations

    return mutate


def rbac(fn: Callable[[dict[str, Any]], Any]) -> Callable[[Records], None]:
    return lambda records: (
        fn(inputs(records, "kubernetes:rbac.authorization.k8s.io/v1:Role")) and None
    )


def binding(fn: Callable[[dict[str, Any]], Any]) -> Callable[[Records], None]:
    typ = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
    return lambda records: fn(inputs(records, typ)) and None


def new_namespace_workload(records: Records) -> None:
    records.append(
        rec(
            DEPLOY,
            "orphan",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": meta("orphan", "sandbox"),
                "spec": {"template": {"spec": pod_spec()}},
            },
        )
    )


CASES: list[tuple[str, Callable[[Records], None], str]] = [
    ("privileged", ctr(lambda sc: sc.update(privileged=True)), "k8s-pod-no-privileged"),
    (
        "host-process",
        pod(lambda s: s["securityContext"].update(windowsOptions={"hostProcess": True})),
        "k8s-pod-no-privileged",
    ),
    ("host-network", pod(lambda s: s.update(hostNetwork=True)), "k8s-pod-no-host-namespaces"),
    ("host-pid", pod(lambda s: s.update(hostPID=True)), "k8s-pod-no-host-namespaces"),
    ("host-ipc", pod(lambda s: s.update(hostIPC=True)), "k8s-pod-no-host-namespaces"),
    (
        "host-path",
        pod(lambda s: s["volumes"].append({"name": "sock", "hostPath": {"path": "/var/run"}})),
        # hostPath is also outside the restricted volume types: both controls fire.
        "k8s-pod-no-host-path",
    ),
    (
        "host-port",
        pod(lambda s: s["containers"][0]["ports"][0].update(hostPort=5000.0)),
        "k8s-pod-no-host-ports",
    ),
    ("proc-mount", ctr(lambda sc: sc.update(procMount="Unmasked")), "k8s-pod-proc-mount-default"),
    (
        "apparmor-unconfined-field",
        ctr(lambda sc: sc.update(appArmorProfile={"type": "Unconfined"})),
        "k8s-pod-apparmor-not-unconfined",
    ),
    (
        "apparmor-unconfined-annotation",
        lambda r: inputs(r, DEPLOY)["spec"]["template"].update(
            metadata={
                "annotations": {
                    "container.apparmor.security.beta.kubernetes.io/server": "unconfined"
                }
            }
        ),
        "k8s-pod-apparmor-not-unconfined",
    ),
    (
        "selinux-type",
        ctr(lambda sc: sc.update(seLinuxOptions={"type": "spc_t"})),
        "k8s-pod-selinux-restricted",
    ),
    (
        "selinux-user",
        pod(lambda s: s["securityContext"].update(seLinuxOptions={"user": "system_u"})),
        "k8s-pod-selinux-restricted",
    ),
    (
        "unsafe-sysctl",
        pod(
            lambda s: s["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}])
        ),
        "k8s-pod-sysctls-safe",
    ),
    (
        "nfs-volume",
        pod(lambda s: s["volumes"].append({"name": "nfs", "nfs": {"server": "x", "path": "/"}})),
        "k8s-pod-volume-types-restricted",
    ),
    (
        "escalation-unset",
        ctr(lambda sc: sc.pop("allowPrivilegeEscalation")),
        "k8s-pod-no-privilege-escalation",
    ),
    (
        "escalation-true",
        ctr(lambda sc: sc.update(allowPrivilegeEscalation=True)),
        "k8s-pod-no-privilege-escalation",
    ),
    (
        "non-root-unset",
        pod(lambda s: s["securityContext"].pop("runAsNonRoot")),
        "k8s-pod-run-as-non-root",
    ),
    (
        "non-root-overridden",
        ctr(lambda sc: sc.update(runAsNonRoot=False)),
        "k8s-pod-run-as-non-root",
    ),
    ("uid-0-container", ctr(lambda sc: sc.update(runAsUser=0.0)), "k8s-pod-run-as-user-not-root"),
    (
        "uid-0-pod",
        pod(lambda s: s["securityContext"].update(runAsUser=0.0)),
        "k8s-pod-run-as-user-not-root",
    ),
    (
        "seccomp-unset",
        pod(lambda s: s["securityContext"].pop("seccompProfile")),
        "k8s-pod-seccomp-profile",
    ),
    (
        "seccomp-unconfined",
        ctr(lambda sc: sc.update(seccompProfile={"type": "Unconfined"})),
        "k8s-pod-seccomp-profile",
    ),
    ("caps-not-dropped", ctr(lambda sc: sc.pop("capabilities")), "k8s-pod-capabilities-drop-all"),
    (
        "caps-drop-net-raw-only",
        ctr(lambda sc: sc.update(capabilities={"drop": ["NET_RAW"]})),
        "k8s-pod-capabilities-drop-all",
    ),
    (
        "caps-add-sys-admin",
        ctr(lambda sc: sc["capabilities"].update(add=["SYS_ADMIN"])),
        "k8s-pod-capabilities-add-restricted",
    ),
    (
        "image-latest",
        pod(lambda s: s["containers"][0].update(image="ghcr.io/mlflow/mlflow:latest")),
        "k8s-pod-image-pinned",
    ),
    (
        "image-untagged",
        pod(lambda s: s["containers"][0].update(image="ghcr.io/mlflow/mlflow")),
        "k8s-pod-image-pinned",
    ),
    (
        "image-bad-digest",
        pod(lambda s: s["containers"][0].update(image="ghcr.io/mlflow/mlflow@sha256:abc")),
        "k8s-pod-image-pinned",
    ),
    (
        "image-unknown-registry",
        pod(lambda s: s["containers"][0].update(image="registry.evil.example/mlflow:3.1.0")),
        "k8s-pod-image-registry-allowed",
    ),
    (
        "no-limits",
        pod(lambda s: s["containers"][0]["resources"].pop("limits")),
        "k8s-pod-resources-set",
    ),
    (
        "init-container-without-requests",
        pod(
            lambda s: s.update(
                initContainers=[
                    {**container("init"), "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}
                ]
            )
        ),
        "k8s-pod-resources-set",
    ),
    (
        "gpu-without-toleration",
        lambda r: inputs(r, CRON)["spec"]["jobTemplate"]["spec"]["template"]["spec"].pop(
            "tolerations"
        ),
        "k8s-pod-gpu-requires-toleration",
    ),
    (
        "gpu-toleration-wrong-value",
        lambda r: inputs(r, CRON)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["tolerations"][
            0
        ].update(value="false"),
        "k8s-pod-gpu-requires-toleration",
    ),
    (
        "limit-range-gpu-max",
        lambda r: inputs(r, "kubernetes:core/v1:LimitRange")["spec"]["limits"][0].update(
            max={"nvidia.com/gpu": "1"}
        ),
        "k8s-limit-range-no-gpu",
    ),
    (
        "quota-gpu-without-prefix",
        lambda r: inputs(r, "kubernetes:core/v1:ResourceQuota")["spec"]["hard"].update(
            {"nvidia.com/gpu": "2"}
        ),
        "k8s-resource-quota-gpu-requests-prefix",
    ),
    (
        "quota-gpu-limits-prefix",
        lambda r: inputs(r, "kubernetes:core/v1:ResourceQuota")["spec"]["hard"].update(
            {"limits.nvidia.com/gpu": "2"}
        ),
        "k8s-resource-quota-gpu-requests-prefix",
    ),
    (
        "helm-range",
        lambda r: inputs(r, "kubernetes:helm.sh/v3:Release").update(version="^0.15"),
        "k8s-helm-release-version-pinned",
    ),
    (
        "helm-no-repo",
        lambda r: inputs(r, "kubernetes:helm.sh/v3:Release").update(repositoryOpts={}),
        "k8s-helm-release-version-pinned",
    ),
    ("public-lb", add_lb_service({}), "k8s-service-load-balancer-internal"),
    (
        "lb-scheme-internet-facing",
        add_lb_service({"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}),
        "k8s-service-load-balancer-internal",
    ),
    ("rbac-star-verbs", rbac(lambda r: r["rules"][0].update(verbs=["*"])), "k8s-rbac-no-wildcards"),
    (
        "rbac-star-resources",
        rbac(lambda r: r["rules"][1].update(resources=["*"])),
        "k8s-rbac-no-wildcards",
    ),
    (
        "rbac-impersonate",
        rbac(
            lambda r: r["rules"].append(
                {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}
            )
        ),
        "k8s-rbac-no-escalation-verbs",
    ),
    (
        "rbac-bind",
        rbac(
            lambda r: r["rules"].append(
                {
                    "apiGroups": ["rbac.authorization.k8s.io"],
                    "resources": ["roles"],
                    "verbs": ["bind", "escalate"],
                }
            )
        ),
        "k8s-rbac-no-escalation-verbs",
    ),
    (
        "bind-default-sa",
        binding(
            lambda b: b["subjects"].append(
                {"kind": "ServiceAccount", "name": "default", "namespace": "mlops"}
            )
        ),
        "k8s-rbac-no-default-service-account-binding",
    ),
    (
        "bind-cluster-admin",
        binding(lambda b: b["roleRef"].update(kind="ClusterRole", name="cluster-admin")),
        "k8s-rbac-no-cluster-admin-binding",
    ),
    (
        "no-default-deny",
        drop("kubernetes:networking.k8s.io/v1:NetworkPolicy", "mlflow-default-deny"),
        "k8s-namespace-default-deny-network-policy",
    ),
    (
        "deny-ingress-only",
        lambda r: inputs(r, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "mlflow-default-deny")[
            "spec"
        ].update(policyTypes=["Ingress"]),
        "k8s-namespace-default-deny-network-policy",
    ),
    (
        "deny-policy-selects-some-pods",
        lambda r: inputs(r, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "mlflow-default-deny")[
            "spec"
        ].update(podSelector={"matchLabels": {"app": "mlflow"}}),
        "k8s-namespace-default-deny-network-policy",
    ),
    (
        "helm-namespace-without-deny",
        lambda r: inputs(r, "kubernetes:helm.sh/v3:Release").update(namespace="kserve"),
        # A new workload namespace misses both its deny policy and its quota.
        "k8s-namespace-default-deny-network-policy",
    ),
    (
        "no-quota",
        drop("kubernetes:core/v1:ResourceQuota", "mlflow-quota"),
        "k8s-namespace-resource-quota",
    ),
    (
        "namespace-without-psa",
        lambda r: inputs(r, "kubernetes:core/v1:Namespace", "ns-mlflow")["metadata"].pop("labels"),
        "k8s-namespace-pod-security-enforced",
    ),
    (
        "namespace-baseline",
        lambda r: inputs(r, "kubernetes:core/v1:Namespace", "ns-mlflow")["metadata"][
            "labels"
        ].update({"pod-security.kubernetes.io/enforce": "baseline"}),
        "k8s-namespace-pod-security-restricted",
    ),
]

# Mutations that break two controls at once by nature.
ALSO = {
    "host-path": {"k8s-pod-volume-types-restricted"},
    "helm-namespace-without-deny": {"k8s-namespace-resource-quota"},
}


def test_baseline_passes_and_every_resource_rule_evaluates_it() -> None:
    findings, evaluated = evaluate(K8S_POLICIES, k8s_baseline())
    assert findings == []
    assert {n for n, count in evaluated.items() if count == 0} == set()


@pytest.mark.parametrize(("case", "mutation", "policy"), CASES, ids=[c[0] for c in CASES])
def test_mutation_breaks_exactly_its_rule(
    case: str, mutation: Callable[[Records], None], policy: str
) -> None:
    records = k8s_baseline()
    mutation(records)
    assert violated(K8S_POLICIES, records) == {policy} | ALSO.get(case, set())


def test_every_rule_has_a_failing_case() -> None:
    assert {p.name for p in K8S_POLICIES} == {c[2] for c in CASES}


@pytest.mark.parametrize("kind", sorted(KINDS_WITH_PODS))
def test_pod_rules_read_every_kind_with_a_pod_template(kind: str) -> None:
    bad = pod_spec(hostNetwork=True)
    props = {"metadata": meta("x", "mlflow"), **KINDS_WITH_PODS[kind](copy.deepcopy(bad))}
    records = [r for r in k8s_baseline() if r["type"] != DEPLOY]
    records.append(rec(kind, "x", props))
    assert violated(K8S_POLICIES, records) == {"k8s-pod-no-host-namespaces"}


def test_workload_in_a_new_namespace_needs_deny_and_quota() -> None:
    records = k8s_baseline()
    new_namespace_workload(records)
    findings, _ = evaluate(K8S_POLICIES, records)
    orphan = find(records, DEPLOY, "orphan")["urn"]
    assert sorted((f[0], f[1]) for f in findings) == [
        ("k8s-namespace-default-deny-network-policy", orphan),
        ("k8s-namespace-resource-quota", orphan),
    ]


def test_exempt_namespace_config_skips_pod_controls() -> None:
    records = k8s_baseline()
    spec_of(records).update(hostNetwork=True)
    config = {"k8s-pod-no-host-namespaces": {"exemptNamespaces": ["mlflow"]}}
    assert violated(K8S_POLICIES, records) == {"k8s-pod-no-host-namespaces"}
    assert violated(K8S_POLICIES, records, config) == set()
