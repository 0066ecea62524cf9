"""KServe v0.20.0 (layer 3): the controller, its CRDs and serving runtimes, and the model reader.

Three charts, in order (kserve/kserve v0.20.0 charts/): `kserve-crd` (the six
serving.kserve.io CRDs), `kserve-resources` (the controller and its webhooks, with
their certificate from cert-manager: the chart's own Issuer and Certificate) and
`kserve-runtime-configs` (the ClusterServingRuntimes, which the controller's
webhook validates, hence last).

- Deployment mode: Knative (Serverless: scale to zero, revisions,
  `canaryTrafficPercent`) by default, on the Knative Serving of
  `components.k8s.knative`; a model asks for a plain Deployment with the annotation
  `serving.kserve.io/deploymentMode: Standard` (v0.20's name for RawDeployment,
  which it still accepts), and for KEDA autoscaling with
  `serving.kserve.io/autoscalerClass: keda` on top (`components.k8s.keda`).
- Runtimes: sklearn (`kserve-sklearnserver`, the example model's), PyTorch
  (`kserve-torchserve`) and Hugging Face (`kserve-huggingfaceserver`, whose `-gpu`
  image serves LLMs with vLLM); the chart's other runtimes are rendered disabled.
- The storage initializer (an init container KServe injects into every predictor
  pod) reads `s3://` through the pod's web identity: the predictor runs under the
  model reader's ServiceAccount, whose IRSA annotation makes KServe add the S3
  settings below (region, HTTPS, certificate checks, no anonymous access) and EKS's
  pod identity webhook the role and token (kserve v0.20.0
  pkg/credentials/service_account_credentials.go). No access key exists anywhere.
- The inference PodMonitor (`components.k8s.scrapes`) in the workloads namespace,
  where the predictors run, once the prometheus-operator CRDs exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import pulumi

from components.k8s import scrapes
from components.k8s.artifact_access import MLFLOW_PREFIX, ArtifactStoreRef, prefix_policy
from components.k8s.charts import ChartPin, KubernetesRange
from components.k8s.platform_service import AwsScope, PlatformService, retired_ml_accounts
from components.k8s.pods import Values, general_pool, nonroot_pod_security_context, resources
from contract import ServiceAccountRef

REPOSITORY: Final = "oci://ghcr.io/kserve/charts"
_SOURCE: Final = (
    "kserve/kserve charts/{chart}, tag v0.20.0 (Kubernetes >= 1.32 stated; KServe's "
    "matrix stops at 1.34 with Knative 1.21: 1.36 with Knative 1.23 is untested upstream)"
)
KUBERNETES: Final = KubernetesRange(
    "1.32",
    None,
    "kserve/website docs/admin-guide/serverless (0.20): Kubernetes >= 1.32",
    tested="<= 1.34: the published matrix stops at 1.34 (Knative 1.19-1.20); CI runs 1.34.4 "
    "with Knative operator 1.21.1 (kserve v0.20.0 kserve-deps.env); 1.36 with Knative 1.23 "
    "is untested upstream",
)
CRD_RELEASE: Final = "kserve-crd"
RELEASE: Final = "kserve"
RUNTIMES_RELEASE: Final = "kserve-runtime-configs"
CHARTS: Final = {
    CRD_RELEASE: ChartPin(
        "kserve-crd",
        "v0.20.0",
        REPOSITORY,
        _SOURCE.format(chart="kserve-crd"),
        digest="dcff60af0ae1dc33f1f5ce4fbe5b34516a7c5707ad743c1508f49a5dafce358f",
        content_digest="c6426425c5304e63d6fddf3b0e6bbc3063649884df5efc73e9d02c6162ed2783",
        kubernetes=KUBERNETES,
    ),
    RELEASE: ChartPin(
        "kserve-resources",
        "v0.20.0",
        REPOSITORY,
        _SOURCE.format(chart="kserve-resources"),
        digest="4df29d18075aca7a1936c6df34dafb7fe560d8c3a5d224c494fb6cfc60ff5b64",
        content_digest="a3424ce47ab2697a58970b5af3f0f4f5f06a295f30d485d1545be9e0bfdaceba",
        kubernetes=KUBERNETES,
    ),
    RUNTIMES_RELEASE: ChartPin(
        "kserve-runtime-configs",
        "v0.20.0",
        REPOSITORY,
        _SOURCE.format(chart="kserve-runtime-configs"),
        digest="c92bc804d90a8c2f0322af194f5425852a9b2526e2316ca642ecaf1e8631b830",
        content_digest="a65f60b04dccf01bcb1a1abf968699b4e53d341311756620f77a4689590c3705",
        kubernetes=KUBERNETES,
    ),
}
VERSION: Final = "v0.20.0"
CONTROLLER_SERVICE_ACCOUNT: Final = "kserve-controller-manager"  # the chart's own
WEBHOOK_PORT: Final = 9443
DeploymentMode = Literal["Knative", "Standard"]
DEPLOYMENT_MODE_ANNOTATION: Final = "serving.kserve.io/deploymentMode"
AUTOSCALER_CLASS_ANNOTATION: Final = "serving.kserve.io/autoscalerClass"

# kserve-runtime-configs v0.20.0 values.yaml `kserve.servingruntime.<key>`: the runtimes
# the platform serves with, and every other one the chart knows (rendered disabled).
# `huggingfaceserver` also switches the chart's multi-node variant (it shares the flag).
ENABLED_RUNTIMES: Final = {
    "sklearnserver": "kserve-sklearnserver",
    "torchserve": "kserve-torchserve",
    "huggingfaceserver": "kserve-huggingfaceserver",
}
DISABLED_RUNTIMES: Final = (
    "tensorflow",
    "mlserver",
    "xgbserver",
    "tritonserver",
    "pmmlserver",
    "predictiveserver",
    "paddleserver",
    "lgbserver",
    "autogluonserver",
    # `vllm/vllm-openai:latest`, root: an unpinned image no restricted namespace admits.
    # vLLM is served by the Hugging Face runtime's `-gpu` image instead.
    "vllmserver",
)
SKLEARN_RUNTIME: Final = ENABLED_RUNTIMES["sklearnserver"]
# The chart renders every runtime, disabled ones too (spec.disabled): each gets the
# restricted security context. The multi-node Hugging Face runtime has its own key.
ALL_RUNTIME_KEYS: Final = (*ENABLED_RUNTIMES, "huggingfaceserver_multinode", *DISABLED_RUNTIMES)

# Pod Security `restricted` for the runtimes' model server containers (the chart's
# defaults lack only the seccomp profile, which the pod or Knative's secure defaults set).
RUNTIME_SECURITY_CONTEXT: Final[Values] = {
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


@dataclass(frozen=True)
class KserveArgs:
    model_reader: ServiceAccountRef  # contract: model_reader
    artifacts: ArtifactStoreRef
    aws: AwsScope
    namespace: str  # the controller's (contract: kserve)
    workloads_namespace: str  # where InferenceServices run (contract: workloads)
    region: str  # the artifact bucket's, for the storage initializer
    serving_namespace: str  # Knative Serving's: its gateways are `<ns>/knative-*-gateway`
    gateway_namespace: str  # the Istio gateway's, where knative-local-gateway lives
    domain: str  # the external domain of InferenceService hosts (Knative's too)
    deployment_mode: DeploymentMode = "Knative"
    inference_monitor: bool = False  # the PodMonitor CRD exists (monitoring runs)

    def __post_init__(self) -> None:
        if self.deployment_mode not in ("Knative", "Standard"):
            raise ValueError(
                f"deployment_mode = {self.deployment_mode!r}: must be 'Knative' or 'Standard'"
            )


def storage_s3_config(region: str) -> Values:
    """The storage initializer's S3 settings, applied to pods whose account has an IRSA role.

    Credentials: none here. The pod's web identity (AWS_ROLE_ARN and the projected
    token, injected by EKS) is what boto3 uses; anonymous access is refused.
    """
    return {
        "endpoint": f"s3.{region}.amazonaws.com",
        "region": region,
        "useHttps": "1",
        "verifySSL": "1",
        "useAnonymousCredential": "false",
    }


def kserve_values(args: KserveArgs) -> Values:
    """kserve-resources: the controller on the general pool, Knative mode, S3 through IRSA."""
    gateway_ns, serving_ns = args.gateway_namespace, args.serving_namespace
    return {
        "kserve": {
            "controller": {
                "deploymentMode": args.deployment_mode,
                "nodeSelector": general_pool(),
                "resources": resources("100m", "256Mi", "500m", "512Mi"),
                "imagePullPolicy": "IfNotPresent",  # an immutable version tag
                "rbacProxy": {"resources": resources("20m", "64Mi", "100m", "128Mi")},
                "securityContext": nonroot_pod_security_context(),
                "gateway": {
                    "domain": args.domain,
                    "localGateway": {
                        "gateway": f"{serving_ns}/knative-local-gateway",
                        "gatewayService": f"knative-local-gateway.{gateway_ns}.svc.cluster.local",
                    },
                    "ingressGateway": {"gateway": f"{serving_ns}/knative-ingress-gateway"},
                },
            },
            "storage": {
                "s3": storage_s3_config(args.region),
                "resources": resources("100m", "128Mi", "1", "1Gi"),
                "containerSecurityContext": {
                    "allowPrivilegeEscalation": False,
                    "privileged": False,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
            },
            # Predictors call no Kubernetes API: their pods mount no API token (the
            # web identity token for S3 is a separate projected volume).
            "security": {"autoMountServiceAccountToken": False},
            # A predictor that states no resources gets these.
            "inferenceservice": {"resources": resources("100m", "512Mi", "1", "1Gi")},
        }
    }


def runtime_values() -> Values:
    """kserve-runtime-configs: sklearn, PyTorch and Hugging Face (vLLM) on; the rest off.

    Every runtime the chart renders carries the restricted security context (the chart's
    defaults lack the seccomp profile; vllmserver's also runAsNonRoot).
    """
    runtimes: Values = {
        key: {"securityContext": dict(RUNTIME_SECURITY_CONTEXT)} for key in ALL_RUNTIME_KEYS
    }
    for key in ENABLED_RUNTIMES:
        runtimes[key]["disabled"] = False
    for key in DISABLED_RUNTIMES:
        runtimes[key]["disabled"] = True
    return {"kserve": {"servingruntime": {"enabled": True, **runtimes}}}


class Kserve(PlatformService):
    """KServe's charts, the model reader's account and role, the inference PodMonitor."""

    def __init__(
        self, name: str, args: KserveArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:kserve:Kserve", name, opts)
        role = self.irsa_role(
            "model_reader",
            args.model_reader,
            prefix_policy(args.artifacts, (MLFLOW_PREFIX,), write=False),
            args.aws,
            aliases=[pulumi.Alias(name="irsa-model_reader", parent=pulumi.ROOT_STACK_RESOURCE)],
        )
        self.model_reader = self.service_account(
            args.model_reader.namespace,
            args.model_reader.name,
            role,
            api_token=False,  # the storage initializer and predictors never calls the API
            aliases=[pulumi.Alias(parent=retired_ml_accounts())],
        )
        ns = args.namespace
        crds = self.release(CRD_RELEASE, CHARTS[CRD_RELEASE], ns, {})
        controller = self.release(RELEASE, CHARTS[RELEASE], ns, kserve_values(args), [crds])
        self.release(
            RUNTIMES_RELEASE, CHARTS[RUNTIMES_RELEASE], ns, runtime_values(), [crds, controller]
        )
        if args.inference_monitor:
            self.custom_resource(
                f"pod-monitor-{scrapes.JOB_INFERENCE}",
                scrapes.inference_pod_monitor(namespace=args.workloads_namespace),
            )
        self.register_outputs({"role_arn": role.arn, "version": VERSION})
