"""The policy packs' answers, cached by everything that determines them.

A pack's answer to ``Analyze`` for one resource is a function of: the pack's code (its
directory and the policy kit it imports), the SDK and interpreter that run it, its
configuration, the project and stack (the engine's environment, which a rule reads:
``mlops_policy_kit.resources.environment``) and the request, which
``platformctl.analyzer`` builds from the resource's record and, for the AWS provider's
default tags, its provider's record. ``AnalyzeStack``'s answer is a function of the same
with every resource it is sent. So a pack's answers are kept per *fingerprint* (the digest
of all but the requests), each keyed by the digest of what its request is built from:
re-planning an unchanged stack starts no pack, and after a change only the resources that
changed are sent. Rules must be pure functions of those inputs:
``tests/policies/test_pack_answers.py`` holds the packs to it (no clock, randomness,
files, processes or network; the environment only for the stack's name).

Stored under ``$MLOPS_POLICY_CACHE`` (else ``<XDG cache>/mlops-platform/policy``), one file
per fingerprint holding the answers of its latest plan (so it never grows past one plan):
``{"info": b64, "analyze": {key: b64}, "stack": {key: b64}}``, each a serialized protobuf
message exactly as the pack sent it. A file that does not parse is a miss, never an error.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from platformctl.cache_dirs import cache_dir, write_atomically

ENV_POLICY_CACHE: Final = "MLOPS_POLICY_CACHE"
KIT_DIR: Final = Path(__file__).resolve().parent.parent / "policies" / "kit" / "mlops_policy_kit"
_SKIPPED_PARTS: Final = frozenset({"__pycache__"})


def default_policy_cache(environ: Mapping[str, str] = os.environ) -> Path:
    """$MLOPS_POLICY_CACHE, else `<XDG cache>/mlops-platform/policy`."""
    return cache_dir(ENV_POLICY_CACHE, "policy", environ)


def _tree_digest(root: Path) -> str:
    """sha256 over the sorted (relative path, contents) of a folder's files, bytecode aside."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        if _SKIPPED_PARTS.intersection(relative.parts) or path.suffix == ".pyc":
            continue
        data = path.read_bytes()
        digest.update(f"{relative.as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def fingerprint(
    pack_dir: Path,
    *,
    project: str,
    stack: str,
    config: Mapping[str, Any],
    kit_dir: Path = KIT_DIR,
) -> str:
    """The digest of everything but the requests that a pack's answers depend on."""
    material = {
        "pack": _tree_digest(pack_dir),
        "kit": _tree_digest(kit_dir) if kit_dir.is_dir() else None,
        "sdk": metadata.version("pulumi_policy"),
        "python": sys.version,
        "project": project,
        "stack": stack,
        "config": config,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def request_key(record: Mapping[str, Any], provider: Mapping[str, Any] | None) -> str:
    """The digest of what a resource's requests are built from: its record (inputs, parent,
    dependencies...) and the provider record sent with it, if any."""
    material = json.dumps([record, provider], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


def stack_key(keys: Iterable[str]) -> str:
    """The digest of an AnalyzeStack request: the keys of the resources sent, in order."""
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


@dataclass
class PackAnswers:
    """One fingerprint's answers, as serialized protobuf messages: the pack's
    `GetAnalyzerInfo`, `Analyze` by request key, `AnalyzeStack` by stack key."""

    info: bytes | None = None
    analyze: dict[str, bytes] = field(default_factory=dict)
    stack: dict[str, bytes] = field(default_factory=dict)


def _path(directory: Path, pack_fingerprint: str) -> Path:
    return directory / f"{pack_fingerprint}.json"


def _decoded(text: str) -> bytes:
    return base64.b64decode(text, validate=True)  # binascii.Error is a ValueError


def load(directory: Path | None, pack_fingerprint: str) -> PackAnswers:
    """The answers kept for a fingerprint; empty without a cache or a readable file."""
    if directory is None:
        return PackAnswers()
    try:
        data = json.loads(_path(directory, pack_fingerprint).read_text(encoding="utf-8"))
        return PackAnswers(
            info=_decoded(data["info"]),
            analyze={k: _decoded(v) for k, v in data["analyze"].items()},
            stack={k: _decoded(v) for k, v in data["stack"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError):
        return PackAnswers()


def save(
    directory: Path | None,
    pack_fingerprint: str,
    info: bytes,
    analyze: Mapping[str, bytes],
    stack: Mapping[str, bytes],
) -> None:
    """Keep exactly these answers (this plan's) for the fingerprint; atomic."""
    if directory is None:
        return
    document = {
        "info": base64.b64encode(info).decode(),
        "analyze": {k: base64.b64encode(v).decode() for k, v in analyze.items()},
        "stack": {k: base64.b64encode(v).decode() for k, v in stack.items()},
    }
    write_atomically(_path(directory, pack_fingerprint), json.dumps(document))
