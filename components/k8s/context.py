"""What the platform services' pure value functions read, gathered once from the settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contract import Contract, ServiceAccountRef
from stacks.settings import DnsSettings, PlatformSettings


@dataclass(frozen=True)
class ServiceContext:
    contract: Contract
    cluster_name: str
    region: str
    minor_version: str  # "1.33"
    namespaces: Mapping[str, str]  # key -> name, the namespaces this stack creates
    platform: PlatformSettings
    dns: DnsSettings
    monitoring: bool  # kube-prometheus-stack is installed (ServiceMonitor CRDs exist)
    # An ephemeral stack (dev): `pulumi destroy` must leave no volume behind (decision 9).
    ephemeral: bool = False

    def ns(self, key: str) -> str:
        return self.contract.namespaces[key]

    def account(self, key: str) -> ServiceAccountRef:
        return self.contract.service_accounts[key]
