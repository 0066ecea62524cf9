"""The order check on the defects it exists to catch: a fixture holds one, the good case passes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from platformctl.checks import PlannedObject
from platformctl.checks.graph import ResourceGraph, provider_urn
from platformctl.checks.order import check_order
from tests.platformctl.check_fixtures import (
    CHART,
    RELEASE,
    container,
    context,
    crd,
    namespace,
    planned,
    pod_spec,
    resource,
    service,
    service_monitor,
    urn,
    workload,
)

SERVICE_MONITOR_CRD = crd("monitoring.coreos.com", "ServiceMonitor", "servicemonitors")


class TwoStacks:
    """An environment as the plan records it: the AWS stack's cluster, node groups and CNI;
    the platform stack's reference (waiting for all of them), its Kubernetes provider
    (configured from the reference) and releases created through that provider."""

    def __init__(self) -> None:
        cluster = resource("eks:index:Cluster", "cluster-eks", stack="dev")
        self.aws = [
            cluster,
            resource(
                "eks:index:ManagedNodeGroup", "general-mng", stack="dev", deps=[cluster["urn"]]
            ),
            resource("eks:index:ManagedNodeGroup", "gpu-mng", stack="dev", deps=[cluster["urn"]]),
            resource(
                "aws:eks/addon:Addon",
                "cluster-vpc-cni",
                stack="dev",
                deps=[cluster["urn"]],
                inputs={"addonName": "vpc-cni"},
            ),
        ]
        self.reference = resource(
            "pulumi:pulumi:StackReference", "foundation", deps=[r["urn"] for r in self.aws]
        )
        self.provider = resource(
            "pulumi:providers:kubernetes",
            "k8s",
            property_deps={"kubeconfig": [self.reference["urn"]]},
        )
        # The tenancy baseline: every release waits for its namespaces.
        self.tenancy = resource(
            "kubernetes:core/v1:Namespace", "tenant-ns", provider=self.provider_ref
        )
        self.platform: list[dict[str, Any]] = [self.reference, self.provider, self.tenancy]

    @property
    def provider_ref(self) -> str:
        return f"{self.provider['urn']}::k8s-id"

    def release(
        self, name: str, *, deps: Sequence[str] = (), typ: str = RELEASE, tenancy: bool = True
    ) -> dict[str, Any]:
        after = [*deps, self.tenancy["urn"]] if tenancy else list(deps)
        record = resource(typ, f"release-{name}", deps=after, provider=self.provider_ref)
        self.platform.append(record)
        return record

    def namespaces(self, objects: Sequence[PlannedObject]) -> list[PlannedObject]:
        """The Namespace of every namespace the objects use, created by the tenancy resource."""
        names = sorted({o.namespace for o in objects if o.namespace} - {"default", "kube-system"})
        return [planned(namespace(n), self.tenancy["urn"]) for n in names]

    @property
    def resources(self) -> list[dict[str, Any]]:
        return [*self.aws, *self.platform]


def _findings(
    objects: list[PlannedObject], resources: list[dict[str, Any]], **ctx: Any
) -> list[str]:
    """The order findings, with the objects' namespaces planned by the tenancy resource."""
    tenancy = next(r for r in resources if r["name"] == "tenant-ns")
    names = sorted({o.namespace for o in objects if o.namespace} - {"default", "kube-system"})
    spaces = [planned(namespace(n), tenancy["urn"]) for n in names]
    return [f.message for f in check_order([*spaces, *objects], resources, context(**ctx)).findings]


# --- the graph -------------------------------------------------------------------------------


def test_provider_reference_names_the_provider_urn() -> None:
    plan = TwoStacks()
    assert provider_urn(plan.provider_ref) == plan.provider["urn"]
    assert provider_urn(plan.provider["urn"]) == plan.provider["urn"]


def test_the_graph_follows_provider_reference_and_parent_edges() -> None:
    plan = TwoStacks()
    component = resource("mlops:monitoring:Monitoring", "monitoring", deps=[plan.aws[1]["urn"]])
    child = resource("kubernetes:core/v1:ConfigMap", "cm", parent=component["urn"])
    release = plan.release("kube-prometheus-stack", tenancy=False)
    graph = ResourceGraph([*plan.resources, component, child])
    general = plan.aws[1]["urn"]
    # release -> provider -> stack reference -> node group
    assert graph.path(release["urn"], general) == [
        release["urn"],
        plan.provider["urn"],
        plan.reference["urn"],
        general,
    ]
    assert graph.waits_for(child["urn"], general)  # through its parent's depends_on
    assert not graph.waits_for(general, release["urn"])
    assert graph.edge_counts["provider"] == 2 and graph.edge_counts["parent"] == 1


# --- kinds and CRDs --------------------------------------------------------------------------


def test_a_custom_resource_of_a_release_that_does_not_wait_for_its_crd_fails() -> None:
    """The class of cert-manager's ServiceMonitor before kube-prometheus-stack's CRD."""
    plan = TwoStacks()
    monitoring = plan.release("kube-prometheus-stack")
    cert_manager = plan.release("cert-manager")
    objects = [
        planned(SERVICE_MONITOR_CRD, monitoring["urn"], "kube-prometheus-stack"),
        planned(
            service_monitor("cert-manager", "cert-manager"), cert_manager["urn"], "cert-manager"
        ),
    ]
    crds = {monitoring["urn"]: frozenset({"servicemonitors.monitoring.coreos.com"})}
    [message] = _findings(objects, plan.resources, crd_directories=crds)
    assert message.startswith("ServiceMonitor cert-manager: the CRD servicemonitors.monitoring")
    assert "release kube-prometheus-stack, which release cert-manager does not wait for" in message


def test_the_same_custom_resource_passes_once_its_release_waits_for_the_crd() -> None:
    plan = TwoStacks()
    monitoring = plan.release("kube-prometheus-stack")
    cert_manager = plan.release("cert-manager", deps=[monitoring["urn"]])
    objects = [
        planned(SERVICE_MONITOR_CRD, monitoring["urn"], "kube-prometheus-stack"),
        planned(
            service_monitor("cert-manager", "cert-manager"), cert_manager["urn"], "cert-manager"
        ),
    ]
    assert _findings(objects, plan.resources) == []


def test_a_crd_in_the_charts_crds_directory_serves_the_same_release() -> None:
    plan = TwoStacks()
    monitoring = plan.release("kube-prometheus-stack")
    objects = [
        planned(SERVICE_MONITOR_CRD, monitoring["urn"], "kube-prometheus-stack"),
        planned(
            service_monitor("kubelet", "monitoring"), monitoring["urn"], "kube-prometheus-stack"
        ),
    ]
    crds = {monitoring["urn"]: frozenset({"servicemonitors.monitoring.coreos.com"})}
    assert _findings(objects, plan.resources, crd_directories=crds) == []


def test_a_crd_template_does_not_serve_its_own_helm_v3_release() -> None:
    """Helm builds every template before creating any: a CRD template is not enough."""
    plan = TwoStacks()
    monitoring = plan.release("kube-prometheus-stack")
    objects = [
        planned(SERVICE_MONITOR_CRD, monitoring["urn"], "kube-prometheus-stack"),
        planned(
            service_monitor("kubelet", "monitoring"), monitoring["urn"], "kube-prometheus-stack"
        ),
    ]
    [message] = _findings(objects, plan.resources)  # no crds/ directory: a template
    assert "a template of the same Helm release, not in its chart's crds/ directory" in message


def test_a_v4_chart_applies_its_crd_templates_first() -> None:
    plan = TwoStacks()
    chart = plan.release("kube-prometheus-stack", typ=CHART)
    objects = [
        planned(SERVICE_MONITOR_CRD, chart["urn"], "kube-prometheus-stack"),
        planned(service_monitor("kubelet", "monitoring"), chart["urn"], "kube-prometheus-stack"),
    ]
    assert _findings(objects, plan.resources) == []


# --- kinds an operator serves at run time (the Knative operator) ---------------------------

KNATIVE_SERVING_CRD = crd("operator.knative.dev", "KnativeServing", "knativeservings", ("v1beta1",))


def _knative_serving() -> dict[str, Any]:
    return {
        "apiVersion": "operator.knative.dev/v1beta1",
        "kind": "KnativeServing",
        "metadata": {"name": "knative-serving", "namespace": "knative-serving"},
        "spec": {},
    }


def _knative_service() -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "mlops"},
        "spec": {},
    }


def test_the_knative_operator_declares_what_a_knative_serving_brings() -> None:
    from components.k8s import knative
    from platformctl.checks.order import RUNTIME_KINDS

    assert (
        RUNTIME_KINDS[("operator.knative.dev", "KnativeServing")]
        == (knative.SERVED_AFTER_READY[("operator.knative.dev", "KnativeServing")])
    )


def test_a_knative_kind_waiting_for_the_knative_serving_passes() -> None:
    plan = TwoStacks()
    operator = plan.release("knative-operator")
    serving = resource(
        "kubernetes:operator.knative.dev/v1beta1:KnativeServing",
        "knative-serving",
        deps=[operator["urn"]],
    )
    app = resource("kubernetes:serving.knative.dev/v1:Service", "hello", deps=[serving["urn"]])
    plan.platform += [serving, app]
    objects = [
        planned(KNATIVE_SERVING_CRD, operator["urn"], "knative-operator"),
        planned(_knative_serving(), serving["urn"]),
        planned(_knative_service(), app["urn"]),
    ]
    assert _findings(objects, plan.resources) == []


def test_a_knative_kind_not_waiting_for_the_knative_serving_fails() -> None:
    plan = TwoStacks()
    operator = plan.release("knative-operator")
    serving = resource(
        "kubernetes:operator.knative.dev/v1beta1:KnativeServing",
        "knative-serving",
        deps=[operator["urn"]],
    )
    # Created through the provider, after the namespaces: only the KnativeServing missing.
    app = resource(
        "kubernetes:serving.knative.dev/v1:Service",
        "hello",
        deps=[plan.tenancy["urn"]],
        provider=plan.provider_ref,
    )
    plan.platform += [serving, app]
    objects = [
        planned(KNATIVE_SERVING_CRD, operator["urn"], "knative-operator"),
        planned(_knative_serving(), serving["urn"]),
        planned(_knative_service(), app["urn"]),
    ]
    [message] = _findings(objects, plan.resources)
    assert message.startswith(
        "Service hello: its kind is served once KnativeServing knative-serving"
    )
    assert "its operator applies the CRDs at run time" in message


def test_without_a_knative_serving_no_knative_kind_is_served() -> None:
    plan = TwoStacks()
    app = resource(
        "kubernetes:serving.knative.dev/v1:Service",
        "hello",
        deps=[plan.tenancy["urn"]],
        provider=plan.provider_ref,
    )
    plan.platform.append(app)
    [message] = _findings([planned(_knative_service(), app["urn"])], plan.resources)
    assert "nor served by a CRD in the plan" in message


def test_a_kind_nobody_serves_fails_and_built_in_kinds_pass() -> None:
    plan = TwoStacks()
    release = plan.release("app")
    objects = [
        planned(service_monitor("orphan", "default"), release["urn"], "app"),
        planned(service("svc", "default"), release["urn"], "app"),
        planned(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "r"},
            },
            release["urn"],
            "app",
        ),
    ]
    result = check_order(objects, plan.resources, context())
    [finding] = result.findings
    assert finding.subject == "default/ServiceMonitor/orphan"
    assert "neither built into Kubernetes 1.33 nor served by a CRD in the plan" in finding.message
    assert result.details["kinds"] == {"built_in": 2, "custom": 1}


def test_an_alpha_api_is_not_served() -> None:
    plan = TwoStacks()
    release = plan.release("app")
    alpha = {
        "apiVersion": "admissionregistration.k8s.io/v1alpha1",
        "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": "p"},
    }
    [message] = _findings([planned(alpha, release["urn"], "app")], plan.resources)
    assert "neither built into Kubernetes 1.33" in message


def test_objects_from_outside_the_plan_cannot_be_ordered() -> None:
    plan = TwoStacks()
    stray = planned(service("svc", "default"), "kustomize:pipelines@2.17.0/x", "pipelines")
    [message] = _findings([stray], plan.resources)
    assert "not a resource of the plan" in message


# --- webhooks --------------------------------------------------------------------------------


def _webhook(service_name: str, port: int | None = None) -> dict[str, Any]:
    target: dict[str, Any] = {
        "name": service_name,
        "namespace": "cert-manager",
        "path": "/validate",
    }
    if port is not None:
        target["port"] = port
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "cert-manager-webhook"},
        "webhooks": [{"name": "webhook.cert-manager.io", "clientConfig": {"service": target}}],
    }


@pytest.mark.parametrize(
    ("webhook", "ports", "expected"),
    [
        (_webhook("cert-manager-webhook"), (443,), None),
        (_webhook("cert-manager-webhook", 10250), (10250,), None),
        (_webhook("cert-manager-hook"), (443,), "calls Service cert-manager/cert-manager-hook"),
        (_webhook("cert-manager-webhook"), (10250,), "calls port 443 of Service"),
    ],
)
def test_every_webhook_calls_a_planned_service_port(
    webhook: dict[str, Any], ports: tuple[int, ...], expected: str | None
) -> None:
    plan = TwoStacks()
    release = plan.release("cert-manager")
    objects = [
        planned(webhook, release["urn"], "cert-manager"),
        planned(
            service("cert-manager-webhook", "cert-manager", ports=ports),
            release["urn"],
            "cert-manager",
        ),
    ]
    messages = _findings(objects, plan.resources)
    if expected is None:
        assert messages == []
    else:
        [message] = messages
        assert expected in message


# --- controllers -----------------------------------------------------------------------------

EXTERNAL_LB = {"service.beta.kubernetes.io/aws-load-balancer-type": "external"}


def _controller(name: str, image: str, namespace: str) -> dict[str, Any]:
    return workload("Deployment", name, namespace, pod_spec(containers=[container(image=image)]))


def _gateway(annotations: dict[str, str]) -> dict[str, Any]:
    return service(
        "istio-ingressgateway", "istio-system", type_="LoadBalancer", annotations=annotations
    )


def test_a_load_balancer_asking_for_the_missing_lb_controller_fails() -> None:
    """The class of the Istio gateway's `aws-load-balancer-type: external`, no controller."""
    plan = TwoStacks()
    gateway = plan.release("istio-ingressgateway")
    [message] = _findings(
        [planned(_gateway(EXTERNAL_LB), gateway["urn"], "istio-ingressgateway")], plan.resources
    )
    assert "asks for the AWS Load Balancer Controller" in message
    assert "the plan installs no aws-load-balancer-controller" in message


def test_the_lb_controller_must_come_before_the_service() -> None:
    plan = TwoStacks()
    controller = plan.release("aws-load-balancer-controller")
    lbc = _controller(
        "aws-load-balancer-controller",
        "public.ecr.aws/eks/aws-load-balancer-controller:v2.14.0",
        "kube-system",
    )
    unordered = plan.release("istio-ingressgateway")
    objects = [
        planned(lbc, controller["urn"], "aws-load-balancer-controller"),
        planned(_gateway(EXTERNAL_LB), unordered["urn"], "istio-ingressgateway"),
    ]
    [message] = _findings(objects, plan.resources)
    assert "which release istio-ingressgateway does not wait for" in message
    ordered = TwoStacks()
    controller = ordered.release("aws-load-balancer-controller")
    gateway = ordered.release("istio-ingressgateway", deps=[controller["urn"]])
    objects = [
        planned(lbc, controller["urn"], "aws-load-balancer-controller"),
        planned(_gateway(EXTERNAL_LB), gateway["urn"], "istio-ingressgateway"),
    ]
    assert _findings(objects, ordered.resources) == []


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({}, "a Classic Load Balancer, internet-facing"),
        (
            {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"},
            "a Classic Load Balancer, internal",
        ),
        ({"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}, "an NLB, internet-facing"),
    ],
)
def test_a_load_balancer_asking_no_controller_gets_the_legacy_one(
    annotations: dict[str, str], expected: str
) -> None:
    plan = TwoStacks()
    release = plan.release("app")
    [message] = _findings([planned(_gateway(annotations), release["urn"], "app")], plan.resources)
    assert expected in message


def _ingress(class_name: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"rules": []}
    if class_name:
        spec["ingressClassName"] = class_name
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "ui", "namespace": "mlflow"},
        "spec": spec,
    }


def test_an_ingress_needs_a_class_served_by_a_planned_controller() -> None:
    plan = TwoStacks()
    controller = plan.release("aws-load-balancer-controller")
    app = plan.release("app", deps=[controller["urn"]])
    lbc = _controller(
        "aws-load-balancer-controller",
        "public.ecr.aws/eks/aws-load-balancer-controller:v2.14.0",
        "kube-system",
    )
    assert (
        "names no class and the plan has no default IngressClass"
        in _findings([planned(_ingress(None), app["urn"], "app")], plan.resources)[0]
    )
    assert (
        "is of class nginx, which no IngressClass"
        in _findings([planned(_ingress("nginx"), app["urn"], "app")], plan.resources)[0]
    )
    served = [planned(lbc, controller["urn"], "lbc"), planned(_ingress("alb"), app["urn"], "app")]
    assert _findings(served, plan.resources) == []


def test_cert_manager_resources_need_the_controller_and_their_issuer() -> None:
    plan = TwoStacks()
    cert_manager = plan.release("cert-manager")
    app = plan.release("app", deps=[cert_manager["urn"]])
    certificate = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "tls", "namespace": "monitoring"},
        "spec": {"issuerRef": {"name": "selfsigned", "kind": "ClusterIssuer"}, "secretName": "tls"},
    }
    issuer = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "selfsigned"},
        "spec": {"selfSigned": {}},
    }
    certificate_crd = crd("cert-manager.io", "Certificate", "certificates")
    issuer_crd = crd("cert-manager.io", "ClusterIssuer", "clusterissuers")
    base = [
        planned(certificate_crd, cert_manager["urn"], "cert-manager"),
        planned(issuer_crd, cert_manager["urn"], "cert-manager"),
        planned(certificate, app["urn"], "app"),
    ]
    messages = _findings(base, plan.resources)
    assert any("the plan installs no cert-manager" in m for m in messages)
    assert any(
        "issued by ClusterIssuer selfsigned, which the plan does not create" in m for m in messages
    )
    controller = _controller(
        "cert-manager", "quay.io/jetstack/cert-manager-controller:v1.18.2", "cert-manager"
    )
    complete = [
        *base,
        planned(controller, cert_manager["urn"], "cert-manager"),
        planned(issuer, app["urn"], "app"),
    ]
    assert _findings(complete, plan.resources) == []


def test_external_dns_annotations_need_external_dns_reading_that_kind() -> None:
    plan = TwoStacks()
    dns = plan.release("external-dns")
    app = plan.release("app", deps=[dns["urn"]])
    annotated = service(
        "ui",
        "mlflow",
        annotations={"external-dns.alpha.kubernetes.io/hostname": "mlflow.example.org"},
    )
    assert (
        "the plan installs no external-dns"
        in _findings([planned(annotated, app["urn"], "app")], plan.resources)[0]
    )
    external_dns = workload(
        "Deployment",
        "external-dns",
        "external-dns",
        pod_spec(
            containers=[
                container(
                    image="registry.k8s.io/external-dns/external-dns:v0.19.0",
                    args=["--source=ingress"],
                )
            ]
        ),
    )
    objects = [
        planned(external_dns, dns["urn"], "external-dns"),
        planned(annotated, app["urn"], "app"),
    ]
    [message] = _findings(objects, plan.resources)
    assert "external-dns does not read Services" in message
    external_dns["spec"]["template"]["spec"]["containers"][0]["args"].append("--source=service")
    assert _findings(objects, plan.resources) == []


# --- nodes -----------------------------------------------------------------------------------


def _pods(release: dict[str, Any]) -> PlannedObject:
    return planned(workload("Deployment", "app", "default", pod_spec()), release["urn"], "app")


def test_workloads_wait_for_the_nodes_through_provider_and_stack_reference() -> None:
    plan = TwoStacks()
    result = check_order([_pods(plan.release("app"))], plan.resources, context())
    assert result.findings == []
    assert result.details["nodes"]["example_path"] == [
        "release-app",
        "k8s",
        "foundation",
        "general-mng",
    ]


def test_a_workload_that_precedes_the_nodes_fails() -> None:
    """The class of a Kubernetes layer that does not wait for the AWS stack's nodes."""
    plan = TwoStacks()
    # The reference waits for the cluster only.
    plan.reference["dependencies"] = [plan.aws[0]["urn"]]
    [message] = _findings([_pods(plan.release("app"))], plan.resources)
    assert message.startswith("`release-app` makes the cluster run pods but does not wait for ")
    assert "does not wait for general-mng, gpu-mng, cluster-vpc-cni:" in message


def test_a_workload_without_the_provider_edge_fails() -> None:
    plan = TwoStacks()
    release = plan.release("app", tenancy=False)
    release["provider"] = ""
    [message] = _findings([_pods(release)], plan.resources)
    assert "does not wait for general-mng, gpu-mng, cluster-vpc-cni:" in message


def test_an_existing_cluster_has_no_node_order_to_prove() -> None:
    plan = TwoStacks()
    release = plan.release("app", tenancy=False)
    release["provider"] = ""
    result = check_order([_pods(release)], plan.resources, context(managed=False))
    assert result.findings == []
    assert "not created by this plan" in result.details["nodes"]["note"]


def test_a_managed_cluster_without_the_cni_add_on_fails() -> None:
    plan = TwoStacks()
    plan.aws = plan.aws[:3]
    plan.reference["dependencies"] = [r["urn"] for r in plan.aws]
    assert _findings([_pods(plan.release("app"))], plan.resources) == [
        "The plan creates node groups but no vpc-cni add-on."
    ]


def test_urns_carry_the_stack_names() -> None:
    plan = TwoStacks()
    assert plan.aws[1]["urn"] == urn("eks:index:ManagedNodeGroup", "general-mng", "dev")


# --- namespaces ------------------------------------------------------------------------------


def test_an_object_in_a_namespace_its_creator_does_not_wait_for_fails() -> None:
    plan = TwoStacks()
    release = plan.release("app", tenancy=False)
    app = planned(service("api", "mlops"), release["urn"], "app")
    result = check_order([*plan.namespaces([app]), app], plan.resources, context())
    [finding] = result.findings
    assert finding.message == (
        "Service api lives in namespace mlops, which `tenant-ns` creates and release app does "
        "not wait for."
    )


def test_an_object_in_a_namespace_nobody_creates_fails() -> None:
    plan = TwoStacks()
    app = planned(service("api", "mlops"), plan.release("app")["urn"], "app")
    [finding] = check_order([app], plan.resources, context()).findings
    assert "lives in namespace mlops, which the plan does not create" in finding.message
    system = planned(service("api", "kube-system"), plan.release("system")["urn"], "system")
    assert check_order([system], plan.resources, context()).findings == []
