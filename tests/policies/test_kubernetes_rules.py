"""Kubernetes pack: the baseline passes; each mutation breaks exactly the rule named."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from policies.kubernetes.rules import pod_security

from .fixtures import (
    GATEWAY_DOMAIN,
    RESTRICTED_POD_SC,
    container,
    k8s,
    k8s_baseline,
    meta,
    pod_spec,
    tenant_namespace,
)
from .policy_harness import K8S_POLICIES, evaluate, find, inputs, rec, violated

Records = list[dict[str, Any]]
DEPLOY = "kubernetes:apps/v1:Deployment"
CRON = "kubernetes:batch/v1:CronJob"
NAMESPACE = "kubernetes:core/v1:Namespace"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SA_PATCH = "kubernetes:core/v1:ServiceAccountPatch"
SECRET = "kubernetes:core/v1:Secret"
IS = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
RUNTIME = "kubernetes:serving.kserve.io/v1alpha1:ServingRuntime"
PEER_AUTH = "kubernetes:security.istio.io/v1:PeerAuthentication"
AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
REQ_AUTH = "kubernetes:security.istio.io/v1:RequestAuthentication"
GATEWAY = "kubernetes:networking.istio.io/v1:Gateway"
VS = "kubernetes:networking.istio.io/v1:VirtualService"
CERT = "kubernetes:cert-manager.io/v1:Certificate"
STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"
MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
PROJECT = "kubernetes:argoproj.io/v1alpha1:AppProject"
APP = "kubernetes:argoproj.io/v1alpha1:Application"

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
    "kubernetes:serving.knative.dev/v1:Service": lambda spec: {
        "spec": {"template": {"spec": spec}}
    },
    IS: lambda spec: {"spec": {"predictor": spec}},
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
    return lambda records: fn(inputs(records, ROLE)) and None


def grant(resources: list[str], verbs: list[str], group: str = "") -> Callable[[Records], None]:
    """Add a rule to the pipeline runner's Role."""
    rule = {"apiGroups": [group], "resources": resources, "verbs": verbs}
    return rbac(lambda r: r["rules"].append(rule))


def on(
    typ: str, fn: Callable[[dict[str, Any]], Any], name: str | None = None
) -> Callable[[Records], None]:
    """Mutate the inputs of the first record of ``typ``."""
    return lambda records: fn(inputs(records, typ, name)) and None


def spec(
    typ: str, fn: Callable[[dict[str, Any]], Any], name: str | None = None
) -> Callable[[Records], None]:
    """Mutate the spec of the first record of ``typ``."""
    return lambda records: fn(inputs(records, typ, name)["spec"]) and None


def predictor(records: Records) -> dict[str, Any]:
    return inputs(records, IS)["spec"]["predictor"]


def binding(fn: Callable[[dict[str, Any]], Any]) -> Callable[[Records], None]:
    typ = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
    return lambda records: fn(inputs(records, typ)) and None


def workload_in(namespace: str, name: str = "orphan", **spec_fields: Any) -> dict[str, Any]:
    return rec(
        DEPLOY,
        name,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta(name, namespace),
            "spec": {"template": {"spec": pod_spec(**spec_fields)}},
        },
    )


def new_namespace_workload(records: Records) -> None:
    records.append(workload_in("sandbox"))


def node_agent_namespace(records: Records, level: str, reason: str | None) -> None:
    """A namespace at ``level`` with a DaemonSet that needs the host, as istio-cni does."""
    records += tenant_namespace("node-agents", level)
    if reason is not None:
        namespace = inputs(records, NAMESPACE, "ns-node-agents")
        namespace["metadata"]["annotations"] = {"mlops-platform.io/pod-security-reason": reason}
    agent = pod_spec(
        hostNetwork=True, volumes=[{"name": "cni", "hostPath": {"path": "/opt/cni/bin"}}]
    )
    agent["containers"][0]["securityContext"] = {"privileged": True}
    agent["serviceAccountName"] = "cni-agent"
    records.append(
        k8s(
            "cni-agent",
            "apps/v1",
            "DaemonSet",
            meta("cni-agent", "node-agents"),
            spec={"template": {"spec": agent}},
        )
    )


CASES: list[tuple[str, Callable[[Records], None], str | tuple[str, ...]]] = [
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
    (
        "host-probe",
        pod(
            lambda s: s["containers"][0]["readinessProbe"]["httpGet"].update(host="169.254.169.254")
        ),
        "k8s-pod-no-host-probes",
    ),
    (
        "host-lifecycle-hook",
        pod(
            lambda s: s["containers"][0].update(
                lifecycle={"preStop": {"tcpSocket": {"host": "10.0.0.1", "port": 22.0}}}
            )
        ),
        "k8s-pod-no-host-probes",
    ),
    (
        "default-service-account",
        pod(lambda s: s.pop("serviceAccountName")),
        "k8s-pod-service-account-named",
    ),
    (
        "inference-service-default-account",
        lambda r: predictor(r).update(serviceAccountName="default"),
        "k8s-pod-service-account-named",
    ),
    (
        "secret-in-env",
        pod(
            lambda s: s["containers"][0].update(
                env=[
                    {
                        "name": "DB_PASSWORD",
                        "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
                    }
                ]
            )
        ),
        "k8s-pod-secrets-not-in-env",
    ),
    (
        "secret-env-from",
        pod(lambda s: s["containers"][0].update(envFrom=[{"secretRef": {"name": "db"}}])),
        "k8s-pod-secrets-not-in-env",
    ),
    (
        "token-for-an-unbound-account",
        pod(lambda s: s.pop("automountServiceAccountToken")),
        "k8s-pod-token-mounted-where-needed",
    ),
    (
        "inference-service-token",
        lambda r: predictor(r).pop("automountServiceAccountToken"),
        "k8s-pod-token-mounted-where-needed",
    ),
    (
        "rbac-read-secrets",
        grant(["secrets"], ["list", "watch"]),
        "k8s-rbac-secrets-read-restricted",
    ),
    (
        "rbac-list-named-secrets",
        rbac(lambda r: r["rules"][2].update(verbs=["get", "list"])),
        # list cannot be narrowed by resourceNames
        "k8s-rbac-secrets-read-restricted",
    ),
    (
        "rbac-read-every-core-resource",
        grant(["*"], ["get"]),
        (
            "k8s-rbac-no-wildcards",
            "k8s-rbac-secrets-read-restricted",
            "k8s-rbac-node-proxy-restricted",
        ),
    ),
    ("rbac-create-pods", grant(["pods"], ["create"]), "k8s-rbac-pod-create-restricted"),
    ("rbac-exec-pods", grant(["pods/exec"], ["create"]), "k8s-rbac-pod-create-restricted"),
    (
        "rbac-create-persistent-volumes",
        grant(["persistentvolumes"], ["create"]),
        "k8s-rbac-persistent-volume-create-restricted",
    ),
    ("rbac-node-proxy", grant(["nodes/proxy"], ["get"]), "k8s-rbac-node-proxy-restricted"),
    ("rbac-any-proxy", grant(["*/proxy"], ["get"]), "k8s-rbac-node-proxy-restricted"),
    (
        "rbac-patch-any-webhook",
        on(
            CLUSTER_ROLE,
            lambda r: r["rules"][0].pop("resourceNames"),
        ),
        "k8s-rbac-webhook-configuration-write-restricted",
    ),
    (
        "rbac-create-mutating-webhook",
        grant(["mutatingwebhookconfigurations"], ["create"], "admissionregistration.k8s.io"),
        "k8s-rbac-webhook-configuration-write-restricted",
    ),
    (
        "rbac-mint-tokens",
        grant(["serviceaccounts/token"], ["create"]),
        "k8s-rbac-service-account-token-create-restricted",
    ),
    (
        "lb-plain-port",
        on(
            "kubernetes:core/v1:Service",
            lambda s: s["spec"]["ports"].append({"name": "http", "port": 80.0}),
        ),
        "k8s-service-load-balancer-tls",
    ),
    (
        "lb-tls-elsewhere",
        on(
            "kubernetes:core/v1:Service",
            lambda s: (
                s["metadata"]["annotations"].update(
                    {
                        "service.beta.kubernetes.io/aws-load-balancer-ssl-cert": "arn:aws:acm:x",
                        "service.beta.kubernetes.io/aws-load-balancer-ssl-ports": "8443",
                    }
                )
                or s["spec"]["ports"].append({"name": "http", "port": 80.0})
            ),
        ),
        "k8s-service-load-balancer-tls",
    ),
    (
        "network-policy-allow-all-ingress",
        on(NETPOL, lambda p: p["spec"].update(ingress=[{}]), "mlflow-default-deny"),
        # the policy no longer denies ingress either
        ("k8s-network-policy-no-allow-all", "k8s-namespace-default-deny-network-policy"),
    ),
    (
        "network-policy-egress-anywhere",
        lambda r: r.append(
            k8s(
                "mlflow-egress-all",
                "networking.k8s.io/v1",
                "NetworkPolicy",
                meta("egress-all", "mlflow"),
                spec={"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": []}]},
            )
        ),
        "k8s-network-policy-no-allow-all",
    ),
    (
        "namespace-without-workloads-without-deny",
        lambda r: r.extend(x for x in tenant_namespace("empty") if x["type"] != NETPOL),
        "k8s-namespace-default-deny-network-policy",
    ),
    (
        "default-account-keeps-token",
        on(SA_PATCH, lambda a: a.update(automountServiceAccountToken=True), "mlflow-default-sa"),
        "k8s-namespace-default-service-account-no-token",
    ),
    (
        "privileged-namespace-without-reason",
        lambda r: node_agent_namespace(r, "privileged", None),
        "k8s-namespace-pod-security-exception-reasoned",
    ),
    (
        "deployment-in-a-node-agent-namespace",
        lambda r: (
            node_agent_namespace(r, "privileged", "The CNI agent needs the host.")
            or r.append(workload_in("node-agents", "controller"))
        ),
        "k8s-namespace-privileged-only-node-agents",
    ),
    (
        "object-in-default-namespace",
        lambda r: r.append(
            k8s("stray-config", "v1", "ConfigMap", {"name": "stray"}, data={"a": "b"})
        ),
        "k8s-object-namespace-not-default",
    ),
    (
        "secret-with-values",
        on(SECRET, lambda s: s.update(type="Opaque", data={"password": "c2VjcmV0"})),
        "k8s-secret-no-literal-data",
    ),
    (
        "secret-with-string-data",
        on(SECRET, lambda s: s.update(type="Opaque", stringData={"token": "x"})),
        "k8s-secret-no-literal-data",
    ),
    (
        "store-without-conditions",
        spec(STORE, lambda s: s.pop("conditions")),
        "k8s-cluster-secret-store-namespaces-restricted",
    ),
    (
        "store-open-regex",
        spec(STORE, lambda s: s.update(conditions=[{"namespaceRegexes": [".*"]}])),
        "k8s-cluster-secret-store-namespaces-restricted",
    ),
    (
        "certificate-rsa-1024",
        spec(CERT, lambda s: s.update(privateKey={"algorithm": "RSA", "size": 1024.0})),
        "k8s-certificate-key-strength",
    ),
    (
        "mtls-permissive",
        spec(PEER_AUTH, lambda s: s["mtls"].update(mode="PERMISSIVE"), "mlops-mtls"),
        "k8s-istio-peer-authentication-strict",
    ),
    (
        "mtls-port-disabled",
        spec(
            PEER_AUTH, lambda s: s.update(portLevelMtls={"8080": {"mode": "DISABLE"}}), "mlops-mtls"
        ),
        "k8s-istio-peer-authentication-strict",
    ),
    (
        "mesh-namespace-without-strict",
        drop(PEER_AUTH, "mlflow-mtls"),
        "k8s-istio-mesh-namespace-strict-mtls",
    ),
    (
        "mesh-namespace-strict-only-for-some-pods",
        spec(
            PEER_AUTH,
            lambda s: s.update(selector={"matchLabels": {"app": "mlflow"}}),
            "mlflow-mtls",
        ),
        "k8s-istio-mesh-namespace-strict-mtls",
    ),
    (
        "authz-allow-all",
        spec(AUTHZ, lambda s: s.update(rules=[{}])),
        "k8s-istio-authorization-policy-no-allow-all",
    ),
    (
        "jwt-without-issuer",
        spec(REQ_AUTH, lambda s: s["jwtRules"][0].pop("issuer")),
        "k8s-istio-request-authentication-jwks-https",
    ),
    (
        "jwks-over-http",
        spec(REQ_AUTH, lambda s: s["jwtRules"][0].update(jwksUri="http://auth.example.com/jwks")),
        "k8s-istio-request-authentication-jwks-https",
    ),
    (
        "gateway-plain-http",
        spec(GATEWAY, lambda s: s["servers"][1].pop("tls")),
        "k8s-istio-gateway-tls",
    ),
    (
        "gateway-https-without-certificate",
        spec(GATEWAY, lambda s: s["servers"][0]["tls"].pop("credentialName")),
        "k8s-istio-gateway-tls",
    ),
    (
        "route-other-domain",
        spec(VS, lambda s: s.update(hosts=["grafana.evil.example"])),
        "k8s-istio-virtual-service-hosts-on-gateway",
    ),
    (
        "route-every-host",
        spec(VS, lambda s: s.update(hosts=["*"])),
        "k8s-istio-virtual-service-hosts-on-gateway",
    ),
    (
        "route-unknown-gateway",
        spec(VS, lambda s: s.update(gateways=["istio-system/other"])),
        "k8s-istio-virtual-service-hosts-on-gateway",
    ),
    (
        "route-from-a-namespace-the-gateway-does-not-serve",
        lambda r: r.append(
            k8s(
                "stray-route",
                "networking.istio.io/v1",
                "VirtualService",
                meta("stray", "mlflow"),
                spec={"hosts": [f"mlflow.{GATEWAY_DOMAIN}"], "gateways": ["mlops/ml-gateway"]},
            )
        ),
        "k8s-istio-virtual-service-hosts-on-gateway",
    ),
    (
        "model-from-the-internet",
        lambda r: predictor(r)["model"].update(storageUri="https://huggingface.co/acme/iris"),
        "k8s-inference-service-storage-allowed",
    ),
    (
        "project-any-repo",
        spec(PROJECT, lambda s: s.update(sourceRepos=["*"])),
        "k8s-argocd-app-project-restricted",
    ),
    (
        "project-any-namespace",
        spec(PROJECT, lambda s: s["destinations"][0].update(namespace="*")),
        # the Application's namespace is then allowed; only the project is open-ended
        "k8s-argocd-app-project-restricted",
    ),
    (
        "project-every-cluster-kind",
        spec(PROJECT, lambda s: s.update(clusterResourceWhitelist=[{"group": "*", "kind": "*"}])),
        "k8s-argocd-app-project-restricted",
    ),
    (
        "app-default-project",
        spec(APP, lambda s: s.update(project="default")),
        "k8s-argocd-application-project-scoped",
    ),
    (
        "app-unknown-project",
        spec(APP, lambda s: s.update(project="platform")),
        "k8s-argocd-application-project-scoped",
    ),
    (
        "app-other-repo",
        spec(APP, lambda s: s["source"].update(repoURL="https://github.com/evil/payload.git")),
        "k8s-argocd-application-project-scoped",
    ),
    (
        "app-other-namespace",
        spec(APP, lambda s: s["destination"].update(namespace="kube-system")),
        "k8s-argocd-application-project-scoped",
    ),
    (
        "scrape-without-verifying",
        spec(MONITOR, lambda s: s["endpoints"][0].update(tlsConfig={"insecureSkipVerify": True})),
        "k8s-monitor-tls-verified",
    ),
]

# Mutations that break two controls at once by nature.
ALSO = {
    "host-path": {"k8s-pod-volume-types-restricted"},
    "helm-namespace-without-deny": {"k8s-namespace-resource-quota"},
    # a namespace below restricted is both an advisory and, without its reason, mandatory;
    # and it hosts mlflow's Deployment, which is no node agent
    "namespace-baseline": {
        "k8s-namespace-pod-security-exception-reasoned",
        "k8s-namespace-privileged-only-node-agents",
    },
    "privileged-namespace-without-reason": {"k8s-namespace-pod-security-restricted"},
    "deployment-in-a-node-agent-namespace": {"k8s-namespace-pod-security-restricted"},
    # '*' verbs on pods include create
    "rbac-star-verbs": {"k8s-rbac-pod-create-restricted"},
    # mlops's namespace-wide policy is no longer STRICT
    "mtls-permissive": {"k8s-istio-mesh-namespace-strict-mtls"},
}


def test_baseline_passes_and_every_resource_rule_evaluates_it() -> None:
    findings, evaluated = evaluate(K8S_POLICIES, k8s_baseline())
    assert findings == []
    assert {n for n, count in evaluated.items() if count == 0} == set()


@pytest.mark.parametrize(("case", "mutation", "policy"), CASES, ids=[c[0] for c in CASES])
def test_mutation_breaks_exactly_its_rule(
    case: str, mutation: Callable[[Records], None], policy: str | tuple[str, ...]
) -> None:
    records = k8s_baseline()
    mutation(records)
    expected = {policy} if isinstance(policy, str) else set(policy)
    assert violated(K8S_POLICIES, records) == expected | ALSO.get(case, set())


def test_every_rule_has_a_failing_case() -> None:
    first = {c[2] if isinstance(c[2], str) else c[2][0] for c in CASES}
    assert {p.name for p in K8S_POLICIES} == first


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


# What any Deployment in a namespace below restricted raises besides the controls tested.
BELOW_RESTRICTED = {
    "k8s-namespace-pod-security-restricted",
    "k8s-namespace-privileged-only-node-agents",
}
PSS_RULES = sorted(p.name for p in K8S_POLICIES if p.name in pod_security.LEVEL_OF)


def test_a_privileged_node_agent_namespace_with_its_reason_is_exempt_from_every_control() -> None:
    """As the admission controller: `privileged` lets the node agent run as it must."""
    records = k8s_baseline()
    node_agent_namespace(records, "privileged", "The CNI agent programs each pod's network.")
    assert violated(K8S_POLICIES, records) == {"k8s-namespace-pod-security-restricted"}


def test_the_same_agent_in_a_restricted_namespace_breaks_the_controls() -> None:
    records = k8s_baseline()
    node_agent_namespace(records, "restricted", None)
    assert violated(K8S_POLICIES, records) == {
        "k8s-pod-no-privileged",
        "k8s-pod-no-host-namespaces",
        "k8s-pod-no-host-path",
        "k8s-pod-volume-types-restricted",
        "k8s-pod-no-privilege-escalation",
        "k8s-pod-capabilities-drop-all",
    }


def test_a_baseline_namespace_enforces_only_the_baseline_controls() -> None:
    records = k8s_baseline()
    node_agent_namespace(records, "baseline", "Legacy agent, being rewritten.")
    found = violated(K8S_POLICIES, records)
    assert {n for n in found if n in pod_security.LEVEL_OF} == {
        "k8s-pod-no-privileged",
        "k8s-pod-no-host-namespaces",
        "k8s-pod-no-host-path",
    }
    assert all(pod_security.LEVEL_OF[n] == "baseline" for n in found & set(PSS_RULES))


@pytest.mark.parametrize(
    ("level", "cap", "broken"),
    [
        ("baseline", "CHOWN", set()),
        ("baseline", "NET_RAW", {"k8s-pod-capabilities-add-restricted"}),
        ("restricted", "CHOWN", {"k8s-pod-capabilities-add-restricted"}),
        ("restricted", "NET_BIND_SERVICE", set()),
    ],
)
def test_added_capabilities_follow_the_namespace_level(
    level: str, cap: str, broken: set[str]
) -> None:
    records = [r for r in k8s_baseline() if r["type"] != DEPLOY]
    records += tenant_namespace("apps", level)
    records.append(workload_in("apps"))
    spec_of(records)["containers"][0]["securityContext"]["capabilities"]["add"] = [cap]
    if level == "baseline":
        inputs(records, NAMESPACE, "ns-apps")["metadata"]["annotations"] = {
            "mlops-platform.io/pod-security-reason": "A baseline tenant."
        }
    found = violated(K8S_POLICIES, records) - BELOW_RESTRICTED
    assert found == broken


@pytest.mark.parametrize(
    ("level", "expected"), [("baseline", set()), ("restricted", {"k8s-pod-seccomp-profile"})]
)
def test_an_unset_seccomp_profile_is_refused_only_where_restricted_applies(
    level: str, expected: set[str]
) -> None:
    records = [r for r in k8s_baseline() if r["type"] != DEPLOY]
    records += tenant_namespace("apps", level)
    records.append(workload_in("apps"))
    spec_of(records)["securityContext"].pop("seccompProfile")
    if level == "baseline":
        inputs(records, NAMESPACE, "ns-apps")["metadata"]["annotations"] = {
            "mlops-platform.io/pod-security-reason": "A baseline tenant."
        }
    found = violated(K8S_POLICIES, records) - BELOW_RESTRICTED
    assert found == expected


def test_a_user_namespace_relaxes_the_root_controls_as_admission_does() -> None:
    records = k8s_baseline()
    s = spec_of(records)
    s.update(hostUsers=False)
    s["securityContext"].update(runAsNonRoot=False, runAsUser=0.0)
    assert violated(K8S_POLICIES, records) == set()
    s["containers"][0]["securityContext"]["procMount"] = "Unmasked"
    # restricted keeps the default /proc masks even in a user namespace
    assert violated(K8S_POLICIES, records) == {"k8s-pod-proc-mount-default"}


def test_a_namespace_without_a_label_counts_as_restricted_for_the_controls() -> None:
    records = k8s_baseline()
    inputs(records, NAMESPACE, "ns-mlflow")["metadata"]["labels"] = {}
    spec_of(records).update(hostNetwork=True)
    assert violated(K8S_POLICIES, records) == {
        "k8s-namespace-pod-security-enforced",
        "k8s-pod-no-host-namespaces",
    }


def test_namespace_levels_config_applies_only_to_namespaces_outside_the_stack() -> None:
    records = k8s_baseline()
    records.append(workload_in("legacy", hostNetwork=True))
    mlflow_spec = spec_of(records)
    mlflow_spec.update(hostNetwork=True)
    config = {
        "k8s-pod-no-host-namespaces": {
            "namespaceLevels": {"legacy": "privileged", "mlflow": "privileged"}
        }
    }
    findings, _ = evaluate(K8S_POLICIES, records, config)
    host = {f[1] for f in findings if f[0] == "k8s-pod-no-host-namespaces"}
    # mlflow's Namespace object in the stack wins over the config; legacy is not in the stack
    assert host == {find(records, DEPLOY, "mlflow-server")["urn"]}


def test_every_container_of_an_inference_service_is_checked() -> None:
    records = k8s_baseline()
    predictor(records)["model"]["securityContext"].pop("allowPrivilegeEscalation")
    inputs(records, IS)["spec"]["transformer"] = {
        "serviceAccountName": "kserve-model-reader",
        "automountServiceAccountToken": False,
        "securityContext": dict(RESTRICTED_POD_SC),
        "containers": [
            {
                **container("transformer", "ghcr.io/acme/iris-transformer:1.0.0"),
                "securityContext": {},
            }
        ],
    }
    findings, _ = evaluate(K8S_POLICIES, records)
    messages = {f[2] for f in findings if f[0] == "k8s-pod-no-privilege-escalation"}
    assert messages == {
        "In the InferenceService 'mlops/iris' (predictor), the container 'kserve-container' must "
        "set allowPrivilegeEscalation to false.",
        "In the InferenceService 'mlops/iris' (transformer), the container 'transformer' must "
        "set allowPrivilegeEscalation to false.",
    }


def test_serving_runtime_images_are_pinned_and_from_allowed_registries() -> None:
    records = k8s_baseline()
    runtime = inputs(records, RUNTIME)["spec"]["containers"][0]
    runtime["image"] = "kserve/sklearnserver:latest"
    assert violated(K8S_POLICIES, records) == {"k8s-pod-image-pinned"}
    runtime["image"] = "registry.evil.example/sklearnserver:v0.20.0"
    assert violated(K8S_POLICIES, records) == {"k8s-pod-image-registry-allowed"}


def test_a_chart_rendered_object_is_read_like_a_typed_one() -> None:
    """A Chart v4 child: its inputs are the manifest, its name `<chart>:<namespace>/<name>`."""
    chart = "urn:pulumi:test::mlops-platform::kubernetes:helm.sh/v4:Chart::istio-cni"
    agent = pod_spec(hostNetwork=True)
    rendered = rec(
        "kubernetes:apps/v1:DaemonSet",
        "istio-cni:mlflow/istio-cni-node",
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": meta("istio-cni-node", "mlflow", labels={"app": "istio-cni-node"}),
            "spec": {"selector": {}, "template": {"spec": agent}},
        },
    )
    rendered["parent"] = chart
    rendered["urn"] = rendered["urn"].replace(
        "::kubernetes:apps", "::kubernetes:helm.sh/v4:Chart$kubernetes:apps"
    )
    records = [*k8s_baseline(), rendered]
    findings, _ = evaluate(K8S_POLICIES, records)
    assert {(f[0], f[1]) for f in findings} == {("k8s-pod-no-host-namespaces", rendered["urn"])}


def test_exemptions_silence_exactly_their_subject() -> None:
    from mlops_policy_kit import Exemption, exempt

    records = k8s_baseline()
    records.append(workload_in("mlops", "agent", hostNetwork=True))
    spec_of(records).update(hostNetwork=True)
    policy = next(p for p in K8S_POLICIES if p.name == "k8s-pod-no-host-namespaces")
    saved = policy.exemptions
    try:
        exempt([policy], [Exemption(policy.name, DEPLOY, "mlops/agent", "Upstream needs it.")])
        findings, _ = evaluate(K8S_POLICIES, records)
    finally:
        policy.exemptions = saved
    assert {f[1] for f in findings} == {find(records, DEPLOY, "mlflow-server")["urn"]}
