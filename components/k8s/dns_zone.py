"""The public Route 53 zone the platform's names live in (cert-manager DNS-01, external-dns)."""

from __future__ import annotations

from dataclasses import dataclass


def hosted_zone_arn(zone_id: str) -> str:
    return f"arn:aws:route53:::hostedzone/{zone_id}"


@dataclass(frozen=True)
class DnsZone:
    hosted_zone_id: str
    domain: str
    acme_email: str | None = None  # Let's Encrypt account contact
