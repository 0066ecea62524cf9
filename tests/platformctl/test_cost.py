"""The cost model: one table test per pricing function, the classification of every type
the plans create, the floor, and the real plans' cost.json."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from platformctl.checks import PlannedObject
from platformctl.cost import (
    CHECK,
    CLASSIFICATION,
    Free,
    Priced,
    PricedObject,
    classify,
    estimate,
    log_ingestion,
    support_rate,
)
from platformctl.prices import PRICE_TABLE_DATE, PriceError
from stacks.catalog import EKS_STANDARD_SUPPORT_ENDS
from tests.platformctl.costing import container, gp3_class, obj, record, workload
from tests.platformctl.rendering import shared_charts_or_skip

H = 730  # hours per month
LBC = {"service.beta.kubernetes.io/aws-load-balancer-type": "external"}


def price(  # type: ignore[no-untyped-def]
    records: list[dict[str, Any]],
    objects: list[PlannedObject] = (),  # type: ignore[assignment]
    on: str = "2026-12-01",
    general_nodes: int | None = 1,
):
    return estimate(records, objects, region="eu-west-1", on=on, general_nodes=general_nodes)


def line(
    records: list[dict[str, Any]], objects: list[PlannedObject] = (), **kw: Any
) -> dict[str, Any]:  # type: ignore[assignment]
    result = price(records, objects, **kw)
    assert not result.findings, result.findings
    (one,) = [entry.as_json() for entry in result.lines]
    return one


def finding(records: list[dict[str, Any]], objects: list[PlannedObject] = ()) -> str:  # type: ignore[assignment]
    result = price(records, objects)
    (found,) = result.findings
    assert found.check == CHECK
    assert not result.check().ok and result.check().mandatory
    return found.message


# --- EKS support windows -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "on", "rate"),
    [
        ("1.35", "2027-03-27", "standard"),  # the last day of standard support
        ("1.35", "2027-03-28", "extended"),
        ("1.36", "2026-12-01", "standard"),
        ("1.36", "2027-08-02", "standard"),
        ("1.36", "2027-08-03", "extended"),
        ("1.36", "2028-08-02", "extended"),  # 12 months of extended support
    ],
)
def test_support_rate_follows_the_catalog(version: str, on: str, rate: str) -> None:
    assert support_rate(version, date.fromisoformat(on))[0] == rate


@pytest.mark.parametrize("version", sorted(EKS_STANDARD_SUPPORT_ENDS))
def test_every_catalog_version_has_standard_then_twelve_months_extended(version: str) -> None:
    end = date.fromisoformat(EKS_STANDARD_SUPPORT_ENDS[version])
    assert support_rate(version, end)[0] == "standard"
    assert support_rate(version, end + timedelta(days=1))[0] == "extended"
    assert support_rate(version, end.replace(year=end.year + 1))[0] == "extended"
    with pytest.raises(PriceError, match=r"left extended support"):
        support_rate(version, end.replace(year=end.year + 1) + timedelta(days=1))


def test_support_rate_of_an_unknown_version_is_an_error() -> None:
    with pytest.raises(PriceError, match=r"EKS version '1.20' has no end of standard support"):
        support_rate("1.20", date(2026, 12, 1))


def test_cluster_standard_and_extended() -> None:
    cluster = record("c", "eks:index:Cluster", {"version": "1.36"}, custom=False)
    assert line([cluster])["monthly_usd_idle"] == 0.10 * H
    later = line([cluster], on="2027-09-01")
    assert later["monthly_usd_idle"] == 0.60 * H
    assert "extended support since 2027-08-02" in later["basis"]
    # An upgrade policy STANDARD makes AWS upgrade the cluster instead of billing extended.
    pinned = record(
        "c", "eks:index:Cluster", {"version": "1.36", "upgradePolicy": {"supportType": "STANDARD"}}
    )
    assert line([pinned], on="2027-09-01")["monthly_usd_idle"] == 0.10 * H


# --- nodes -------------------------------------------------------------------------------------


def _group(
    capacity: str, types: list[str], low: float, high: float, **extra: Any
) -> dict[str, Any]:
    inputs = {
        "instanceTypes": types,
        "capacityType": capacity,
        "scalingConfig": {"minSize": low, "desiredSize": low, "maxSize": high},
        **extra,
    }
    return record(
        "g",
        "eks:index:ManagedNodeGroup",
        inputs,
        custom=False,
        property_dependencies={"launchTemplate": ["lt"]},
    )


LAUNCH_TEMPLATE = record(
    "lt",
    "aws:ec2/launchTemplate:LaunchTemplate",
    {"blockDeviceMappings": [{"ebs": {"volumeSize": 50.0, "volumeType": "gp3"}}]},
)


def test_node_group_on_demand_idle_at_min_and_max_at_max_with_its_root_volumes() -> None:
    priced = line([_group("ON_DEMAND", ["t3.large"], 2.0, 4.0), LAUNCH_TEMPLATE])
    per_node = 0.0912 * H + 50 * 0.088
    assert priced["monthly_usd_idle"] == round(2 * per_node, 2)
    assert priced["monthly_usd_max"] == round(4 * per_node, 2)


def test_spot_group_at_zero_costs_nothing_idle_and_its_spot_price_at_max() -> None:
    priced = line([_group("SPOT", ["g4dn.xlarge", "g5.xlarge"], 0.0, 2.0), LAUNCH_TEMPLATE])
    assert priced["monthly_usd_idle"] == 0.0
    assert priced["monthly_usd_max"] == round(2 * (0.22 * H + 50 * 0.088), 2)
    assert "g4dn.xlarge spot" in priced["basis"]


def test_node_group_without_launch_template_has_eks_default_disk() -> None:
    group = record(
        "g",
        "aws:eks/nodeGroup:NodeGroup",
        {"instanceTypes": ["m5.large"], "scalingConfig": {"minSize": 1.0, "maxSize": 1.0}},
    )
    assert line([group])["monthly_usd_idle"] == round(0.107 * H + 20 * 0.088, 2)


def test_an_unknown_instance_type_is_a_finding_naming_it() -> None:
    message = finding([_group("ON_DEMAND", ["x9.huge"], 1.0, 1.0), LAUNCH_TEMPLATE])
    assert "instance type 'x9.huge' has no price" in message


# --- network ----------------------------------------------------------------------------------


def test_nat_gateway_and_its_address() -> None:
    assert line([record("n", "aws:ec2/natGateway:NatGateway")])["monthly_usd_idle"] == round(
        0.048 * H, 2
    )
    assert line([record("e", "aws:ec2/eip:Eip")])["monthly_usd_idle"] == round(0.005 * H, 2)


def test_interface_endpoint_per_az_and_gateway_endpoint_free() -> None:
    interface = record(
        "v",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        {"vpcEndpointType": "Interface", "subnetIds": ["a", "b", "c"]},
    )
    assert line([interface])["monthly_usd_idle"] == round(3 * 0.011 * H, 2)
    two = record(
        "v",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        {"vpcEndpointType": "Interface", "subnetIds": ["a", "b"]},
    )
    assert line([two])["monthly_usd_idle"] == round(2 * 0.011 * H, 2)
    gateway = record("s3", "aws:ec2/vpcEndpoint:VpcEndpoint", {"vpcEndpointType": "Gateway"})
    assert line([gateway])["monthly_usd_idle"] == 0.0


# --- keys, secrets, logs, databases, storage -----------------------------------------------------


def test_kms_key_and_secret() -> None:
    assert (
        line([record("k", "aws:kms/key:Key", {"enableKeyRotation": True})])["monthly_usd_idle"]
        == 1.0
    )
    assert line([record("s", "aws:secretsmanager/secret:Secret")])["monthly_usd_idle"] == 0.4


@pytest.mark.parametrize(
    ("group", "retention", "expected"),
    [
        ("/aws/eks/c/cluster", 90, 1.0 * 30.4 * 0.57 + 1.0 * 90 * 0.03),
        ("/aws/vpc/network/flow-logs", 30, 0.2 * 30.4 * 0.57 + 0.2 * 30 * 0.03),
        ("/aws/rds/instance/db/postgresql", 30, 0.01 * 30.4 * 0.57 + 0.01 * 30 * 0.03),
    ],
)
def test_log_groups_at_their_stated_ingestion_and_retention(
    group: str, retention: int, expected: float
) -> None:
    logs = record(
        "l",
        "aws:cloudwatch/logGroup:LogGroup",
        {"name": group, "retentionInDays": float(retention)},
    )
    priced = line([logs])
    assert priced["monthly_usd_idle"] == round(expected, 2)
    assert f"assumed {log_ingestion(group)[0]} GB/day" in priced["basis"]


def test_a_log_group_of_an_unknown_kind_or_without_retention_is_a_finding() -> None:
    unknown = record(
        "l", "aws:cloudwatch/logGroup:LogGroup", {"name": "/app/x", "retentionInDays": 7.0}
    )
    assert "log group '/app/x' has no ingestion assumption" in finding([unknown])
    forever = record("l", "aws:cloudwatch/logGroup:LogGroup", {"name": "/aws/eks/c/cluster"})
    assert "keeps its logs forever" in finding([forever])


def test_database_single_and_multi_az_with_managed_secret() -> None:
    single = record(
        "d",
        "aws:rds/instance:Instance",
        {
            "engine": "postgres",
            "instanceClass": "db.t4g.small",
            "allocatedStorage": 20.0,
            "manageMasterUserPassword": True,
        },
    )
    assert line([single])["monthly_usd_idle"] == round(0.036 * H + 20 * 0.127 + 0.40, 2)
    multi = record(
        "d",
        "aws:rds/instance:Instance",
        {
            "engine": "mysql",
            "instanceClass": "db.m7g.large",
            "allocatedStorage": 100.0,
            "multiAz": True,
        },
    )
    assert line([multi])["monthly_usd_idle"] == round(2 * 0.178 * H + 100 * 0.254, 2)


def test_database_long_performance_insights_retention_is_a_finding() -> None:
    db = record(
        "d",
        "aws:rds/instance:Instance",
        {
            "engine": "postgres",
            "instanceClass": "db.m7g.large",
            "performanceInsightsEnabled": True,
            "performanceInsightsRetentionPeriod": 731.0,
        },
    )
    assert "Performance Insights retention 731 days is not priced" in finding([db])
    free = record(
        "d",
        "aws:rds/instance:Instance",
        {
            "engine": "postgres",
            "instanceClass": "db.m7g.large",
            "performanceInsightsEnabled": True,
            "performanceInsightsRetentionPeriod": 7.0,
        },
    )
    assert "free tier" in line([free])["basis"]


def test_bucket_is_listed_at_zero_with_its_rate() -> None:
    bucket = line([record("b", "aws:s3/bucket:Bucket")])
    assert bucket["monthly_usd_idle"] == 0.0
    assert "$0.023/GB-month" in bucket["basis"]


def test_ecr_repository_at_its_lifecycle_cap() -> None:
    repo = record("r", "aws:ecr/repository:Repository", {"name": "mlflow"})
    policy = {
        "rules": [
            {"selection": {"countType": "sinceImagePushed"}},
            {"selection": {"countType": "imageCountMoreThan", "countNumber": 30}},
        ]
    }
    lifecycle = record(
        "p", "aws:ecr/lifecyclePolicy:LifecyclePolicy", {"policy": json.dumps(policy)}, deps=["r"]
    )
    result = price([repo, lifecycle])
    (only,) = result.lines
    assert round(only.idle, 2) == round(30 * 0.5 * 0.10, 2)
    assert "no lifecycle policy caps its images" in finding([repo])


# --- Kubernetes objects that create AWS resources -------------------------------------------------


def _lb(annotations: dict[str, str] | None = None, **spec: Any) -> PlannedObject:
    return obj(
        "Service",
        "gw",
        "istio-system",
        annotations=annotations,
        spec={"type": "LoadBalancer", **spec},
    )


def test_a_load_balancer_service_of_the_controller_is_one_nlb() -> None:
    priced = line([], [_lb(LBC)])
    assert priced["monthly_usd_idle"] == round(0.0252 * H, 2)
    assert priced["name"] == "nlb:istio-system/gw"
    by_class = line([], [_lb(loadBalancerClass="service.k8s.aws/nlb")])
    assert by_class["monthly_usd_idle"] == round(0.0252 * H, 2)


def test_an_internet_facing_nlb_adds_an_address_per_az() -> None:
    public = line(
        [], [_lb({**LBC, "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"})]
    )
    assert public["monthly_usd_idle"] == round(0.0252 * H + 3 * 0.005 * H, 2)


def test_a_load_balancer_service_no_controller_owns_is_a_finding() -> None:
    assert "LoadBalancer Service istio-system/Service/gw" in finding([], [_lb()])


def test_a_cluster_ip_service_costs_nothing() -> None:
    result = price([], [obj("Service", "s", "ns", spec={"type": "ClusterIP"})])
    assert result.lines == [] and result.findings == []


def test_claims_at_their_storage_class_price() -> None:
    pvc = obj(
        "PersistentVolumeClaim",
        "data",
        "mlflow",
        spec={"resources": {"requests": {"storage": "10Gi"}}},
    )
    assert line([], [gp3_class(), pvc])["monthly_usd_idle"] == round(10 * 0.088, 2)
    sts = obj(
        "StatefulSet",
        "db",
        "ns",
        api_version="apps/v1",
        spec={
            "replicas": 3,
            "volumeClaimTemplates": [
                {
                    "spec": {
                        "storageClassName": "gp3-encrypted",
                        "resources": {"requests": {"storage": "8Gi"}},
                    }
                }
            ],
        },
    )
    assert line([], [gp3_class(), sts])["monthly_usd_idle"] == round(3 * 8 * 0.088, 2)
    prometheus = obj(
        "Prometheus",
        "p",
        "monitoring",
        api_version="monitoring.coreos.com/v1",
        spec={
            "replicas": 2,
            "storage": {
                "volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "20Gi"}}}}
            },
        },
    )
    assert line([], [gp3_class(), prometheus])["monthly_usd_idle"] == round(2 * 20 * 0.088, 2)


def test_a_claim_of_an_unpriced_or_missing_storage_class_is_a_finding() -> None:
    pvc = obj(
        "PersistentVolumeClaim",
        "data",
        "ns",
        spec={"storageClassName": "efs", "resources": {"requests": {"storage": "1Gi"}}},
    )
    assert "storage class 'efs' (not planned) is not priced" in finding([], [gp3_class(), pvc])
    bare = obj(
        "PersistentVolumeClaim", "data", "ns", spec={"resources": {"requests": {"storage": "1Gi"}}}
    )
    assert "names no storage class and none is default" in finding(
        [], [gp3_class(default=False), bare]
    )


# --- classification ------------------------------------------------------------------------------


def test_an_unclassified_type_is_a_finding_naming_it() -> None:
    message = finding([record("x", "aws:elasticache/cluster:Cluster")])
    assert "Type aws:elasticache/cluster:Cluster is neither priced nor declared free" in message
    types = price(
        [record("x", "aws:elasticache/cluster:Cluster"), record("k", "aws:kms/key:Key")]
    ).as_json()["types"]
    assert types == {
        "aws:elasticache/cluster:Cluster": "unclassified",
        "aws:kms/key:Key": "priced: customer-managed key",
    }
    ingress = obj("Ingress", "web", "ns", api_version="networking.k8s.io/v1")
    assert "kubernetes:networking.k8s.io/v1:Ingress" in finding([], [ingress])


def test_an_unknown_region_is_a_finding_and_prices_nothing() -> None:
    result = estimate([record("n", "aws:ec2/natGateway:NatGateway")], region="ap-south-2")
    assert result.lines == []
    assert "region 'ap-south-2' is not in the price table" in result.findings[0].message


def test_the_table_entries_are_well_formed() -> None:
    for typ, rule in CLASSIFICATION.items():
        if isinstance(rule, Free):
            assert rule.reason, typ
        else:
            assert isinstance(rule, Priced | PricedObject) and rule.what and callable(rule.price), (
                typ
            )
        if isinstance(rule, PricedObject):
            assert typ.startswith("kubernetes:"), typ


def test_every_type_of_every_plan_is_priced_or_declared_free(
    plans: dict[str, dict[str, Any]],
) -> None:
    """Every resource type of dev, staging and prod, and every kind the cluster would receive
    (the program's objects and the rendered charts', as the plan saw them), is in the one
    table: priced, or free with its reason."""
    shared_charts_or_skip()  # without the charts the plans see no rendered object
    seen: dict[str, set[str]] = {}
    for stack, plan in plans.items():
        cost = json.loads((plan["dir"] / "cost.json").read_text())
        resource_types = {r["type"] for r in plan["resources"]}
        assert resource_types <= set(cost["types"]), stack  # the plan classified them all
        assert any(t.startswith("kubernetes:apps/v1:") for t in cost["types"]), stack  # rendered
        for typ, how in cost["types"].items():
            assert how != "unclassified", (stack, typ)
            seen.setdefault(typ, set()).add(stack)
    unclassified = sorted(t for t in seen if classify(t) is None)
    assert unclassified == []
    priced = sorted(t for t in seen if isinstance(classify(t), Priced | PricedObject))
    # The billable types these plans create, each priced (not declared free).
    for billable in (
        "eks:index:Cluster",
        "eks:index:ManagedNodeGroup",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:kms/key:Key",
        "aws:secretsmanager/secret:Secret",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:rds/instance:Instance",
        "aws:s3/bucket:Bucket",
        "kubernetes:core/v1:Service",
        "kubernetes:monitoring.coreos.com/v1:Prometheus",
    ):
        assert billable in priced, billable


# --- the floor -----------------------------------------------------------------------------------


def _floor_plan(cpu: str) -> tuple[list[dict[str, Any]], list[PlannedObject]]:
    labels = {"mlops-platform.io/pool": "general"}
    records = [
        record("c", "eks:index:Cluster", {"version": "1.36"}, custom=False),
        {**_group("ON_DEMAND", ["t3.large"], 2.0, 4.0, labels=labels)},
        LAUNCH_TEMPLATE,
        record("n", "aws:ec2/natGateway:NatGateway"),
        record("e", "aws:ec2/eip:Eip"),
        record(
            "d",
            "aws:rds/instance:Instance",
            {"engine": "postgres", "instanceClass": "db.t4g.small", "allocatedStorage": 20.0},
        ),
    ]
    objects = [
        workload("Deployment", "app", "ns", [container(cpu, "512Mi")], replicas=3),
        workload("DaemonSet", "agent", "ns", [container("25m", "32Mi")], pool=None),
        workload("DaemonSet", "gpu-agent", "ns", [container("1", "1Gi")], pool="gpu"),
        _lb(LBC),
    ]
    return records, objects


def test_floor_lines_and_ratio() -> None:
    records, objects = _floor_plan("500m")
    result = price(records, objects)
    assert not result.findings
    names = [f.name for f in result.floor]
    assert names == [
        "EKS control plane",
        "1 general node(s)",
        "one NAT gateway",
        "postgres db.t4g.micro",
        "one load balancer",
    ]
    expected = (
        0.10 * H
        + (0.0912 * H + 50 * 0.088)
        + (0.048 + 0.005) * H
        + (0.018 * H + 20 * 0.127)
        + 0.0252 * H
    )
    assert round(result.floor_total, 2) == round(expected, 2)
    assert result.ratio == round(result.idle / result.floor_total, 3)
    assert result.floor_note.startswith("1 t3.large node(s): the fewest the capacity check packs")


def test_floor_prices_the_general_nodes_the_capacity_check_packs() -> None:
    records, objects = _floor_plan("700m")
    result = price(records, objects, general_nodes=2)
    assert [f.name for f in result.floor][1] == "2 general node(s)"
    one = price(records, objects, general_nodes=1)
    assert round(result.floor_total - one.floor_total, 2) == round(0.0912 * H + 50 * 0.088, 2)


def test_floor_without_a_packing_is_a_finding_not_a_guess() -> None:
    records, objects = _floor_plan("700m")
    result = price(records, objects, general_nodes=None)
    [finding] = result.findings
    assert finding.subject == "floor" and "no general node count" in finding.message


def test_real_plans_floor_takes_the_capacity_checks_count(plans: dict[str, dict[str, Any]]) -> None:
    shared_charts_or_skip()
    checks = json.loads((plans["dev"]["dir"] / "checks.json").read_text())
    [capacity] = [c for c in checks if c["name"] == "capacity"]
    [general] = [p for p in capacity["details"]["pools"] if p["pool"] == "general"]
    floor = _cost(plans, "dev")["floor"]
    assert f"{general['fewest_nodes']} general node(s)" in [line["name"] for line in floor["lines"]]


# --- the real plans ------------------------------------------------------------------------------


def _cost(plans: dict[str, dict[str, Any]], stack: str) -> dict[str, Any]:
    return json.loads((plans[stack]["dir"] / "cost.json").read_text())


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_real_plans_are_priced_completely(plans: dict[str, dict[str, Any]], stack: str) -> None:
    shared_charts_or_skip()  # the NLB and the Prometheus volume come from rendered charts
    cost = _cost(plans, stack)
    assert cost["unpriced"] == []
    assert cost["price_table"] == {"date": "2026-12-01", "region": "eu-west-1", "currency": "USD"}
    lines = cost["resources"]
    # Within a cent: the lines are rounded one by one (608.9499... vs 608.95 on staging).
    assert sum(r["monthly_usd_idle"] for r in lines) == pytest.approx(
        cost["total_monthly_usd_idle"], abs=0.01
    )
    assert cost["total_monthly_usd_idle"] < cost["total_monthly_usd_max"]
    types = {r["type"] for r in lines}
    # The items the report used to omit are there.
    assert {
        "NLB",
        "aws:kms/key:Key",
        "aws:secretsmanager/secret:Secret",
        "aws:cloudwatch/logGroup:LogGroup",
        "Prometheus volume",
    } <= types
    assert cost["floor"]["idle_over_floor"] == round(
        cost["total_monthly_usd_idle"] / cost["floor"]["monthly_usd"], 3
    )


def test_dev_cost_lines(plans: dict[str, dict[str, Any]]) -> None:
    shared_charts_or_skip()
    lines = {r["name"]: r for r in _cost(plans, "dev")["resources"]}
    # The control plane at the rate of dev's version on the table's date (1.33 here:
    # in extended support since 2026-07-29, $0.60/h).
    version = next(r for r in plans["dev"]["resources"] if r["type"] == "eks:index:Cluster")[
        "inputs"
    ]["version"]
    rate = support_rate(version, date.fromisoformat(PRICE_TABLE_DATE))[0]
    assert lines["cluster-eks"]["monthly_usd_idle"] == (0.60 if rate == "extended" else 0.10) * H
    assert lines["general-mng"]["monthly_usd_idle"] == round(3 * (0.0912 * H + 50 * 0.088), 2)
    assert lines["gpu-mng"]["monthly_usd_idle"] == 0.0
    (nlb,) = [r for r in lines.values() if r["type"] == "NLB"]  # the gateway's Service
    assert nlb["monthly_usd_idle"] == round(0.0252 * H, 2)
    assert lines["pvc:monitoring/kube-prometheus-stack-prometheus"]["monthly_usd_idle"] == round(
        20 * 0.088, 2
    )
    # The RDS-managed master secrets are priced with their databases, ours on their own.
    assert "RDS-managed master secret" in lines["db-mlflow-instance"]["basis"]
    assert lines["secret-grafana-admin"]["monthly_usd_idle"] == 0.4


def test_staging_and_prod_price_interface_endpoints_per_az(
    plans: dict[str, dict[str, Any]],
) -> None:
    for stack in ("staging", "prod"):
        endpoints = [
            r
            for r in _cost(plans, stack)["resources"]
            if r["type"] == "aws:ec2/vpcEndpoint:VpcEndpoint" and r["monthly_usd_idle"]
        ]
        assert len(endpoints) == 5, stack  # STS, ECR api, ECR dkr, Secrets Manager, Logs
        assert all(e["monthly_usd_idle"] == round(3 * 0.011 * H, 2) for e in endpoints)
    prod = _cost(plans, "prod")["resources"]
    assert len([r for r in prod if r["type"] == "aws:ec2/natGateway:NatGateway"]) == 3
