"""Prometheus scraping (ServiceMonitor, PodMonitor): TLS, where a target serves it, is
verified. Scrape traffic itself is admitted by the namespaces' NetworkPolicies only from
``monitoring`` on metrics ports; PrometheusRules grant nothing and run nothing."""

from __future__ import annotations

from mlops_policy_kit import MANDATORY, MEDIUM, Config, as_list, as_map, resource_policy
from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._pods import object_label

SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
ENDPOINTS = {SERVICE_MONITOR: "endpoints", POD_MONITOR: "podMetricsEndpoints"}


def validate_tls_verified(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    key = ENDPOINTS[args.resource_type]
    for endpoint in map(as_map, as_list(as_map(args.props.get("spec")).get(key))):
        if as_map(endpoint.get("tlsConfig")).get("insecureSkipVerify") is True:
            what = object_label(args.resource_type, args.props, args.name)
            where = endpoint.get("port") or endpoint.get("targetPort") or endpoint.get("path")
            report(
                f"The {what} scrapes {where} without verifying the target's certificate; "
                "give it the serving CA (tlsConfig.ca) instead.",
                None,
            )


monitor_tls_verified = resource_policy(
    name="k8s-monitor-tls-verified",
    description="ServiceMonitors and PodMonitors must verify the TLS certificates they scrape.",
    validate=validate_tls_verified,
    types=tuple(ENDPOINTS),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("MLOPS-TLS",),
)

POLICIES = [monitor_tls_verified]
