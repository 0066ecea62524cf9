"""Build the platform's images with Debian's podman, FROM a base that mmdebstrap makes.

`make images` runs this module here; `.github/workflows/images.yaml` runs it in CI
with `--push-registry`. Standard library only: it needs no virtual environment.

1. mmdebstrap writes a Debian bookworm root filesystem (python3 from Debian) as a
   tarball, with SOURCE_DATE_EPOCH fixed, and `podman import` makes it the base.
2. `podman build` builds every image of IMAGES from images/<name>/Containerfile, with
   --network=host and the machine's CA bundle as a build secret (never in a layer).
3. Each image is pushed with `podman push --digestfile`: to an OCI layout under the
   output directory here, to the registry in CI. The digest is the pushed manifest's,
   so the one printed here is of the same kind as the one CI writes into images/lock.json.

podman's configuration and storage live under the output directory (CONTAINERS_CONF,
CONTAINERS_STORAGE_CONF), not in /etc or /var/lib/containers; `--clean` removes them.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from images import IMAGES_DIR, REPO_ROOT, LockError, load_lock

DEFAULT_OUT = REPO_ROOT / "out" / "images"
DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
SOURCE_URL = "https://github.com/mlops-platform/mlops-platform"
BASE_IMAGE = "localhost/mlops-platform/base"
# The base: python3 and the venv module from Debian; ca-certificates for TLS to AWS;
# libstdc++6, which manylinux wheels (numpy, pandas, pyarrow...) expect of the system
# and the essential variant leaves out (the smoke test met the ImportError).
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "libstdc++6")
# Documentation, manual pages and translations are not needed in a container; the
# copyright files stay (they are the licences of what the image ships).
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
)
# Every package the build needs, from Debian (and Ubuntu, where CI runs).
HOST_PACKAGES = (
    "podman",
    "buildah",
    "mmdebstrap",
    "uidmap",
    "slirp4netns",
    "runc",
    "fuse-overlayfs",
    "debian-archive-keyring",
)


@dataclasses.dataclass(frozen=True)
class BuildInputs:
    """What one build reads: the same inputs give the same base tarball, byte for byte."""

    out: Path
    mirror: str
    source_date_epoch: int
    revision: str
    tag: str
    ca_bundle: Path
    push_registry: str | None = None  # "<account>.dkr.ecr.<region>.amazonaws.com" in CI

    @property
    def podman_dir(self) -> Path:
        return self.out / "podman"


@dataclasses.dataclass(frozen=True)
class BuiltImage:
    name: str
    repository: str
    tag: str
    digest: str
    pushed_to: str
    size_bytes: int
    build_seconds: float
    push_seconds: float


def containers_conf() -> str:
    """podman's engine settings for this machine kind: runc, cgroupfs, no default ulimits."""
    return (
        "# Written by images/build.py; read through CONTAINERS_CONF by this build only.\n"
        "[containers]\n"
        "default_ulimits = []\n"
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
    )


def storage_conf(podman_dir: Path) -> str:
    """podman's storage under the output directory, so a clean removes every layer."""
    return (
        "# Written by images/build.py; read through CONTAINERS_STORAGE_CONF.\n"
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{podman_dir / "storage"}"\n'
        f'runroot = "{podman_dir / "run"}"\n'
    )


def podman_env(podman_dir: Path, base: Mapping[str, str]) -> dict[str, str]:
    """The environment every podman call of this build gets."""
    return {
        **base,
        "CONTAINERS_CONF": str(podman_dir / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(podman_dir / "storage.conf"),
        "TMPDIR": str(podman_dir / "tmp"),
    }


def mmdebstrap_command(inputs: BuildInputs, tarball: Path) -> list[str]:
    return [
        "mmdebstrap",
        "--variant=essential",
        # merged /usr laid out by the hook, so the usrmerge package (and perl) stay out
        "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
        f"--include={','.join(BASE_PACKAGES)}",
        *(f"--dpkgopt={option}" for option in DPKG_EXCLUDES),
        "--format=tar",
        SUITE,
        str(tarball),
        inputs.mirror,
    ]


def base_key(inputs: BuildInputs) -> str:
    """Names the base by everything mmdebstrap is given: changed packages, a new base."""
    command = mmdebstrap_command(inputs, Path("rootfs.tar"))
    return hashlib.sha256("\0".join(command).encode()).hexdigest()[:12]


def base_reference(inputs: BuildInputs) -> str:
    return f"{BASE_IMAGE}:{SUITE}-{inputs.source_date_epoch}-{base_key(inputs)}"


def import_command(tarball: Path, reference: str) -> list[str]:
    return [
        "podman",
        "import",
        "--change",
        "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        "--change",
        'CMD ["/usr/bin/python3"]',
        str(tarball),
        reference,
    ]


def local_reference(repository: str, tag: str) -> str:
    return f"localhost/{repository}:{tag}"


def image_version(name: str) -> str:
    """The OCI version label: the version of what the image serves."""
    if name == "mlflow":
        return _pinned_version(IMAGES_DIR / "mlflow" / "requirements.in", "mlflow[auth]")
    if name == "pipeline-runtime":
        init = (REPO_ROOT / "pipelines" / "__init__.py").read_text(encoding="utf-8")
        for line in init.splitlines():
            if line.startswith("__version__"):
                return line.split("=", 1)[1].strip().strip("\"'")
    raise LockError(f"image {name!r}: no version source; allowed: mlflow, pipeline-runtime")


def _pinned_version(requirements: Path, requirement: str) -> str:
    for line in requirements.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{requirement}=="):
            return line.split("==", 1)[1].strip()
    raise LockError(f"{requirements}: no '{requirement}==' pin")


def build_command(
    name: str, repository: str, inputs: BuildInputs, base: str, reference: str
) -> list[str]:
    context = IMAGES_DIR / name
    return [
        "podman",
        "build",
        "--network=host",
        "--pull=never",
        "--format=oci",
        # One timestamp for the image's history and every file of its layers.
        f"--timestamp={inputs.source_date_epoch}",
        f"--secret=id=ca-bundle,src={inputs.ca_bundle}",
        f"--build-arg=BASE_IMAGE={base}",
        f"--build-arg=SOURCE={SOURCE_URL}",
        f"--build-arg=REVISION={inputs.revision}",
        f"--build-arg=VERSION={image_version(name)}",
        f"--tag={reference}",
        f"--file={context / 'Containerfile'}",
        str(context),
    ]


def push_destination(repository: str, inputs: BuildInputs) -> str:
    if inputs.push_registry:
        return f"docker://{inputs.push_registry}/{repository}:{inputs.tag}"
    return f"oci:{inputs.out / 'oci' / repository.replace('/', '_')}:{inputs.tag}"


def push_command(reference: str, destination: str, digest_file: Path) -> list[str]:
    # --compression-format=gzip: what every registry accepts; the digest is of this push.
    return [
        "podman",
        "push",
        "--compression-format=gzip",
        f"--digestfile={digest_file}",
        reference,
        destination,
    ]


def _run(command: Sequence[str], env: Mapping[str, str], log: Path | None = None) -> str:
    print("+ " + " ".join(command), file=sys.stderr, flush=True)
    if log is None:
        done = subprocess.run(command, env=env, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{command[0]} {command[1]} failed:\n{done.stderr[-4000:]}")
        return done.stdout
    with log.open("w", encoding="utf-8") as fh:
        logged = subprocess.run(command, env=env, check=False, stdout=fh, stderr=subprocess.STDOUT)
    if logged.returncode != 0:
        tail = log.read_text(encoding="utf-8")[-4000:]
        raise SystemExit(f"{command[0]} {command[1]} failed (log {log}):\n{tail}")
    return ""


def _prepare(inputs: BuildInputs) -> dict[str, str]:
    missing = [tool for tool in ("podman", "mmdebstrap") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(
            f"{', '.join(missing)} not found; install Debian's {' '.join(HOST_PACKAGES)}"
            " (make images does)"
        )
    if not inputs.ca_bundle.is_file():
        raise SystemExit(f"--ca-bundle {inputs.ca_bundle}: no such file; allowed: a PEM bundle")
    for sub in ("tmp", "storage", "run"):
        (inputs.podman_dir / sub).mkdir(parents=True, exist_ok=True)
    (inputs.podman_dir / "containers.conf").write_text(containers_conf(), encoding="utf-8")
    (inputs.podman_dir / "storage.conf").write_text(
        storage_conf(inputs.podman_dir), encoding="utf-8"
    )
    return podman_env(inputs.podman_dir, os.environ)


def build_base(inputs: BuildInputs, env: Mapping[str, str]) -> tuple[str, float]:
    """The base image, made once per input: an existing one keeps the images' layer cache."""
    reference = base_reference(inputs)
    started = time.monotonic()
    exists = subprocess.run(["podman", "image", "exists", reference], env=env, check=False)
    if exists.returncode == 0:
        return reference, time.monotonic() - started
    tarball = inputs.out / f"base-{SUITE}-{inputs.source_date_epoch}-{base_key(inputs)}.tar"
    if not tarball.exists():
        partial = tarball.with_suffix(".partial.tar")
        _run(
            mmdebstrap_command(inputs, partial),
            {**env, "SOURCE_DATE_EPOCH": str(inputs.source_date_epoch)},
            log=inputs.out / "mmdebstrap.log",
        )
        partial.rename(tarball)
    _run(import_command(tarball, reference), env)
    return reference, time.monotonic() - started


def build_image(
    name: str, repository: str, inputs: BuildInputs, base: str, env: Mapping[str, str]
) -> BuiltImage:
    reference = local_reference(repository, inputs.tag)
    started = time.monotonic()
    _run(
        build_command(name, repository, inputs, base, reference),
        env,
        log=inputs.out / f"build-{name}.log",
    )
    seconds = time.monotonic() - started
    size = int(_run(["podman", "image", "inspect", "--format", "{{.Size}}", reference], env))
    destination = push_destination(repository, inputs)
    if not inputs.push_registry:
        (inputs.out / "oci").mkdir(exist_ok=True)
    digest_file = inputs.out / f"{name}.digest"
    started = time.monotonic()
    _run(push_command(reference, destination, digest_file), env)
    pushed = time.monotonic() - started
    digest = digest_file.read_text(encoding="utf-8").strip()
    return BuiltImage(
        name, repository, inputs.tag, digest, destination, size, round(seconds, 1), round(pushed, 1)
    )


def git_revision() -> str:
    """HEAD, `-dirty` when a build context differs from it: a label must not claim a commit."""
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    if head.returncode != 0:
        return "unknown"
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", *image_contexts(), "pipelines/__init__.py"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def image_contexts() -> list[str]:
    """The build contexts, images/<name>/: what goes into the images (the lock does not)."""
    return sorted(f"images/{p.parent.name}" for p in IMAGES_DIR.glob("*/Containerfile"))


def git_epoch() -> int:
    """The commit time of the last change to a build context: the same on every machine.

    The tooling beside them (this module, the lock) changes no image; the base's own
    inputs (suite, packages, mirror) name its tag through `base_key`.
    """
    done = subprocess.run(
        ["git", "log", "-1", "--format=%ct", "--", *image_contexts()],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return int(done.stdout.strip()) if done.stdout.strip() else 0


def parse_args(argv: Sequence[str]) -> BuildInputs:
    parser = argparse.ArgumentParser(prog="python -m images.build", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--mirror", default=DEFAULT_MIRROR, help="Debian mirror for mmdebstrap")
    parser.add_argument("--source-date-epoch", type=int, default=None)
    parser.add_argument("--revision", default=None, help="git revision (default: HEAD)")
    parser.add_argument("--tag", default=None, help="image tag (default: the revision)")
    parser.add_argument("--ca-bundle", type=Path, default=DEFAULT_CA_BUNDLE)
    parser.add_argument("--push-registry", default=None, help="push here instead of out/")
    parser.add_argument("--clean", action="store_true", help="remove podman state and exit")
    args = parser.parse_args(argv)
    revision = args.revision or git_revision()
    epoch = args.source_date_epoch if args.source_date_epoch is not None else git_epoch()
    if epoch < 0:
        parser.error(f"--source-date-epoch {epoch}: allowed: seconds since 1970, >= 0")
    inputs = BuildInputs(
        out=args.out.resolve(),
        mirror=args.mirror,
        source_date_epoch=epoch,
        revision=revision,
        tag=args.tag or revision,
        ca_bundle=args.ca_bundle,
        push_registry=args.push_registry,
    )
    if args.clean:
        clean(inputs)
        raise SystemExit(0)
    return inputs


def clean(inputs: BuildInputs) -> None:
    """Remove the build's podman storage (layers are owned by root: podman removes them)."""
    if (inputs.podman_dir / "storage.conf").exists():
        env = podman_env(inputs.podman_dir, os.environ)
        subprocess.run(["podman", "system", "reset", "--force"], env=env, check=False)
    shutil.rmtree(inputs.out, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    inputs = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        lock = load_lock()
    except LockError as exc:
        raise SystemExit(str(exc)) from None
    env = _prepare(inputs)
    base, base_seconds = build_base(inputs, env)
    built = [
        build_image(name, entry.repository, inputs, base, env)
        for name, entry in lock.images.items()
    ]
    report = {
        "revision": inputs.revision,
        "source_date_epoch": inputs.source_date_epoch,
        "mirror": inputs.mirror,
        "base": {"image": base, "seconds": round(base_seconds, 1)},
        "images": {image.name: dataclasses.asdict(image) for image in built},
    }
    (inputs.out / "build.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"base {base} ({base_seconds:.1f} s)")
    for image in built:
        print(
            f"{image.name}: {local_reference(image.repository, image.tag)}@{image.digest}"
            f" ({image.size_bytes / 1e6:.0f} MB; build {image.build_seconds:.1f} s,"
            f" push {image.push_seconds:.1f} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
