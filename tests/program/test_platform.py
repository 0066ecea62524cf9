"""The platform layers as the whole dev stack builds them: objects, providers, names, releases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from program.platform import enabled_namespaces
from program.services import chart_table
from stacks.loader import SettingsError, settings_from_config
from tests.conftest import Plan, build_stack
from tests.platformctl.rendering import shared_charts_or_skip
from tests.stacks.test_settings import EXISTING
from tests.types import (
    CLUSTER_ISSUER,
    EKS_CLUSTER,
    EXTERNAL_SECRET,
    IAM_ROLE,
    K8S_PROVIDER,
    LIMIT_RANGE,
    MANAGED_NODE_GROUP,
    NAMESPACE,
    NETWORK_POLICY,
    PEER_AUTHENTICATION,
    RESOURCE_QUOTA,
    ROLE,
    ROLE_BINDING,
    SECRET,
    SECRET_VERSION,
    SERVICE_ACCOUNT_PATCH,
    STORAGE_CLASS,
)
from tests.types import HELM_RELEASE as RELEASE
from tests.types import SERVICE_ACCOUNT as SA

CHARTS = chart_table()
ROLE_ARN = "eks.amazonaws.com/role-arn"
GENERAL = {"mlops-platform.io/pool": "general"}


@pytest.fixture(scope="module")
def zone() -> Plan:
    """dev on an existing cluster with a hosted zone: ACME issuer and external-dns on.

    One build covers both variants (each build costs seconds).
    """
    return build_stack(
        "dev",
        clusterMode="existing",
        existingCluster=EXISTING,
        hostedZoneId="Z0123456789ABC",
        privateHostedZoneId="Z0PRIVATE0000ZONE",
        domain="ml.example.com",
        acmeEmail="ops@example.com",
        services={"externalDns": True},
    )


def k8s_objects(plan: Plan) -> list:
    return [
        r
        for r in plan.registrations
        if r.type.startswith("kubernetes:") and r.custom and r.type != RELEASE
    ]


def test_counts_of_the_baseline(dev: Plan) -> None:
    # + knative-operator, knative-serving and keda (docs/serving.md)
    assert len(dev.by_type(NAMESPACE)) == 18
    assert len(dev.by_type(RESOURCE_QUOTA)) == 18
    assert len(dev.by_type(LIMIT_RANGE)) == 18
    assert len(dev.by_type(SERVICE_ACCOUNT_PATCH)) == 18
    # The tenancy Roles and bindings (a viewer in each of the 18 namespaces, an editor in
    # kubeflow and mlops) and Argo CD's writer Role in the workloads namespace.
    assert len(dev.by_type(ROLE)) == 21
    assert len(dev.by_type(ROLE_BINDING)) == 21
    # Per workload, not per namespace: the connectivity proof holds them to the needs.
    # Kubeflow Pipelines' nine workloads and their flows, MLflow's two and Argo CD's five
    # (its flows among its components count twice: both ends in one namespace); serving's
    # 46: Knative's and KEDA's workloads and flows, and Prometheus's scrape of the
    # inference pods (docs/serving.md, "Network flows").
    assert len(dev.by_type(NETWORK_POLICY)) == 190
    assert len(dev.by_type(PEER_AUTHENTICATION)) == 5  # the injected namespaces


def test_every_kubernetes_object_has_the_provider_and_an_explicit_name(dev: Plan) -> None:
    namespaced_cluster_kinds = {
        "Namespace",
        "StorageClass",
        "ClusterIssuer",
        "ClusterSecretStore",
        "ClusterRole",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    objects = k8s_objects(dev)
    assert len(objects) > 150
    for r in [*objects, *dev.by_type(RELEASE)]:
        assert "pulumi:providers:kubernetes::k8s::" in r.provider, r.urn
        assert r.parent.split("::")[-2].split("$")[-1].startswith("mlops:"), r.urn
    for r in objects:
        meta = r.inputs["metadata"]
        assert meta["name"], r.urn
        if r.inputs["kind"] not in namespaced_cluster_kinds:
            assert meta["namespace"], r.urn


def test_releases_match_the_pinned_table(dev: Plan) -> None:
    releases = {r.inputs["name"]: r.inputs for r in dev.by_type(RELEASE)}
    assert sorted(releases) == sorted(set(CHARTS) - {"external-dns"})
    # The operator's CRDs, the mesh, its gateway and the NLB's controller, each in its own
    # namespace: node agents alone where Pod Security is privileged.
    for name, inputs in releases.items():
        pin = CHARTS[name]
        if pin.is_oci:  # an OCI chart is named by its full reference, without a repo
            assert (inputs["chart"], inputs["version"]) == (
                f"{pin.repository}/{pin.chart}",
                pin.version,
            )
            assert "repositoryOpts" not in inputs
            continue
        assert (inputs["chart"], inputs["version"], inputs["repositoryOpts"]) == (
            pin.chart,
            pin.version,
            {"repo": pin.repository},
        )
    assert {n: i["namespace"] for n, i in releases.items()} == {
        "istio-base": "istio-system",
        "istiod": "istio-system",
        "istio-cni": "istio-cni",
        "istio-ingressgateway": "istio-ingress",
        "aws-load-balancer-controller": "aws-load-balancer-controller",
        "prometheus-operator-crds": "monitoring",
        "cert-manager": "cert-manager",
        "external-secrets": "external-secrets",
        "kube-prometheus-stack": "monitoring",
        "nvidia-device-plugin": "nvidia-device-plugin",
        "dcgm-exporter": "nvidia-device-plugin",
        "cluster-autoscaler": "cluster-autoscaler",
        "argocd": "argocd",
        "knative-operator": "knative-operator",
        "keda": "keda",
        "kserve-crd": "kserve",
        "kserve": "kserve",
        "kserve-runtime-configs": "kserve",
    }


def _node_selectors(values: object, path: str = "") -> dict[str, object]:
    found = {}
    if isinstance(values, dict):
        for key, value in values.items():
            here = f"{path}.{key}" if path else key
            if key == "nodeSelector":
                found[here] = value
            else:
                found |= _node_selectors(value, here)
    return found


def test_platform_pods_on_general_unless_gpu(dev: Plan) -> None:
    # A DaemonSet on every node, or no pods at all (CRDs, runtimes); pinned by node affinity.
    node_agents = {
        "istio-cni",
        "istio-base",
        "prometheus-operator-crds",
        "kserve-crd",
        "kserve-runtime-configs",
    }
    by_affinity = {"knative-operator"}  # its chart has no nodeSelector value
    for r in dev.by_type(RELEASE):
        name = r.inputs["name"]
        selectors = _node_selectors(r.inputs["values"])
        if name in node_agents | by_affinity:
            assert selectors == {}, name
            continue
        expected = (
            {"mlops-platform.io/pool": "gpu"}
            if name in ("nvidia-device-plugin", "dcgm-exporter")
            else GENERAL
        )
        assert selectors, name
        assert all(v == expected for v in selectors.values()), (name, selectors)


def test_service_accounts_with_roles_match_the_trust_subject(zone: Plan) -> None:
    roles = {r.urn: r for r in zone.by_type(IAM_ROLE)}
    annotated = [
        r for r in zone.by_type(SA) if ROLE_ARN in (r.inputs["metadata"].get("annotations") or {})
    ]
    assert {
        f"{r.inputs['metadata']['namespace']}/{r.inputs['metadata']['name']}" for r in annotated
    } == {
        "cert-manager/cert-manager",
        "external-dns/external-dns",
        "external-secrets/external-secrets",
        "cluster-autoscaler/cluster-autoscaler",
        "aws-load-balancer-controller/aws-load-balancer-controller",
        "mlflow/mlflow-server",
        "kubeflow/pipeline-runner",
        "kubeflow/ml-pipeline",  # Kubeflow Pipelines' API server: pipeline packages in S3
        "kubeflow/ml-pipeline-ui",  # its UI: artifacts and archived logs
        "mlops/kserve-model-reader",
    }
    by_arn = {}
    for role in roles.values():
        arn = f"arn:aws:iam::123456789012:role/{role.name}"
        by_arn[arn] = role
    for sa in annotated:
        meta = sa.inputs["metadata"]
        role = by_arn[meta["annotations"][ROLE_ARN]]
        trust = json.loads(role.inputs["assumeRolePolicy"])
        (statement,) = trust["Statement"]
        subjects = [
            v for k, v in statement["Condition"]["StringEquals"].items() if k.endswith(":sub")
        ]
        assert subjects == [f"system:serviceaccount:{meta['namespace']}:{meta['name']}"]


def test_chart_service_accounts_are_typed(dev: Plan) -> None:
    names = {
        f"{r.inputs['metadata']['namespace']}/{r.inputs['metadata']['name']}"
        for r in dev.by_type(SA)
    }
    assert names == {
        "istio-ingress/istio-ingressgateway",
        "aws-load-balancer-controller/aws-load-balancer-controller",
        "cert-manager/cert-manager",
        "cert-manager/cert-manager-webhook",
        "cert-manager/cert-manager-cainjector",
        "external-secrets/external-secrets",
        "external-secrets/external-secrets-webhook",
        "external-secrets/external-secrets-cert-controller",
        "monitoring/kube-prometheus-stack-operator",
        "monitoring/kube-prometheus-stack-prometheus",
        "monitoring/kube-prometheus-stack-alertmanager",
        "monitoring/kube-prometheus-stack-grafana",
        "monitoring/kube-prometheus-stack-kube-state-metrics",
        "node-exporter/kube-prometheus-stack-prometheus-node-exporter",
        "nvidia-device-plugin/dcgm-exporter",
        "cluster-autoscaler/cluster-autoscaler",
        # The ML services' accounts (layer 3 uses them), typed with their IRSA roles.
        "mlflow/mlflow-server",
        "mlflow/mlflow-db-upgrade",  # the schema Job's: no role, no token
        "kubeflow/pipeline-runner",
        "mlops/kserve-model-reader",
        "keda/keda-operator",
        "keda/keda-metrics-server",
        "keda/keda-webhook",
        # Kubeflow Pipelines' accounts (components/k8s/kfp_manifests.py ACCOUNTS).
        "kubeflow/ml-pipeline",
        "kubeflow/ml-pipeline-ui",
        "kubeflow/ml-pipeline-persistenceagent",
        "kubeflow/ml-pipeline-scheduledworkflow",
        "kubeflow/argo",
        "kubeflow/metadata-grpc-server",
        "kubeflow/metadata-envoy",
        "kubeflow/ml-pipeline-visualizationserver",
        # Argo CD's components (issue 11 item 4).
        "argocd/argocd-application-controller",
        "argocd/argocd-server",
        "argocd/argocd-repo-server",
        "argocd/argocd-applicationset-controller",
        "argocd/argocd-redis",
    }
    for patch in dev.by_type(SERVICE_ACCOUNT_PATCH):
        assert patch.inputs["metadata"]["name"] == "default"
        assert patch.inputs["automountServiceAccountToken"] is False


def test_storage_class_is_gp3_encrypted_with_the_data_key(dev: Plan) -> None:
    (sc,) = dev.by_type(STORAGE_CLASS)
    assert sc.inputs["metadata"]["annotations"] == {
        "storageclass.kubernetes.io/is-default-class": "true"
    }
    assert sc.inputs["provisioner"] == "ebs.csi.aws.com"
    params = sc.inputs["parameters"]
    assert params["type"] == "gp3"
    assert params["encrypted"] == "true"
    assert params["kmsKeyId"] == "arn:aws:kms:eu-west-1:123456789012:key/key-data-kms-key"


def test_issuer_without_zone_is_self_signed_and_with_zone_acme(dev: Plan, zone: Plan) -> None:
    (issuer,) = dev.by_type(CLUSTER_ISSUER)
    assert issuer.inputs["spec"] == {"selfSigned": {}}
    (acme,) = zone.by_type(CLUSTER_ISSUER)
    assert acme.inputs["metadata"]["name"] == "letsencrypt"
    assert len(zone.by_type(RELEASE)) == len(CHARTS)


def test_grafana_admin_and_receiver_come_from_secrets_manager(dev: Plan) -> None:
    secrets = {r.inputs["name"] for r in dev.by_type(SECRET)}
    assert secrets == {
        "mlops-platform-dev/grafana-admin",
        "mlops-platform-dev/alertmanager-receiver",
        "mlops-platform-dev/mlflow-auth",
        "mlops-platform-dev/argocd",
    }
    for version in dev.by_type(SECRET_VERSION):
        assert "[secret]" in json.dumps(version.inputs["secretString"])
    external = {
        r.inputs["metadata"]["name"]: r.inputs["spec"] for r in dev.by_type(EXTERNAL_SECRET)
    }
    assert external["grafana-admin"]["data"] == [
        {
            "secretKey": "admin-password",
            "remoteRef": {"key": "mlops-platform-dev/grafana-admin", "property": "password"},
        },
        {
            "secretKey": "admin-user",
            "remoteRef": {"key": "mlops-platform-dev/grafana-admin", "property": "username"},
        },
    ]
    values = dev.one(RELEASE, "release-kube-prometheus-stack").inputs["values"]
    assert values["grafana"]["extraSecretMounts"][0]["secretName"] == "grafana-admin"
    assert "adminPassword" not in values["grafana"]
    assert external["alertmanager-config"]["data"][0]["remoteRef"] == {
        "key": "mlops-platform-dev/alertmanager-receiver",
        "property": "url",
    }


def test_bring_your_own_cluster_deploys_the_layers_only(zone: Plan) -> None:
    existing = zone
    assert existing.by_type(EKS_CLUSTER) == []
    assert existing.by_type(MANAGED_NODE_GROUP) == []
    (provider,) = existing.by_type(K8S_PROVIDER)
    assert provider.inputs["kubeconfig"] == "/etc/kube/shared.yaml"
    assert len(existing.by_type(NAMESPACE)) == 19  # + external-dns
    assert len(existing.by_type(RELEASE)) == len(CHARTS)
    autoscaler = existing.one(RELEASE, "release-cluster-autoscaler").inputs["values"]
    assert autoscaler["autoDiscovery"] == {"clusterName": "shared-cluster"}
    egress = [
        r.inputs["spec"]
        for r in existing.by_type(NETWORK_POLICY)
        if r.inputs["metadata"]["name"] == "allow-egress-postgres"
    ]
    # The existing cluster's own address plan: its private subnets, its service CIDR.
    assert egress[0]["egress"][0]["to"] == [
        {"ipBlock": {"cidr": "10.60.0.0/19"}},
        {"ipBlock": {"cidr": "10.60.32.0/19"}},
    ]
    api = next(
        r.inputs["spec"]
        for r in existing.by_type(NETWORK_POLICY)
        if r.inputs["metadata"]["name"] == "allow-egress-kube-api-istiod"
    )
    assert api["egress"][0]["to"][0] == {"ipBlock": {"cidr": "172.20.0.1/32"}}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"services": {"externalDns": True}},
            "mlops-platform:services.externalDns = True: needs privateHostedZoneId (records "
            "of the internal load balancer stay private)",
        ),
        (
            {"services": {"externalSecrets": False}},
            "mlops-platform:services.monitoring = True: needs services.externalSecrets = True",
        ),
        (
            {"nodeGroups": {"gpu": None}},
            "mlops-platform:services.nvidiaDevicePlugin = True: needs a GPU group in nodeGroups",
        ),
    ],
)
def test_missing_prerequisite_stops_with_one_line(raw: dict, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        settings_from_config({"environment": "dev", **raw}, stack="dev", region="eu-west-1")
    assert str(error.value) == message


def test_switching_services_off_drops_their_namespaces() -> None:
    settings = settings_from_config(
        {
            "environment": "dev",
            "services": {"argocd": False, "kserve": False, "clusterAutoscaler": False},
        },
        stack="dev",
        region="eu-west-1",
    )
    names = enabled_namespaces(settings)
    assert "argocd" not in names
    assert "kserve" not in names
    assert "cluster_autoscaler" not in names
    assert names["workloads"] == "mlops"


def _term_matches(term: dict, labels: dict[str, str]) -> bool:
    """One nodeSelectorTerm (matchExpressions with In/Exists) against a node's labels."""
    for expr in term.get("matchExpressions", []):
        value = labels.get(expr["key"])
        if expr["operator"] == "In" and value not in expr["values"]:
            return False
        if expr["operator"] == "Exists" and value is None:
            return False
    return True


def test_the_device_plugin_schedules_onto_the_gpu_nodes(plans: dict) -> None:
    """Its chart's required node affinity wants NFD's labels or nvidia.com/gpu.present."""
    shared_charts_or_skip()  # the DaemonSet is the rendered chart's
    groups = [r for r in plans["dev"]["resources"] if r["type"] == MANAGED_NODE_GROUP]
    gpu_labels = [g["inputs"]["labels"] for g in groups if "gpu" in g["name"]]
    assert gpu_labels
    manifests = Path(plans["dev"]["dir"]) / "manifests"
    for name in ("nvidia-device-plugin", "nvidia-device-plugin-mps-control-daemon"):
        daemonset = yaml.safe_load(
            (manifests / f"nvidia-device-plugin--daemonset--{name}.yaml").read_text()
        )
        pod = daemonset["spec"]["template"]["spec"]
        terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"
        ]
        for labels in gpu_labels:
            assert any(_term_matches(t, labels) for t in terms), (name, labels)
            selector = dict(pod["nodeSelector"])
            # The MPS daemon waits for an opt-in label besides (MPS is off by default).
            selector.pop("nvidia.com/mps.capable", None)
            assert all(labels.get(k) == v for k, v in selector.items()), (name, selector)
    for group in groups:
        if "gpu" not in group["name"]:
            assert "nvidia.com/gpu.present" not in group["inputs"]["labels"]
