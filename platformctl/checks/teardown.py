"""`pulumi destroy`, and the `pulumi up` after it: what the teardown keeps must stay usable.

A destroy either removes a stateful resource or keeps it, and each way has a failure
no preview shows:

- a versioned bucket that is neither force-destroyed nor kept fails the destroy with
  BucketNotEmpty (versions and delete markers stay behind);
- a kept bucket or a final snapshot encrypted with a key the destroy schedules for
  deletion becomes unreadable when the key goes (30 days later);
- a kept bucket whose configuration is deleted loses its encryption default, versioning,
  public-access block and TLS-only policy;
- a final snapshot with a fixed name collides with itself on the second destroy (after
  a re-create): DBSnapshotAlreadyExists, and the instance is not deleted.

`check_teardown` proves these on resources.json (mandatory). `check_recreate` reports
what blocks re-creating a destroyed stack for a while: a Secrets Manager secret with a
recovery window keeps its name for that many days ("scheduled for deletion"). It is
advisory: whether a stack is re-created within the window is the user's to know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from platformctl.checks import CheckResult, Finding

NAME = "teardown"
RECREATE = "teardown-recreate"
BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
KMS_KEY = "aws:kms/key:Key"
INSTANCE = "aws:rds/instance:Instance"
SECRET = "aws:secretsmanager/secret:Secret"  # noqa: S105 - a type token
RANDOM_PACKAGE = "random:"


def _kept(record: Mapping[str, Any]) -> bool:
    """The destroy leaves it: retained (dropped from state), or protected (refused)."""
    return bool(record.get("retain_on_delete") or record.get("protect"))


def _deps(record: Mapping[str, Any], key: str) -> list[str]:
    return list((record.get("property_dependencies") or {}).get(key) or [])


def _short(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def check_teardown(resources: Sequence[Mapping[str, Any]]) -> CheckResult:
    by_urn = {r["urn"]: r for r in resources}
    buckets = {u: r for u, r in by_urn.items() if r["type"] == BUCKET}
    # bucket urn -> its configuration resources (anything whose `bucket` input is it)
    config: dict[str, list[Mapping[str, Any]]] = {u: [] for u in buckets}
    for r in resources:
        for u in _deps(r, "bucket"):
            if u in config:
                config[u].append(r)
    findings: list[Finding] = []

    def key_outlives(holder: str, what: str, key_urns: list[str]) -> None:
        for key in key_urns:
            record = by_urn.get(key)
            if record is not None and record["type"] == KMS_KEY and not _kept(record):
                findings.append(
                    Finding(
                        NAME,
                        holder,
                        f"{what} survives `pulumi destroy`, but its KMS key '{record['name']}' "
                        "is scheduled for deletion by it: retain the key "
                        "(retain_on_delete) so what it encrypts stays readable.",
                    )
                )

    for urn, bucket in buckets.items():
        versioned = any(
            c["type"] == VERSIONING
            and ((c.get("inputs") or {}).get("versioningConfiguration") or {}).get("status")
            == "Enabled"
            for c in config[urn]
        )
        force = bool((bucket.get("inputs") or {}).get("forceDestroy"))
        if versioned and not force and not _kept(bucket):
            findings.append(
                Finding(
                    NAME,
                    bucket["name"],
                    f"The versioned bucket '{bucket['name']}' is neither force-destroyed nor "
                    "kept: `pulumi destroy` fails with BucketNotEmpty.",
                )
            )
        if not _kept(bucket):
            continue
        for c in config[urn]:
            if not _kept(c):
                kind = c["type"].rsplit(":", 1)[-1]
                findings.append(
                    Finding(
                        NAME,
                        c["name"],
                        f"The kept bucket '{bucket['name']}' loses its {kind} '{c['name']}' on "
                        "`pulumi destroy`: retain it with the bucket.",
                    )
                )
            if c["type"] == SSE:
                key_outlives(c["name"], f"The kept bucket '{bucket['name']}'", _deps(c, "rules"))

    for instance in (r for r in resources if r["type"] == INSTANCE):
        inputs = instance.get("inputs") or {}
        if inputs.get("skipFinalSnapshot", False) is not False:
            continue
        what = f"The final snapshot of '{instance['name']}'"
        key_outlives(instance["name"], what, _deps(instance, "kmsKeyId"))
        name_deps = _deps(instance, "finalSnapshotIdentifier")
        if not any(by_urn.get(u, {}).get("type", "").startswith(RANDOM_PACKAGE) for u in name_deps):
            findings.append(
                Finding(
                    NAME,
                    instance["name"],
                    f"{what} has the fixed name "
                    f"{inputs.get('finalSnapshotIdentifier')!r}: the destroy after a re-create "
                    "fails with DBSnapshotAlreadyExists; derive it from a value drawn per "
                    "instance (a random suffix).",
                )
            )
    evaluated = len(buckets) + sum(1 for r in resources if r["type"] == INSTANCE)
    return CheckResult(name=NAME, mandatory=True, evaluated=evaluated, findings=findings)


def check_recreate(resources: Sequence[Mapping[str, Any]]) -> CheckResult:
    secrets = [r for r in resources if r["type"] == SECRET]
    findings = []
    for secret in secrets:
        # Secrets Manager's default recovery window is 30 days.
        window = (secret.get("inputs") or {}).get("recoveryWindowInDays", 30)
        if window and not _kept(secret):
            name = (secret.get("inputs") or {}).get("name", secret["name"])
            findings.append(
                Finding(
                    RECREATE,
                    secret["name"],
                    f"The secret {name!r} has a {int(window)}-day recovery window: after "
                    f"`pulumi destroy`, re-creating the stack within {int(window)} days fails "
                    "on its name (scheduled for deletion).",
                )
            )
    return CheckResult(name=RECREATE, mandatory=False, evaluated=len(secrets), findings=findings)
