"""Stack settings: frozen pydantic models, validated before any resource exists.

Field names are snake_case in Python and camelCase in Pulumi config (aliases),
so a validation error names the key the user wrote.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from contract import Contract, contract, load_contract
from stacks.catalog import (
    DEFAULT_KUBERNETES_VERSION,
    EC2_INSTANCE_TYPES,
    LOG_RETENTION_DAYS,
    MAX_REGION_LENGTH,
    PERFORMANCE_INSIGHTS_UNSUPPORTED,
    RDS_ENGINE_VERSIONS,
    RDS_INSTANCE_CLASSES,
    SUPPORTED_KUBERNETES_VERSIONS,
    AmiType,
    CapacityType,
    DatabaseEngine,
    TaintEffect,
    architecture,
    gpu_count,
)

Environment = Literal["dev", "staging", "prod"]
WORLD = {ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")}

# What prefixes the stack's AWS names (`<cluster>-<database>` RDS identifiers, the
# bucket, log groups, KMS aliases): lower-case words joined by single hyphens, since
# RDS identifiers refuse upper case, `--` and a trailing hyphen.
NAME_WORDS = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# The cluster name prefixes `<cluster>-<database>`, which RDS caps at 63 characters:
# 46 for the cluster (`mlops-platform-` and a 31-character stack) and 16 for a database.
MAX_CLUSTER_NAME = 46
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
MAX_DATABASE_NAME = 16
# pulumi-eks names a node group `<group>-` plus a 26-character unique suffix; EKS caps
# node group names at 63.
MAX_NODE_GROUP_NAME = 36


class Model(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        validate_default=True,
    )


class RuleViolationError(ValueError):
    """A rule spanning several fields, naming the config key and value it blames."""

    def __init__(self, key: str, value: object, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.value = value


def _check_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"must be one of CloudWatch's retention periods {LOG_RETENTION_DAYS}")
    return value


class Taint(Model):
    key: str = Field(min_length=1)
    value: str = ""
    effect: TaintEffect


class NodeGroupSpec(Model):
    """One managed node group; the map key in `nodeGroups` is its name."""

    instance_types: tuple[str, ...] = Field(min_length=1)
    capacity_type: CapacityType
    ami_type: AmiType
    min_size: int = Field(ge=0)
    desired_size: int = Field(ge=0)
    max_size: int = Field(ge=1)
    disk_size_gib: int = Field(default=50, ge=20, le=16384)
    labels: dict[str, str] = Field(default_factory=dict)
    taints: tuple[Taint, ...] = ()

    @field_validator("instance_types")
    @classmethod
    def _known_instance_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [t for t in value if t not in EC2_INSTANCE_TYPES]
        if unknown:
            raise ValueError(
                f"unknown instance type(s) {unknown}; known: {sorted(EC2_INSTANCE_TYPES)}"
            )
        if len({architecture(t) for t in value}) > 1:
            raise ValueError("mixes architectures; one group runs one AMI")
        return value

    @model_validator(mode="after")
    def _sizes_and_ami(self) -> Self:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                f"sizes must satisfy minSize <= desiredSize <= maxSize, got "
                f"{self.min_size} <= {self.desired_size} <= {self.max_size}"
            )
        has_gpu = any(gpu_count(t) for t in self.instance_types)
        if has_gpu != (self.ami_type == "AL2023_x86_64_NVIDIA"):
            raise ValueError(
                "amiType must be AL2023_x86_64_NVIDIA exactly when the instance types have GPUs"
            )
        if (self.ami_type == "AL2023_ARM_64_STANDARD") != (
            architecture(self.instance_types[0]) == "arm64"
        ):
            raise ValueError("amiType architecture does not match the instance types")
        return self

    @property
    def has_gpu(self) -> bool:
        return any(gpu_count(t) for t in self.instance_types)


class NetworkSettings(Model):
    vpc_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.40.0.0/16")
    availability_zones: int = Field(default=3, ge=2, le=3)
    nat_gateways: Literal["single", "per_az"] = "single"
    interface_endpoints: bool = False
    flow_log_retention_days: int = 30

    _retention = field_validator("flow_log_retention_days")(_check_retention)

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr_size(cls, value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if not value.is_private:
            raise ValueError("must be a private (RFC 1918) range")
        if not 16 <= value.prefixlen <= 20:
            raise ValueError("prefix length must be between /16 and /20 to fit 6 subnets")
        return value


IAM_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/.+$")
STS_SESSION = re.compile(r"^arn:aws[a-z-]*:sts::(\d{12}):assumed-role/([^/]+)/.+$")


class AccessEntry(Model):
    """An IAM principal's access: an EKS access policy, platform RBAC groups, or both.

    Never the principal that creates the cluster: EKS gives it an access entry of its
    own with cluster admin (pulumi-eks sets bootstrapClusterCreatorAdminPermissions),
    and a second entry for the same principal fails (docs/aws-layer.md, "Cluster access").
    """

    principal_arn: str
    policy: (
        Literal["AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSViewPolicy"] | None
    ) = None
    # Groups the platform's Roles bind (viewers, ml-engineers) in every tenant namespace.
    kubernetes_groups: tuple[Literal[contract().rbac_groups.all()], ...] = ()  # type: ignore[valid-type]

    @field_validator("principal_arn")
    @classmethod
    def _iam_principal(cls, value: str) -> str:
        session = STS_SESSION.match(value)
        if session:
            account, role = session.groups()
            raise ValueError(
                "is a role session, which EKS does not take: name the role, "
                f"arn:aws:iam::{account}:role/{role} (with its path, if it has one)"
            )
        if not IAM_PRINCIPAL.match(value):
            raise ValueError(
                "must be an IAM role or user ARN, arn:aws:iam::<account>:role/<name> "
                "or arn:aws:iam::<account>:user/<name>"
            )
        return value

    @model_validator(mode="after")
    def _grants_something(self) -> Self:
        if self.policy is None and not self.kubernetes_groups:
            raise ValueError("an access entry needs a policy or kubernetesGroups")
        return self


class ExistingCluster(Model):
    """What the platform layers need from a cluster this program does not create."""

    name: str
    # A path, never the kubeconfig itself: credentials stay out of config and state.
    kubeconfig_path: str = Field(min_length=1)
    vpc_id: str = Field(pattern=r"^vpc-[0-9a-f]{8,17}$")
    vpc_cidr: ipaddress.IPv4Network
    private_subnet_ids: tuple[str, ...] = Field(min_length=2)
    # Security group of the cluster's nodes: the databases admit it.
    node_security_group_id: str = Field(pattern=r"^sg-[0-9a-f]{8,17}$")
    # The address plan the NetworkPolicies name (they cannot resolve subnet ids): the
    # private subnets (nodes, pods, the control plane's ENIs) and the service CIDR
    # (`aws eks describe-cluster --query cluster.kubernetesNetworkConfig.serviceIpv4Cidr`).
    private_subnet_cidrs: tuple[ipaddress.IPv4Network, ...] = Field(min_length=2)
    service_cidr: ipaddress.IPv4Network
    oidc_provider_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/.+$")
    oidc_provider_url: str = Field(pattern=r"^https://.+$")
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION

    @field_validator("name")
    @classmethod
    def _name_prefixes_aws_names(cls, value: str) -> str:
        if not NAME_WORDS.match(value) or len(value) > MAX_CLUSTER_NAME:
            raise ValueError(
                "must be lower-case letters and digits in words joined by single hyphens, "
                f"at most {MAX_CLUSTER_NAME} characters: it prefixes the stack's RDS "
                "identifiers (<name>-<database>, at most 63), bucket and log groups"
            )
        return value

    @field_validator("private_subnet_ids")
    @classmethod
    def _subnet_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [s for s in value if not s.startswith("subnet-")]
        if bad:
            raise ValueError(f"not subnet ids: {bad}")
        return value


class ClusterSettings(Model):
    mode: Literal["managed", "existing"] = "managed"
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    # Public endpoint reachable only from these CIDRs; empty means private only.
    public_access_cidrs: tuple[IPvAnyNetwork, ...] = ()
    log_retention_days: int = 90
    access_entries: tuple[AccessEntry, ...] = ()
    # The block Services' ClusterIPs come from; the `kubernetes` Service is its first
    # address, which the NetworkPolicies admit. Unset: what EKS itself would pick
    # (172.20.0.0/16, or 10.100.0.0/16 for a VPC inside 172.16.0.0/12), set explicitly on
    # the cluster all the same. It cannot change once the cluster exists.
    service_cidr: ipaddress.IPv4Network | None = None
    # The EKS upgrade policy (docs/decisions/0018-one-version-set.md): past the end of
    # standard support, STANDARD has AWS upgrade the control plane, EXTENDED keeps the
    # version and bills extended support. Set explicitly: EKS's own default is EXTENDED.
    upgrade_support: Literal["STANDARD", "EXTENDED"] = "STANDARD"
    # cluster.mode=existing: the cluster to deploy the platform layers onto.
    existing: ExistingCluster | None = None

    _retention = field_validator("log_retention_days")(_check_retention)

    @field_validator("kubernetes_version")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value not in SUPPORTED_KUBERNETES_VERSIONS:
            raise ValueError(f"must be one of {SUPPORTED_KUBERNETES_VERSIONS}")
        return value

    @field_validator("service_cidr")
    @classmethod
    def _service_range(cls, value: ipaddress.IPv4Network | None) -> ipaddress.IPv4Network | None:
        if value is not None and not value.is_private:
            raise ValueError("must be a private (RFC 1918) range")
        if value is not None and not 12 <= value.prefixlen <= 24:
            raise ValueError("prefix length must be between /12 and /24 (EKS's bounds)")
        return value

    @model_validator(mode="after")
    def _entries_distinct(self) -> Self:
        # EKS keeps one access entry per principal: a second one fails CreateAccessEntry.
        first: dict[str, int] = {}
        for i, entry in enumerate(self.access_entries):
            if entry.principal_arn in first:
                raise RuleViolationError(
                    f"clusterAccessEntries.{i}.principalArn",
                    entry.principal_arn,
                    f"duplicates clusterAccessEntries.{first[entry.principal_arn]}: EKS keeps "
                    "one access entry per principal; give one entry the policy and the groups",
                )
            first[entry.principal_arn] = i
        return self

    @model_validator(mode="after")
    def _mode(self) -> Self:
        if self.mode == "existing" and self.existing is None:
            raise ValueError("clusterMode 'existing' needs existingCluster")
        if self.mode == "managed" and self.existing is not None:
            raise ValueError("existingCluster is only read with clusterMode 'existing'")
        return self

    @property
    def minor_version(self) -> str:
        """The Kubernetes minor the manifests are validated against."""
        return self.existing.kubernetes_version if self.existing else self.kubernetes_version


class DatabaseSpec(Model):
    """One RDS instance; the map key in `databases` is its name."""

    engine: DatabaseEngine
    engine_version: str
    instance_class: str = "db.t4g.medium"
    db_name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    allocated_storage_gib: int = Field(default=20, ge=20, le=65536)
    max_allocated_storage_gib: int = Field(default=100, ge=20, le=65536)
    multi_az: bool = False
    backup_retention_days: int = Field(default=7, ge=7, le=35)
    deletion_protection: bool = False

    @field_validator("engine_version")
    @classmethod
    def _major_version(cls, value: str, info: ValidationInfo) -> str:
        engine = info.data.get("engine")
        allowed = RDS_ENGINE_VERSIONS.get(engine or "", ())
        if engine and value not in allowed:
            raise ValueError(
                f"must be a major version of {engine}, one of {', '.join(allowed)}: RDS "
                "upgrades the minor itself (autoMinorVersionUpgrade), and a full version "
                "such as 17.6 would make the next `pulumi up` plan a downgrade"
            )
        return value

    @field_validator("instance_class")
    @classmethod
    def _known_class(cls, value: str) -> str:
        if value not in RDS_INSTANCE_CLASSES:
            raise ValueError(f"must be one of {RDS_INSTANCE_CLASSES}")
        return value

    @model_validator(mode="after")
    def _storage(self) -> Self:
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            raise ValueError("maxAllocatedStorageGib must be >= allocatedStorageGib")
        return self

    @property
    def performance_insights(self) -> bool:
        return self.instance_class not in PERFORMANCE_INSIGHTS_UNSUPPORTED


class ArtifactStoreSettings(Model):
    force_destroy: bool = False
    noncurrent_version_expiration_days: int = Field(default=30, ge=1)
    abort_incomplete_multipart_days: int = Field(default=7, ge=1)


class DnsSettings(Model):
    # The public zone of `domain`: ACME's DNS-01 challenges (TXT records) only.
    hosted_zone_id: str | None = Field(default=None, pattern=r"^Z[A-Z0-9]{1,32}$")
    # A private zone for `domain`, associated with the VPC: external-dns publishes the
    # internal load balancer there, never its private addresses in the public zone.
    private_hosted_zone_id: str | None = Field(default=None, pattern=r"^Z[A-Z0-9]{1,32}$")
    domain: str | None = Field(default=None, pattern=r"^([a-z0-9-]+\.)+[a-z]{2,}$")
    acme_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")

    @model_validator(mode="after")
    def _zone_with_domain(self) -> Self:
        if bool(self.hosted_zone_id) != bool(self.domain):
            raise ValueError("hostedZoneId and domain are set together or not at all")
        if self.private_hosted_zone_id and not self.domain:
            raise ValueError("privateHostedZoneId needs domain (and its public hostedZoneId)")
        if self.private_hosted_zone_id and self.private_hosted_zone_id == self.hosted_zone_id:
            raise ValueError("privateHostedZoneId must be a private zone, not hostedZoneId")
        return self


# A service and a service it cannot run without (the settings refuse the one without the other).
SERVICE_NEEDS: Final[tuple[tuple[str, str], ...]] = (
    # The gateway's LoadBalancer Service is an NLB only this controller creates.
    ("istio", "aws_load_balancer_controller"),
    # Grafana's admin credentials and the alert receiver come through External Secrets.
    ("monitoring", "external_secrets"),
    # net-istio is Knative's ingress: the platform's Istio gateway serves it.
    ("knative", "istio"),
    # KServe's webhooks take their certificate from cert-manager.
    ("kserve", "cert_manager"),
    # The metadata database's credentials come through External Secrets.
    ("kubeflow_pipelines", "external_secrets"),
    # The database's, the auth app's and the clients' credentials.
    ("mlflow", "external_secrets"),
    # The admin's password, the server's key and Redis's password.
    ("argocd", "external_secrets"),
)


class ServiceSwitches(Model):
    """Platform services a stack runs; switching one off is a config change."""

    istio: bool = True
    aws_load_balancer_controller: bool = True
    cert_manager: bool = True
    external_dns: bool = False
    monitoring: bool = True
    external_secrets: bool = True
    nvidia_device_plugin: bool = True
    cluster_autoscaler: bool = True
    mlflow: bool = True
    kubeflow_pipelines: bool = True
    kserve: bool = True
    argocd: bool = True
    knative: bool = True  # Knative Serving (operator): KServe's Serverless mode
    keda: bool = True  # KEDA: models that scale on Prometheus metrics


class PlatformSettings(Model):
    """Tunables of the platform services (layer 2); the switches live in `services`."""

    # kube-prometheus-stack: how long and how much Prometheus keeps.
    prometheus_retention: str = Field(default="10d", pattern=r"^[1-9][0-9]{0,3}[hdwy]$")
    prometheus_storage_gib: int = Field(default=20, ge=5, le=16384)
    # Secrets Manager secret `<cluster>/<name>` holding the Alertmanager receiver's
    # webhook URL; ExternalSecrets copies it into the monitoring namespace.
    alert_receiver_secret: str = Field(
        default="alertmanager-receiver", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
    )
    # NVIDIA device plugin time-slicing: replicas per physical GPU (1 = no sharing).
    gpu_time_slicing_replicas: int = Field(default=1, ge=1, le=48)
    # cluster-autoscaler.
    autoscaler_expander: Literal["least-waste", "random", "most-pods", "priority", "price"] = (
        "least-waste"
    )
    autoscaler_scale_down_unneeded_minutes: int = Field(default=10, ge=1, le=1440)
    autoscaler_scale_down_utilization_percent: int = Field(default=50, ge=1, le=100)
    autoscaler_balance_similar_node_groups: bool = True
    # Knative Serving's control plane: replicas of each component (2+: high availability).
    knative_replicas: int = Field(default=1, ge=1, le=5)
    # How long an idle revision keeps its last pod before scaling to zero.
    knative_scale_to_zero_grace_period: str = Field(
        default="30s", pattern=r"^([6-9]|[1-9][0-9]{1,3})s$"
    )
    # KServe's default deployment mode: Knative (Serverless, scale to zero, canaries) or
    # Standard (a Deployment and an HPA; a model may also ask for it by annotation).
    kserve_deployment_mode: Literal["Knative", "Standard"] = "Knative"
    # MLflow tracking server: the HorizontalPodAutoscaler's range (the budget keeps one).
    mlflow_min_replicas: int = Field(default=2, ge=1, le=20)
    mlflow_max_replicas: int = Field(default=4, ge=1, le=50)
    # Argo CD: the one repository it may sync (this one) and the revision of workloads/<env>/.
    # The default is a documentation address (example.com): each stack file names the real one.
    git_repository_url: str = Field(
        default="https://git.example.com/mlops-platform/mlops-platform.git",
        pattern=r"^https://[A-Za-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9._/~-]+$",
    )
    git_target_revision: str = Field(default="main", pattern=r"^[A-Za-z0-9._/-]{1,100}$")

    @model_validator(mode="after")
    def _mlflow_replicas(self) -> Self:
        if self.mlflow_min_replicas > self.mlflow_max_replicas:
            raise RuleViolationError(
                "mlflowMinReplicas",
                self.mlflow_min_replicas,
                f"must be <= mlflowMaxReplicas ({self.mlflow_max_replicas})",
            )
        return self


class StackSettings(Model):
    project: str = "mlops-platform"
    stack: str
    environment: Environment
    region: str
    tags: dict[str, str] = Field(default_factory=dict)
    network: NetworkSettings = NetworkSettings()
    cluster: ClusterSettings = ClusterSettings()
    node_groups: dict[str, NodeGroupSpec]
    databases: dict[str, DatabaseSpec]
    artifact_store: ArtifactStoreSettings = ArtifactStoreSettings()
    dns: DnsSettings = DnsSettings()
    services: ServiceSwitches = ServiceSwitches()
    gpu_quota: int = Field(default=4, ge=0, le=256)
    platform: PlatformSettings = PlatformSettings()
    # AWSServiceRoleForAutoScaling, which the data key's policy names: created by this
    # stack unless set false (the account has it already: a second create fails with
    # "has been taken in this account"). Unset: created where this stack creates the
    # node groups (docs/decisions/0032-aws-names-order-teardown.md).
    create_autoscaling_service_linked_role: bool | None = None
    # The ECR repositories of the platform's images (images/lock.json) are account-wide:
    # one stack per account creates them; the others set this false
    # (docs/decisions/0023-image-lock.md).
    create_image_repositories: bool = True

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        # Bounded, so the artifact bucket's name (which holds the region) always fits.
        if not REGION.match(value) or len(value) > MAX_REGION_LENGTH:
            raise ValueError(
                f"must be an AWS region code such as eu-west-1, at most {MAX_REGION_LENGTH} "
                "characters"
            )
        return value

    @field_validator("stack")
    @classmethod
    def _stack_name(cls, value: str) -> str:
        # The cluster is `<project>-<stack>` and prefixes every AWS name of the stack.
        if not NAME_WORDS.match(value) or not 2 <= len(value) <= 31:
            raise ValueError(
                "must be 2 to 31 lower-case letters and digits in words joined by single "
                "hyphens: the stack names its cluster, RDS identifiers and bucket"
            )
        return value

    @field_validator("node_groups")
    @classmethod
    def _groups(cls, value: dict[str, NodeGroupSpec]) -> dict[str, NodeGroupSpec]:
        contract = load_contract()
        for name in value:
            if not NAME_WORDS.match(name) or len(name) > MAX_NODE_GROUP_NAME:
                raise ValueError(
                    f"group name {name!r} must be lower-case letters and digits in words "
                    f"joined by single hyphens, at most {MAX_NODE_GROUP_NAME} characters "
                    "(EKS names the group <name>-<26-character suffix>, at most 63)"
                )
        general = contract.pools["general"]
        if general not in value:
            raise ValueError(f"a '{general}' group is required: every platform pod runs on it")
        if value[general].min_size < 1:
            raise ValueError(f"the '{general}' group needs minSize >= 1")
        for name, spec in value.items():
            if spec.has_gpu and not any(_is_gpu_taint(t, contract) for t in spec.taints):
                raise RuleViolationError(
                    f"nodeGroups.{name}.taints",
                    [t.model_dump(by_alias=True) for t in spec.taints],
                    "a GPU group must carry the taint "
                    f"{contract.gpu.taint_key}={contract.gpu.taint_value}:"
                    f"{contract.gpu.taint_effect_eks}",
                )
        return value

    @field_validator("databases")
    @classmethod
    def _databases(cls, value: dict[str, DatabaseSpec]) -> dict[str, DatabaseSpec]:
        for name in value:
            # `<cluster>-<name>` is the RDS identifier; a hyphen in <name> could make it
            # equal to another stack's (`a` + `b-c` against `a-b` + `c`).
            if not re.fullmatch(rf"[a-z][a-z0-9]{{0,{MAX_DATABASE_NAME - 1}}}", name):
                raise ValueError(
                    f"database name {name!r} must be 1 to {MAX_DATABASE_NAME} lower-case "
                    "letters and digits, starting with a letter: it ends the RDS identifier "
                    "<cluster>-<name>"
                )
        required = {"mlflow": "postgres", "pipelines": "mysql"}
        for name, engine in required.items():
            if name not in value:
                raise ValueError(f"database {name!r} is required")
            if value[name].engine != engine:
                raise ValueError(f"database {name!r} must use engine {engine!r}")
        return value

    @model_validator(mode="after")
    def _environment_rules(self) -> Self:
        cidrs = [str(c) for c in self.cluster.public_access_cidrs]
        if WORLD & set(self.cluster.public_access_cidrs):
            raise RuleViolationError(
                "clusterPublicAccessCidrs",
                cidrs,
                "must not contain 0.0.0.0/0 or ::/0; list the CIDRs that need the API "
                "or leave it empty for a private endpoint",
            )
        if self.cluster.service_cidr is not None and self.cluster.service_cidr.overlaps(
            self.network.vpc_cidr
        ):
            raise RuleViolationError(
                "clusterServiceCidr",
                str(self.cluster.service_cidr),
                f"must not overlap vpcCidr {self.network.vpc_cidr}",
            )
        if self.environment != "prod":
            return self
        for name, db in self.databases.items():
            if not (db.multi_az and db.deletion_protection):
                raise RuleViolationError(
                    f"databases.{name}",
                    {"multiAz": db.multi_az, "deletionProtection": db.deletion_protection},
                    "prod needs multiAz: true and deletionProtection: true",
                )
        if self.network.nat_gateways != "per_az":
            raise RuleViolationError(
                "natGateways", self.network.nat_gateways, "prod needs 'per_az' (one per AZ)"
            )
        if self.artifact_store.force_destroy:
            raise RuleViolationError(
                "artifactForceDestroy", True, "prod must not force-destroy the bucket"
            )
        return self

    @model_validator(mode="after")
    def _service_prerequisites(self) -> Self:
        """A service switched on without what it needs stops here, naming both settings."""
        services = self.services
        if services.external_dns and not self.dns.private_hosted_zone_id:
            raise RuleViolationError(
                "services.externalDns",
                True,
                "needs privateHostedZoneId (records of the internal load balancer stay private)",
            )
        for service, needed in SERVICE_NEEDS:
            if getattr(services, service) and not getattr(services, needed):
                raise RuleViolationError(
                    f"services.{to_camel(service)}",
                    True,
                    f"needs services.{to_camel(needed)} = True",
                )
        if (
            services.kserve
            and self.platform.kserve_deployment_mode == "Knative"
            and not services.knative
        ):
            raise RuleViolationError(
                "services.kserve",
                True,
                "in platform.kserveDeploymentMode 'Knative' needs services.knative = True "
                "(or kserveDeploymentMode 'Standard')",
            )
        if services.nvidia_device_plugin and not any(
            spec.has_gpu for spec in self.node_groups.values()
        ):
            raise RuleViolationError(
                "services.nvidiaDevicePlugin", True, "needs a GPU group in nodeGroups"
            )
        return self

    @property
    def contract(self) -> Contract:
        return load_contract()

    @property
    def protect(self) -> bool:
        """Stateful resources carry `protect` and deletion protection in prod."""
        return self.environment == "prod"

    @property
    def service_cidr(self) -> ipaddress.IPv4Network:
        """The cluster's service CIDR: set, or the one EKS would pick for the VPC."""
        existing = self.cluster.existing
        if existing is not None:
            return existing.service_cidr
        if self.cluster.service_cidr is not None:
            return self.cluster.service_cidr
        # EKS's own choice: 172.20.0.0/16 for a VPC in 10.0.0.0/8, else 10.100.0.0/16.
        in_ten = self.network.vpc_cidr.subnet_of(ipaddress.IPv4Network("10.0.0.0/8"))
        return ipaddress.IPv4Network("172.20.0.0/16" if in_ten else "10.100.0.0/16")

    @property
    def cluster_name(self) -> str:
        return f"{self.project}-{self.stack}"

    @property
    def keeps_data(self) -> bool:
        """`pulumi destroy` keeps the data exactly when it does not empty the bucket:
        the bucket is retained, the databases leave final snapshots, and the keys that
        encrypt them outlive the stack (docs/decisions/0032-aws-names-order-teardown.md)."""
        return not self.artifact_store.force_destroy

    @property
    def creates_autoscaling_service_linked_role(self) -> bool:
        if self.create_autoscaling_service_linked_role is not None:
            return self.create_autoscaling_service_linked_role
        return self.cluster.mode == "managed"

    def resource_tags(self) -> dict[str, str]:
        """Tags every taggable resource carries; the platform's own keys cannot be overridden."""
        return {
            **self.tags,
            "project": self.project,
            "environment": self.environment,
            "stack": self.stack,
            "managed-by": "pulumi",
        }


def _is_gpu_taint(taint: Taint, contract: Contract) -> bool:
    return (
        taint.key == contract.gpu.taint_key
        and taint.value == contract.gpu.taint_value
        and taint.effect == contract.gpu.taint_effect_eks
    )
