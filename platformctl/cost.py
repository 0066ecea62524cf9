"""Monthly cost of a plan from the dated price table (platformctl/prices.py): every billable
thing the stacks create, idle and at max, and the floor it is measured against.

What is priced is decided by one table, `CLASSIFICATION`: every resource type of the
plans and every Kubernetes kind of the planned objects is either `Priced` (by the
function beside it) or `Free` (with the reason). A type in neither is a finding of
the mandatory `cost-complete` check, and so is anything that should be priced but
cannot be (an unknown region, instance type, database class, storage class, log
group kind): never a silent zero.

"idle" counts autoscaled node groups at their minimum, "max" at their maximum.
Usage-priced items that no plan can know (data transfer and processing, requests,
NLCUs, S3 storage) are named in each line's basis and in `usage_priced`; log
ingestion and ECR storage are priced at the stated assumptions of `LOG_INGESTION_GB_PER_DAY`
and `ECR_IMAGE_GB` (docs/cost.md).

The floor (`floor`): the EKS control plane at the standard rate, the fewest general
nodes that hold the platform's own pod requests (the capacity check's packing), one NAT
gateway with its address, each database engine at its smallest class, and one load
balancer. The report sets the idle total against it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from contract import contract
from platformctl.checks import CheckResult, Finding, PlannedObject
from platformctl.checks.pods import QuantityError, mebibytes
from platformctl.prices import (
    CURRENCY,
    DAYS_PER_MONTH,
    HOURS_PER_MONTH,
    PRICE_TABLE_DATE,
    PriceError,
    RegionPrices,
    monthly,
    prices_for,
)
from stacks.catalog import EKS_STANDARD_SUPPORT_ENDS, RDS_INSTANCE_CLASSES

CHECK: Final = "cost-complete"
FLOOR_TARGET: Final = 1.15  # issue 13: dev idle <= 1.15 x the floor

# A version's extended support lasts the 12 months after its standard support
# (docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html).
EKS_EXTENDED_SUPPORT_MONTHS: Final = 12
# EKS gives a managed node group without a launch template 20 GiB root volumes.
DEFAULT_NODE_DISK_GIB: Final = 20.0
# The smallest storage RDS allocates for gp3 (and gp2).
RDS_MIN_STORAGE_GIB: Final = 20.0
# Performance Insights keeps 7 days free; longer retention is priced per vCPU.
PI_FREE_DAYS: Final = 7

# Log ingestion assumptions, GB per day, per kind of log group (name pattern -> figure,
# reason). Not measured: there is no cluster here. The control plane's figure is
# reasoned from the audit log's steady traffic: some 15 controllers renewing a
# leader-election lease every 2 s is ~650,000 audit events a day at ~1.5 KB each,
# about 1 GB a day with api, authenticator, controllerManager and scheduler on top of
# an idle cluster; flow logs of an idle 3-AZ VPC with ALL traffic at 60 s aggregation
# are a fraction of that; idle databases log almost nothing.
LOG_INGESTION_GB_PER_DAY: Final[tuple[tuple[str, float, str], ...]] = (
    ("/aws/eks/", 1.0, "EKS control plane, all five log types, idle cluster"),
    ("/aws/vpc/", 0.2, "VPC flow logs, ALL traffic, idle VPC"),
    ("/aws/rds/", 0.01, "one RDS log export of an idle database"),
)
# ECR: compressed size of one image of ours (the MLflow server and the pipeline runtime
# are Debian + Python + their pinned wheels: 0.3-0.6 GB compressed); storage at the
# lifecycle policy's cap of tagged images (steady state after as many CI pushes).
ECR_IMAGE_GB: Final = 0.5

USAGE_PRICED: Final = (
    "data transfer, NAT and endpoint data processing ($/GB), NLCUs, S3 storage and "
    "requests, KMS and Secrets Manager API calls, CloudWatch Logs queries"
)


@dataclass(frozen=True)
class CostLine:
    ref: str  # the resource URN, or the planned object's <namespace>/<Kind>/<name>
    type: str
    name: str
    idle: float
    max: float
    basis: str

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.ref,
            "type": self.type,
            "name": self.name,
            "monthly_usd_idle": round(self.idle, 2),
            "monthly_usd_max": round(self.max, 2),
            "basis": self.basis,
        }


@dataclass(frozen=True)
class Context:
    """What pricing one thing may read besides the thing itself."""

    prices: RegionPrices
    on: date  # the price table's date: which support window applies
    resources: Mapping[str, Mapping[str, Any]]  # URN -> record
    objects: Sequence[PlannedObject]

    def record(self, urn: str) -> Mapping[str, Any]:
        return self.resources.get(urn, {})


Pricer = Callable[[Context, str, str, str, Mapping[str, Any]], list[CostLine]]


@dataclass(frozen=True)
class Priced:
    what: str
    price: Pricer


@dataclass(frozen=True)
class Free:
    reason: str


def _flat(ref: str, typ: str, name: str, usd: float, basis: str) -> list[CostLine]:
    return [CostLine(ref, typ, name, usd, usd, basis)]


# --- AWS resources ------------------------------------------------------------------------


def support_rate(version: str, on: date) -> tuple[str, str]:
    """('standard' | 'extended', why) for an EKS version on a date: the catalog's end of
    standard support, then `EKS_EXTENDED_SUPPORT_MONTHS` of extended support."""
    end = EKS_STANDARD_SUPPORT_ENDS.get(version)
    if end is None:
        raise PriceError(
            f"EKS version '{version}' has no end of standard support in stacks.catalog "
            f"EKS_STANDARD_SUPPORT_ENDS (known: {', '.join(sorted(EKS_STANDARD_SUPPORT_ENDS))})"
        )
    standard_end = date.fromisoformat(end)
    months = standard_end.month - 1 + EKS_EXTENDED_SUPPORT_MONTHS
    extended_end = standard_end.replace(
        year=standard_end.year + months // 12, month=months % 12 + 1
    )
    if on <= standard_end:
        return "standard", f"standard support until {standard_end}"
    if on <= extended_end:
        return "extended", f"in extended support since {standard_end}"
    raise PriceError(
        f"EKS version '{version}' left extended support on {extended_end}: AWS upgrades it"
    )


def _eks_cluster(
    ctx: Context, ref: str, typ: str, name: str, i: Mapping[str, Any]
) -> list[CostLine]:
    version = str(i.get("version") or "")
    rate, why = support_rate(version, ctx.on)
    if rate == "extended" and (i.get("upgradePolicy") or {}).get("supportType") == "STANDARD":
        rate, why = "standard", f"{why}, but the upgrade policy STANDARD has AWS upgrade it"
    price = ctx.prices.item(f"eks.cluster.{rate}")
    return _flat(
        ref, typ, name, monthly(price), f"EKS {version} control plane, ${price.usd}/h ({why})"
    )


def _disk_gib(ctx: Context, record: Mapping[str, Any], inputs: Mapping[str, Any]) -> float:
    templates = (record.get("property_dependencies") or {}).get("launchTemplate") or []
    sizes = [
        float((m.get("ebs") or {}).get("volumeSize", 0))
        for urn in templates
        for m in (ctx.record(urn).get("inputs") or {}).get("blockDeviceMappings") or []
    ]
    if templates:
        return sum(sizes)
    return float(inputs.get("diskSize") or DEFAULT_NODE_DISK_GIB)


def _node_group(
    ctx: Context, ref: str, typ: str, name: str, i: Mapping[str, Any]
) -> list[CostLine]:
    types = list(i.get("instanceTypes") or [])
    if not types:
        raise PriceError(f"node group {name}: no instanceTypes to price")
    spot = i.get("capacityType") == "SPOT"
    scaling = i.get("scalingConfig") or {}
    low, high = int(scaling.get("minSize", 0)), int(scaling.get("maxSize", 0))
    # A group may list several types; the autoscaler may pick any: the first is priced.
    node = ctx.prices.instance(types[0], spot=spot)
    gib = _disk_gib(ctx, ctx.record(ref), i)
    disk = ctx.prices.item("ebs.gp3")
    per_node = monthly(node) + monthly(disk, gib)
    basis = (
        f"{types[0]} {'spot' if spot else 'on-demand'} ${node.usd}/h + {gib:.0f} GiB gp3 root, "
        f"x {low}..{high} nodes"
    )
    return [CostLine(ref, typ, name, per_node * low, per_node * high, basis)]


def _nat(ctx: Context, ref: str, typ: str, name: str, _i: Mapping[str, Any]) -> list[CostLine]:
    price = ctx.prices.item("vpc.nat_gateway")
    data = ctx.prices.item("vpc.nat_gateway.data")
    return _flat(ref, typ, name, monthly(price), f"NAT gateway ${price.usd}/h; data ${data.usd}/GB")


def _eip(ctx: Context, ref: str, typ: str, name: str, _i: Mapping[str, Any]) -> list[CostLine]:
    price = ctx.prices.item("vpc.public_ipv4")
    return _flat(ref, typ, name, monthly(price), f"public IPv4 address ${price.usd}/h")


def _endpoint(ctx: Context, ref: str, typ: str, name: str, i: Mapping[str, Any]) -> list[CostLine]:
    kind = i.get("vpcEndpointType") or "Gateway"
    if kind == "Gateway":
        return _flat(ref, typ, name, 0.0, "gateway endpoint (S3/DynamoDB): no charge")
    if kind != "Interface":
        raise PriceError(f"VPC endpoint {name}: type '{kind}' is not priced (Interface, Gateway)")
    azs = len(i.get("subnetIds") or [])
    price = ctx.prices.item("vpc.interface_endpoint")
    data = ctx.prices.item("vpc.interface_endpoint.data")
    return _flat(
        ref,
        typ,
        name,
        monthly(price, azs),
        f"interface endpoint ${price.usd} per AZ-hour x {azs} AZ; data ${data.usd}/GB",
    )


def _kms(ctx: Context, ref: str, typ: str, name: str, i: Mapping[str, Any]) -> list[CostLine]:
    price = ctx.prices.item("kms.key")
    rotation = (
        "; +$1/month at each of the first two yearly rotations"
        if i.get("enableKeyRotation")
        else ""
    )
    return _flat(ref, typ, name, price.usd, f"customer-managed key ${price.usd}/month{rotation}")


def _secret(ctx: Context, ref: str, typ: str, name: str, _i: Mapping[str, Any]) -> list[CostLine]:
    price = ctx.prices.item("secretsmanager.secret")
    return _flat(ref, typ, name, price.usd, f"secret ${price.usd}/month")


def _rds(ctx: Context, ref: str, typ: str, name: str, i: Mapping[str, Any]) -> list[CostLine]:
    engine, klass = str(i.get("engine")), str(i.get("instanceClass"))
    multi_az = bool(i.get("multiAz"))
    storage_type = str(i.get("storageType") or "gp3")
    if storage_type not in ("gp3", "gp2"):
        raise PriceError(f"database {name}: storage type '{storage_type}' is not priced (gp3)")
    gib = float(i.get("allocatedStorage") or RDS_MIN_STORAGE_GIB)
    instance = ctx.prices.database(engine, klass)
    storage = ctx.prices.item("rds.gp3.multi_az" if multi_az else "rds.gp3")
    usd = monthly(instance, 2 if multi_az else 1) + monthly(storage, gib)
    parts = [
        f"{engine} {klass}{' Multi-AZ (x2)' if multi_az else ''} ${instance.usd}/h",
        f"{gib:.0f} GiB gp3 ${storage.usd}/GB-month",
    ]
    if i.get("manageMasterUserPassword"):
        secret = ctx.prices.item("secretsmanager.secret")
        usd += secret.usd
        parts.append(f"RDS-managed master secret ${secret.usd}/month")
    if i.get("performanceInsightsEnabled"):
        days = int(i.get("performanceInsightsRetentionPeriod") or PI_FREE_DAYS)
        if days > PI_FREE_DAYS:
            raise PriceError(
                f"database {name}: Performance Insights retention {days} days is not priced "
                f"(the table holds the free {PI_FREE_DAYS}-day tier only)"
            )
        parts.append(f"Performance Insights {days} days: free tier")
    parts.append("backups up to the storage size: free")
    return _flat(ref, typ, name, usd, "; ".join(parts))


def log_ingestion(log_group: str) -> tuple[float, str]:
    """The stated ingestion assumption (GB/day, why) of a log group, by its name."""
    for prefix, gb_per_day, why in LOG_INGESTION_GB_PER_DAY:
        if log_group.startswith(prefix):
            return gb_per_day, why
    kinds = ", ".join(p for p, _, _ in LOG_INGESTION_GB_PER_DAY)
    raise PriceError(
        f"log group '{log_group}' has no ingestion assumption (kinds by name prefix: {kinds})"
    )


def _log_group(ctx: Context, ref: str, typ: str, name: str, i: Mapping[str, Any]) -> list[CostLine]:
    group = str(i.get("name") or name)
    gb_per_day, why = log_ingestion(group)
    retention = int(i.get("retentionInDays") or 0)
    if retention <= 0:
        raise PriceError(f"log group '{group}' keeps its logs forever: its storage has no bound")
    ingest, store = ctx.prices.item("logs.ingestion"), ctx.prices.item("logs.storage")
    stored_gb = gb_per_day * retention  # steady state, uncompressed: an upper bound
    usd = gb_per_day * DAYS_PER_MONTH * ingest.usd + monthly(store, stored_gb)
    basis = (
        f"assumed {gb_per_day} GB/day ({why}) x ${ingest.usd}/GB ingested; "
        f"{stored_gb:.0f} GB kept {retention} days x ${store.usd}/GB-month"
    )
    return _flat(ref, typ, name, usd, basis)


def _bucket(ctx: Context, ref: str, typ: str, name: str, _i: Mapping[str, Any]) -> list[CostLine]:
    price = ctx.prices.item("s3.standard")
    return _flat(
        ref,
        typ,
        name,
        0.0,
        f"usage-priced, listed at 0: ${price.usd}/GB-month of stored artifacts "
        "(100 GB would add $2.30) plus requests; the plan cannot know the volume",
    )


def _kept_images(ctx: Context, repository_urn: str) -> int | None:
    for record in ctx.resources.values():
        if record.get("type") != "aws:ecr/lifecyclePolicy:LifecyclePolicy":
            continue
        if repository_urn not in (record.get("dependencies") or []):
            continue
        policy = (record.get("inputs") or {}).get("policy") or "{}"
        rules = json.loads(policy).get("rules", []) if isinstance(policy, str) else []
        counts = [
            int(r["selection"]["countNumber"])
            for r in rules
            if r.get("selection", {}).get("countType") == "imageCountMoreThan"
        ]
        if counts:
            return max(counts)
    return None


def _ecr(ctx: Context, ref: str, typ: str, name: str, _i: Mapping[str, Any]) -> list[CostLine]:
    kept = _kept_images(ctx, ref)
    if kept is None:
        raise PriceError(
            f"ECR repository {name}: no lifecycle policy caps its images, so its storage "
            "has no bound to price"
        )
    price = ctx.prices.item("ecr.storage")
    gb = kept * ECR_IMAGE_GB
    return _flat(
        ref,
        typ,
        name,
        monthly(price, gb),
        f"{kept} tagged images kept x assumed {ECR_IMAGE_GB} GB x ${price.usd}/GB-month "
        "(shared layers make this an upper bound)",
    )


# --- Kubernetes objects that make AWS create something --------------------------------------

LBC_TYPE_ANNOTATION: Final = "service.beta.kubernetes.io/aws-load-balancer-type"
LBC_SCHEME_ANNOTATION: Final = "service.beta.kubernetes.io/aws-load-balancer-scheme"
LBC_NLB_TYPES: Final = ("external", "nlb-ip")
LBC_NLB_CLASS: Final = "service.k8s.aws/nlb"
AZS: Final = 3  # the VPC spans three AZs (components/aws/network.py): an NLB gets a node per AZ


def is_load_balancer_service(obj: PlannedObject) -> bool:
    return obj.kind == "Service" and (obj.manifest.get("spec") or {}).get("type") == "LoadBalancer"


def load_balancer_kind(obj: PlannedObject) -> str:
    """'nlb' when the AWS Load Balancer Controller owns the Service (its annotation or
    class); anything else is a PriceError: which load balancer it gets depends on the
    cluster (the in-tree controller's Classic LB, or the controller's defaulting webhook)."""
    annotations = obj.metadata.get("annotations") or {}
    spec = obj.manifest.get("spec") or {}
    if annotations.get(LBC_TYPE_ANNOTATION) in LBC_NLB_TYPES:
        return "nlb"
    if spec.get("loadBalancerClass") == LBC_NLB_CLASS:
        return "nlb"
    raise PriceError(
        f"LoadBalancer Service {obj.ref}: neither {LBC_TYPE_ANNOTATION}: external nor "
        f"loadBalancerClass {LBC_NLB_CLASS}, so the load balancer AWS creates for it is "
        "not determined by the plan"
    )


def _service(ctx: Context, obj: PlannedObject) -> list[CostLine]:
    if not is_load_balancer_service(obj):
        return []
    load_balancer_kind(obj)
    annotations = obj.metadata.get("annotations") or {}
    nlb = ctx.prices.item("elb.nlb")
    nlcu = ctx.prices.item("elb.nlcu")
    usd = monthly(nlb)
    basis = f"NLB (AWS Load Balancer Controller) ${nlb.usd}/h; NLCU ${nlcu.usd}/h by traffic"
    if annotations.get(LBC_SCHEME_ANNOTATION) == "internet-facing":
        ipv4 = ctx.prices.item("vpc.public_ipv4")
        usd += monthly(ipv4, AZS)
        basis += f"; internet-facing: {AZS} public IPv4 addresses ${ipv4.usd}/h"
    return [CostLine(obj.ref, "NLB", f"nlb:{obj.namespace}/{obj.name}", usd, usd, basis)]


def storage_classes(objects: Iterable[PlannedObject]) -> tuple[dict[str, str], str | None]:
    """StorageClass name -> EBS volume type, and the default class's name."""
    classes: dict[str, str] = {}
    default = None
    for obj in objects:
        if obj.kind != "StorageClass":
            continue
        if obj.manifest.get("provisioner") == "ebs.csi.aws.com":
            # The EBS CSI driver's default volume type is gp3.
            classes[obj.name] = str((obj.manifest.get("parameters") or {}).get("type", "gp3"))
        else:
            classes[obj.name] = f"provisioner {obj.manifest.get('provisioner')}"
        if (obj.metadata.get("annotations") or {}).get(
            "storageclass.kubernetes.io/is-default-class"
        ) == "true":
            default = obj.name
    return classes, default


def _claim_gib(template: Mapping[str, Any], owner: str) -> float:
    storage = ((template.get("resources") or {}).get("requests") or {}).get("storage")
    if storage is None:
        raise PriceError(f"{owner}: a volume claim without a storage request cannot be priced")
    return mebibytes(storage) / 1024


def _volumes(
    ctx: Context, obj: PlannedObject, claims: list[tuple[Mapping[str, Any], int]]
) -> list[CostLine]:
    classes, default = storage_classes(ctx.objects)
    lines = []
    for spec, count in claims:
        klass = spec.get("storageClassName") or default
        if klass is None:
            raise PriceError(
                f"{obj.ref}: a volume claim names no storage class and none is default"
            )
        volume = classes.get(str(klass))
        if volume != "gp3":
            raise PriceError(
                f"{obj.ref}: storage class '{klass}' ({volume or 'not planned'}) is not priced "
                "(EBS gp3 classes of ebs.csi.aws.com are)"
            )
        gib = _claim_gib(spec, obj.ref)
        price = ctx.prices.item("ebs.gp3")
        usd = monthly(price, gib * count)
        lines.append(
            CostLine(
                obj.ref,
                f"{obj.kind} volume",
                f"pvc:{obj.namespace}/{obj.name}",
                usd,
                usd,
                f"{count} x {gib:g} GiB EBS gp3 ({klass}) ${price.usd}/GB-month",
            )
        )
    return lines


def _pvc(ctx: Context, obj: PlannedObject) -> list[CostLine]:
    return _volumes(ctx, obj, [(obj.manifest.get("spec") or {}, 1)])


def _statefulset(ctx: Context, obj: PlannedObject) -> list[CostLine]:
    spec = obj.manifest.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    templates = [(t.get("spec") or {}, replicas) for t in spec.get("volumeClaimTemplates") or []]
    return _volumes(ctx, obj, templates)


def _operator_storage(ctx: Context, obj: PlannedObject) -> list[CostLine]:
    """Prometheus/Alertmanager: the operator's StatefulSet claims one volume per replica."""
    spec = obj.manifest.get("spec") or {}
    template = ((spec.get("storage") or {}).get("volumeClaimTemplate") or {}).get("spec")
    if not template:
        return []  # emptyDir: no volume
    count = int(spec.get("replicas", 1)) * int(spec.get("shards", 1))
    return _volumes(ctx, obj, [(template, count)])


ObjectPricer = Callable[[Context, PlannedObject], list[CostLine]]


@dataclass(frozen=True)
class PricedObject:
    what: str
    price: ObjectPricer


# --- the one table ---------------------------------------------------------------------------

IAM_FREE: Final = Free("IAM has no charge")
NETWORK_FREE: Final = Free(
    "VPC building block: no charge (NAT, addresses and endpoints are priced)"
)
ETCD_FREE: Final = Free(
    "a Kubernetes object stored in the cluster: the control plane's price covers it"
)
PODS_FREE: Final = Free(
    "its pods run on the node groups, priced there (the floor checks the requests fit)"
)

CLASSIFICATION: Final[dict[str, Priced | PricedObject | Free]] = {
    # EKS
    "eks:index:Cluster": Priced("control plane, standard or extended support", _eks_cluster),
    "aws:eks/cluster:Cluster": Priced("control plane (a real preview's child)", _eks_cluster),
    "eks:index:ManagedNodeGroup": Priced("EC2 nodes and root volumes", _node_group),
    "aws:eks/nodeGroup:NodeGroup": Priced("EC2 nodes and root volumes", _node_group),
    "aws:eks/addon:Addon": Free("EKS add-ons have no charge; their pods run on the nodes"),
    "aws:eks/accessEntry:AccessEntry": Free("EKS access entries have no charge"),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": Free("no charge"),
    "aws:ec2/launchTemplate:LaunchTemplate": Free(
        "no charge; its root volumes are priced on the node group that uses it"
    ),
    # network
    "aws:ec2/natGateway:NatGateway": Priced("NAT gateway hours", _nat),
    "aws:ec2/eip:Eip": Priced("public IPv4 address", _eip),
    "aws:ec2/vpcEndpoint:VpcEndpoint": Priced("interface endpoints per AZ", _endpoint),
    "aws:ec2/vpc:Vpc": NETWORK_FREE,
    "aws:ec2/subnet:Subnet": NETWORK_FREE,
    "aws:ec2/route:Route": NETWORK_FREE,
    "aws:ec2/routeTable:RouteTable": NETWORK_FREE,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": NETWORK_FREE,
    "aws:ec2/internetGateway:InternetGateway": NETWORK_FREE,
    "aws:ec2/securityGroup:SecurityGroup": NETWORK_FREE,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": NETWORK_FREE,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": NETWORK_FREE,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": NETWORK_FREE,
    "aws:ec2/flowLog:FlowLog": Free(
        "no charge itself; its records are priced as ingestion of the log group it writes to"
    ),
    # keys, secrets, logs
    "aws:kms/key:Key": Priced("customer-managed key", _kms),
    "aws:kms/alias:Alias": Free("KMS aliases have no charge"),
    "aws:secretsmanager/secret:Secret": Priced("secret", _secret),
    "aws:secretsmanager/secretVersion:SecretVersion": Free(
        "a version is part of its secret's price"
    ),
    "aws:cloudwatch/logGroup:LogGroup": Priced(
        "ingestion (stated assumption) and storage", _log_group
    ),
    # databases
    "aws:rds/instance:Instance": Priced("instance, storage, managed secret", _rds),
    "aws:rds/parameterGroup:ParameterGroup": Free("RDS parameter groups have no charge"),
    "aws:rds/subnetGroup:SubnetGroup": Free("RDS subnet groups have no charge"),
    # storage
    "aws:s3/bucket:Bucket": Priced("usage-priced storage, listed at 0 with its rate", _bucket),
    "aws:s3/bucketV2:BucketV2": Priced("usage-priced storage, listed at 0 with its rate", _bucket),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": Free("bucket setting"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": Free("bucket setting"),
    "aws:s3/bucketPolicy:BucketPolicy": Free("bucket setting"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": Free("bucket setting"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": Free(
        "bucket setting (SSE-KMS requests are priced on the key's usage)"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": Free(
        "bucket setting (noncurrent versions are stored bytes: usage-priced)"
    ),
    "aws:ecr/repository:Repository": Priced("image storage at the lifecycle cap", _ecr),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": Free(
        "no charge; it bounds the repository's storage"
    ),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": Free("no charge"),
    # identity
    "aws:iam/role:Role": IAM_FREE,
    "aws:iam/rolePolicy:RolePolicy": IAM_FREE,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": IAM_FREE,
    "aws:iam/policy:Policy": IAM_FREE,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": IAM_FREE,
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": IAM_FREE,
    # the engine's own
    "pulumi:providers:aws": Free("a provider: no cloud resource"),
    "pulumi:providers:kubernetes": Free("a provider: no cloud resource"),
    "pulumi:pulumi:StackReference": Free("reads another stack's outputs: no cloud resource"),
    "random:index/randomPassword:RandomPassword": Free("generated locally: no cloud resource"),
    "random:index/randomId:RandomId": Free("generated locally: no cloud resource"),
    "kubernetes:helm.sh/v3:Release": Free("its rendered objects are classified one by one"),
    "kubernetes:helm.sh/v4:Chart": Free("its rendered objects are classified one by one"),
    # Kubernetes objects that make AWS create something
    "kubernetes:core/v1:Service": PricedObject("type LoadBalancer: one NLB", _service),
    "kubernetes:core/v1:PersistentVolumeClaim": PricedObject("EBS volume", _pvc),
    "kubernetes:apps/v1:StatefulSet": PricedObject(
        "EBS volumes of its claim templates", _statefulset
    ),
    "kubernetes:monitoring.coreos.com/v1:Prometheus": PricedObject(
        "EBS volumes of the operator's StatefulSet", _operator_storage
    ),
    "kubernetes:monitoring.coreos.com/v1:Alertmanager": PricedObject(
        "EBS volumes of the operator's StatefulSet", _operator_storage
    ),
    # Kubernetes objects that run pods (priced as nodes)
    "kubernetes:apps/v1:Deployment": PODS_FREE,
    "kubernetes:apps/v1:DaemonSet": PODS_FREE,
    "kubernetes:batch/v1:Job": PODS_FREE,
    "kubernetes:batch/v1:CronJob": PODS_FREE,
    "kubernetes:core/v1:Pod": PODS_FREE,
    "kubernetes:serving.kserve.io/v1beta1:InferenceService": PODS_FREE,
    # Kubernetes objects that are only stored
    **dict.fromkeys(
        (
            "kubernetes:core/v1:Namespace",
            "kubernetes:core/v1:ServiceAccount",
            "kubernetes:core/v1:ServiceAccountPatch",
            "kubernetes:core/v1:ConfigMap",
            "kubernetes:core/v1:Secret",
            "kubernetes:core/v1:LimitRange",
            "kubernetes:core/v1:ResourceQuota",
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            "kubernetes:rbac.authorization.k8s.io/v1:Role",
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
            "kubernetes:storage.k8s.io/v1:StorageClass",
            "kubernetes:policy/v1:PodDisruptionBudget",
            "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
            "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
            "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration",
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration",
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
            "kubernetes:cert-manager.io/v1:Certificate",
            "kubernetes:cert-manager.io/v1:ClusterIssuer",
            "kubernetes:cert-manager.io/v1:Issuer",
            "kubernetes:external-secrets.io/v1:ClusterSecretStore",
            "kubernetes:external-secrets.io/v1:ExternalSecret",
            "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
            "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
            "kubernetes:monitoring.coreos.com/v1:PodMonitor",
            "kubernetes:security.istio.io/v1:PeerAuthentication",
            "kubernetes:security.istio.io/v1:AuthorizationPolicy",
            "kubernetes:networking.istio.io/v1:Gateway",
            "kubernetes:networking.istio.io/v1:VirtualService",
            "kubernetes:networking.istio.io/v1:DestinationRule",
            "kubernetes:networking.istio.io/v1:ServiceEntry",
            # argocd: the project and the root Application (the pods they sync are priced)
            "kubernetes:argoproj.io/v1alpha1:AppProject",
            "kubernetes:argoproj.io/v1alpha1:Application",
        ),
        ETCD_FREE,
    ),
    # --- serving (docs/serving.md) ---
    # The operator runs Knative Serving's pods for it: priced as the nodes they run on.
    "kubernetes:operator.knative.dev/v1beta1:KnativeServing": PODS_FREE,
    **dict.fromkeys(
        (
            "kubernetes:apiregistration.k8s.io/v1:APIService",
            "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime",
            "kubernetes:serving.kserve.io/v1alpha1:ClusterStorageContainer",
        ),
        ETCD_FREE,
    ),
    # Kubeflow Pipelines (components/k8s/kubeflow_pipelines.py)
    "kubernetes:kustomize/v2:Directory": Free("its rendered objects are classified one by one"),
    "kubernetes:scheduling.k8s.io/v1:PriorityClass": ETCD_FREE,
}
# The project's own components (`mlops:<module>:<Type>`) group children and create
# nothing themselves; their children are classified one by one.
COMPONENT_PREFIX: Final = "mlops:"
COMPONENT_FREE: Final = Free("a component of this project: its children are priced one by one")


def classify(resource_type: str) -> Priced | PricedObject | Free | None:
    if resource_type in CLASSIFICATION:
        return CLASSIFICATION[resource_type]
    if resource_type.startswith(COMPONENT_PREFIX):
        return COMPONENT_FREE
    return None


def object_type(obj: PlannedObject) -> str:
    """The object's type token, as a preview registers it (`kubernetes:<group>/<v>:<Kind>`)."""
    group, _, version = obj.api_version.rpartition("/")
    return f"kubernetes:{group or 'core'}/{version}:{obj.kind}"


def _unclassified(subject: str, resource_type: str) -> Finding:
    return Finding(
        CHECK,
        subject,
        f"Type {resource_type} is neither priced nor declared free in platformctl/cost.py "
        "CLASSIFICATION: classify it (a price, or no charge with the reason).",
    )


# --- the estimate ----------------------------------------------------------------------------


@dataclass
class Estimate:
    """cost.json: lines, totals, the floor and what could not be priced."""

    region: str
    lines: list[CostLine] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    floor: list[CostLine] = field(default_factory=list)
    floor_note: str = ""
    evaluated: int = 0
    # Every type seen (resources and planned objects) -> how the table classifies it.
    types: dict[str, str] = field(default_factory=dict)

    def saw(self, resource_type: str, rule: Priced | PricedObject | Free | None) -> None:
        self.evaluated += 1
        if rule is None:
            self.types[resource_type] = "unclassified"
        elif isinstance(rule, Free):
            self.types[resource_type] = f"free: {rule.reason}"
        else:
            self.types[resource_type] = f"priced: {rule.what}"

    @property
    def idle(self) -> float:
        return sum(line.idle for line in self.lines)

    @property
    def max(self) -> float:
        return sum(line.max for line in self.lines)

    @property
    def floor_total(self) -> float:
        return sum(line.idle for line in self.floor)

    @property
    def ratio(self) -> float | None:
        return round(self.idle / self.floor_total, 3) if self.floor_total else None

    def check(self) -> CheckResult:
        return CheckResult(
            name=CHECK,
            mandatory=True,
            evaluated=self.evaluated,
            findings=list(self.findings),
            details={"idle": round(self.idle, 2), "floor": round(self.floor_total, 2)},
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "price_table": {"date": PRICE_TABLE_DATE, "region": self.region, "currency": CURRENCY},
            "hours_per_month": HOURS_PER_MONTH,
            # by resource, whatever order the plan met them in (program or chart objects first)
            "resources": [
                line.as_json() for line in sorted(self.lines, key=lambda c: (c.ref, c.name))
            ],
            "total_monthly_usd_idle": round(self.idle, 2),
            "total_monthly_usd_max": round(self.max, 2),
            "floor": {
                "lines": [line.as_json() for line in self.floor],
                "monthly_usd": round(self.floor_total, 2),
                "idle_over_floor": self.ratio,
                "target": FLOOR_TARGET,
                "note": self.floor_note,
            },
            "unpriced": [{"subject": f.subject, "message": f.message} for f in self.findings],
            "types": dict(sorted(self.types.items())),
            "usage_priced": USAGE_PRICED,
            "assumptions": {
                "log_ingestion_gb_per_day": {p: gb for p, gb, _ in LOG_INGESTION_GB_PER_DAY},
                "ecr_image_gb": ECR_IMAGE_GB,
            },
        }


def estimate(
    resources: Iterable[Mapping[str, Any]],
    objects: Iterable[PlannedObject] = (),
    *,
    region: str,
    on: str = PRICE_TABLE_DATE,
    general_nodes: int | None = None,
) -> Estimate:
    """Price every resource of resources.json and every planned Kubernetes object.

    `general_nodes` is the fewest general nodes that hold the platform's pods, as the
    capacity check packs them (platformctl/checks/capacity.py `fewest_nodes`): the floor
    prices that many; None leaves the floor's node line out, with a finding saying why.
    """
    records = list(resources)
    planned = list(objects)
    result = Estimate(region=region)
    try:
        prices = prices_for(region)
    except PriceError as exc:
        result.findings.append(Finding(CHECK, region, str(exc)))
        return result
    ctx = Context(prices, date.fromisoformat(on), {str(r["urn"]): r for r in records}, planned)
    for record in records:
        typ, ref, name = str(record["type"]), str(record["urn"]), str(record.get("name", ""))
        rule = classify(typ)
        result.saw(typ, rule)
        if rule is None:
            result.findings.append(_unclassified(ref, typ))
        elif isinstance(rule, Priced):
            try:
                result.lines += rule.price(ctx, ref, typ, name, record.get("inputs") or {})
            except (PriceError, QuantityError) as exc:
                result.findings.append(Finding(CHECK, ref, str(exc)))
        # Free, or a Kubernetes kind priced from the planned objects below.
    for obj in planned:
        typ = object_type(obj)
        rule = classify(typ)
        result.saw(typ, rule)
        if rule is None:
            result.findings.append(_unclassified(obj.ref, typ))
        elif isinstance(rule, PricedObject):
            try:
                result.lines += rule.price(ctx, obj)
            except (PriceError, QuantityError) as exc:
                result.findings.append(Finding(CHECK, obj.ref, str(exc)))
    try:
        result.floor, result.floor_note = floor(ctx, general_nodes)
    except (PriceError, QuantityError) as exc:
        result.findings.append(Finding(CHECK, "floor", str(exc)))
    return result


# --- the floor ---------------------------------------------------------------------------------


def _general_group(ctx: Context) -> Mapping[str, Any] | None:
    c = contract()
    for record in ctx.resources.values():
        if record.get("type") not in ("eks:index:ManagedNodeGroup", "aws:eks/nodeGroup:NodeGroup"):
            continue
        labels = (record.get("inputs") or {}).get("labels") or {}
        if labels.get(c.node_pool_label) == c.pools["general"]:
            return record
    return None


def floor(ctx: Context, general_nodes: int | None) -> tuple[list[CostLine], str]:
    """The floor lines (docs/cost.md) and a note saying how the node count was found."""
    lines: list[CostLine] = []
    standard = ctx.prices.item("eks.cluster.standard")
    if any(
        r.get("type") in ("eks:index:Cluster", "aws:eks/cluster:Cluster")
        for r in ctx.resources.values()
    ):
        lines.append(
            CostLine(
                "floor",
                "floor",
                "EKS control plane",
                monthly(standard),
                monthly(standard),
                f"standard support ${standard.usd}/h",
            )
        )
    note = "no general node group in this plan"
    group = _general_group(ctx)
    if group is not None:
        inputs = group.get("inputs") or {}
        instance_type = str((inputs.get("instanceTypes") or [""])[0])
        if general_nodes is None:
            raise PriceError(
                "the floor has no general node count: the capacity check found no packing of "
                "the platform's pods onto the general pool (read its findings)"
            )
        count = general_nodes
        on_demand = ctx.prices.instance(instance_type, spot=False)
        gib = _disk_gib(ctx, group, inputs)
        per_node = monthly(on_demand) + monthly(ctx.prices.item("ebs.gp3"), gib)
        lines.append(
            CostLine(
                "floor",
                "floor",
                f"{count} general node(s)",
                per_node * count,
                per_node * count,
                f"{count} x {instance_type} on-demand ${on_demand.usd}/h + {gib:.0f} GiB gp3",
            )
        )
        note = (
            f"{count} {instance_type} node(s): the fewest the capacity check packs the "
            "platform's pods onto (first-fit decreasing, node agents on every node, the EKS "
            "add-ons' pods included)"
        )
    nat, ipv4 = ctx.prices.item("vpc.nat_gateway"), ctx.prices.item("vpc.public_ipv4")
    lines.append(
        CostLine(
            "floor",
            "floor",
            "one NAT gateway",
            monthly(nat) + monthly(ipv4),
            monthly(nat) + monthly(ipv4),
            f"${nat.usd}/h + its public IPv4 ${ipv4.usd}/h",
        )
    )
    engines = sorted(
        {
            str((r.get("inputs") or {}).get("engine"))
            for r in ctx.resources.values()
            if r.get("type") == "aws:rds/instance:Instance"
        }
    )
    storage = ctx.prices.item("rds.gp3")
    for engine in engines:
        klass = next(k for k in RDS_INSTANCE_CLASSES if (engine, k) in ctx.prices.rds)
        price = ctx.prices.database(engine, klass)
        usd = monthly(price) + monthly(storage, RDS_MIN_STORAGE_GIB)
        lines.append(
            CostLine(
                "floor",
                "floor",
                f"{engine} {klass}",
                usd,
                usd,
                f"smallest class ${price.usd}/h, Single-AZ, {RDS_MIN_STORAGE_GIB:.0f} GiB gp3",
            )
        )
    nlb = ctx.prices.item("elb.nlb")
    lines.append(
        CostLine(
            "floor", "floor", "one load balancer", monthly(nlb), monthly(nlb), f"NLB ${nlb.usd}/h"
        )
    )
    return lines, note
