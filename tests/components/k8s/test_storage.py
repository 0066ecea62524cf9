"""DefaultStorageClass: gp3, encrypted with the given key, the cluster's default."""

from __future__ import annotations

from components.k8s.storage import DefaultStorageClass, DefaultStorageClassArgs
from tests.conftest import build, on_cluster
from tests.types import STORAGE_CLASS

KEY = "arn:aws:kms:eu-west-1:123456789012:key/key-data"


def test_storage_class_is_gp3_encrypted_with_the_key() -> None:
    plan = build(lambda: DefaultStorageClass("storage", DefaultStorageClassArgs(KEY), on_cluster()))
    (sc,) = plan.by_type(STORAGE_CLASS)
    assert sc.name == "storage-class-gp3"
    assert sc.inputs["metadata"] == {
        "name": "gp3-encrypted",
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
    }
    assert sc.inputs["provisioner"] == "ebs.csi.aws.com"
    assert sc.inputs["parameters"] == {
        "type": "gp3",
        "encrypted": "true",
        "kmsKeyId": KEY,
        "csi.storage.k8s.io/fstype": "ext4",
    }
    assert sc.inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc.inputs["reclaimPolicy"] == "Delete"
