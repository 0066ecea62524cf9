"""platformctl.analyzer: policy.json from both packs run through the analyzer protocol."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from platformctl import analyzer

from .fixtures import TAGS, aws_baseline, k8s_baseline
from .policy_harness import ALL_POLICIES, PROJECT, STACK, evaluate, find, inputs, rec

SIG = "4dabf18193072939515e22adb298388d"


def test_replace_references_uses_id_then_urn() -> None:
    value = {
        "cluster": {SIG: "5cf8f73096256a8f31e491e813e4eb8e", "urn": "urn:c"},
        "role": [{SIG: "5cf8f73096256a8f31e491e813e4eb8e", "urn": "urn:r", "id": "role-id"}],
        "password": {SIG: "1b47061264138c4ac30d75fd1eb44270", "value": "[secret]"},
    }
    assert analyzer.replace_references(value) == {
        "cluster": "urn:c",
        "role": ["role-id"],
        "password": {SIG: "1b47061264138c4ac30d75fd1eb44270", "value": "[secret]"},
    }


def report_records() -> list[dict[str, Any]]:
    """Both baselines, a public database (mandatory) and a public subnet (advisory)."""
    records = aws_baseline() + k8s_baseline()
    inputs(records, "aws:rds/instance:Instance", "db")["publiclyAccessible"] = True
    records.append(public_subnet())
    return records


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return analyzer.run_policy_packs(report_records(), project=PROJECT, stack=STACK)


def public_subnet() -> dict[str, Any]:
    """A subnet for load balancers: public IPs on launch (an advisory), no node group in it."""
    return rec(
        "aws:ec2/subnet:Subnet",
        "public-0",
        {
            "vpcId": "vpc-id",
            "cidrBlock": "10.40.96.0/24",
            "mapPublicIpOnLaunch": True,
            "tags": TAGS,
        },
    )


@pytest.mark.engine
def test_violations_and_counts(report: dict[str, Any]) -> None:
    records = aws_baseline()
    db_urn = find(records, "aws:rds/instance:Instance", "db")["urn"]
    subnet_urn = public_subnet()["urn"]
    assert report["violations"] == [
        {
            "policy": "aws-rds-instance-not-public",
            "pack": "mlops-aws",
            "level": "mandatory",
            "severity": "critical",
            "urn": db_urn,
            "message": "The RDS instance 'db' must not be publicly accessible.",
        },
        {
            "policy": "aws-ec2-subnet-no-auto-public-ip",
            "pack": "mlops-aws",
            "level": "advisory",
            "severity": "medium",
            "urn": subnet_urn,
            "message": "The subnet 'public-0' assigns public IP addresses to instances at launch.",
        },
    ]
    assert report["mandatory_violations"] == 1
    assert report["advisories"] == [
        {
            "policy": "aws-ec2-subnet-no-auto-public-ip",
            "count": 1,
            "reason": analyzer.ADVISORY_REASONS["aws-ec2-subnet-no-auto-public-ip"],
        }
    ]
    assert report["unexplained_advisories"] == []


@pytest.mark.engine
def test_evaluated_counts_match_direct_calls(report: dict[str, Any]) -> None:
    _, direct = evaluate(ALL_POLICIES, report_records())
    by_name = {r["policy"]: r for r in report["rules"]}
    for name, count in direct.items():
        assert by_name[name]["evaluated"] == count, name
    # A stack rule counts the captured resources of its types.
    assert by_name["aws-s3-bucket-sse-kms"]["evaluated"] == 2  # the bucket and its SSE config
    assert by_name["aws-s3-bucket-sse-kms"]["benchmark"] == ["CKV_AWS_145"]
    # Nothing in the fixture is an aws:rds/cluster or a LoadBalancer-less type...
    not_evaluated = {r["policy"] for r in report["not_evaluated"]}
    assert not_evaluated == {n for n, r in by_name.items() if r["evaluated"] == 0}


@pytest.mark.engine
def test_config_reaches_the_pack_and_unknown_policies_are_refused() -> None:
    records = aws_baseline()
    result = analyzer.run_policy_packs(
        records,
        project=PROJECT,
        stack=STACK,
        pack_dirs=[analyzer.DEFAULT_PACK_DIRS[0]],
        config={"aws-rds-backup-retention-period": {"minimumDays": 14}},
    )
    assert {v["policy"] for v in result["violations"]} == {"aws-rds-backup-retention-period"}
    with pytest.raises(analyzer.PolicyPackError, match="no-such-policy"):
        analyzer.run_policy_packs(
            records,
            project=PROJECT,
            stack=STACK,
            pack_dirs=[analyzer.DEFAULT_PACK_DIRS[0]],
            config={"no-such-policy": {}},
        )


@pytest.mark.engine
def test_command_line_exit_status(tmp_path: pathlib.Path, capsys) -> None:  # type: ignore[no-untyped-def]
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps(k8s_baseline()))
    assert analyzer.main([str(clean), "--stack", STACK]) == 0
    assert json.loads(capsys.readouterr().out)["mandatory_violations"] == 0
    bad = k8s_baseline()
    bad[0]["inputs"]["metadata"]["labels"] = {}
    dirty = tmp_path / "dirty.json"
    dirty.write_text(json.dumps(bad))
    assert analyzer.main([str(dirty), "--stack", STACK]) == 1


def test_a_pack_that_does_not_start_is_reported(tmp_path: pathlib.Path) -> None:
    (tmp_path / "__main__.py").write_text("raise SystemExit('broken pack')\n")
    with pytest.raises(analyzer.PolicyPackError, match="did not print its port"):
        analyzer.run_policy_packs([], project=PROJECT, stack=STACK, pack_dirs=[tmp_path])
