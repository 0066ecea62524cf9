"""The stack outputs, assembled in one place from the foundation and the platform."""

from __future__ import annotations

from typing import Any

from program.foundation import Foundation
from program.platform import Platform


def stack_outputs(foundation: Foundation, platform: Platform) -> dict[str, Any]:
    f = foundation
    outputs: dict[str, Any] = {
        "logsKmsKeyArn": f.logs_key_arn,
        "dataKmsKeyArn": f.data_key_arn,
    }
    if f.managed is not None:
        outputs |= {
            "publicSubnetIds": f.managed.public_subnet_ids,
            "secretsKmsKeyArn": f.managed.secrets_key_arn,
            "nodeRoleArn": f.managed.node_role_arn,
            "ebsCsiRoleArn": f.managed.ebs_csi_role_arn,
        }
    roles = {
        key: role.arn
        for service in platform.services.values()
        for key, role in service.roles.items()
    }
    charts = {
        name: pin for service in platform.services.values() for name, pin in service.charts.items()
    }
    outputs |= {
        "clusterName": f.cluster_name,
        "vpcId": f.vpc_id,
        "privateSubnetIds": f.private_subnet_ids,
        "kubeconfig": f.kubeconfig,
        "oidcProviderArn": f.oidc.arn,
        "bucketName": f.bucket_name,
        "artifactKmsKeyArn": f.artifacts.key_arn,
        "databases": {
            name: {"endpoint": db.endpoint, "masterSecretArn": db.master_secret_arn}
            for name, db in f.databases.items()
        },
        "roleArns": roles,
        "platformNamespaces": sorted(ns.name for ns in platform.namespaces.values()),
        "helmReleases": {
            name: f"{charts[name].chart}@{charts[name].version}" for name in sorted(charts)
        },
    }
    return outputs
