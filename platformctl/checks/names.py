"""Physical names: every name a stack fixes is valid for its service and its own.

Pulumi auto-names most resources (`<name>-<random suffix>`), and those never collide.
The names a program *fixes* — a log group's `name`, a KMS alias, a bucket, an RDS
identifier, a Secrets Manager name, an EKS cluster — are the same in every stack
built from the same code unless they derive from something that differs per stack.
Two stacks in one account and region then collide: the second `pulumi up` fails on
"already exists", or worse, adopts nothing and fights the first over one resource.

`physical_names` reads every fixed name from resources.json (the inputs the program
sets, by the table `FIXED_NAMES`). `check_names` holds one stack to three rules:

- the name is valid for its service (length, characters: the services' own naming
  rules, cited per rule), a name prefix counting the unique suffix the provider adds;
- a name in an account-, region- or partition-wide namespace derives from the stack's
  cluster name (it contains it as a whole word, or, where a name had to be shortened,
  the first 8 hex digits of the cluster name's SHA-256);
- no two resources of the stack fix the same name in the same namespace.

`check_names_across` takes the plans of several stacks meant for one account and
region and proves no name is fixed by two of them. Names AWS fixes itself (a
service-linked role) are singletons of the account: the check names the setting
that leaves them to one stack.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from images import image_lock
from platformctl.checks import CheckResult, Finding

NAME = "physical-names"
ACROSS = "physical-names-across-stacks"

# Where a name must be unique: the whole partition (S3 buckets), one account (IAM),
# one account and region (most services), or only inside the stack's own cluster/VPC.
Scope = Literal["partition", "account", "region", "cluster", "vpc"]
SHARED_SCOPES: frozenset[str] = frozenset({"partition", "account", "region"})
DIGEST_LENGTH = 8


@dataclass(frozen=True)
class NameRule:
    """A service's naming rule. `problem(name)` says what is wrong, or returns None."""

    kind: str
    scope: Scope
    max_length: int
    pattern: re.Pattern[str]
    source: str  # where the rule is documented
    also: Callable[[str], str | None] | None = None  # rules beyond length and pattern

    def problem(self, name: str, *, suffix_length: int = 0) -> str | None:
        length = len(name) + suffix_length
        if length > self.max_length:
            added = (
                f" with the provider's {suffix_length}-character suffix" if suffix_length else ""
            )
            return (
                f"is {length} characters{added}; {self.kind} names take at most {self.max_length}"
            )
        if not self.pattern.fullmatch(name):
            return f"does not match {self.pattern.pattern} ({self.source})"
        return self.also(name) if self.also else None


def _s3_extra(name: str) -> str | None:
    if len(name) < 3:
        return "is shorter than 3 characters"
    if ".." in name:
        return "has two adjacent periods"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return "is formatted as an IP address"
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            return f"starts with the reserved prefix {prefix!r}"
    for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if name.endswith(suffix):
            return f"ends with the reserved suffix {suffix!r}"
    return None


def _kms_extra(name: str) -> str | None:
    return "names an AWS managed key (alias/aws/)" if name.startswith("alias/aws/") else None


_RDS_WORDS = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_S3_RULES = "S3 User Guide, general purpose bucket naming rules"
S3_BUCKET = NameRule(
    "S3 bucket", "partition", 63, re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]"), _S3_RULES, _s3_extra
)
LOG_GROUP = NameRule(
    "CloudWatch log group",
    "region",
    512,
    re.compile(r"[._/#A-Za-z0-9-]+"),
    "CloudWatch Logs API, CreateLogGroup",
)
KMS_ALIAS = NameRule(
    "KMS alias",
    "region",
    256,
    re.compile(r"alias/[A-Za-z0-9/_-]+"),
    "KMS API, CreateAlias",
    _kms_extra,
)
IAM_ROLE = NameRule("IAM role", "account", 64, re.compile(r"[\w+=,.@-]+"), "IAM quotas and names")
IAM_POLICY = NameRule("IAM policy", "account", 128, re.compile(r"[\w+=,.@-]+"), "IAM quotas")
IAM_INSTANCE_PROFILE = NameRule(
    "IAM instance profile", "account", 128, re.compile(r"[\w+=,.@-]+"), "IAM quotas"
)
IAM_SERVICE_LINKED_ROLE = NameRule(
    "IAM service-linked role",
    "account",
    64,
    re.compile(r"[\w+=,.@-]+"),
    "IAM User Guide, service-linked roles",
)
# RDS lower-cases identifiers itself; an upper-case one would diff on every run.
RDS_INSTANCE = NameRule(
    "RDS DB instance", "region", 63, _RDS_WORDS, "RDS API, CreateDBInstance DBInstanceIdentifier"
)
RDS_SNAPSHOT = NameRule(
    "RDS DB snapshot",
    "region",
    255,
    _RDS_WORDS,
    "RDS API, DeleteDBInstance FinalDBSnapshotIdentifier",
)
RDS_PARAMETER_GROUP = NameRule(
    "RDS DB parameter group", "region", 255, _RDS_WORDS, "RDS API, CreateDBParameterGroup"
)
RDS_SUBNET_GROUP = NameRule(
    "RDS DB subnet group",
    "region",
    255,
    re.compile(r"[a-z0-9][a-z0-9 ._-]*"),
    "RDS API, CreateDBSubnetGroup",
)
SECRET = NameRule(
    "Secrets Manager secret",
    "region",
    512,
    re.compile(r"[A-Za-z0-9/_+=.@-]+"),
    "Secrets Manager API, CreateSecret",
)
EKS_CLUSTER = NameRule(
    "EKS cluster", "region", 100, re.compile(r"[0-9A-Za-z][A-Za-z0-9_-]*"), "EKS API, CreateCluster"
)
EKS_NODE_GROUP = NameRule(
    "EKS node group",
    "cluster",
    63,
    re.compile(r"[0-9A-Za-z][A-Za-z0-9_-]*"),
    "EKS API, CreateNodegroup",
)
LAUNCH_TEMPLATE = NameRule(
    "EC2 launch template",
    "region",
    128,
    re.compile(r"[a-zA-Z0-9().\/_-]+"),
    "EC2 API, CreateLaunchTemplate",
)
ECR_REPOSITORY = NameRule(
    "ECR repository",
    "region",
    256,
    re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"),
    "ECR API, CreateRepository",
)
SECURITY_GROUP = NameRule(
    "EC2 security group", "vpc", 255, re.compile(r"[ -~]+"), "EC2 API, CreateSecurityGroup"
)


@dataclass(frozen=True)
class NameField:
    """One input that fixes a physical name; a prefix gets a unique suffix of this length."""

    type: str
    input: str
    rule: NameRule
    suffix_length: int = 0  # > 0: a prefix the provider completes (unique, never collides)


# Terraform's unique-id suffix (id.UniqueId()): a timestamp and a counter, 26 characters.
_UNIQUE_SUFFIX = 26
FIXED_NAMES: tuple[NameField, ...] = (
    NameField("aws:s3/bucket:Bucket", "bucket", S3_BUCKET),
    NameField("aws:s3/bucket:Bucket", "bucketPrefix", S3_BUCKET, _UNIQUE_SUFFIX),
    NameField("aws:s3/bucketV2:BucketV2", "bucket", S3_BUCKET),
    NameField("aws:cloudwatch/logGroup:LogGroup", "name", LOG_GROUP),
    NameField("aws:cloudwatch/logGroup:LogGroup", "namePrefix", LOG_GROUP, _UNIQUE_SUFFIX),
    NameField("aws:kms/alias:Alias", "name", KMS_ALIAS),
    NameField("aws:kms/alias:Alias", "namePrefix", KMS_ALIAS, _UNIQUE_SUFFIX),
    NameField("aws:iam/role:Role", "name", IAM_ROLE),
    NameField("aws:iam/role:Role", "namePrefix", IAM_ROLE, _UNIQUE_SUFFIX),
    NameField("aws:iam/policy:Policy", "name", IAM_POLICY),
    NameField("aws:iam/instanceProfile:InstanceProfile", "name", IAM_INSTANCE_PROFILE),
    NameField("aws:rds/instance:Instance", "identifier", RDS_INSTANCE),
    NameField("aws:rds/instance:Instance", "identifierPrefix", RDS_INSTANCE, _UNIQUE_SUFFIX),
    NameField("aws:rds/instance:Instance", "finalSnapshotIdentifier", RDS_SNAPSHOT),
    NameField("aws:rds/parameterGroup:ParameterGroup", "name", RDS_PARAMETER_GROUP),
    NameField("aws:rds/subnetGroup:SubnetGroup", "name", RDS_SUBNET_GROUP),
    NameField("aws:secretsmanager/secret:Secret", "name", SECRET),
    NameField("aws:secretsmanager/secret:Secret", "namePrefix", SECRET, _UNIQUE_SUFFIX),
    NameField("eks:index:Cluster", "name", EKS_CLUSTER),
    NameField("aws:eks/cluster:Cluster", "name", EKS_CLUSTER),
    NameField("eks:index:ManagedNodeGroup", "nodeGroupName", EKS_NODE_GROUP),
    NameField("eks:index:ManagedNodeGroup", "nodeGroupNamePrefix", EKS_NODE_GROUP, _UNIQUE_SUFFIX),
    NameField("aws:eks/nodeGroup:NodeGroup", "nodeGroupName", EKS_NODE_GROUP),
    NameField("aws:ec2/launchTemplate:LaunchTemplate", "name", LAUNCH_TEMPLATE),
    NameField("aws:ecr/repository:Repository", "name", ECR_REPOSITORY),
    NameField("aws:ec2/securityGroup:SecurityGroup", "name", SECURITY_GROUP),
)
_BY_TYPE: dict[str, list[NameField]] = defaultdict(list)
for _field in FIXED_NAMES:
    _BY_TYPE[_field.type].append(_field)

SERVICE_LINKED_ROLE = "aws:iam/serviceLinkedRole:ServiceLinkedRole"
# Service-linked roles AWS names itself; one per account (a custom suffix makes another).
SERVICE_LINKED_ROLE_NAMES = {"autoscaling.amazonaws.com": "AWSServiceRoleForAutoScaling"}
# What leaves an account singleton to one of the stacks that share the account.
SINGLETON_REMEDY = {
    "AWSServiceRoleForAutoScaling": (
        "set mlops-platform:createAutoscalingServiceLinkedRole false in all but one of them"
    ),
    **dict.fromkeys(
        image_lock().repositories(),
        "set mlops-platform:createImageRepositories false in all but one of them",
    ),
}
# The platform's image repositories: one per account by design (docs/decisions/0023).
ACCOUNT_REPOSITORIES: frozenset[str] = frozenset(image_lock().repositories())
ECR_REPOSITORY_TYPE = "aws:ecr/repository:Repository"


@dataclass(frozen=True)
class PhysicalName:
    """One name a resource fixes, and the namespace it must be unique in."""

    urn: str
    rule: NameRule
    name: str
    suffix_length: int = 0
    singleton: bool = False  # fixed by AWS: the same in every stack of the account

    @property
    def resource(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def stack(self) -> str:
        return self.urn.removeprefix("urn:pulumi:").split("::", 1)[0]

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule.kind, self.name)


def _service_linked_role(record: Mapping[str, Any]) -> PhysicalName | None:
    inputs = record.get("inputs") or {}
    service = str(inputs.get("awsServiceName") or "")
    if not service:
        return None
    base = SERVICE_LINKED_ROLE_NAMES.get(service, f"AWSServiceRoleFor({service})")
    suffix = inputs.get("customSuffix")
    name = f"{base}_{suffix}" if suffix else base
    return PhysicalName(record["urn"], IAM_SERVICE_LINKED_ROLE, name, singleton=True)


def physical_names(resources: Iterable[Mapping[str, Any]]) -> list[PhysicalName]:
    """Every name the planned resources fix (inputs the program sets, by FIXED_NAMES)."""
    found: list[PhysicalName] = []
    for record in resources:
        if record.get("type") == SERVICE_LINKED_ROLE:
            role = _service_linked_role(record)
            if role is not None:
                found.append(role)
            continue
        inputs = record.get("inputs") or {}
        for name_field in _BY_TYPE.get(str(record.get("type")), ()):
            value = inputs.get(name_field.input)
            if isinstance(value, str) and value:
                singleton = record.get("type") == ECR_REPOSITORY_TYPE and (
                    value in ACCOUNT_REPOSITORIES
                )
                found.append(
                    PhysicalName(
                        record["urn"],
                        name_field.rule,
                        value,
                        name_field.suffix_length,
                        singleton=singleton,
                    )
                )
    return found


def cluster_digest(cluster_name: str) -> str:
    """What a name shortened to fit keeps of the cluster name (components/aws/artifact_store.py)."""
    return hashlib.sha256(cluster_name.encode()).hexdigest()[:DIGEST_LENGTH]


def _contains_word(name: str, word: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])", name) is not None


def derives_from(name: str, cluster_name: str) -> bool:
    """The cluster name (or its digest, where a name was shortened) is a whole word of it."""
    return _contains_word(name, cluster_name) or _contains_word(name, cluster_digest(cluster_name))


def check_names(resources: Sequence[Mapping[str, Any]], cluster_name: str) -> CheckResult:
    """One stack (or an environment's two): valid, derived from the cluster name, distinct."""
    names = physical_names(resources)
    findings: list[Finding] = []
    for n in names:
        problem = n.rule.problem(n.name, suffix_length=n.suffix_length)
        if problem:
            findings.append(Finding(NAME, n.resource, f"{n.rule.kind} name {n.name!r} {problem}."))
        fixed = not n.suffix_length and not n.singleton
        if fixed and n.rule.scope in SHARED_SCOPES and not derives_from(n.name, cluster_name):
            findings.append(
                Finding(
                    NAME,
                    n.resource,
                    f"{n.rule.kind} name {n.name!r} does not derive from the cluster name "
                    f"{cluster_name!r}: every stack built from this code fixes the same name, "
                    "so a second stack in the account and region collides with the first.",
                )
            )
    by_key: dict[tuple[str, str], list[PhysicalName]] = defaultdict(list)
    for n in names:
        if not n.suffix_length:
            by_key[n.key].append(n)
    for (kind, name), holders in sorted(by_key.items()):
        if len(holders) > 1:
            findings.append(
                Finding(
                    NAME,
                    holders[1].resource,
                    f"{kind} name {name!r} is fixed by {len(holders)} resources: "
                    + ", ".join(h.resource for h in holders)
                    + ".",
                )
            )
    return CheckResult(
        name=NAME,
        mandatory=True,
        evaluated=len(names),
        findings=findings,
        details={
            "cluster_name": cluster_name,
            "names": sorted(f"{n.rule.kind}: {n.name}" for n in names),
        },
    )


def check_names_across(stacks: Mapping[str, Sequence[Mapping[str, Any]]]) -> CheckResult:
    """Stacks planned for one account and region: no shared-namespace name in two of them.

    `stacks` maps a label (the environment) to its plan's resources. Names inside a
    stack's own cluster or VPC cannot meet another stack's and are left out.
    """
    holders: dict[tuple[str, str], dict[str, PhysicalName]] = defaultdict(dict)
    evaluated = 0
    for label, resources in stacks.items():
        for n in physical_names(resources):
            if n.suffix_length or n.rule.scope not in SHARED_SCOPES:
                continue
            evaluated += 1
            holders[n.key].setdefault(label, n)
    findings: list[Finding] = []
    for (kind, name), by_stack in sorted(holders.items()):
        if len(by_stack) < 2:
            continue
        labels = sorted(by_stack)
        first = by_stack[labels[0]]
        if first.singleton:
            remedy = SINGLETON_REMEDY.get(name, "create it in one of them only")
            message = (
                f"{kind} {name!r} is created by {', '.join(labels)}: an account has one, so "
                f"the second create fails; {remedy}."
            )
        else:
            message = (
                f"{kind} name {name!r} is fixed by {', '.join(labels)} "
                f"({', '.join(by_stack[s].resource for s in labels)}): the second stack "
                "collides with the first."
            )
        findings.append(Finding(ACROSS, first.resource, message))
    return CheckResult(
        name=ACROSS,
        mandatory=True,
        evaluated=evaluated,
        findings=findings,
        details={"stacks": sorted(stacks)},
    )
