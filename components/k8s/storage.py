"""DefaultStorageClass: gp3, encrypted with the platform's KMS key, the cluster's default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_kubernetes as k8s

DEFAULT_CLASS_ANNOTATION: Final = "storageclass.kubernetes.io/is-default-class"
STORAGE_CLASS_NAME: Final = "gp3-encrypted"


def storage_class_args(kms_key_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Arguments of `k8s.storage.v1.StorageClass` (EBS CSI driver)."""
    return {
        "metadata": {
            "name": STORAGE_CLASS_NAME,
            "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
        },
        "provisioner": "ebs.csi.aws.com",
        "parameters": {
            "type": "gp3",
            "encrypted": "true",
            "kmsKeyId": kms_key_arn,
            "csi.storage.k8s.io/fstype": "ext4",
        },
        # Bind where the pod lands, so the volume is created in the pod's AZ.
        "volume_binding_mode": "WaitForFirstConsumer",
        "allow_volume_expansion": True,
        "reclaim_policy": "Delete",
    }


@dataclass(frozen=True)
class DefaultStorageClassArgs:
    kms_key_arn: pulumi.Input[str]  # the key EBS volumes are encrypted with


class DefaultStorageClass(pulumi.ComponentResource):
    storage_class: k8s.storage.v1.StorageClass

    def __init__(
        self, name: str, args: DefaultStorageClassArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:storage:DefaultStorageClass", name, None, opts)
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-class-gp3",
            **storage_class_args(args.kms_key_arn),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"name": STORAGE_CLASS_NAME})
