"""Argo CD: what GitOps may deploy, from where and to where.

An AppProject is the boundary Argo CD enforces: its source repositories, destinations and
the cluster-scoped kinds it may create. Argo CD's built-in ``default`` project allows
everything, so no Application may use it, and each Application's sources and destination
must lie inside its project (Argo CD's own glob matching, as ``fnmatch``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from mlops_policy_kit import (
    HIGH,
    MANDATORY,
    Config,
    as_list,
    as_map,
    of_type,
    resource_policy,
    stack_policy,
    str_list,
)
from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from ._pods import object_label

APP_PROJECT = "kubernetes:argoproj.io/v1alpha1:AppProject"
APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
OPEN = {"*", "**"}


def project_problems(props: Mapping[str, Any]) -> list[str]:
    spec = as_map(props.get("spec"))
    problems = []
    repos = str_list(spec.get("sourceRepos"))
    if not repos or OPEN & set(repos):
        problems.append("its sourceRepos must list the repositories it deploys from, not '*'")
    destinations = [as_map(d) for d in as_list(spec.get("destinations"))]
    if not destinations:
        problems.append("it names no destination")
    for d in destinations:
        cluster = d.get("server") or d.get("name")
        if cluster in OPEN or d.get("namespace") in OPEN or not d.get("namespace"):
            problems.append(f"the destination {cluster}/{d.get('namespace')} is open-ended")
    for item in map(as_map, as_list(spec.get("clusterResourceWhitelist"))):
        if item.get("group") in OPEN and item.get("kind") in OPEN:
            problems.append("its clusterResourceWhitelist allows every cluster-scoped kind")
    return problems


def validate_app_project(args: ResourceValidationArgs, report: ReportViolation, _: Config) -> None:
    what = object_label(args.resource_type, args.props, args.name)
    for problem in project_problems(args.props):
        report(f"In the {what}, {problem}.", None)


app_project_restricted = resource_policy(
    name="k8s-argocd-app-project-restricted",
    description="An Argo CD AppProject must restrict its source repositories and destinations.",
    validate=validate_app_project,
    types=(APP_PROJECT,),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("MLOPS-GITOPS",),
)


def _sources(spec: Mapping[str, Any]) -> list[str]:
    repos = [str(as_map(spec.get("source")).get("repoURL") or "")]
    repos += [str(as_map(s).get("repoURL") or "") for s in as_list(spec.get("sources"))]
    return [r for r in repos if r]


def application_problems(
    app: Mapping[str, Any], projects: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    spec = as_map(app.get("spec"))
    name = str(spec.get("project") or "default")
    if name == "default":
        return ["it uses Argo CD's default project, which allows everything"]
    project = projects.get(name)
    if project is None:
        return [f"its project {name} is not an AppProject of this stack"]
    project_spec = as_map(project.get("spec"))
    problems = []
    allowed_repos = str_list(project_spec.get("sourceRepos"))
    for repo in _sources(spec):
        if not any(fnmatch.fnmatchcase(repo, pattern) for pattern in allowed_repos):
            problems.append(f"it syncs from {repo}, which the project {name} does not allow")
    destination = as_map(spec.get("destination"))
    namespace = str(destination.get("namespace") or "")
    allowed = [as_map(d) for d in as_list(project_spec.get("destinations"))]
    if not any(fnmatch.fnmatchcase(namespace, str(d.get("namespace") or "")) for d in allowed):
        problems.append(f"its destination namespace '{namespace}' is outside the project {name}")
    return problems


def validate_applications(args: StackValidationArgs, report: ReportViolation, _: Config) -> None:
    projects = {
        str(as_map(p.props.get("metadata")).get("name") or p.name): p.props
        for p in of_type(args.resources, APP_PROJECT)
    }
    for app in of_type(args.resources, APPLICATION):
        what = object_label(app.resource_type, app.props, app.name)
        for problem in application_problems(app.props, projects):
            report(f"The {what} is not confined: {problem}.", app.urn)


application_project_scoped = stack_policy(
    name="k8s-argocd-application-project-scoped",
    description="An Argo CD Application must sync only what its own restricted project allows.",
    validate=validate_applications,
    types=(APPLICATION, APP_PROJECT),
    level=MANDATORY,
    severity=HIGH,
    benchmarks=("MLOPS-GITOPS",),
)

POLICIES = [app_project_restricted, application_project_scoped]
