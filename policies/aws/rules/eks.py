"""EKS control plane, managed node groups and their launch templates.

Each cluster rule reads both shapes: the pulumi-eks component ``eks:index:Cluster``
(flat inputs; what the program registers, and all the mocks see) and the provider
resource ``aws:eks/cluster:Cluster`` (nested ``vpcConfig`` / ``encryptionConfig`` /
``accessConfig``; what a real preview also shows as the component's child).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_policy_kit import (
    ADVISORY,
    CRITICAL,
    HIGH,
    LOW,
    MANDATORY,
    MEDIUM,
    PROD_CONFIG,
    Config,
    as_list,
    as_map,
    is_prod,
    json_doc,
    number,
    of_type,
    ref_matches,
    referenced,
    resource_policy,
    stack_policy,
    str_list,
    truthy,
)
from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

EKS_CLUSTER = "eks:index:Cluster"
AWS_CLUSTER = "aws:eks/cluster:Cluster"
CLUSTERS = (EKS_CLUSTER, AWS_CLUSTER)
EKS_NODE_GROUP = "eks:index:ManagedNodeGroup"
AWS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_GROUPS = (EKS_NODE_GROUP, AWS_NODE_GROUP)
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
OPEN_CIDRS = {"0.0.0.0/0", "::/0"}


def _endpoint(props: Mapping[str, Any]) -> tuple[bool, bool, list[str]]:
    """(public, private, public CIDRs) with the AWS defaults (public on, open to all)."""
    src = as_map(props.get("vpcConfig")) or props
    public = src.get("endpointPublicAccess")
    private = src.get("endpointPrivateAccess")
    cidrs = str_list(src.get("publicAccessCidrs"))
    return (public is None or truthy(public)), truthy(private), cidrs


def validate_endpoint_not_public(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    public, _private, cidrs = _endpoint(args.props)
    if not public:
        return
    if not cidrs:
        report(
            f"The EKS cluster '{args.name}' has a public endpoint with no publicAccessCidrs, "
            "which opens it to 0.0.0.0/0; disable it or list the allowed CIDRs.",
            None,
        )
    elif OPEN_CIDRS & set(cidrs):
        report(
            f"The EKS cluster '{args.name}' has a public endpoint open to "
            f"{', '.join(sorted(OPEN_CIDRS & set(cidrs)))}.",
            None,
        )


eks_endpoint_not_public = resource_policy(
    name="aws-eks-cluster-endpoint-not-public",
    description="The EKS API endpoint must not be reachable from 0.0.0.0/0.",
    validate=validate_endpoint_not_public,
    types=CLUSTERS,
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=("CIS-EKS-5.4.1", "CKV_AWS_38", "CKV_AWS_39"),
)


def validate_private_endpoint(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    _public, private, _cidrs = _endpoint(args.props)
    if not private:
        report(
            f"The EKS cluster '{args.name}' must enable endpointPrivateAccess so that nodes "
            "reach the API inside the VPC.",
            None,
        )


eks_private_endpoint = resource_policy(
    name="aws-eks-cluster-private-endpoint-enabled",
    description="The EKS API endpoint must be reachable privately from the VPC.",
    validate=validate_private_endpoint,
    types=CLUSTERS,
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CIS-EKS-5.4.2",),
)


def validate_logging(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    enabled = set(str_list(args.props.get("enabledClusterLogTypes")))
    missing = [t for t in LOG_TYPES if t not in enabled]
    if missing:
        report(
            f"The EKS cluster '{args.name}' does not send the control-plane log types "
            f"{', '.join(missing)}; enable all of {', '.join(LOG_TYPES)}.",
            None,
        )


eks_logging = resource_policy(
    name="aws-eks-cluster-control-plane-logging",
    description="Every EKS control-plane log type must be enabled.",
    validate=validate_logging,
    types=CLUSTERS,
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CIS-EKS-2.1.1", "CKV_AWS_37"),
)


def _secrets_key(props: Mapping[str, Any]) -> str | None:
    key = props.get("encryptionConfigKeyArn")
    if isinstance(key, str) and key:
        return key
    configs = as_list(props.get("encryptionConfig")) or [props.get("encryptionConfig")]
    for cfg in map(as_map, configs):
        arn = as_map(cfg.get("provider")).get("keyArn")
        if "secrets" in str_list(cfg.get("resources")) and isinstance(arn, str) and arn:
            return arn
    return None


def validate_secrets_encryption(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    if _secrets_key(args.props) is None:
        report(
            f"The EKS cluster '{args.name}' must encrypt Kubernetes secrets with a KMS key "
            "(encryptionConfigKeyArn).",
            None,
        )


eks_secrets_encryption = resource_policy(
    name="aws-eks-cluster-secrets-encrypted",
    description="Kubernetes secrets must be envelope-encrypted with a customer managed KMS key.",
    validate=validate_secrets_encryption,
    types=CLUSTERS,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-5.3.1", "CKV_AWS_58"),
)


def validate_version(args: ResourceValidationArgs, report: ReportViolation, config: Config) -> None:
    version = args.props.get("version")
    supported = [str(v) for v in config["supportedVersions"]]
    if not isinstance(version, str) or not version:
        report(
            f"The EKS cluster '{args.name}' does not pin its Kubernetes version; set version to "
            f"one of {', '.join(supported)}.",
            None,
        )
    elif version not in supported:
        report(
            f"The EKS cluster '{args.name}' runs Kubernetes {version}, which is not in standard "
            f"support; use one of {', '.join(supported)}.",
            None,
        )


eks_version = resource_policy(
    name="aws-eks-cluster-supported-version",
    description="EKS clusters must pin a Kubernetes version in standard support.",
    validate=validate_version,
    types=CLUSTERS,
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CKV_AWS_339",),
    config={
        "supportedVersions": {
            "type": "array",
            "items": {"type": "string"},
            # EKS standard support on 2026-12-01 for the platform's version set: 1.35 and
            # 1.36 (1.33 entered extended support on 2026-07-29, 1.34 follows). Configure it
            # as the calendar moves (policies/README.md, "Configuration").
            "default": ["1.35", "1.36"],
            "description": "Kubernetes minor versions in EKS standard support.",
        }
    },
)


def validate_access_entries(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    mode = args.props.get("authenticationMode") or as_map(args.props.get("accessConfig")).get(
        "authenticationMode"
    )
    allowed = list(config["allowedModes"])
    if mode not in allowed:
        report(
            f"The EKS cluster '{args.name}' uses the authentication mode {mode or 'CONFIG_MAP'}; "
            f"use {' or '.join(allowed)} so that access is granted through access entries.",
            None,
        )


eks_access_entries = resource_policy(
    name="aws-eks-cluster-access-entries",
    description="EKS clusters must grant access through access entries, not the aws-auth map.",
    validate=validate_access_entries,
    types=CLUSTERS,
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CIS-EKS-5.5.1", "CIS-EKS-4.1.7"),
    config={
        "allowedModes": {
            "type": "array",
            "items": {"type": "string", "enum": ["API", "API_AND_CONFIG_MAP"]},
            "default": ["API"],
            "description": "Authentication modes accepted (API uses access entries only).",
        }
    },
)


def validate_no_default_node_group(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    if not truthy(args.props.get("skipDefaultNodeGroup")) and not args.props.get("fargate"):
        report(
            f"The EKS cluster '{args.name}' creates pulumi-eks's default self-managed node group, "
            "which has no hardened launch template; set skipDefaultNodeGroup and use managed "
            "node groups.",
            None,
        )


eks_no_default_node_group = resource_policy(
    name="aws-eks-cluster-no-default-node-group",
    description="The pulumi-eks cluster must skip its default, unhardened node group.",
    validate=validate_no_default_node_group,
    types=(EKS_CLUSTER,),
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("CKV_AWS_315", "MLOPS-D2"),
)


# --- launch templates --------------------------------------------------------------------


def imds_problem(props: Mapping[str, Any], max_hops: int) -> str | None:
    meta = as_map(props.get("metadataOptions"))
    if meta.get("httpEndpoint") == "disabled":
        return None  # no metadata service at all is stricter still
    problems = []
    if meta.get("httpTokens") != "required":
        problems.append("httpTokens is not required")
    hops = number(meta.get("httpPutResponseHopLimit"))
    if hops is None or hops > max_hops:
        problems.append(f"httpPutResponseHopLimit is {int(hops) if hops else 'unset'}")
    if problems:
        return f"{' and '.join(problems)} (IMDSv2 with hop limit {max_hops} is required)"
    return None


def volume_problem(props: Mapping[str, Any]) -> str | None:
    mappings = [as_map(m) for m in as_list(props.get("blockDeviceMappings"))]
    if not mappings:
        return "it declares no blockDeviceMappings, so the root volume uses the AMI's settings"
    for mapping in mappings:
        ebs = as_map(mapping.get("ebs"))
        if ebs and not truthy(ebs.get("encrypted")):
            return f"the volume {mapping.get('deviceName', '?')} is not encrypted"
    return None


HOP_CONFIG = {
    "maxHopLimit": {
        "type": "integer",
        "minimum": 1,
        "maximum": 2,
        "default": 1,
        "description": "Largest IMDS hop limit allowed (1 keeps pods off the node role).",
    }
}


def validate_lt_imdsv2(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    problem = imds_problem(args.props, int(config["maxHopLimit"]))
    if problem:
        report(f"The launch template '{args.name}' must require IMDSv2: {problem}.", None)


lt_imdsv2 = resource_policy(
    name="aws-ec2-launch-template-imdsv2",
    description="Launch templates must require IMDSv2 with a hop limit of 1.",
    validate=validate_lt_imdsv2,
    types=(LAUNCH_TEMPLATE,),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CKV_AWS_79", "CKV_AWS_341"),
    config=HOP_CONFIG,
)


def validate_lt_volumes(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    problem = volume_problem(args.props)
    if problem:
        report(f"The launch template '{args.name}' must encrypt its volumes: {problem}.", None)


lt_volumes = resource_policy(
    name="aws-ec2-launch-template-ebs-encrypted",
    description="Launch templates must encrypt every EBS volume they declare.",
    validate=validate_lt_volumes,
    types=(LAUNCH_TEMPLATE,),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CKV_AWS_8",),
)


def validate_lt_public_ip(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    for nic in as_list(args.props.get("networkInterfaces")):
        if truthy(as_map(nic).get("associatePublicIpAddress")):
            report(
                f"The launch template '{args.name}' must not associate public IP addresses.", None
            )
            return


lt_public_ip = resource_policy(
    name="aws-ec2-launch-template-no-public-ip",
    description="Launch templates must not give instances public IP addresses.",
    validate=validate_lt_public_ip,
    types=(LAUNCH_TEMPLATE,),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CKV_AWS_88", "CIS-EKS-5.4.3"),
)


# --- node groups ---------------------------------------------------------------------------


def _launch_template_of(
    args: StackValidationArgs, group: PolicyResource
) -> tuple[Mapping[str, Any] | None, PolicyResource | None]:
    spec = as_map(group.props.get("launchTemplate"))
    if not spec:
        return None, None
    for lt in of_type(args.resources, LAUNCH_TEMPLATE):
        by_dep = any(d.urn == lt.urn for d in group.property_dependencies.get("launchTemplate", []))
        if by_dep or ref_matches(spec.get("id"), lt) or ref_matches(spec.get("name"), lt):
            return spec, lt
    return spec, None


def validate_node_group_hardened(
    args: StackValidationArgs, report: ReportViolation, config: Config
) -> None:
    for group in of_type(args.resources, *NODE_GROUPS):
        spec, lt = _launch_template_of(args, group)
        if spec is None:
            report(
                f"The node group '{group.name}' uses EKS's default launch template (IMDSv1 "
                "allowed, hop limit 2); give it a launch template that requires IMDSv2 with "
                "hop limit 1 and encrypts its volumes.",
                group.urn,
            )
            continue
        if lt is None:
            report(
                f"The launch template of the node group '{group.name}' is not part of this "
                "stack, so its IMDS and volume settings cannot be verified.",
                group.urn,
            )
            continue
        problems = [
            p
            for p in (imds_problem(lt.props, int(config["maxHopLimit"])), volume_problem(lt.props))
            if p
        ]
        if problems:
            report(
                f"The node group '{group.name}' uses the launch template '{lt.name}' where "
                f"{'; '.join(problems)}.",
                group.urn,
            )


node_group_hardened = stack_policy(
    name="aws-eks-node-group-launch-template-hardened",
    description="Every EKS node group must use a launch template with IMDSv2 and encrypted disks.",
    validate=validate_node_group_hardened,
    types=(*NODE_GROUPS, LAUNCH_TEMPLATE),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CKV_AWS_341", "CKV_AWS_79", "CKV_AWS_8"),
    config=HOP_CONFIG,
)


def validate_node_group_remote_access(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    if as_map(args.props.get("remoteAccess")):
        report(
            f"The node group '{args.name}' opens SSH through remoteAccess; use SSM Session "
            "Manager instead.",
            None,
        )


node_group_remote_access = resource_policy(
    name="aws-eks-node-group-no-remote-access",
    description="EKS node groups must not open SSH access to their nodes.",
    validate=validate_node_group_remote_access,
    types=NODE_GROUPS,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CKV_AWS_100",),
)


GPU_CONFIG: dict[str, dict[str, Any]] = {
    "taintKey": {"type": "string", "default": "nvidia.com/gpu", "description": "GPU taint key."},
    "taintValue": {"type": "string", "default": "true", "description": "GPU taint value."},
    "taintEffect": {
        "type": "string",
        "default": "NO_SCHEDULE",
        "description": "GPU taint effect in the EKS API spelling.",
    },
    "gpuInstancePrefixes": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["g4", "g5", "g6", "gr6", "p3", "p4", "p5", "p6"],
        "description": "Instance-type prefixes that carry GPUs.",
    },
}


def _is_gpu_group(props: Mapping[str, Any], config: Config) -> bool:
    ami = props.get("amiType")
    if isinstance(ami, str) and ("NVIDIA" in ami or "GPU" in ami):
        return True
    if truthy(props.get("gpu")):
        return True
    prefixes = tuple(f"{p}" for p in config["gpuInstancePrefixes"])
    types = str_list(props.get("instanceTypes"))
    return any(t.split(".")[0].startswith(prefixes) for t in types)


def validate_gpu_tainted(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    if not _is_gpu_group(args.props, config):
        return
    for taint in map(as_map, as_list(args.props.get("taints"))):
        if (
            taint.get("key") == config["taintKey"]
            and str(taint.get("value")) == config["taintValue"]
            and taint.get("effect") == config["taintEffect"]
        ):
            return
    report(
        f"The GPU node group '{args.name}' must carry the taint {config['taintKey']}="
        f"{config['taintValue']}:{config['taintEffect']} so that only GPU pods land on it.",
        None,
    )


node_group_gpu_tainted = resource_policy(
    name="aws-eks-node-group-gpu-tainted",
    description="GPU node groups must carry the GPU taint so that only GPU workloads use them.",
    validate=validate_gpu_tainted,
    types=NODE_GROUPS,
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("MLOPS-D2",),
    config=GPU_CONFIG,
)


def validate_node_group_capacity(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    scaling = as_map(args.props.get("scalingConfig"))
    low, high = number(scaling.get("minSize")), number(scaling.get("maxSize"))
    if low is None or high is None:
        report(
            f"The node group '{args.name}' should declare scalingConfig minSize and maxSize.", None
        )


node_group_scaling = resource_policy(
    name="aws-eks-node-group-scaling-bounded",
    description="EKS node groups should declare explicit scaling bounds.",
    validate=validate_node_group_capacity,
    types=NODE_GROUPS,
    level=ADVISORY,
    advisory_reason=("Scaling bounds are a capacity and cost choice, not a security control."),
    severity=LOW,
    benchmarks=("MLOPS-D14",),
)


# --- CIS EKS 4.1.7, 4.3.1 / 5.4.4, 5.4.2; the API egress proof ------------------------------

EKS_ADDON = "aws:eks/addon:Addon"
EKS_ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"


def _service_cidr(props: Mapping[str, Any]) -> str | None:
    value = props.get("kubernetesServiceIpAddressRange") or as_map(
        props.get("kubernetesNetworkConfig")
    ).get("serviceIpv4Cidr")
    return value if isinstance(value, str) and value else None


def validate_service_cidr(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    if _service_cidr(args.props) is None:
        report(
            f"The EKS cluster '{args.name}' leaves its service CIDR to EKS; set it "
            "(kubernetesServiceIpAddressRange) so that the kubernetes Service's ClusterIP, which "
            "the NetworkPolicies must admit, is known before the cluster exists.",
            None,
        )


eks_service_cidr = resource_policy(
    name="aws-eks-cluster-service-cidr-explicit",
    description="EKS clusters must set their Kubernetes service CIDR explicitly.",
    validate=validate_service_cidr,
    types=CLUSTERS,
    level=MANDATORY,
    severity=MEDIUM,
    benchmarks=("MLOPS-D10", "CIS-EKS-5.4.4"),
)


def validate_public_endpoint_prod(
    args: ResourceValidationArgs, report: ReportViolation, config: Config
) -> None:
    public, _private, _cidrs = _endpoint(args.props)
    if public and is_prod(args, config):
        report(
            f"The production EKS cluster '{args.name}' has a public API endpoint; disable it and "
            "reach the API from inside the VPC.",
            None,
        )


eks_public_endpoint_prod = resource_policy(
    name="aws-eks-cluster-public-endpoint-disabled-prod",
    description="Production EKS clusters must not have a public API endpoint at all.",
    validate=validate_public_endpoint_prod,
    types=CLUSTERS,
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-5.4.2",),
    config=PROD_CONFIG,
)


def validate_vpc_cni_network_policy(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    if args.props.get("addonName") != "vpc-cni":
        return
    values = json_doc(args.props.get("configurationValues")) or {}
    if not truthy(values.get("enableNetworkPolicy")):
        report(
            f"The vpc-cni add-on '{args.name}' does not enable network policy enforcement "
            '(configurationValues {"enableNetworkPolicy": "true"}), so every NetworkPolicy is '
            "ignored.",
            None,
        )


vpc_cni_network_policy = resource_policy(
    name="aws-eks-vpc-cni-network-policy-enabled",
    description="The VPC CNI add-on must enforce Kubernetes NetworkPolicies.",
    validate=validate_vpc_cni_network_policy,
    types=(EKS_ADDON,),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-4.3.1", "CIS-EKS-5.4.4"),
)


def _entry_groups(props: Mapping[str, Any], resource_type: str) -> list[tuple[str, list[str]]]:
    """(principal, Kubernetes groups) of the access entries a resource declares."""
    if resource_type == EKS_ACCESS_ENTRY:
        return [(str(props.get("principalArn")), str_list(props.get("kubernetesGroups")))]
    return [
        (
            str(as_map(entry).get("principalArn") or key),
            str_list(as_map(entry).get("kubernetesGroups")),
        )
        for key, entry in as_map(props.get("accessEntries")).items()
    ]


def validate_access_entry_groups(
    args: ResourceValidationArgs, report: ReportViolation, _: Config
) -> None:
    for principal, groups in _entry_groups(args.props, args.resource_type):
        reserved = [g for g in groups if g.startswith("system:")]
        if reserved:
            report(
                f"The access entry of {principal} maps it to {', '.join(reserved)}; system: "
                "groups bypass RBAC (system:masters is cluster-admin) and EKS refuses them: use "
                "an access policy or the platform's RBAC groups.",
                None,
            )


access_entry_no_system_groups = resource_policy(
    name="aws-eks-access-entry-no-system-groups",
    description="EKS access entries must not map principals to reserved system: groups.",
    validate=validate_access_entry_groups,
    types=(EKS_CLUSTER, EKS_ACCESS_ENTRY),
    level=MANDATORY,
    severity=CRITICAL,
    benchmarks=("CIS-EKS-4.1.7",),
)


SUBNET = "aws:ec2/subnet:Subnet"


def validate_node_group_private(
    args: StackValidationArgs, report: ReportViolation, _: Config
) -> None:
    public = [
        s for s in of_type(args.resources, SUBNET) if truthy(s.props.get("mapPublicIpOnLaunch"))
    ]
    for group in of_type(args.resources, *NODE_GROUPS):
        hit = [s.name for s in public if referenced(group, "subnetIds", s)]
        if hit:
            report(
                f"The node group '{group.name}' places nodes in the public subnets "
                f"{', '.join(hit)}; use the private subnets.",
                group.urn,
            )


node_group_private_subnets = stack_policy(
    name="aws-eks-node-group-private-subnets",
    description="Node groups must place their nodes in private subnets only.",
    validate=validate_node_group_private,
    types=(*NODE_GROUPS, SUBNET),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("CIS-EKS-5.4.3",),
)

POLICIES = [
    eks_endpoint_not_public,
    eks_private_endpoint,
    eks_public_endpoint_prod,
    eks_logging,
    eks_secrets_encryption,
    eks_version,
    eks_service_cidr,
    eks_access_entries,
    access_entry_no_system_groups,
    eks_no_default_node_group,
    vpc_cni_network_policy,
    lt_imdsv2,
    lt_volumes,
    lt_public_ip,
    node_group_hardened,
    node_group_remote_access,
    node_group_private_subnets,
    node_group_gpu_tainted,
    node_group_scaling,
]
