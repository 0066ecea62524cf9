"""The overlay over Kubeflow Pipelines' manifests, as data: what it removes and patches."""

from __future__ import annotations

import json

import pytest

from components.k8s import kfp_manifests as kfp
from contract import contract


def _platform_patches() -> list[dict]:
    kustomization = kfp.overlay_kustomizations()["platform"]
    return [json.loads(p["patch"]) for p in kustomization["patches"]]


def _deleted(part: str) -> set[tuple[str, str]]:
    patches = [json.loads(p["patch"]) for p in kfp.overlay_kustomizations()[part]["patches"]]
    return {(p["kind"], p["metadata"]["name"]) for p in patches if p.get("$patch") == "delete"}


def test_the_overlays_apply_cluster_scoped_resources_first() -> None:
    assert list(kfp.overlay_kustomizations()) == ["cluster", "platform"]
    assert kfp.overlay_kustomizations()["cluster"]["resources"] == [
        "../../cluster-scoped-resources"
    ]
    assert kfp.overlay_kustomizations()["platform"]["resources"] == ["../../env/platform-agnostic"]


@pytest.mark.parametrize(
    "removed",
    [
        ("Deployment", "seaweedfs"),  # 2.17's in-cluster object store (MinIO before)
        ("Secret", "mlpipeline-minio-artifact"),  # its static keys
        ("Deployment", "mysql"),
        ("PersistentVolumeClaim", "mysql-pv-claim"),
        ("Deployment", "cache-server"),
        ("Deployment", "cache-deployer-deployment"),
        ("Secret", "mysql-secret"),  # External Secrets writes it
        ("ConfigMap", "pipeline-install-config"),  # typed with the stack's values
        ("ServiceAccount", "pipeline-runner"),  # typed with its IRSA role
    ],
)
def test_the_platform_overlay_removes(removed: tuple[str, str]) -> None:
    assert removed in _deleted("platform")


def test_the_cluster_overlay_leaves_the_namespace_and_the_cache_deployer_out() -> None:
    assert _deleted("cluster") == {
        ("Namespace", "kubeflow"),
        ("ServiceAccount", "kubeflow-pipelines-cache-deployer-sa"),
        ("ClusterRole", "kubeflow-pipelines-cache-deployer-clusterrole"),
        ("ClusterRoleBinding", "kubeflow-pipelines-cache-deployer-clusterrolebinding"),
    }


def test_every_kept_deployment_is_patched_and_no_dropped_one_is() -> None:
    patched = {
        p["metadata"]["name"]
        for p in _platform_patches()
        if p["kind"] == "Deployment" and "$patch" not in p
    }
    assert patched == set(kfp.KEPT_DEPLOYMENTS)
    assert not patched & set(kfp.DROPPED_DEPLOYMENTS)


@pytest.mark.parametrize("name", kfp.KEPT_DEPLOYMENTS)
def test_every_kept_pod_is_placed_sized_and_hardened(name: str) -> None:
    (patch,) = [
        p
        for p in _platform_patches()
        if p["kind"] == "Deployment" and p["metadata"]["name"] == name
    ]
    pod = patch["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {contract().node_pool_label: contract().pools["general"]}
    containers = pod["containers"] + pod.get("initContainers", [])
    assert {c["name"] for c in containers} == set(kfp.HARDENING[name].containers)
    for container in containers:
        assert container["securityContext"]["runAsUser"] >= 10000
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]  # noqa: S108
    main = pod["containers"][0]
    assert set(main["resources"]) == {"requests", "limits"}
    assert (pod.get("automountServiceAccountToken") is False) is (not kfp.HARDENING[name].api)
    assert set(patch["metadata"]["annotations"]) == {"checkov.io/skip1", "checkov.io/skip2"}


def test_the_api_server_uses_s3_with_its_role_and_mysql_over_verified_tls() -> None:
    env = {
        e["name"]: e
        for e in kfp.api_server_patch()["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    # Empty, not absent: the image's config.json would otherwise supply minio's keys.
    assert env["OBJECTSTORECONFIG_ACCESSKEY"] == {
        "name": "OBJECTSTORECONFIG_ACCESSKEY",
        "value": "",
        "valueFrom": None,
    }
    assert env["OBJECTSTORECONFIG_SECRETACCESSKEY"]["value"] == ""
    assert env["OBJECTSTORECONFIG_SECURE"]["value"] == "true"
    assert json.loads(env["DBCONFIG_MYSQLCONFIG_EXTRAPARAMS"]["value"]) == {"tls": "true"}
    assert env["SSL_CERT_DIR"]["value"].split(":") == ["/etc/ssl/certs", kfp.RDS_CA_DIR]


def test_ml_metadata_connects_only_through_its_config_file() -> None:
    container = kfp.metadata_grpc_patch()["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == list(kfp.MLMD_ARGS)
    assert not any(a.startswith("--mysql_config") for a in container["args"])
    assert {"name": "DBCONFIG_PASSWORD", "$patch": "delete"} in container["env"]


def test_the_rds_ca_is_fetched_over_https_for_the_region() -> None:
    init = kfp.rds_ca_init_container()
    (script,) = init["args"]
    assert '"https://truststore.pki.rds.amazonaws.com/$AWS_REGION/$AWS_REGION-bundle.pem"' in script
    assert "BEGIN CERTIFICATE" in script  # an error page is not installed as a bundle


def test_the_ui_reads_s3_and_runs_no_custom_visualizations() -> None:
    env = {e["name"]: e for e in kfp.ui_patch()["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MINIO_ACCESS_KEY"] == {"name": "MINIO_ACCESS_KEY", "$patch": "delete"}
    assert env["ARGO_ARCHIVE_ARTIFACTORY"]["value"] == "s3"
    assert env["ALLOW_CUSTOM_VISUALIZATIONS"]["value"] == "false"


def test_the_workflow_controller_merges_its_metrics_into_the_istio_agent() -> None:
    metadata = kfp.workflow_controller_patch()["spec"]["template"]["metadata"]
    assert metadata["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9090",
        "prometheus.io/path": "/metrics",
    }


def test_the_overlay_digest_follows_the_files() -> None:
    assert kfp.overlay_digest() == kfp.overlay_digest()
    assert len(kfp.overlay_digest()) == 64
    assert sorted(kfp.overlay_files()) == [
        "manifests/kustomize/mlops-platform/cluster/kustomization.yaml",
        "manifests/kustomize/mlops-platform/platform/kustomization.yaml",
    ]


def test_the_manifests_namespace_is_the_contracts() -> None:
    # cluster-scoped-resources binds roles to subjects in `kubeflow`: the contract must agree.
    assert contract().namespaces["kubeflow"] == kfp.NAMESPACE
    assert contract().service_accounts["pipeline_runner"].name == kfp.RUNNER


def _grants(rules: list[dict]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for r in rules
        for group in r["apiGroups"]
        for resource in r["resources"]
        for verb in r["verbs"]
    }


def test_the_runner_and_ui_roles_lose_wildcards_pod_creation_and_secrets() -> None:
    roles = {
        p["metadata"]["name"]: p
        for p in _platform_patches()
        if p["kind"] == "Role" and p.get("$patch") != "delete"
    }
    assert set(roles) == {"pipeline-runner", "ml-pipeline-ui"}
    for role in roles.values():
        assert role["metadata"]["namespace"] == "kubeflow"
        grants = _grants(role["rules"])
        assert not any("*" in g for g in grants)
        assert not {r for _, r, _ in grants} & {"secrets", "persistentvolumes", "pods/exec"}
        assert ("", "pods", "create") not in grants
    runner = _grants(roles["pipeline-runner"]["rules"])
    # What a v2 run's pods use: the launcher's config, Argo's task results, kfp-kubernetes' PVCs.
    assert {
        ("", "configmaps", "get"),
        ("argoproj.io", "workflowtaskresults", "create"),
        ("argoproj.io", "workflowtaskresults", "patch"),
        ("", "persistentvolumeclaims", "create"),
        ("", "pods", "get"),
    } <= runner
