"""Rules every Containerfile of images/ keeps, checked on its text (standard library only).

What the images promise (docs/images.md) and a build cannot show by succeeding: the
runtime user is numeric and not root, the process starts without a shell, no secret
is baked into the configuration or a layer, pip installs only hashed pins, and the
base is the mmdebstrap one (no registry pull). `findings(text)` returns one line per
broken rule, each starting with the rule's name.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

REQUIRED_LABELS = (
    "org.opencontainers.image.source",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.version",
)
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|ACCESS_KEY|PIP_CERT", re.IGNORECASE)
_KEY_MATERIAL = re.compile(r"\.(pem|crt|key|p12)$|ca-certificates|/secrets?/", re.IGNORECASE)
_NUMERIC_USER = re.compile(r"^([0-9]+)(?::([0-9]+))?$")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int


def instructions(text: str) -> list[Instruction]:
    """The instructions of a Containerfile, continuation lines joined, comments dropped."""
    result: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        joined = " ".join(part for part in pending if part)
        keyword, _, arguments = joined.partition(" ")
        result.append(Instruction(keyword.upper(), arguments.strip(), start))
        pending = []
    return result


def _final_stage(parsed: list[Instruction]) -> list[Instruction]:
    starts = [i for i, ins in enumerate(parsed) if ins.keyword == "FROM"]
    return parsed[starts[-1] :] if starts else parsed


def _env_names(arguments: str) -> list[str]:
    if "=" not in arguments.split(" ", 1)[0]:
        return [arguments.split(" ", 1)[0]]  # legacy `ENV NAME value`
    return [word.split("=", 1)[0] for word in shlex.split(arguments) if "=" in word]


def findings(text: str) -> list[str]:  # noqa: PLR0912 - one rule per branch reads best
    parsed = instructions(text)
    found: list[str] = []
    froms = [ins for ins in parsed if ins.keyword == "FROM"]
    if not froms:
        found.append("from: no FROM instruction")
    for ins in froms:
        image = ins.arguments.split()[0] if ins.arguments else ""
        if image != "${BASE_IMAGE}":
            found.append(
                f"from: line {ins.line} builds FROM {image!r}; allowed: ${{BASE_IMAGE}} "
                "(the mmdebstrap base, no registry pull)"
            )
    final = _final_stage(parsed)
    users = [ins for ins in final if ins.keyword == "USER"]
    if not users:
        found.append("user: the final stage sets no USER; allowed: a numeric uid:gid, not 0")
    else:
        match = _NUMERIC_USER.match(users[-1].arguments)
        if match is None or match.group(1) == "0" or match.group(2) == "0":
            found.append(
                f"user: line {users[-1].line} USER {users[-1].arguments!r}; "
                "allowed: a numeric uid:gid, not 0"
            )
    for ins in final:
        if ins.keyword in ("ENTRYPOINT", "CMD"):
            try:
                exec_form = isinstance(json.loads(ins.arguments), list)
            except json.JSONDecodeError:
                exec_form = False
            if not exec_form:
                found.append(
                    f"exec-form: line {ins.line} {ins.keyword} in shell form starts /bin/sh; "
                    'allowed: a JSON array, e.g. ["/opt/venv/bin/mlflow"]'
                )
    labels = " ".join(ins.arguments for ins in final if ins.keyword == "LABEL")
    for label in REQUIRED_LABELS:
        if f"{label}=" not in labels:
            found.append(f"labels: the final stage has no {label} label")
    for ins in parsed:
        if ins.keyword in ("ENV", "ARG"):
            for name in _env_names(ins.arguments):
                if _SECRET_NAME.search(name):
                    found.append(
                        f"secrets: line {ins.line} {ins.keyword} {name} would stay in the "
                        "image's configuration; allowed: a build secret mount"
                    )
        if ins.keyword in ("COPY", "ADD"):
            sources = [w for w in ins.arguments.split()[:-1] if not w.startswith("--")]
            for source in sources:
                if _KEY_MATERIAL.search(source):
                    found.append(
                        f"secrets: line {ins.line} {ins.keyword} {source} puts key material "
                        "in a layer; allowed: RUN --mount=type=secret"
                    )
                if source.startswith(("http://", "https://")):
                    found.append(
                        f"pins: line {ins.line} {ins.keyword} {source} fetches an unpinned "
                        "file; allowed: files of the build context"
                    )
        if ins.keyword == "RUN":
            if "PIP_CERT" in ins.arguments and "--mount=type=secret" not in ins.arguments:
                found.append(
                    f"secrets: line {ins.line} names PIP_CERT without a secret mount; "
                    "allowed: RUN --mount=type=secret,id=ca-bundle,..."
                )
            if re.search(r"pip install", ins.arguments) and "--require-hashes" not in ins.arguments:
                found.append(
                    f"pins: line {ins.line} pip install without --require-hashes; "
                    "allowed: hash-pinned requirements only"
                )
    return found
