"""Read Pulumi config once into `StackSettings`.

Two sources, one path through `settings_from_config`:
- `load_from_pulumi()`: inside `pulumi up`/`preview`, from `pulumi.Config`;
- `load_from_stack_file()`: the offline plan and tests, from `Pulumi.<stack>.yaml`.

An environment is two stacks (docs/decisions/0010-two-stacks.md): `<env>`, the AWS
layer, whose `Pulumi.<env>.yaml` holds every setting, and `<env>-platform`, the
Kubernetes layers, whose own file names only the AWS stack it reads
(`foundationStack`); it takes its settings from `Pulumi.<env>.yaml` too, so both
layers of an environment always read the same validated settings.

Every key is declared in `CONFIG_KEYS` (name -> where it lands in the model,
its Pulumi.yaml type and description); a test keeps Pulumi.yaml in step.
A bad value raises `SettingsError`, whose message is one line naming the key,
the value and what is allowed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from stacks.defaults import defaults_for
from stacks.settings import RuleViolationError, StackSettings

PROJECT = "mlops-platform"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
REGION_KEY = "aws:region"

ConfigType = Literal["string", "integer", "boolean", "array", "object"]


@dataclass(frozen=True)
class ConfigKey:
    path: tuple[str, ...]  # alias path into StackSettings
    type: ConfigType
    description: str
    items: ConfigType = "string"  # the element type of an array

    @property
    def structured(self) -> bool:
        """Not declarable in Pulumi.yaml: an object, or an array of objects."""
        return self.type == "object" or (self.type == "array" and self.items == "object")


CONFIG_KEYS: dict[str, ConfigKey] = {
    "environment": ConfigKey(
        ("environment",), "string", "Environment class: dev, staging or prod; picks defaults."
    ),
    "tags": ConfigKey(("tags",), "object", "Extra tags on every taggable AWS resource."),
    "vpcCidr": ConfigKey(("network", "vpcCidr"), "string", "VPC CIDR, private, /16 to /20."),
    "availabilityZones": ConfigKey(
        ("network", "availabilityZones"), "integer", "How many AZs to spread subnets over (2-3)."
    ),
    "natGateways": ConfigKey(
        ("network", "natGateways"), "string", "NAT gateways: 'single' or 'per_az' (prod)."
    ),
    "interfaceEndpoints": ConfigKey(
        ("network", "interfaceEndpoints"),
        "boolean",
        "Create interface endpoints for STS, ECR, Secrets Manager and CloudWatch Logs.",
    ),
    "flowLogRetentionDays": ConfigKey(
        ("network", "flowLogRetentionDays"), "integer", "Retention of the VPC flow log group."
    ),
    "clusterMode": ConfigKey(
        ("cluster", "mode"),
        "string",
        "'managed' creates the EKS cluster; 'existing' deploys the platform onto "
        "the cluster described by existingCluster.",
    ),
    "kubernetesVersion": ConfigKey(
        ("cluster", "kubernetesVersion"), "string", "EKS Kubernetes minor version."
    ),
    "clusterPublicAccessCidrs": ConfigKey(
        ("cluster", "publicAccessCidrs"),
        "array",
        "CIDRs allowed to reach the public API endpoint; empty keeps the endpoint private.",
    ),
    "clusterServiceCidr": ConfigKey(
        ("cluster", "serviceCidr"),
        "string",
        "The cluster's service CIDR (its first address is the API's ClusterIP, which the "
        "NetworkPolicies admit); default: what EKS would pick for the VPC. Fixed at creation.",
    ),
    "clusterUpgradeSupport": ConfigKey(
        ("cluster", "upgradeSupport"),
        "string",
        "What EKS does when the version leaves standard support: 'STANDARD' upgrades the "
        "control plane, 'EXTENDED' keeps it at the extended-support rate (prod).",
    ),
    "clusterLogRetentionDays": ConfigKey(
        ("cluster", "logRetentionDays"), "integer", "Retention of the control-plane log group."
    ),
    "clusterAccessEntries": ConfigKey(
        ("cluster", "accessEntries"),
        "array",
        "IAM principals granted cluster access: [{principalArn, policy, kubernetesGroups}].",
        items="object",
    ),
    "existingCluster": ConfigKey(
        ("cluster", "existing"),
        "object",
        "clusterMode existing: {name, kubeconfigPath, vpcId, vpcCidr, privateSubnetIds, "
        "privateSubnetCidrs, serviceCidr, nodeSecurityGroupId, oidcProviderArn, "
        "oidcProviderUrl, kubernetesVersion}.",
    ),
    "nodeGroups": ConfigKey(
        ("nodeGroups",),
        "object",
        "Managed node groups by name, merged over the environment's defaults; null removes one.",
    ),
    "databases": ConfigKey(
        ("databases",), "object", "RDS instances by name (mlflow: postgres, pipelines: mysql)."
    ),
    "artifactForceDestroy": ConfigKey(
        ("artifactStore", "forceDestroy"),
        "boolean",
        "Let `pulumi destroy` empty the artifact bucket (ephemeral stacks only).",
    ),
    "artifactNoncurrentVersionDays": ConfigKey(
        ("artifactStore", "noncurrentVersionExpirationDays"),
        "integer",
        "Days before noncurrent object versions expire.",
    ),
    "hostedZoneId": ConfigKey(
        ("dns", "hostedZoneId"), "string", "Public Route 53 zone of domain: ACME DNS-01 only."
    ),
    "privateHostedZoneId": ConfigKey(
        ("dns", "privateHostedZoneId"),
        "string",
        "Private Route 53 zone of domain, associated with the VPC: where external-dns "
        "publishes the internal load balancer's records.",
    ),
    "domain": ConfigKey(("dns", "domain"), "string", "Domain of the hosted zone."),
    "acmeEmail": ConfigKey(("dns", "acmeEmail"), "string", "Contact e-mail for ACME."),
    "services": ConfigKey(
        ("services",), "object", "Platform service switches, e.g. {externalDns: true}."
    ),
    "createImageRepositories": ConfigKey(
        ("createImageRepositories",),
        "boolean",
        "Create the ECR repositories of the platform's images (account-wide: true in one "
        "stack of the account, false in the others).",
    ),
    "createAutoscalingServiceLinkedRole": ConfigKey(
        ("createAutoscalingServiceLinkedRole",),
        "boolean",
        "Create the account's AWSServiceRoleForAutoScaling, which the data key's policy "
        "names (default: where this stack creates node groups). Set false where the account "
        "has it already: a create then fails with 'has been taken in this account'.",
    ),
    "gpuQuota": ConfigKey(
        ("gpuQuota",), "integer", "requests.nvidia.com/gpu cap per GPU namespace."
    ),
    "prometheusRetention": ConfigKey(
        ("platform", "prometheusRetention"),
        "string",
        "How long Prometheus keeps samples, e.g. 10d.",
    ),
    "prometheusStorageGib": ConfigKey(
        ("platform", "prometheusStorageGib"),
        "integer",
        "Size of Prometheus's persistent volume (GiB, gp3 encrypted).",
    ),
    "alertReceiverSecret": ConfigKey(
        ("platform", "alertReceiverSecret"),
        "string",
        "Secrets Manager secret <cluster>/<name> holding the Alertmanager webhook URL.",
    ),
    "gpuTimeSlicingReplicas": ConfigKey(
        ("platform", "gpuTimeSlicingReplicas"),
        "integer",
        "NVIDIA time-slicing replicas per GPU (1 = no sharing; inference pods only).",
    ),
    "autoscalerExpander": ConfigKey(
        ("platform", "autoscalerExpander"),
        "string",
        "cluster-autoscaler expander: least-waste, random, most-pods, priority or price.",
    ),
    "autoscalerScaleDownUnneededMinutes": ConfigKey(
        ("platform", "autoscalerScaleDownUnneededMinutes"),
        "integer",
        "Minutes a node must be unneeded before cluster-autoscaler removes it.",
    ),
    "autoscalerScaleDownUtilizationPercent": ConfigKey(
        ("platform", "autoscalerScaleDownUtilizationPercent"),
        "integer",
        "Requested-resources utilisation (percent) below which a node may be removed.",
    ),
    "autoscalerBalanceSimilarNodeGroups": ConfigKey(
        ("platform", "autoscalerBalanceSimilarNodeGroups"),
        "boolean",
        "Let cluster-autoscaler balance similar node groups across AZs.",
    ),
    "knativeReplicas": ConfigKey(
        ("platform", "knativeReplicas"),
        "integer",
        "Replicas of each Knative Serving control-plane component (2 or more: highly available).",
    ),
    "knativeScaleToZeroGracePeriod": ConfigKey(
        ("platform", "knativeScaleToZeroGracePeriod"),
        "string",
        "How long an idle revision keeps its last pod before scaling to zero, e.g. 30s.",
    ),
    "kserveDeploymentMode": ConfigKey(
        ("platform", "kserveDeploymentMode"),
        "string",
        "KServe's default deployment mode: Knative (Serverless) or Standard (Deployment + HPA).",
    ),
    "mlflowMinReplicas": ConfigKey(
        ("platform", "mlflowMinReplicas"),
        "integer",
        "MLflow tracking server: fewest replicas the autoscaler keeps (>= 1; 2 survives a drain).",
    ),
    "mlflowMaxReplicas": ConfigKey(
        ("platform", "mlflowMaxReplicas"),
        "integer",
        "MLflow tracking server: most replicas the autoscaler starts.",
    ),
    "gitRepositoryUrl": ConfigKey(
        ("platform", "gitRepositoryUrl"),
        "string",
        "This repository's https URL: the only source Argo CD may sync (workloads/<env>/).",
    ),
    "gitTargetRevision": ConfigKey(
        ("platform", "gitTargetRevision"),
        "string",
        "The branch or tag of workloads/<env>/ Argo CD syncs.",
    ),
}

STRUCTURED_KEYS = tuple(k for k, v in CONFIG_KEYS.items() if v.structured)

PLATFORM_SUFFIX = "-platform"
# The only key of a `<env>-platform` stack's own config.
PLATFORM_STACK_KEYS: dict[str, ConfigKey] = {
    "foundationStack": ConfigKey(
        (),
        "string",
        "<env>-platform stacks only: the AWS stack they read, e.g. organization/mlops-platform/dev "
        "(every other setting comes from Pulumi.<env>.yaml).",
    ),
}
Layer = Literal["aws", "platform"]


@dataclass(frozen=True)
class StackTarget:
    """What one stack builds: the environment's settings and which of its two layers."""

    settings: StackSettings
    layer: Layer
    # The platform layer's stack reference to the environment's AWS stack.
    foundation_stack: str = ""

    @property
    def stack(self) -> str:
        return self.settings.stack + (PLATFORM_SUFFIX if self.layer == "platform" else "")


_MERGED_MAPS = ("nodeGroups", "databases")


class SettingsError(ValueError):
    """A config value is invalid; the message is one line naming the key."""


def settings_from_config(raw: dict[str, Any], *, stack: str, region: str | None) -> StackSettings:
    """Validate raw config (keys without the project prefix) over the defaults."""
    unknown = sorted(set(raw) - set(CONFIG_KEYS))
    if unknown:
        raise SettingsError(
            f"{PROJECT}:{unknown[0]}: unknown config key; known keys: {', '.join(CONFIG_KEYS)}"
        )
    if region is None:
        raise SettingsError(f"{REGION_KEY}: required; set it with `pulumi config set aws:region`")
    environment = raw.get("environment")
    if environment not in ("dev", "staging", "prod"):
        raise SettingsError(
            f"{PROJECT}:environment = {environment!r}: must be one of dev, staging, prod"
        )
    data: dict[str, Any] = defaults_for(environment)
    for key, value in raw.items():
        _place(data, CONFIG_KEYS[key].path, value)
    data["stack"] = stack
    data["region"] = region
    try:
        return StackSettings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None


def _stack_file(stack: str, root: Path | None) -> dict[str, Any]:
    path = (root or PROJECT_ROOT) / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise SettingsError(f"--stack {stack}: no {path.name}; stacks have a Pulumi.<stack>.yaml")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path.name}: not valid YAML ({exc.__class__.__name__})") from None
    return document.get("config") or {}


def load_from_stack_file(
    stack: str, root: Path | None = None, overrides: dict[str, Any] | None = None
) -> StackSettings:
    """Read an environment's `Pulumi.<stack>.yaml` (the offline plan and the tests).

    `overrides` replace keys of the file, as `pulumi config set` would (tests use it).
    """
    if stack.endswith(PLATFORM_SUFFIX):
        env = stack.removesuffix(PLATFORM_SUFFIX)
        raise SettingsError(
            f"--stack {stack}: an environment's settings live in Pulumi.{env}.yaml; "
            f"plan --stack {env} (it plans both of its stacks)"
        )
    config = _stack_file(stack, root)
    raw: dict[str, Any] = {}
    for key, value in config.items():
        namespace, _, name = key.partition(":")
        if namespace == PROJECT:
            raw[name] = value
        elif namespace != "aws":
            raise SettingsError(f"{key}: unknown namespace; use {PROJECT}:<key> or aws:region")
    raw.update(overrides or {})
    return settings_from_config(raw, stack=stack, region=config.get(REGION_KEY))


def load_environment(
    env: str, root: Path | None = None, overrides: dict[str, Any] | None = None
) -> tuple[StackTarget, StackTarget]:
    """Both stacks of an environment from their files: `<env>` and `<env>-platform`."""
    settings = load_from_stack_file(env, root, overrides)
    config = _stack_file(f"{env}{PLATFORM_SUFFIX}", root)
    unknown = sorted(k for k in config if k.removeprefix(f"{PROJECT}:") not in PLATFORM_STACK_KEYS)
    if unknown:
        raise SettingsError(
            f"{unknown[0]}: Pulumi.{env}{PLATFORM_SUFFIX}.yaml holds only foundationStack; "
            f"the environment's settings live in Pulumi.{env}.yaml"
        )
    platform = _platform_target(
        f"{env}{PLATFORM_SUFFIX}",
        {"foundationStack": config.get(f"{PROJECT}:foundationStack")},
        settings,
    )
    return StackTarget(settings=settings, layer="aws"), platform


def load_from_pulumi() -> StackTarget:
    """The current stack's target, through the Pulumi SDK (pulumi up / preview)."""
    import pulumi  # noqa: PLC0415 - the offline paths must not need the engine

    stack = pulumi.get_stack()
    if stack.endswith(PLATFORM_SUFFIX):
        return _platform_target(stack, pulumi.Config(PROJECT))
    return StackTarget(settings=_settings_from_pulumi(stack), layer="aws")


def _platform_target(stack: str, config: Any, settings: StackSettings | None = None) -> StackTarget:
    """A `<env>-platform` stack: its reference from its own config, its settings from
    the environment's stack file beside Pulumi.yaml (the project directory)."""
    env = stack.removesuffix(PLATFORM_SUFFIX)
    foundation = config.get("foundationStack")
    if not foundation:
        raise SettingsError(
            f"{PROJECT}:foundationStack: required in Pulumi.{stack}.yaml, the AWS stack this "
            f"one reads, e.g. `pulumi config set foundationStack organization/{PROJECT}/{env}`"
        )
    if foundation.rsplit("/", 1)[-1] != env:
        raise SettingsError(
            f"{PROJECT}:foundationStack = {foundation!r}: must name the {env!r} stack "
            f"(<org>/{PROJECT}/{env}): a platform stack reads its own environment"
        )
    return StackTarget(
        settings=settings or load_from_stack_file(env),
        layer="platform",
        foundation_stack=foundation,
    )


def _settings_from_pulumi(stack: str) -> StackSettings:
    import pulumi  # noqa: PLC0415

    config = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    for key, spec in CONFIG_KEYS.items():
        try:
            value = config.get_object(key) if spec.type in ("array", "object") else config.get(key)
        except Exception as exc:  # the SDK raises its own ConfigTypeError on bad JSON
            raise SettingsError(f"{PROJECT}:{key}: not valid {spec.type} ({exc})") from None
        if value is not None:
            raw[key] = value
    region = pulumi.Config("aws").get("region")
    return settings_from_config(raw, stack=stack, region=region)


def _place(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Put a config value at its path; the node-group and database maps merge per entry."""
    *parents, leaf = path
    target = data
    for part in parents:
        target = target.setdefault(part, {})
    if leaf in _MERGED_MAPS and isinstance(value, dict):
        merged = target.setdefault(leaf, {})
        for name, entry in value.items():
            if entry is None:
                merged.pop(name, None)
            elif isinstance(entry, dict) and isinstance(merged.get(name), dict):
                merged[name] = {**merged[name], **copy.deepcopy(entry)}
            else:
                merged[name] = copy.deepcopy(entry)
    elif isinstance(value, dict) and isinstance(target.get(leaf), dict):
        target[leaf] = {**target[leaf], **copy.deepcopy(value)}
    else:
        target[leaf] = copy.deepcopy(value)


def _config_key_for(loc: tuple[int | str, ...]) -> str:
    """Map a pydantic error location back to the config key the user writes."""
    parts = [str(p) for p in loc]
    best = None
    for key, spec in CONFIG_KEYS.items():
        n = len(spec.path)
        if tuple(parts[:n]) == spec.path and (best is None or n > len(CONFIG_KEYS[best].path)):
            best = key
    if best is None:
        return ".".join(parts) or "config"
    rest = parts[len(CONFIG_KEYS[best].path) :]
    return ".".join([best, *rest])


def _one_line(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, RuleViolationError):
        key, shown = cause.key, cause.value
    else:
        key, shown = _config_key_for(tuple(error["loc"])), error.get("input")
    # The region is the AWS provider's key, not the project's.
    name = REGION_KEY if key == "region" else f"{PROJECT}:{key}"
    if isinstance(shown, dict) and not isinstance(cause, RuleViolationError):
        return f"{name}: {message}".replace("\n", " ")
    return f"{name} = {shown!r}: {message}".replace("\n", " ")
