"""The dated price table the cost estimate reads: list prices per region, each with its source.

One table per region, every figure in USD with its unit, the AWS pricing page it comes
from and how it was obtained (docs/cost.md,
docs/decisions/0033-complete-cost-and-honest-critical-path.md).
No pricing API is reachable offline, so the table is data in the repository, dated:
a plan prices what it creates at the table's date, and a figure AWS changes later
changes here, in review. A region, an instance type or a database class the table
does not hold is a `PriceError` naming it, never a silent zero.

`How obtained` says what was checked on the table's date. The regional figures on
the AWS pages are rendered by script; where the stored copies of a page hold the
figure, the note says so; where they do not, the figure is the last published
eu-west-1 list price we know and the note says it was not re-read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

PRICE_TABLE_DATE: Final = "2026-12-01"
CURRENCY: Final = "USD"
# AWS's own convention for monthly estimates (the Pricing Calculator): 730 hours.
HOURS_PER_MONTH: Final = 730
DAYS_PER_MONTH: Final = 30.4

EKS_PAGE: Final = "https://aws.amazon.com/eks/pricing/"
EC2_PAGE: Final = "https://aws.amazon.com/ec2/pricing/on-demand/"
SPOT_PAGE: Final = "https://aws.amazon.com/ec2/spot/pricing/"
EBS_PAGE: Final = "https://aws.amazon.com/ebs/pricing/"
VPC_PAGE: Final = "https://aws.amazon.com/vpc/pricing/"
PRIVATELINK_PAGE: Final = "https://aws.amazon.com/privatelink/pricing/"
ELB_PAGE: Final = "https://aws.amazon.com/elasticloadbalancing/pricing/"
KMS_PAGE: Final = "https://aws.amazon.com/kms/pricing/"
SECRETS_PAGE: Final = "https://aws.amazon.com/secrets-manager/pricing/"
CLOUDWATCH_PAGE: Final = "https://aws.amazon.com/cloudwatch/pricing/"
RDS_POSTGRES_PAGE: Final = "https://aws.amazon.com/rds/postgresql/pricing/"
RDS_MYSQL_PAGE: Final = "https://aws.amazon.com/rds/mysql/pricing/"
S3_PAGE: Final = "https://aws.amazon.com/s3/pricing/"
ECR_PAGE: Final = "https://aws.amazon.com/ecr/pricing/"

NOT_REREAD: Final = (
    "eu-west-1 list price as last published; not re-read on the table's date "
    "(the page renders regional prices by script)"
)
SPOT_NOTE: Final = (
    "not a list price: Spot prices follow supply and demand; a typical eu-west-1 "
    "price, about 35-40 % of on-demand (the page's lowest current price moves daily)"
)


class PriceError(LookupError):
    """Something that should be priced has no price in the table; the message is one line."""


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str  # "hour", "AZ-hour", "GB-month", "month", "GB"
    source: str  # the AWS pricing page
    how: str = NOT_REREAD  # how the figure was obtained or checked


@dataclass(frozen=True)
class Ec2Price:
    on_demand: Price
    spot: Price


@dataclass(frozen=True)
class RegionPrices:
    """Every price of one region. Lookups raise `PriceError` naming what is missing."""

    region: str
    items: Mapping[str, Price]
    ec2: Mapping[str, Ec2Price]  # Linux, shared tenancy
    rds: Mapping[tuple[str, str], Price]  # (engine, class) -> Single-AZ hourly

    def item(self, key: str) -> Price:
        try:
            return self.items[key]
        except KeyError:
            raise PriceError(
                f"price '{key}' is not in the {self.region} price table of {PRICE_TABLE_DATE}"
            ) from None

    def instance(self, instance_type: str, *, spot: bool) -> Price:
        prices = self.ec2.get(instance_type)
        if prices is None:
            raise PriceError(
                f"instance type '{instance_type}' has no price in the {self.region} price "
                f"table of {PRICE_TABLE_DATE}; priced: {', '.join(sorted(self.ec2))}"
            )
        return prices.spot if spot else prices.on_demand

    def database(self, engine: str, instance_class: str) -> Price:
        price = self.rds.get((engine, instance_class))
        if price is None:
            priced = ", ".join(f"{e} {c}" for e, c in sorted(self.rds))
            raise PriceError(
                f"database class '{instance_class}' ({engine}) has no price in the "
                f"{self.region} price table of {PRICE_TABLE_DATE}; priced: {priced}"
            )
        return price


def _ec2(on_demand: float, spot: float) -> Ec2Price:
    return Ec2Price(Price(on_demand, "hour", EC2_PAGE), Price(spot, "hour", SPOT_PAGE, SPOT_NOTE))


def _rds(engine: str, hourly: float) -> Price:
    page = RDS_POSTGRES_PAGE if engine == "postgres" else RDS_MYSQL_PAGE
    return Price(hourly, "hour", page, f"Single-AZ, {NOT_REREAD}")


EU_WEST_1: Final = RegionPrices(
    region="eu-west-1",
    items={
        "eks.cluster.standard": Price(
            0.10,
            "hour",
            EKS_PAGE,
            "same in every commercial region; confirmed by the AWS containers blog "
            "'Amazon EKS extended support for Kubernetes versions pricing'",
        ),
        "eks.cluster.extended": Price(
            0.60,
            "hour",
            EKS_PAGE,
            "total per cluster-hour while the version is in extended support (standard "
            "fee included); confirmed by the same AWS blog",
        ),
        "ebs.gp3": Price(0.088, "GB-month", EBS_PAGE),
        "vpc.public_ipv4": Price(
            0.005,
            "hour",
            VPC_PAGE,
            "every public IPv4 address, in use or not, since 2024-02-01; same in every region",
        ),
        "vpc.nat_gateway": Price(0.048, "hour", VPC_PAGE),
        "vpc.nat_gateway.data": Price(0.048, "GB", VPC_PAGE),
        "vpc.interface_endpoint": Price(0.011, "AZ-hour", PRIVATELINK_PAGE),
        "vpc.interface_endpoint.data": Price(
            0.01,
            "GB",
            PRIVATELINK_PAGE,
            "first PB per region; confirmed in a stored copy of the page",
        ),
        "elb.nlb": Price(0.0252, "hour", ELB_PAGE),
        "elb.nlcu": Price(0.006, "hour", ELB_PAGE, f"per NLCU-hour; {NOT_REREAD}"),
        "kms.key": Price(
            1.00,
            "month",
            KMS_PAGE,
            "per customer-managed key; each of the first two automatic rotations adds "
            "$1/month from the year it happens; requests $0.03 per 10,000 beyond the free tier",
        ),
        "secretsmanager.secret": Price(
            0.40, "month", SECRETS_PAGE, "per secret; $0.05 per 10,000 API calls"
        ),
        "logs.ingestion": Price(
            0.57,
            "GB",
            CLOUDWATCH_PAGE,
            f"Standard log class, and the first 10 TB tier of vended logs; {NOT_REREAD}",
        ),
        "logs.storage": Price(0.03, "GB-month", CLOUDWATCH_PAGE, "billed on compressed bytes"),
        "rds.gp3": Price(0.127, "GB-month", RDS_POSTGRES_PAGE, f"Single-AZ; {NOT_REREAD}"),
        "rds.gp3.multi_az": Price(0.254, "GB-month", RDS_POSTGRES_PAGE, f"Multi-AZ; {NOT_REREAD}"),
        "s3.standard": Price(0.023, "GB-month", S3_PAGE, "first 50 TB per month"),
        "ecr.storage": Price(0.10, "GB-month", ECR_PAGE, "same in every region"),
    },
    ec2={
        "t3.large": _ec2(0.0912, 0.0350),
        "t3.xlarge": _ec2(0.1824, 0.0700),
        "m5.large": _ec2(0.107, 0.040),
        "m5.xlarge": _ec2(0.214, 0.080),
        "m6i.large": _ec2(0.107, 0.042),
        "m6i.xlarge": _ec2(0.214, 0.084),
        "c5.2xlarge": _ec2(0.384, 0.150),
        "c5a.2xlarge": _ec2(0.346, 0.140),
        "c6i.2xlarge": _ec2(0.384, 0.155),
        "c5.4xlarge": _ec2(0.768, 0.300),
        "m6g.large": _ec2(0.086, 0.034),
        "g4dn.xlarge": _ec2(0.587, 0.220),
        "g4dn.2xlarge": _ec2(0.838, 0.320),
        "g5.xlarge": _ec2(1.123, 0.420),
    },
    rds={
        ("postgres", "db.t4g.micro"): _rds("postgres", 0.018),
        ("postgres", "db.t4g.small"): _rds("postgres", 0.036),
        ("postgres", "db.t4g.medium"): _rds("postgres", 0.072),
        ("postgres", "db.m6g.large"): _rds("postgres", 0.178),
        ("postgres", "db.m7g.large"): _rds("postgres", 0.186),
        ("postgres", "db.r6g.large"): _rds("postgres", 0.258),
        ("mysql", "db.t4g.micro"): _rds("mysql", 0.017),
        ("mysql", "db.t4g.small"): _rds("mysql", 0.034),
        ("mysql", "db.t4g.medium"): _rds("mysql", 0.068),
        ("mysql", "db.m6g.large"): _rds("mysql", 0.170),
        ("mysql", "db.m7g.large"): _rds("mysql", 0.178),
        ("mysql", "db.r6g.large"): _rds("mysql", 0.250),
    },
)

TABLES: Final[Mapping[str, RegionPrices]] = {EU_WEST_1.region: EU_WEST_1}


def prices_for(region: str) -> RegionPrices:
    """The table of `region`; an unpriced region is a `PriceError` naming it."""
    try:
        return TABLES[region]
    except KeyError:
        raise PriceError(
            f"region '{region}' is not in the price table of {PRICE_TABLE_DATE}; "
            f"priced regions: {', '.join(sorted(TABLES))}"
        ) from None


def monthly(price: Price, quantity: float = 1.0) -> float:
    """The monthly USD of `quantity` units of an hourly or monthly price."""
    if price.unit in ("hour", "AZ-hour"):
        return price.usd * HOURS_PER_MONTH * quantity
    if price.unit in ("month", "GB-month"):
        return price.usd * quantity
    raise PriceError(f"a {price.unit} price is usage-priced: it has no monthly figure alone")
