"""TenantNamespace: one namespace and its baseline.

Namespace with Pod Security Admission labels, ResourceQuota, LimitRange,
NetworkPolicies, the default ServiceAccount with token automount off, and the
namespace's Roles and RoleBindings. The plan is computed by `plan.tenancy_plan`;
the Kubernetes provider comes through `opts.providers`.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.platform_service import MANAGED_BY
from components.k8s.tenancy.plan import NamespacePlan
from components.k8s.tenancy.quota import LIMIT_RANGE


class TenantNamespace(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    name: str

    def __init__(
        self,
        name: str,
        plan: NamespacePlan,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:namespace:TenantNamespace", name, None, opts)
        self.name = plan.name
        ns = plan.name

        def child(*depends: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=list(depends))

        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={
                "name": ns,
                "labels": {**MANAGED_BY, **plan.labels},
                "annotations": plan.annotations,
            },
            opts=child(),
        )

        def meta(object_name: str) -> k8s.meta.v1.ObjectMetaArgsDict:
            return {"name": object_name, "namespace": ns, "labels": MANAGED_BY}

        inside = child(self.namespace)
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=meta("tenant-quota"),
            spec={"hard": plan.quota.hard()},
            opts=inside,
        )
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=meta("tenant-defaults"),
            spec={"limits": [LIMIT_RANGE]},
            opts=inside,
        )
        for policy in plan.network_policies:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-np-{policy.name}",
                metadata=meta(policy.name),
                spec=policy.spec,
                opts=inside,
            )
        # The default ServiceAccount exists already (the controller creates it): patch it.
        k8s.core.v1.ServiceAccountPatch(
            f"{name}-default-sa",
            metadata={
                "name": "default",
                "namespace": ns,
                "annotations": {"pulumi.com/patchForce": "true"},
            },
            automount_service_account_token=False,
            opts=inside,
        )
        for role in plan.roles:
            created = k8s.rbac.v1.Role(
                f"{name}-role-{role.name}",
                metadata=meta(role.name),
                rules=list(role.rules),
                opts=inside,
            )
            k8s.rbac.v1.RoleBinding(
                f"{name}-rb-{role.name}",
                metadata=meta(role.name),
                role_ref={
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": role.name,
                },
                subjects=[
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": role.group}
                ],
                opts=child(created),
            )
        self.register_outputs({"name": ns})
