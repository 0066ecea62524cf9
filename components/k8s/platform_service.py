"""`PlatformService`: the base of every platform service component (layers 2 and 3).

A service is one ComponentResource per module, with a frozen `XArgs`
(docs/decisions/0002-component-guidelines.md). The composition passes the
Kubernetes and AWS providers in `opts.providers`, which children inherit through
`parent=self`, and what the service waits for in `opts.depends_on`. Pulumi does
not pass a component's `depends_on` on to its children, so every child this
base creates waits for it explicitly: a service that depends on its namespace
and on cert-manager has every one of its objects created after both.

Kubernetes children are named after their identity in the cluster
(`release-<release>`, `sa-<namespace>-<name>`, ...), the way Chart v4 names the
objects it renders: a service is instantiated once per stack and a namespace and
name are unique in a cluster, so these names cannot collide
(docs/decisions/0013-explicit-names.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.aws.irsa_role import IrsaRole, IrsaRoleArgs
from components.k8s.charts import ChartPin
from contract import ServiceAccountRef

MANAGED_BY = {
    "app.kubernetes.io/managed-by": "pulumi",
    "app.kubernetes.io/part-of": "mlops-platform",
}


@dataclass(frozen=True)
class OidcProvider:
    """The cluster's IAM OIDC provider: what every IRSA role trusts."""

    arn: pulumi.Input[str]
    url: pulumi.Input[str]


@dataclass(frozen=True)
class AwsScope:
    """What a service's AWS resources need: the cluster's identity provider and tags."""

    oidc: OidcProvider
    tags: Mapping[str, str] = field(default_factory=dict)


def retired_ml_accounts() -> pulumi.Output[str]:
    """The URN of the component that grouped the ML services' accounts before each
    ML service owned its own: the former parent their aliases name."""
    return pulumi.create_urn("ml-accounts", "mlops:ml_accounts:MlServiceAccounts")


def _as_list(value: Any) -> list[pulumi.Resource]:
    if value is None:
        return []
    if isinstance(value, pulumi.Resource):
        return [value]
    return list(value)


class PlatformService(pulumi.ComponentResource):
    """One platform service: its release(s), ServiceAccounts, roles and custom resources."""

    def __init__(self, token: str, name: str, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(token, name, None, opts)
        self._after = _as_list(opts.depends_on if opts else None)
        self.roles: dict[str, IrsaRole] = {}  # output key -> the role of one of its accounts
        self.releases: dict[str, k8s.helm.v4.Chart] = {}
        self.charts: dict[str, ChartPin] = {}  # release name -> the pin it installs

    def child_opts(
        self,
        after: Sequence[pulumi.Resource] = (),
        *,
        aliases: Sequence[pulumi.Alias] | None = None,
        ignore_changes: Sequence[str] | None = None,
        protect: bool = False,
    ) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            parent=self,
            depends_on=[*self._after, *after],
            aliases=list(aliases) if aliases else None,
            ignore_changes=list(ignore_changes) if ignore_changes else None,
            protect=protect or None,
        )

    def irsa_role(
        self,
        key: str,
        account: ServiceAccountRef,
        policy: pulumi.Input[str],
        scope: AwsScope,
        *,
        aliases: Sequence[pulumi.Alias] = (),
    ) -> IrsaRole:
        """The service account's own role (docs/decisions/0006-one-role-per-service-account.md).

        `key` names the role in the stack outputs (`roleArns`); the resource is
        `irsa-<key in kebab case>`.
        """
        role = IrsaRole(
            f"irsa-{key.replace('_', '-')}",
            IrsaRoleArgs(
                oidc_provider_arn=scope.oidc.arn,
                oidc_provider_url=scope.oidc.url,
                namespace=account.namespace,
                service_account=account.name,
                policy=policy,
                tags=dict(scope.tags),
            ),
            opts=self.child_opts(aliases=aliases),
        )
        self.roles[key] = role
        return role

    def service_account(
        self,
        namespace: str,
        name: str,
        role: IrsaRole | None = None,
        *,
        api_token: bool = True,
        aliases: Sequence[pulumi.Alias] = (),
    ) -> k8s.core.v1.ServiceAccount:
        """A ServiceAccount the service's pods run under, with its IRSA annotation.

        `api_token=False`: its pods never call the Kubernetes API, so no API token is
        mounted (IRSA's web identity token and Istio's are projected volumes of their own).
        """
        metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": MANAGED_BY}
        if role is not None:
            metadata["annotations"] = role.annotations
        return k8s.core.v1.ServiceAccount(
            f"sa-{namespace}-{name}",
            metadata=metadata,
            automount_service_account_token=None if api_token else False,
            opts=self.child_opts(aliases=aliases),
        )

    def release(
        self,
        release_name: str,
        pin: ChartPin,
        namespace: str,
        values: Mapping[str, Any],
        after: Sequence[pulumi.Resource] = (),
    ) -> k8s.helm.v4.Chart:
        """The chart as a `helm.v4.Chart`: every object it renders is a resource of its own,
        which previews and the policy packs see; hooks are not applied (the plan's render
        check fails on a chart that needs one). docs/decisions/0020-charts-locked-rendered-
        as-chart-v4.md."""
        # An OCI chart is named by its full reference; a repository chart by name and repo.
        chart = f"{pin.repository.rstrip('/')}/{pin.chart}" if pin.is_oci else pin.chart
        release = k8s.helm.v4.Chart(
            f"release-{release_name}",
            name=release_name,
            chart=chart,
            version=pin.version,
            repository_opts=None
            if pin.is_oci
            else k8s.helm.v4.RepositoryOptsArgs(repo=pin.repository),
            namespace=namespace,
            values=dict(values),
            opts=self.child_opts(after),
        )
        self.releases[release_name] = release
        self.charts[release_name] = pin
        return release

    def custom_resource(
        self,
        resource_name: str,
        manifest: Mapping[str, Any],
        after: Sequence[pulumi.Resource] = (),
    ) -> k8s.apiextensions.CustomResource:
        extra = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind", "metadata")}
        return k8s.apiextensions.CustomResource(
            resource_name,
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            opts=self.child_opts(after),
            **extra,
        )
