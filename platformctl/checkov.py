"""Run checkov offline on rendered manifests (docs/decisions/0030-offline-proofs.md).

checkov lives in its own virtualenv (`.venv-checkov`: it pins packaging<24).
It runs with `--skip-download` and `CKV_SKIP_PACKAGE_UPDATE_CHECK=true`: no
network. A check is skipped only by an annotation on the object,
`checkov.io/skip<N>: <CHECK_ID>=<reason>`, and only for the ids in
`ALLOWED_SKIPS` below (one place, shown in the plan's report); a skip of any
other id counts as a failure.

The pinned charts' objects cannot carry such annotations, so their findings are
answered here, each with its reason, in three tables (`accepted`): checks the platform
decides against everywhere (`NOT_APPLICABLE`), the host-level checks for the node agents
of a namespace that enforces the privileged Pod Security level (the Namespace carries
the reason), and single upstream objects (`UPSTREAM`). Anything else fails.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHECKOV: Final = ROOT / ".venv-checkov" / "bin" / "checkov"
SKIP_ANNOTATION_PREFIX: Final = "checkov.io/skip"

# The only checks an object may skip, and why. Keep it short.
ALLOWED_SKIPS: Final[dict[str, str]] = {
    "CKV_K8S_43": (
        "Images are pinned by version tag from the pinned chart/table; digests would "
        "defeat the registry's patch releases for the same tag."
    ),
    "CKV_K8S_15": (
        "IfNotPresent with immutable version tags: Always adds a registry round trip per "
        "pod start and no integrity."
    ),
}


# Checks the platform answers once, for every object.
NOT_APPLICABLE: Final[dict[str, str]] = {
    **ALLOWED_SKIPS,
    "CKV_K8S_38": (
        "An API token where the pod's account is bound by RBAC: the policy pack's "
        "k8s-pod-token-mounted-where-needed decides per workload, which checkov cannot."
    ),
    "CKV_K8S_40": (
        "Pod Security restricted requires a non-root user, not a UID above 10000; the pinned "
        "charts' images run as their own non-root users (65532, 1337, 472, ...)."
    ),
    "CKV_K8S_8": (
        "Liveness probes are each upstream chart's: leader-elected controllers and "
        "admission webhooks ship the probes their authors test; the platform invents none."
    ),
    "CKV_K8S_9": (
        "Readiness probes are each upstream chart's: a leader-elected controller serves no "
        "traffic to be ready for; the platform invents none."
    ),
}
# What a node agent in a privileged namespace needs from its host (docs/decisions/0011).
HOST_CHECKS: Final = frozenset(
    {
        "CKV_K8S_16",  # privileged
        "CKV_K8S_17",  # hostPID
        "CKV_K8S_19",  # hostNetwork
        "CKV_K8S_20",  # allowPrivilegeEscalation
        "CKV_K8S_22",  # readOnlyRootFilesystem
        "CKV_K8S_23",  # root containers
        "CKV_K8S_25",  # added capabilities
        "CKV_K8S_28",  # NET_RAW
        "CKV_K8S_29",  # pod securityContext
        "CKV_K8S_31",  # seccomp
        "CKV_K8S_37",  # capabilities
        "CKV_K8S_39",  # SYS_ADMIN
    }
)
# (check id, checkov's resource `Kind.namespace.name`) -> why the pinned chart's object is so.
UPSTREAM: Final[dict[tuple[str, str], str]] = {
    ("CKV_K8S_14", "Deployment.istio-ingress.istio-ingressgateway"): (
        "The gateway chart's `image: auto`: Istio's injector sets the pinned proxy image."
    ),
    ("CKV2_K8S_5", "RoleBinding.istio-ingress.istio-ingressgateway"): (
        "istiod serves a Gateway's TLS credential only if the gateway may read that Secret; "
        "the Role is confined to the gateway's namespace."
    ),
    ("CKV_K8S_155", "ClusterRole.default.cert-manager-cainjector"): (
        "cainjector writes the caBundle of the webhooks annotated for injection: its job."
    ),
    ("CKV_K8S_155", "ClusterRole.default.external-secrets-cert-controller"): (
        "The cert controller injects its CA into External Secrets' own webhooks."
    ),
    ("CKV_K8S_155", "ClusterRole.default.istiod-clusterrole-istio-system"): (
        "istiod patches the caBundle of its sidecar-injector and validation webhooks."
    ),
    ("CKV_K8S_49", "ClusterRole.default.kube-prometheus-stack-operator"): (
        "prometheus-operator owns the monitoring.coreos.com resources and the StatefulSets, "
        "Secrets and ConfigMaps of what it runs ('*' verbs on those)."
    ),
    # argocd (components/k8s/argocd.py): the chart renders Redis's credentials as env.
    **{
        ("CKV_K8S_35", f"{kind}.argocd.{name}"): (
            "argo-cd 10.1.1 renders REDIS_PASSWORD as a secretKeyRef env in every component "
            "and Redis's --requirepass, whatever the values; the Secret is from Secrets Manager."
        )
        for kind, name in (
            ("Deployment", "argocd-server"),
            ("Deployment", "argocd-repo-server"),
            ("Deployment", "argocd-redis"),
            ("StatefulSet", "argocd-application-controller"),
        )
    },
    ("CKV_K8S_29", "Deployment.istio-system.istiod"): (
        "The istiod chart sets no pod securityContext; its container's is complete "
        "(non-root, read-only root, no privilege escalation, capabilities dropped, "
        "RuntimeDefault seccomp)."
    ),
    # --- serving (docs/serving.md, "Upstream findings"; policies/kubernetes/rules/exceptions.py)
    **{
        (check, f"ClusterRole.default.knative-{what}-operator"): (
            "The Knative operator installs Serving's (and Eventing's) CRDs, workloads and RBAC "
            "and binds their roles: '*' verbs and bind/escalate; knative-operator 1.23.0 "
            "renders both operators' roles unconditionally."
        )
        for check in ("CKV_K8S_49", "CKV_K8S_158")
        for what in ("serving", "eventing")
    },
    ("CKV_K8S_155", "ClusterRole.default.knative-operator-webhook"): (
        "The operator's webhook writes its certificate's CA into its own webhook configurations."
    ),
    ("CKV2_K8S_5", "RoleBinding.knative-operator.operator-webhook"): (
        "The operator's webhook keeps its serving certificate in a Secret of its namespace; "
        "the Role is confined to knative-operator."
    ),
    ("CKV_K8S_155", "ClusterRole.default.kserve-manager-role"): (
        "The KServe controller manages its serving webhooks' configurations; "
        "kserve-resources v0.20.0 renders kserve-manager-role whole."
    ),
    # Kubeflow Pipelines 2.17.0 (docs/kubeflow-pipelines.md).
    ("CKV_K8S_35", "Deployment.kubeflow.ml-pipeline"): (
        "The KFP API server reads its MySQL user and password only from its configuration "
        "(viper: config.json or DBCONFIG_* variables); they come from the ExternalSecret."
    ),
}


@dataclass(frozen=True)
class Finding:
    check_id: str
    check_name: str
    file: str
    resource: str
    reason: str = ""  # a skip's annotation text


@dataclass
class CheckovResult:
    passed: int = 0
    failed: list[Finding] = field(default_factory=list)
    skipped: list[Finding] = field(default_factory=list)
    # Skips whose id is not in ALLOWED_SKIPS: failures in all but name.
    disallowed_skips: list[Finding] = field(default_factory=list)
    # Failures answered by NOT_APPLICABLE, a privileged namespace or UPSTREAM (its reason set).
    accepted: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.disallowed_skips


def skip_annotations(*check_ids: str) -> dict[str, str]:
    """Annotations that skip `check_ids` (each must be in ALLOWED_SKIPS)."""
    out = {}
    for i, check_id in enumerate(check_ids, start=1):
        if check_id not in ALLOWED_SKIPS:
            raise ValueError(f"{check_id} is not in ALLOWED_SKIPS; fix the object instead")
        out[f"{SKIP_ANNOTATION_PREFIX}{i}"] = f"{check_id}={ALLOWED_SKIPS[check_id]}"
    return out


def acceptance(finding: Finding, privileged: Mapping[str, str]) -> str:
    """Why a failed check is accepted (empty: it is not). `privileged`: namespace -> reason."""
    if finding.check_id in NOT_APPLICABLE:
        return NOT_APPLICABLE[finding.check_id]
    namespace = finding.resource.split(".")[1] if finding.resource.count(".") >= 2 else ""
    if finding.check_id in HOST_CHECKS and namespace in privileged:
        return f"A node agent in {namespace} (privileged): {privileged[namespace]}"
    return UPSTREAM.get((finding.check_id, finding.resource), "")


def accept(result: CheckovResult, privileged: Mapping[str, str]) -> CheckovResult:
    """`result` with the failures that carry a reason moved to `accepted`."""
    failed, accepted = [], []
    for finding in result.failed:
        reason = acceptance(finding, privileged)
        if reason:
            accepted.append(replace(finding, reason=reason))
        else:
            failed.append(finding)
    return replace(result, failed=failed, accepted=result.accepted + accepted)


def checkov_available(checkov_bin: Path = DEFAULT_CHECKOV) -> bool:
    return checkov_bin.is_file() and os.access(checkov_bin, os.X_OK)


def _finding(entry: dict[str, Any]) -> Finding:
    suppress = entry.get("check_result", {}).get("suppress_comment", "") or ""
    return Finding(
        check_id=str(entry.get("check_id", "")),
        check_name=str(entry.get("check_name", "")),
        file=str(entry.get("file_path", "")).lstrip("/"),
        resource=str(entry.get("resource", "")),
        reason=str(suppress),
    )


def parse_report(document: Any) -> CheckovResult:
    """checkov's JSON output (one framework: a dict; several: a list; nothing: a summary)."""
    result = CheckovResult()
    reports = document if isinstance(document, list) else [document]
    for report in reports:
        results = report.get("results") if isinstance(report, dict) else None
        if not results:
            continue
        result.passed += len(results.get("passed_checks", []))
        result.failed += [_finding(e) for e in results.get("failed_checks", [])]
        for entry in results.get("skipped_checks", []):
            finding = _finding(entry)
            if finding.check_id in ALLOWED_SKIPS:
                result.skipped.append(finding)
            else:
                result.disallowed_skips.append(finding)
    return result


def run_checkov(
    manifest_dir: Path, checkov_bin: Path = DEFAULT_CHECKOV, timeout: float = 300
) -> CheckovResult:
    """Run checkov's Kubernetes framework over `manifest_dir`, offline; parse its report."""
    if not checkov_available(checkov_bin):
        raise FileNotFoundError(f"{checkov_bin}: not installed (make .venv-checkov/.installed)")
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "LOG_LEVEL": "ERROR"}
    proc = subprocess.run(
        [
            str(checkov_bin),
            "--directory",
            str(manifest_dir),
            "--framework",
            "kubernetes",
            "--skip-download",
            "--compact",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    # Exit 1 means failed checks; anything else non-zero is checkov failing to run.
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"checkov exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return parse_report(json.loads(proc.stdout or "{}"))
