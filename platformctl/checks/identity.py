"""Every pod runs under a ServiceAccount that exists; every AWS caller under its own role.

- A pod's `serviceAccountName` (or `default`) must exist when the pod is created: typed
  by the program (docs/decisions/0008-charts-pinned-and-rendered.md: charts set
  `serviceAccount.create: false` and the program creates the account, with its IRSA
  annotation), or created by the chart where the chart has no switch for it — each such
  account listed with its reason in `CHART_MANAGED_SERVICE_ACCOUNTS`. The controller
  manager creates `default` in every namespace. Without its account the ReplicaSet or
  DaemonSet controller cannot create the pod ("serviceaccount not found").
- A pod that calls AWS (`AWS_CALLERS`: recognised by its container image, and only where
  the plan gives it AWS work, e.g. cert-manager only with a Route 53 issuer) runs under an
  account annotated `eks.amazonaws.com/role-arn`, whose role's trust policy admits exactly
  `system:serviceaccount:<namespace>:<name>` with audience `sts.amazonaws.com` and nothing
  else (docs/decisions/0006-one-role-per-service-account.md). The contract's accounts of
  callers whose pods the plan does not render (MLflow, the pipeline runner, the model
  reader) and the accounts EKS add-ons run under (their `serviceAccountRoleArn`) are held
  to the same trust.

The role behind an annotation is the Role whose ARN output flowed into it (the
ServiceAccount's recorded property dependencies), else the Role whose ARN the annotation
names (`arn:aws:iam::<account>:role/<name>`, the name the mocks give a role).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from contract import contract
from platformctl.checks import CheckResult, Finding, PlannedObject
from platformctl.checks.context import CheckContext
from platformctl.checks.pods import PodShape, pod_shapes

NAME: Final = "identity"
ROLE_ARN_ANNOTATION: Final = "eks.amazonaws.com/role-arn"
ROLE_TYPE: Final = "aws:iam/role:Role"
ADDON_TYPE: Final = "aws:eks/addon:Addon"
SERVICE_ACCOUNT_PATCH: Final = "kubernetes:core/v1:ServiceAccountPatch"
STS_AUDIENCE: Final = "sts.amazonaws.com"
# Namespaces every cluster has, with their `default` account.
SYSTEM_NAMESPACES: Final = ("default", "kube-system", "kube-public", "kube-node-lease")

# (release, account) -> why the chart, not the program, creates the account.
CHART_MANAGED_SERVICE_ACCOUNTS: Final = {
    ("istiod", "istiod"): (
        "istiod 1.30 always renders its ServiceAccount (templates/serviceaccount.yaml has no "
        "create switch); istiod calls no AWS API"
    ),
    ("istio-cni", "istio-cni"): (
        "the cni 1.30 chart always renders its ServiceAccount (no create switch); the node "
        "agent calls no AWS API"
    ),
    ("nvidia-device-plugin", "nvidia-device-plugin-service-account"): (
        "the nvidia-device-plugin 0.20 chart always renders `<fullname>-service-account` and "
        "its DaemonSets name it (no create switch); the device plugin calls no AWS API"
    ),
    # --- serving (docs/serving.md) ---
    ("knative-operator", "knative-operator"): (
        "knative-operator 1.23.0 templates/operator.yaml always renders the operator's "
        "ServiceAccount (no create value); the operator calls no AWS API"
    ),
    ("knative-operator", "operator-webhook"): (
        "knative-operator 1.23.0 templates/operator.yaml always renders the webhook's "
        "ServiceAccount (no create value); the webhook calls no AWS API"
    ),
    ("kserve", "kserve-controller-manager"): (
        "kserve-resources v0.20.0 files/kserve/serviceaccount-patch.yaml always renders the "
        "controller's ServiceAccount (no create value); the controller calls no AWS API (the "
        "model reader's IRSA role is on the predictors' account, typed by the program)"
    ),
}
# Accounts EKS add-ons run under, by add-on name (the add-on's serviceAccountRoleArn role).
ADDON_ACCOUNTS: Final = {
    "vpc-cni": ("kube-system", "aws-node"),
    "aws-ebs-csi-driver": (
        contract().service_accounts["ebs_csi_controller"].namespace,
        contract().service_accounts["ebs_csi_controller"].name,
    ),
}


def _route53_issuer(objects: Sequence[PlannedObject]) -> bool:
    """cert-manager calls Route 53 only for an ACME issuer with a route53 DNS-01 solver."""
    return any(
        "route53" in (solver.get("dns01") or {})
        for o in objects
        if o.group == "cert-manager.io" and o.kind in ("Issuer", "ClusterIssuer")
        for solver in (((o.manifest.get("spec") or {}).get("acme") or {}).get("solvers") or [])
    )


def _aws_secret_store(objects: Sequence[PlannedObject]) -> bool:
    """External Secrets calls AWS for a (Cluster)SecretStore with the aws provider."""
    return any(
        "aws" in (((o.manifest.get("spec") or {}).get("provider")) or {})
        for o in objects
        if o.group == "external-secrets.io" and o.kind in ("SecretStore", "ClusterSecretStore")
    )


def _always(objects: Sequence[PlannedObject]) -> bool:
    del objects
    return True


@dataclass(frozen=True)
class AwsCaller:
    """A controller that calls AWS APIs, and how its pods are recognised."""

    name: str
    image: str  # a fragment of its container image
    account: str = ""  # the contract's service account key, where the contract names it
    not_args: tuple[str, ...] = ()  # first arguments that make the same image another role
    calls_aws: Callable[[Sequence[PlannedObject]], bool] = _always
    why: str = ""


AWS_CALLERS: Final = (
    AwsCaller("external-dns", "external-dns/external-dns", "external_dns", why="Route 53 records"),
    AwsCaller(
        "cert-manager",
        "jetstack/cert-manager-controller",
        "cert_manager",
        calls_aws=_route53_issuer,
        why="ACME DNS-01 challenges in Route 53",
    ),
    AwsCaller(
        "external-secrets",
        "external-secrets/external-secrets",
        "external_secrets",
        not_args=("webhook", "certcontroller"),
        calls_aws=_aws_secret_store,
        why="Secrets Manager",
    ),
    AwsCaller(
        "cluster-autoscaler",
        "autoscaling/cluster-autoscaler",
        "cluster_autoscaler",
        why="Auto Scaling groups and EKS node groups",
    ),
    AwsCaller(
        "aws-load-balancer-controller",
        "eks/aws-load-balancer-controller",
        why="Elastic Load Balancing",
    ),
    AwsCaller(
        "ebs-csi-controller",
        "ebs-csi-driver",
        "ebs_csi_controller",
        not_args=("node",),  # the node plugin mounts volumes; only the controller calls EC2
        why="EBS volumes",
    ),
)
# Contract accounts whose pods the plan does not render (created at run time by a
# controller): their accounts are checked without a pod.
ACCOUNT_ONLY_CALLERS: Final = {
    "mlflow": "the MLflow server proxies every artifact to S3",
    "pipeline_runner": "Kubeflow Pipelines runs each pipeline step under it (pipeline root in S3)",
    "model_reader": "KServe's storage initializer reads models from S3 in each predictor pod",
}


@dataclass(frozen=True)
class Account:
    namespace: str
    name: str
    obj: PlannedObject | None  # None: `default`, which the cluster creates

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    @property
    def role_arn(self) -> str:
        if self.obj is None:
            return ""
        return str((self.obj.metadata.get("annotations") or {}).get(ROLE_ARN_ANNOTATION, ""))


def accounts_of(
    objects: Sequence[PlannedObject], resources: Mapping[str, Mapping[str, Any]]
) -> dict[str, Account]:
    """`namespace/name` -> every ServiceAccount the plan creates (patches create none)."""
    found: dict[str, Account] = {}
    for obj in objects:
        if obj.kind != "ServiceAccount" or obj.api_version != "v1":
            continue
        if not obj.release and resources.get(obj.source, {}).get("type") == SERVICE_ACCOUNT_PATCH:
            continue
        found.setdefault(f"{obj.namespace}/{obj.name}", Account(obj.namespace, obj.name, obj))
    return found


def role_for(
    account: Account, roles: Mapping[str, Mapping[str, Any]], resources: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The Role behind the account's annotation (see the module docstring)."""
    if account.obj is not None and not account.obj.release:
        record = resources.get(account.obj.source) or {}
        upstream = [
            dep
            for deps in (record.get("property_dependencies") or {}).values()
            for dep in deps or []
            if dep in roles
        ]
        if len(set(upstream)) == 1:
            return roles[upstream[0]]
    return role_by_arn(account.role_arn, roles)


def role_by_arn(arn: str, roles: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if ":role/" not in arn:
        return None
    name = arn.rsplit("/", 1)[-1]
    for role in roles.values():
        if str((role.get("inputs") or {}).get("name") or role.get("name")) == name:
            return role
    return None


def trust_problems(role: Mapping[str, Any], subject: str) -> list[str]:
    """What in the role's trust policy admits more, or other, than exactly `subject`."""
    raw = (role.get("inputs") or {}).get("assumeRolePolicy")
    try:
        document = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return ["its trust policy is not JSON"]
    if not isinstance(document, dict):
        return ["its trust policy is not known offline"]
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    problems = []
    allowing = [s for s in statements if s.get("Effect") == "Allow"]
    if not allowing:
        problems.append("its trust policy allows nobody")
    for statement in allowing:
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else list(actions or [])
        if actions != ["sts:AssumeRoleWithWebIdentity"]:
            problems.append(f"it also trusts {actions} (not only web identity)")
            continue
        federated = str((statement.get("Principal") or {}).get("Federated", ""))
        if ":oidc-provider/" not in federated:
            problems.append(f"its web identity principal {federated!r} is no OIDC provider")
        condition = statement.get("Condition") or {}
        equals = condition.get("StringEquals") or {}
        subs = [v for k, v in equals.items() if k.endswith(":sub")]
        auds = [v for k, v in equals.items() if k.endswith(":aud")]
        if subs != [subject]:
            problems.append(f"it trusts sub {subs or 'of any account'}, not exactly {subject}")
        if auds != [STS_AUDIENCE]:
            problems.append(f"its audience is {auds or 'unchecked'}, not {STS_AUDIENCE}")
        loose = sorted(k for k in condition if k != "StringEquals")
        if loose:
            problems.append(f"it also matches with {loose}, which widens the trust")
    return problems


def _caller_of(shape: PodShape, objects: Sequence[PlannedObject]) -> AwsCaller | None:
    for container in shape.spec.get("containers") or []:
        image = str(container.get("image", ""))
        args = [str(a) for a in container.get("args") or []]
        for caller in AWS_CALLERS:
            if caller.image not in image:
                continue
            if args and args[0] in caller.not_args:
                continue
            if caller.calls_aws(objects):
                return caller
    return None


def _account_exists(
    shape: PodShape, accounts: Mapping[str, Account], namespaces: set[str]
) -> tuple[Account | None, str]:
    """The pod's account, or why it has none (a finding message)."""
    name = shape.service_account
    key = f"{shape.namespace}/{name}"
    if key in accounts:
        account = accounts[key]
        assert account.obj is not None
        if (
            account.obj.release
            and (account.obj.release, name) not in CHART_MANAGED_SERVICE_ACCOUNTS
        ):
            return account, (
                f"{shape.owner.kind} {shape.owner.name} runs under {key}, which the chart "
                f"{account.obj.release} creates: give the chart serviceAccount.create: false "
                "and type the account in the program, or list it in "
                "CHART_MANAGED_SERVICE_ACCOUNTS with the reason the chart cannot."
            )
        return account, ""
    if name == "default" and shape.namespace in namespaces:
        return Account(shape.namespace, name, None), ""
    return None, (
        f"{shape.owner.kind} {shape.owner.name} runs under the ServiceAccount {key}, which "
        "the plan does not create: its pods are refused (serviceaccount not found)."
    )


def _role_findings(
    who: str,
    account: Account,
    roles: Mapping[str, Mapping[str, Any]],
    resources: Mapping[str, Any],
    rows: list[dict[str, Any]],
) -> list[str]:
    if not account.role_arn:
        rows.append({"caller": who, "account": account.key, "role": "", "ok": False})
        return [
            f"{who} calls AWS but its account {account.key} carries no {ROLE_ARN_ANNOTATION} "
            "annotation: it gets the node's role, or nothing."
        ]
    role = role_for(account, roles, resources)
    if role is None:
        rows.append({"caller": who, "account": account.key, "role": account.role_arn, "ok": False})
        return [f"{who}: the role {account.role_arn} of {account.key} is not in the plan."]
    problems = trust_problems(role, account.subject)
    rows.append(
        {"caller": who, "account": account.key, "role": str(role["name"]), "ok": not problems}
    )
    return [f"{who}: the role {role['name']} of {account.key}: {p}." for p in problems]


def _addon_findings(
    resources: Mapping[str, Mapping[str, Any]],
    roles: Mapping[str, Mapping[str, Any]],
    rows: list[dict[str, Any]],
) -> Iterable[Finding]:
    for urn, record in resources.items():
        if record.get("type") != ADDON_TYPE:
            continue
        inputs = record.get("inputs") or {}
        addon = str(inputs.get("addonName", ""))
        if addon not in ADDON_ACCOUNTS:
            continue
        namespace, name = ADDON_ACCOUNTS[addon]
        subject = f"system:serviceaccount:{namespace}:{name}"
        upstream = [
            d
            for d in (record.get("property_dependencies") or {}).get("serviceAccountRoleArn", [])
            if d in roles
        ]
        role = (
            roles[upstream[0]]
            if upstream
            else role_by_arn(str(inputs.get("serviceAccountRoleArn", "")), roles)
        )
        who = f"the {addon} add-on"
        if role is None:
            rows.append({"caller": who, "account": f"{namespace}/{name}", "role": "", "ok": False})
            yield Finding(
                NAME,
                urn,
                f"{who} calls AWS under {namespace}/{name} but names no role of the plan.",
            )
            continue
        problems = trust_problems(role, subject)
        rows.append(
            {
                "caller": who,
                "account": f"{namespace}/{name}",
                "role": str(role["name"]),
                "ok": not problems,
            }
        )
        for p in problems:
            yield Finding(NAME, urn, f"{who}: the role {role['name']} of {namespace}/{name}: {p}.")


def check_identity(
    objects: Sequence[PlannedObject], resources: Sequence[Mapping[str, Any]], context: CheckContext
) -> CheckResult:
    """Mandatory: accounts exist; AWS callers run under roles that trust exactly them."""
    del context  # identity reads the objects and the roles of the plan
    result = CheckResult(name=NAME, mandatory=True, evaluated=0)
    by_urn = {str(r["urn"]): r for r in resources}
    roles = {urn: r for urn, r in by_urn.items() if r.get("type") == ROLE_TYPE}
    accounts = accounts_of(objects, by_urn)
    namespaces = {o.name for o in objects if o.kind == "Namespace"} | set(SYSTEM_NAMESPACES)
    rows: list[dict[str, Any]] = []
    pods: list[dict[str, Any]] = []
    checked: set[str] = set()
    for shape in pod_shapes(objects):
        result.evaluated += 1
        account, problem = _account_exists(shape, accounts, namespaces)
        if problem:
            result.findings.append(Finding(NAME, shape.ref, problem))
        pods.append(
            {"workload": shape.ref, "account": f"{shape.namespace}/{shape.service_account}"}
        )
        if account is None:
            continue
        caller = _caller_of(shape, objects)
        if caller is None and not account.role_arn:
            continue
        # A pod under an annotated account calls AWS by construction: its trust is checked too.
        what = f"{caller.name}: {caller.why}" if caller else f"annotated {ROLE_ARN_ANNOTATION}"
        who = f"{shape.owner.kind} {shape.owner.name} ({what})"
        if caller is not None and caller.account:
            ref = contract().service_accounts[caller.account]
            if (ref.namespace, ref.name) != (account.namespace, account.name):
                result.findings.append(
                    Finding(
                        NAME,
                        shape.ref,
                        f"{who} runs under {account.key}, not the contract's account "
                        f"{ref.namespace}/{ref.name} its role is written for.",
                    )
                )
        checked.add(account.key)
        result.findings += [
            Finding(NAME, shape.ref, m) for m in _role_findings(who, account, roles, by_urn, rows)
        ]
    for key, why in ACCOUNT_ONLY_CALLERS.items():
        ref = contract().service_accounts[key]
        account = accounts.get(f"{ref.namespace}/{ref.name}")
        if account is None or account.key in checked:
            continue  # the service is off in this stack, or its pods were checked above
        result.evaluated += 1
        result.findings += [
            Finding(NAME, account.obj.ref if account.obj else account.key, m)
            for m in _role_findings(f"{key} ({why})", account, roles, by_urn, rows)
        ]
    result.findings += list(_addon_findings(by_urn, roles, rows))
    result.details = {
        "aws_callers": rows,
        "pods": pods,
        "chart_managed": {
            f"{release}/{name}": why
            for (release, name), why in CHART_MANAGED_SERVICE_ACCOUNTS.items()
        },
    }
    return result
