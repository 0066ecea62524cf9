"""RDS configuration AWS would refuse or silently ignore: parameters, log exports, versions.

A parameter group accepts only the values its family defines (`describe-engine-default-
parameters` lists them; a boolean instance parameter takes 0 or 1, not ON); a log the
instance exports to CloudWatch is only written when its parameter turns it on; and
with automatic minor upgrades the engine version must be a major prefix. None of this
is visible to a schema. Over resources.json:

- every parameter of every DB parameter group is one this table knows for its engine,
  with an allowed value;
- every log an instance exports has the parameters that produce it in its group;
- an instance's group family matches its engine and version, and with
  `autoMinorVersionUpgrade` its version is a major prefix (`17`, `8.4`).

The table holds the parameters the program sets, each with its source. A parameter
the program starts to set must be added here with its allowed values, or the check
fails on it: the table is what makes a typo or a wrong spelling a finding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from platformctl.checks import CheckResult, Finding

NAME = "rds-parameters"
INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"


@dataclass(frozen=True)
class Parameter:
    allowed: frozenset[str]
    source: str


_MYSQL_LOGS = "RDS User Guide, Publishing MySQL logs to Amazon CloudWatch Logs"
# engine -> parameter -> what the engine's parameter groups accept.
PARAMETERS: Mapping[str, Mapping[str, Parameter]] = {
    "postgres": {
        "rds.force_ssl": Parameter(
            frozenset({"0", "1"}),
            "RDS User Guide, Requiring an SSL connection to a PostgreSQL DB instance",
        ),
    },
    "mysql": {
        # The instance parameter is a 0/1 boolean; ON/OFF is the Aurora cluster spelling.
        "require_secure_transport": Parameter(
            frozenset({"0", "1"}),
            "RDS User Guide, Requiring SSL/TLS for all connections to a MySQL DB instance",
        ),
        "slow_query_log": Parameter(frozenset({"0", "1"}), _MYSQL_LOGS),
        "log_output": Parameter(frozenset({"TABLE", "FILE", "NONE"}), _MYSQL_LOGS),
    },
}

# engine -> exported log -> the parameters (and values) that make the engine write it.
LOG_REQUIREMENTS: Mapping[str, Mapping[str, Mapping[str, str]]] = {
    "postgres": {"postgresql": {}, "upgrade": {}, "iam-db-auth-error": {}},
    "mysql": {
        "error": {},
        "slowquery": {"slow_query_log": "1", "log_output": "FILE"},
        "general": {"general_log": "1", "log_output": "FILE"},
        "audit": {},  # needs an option group with MARIADB_AUDIT_PLUGIN, not a parameter
        "iam-db-auth-error": {},
    },
}

# The major version `engineVersion` takes with automatic minor upgrades, and its family.
MAJOR_VERSION = {"postgres": re.compile(r"\d+"), "mysql": re.compile(r"\d+\.\d+")}


def family_of(engine: str, engine_version: str) -> str:
    """The parameter-group family an engine version belongs to (postgres17, mysql8.4)."""
    parts = engine_version.split(".")
    major = parts[0] if engine == "postgres" else ".".join(parts[:2])
    return f"{engine}{major}"


def _engine_of_family(family: str) -> str:
    return next((e for e in PARAMETERS if family.startswith(e)), "")


def _group_problems(group: Mapping[str, Any]) -> list[str]:
    inputs = group.get("inputs") or {}
    family = str(inputs.get("family", ""))
    engine = _engine_of_family(family)
    known = PARAMETERS.get(engine, {})
    problems = []
    for param in inputs.get("parameters") or []:
        name, value = str(param.get("name")), str(param.get("value"))
        spec = known.get(name)
        if spec is None:
            problems.append(
                f"sets {name}, which the table of {family or 'unknown-family'} parameters does "
                "not hold: add it with its allowed values (describe-engine-default-parameters)"
            )
        elif value not in spec.allowed:
            problems.append(
                f"sets {name} = {value!r}; {family} takes {', '.join(sorted(spec.allowed))} "
                f"({spec.source})"
            )
    return problems


def _group_of(instance: Mapping[str, Any], groups: Mapping[str, Mapping[str, Any]]) -> Any:
    deps = (instance.get("property_dependencies") or {}).get("parameterGroupName") or []
    return next((groups[u] for u in deps if u in groups), None)


def _instance_problems(instance: Mapping[str, Any], group: Mapping[str, Any] | None) -> list[str]:
    inputs = instance.get("inputs") or {}
    engine, version = str(inputs.get("engine", "")), str(inputs.get("engineVersion", ""))
    problems = []
    major = MAJOR_VERSION.get(engine)
    if major and inputs.get("autoMinorVersionUpgrade", True) and not major.fullmatch(version):
        problems.append(
            f"pins engineVersion {version!r} with autoMinorVersionUpgrade on: after RDS "
            "upgrades the minor, the next `pulumi up` plans a downgrade RDS refuses; use "
            "the major prefix"
        )
    set_params: dict[str, str] = {}
    if group is not None:
        group_inputs = group.get("inputs") or {}
        family = str(group_inputs.get("family", ""))
        if version and family != family_of(engine, version):
            problems.append(
                f"runs {engine} {version} with a {family} parameter group; it needs "
                f"{family_of(engine, version)}"
            )
        set_params = {
            str(p.get("name")): str(p.get("value")) for p in group_inputs.get("parameters") or []
        }
    requirements = LOG_REQUIREMENTS.get(engine, {})
    for log in inputs.get("enabledCloudwatchLogsExports") or []:
        if log not in requirements:
            problems.append(
                f"exports the log {log!r}, which {engine} does not write "
                f"(it exports {', '.join(sorted(requirements))})"
            )
            continue
        missing = {k: v for k, v in requirements[log].items() if set_params.get(k) != v}
        if missing:
            wanted = ", ".join(f"{k} = {v}" for k, v in missing.items())
            problems.append(
                f"exports the {log} log, but its parameter group does not set {wanted}: "
                "the export stays empty"
            )
    return problems


def check_rds_parameters(resources: Sequence[Mapping[str, Any]]) -> CheckResult:
    groups = {r["urn"]: r for r in resources if r["type"] == PARAMETER_GROUP}
    instances = [r for r in resources if r["type"] == INSTANCE]
    findings = [
        Finding(NAME, group["name"], f"The DB parameter group '{group['name']}' {problem}.")
        for group in groups.values()
        for problem in _group_problems(group)
    ]
    findings += [
        Finding(NAME, instance["name"], f"The RDS instance '{instance['name']}' {problem}.")
        for instance in instances
        for problem in _instance_problems(instance, _group_of(instance, groups))
    ]
    return CheckResult(
        name=NAME,
        mandatory=True,
        evaluated=len(groups) + len(instances),
        findings=findings,
        details={
            "parameters": sum(
                len((g.get("inputs") or {}).get("parameters") or []) for g in groups.values()
            )
        },
    )
