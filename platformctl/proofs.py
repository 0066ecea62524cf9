"""The plan's offline proofs over everything the cluster would run.

docs/decisions/0030-offline-proofs.md.

The program's own objects and the rendered charts, checked side by side: schemas,
values, the policy packs over the rendered objects as a real preview shows them
(platformctl/plan.py runs the packs), and the connectivity map. Each proof is a
`CheckResult`; a proof that cannot run here (its tool is missing) says so as a
non-mandatory result instead of passing silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from platformctl.checks import CheckResult, Finding, PlannedObject

Proof = Callable[[], CheckResult]


def not_run(name: str, reason: str) -> CheckResult:
    """A proof the plan could not run, reported as such (it proves nothing)."""
    return CheckResult(
        name=name,
        mandatory=False,
        evaluated=0,
        findings=[Finding(name, "plan", f"not run: {reason}")],
    )


def schemas(objects: Sequence[PlannedObject], minor: str) -> CheckResult:
    from platformctl.validate import (  # noqa: PLC0415 - jsonschema is slow to load
        DEFAULT_CRD_SCHEMA_DIR,
        check_schemas,
        default_schema_cache,
    )

    return check_schemas(objects, minor, DEFAULT_CRD_SCHEMA_DIR, cache=default_schema_cache())


def values(
    resources: Sequence[Mapping[str, Any]], chart_cache: Path | None, kept: Path | None = None
) -> CheckResult:
    """`kept`: where what was read of each chart is kept between plans (beside its renders)."""
    from platformctl.render import helm_releases  # noqa: PLC0415
    from platformctl.values import CHECK, check_values  # noqa: PLC0415

    if chart_cache is None:
        return not_run(CHECK, "no chart cache (make charts)")
    return check_values(helm_releases(resources), chart_cache, kept=kept)


def connectivity(
    objects: Sequence[PlannedObject], resources: Sequence[Mapping[str, Any]]
) -> CheckResult:
    from platformctl.checks.addresses import network_from_resources  # noqa: PLC0415
    from platformctl.checks.connectivity import NAME, check_connectivity  # noqa: PLC0415
    from platformctl.checks.nca import DEFAULT_NCA, default_cache_dir  # noqa: PLC0415

    if not DEFAULT_NCA.exists():
        return not_run(
            NAME,
            f"network-config-analyzer is not installed ({DEFAULT_NCA}: make .venv-nca/.installed)",
        )
    return check_connectivity(
        objects, network_from_resources(resources), cache_dir=default_cache_dir()
    )


def aws_layer(resources: Sequence[Mapping[str, Any]], cluster_name: str) -> list[CheckResult]:
    """The AWS layer's own proofs over resources.json (docs/decisions/0032): physical names
    that derive from the cluster's, IAM before what uses it, condition keys each action
    carries, RDS parameters valid for their family, and what a destroy leaves behind."""
    from platformctl.checks import (  # noqa: PLC0415
        iam_conditions,
        iam_order,
        names,
        rds_parameters,
        teardown,
    )

    return [
        names.check_names(resources, cluster_name),
        iam_order.check_iam_order(resources),
        iam_conditions.check_iam_conditions(resources),
        rds_parameters.check_rds_parameters(resources),
        teardown.check_teardown(resources),
        teardown.check_recreate(resources),  # advisory
    ]


def run_all(proofs: Sequence[Proof], workers: int = 2) -> list[CheckResult]:
    """Run the proofs side by side (nca and the packs are processes of their own)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [future.result() for future in [pool.submit(proof) for proof in proofs]]
