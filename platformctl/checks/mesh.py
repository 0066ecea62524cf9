"""Pods that the Istio injector changes are what their namespaces admit.

Two defects of the live-defects review (issue 10 items 4 and 20) are one class: what a pod
becomes at admission, which the rendered spec does not show.

- A container whose image is `auto` (the gateway chart's) is filled in by the injector only:
  in a namespace without injection (and no `sidecar.istio.io/inject: "true"` on the pod) the
  pod keeps the image `auto` and never starts.
- A pod that gets the proxy gets the injector's container as istiod's values describe it
  (`global.proxy`): under Pod Security `restricted` that container must set a seccomp
  profile (`global.proxy.seccompProfile`) and must not be privileged, else the namespace
  rejects every injected pod; a gateway's own `istio-proxy` container takes the same
  template.

Mandatory. The injection decision and the proxy are platformctl.checks.pods' (`wants_injection`,
`pod_shapes`, `mesh_sidecar`), the Pod Security level is the Namespace's `enforce` label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from platformctl.checks import CheckResult, Finding, PlannedObject
from platformctl.checks.context import CheckContext
from platformctl.checks.pods import (
    INJECTION_LABEL,
    PROXY_CONTAINER,
    mesh_sidecar,
    pod_shapes,
    wants_injection,
)

NAME: Final = "mesh"
AUTO_IMAGE: Final = "auto"
ENFORCE_LABEL: Final = "pod-security.kubernetes.io/enforce"
ALLOWED_SECCOMP: Final = ("RuntimeDefault", "Localhost")


def restricted_violations(proxy: Mapping[str, Any]) -> list[str]:
    """What in the injected proxy container `restricted` Pod Security rejects."""
    problems = []
    seccomp = (proxy.get("seccompProfile") or {}).get("type")
    if seccomp not in ALLOWED_SECCOMP:
        problems.append("no seccompProfile (global.proxy.seccompProfile: {type: RuntimeDefault})")
    if proxy.get("privileged"):
        problems.append("a privileged container (global.proxy.privileged)")
    return problems


def check_mesh(
    objects: Sequence[PlannedObject], resources: Sequence[Mapping[str, Any]], context: CheckContext
) -> CheckResult:
    """Mandatory: `image: auto` pods are injected; injected proxies pass their namespace."""
    del resources, context  # the objects say it all
    result = CheckResult(name=NAME, mandatory=True, evaluated=0)
    namespaces = {
        o.name: dict(o.metadata.get("labels") or {}) for o in objects if o.kind == "Namespace"
    }
    injector = mesh_sidecar(objects)
    problems = restricted_violations(injector.proxy) if injector else []
    injected_in: set[str] = set()
    for shape in pod_shapes(objects):
        result.evaluated += 1
        labels = namespaces.get(shape.namespace, {})
        wants = wants_injection(shape.labels, shape.annotations, labels)
        autos = [
            c.get("name")
            for c in shape.spec.get("containers") or []
            if c.get("image") == AUTO_IMAGE
        ]
        if autos and not (wants and injector):
            why = (
                "no injector is planned"
                if not injector
                else (
                    f"namespace {shape.namespace} does not inject ({INJECTION_LABEL} is "
                    f"{labels.get(INJECTION_LABEL, 'unset')!r}) and the pod does not ask"
                )
            )
            result.findings.append(
                Finding(
                    NAME,
                    shape.ref,
                    f"{shape.ref}: container(s) {', '.join(map(str, autos))} have image "
                    f"'{AUTO_IMAGE}', which only the Istio injector replaces, and {why}: "
                    "the pod never starts. Enable injection for it, or name an image.",
                )
            )
        gets_proxy = PROXY_CONTAINER in shape.injected or (autos and wants)
        if gets_proxy and labels.get(ENFORCE_LABEL) == "restricted" and problems:
            injected_in.add(shape.namespace)
    if injector and injected_in:
        result.findings.append(
            Finding(
                NAME,
                injector.source,
                f"The injected {PROXY_CONTAINER} has {' and '.join(problems)}: Pod Security "
                f"'restricted' rejects every injected pod of {', '.join(sorted(injected_in))}.",
            )
        )
    return result
