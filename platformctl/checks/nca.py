"""Run network-config-analyzer (nca, the np-guard project) and read its connectivity map.

nca lives in its own virtualenv (`.venv-nca`: it pins libraries the main
environment pins differently) and is only ever called as a program:

    nca --connectivity policies.yaml --resource_list resources.yaml
        --output_format txt_no_fw_rules --output_endpoints pods

`txt_no_fw_rules` prints one line per (source, destination, connection set):
`<src> => <dst> : <connections>`, where an endpoint is a pod (`namespace/name`)
or IPv4 ranges (`a.b.c.d-e.f.g.h`, comma-separated), and the connections are
`All connections`, `All but <cubes>` or `<cubes>`, a cube being
`{protocols:TCP, UDP,dst_ports:53,8000-8080}` (a missing key: every value).
nca 2.1.0 prints no pair it denies and no flow of a pod to itself.

Runs are cached by the digest of nca's version and inputs: an unchanged plan
does not run it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from platformctl.cache_dirs import cache_dir
from platformctl.checks.netsets import (
    ALL_PORTS,
    PORT_PROTOCOLS,
    AddressSet,
    Conns,
    IntervalSet,
    union_conns,
)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_NCA: Final = ROOT / ".venv-nca" / "bin" / "nca"
NCA_VERSION: Final = "2.1.0"  # requirements-nca.in; part of the cache key
NCA_ARGS: Final = ("--output_format", "txt_no_fw_rules", "--output_endpoints", "pods")
CACHE_ENV: Final = "MLOPS_CONNECTIVITY_CACHE"

_LINE = re.compile(r"^(?P<src>\S+) => (?P<dst>\S+) : (?P<conns>.+)$")
_IPV4_ITEM = re.compile(r"^\d+\.\d+\.\d+\.\d+(-\d+\.\d+\.\d+\.\d+)?$")
_CUBE = re.compile(r"\{([^{}]*)\}")
_CUBE_KEY = re.compile(r",(?=[a-z_]+:)")


class NcaError(RuntimeError):
    """nca failed or printed something this parser does not understand (one line)."""


@dataclass(frozen=True)
class PodRef:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


Endpoint = PodRef | AddressSet


@dataclass(frozen=True)
class Permitted:
    """One line of the map: `source` may open `conns` to `destination`."""

    source: Endpoint
    destination: Endpoint
    conns: Conns


@dataclass(frozen=True)
class NcaRun:
    flows: tuple[Permitted, ...]
    seconds: float
    cached: bool
    digest: str


# --- parsing ------------------------------------------------------------------------


def _protocols(text: str) -> tuple[set[str], bool]:
    """nca's ProtocolSet text -> (port protocols, whether any other protocol is included)."""
    text = text.strip()
    if text == "*":
        return set(PORT_PROTOCOLS), True
    negate = text.startswith("all but ")
    names = {n.strip().upper() for n in text.removeprefix("all but ").split(",") if n.strip()}
    if negate:
        return set(PORT_PROTOCOLS) - names, True
    return names & set(PORT_PROTOCOLS), bool(names - set(PORT_PROTOCOLS))


def _ports(text: str) -> IntervalSet:
    out = []
    for item in text.split(","):
        start, _, end = item.strip().partition("-")
        out.append((int(start), int(end or start)))
    return IntervalSet.of(out)


def _cube(text: str) -> Conns:
    fields: dict[str, str] = {}
    for item in _CUBE_KEY.split(text):
        key, _, value = item.partition(":")
        fields[key.strip()] = value
    unknown = set(fields) - {"protocols", "dst_ports"}
    if unknown:
        raise NcaError(f"nca connection cube {{{text}}}: unsupported keys {sorted(unknown)}")
    protocols, other = (
        _protocols(fields["protocols"])
        if "protocols" in fields
        else (
            set(PORT_PROTOCOLS),
            True,
        )
    )
    port_set = _ports(fields["dst_ports"]) if "dst_ports" in fields else ALL_PORTS
    # A port restriction leaves nothing of the protocols that have no ports.
    return Conns(dict.fromkeys(protocols, port_set), other and "dst_ports" not in fields)


def parse_conns(text: str) -> Conns:
    """nca's connection text -> Conns."""
    text = text.strip()
    if text == "All connections":
        return Conns.all()
    if text == "No connections":
        return Conns.none()
    negate = text.startswith("All but ")
    body = text.removeprefix("All but ").strip()
    cubes = _CUBE.findall(body)
    if not cubes or _CUBE.sub("", body).strip(", ") != "":
        raise NcaError(f"nca connections {text!r}: not a list of {{...}} cubes")
    conns = union_conns(_cube(c) for c in cubes)
    return Conns.all() - conns if negate else conns


def parse_endpoint(text: str) -> Endpoint | None:
    """A pod (`ns/name`) or an IPv4 address set; None for IPv6-only ranges."""
    if "/" in text and not _IPV4_ITEM.match(text.split(",", maxsplit=1)[0]) and ":" not in text:
        namespace, _, name = text.partition("/")
        return PodRef(namespace, name)
    items = [i for i in text.split(",") if ":" not in i]  # IPv6 ranges hold colons
    if not items:
        return None
    if not all(_IPV4_ITEM.match(i) for i in items):
        raise NcaError(f"nca endpoint {text!r}: neither a pod nor IPv4 ranges")
    out = AddressSet()
    for item in items:
        first, _, last = item.partition("-")
        out = out | AddressSet.between(first, last or first)
    return out


def parse_connectivity(text: str) -> list[Permitted]:
    """Every `a => b : conns` line of nca's txt_no_fw_rules output."""
    out = []
    for line in text.splitlines():
        if " => " not in line:
            continue  # headers, "Total run time", TCP/non-TCP captions
        match = _LINE.match(line.strip())
        if match is None:
            raise NcaError(f"nca line {line!r}: not '<src> => <dst> : <connections>'")
        source = parse_endpoint(match["src"])
        destination = parse_endpoint(match["dst"])
        if source is None or destination is None:
            continue
        out.append(Permitted(source, destination, parse_conns(match["conns"])))
    return out


# --- running ------------------------------------------------------------------------------


def nca_available(nca_bin: Path = DEFAULT_NCA) -> bool:
    return nca_bin.is_file() and os.access(nca_bin, os.X_OK)


def default_cache_dir() -> Path:
    """`$MLOPS_CONNECTIVITY_CACHE`, else `$XDG_CACHE_HOME` (or ~/.cache)/mlops-platform/nca."""
    return cache_dir(CACHE_ENV, "nca")


def _dump(documents: Sequence[Mapping[str, Any]]) -> str:
    """YAML documents, each written as JSON (a subset of YAML): fast and stable. Sorted: the
    plan's objects come in the order the SDK registered them, which varies from run to run,
    and nca's answer does not depend on it, so an unchanged plan is a cache hit."""
    return "".join(
        f"---\n{text}\n" for text in sorted(json.dumps(d, sort_keys=True) for d in documents)
    )


def run_nca(
    resources: Sequence[Mapping[str, Any]],
    policies: Sequence[Mapping[str, Any]],
    *,
    nca_bin: Path = DEFAULT_NCA,
    cache_dir: Path | None = None,
    timeout: float = 600,
) -> NcaRun:
    """nca's connectivity map of `policies` over `resources` (namespaces, pods, Services)."""
    resources_text, policies_text = _dump(resources), _dump(policies)
    digest = hashlib.sha256(
        "\0".join((NCA_VERSION, *NCA_ARGS, resources_text, policies_text)).encode()
    ).hexdigest()
    cached = cache_dir / f"{digest}.txt" if cache_dir else None
    started = time.perf_counter()
    if cached and cached.is_file():
        text = cached.read_text(encoding="utf-8")
        return NcaRun(tuple(parse_connectivity(text)), time.perf_counter() - started, True, digest)
    if not nca_available(nca_bin):
        raise FileNotFoundError(f"{nca_bin}: not installed (make .venv-nca/.installed)")
    with tempfile.TemporaryDirectory(prefix="nca-") as tmp:
        folder = Path(tmp)
        (folder / "resources.yaml").write_text(resources_text, encoding="utf-8")
        # nca refuses an empty policy list; "no policy" is the default-allow it then computes.
        (folder / "policies.yaml").write_text(policies_text or "", encoding="utf-8")
        proc = subprocess.run(
            [
                str(nca_bin),
                "--connectivity",
                str(folder / "policies.yaml"),
                "--resource_list",
                str(folder / "resources.yaml"),
                *NCA_ARGS,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise NcaError(f"nca exited {proc.returncode}: {detail[-1] if detail else 'no output'}")
    flows = parse_connectivity(proc.stdout)
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".tmp")
        partial.write_text(proc.stdout, encoding="utf-8")
        partial.replace(cached)  # atomic: a parallel plan never reads half a file
    return NcaRun(tuple(flows), time.perf_counter() - started, False, digest)
