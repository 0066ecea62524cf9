"""Monthly cost estimate of a plan from a dated price table (no pricing API offline).

Prices are list prices for one region on one date, in USD, rounded as AWS
publishes them. Usage-priced items (S3 storage and requests, data transfer, log
ingestion) depend on traffic, not on the plan: they are listed at 0 with a note
rather than guessed. "idle" counts autoscaled node groups at their minimum,
"max" at their maximum.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

HOURS_PER_MONTH: Final = 730

PRICE_TABLE_DATE: Final = "2026-10-01"
PRICE_TABLE_REGION: Final = "eu-west-1"

EKS_CONTROL_PLANE_HOURLY: Final = 0.10
NAT_GATEWAY_HOURLY: Final = 0.048
PUBLIC_IPV4_HOURLY: Final = 0.005
INTERFACE_ENDPOINT_AZ_HOURLY: Final = 0.011
KMS_KEY_MONTHLY: Final = 1.00
GP3_GB_MONTHLY: Final = 0.088
RDS_GP3_GB_MONTHLY: Final = 0.127
RDS_STORAGE_MULTI_AZ_FACTOR: Final = 2.0
SECRETS_MANAGER_SECRET_MONTHLY: Final = 0.40

# On-demand hourly prices (Linux) and a typical spot price for the same type.
EC2_HOURLY: Final[dict[str, tuple[float, float]]] = {
    "t3.large": (0.0912, 0.0350),
    "t3.xlarge": (0.1824, 0.0700),
    "m5.large": (0.107, 0.040),
    "m5.xlarge": (0.214, 0.080),
    "m6i.large": (0.107, 0.042),
    "m6i.xlarge": (0.214, 0.084),
    "c5.2xlarge": (0.384, 0.150),
    "c5a.2xlarge": (0.346, 0.140),
    "c6i.2xlarge": (0.384, 0.155),
    "c5.4xlarge": (0.768, 0.300),
    "m6g.large": (0.086, 0.034),
    "g4dn.xlarge": (0.587, 0.220),
    "g4dn.2xlarge": (0.838, 0.320),
    "g5.xlarge": (1.123, 0.420),
}
RDS_HOURLY: Final[dict[tuple[str, str], float]] = {
    ("postgres", "db.t4g.micro"): 0.018,
    ("postgres", "db.t4g.small"): 0.036,
    ("postgres", "db.t4g.medium"): 0.072,
    ("postgres", "db.m6g.large"): 0.178,
    ("postgres", "db.m7g.large"): 0.186,
    ("postgres", "db.r6g.large"): 0.258,
    ("mysql", "db.t4g.micro"): 0.017,
    ("mysql", "db.t4g.small"): 0.034,
    ("mysql", "db.t4g.medium"): 0.068,
    ("mysql", "db.m6g.large"): 0.170,
    ("mysql", "db.m7g.large"): 0.178,
    ("mysql", "db.r6g.large"): 0.250,
}


@dataclass(frozen=True)
class CostLine:
    urn: str
    type: str
    name: str
    idle: float
    max: float
    basis: str

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "monthly_usd_idle": round(self.idle, 2),
            "monthly_usd_max": round(self.max, 2),
            "basis": self.basis,
        }


def _monthly(hourly: float) -> float:
    return hourly * HOURS_PER_MONTH


def _node_group(inputs: dict[str, Any]) -> tuple[float, float, str]:
    types = inputs.get("instanceTypes") or []
    spot = inputs.get("capacityType") == "SPOT"
    scaling = inputs.get("scalingConfig") or {}
    low, high = int(scaling.get("minSize", 0)), int(scaling.get("maxSize", 0))
    # A group lists several types; the autoscaler may pick any: price the first.
    on_demand, spot_price = EC2_HOURLY[types[0]]
    hourly = spot_price if spot else on_demand
    return (
        _monthly(hourly) * low,
        _monthly(hourly) * high,
        f"{types[0]} {'spot' if spot else 'on-demand'} x {low}..{high}",
    )


def _rds(inputs: dict[str, Any]) -> tuple[float, str]:
    engine, klass = inputs["engine"], inputs["instanceClass"]
    multi_az = bool(inputs.get("multiAz"))
    factor = 2.0 if multi_az else 1.0
    storage = float(inputs.get("allocatedStorage", 20))
    monthly = _monthly(RDS_HOURLY[(engine, klass)]) * factor
    monthly += storage * RDS_GP3_GB_MONTHLY * (RDS_STORAGE_MULTI_AZ_FACTOR if multi_az else 1)
    monthly += SECRETS_MANAGER_SECRET_MONTHLY  # the managed master-user secret
    return monthly, f"{engine} {klass}{' multi-AZ' if multi_az else ''}, {storage:.0f} GiB gp3"


def _line(resource: dict[str, Any], launch_template_gib: dict[str, float]) -> CostLine | None:
    typ, inputs = resource["type"], resource["inputs"]
    urn, name = resource["urn"], resource["name"]

    def flat(monthly: float, basis: str) -> CostLine:
        return CostLine(urn, typ, name, monthly, monthly, basis)

    if typ == "eks:index:Cluster":
        return flat(_monthly(EKS_CONTROL_PLANE_HOURLY), "EKS control plane, standard support")
    if typ == "eks:index:ManagedNodeGroup":
        idle, high, basis = _node_group(inputs)
        scaling = inputs.get("scalingConfig") or {}
        templates = resource.get("property_dependencies", {}).get("launchTemplate", [])
        gib = sum(launch_template_gib.get(urn, 0.0) for urn in templates)
        disk = gib * GP3_GB_MONTHLY
        low, top = int(scaling.get("minSize", 0)), int(scaling.get("maxSize", 0))
        return CostLine(
            urn, typ, name, idle + disk * low, high + disk * top, f"{basis}, {gib:.0f} GiB gp3"
        )
    if typ == "aws:ec2/natGateway:NatGateway":
        return flat(_monthly(NAT_GATEWAY_HOURLY), "NAT gateway hours (data processing extra)")
    if typ == "aws:ec2/eip:Eip":
        return flat(_monthly(PUBLIC_IPV4_HOURLY), "public IPv4 address")
    if typ == "aws:ec2/vpcEndpoint:VpcEndpoint" and inputs.get("vpcEndpointType") == "Interface":
        azs = len(inputs.get("subnetIds") or [])
        return flat(_monthly(INTERFACE_ENDPOINT_AZ_HOURLY) * azs, f"interface endpoint x {azs} AZ")
    if typ == "aws:kms/key:Key":
        return flat(KMS_KEY_MONTHLY, "customer-managed key (requests extra)")
    if typ == "aws:rds/instance:Instance":
        monthly, basis = _rds(inputs)
        return flat(monthly, basis)
    if typ == "aws:s3/bucket:Bucket":
        return flat(0.0, "usage-priced: storage and requests depend on traffic")
    return None


def estimate(resources: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """cost.json content: one line per priced resource, totals idle and at max."""
    resources = list(resources)
    launch_template_gib: dict[str, float] = {}
    for r in resources:
        if r["type"] == "aws:ec2/launchTemplate:LaunchTemplate":
            mappings = r["inputs"].get("blockDeviceMappings") or []
            size = sum(float((m.get("ebs") or {}).get("volumeSize", 0)) for m in mappings)
            launch_template_gib[r["urn"]] = size
    lines = [line for r in resources if (line := _line(r, launch_template_gib)) is not None]
    return {
        "price_table": {"date": PRICE_TABLE_DATE, "region": PRICE_TABLE_REGION, "currency": "USD"},
        "hours_per_month": HOURS_PER_MONTH,
        "resources": [line.as_json() for line in lines],
        "total_monthly_usd_idle": round(sum(line.idle for line in lines), 2),
        "total_monthly_usd_max": round(sum(line.max for line in lines), 2),
        "not_priced": "data transfer, NAT data processing, S3 storage/requests, log ingestion",
    }
