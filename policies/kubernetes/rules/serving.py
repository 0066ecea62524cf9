"""KServe: a model is served only from the platform's artifact store.

The storage initializer downloads a model into the predictor's pod with the read-only
role of the namespace's model-reader ServiceAccount
(docs/decisions/0006-one-role-per-service-account.md); a model URI outside
the artifact store (a public HTTP URL, another bucket scheme) is code the platform never
reviewed. That the predictor runs under a named ServiceAccount is
``k8s-pod-service-account-named``, which covers InferenceServices too.
"""

from __future__ import annotations

from mlops_policy_kit import HIGH, MANDATORY, Config, as_map, resource_policy, str_list
from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._pods import INFERENCE_COMPONENTS, INFERENCE_SERVICE, MODEL_CONTAINER_KEYS, object_label


def storage_uris(props: object) -> list[str]:
    """Every model URI an InferenceService's components name."""
    spec = as_map(as_map(props).get("spec"))
    uris = []
    for component in INFERENCE_COMPONENTS:
        c = as_map(spec.get(component))
        uris += str_list(c.get("storageUris")) + str_list(c.get("storageUri"))
        for key in MODEL_CONTAINER_KEYS:
            model = as_map(c.get(key))
            uris += str_list(model.get("storageUri")) + str_list(model.get("storageUris"))
    return uris


def validate_storage(args: ResourceValidationArgs, report: ReportViolation, config: Config) -> None:
    prefixes = tuple(str(p) for p in config["allowedStoragePrefixes"])
    outside = [u for u in storage_uris(args.props) if not u.startswith(prefixes)]
    if outside:
        what = object_label(args.resource_type, args.props, args.name)
        report(
            f"The {what} loads its model from {', '.join(outside)}, outside the artifact store "
            f"({', '.join(prefixes)}).",
            None,
        )


inference_service_storage = resource_policy(
    name="k8s-inference-service-storage-allowed",
    description="InferenceServices must load models only from the platform's artifact store.",
    validate=validate_storage,
    types=(INFERENCE_SERVICE,),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("MLOPS-D6",),
    config={
        "allowedStoragePrefixes": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["s3://"],
            "description": "URI prefixes a model may be loaded from (the artifact bucket's).",
        }
    },
)

POLICIES = [inference_service_storage]
