"""Every `job` an alert reads is produced by a scrape object the cluster would receive.

An alert whose selector names a job that no PodMonitor or ServiceMonitor produces is
valid PromQL over an empty set: it never fires, and no schema or unit test notices.
This check parses every PrometheusRule expression (promql-parser, not regexes), collects
the `job="..."` equality matchers it selects on, and derives the jobs the planned
scrape objects produce the way prometheus-operator does (v0.93
pkg/prometheus/promcfg.go): a relabeling that sets `job` last wins; else the
`jobLabel`'s value on the selected Service (ServiceMonitor) or Pod template
(PodMonitor); else the Service's name (ServiceMonitor) or `<namespace>/<name>`
(PodMonitor). Expressions inside absent() count too: an absent() on a job nobody
scrapes fires forever.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import promql_parser as pp

from platformctl.checks import CheckResult, Finding, PlannedObject

NAME = "alert-wiring"
MONITORING_GROUP = "monitoring.coreos.com"


def _matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against one object's labels."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], set(expr.get("values") or [])
        present = key in labels
        if (
            (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
            or (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and present and labels[key] in values)
        ):
            return False
    return True


def _in_namespaces(monitor: PlannedObject, namespace: str) -> bool:
    selector = monitor.manifest.get("spec", {}).get("namespaceSelector") or {}
    if selector.get("any"):
        return True
    names = selector.get("matchNames")
    return namespace in names if names else namespace == monitor.namespace


def _pod_templates(objects: Iterable[PlannedObject]) -> Iterable[tuple[str, Mapping[str, str]]]:
    """(namespace, labels) of every pod the planned workloads would create."""
    for obj in objects:
        spec = obj.manifest.get("spec") or {}
        if obj.kind == "Pod":
            yield obj.namespace, obj.metadata.get("labels") or {}
        elif obj.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
            meta = (spec.get("template") or {}).get("metadata") or {}
            yield obj.namespace, meta.get("labels") or {}


def _relabelled_job(endpoints: Sequence[Mapping[str, Any]]) -> set[str]:
    jobs = set()
    for endpoint in endpoints:
        rules = [r for r in endpoint.get("relabelings") or [] if r.get("targetLabel") == "job"]
        # A replace without source labels is a constant; the last one wins.
        if rules and not rules[-1].get("sourceLabels") and "replacement" in rules[-1]:
            jobs.add(str(rules[-1]["replacement"]))
    return jobs


def _jobs_of(
    monitor: PlannedObject,
    services: Sequence[PlannedObject],
    pods: Sequence[tuple[str, Mapping[str, str]]],
) -> set[str]:
    """The jobs one PodMonitor or ServiceMonitor gives its targets."""
    spec = monitor.manifest.get("spec") or {}
    endpoints = spec.get("podMetricsEndpoints" if monitor.kind == "PodMonitor" else "endpoints")
    relabelled = _relabelled_job(endpoints or [])
    if relabelled:
        return relabelled
    selector = spec.get("selector") or {}
    job_label = spec.get("jobLabel")
    if monitor.kind == "ServiceMonitor":
        selected = [
            (s.name, s.metadata.get("labels") or {})
            for s in services
            if _in_namespaces(monitor, s.namespace)
            and _matches(selector, s.metadata.get("labels") or {})
        ]
        return {labels.get(job_label, "") if job_label else name for name, labels in selected} - {
            ""
        }
    if not job_label:
        return {f"{monitor.namespace}/{monitor.name}"}
    return {
        labels.get(job_label, "")
        for namespace, labels in pods
        if _in_namespaces(monitor, namespace) and _matches(selector, labels)
    } - {""}


def produced_jobs(objects: Sequence[PlannedObject]) -> dict[str, str]:
    """job -> the ref of the scrape object that produces it."""
    services = [o for o in objects if o.kind == "Service" and o.api_version == "v1"]
    pods = list(_pod_templates(objects))
    produced: dict[str, str] = {}
    for monitor in objects:
        if monitor.group == MONITORING_GROUP and monitor.kind in {"PodMonitor", "ServiceMonitor"}:
            for job in _jobs_of(monitor, services, pods):
                produced[job] = monitor.ref
    return produced


def selected_jobs(expr: str) -> set[str]:
    """The values of every `job="..."` equality matcher in a PromQL expression."""
    jobs: set[str] = set()

    def visit(node: object) -> bool:
        if isinstance(node, pp.VectorSelector):
            jobs.update(
                m.value
                for m in node.matchers.matchers
                if m.name == "job" and m.op == pp.MatchOp.Equal
            )
        return True

    pp.walk(pp.parse(expr), pre_visit=visit)
    return jobs


# Jobs kube-prometheus-stack 88.5.3 scrapes through Services that are not in any plan:
# measured by rendering the chart (default values, helm v4.2.3): of its 249 rules, 30
# select job="apiserver" and 19 job="kubelet", and nothing else is unproduced.
KUBE_PROMETHEUS_STACK_EXTERNAL_JOBS: Final = {
    "apiserver": "the default/kubernetes Service that Kubernetes itself maintains",
    "kubelet": "the kube-system kubelet Service prometheus-operator creates (kubeletService)",
}


def check_alert_wiring(
    objects: Sequence[PlannedObject], external_jobs: Mapping[str, str] | None = None
) -> CheckResult:
    """Mandatory: an alert selecting a job nobody scrapes is an alert that cannot fire.

    `external_jobs` maps jobs whose targets exist outside the plan to the reason (the
    kubelet Service prometheus-operator creates at run time, for example).
    """
    result = CheckResult(name=NAME, mandatory=True, evaluated=0)
    produced = {**produced_jobs(objects), **dict(external_jobs or {})}
    result.details["jobs"] = dict(sorted(produced.items()))
    for rule_object in objects:
        if rule_object.group != MONITORING_GROUP or rule_object.kind != "PrometheusRule":
            continue
        for group in (rule_object.manifest.get("spec") or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                name = rule.get("alert") or rule.get("record") or "?"
                result.evaluated += 1
                try:
                    jobs = selected_jobs(str(rule.get("expr", "")))
                except ValueError as error:
                    result.findings.append(
                        Finding(NAME, rule_object.ref, f"Rule {name} does not parse: {error}.")
                    )
                    continue
                for job in sorted(jobs - set(produced)):
                    result.findings.append(
                        Finding(
                            NAME,
                            rule_object.ref,
                            f'Rule {name} selects job="{job}", which no PodMonitor or '
                            "ServiceMonitor in the plan produces.",
                        )
                    )
    return result
