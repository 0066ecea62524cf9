"""The one place where a rule of this pack does not report a finding, each with its reason.

``UPSTREAM``: behaviour of a pinned chart that its values cannot change (an agent that
needs the host is not here: its namespace enforces ``privileged``, with the reason on the
Namespace). Before adding an entry, fix what values can fix; each entry names one object
(``<namespace>/<name>`` or, cluster-scoped, ``<name>``) and says why, in a sentence.

``PROGRAM_PENDING``: findings of rules added with the policy kit on the program's own
objects, which the program must fix (not exempt). They keep today's plans passing while
the fix lands; ``tests/policies/test_plans.py`` fails as soon as one no longer matches a
finding, so the list only shrinks.
"""

from __future__ import annotations

from mlops_policy_kit import Exemption

CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"

# Why each controller holds the grant: what it does, which its values cannot narrow.
_CERT_MANAGER_SECRETS = (
    "The cert-manager controllers write every Certificate's key pair into a Secret of the "
    "Certificate's namespace and read issuer credentials from Secrets: they cannot name "
    "them in advance (cert-manager has no per-namespace RBAC mode but a single --namespace)."
)
_ESO_SECRETS = (
    "External Secrets creates and updates the target Secret of every ExternalSecret, in "
    "the ExternalSecret's namespace; the chart's RBAC cannot name Secrets it does not know."
)
_ISTIOD = (
    "The istiod control plane serves gateway TLS credentials (SDS) from Secrets of any "
    "namespace, patches its own sidecar-injector and validation webhooks' caBundle, and "
    "manages the Istio and Gateway API resources it owns ('*' on its own API groups): the "
    "istiod chart's ClusterRole, which values cannot narrow."
)
_PROMETHEUS_OPERATOR = (
    "The prometheus-operator creates and rewrites the StatefulSets, Services, Secrets and "
    "ConfigMaps of each Prometheus and Alertmanager it runs and owns the monitoring.coreos.com "
    "resources ('*' verbs on those); the chart's ClusterRole, which values cannot narrow."
)


_ARGOCD_REDIS_ENV = (
    "The argo-cd 10.1.1 chart renders REDIS_PASSWORD (and REDIS_USERNAME/REDIS_SENTINEL_*) as "
    "secretKeyRef environment variables in every Argo CD component and in Redis's "
    "--requirepass argument, whatever the values (templates/*/deployment.yaml, the "
    "argo-cd.redisPasswordSecretRef helper); the Secret comes from Secrets Manager."
)
_ARGOCD_SECRETS = (
    "Argo CD's settings manager runs a Secret informer in its own namespace (argocd-secret, "
    "and repository and cluster credentials found by their label): an informer lists and "
    "watches, which resourceNames cannot confine; the chart's Role is namespaced to argocd."
)


def _upstream(policy: str, resource_type: str, subjects: tuple[str, ...], reason: str):
    return tuple(Exemption(policy, resource_type, subject, reason) for subject in subjects)


UPSTREAM: tuple[Exemption, ...] = (
    *_upstream(
        "k8s-rbac-secrets-read-restricted",
        CLUSTER_ROLE,
        (
            "cert-manager-controller-certificates",
            "cert-manager-controller-challenges",
            "cert-manager-controller-clusterissuers",
            "cert-manager-controller-issuers",
            "cert-manager-controller-orders",
        ),
        _CERT_MANAGER_SECRETS,
    ),
    *_upstream(
        "k8s-rbac-secrets-read-restricted",
        CLUSTER_ROLE,
        ("cert-manager-cainjector",),
        "The cainjector copies the CA of the Secret a Certificate names into the caBundle of "
        "webhooks, APIServices and CRDs (here the platform's own webhooks); it watches "
        "Secrets to follow their rotation.",
    ),
    *_upstream(
        "k8s-rbac-webhook-configuration-write-restricted",
        CLUSTER_ROLE,
        ("cert-manager-cainjector",),
        "The cainjector's job is writing the caBundle of the webhook configurations annotated "
        "cert-manager.io/inject-ca-from; it patches no other field.",
    ),
    *_upstream(
        "k8s-rbac-pod-create-restricted",
        CLUSTER_ROLE,
        ("cert-manager-controller-challenges",),
        "HTTP-01 challenges run a solver pod in the Certificate's namespace; the platform's "
        "issuers use DNS-01 (Route 53), so no solver pod is created, but the chart's role "
        "holds the grant.",
    ),
    *_upstream(
        "k8s-rbac-secrets-read-restricted",
        ROLE,
        ("cert-manager/cert-manager-webhook:dynamic-serving",),
        "The cert-manager webhook keeps its own serving certificate in a Secret of its "
        "namespace (dynamic serving); the Role is confined to the cert-manager namespace.",
    ),
    *_upstream(
        "k8s-rbac-secrets-read-restricted",
        CLUSTER_ROLE,
        ("external-secrets-controller",),
        _ESO_SECRETS,
    ),
    *_upstream(
        "k8s-rbac-service-account-token-create-restricted",
        CLUSTER_ROLE,
        ("external-secrets-controller",),
        "A SecretStore may authenticate to AWS as a ServiceAccount of its namespace "
        "(serviceAccountRef, a projected token); the platform's ClusterSecretStore uses the "
        "controller's own IRSA role, but the chart's ClusterRole keeps the grant.",
    ),
    *_upstream(
        "k8s-rbac-secrets-read-restricted",
        CLUSTER_ROLE,
        ("external-secrets-cert-controller",),
        "The cert controller rotates the webhook's serving certificate in its Secret and "
        "injects its CA into the CRDs' conversion webhooks and the validating webhooks.",
    ),
    *_upstream(
        "k8s-pod-token-mounted-where-needed",
        DEPLOYMENT,
        ("external-secrets/external-secrets-webhook",),
        "The webhook's process builds a controller-runtime manager from the in-cluster "
        "config (ctrl.GetConfigOrDie() in cmd/controller/webhook.go): without a token it "
        "exits at start; it reads nothing, so no binding grants it anything.",
    ),
    *_upstream(
        "k8s-rbac-no-wildcards", CLUSTER_ROLE, ("istiod-clusterrole-istio-system",), _ISTIOD
    ),
    *_upstream(
        "k8s-rbac-secrets-read-restricted",
        CLUSTER_ROLE,
        ("istiod-clusterrole-istio-system",),
        _ISTIOD,
    ),
    *_upstream(
        "k8s-rbac-webhook-configuration-write-restricted",
        CLUSTER_ROLE,
        ("istiod-clusterrole-istio-system",),
        _ISTIOD,
    ),
    *_upstream(
        "k8s-rbac-secrets-read-restricted",
        ROLE,
        ("istio-system/istiod",),
        "The istiod control plane keeps its CA (istio-ca-secret, cacerts) in Secrets of its "
        "own namespace; the Role is confined to istio-system.",
    ),
    *_upstream(
        "k8s-rbac-secrets-read-restricted",
        ROLE,
        ("istio-ingress/istio-ingressgateway",),
        "The istiod control plane serves a Gateway's TLS credential only if the gateway's "
        "ServiceAccount may read that Secret (a SubjectAccessReview): the Role is that "
        "permission, confined to the gateway's own namespace.",
    ),
    *_upstream(
        "k8s-rbac-no-wildcards",
        CLUSTER_ROLE,
        ("kube-prometheus-stack-operator",),
        _PROMETHEUS_OPERATOR,
    ),
    *_upstream(
        "k8s-rbac-secrets-read-restricted",
        CLUSTER_ROLE,
        ("kube-prometheus-stack-operator",),
        _PROMETHEUS_OPERATOR,
    ),
    # Kubeflow Pipelines 2.17.0 (the pinned manifests; components/k8s/kfp_manifests.py
    # narrows what an overlay can, docs/kubeflow-pipelines.md lists the rest).
    *_upstream(
        "k8s-rbac-pod-create-restricted",
        ROLE,
        ("kubeflow/argo-role",),
        "Argo's workflow controller creates every pipeline step's pod and signals its "
        "containers through pods/exec (argo-workflows v4.0.5 workflow/controller); the Role "
        "is confined to the kubeflow namespace, whose accounts are the platform's.",
    ),
    *_upstream(
        "k8s-rbac-secrets-read-restricted",
        ROLE,
        ("kubeflow/argo-role",),
        "Argo's workflow controller reads the Secrets a workflow's artifact repository or "
        "template names, which it cannot know in advance; confined to the kubeflow namespace "
        "(the platform's artifact repository uses IRSA and names none).",
    ),
    *_upstream(
        "k8s-pod-secrets-not-in-env",
        DEPLOYMENT,
        ("kubeflow/ml-pipeline",),
        "The KFP API server reads its MySQL user and password only from its configuration "
        "(viper: /config/config.json or DBCONFIG_* environment variables, backend/src/"
        "apiserver/client_manager); the values come from the ExternalSecret of the RDS-managed "
        "secret, never from state.",
    ),
)

# argocd (components/k8s/argocd.py).
UPSTREAM += (
    *_upstream(
        "k8s-pod-secrets-not-in-env",
        DEPLOYMENT,
        ("argocd/argocd-redis", "argocd/argocd-repo-server", "argocd/argocd-server"),
        _ARGOCD_REDIS_ENV,
    ),
    *_upstream(
        "k8s-pod-secrets-not-in-env",
        STATEFUL_SET,
        ("argocd/argocd-application-controller",),
        _ARGOCD_REDIS_ENV,
    ),
    *_upstream(
        "k8s-rbac-secrets-read-restricted",
        ROLE,
        (
            "argocd/argocd-application-controller",
            "argocd/argocd-applicationset-controller",
            "argocd/argocd-server",
        ),
        _ARGOCD_SECRETS,
    ),
)

# --- serving: the Knative operator and KServe (docs/serving.md, "Upstream findings") ---
_KNATIVE_OPERATOR = (
    "The Knative operator installs Knative Serving (and, for a KnativeEventing, Eventing): "
    "it creates their CRDs, Deployments, webhooks and ClusterRoles and binds them, which "
    "needs '*' verbs and bind/escalate on RBAC; one binary under one ServiceAccount holds "
    "both roles, and knative-operator 1.23.0 templates/rbac renders both unconditionally "
    "(the platform creates no KnativeEventing)."
)
_KNATIVE_OPERATOR_WEBHOOK = (
    "The operator's webhook (knative.dev/pkg webhook) keeps its serving certificate in a "
    "Secret of its namespace and writes that certificate's CA into its own webhook "
    "configurations; knative-operator 1.23.0 renders these rules unconditionally."
)
_KSERVE_CONTROLLER = (
    "The KServe controller reads the Secrets an InferenceService's ServiceAccount links "
    "(storage credentials; the platform's model reader uses IRSA and links none) and "
    "manages its serving webhooks' configurations; kserve-resources v0.20.0 "
    "files/kserve/resources.yaml renders kserve-manager-role whole, with no value to narrow it."
)
SERVING: tuple[Exemption, ...] = (
    *_upstream(
        "k8s-rbac-no-wildcards",
        CLUSTER_ROLE,
        ("knative-serving-operator", "knative-eventing-operator"),
        _KNATIVE_OPERATOR,
    ),
    *_upstream(
        "k8s-rbac-no-escalation-verbs",
        CLUSTER_ROLE,
        ("knative-serving-operator", "knative-eventing-operator"),
        _KNATIVE_OPERATOR,
    ),
    *_upstream(
        "k8s-rbac-secrets-read-restricted",
        CLUSTER_ROLE,
        ("knative-eventing-operator",),
        _KNATIVE_OPERATOR,
    ),
    *_upstream(
        "k8s-rbac-webhook-configuration-write-restricted",
        CLUSTER_ROLE,
        ("knative-operator-webhook",),
        _KNATIVE_OPERATOR_WEBHOOK,
    ),
    *_upstream(
        "k8s-rbac-secrets-read-restricted",
        ROLE,
        ("knative-operator/knative-operator-webhook",),
        _KNATIVE_OPERATOR_WEBHOOK,
    ),
    *_upstream(
        "k8s-rbac-secrets-read-restricted",
        CLUSTER_ROLE,
        ("kserve-manager-role",),
        _KSERVE_CONTROLLER,
    ),
    *_upstream(
        "k8s-rbac-webhook-configuration-write-restricted",
        CLUSTER_ROLE,
        ("kserve-manager-role",),
        _KSERVE_CONTROLLER,
    ),
    *_upstream(
        "k8s-rbac-secrets-read-restricted",
        ROLE,
        ("keda/keda-operator-certs",),
        "With permissions.operator.restrict.secret the KEDA operator lists and watches "
        "Secrets of its own namespace only (its certificates, trigger credentials), in "
        "place of every namespace's; keda 2.20.2 templates/manager/minimal-rbac.yaml gives "
        "the list no names.",
    ),
    *_upstream(
        "k8s-pod-image-pinned",
        "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime",
        ("kserve-vllmserver",),
        "KServe's kserve-runtime-configs v0.20.0 renders every runtime; kserve-vllmserver "
        "(vllm/vllm-openai:latest) is rendered with spec.disabled: true, which KServe never "
        "selects; vLLM is served by the pinned Hugging Face runtime instead.",
    ),
)
UPSTREAM = (*UPSTREAM, *SERVING)

PROGRAM_PENDING: tuple[Exemption, ...] = ()

EXEMPTIONS = (*UPSTREAM, *PROGRAM_PENDING)
