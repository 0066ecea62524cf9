"""The loader: stack files, Pulumi config, and the generated declarations stay in step."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import jsonschema
import pulumi
import pytest
import yaml

from platformctl.engine import use_stack
from stacks import schema
from stacks.loader import (
    CONFIG_KEYS,
    PLATFORM_STACK_KEYS,
    SettingsError,
    load_environment,
    load_from_pulumi,
    load_from_stack_file,
    settings_from_config,
)

ROOT = Path(__file__).resolve().parents[2]


def test_pulumi_yaml_is_generated_from_config_keys() -> None:
    assert (ROOT / "Pulumi.yaml").read_text() == schema.pulumi_yaml_text(), (
        "Pulumi.yaml is stale: run `python -m stacks.schema`"
    )


def test_config_schema_is_generated_from_the_models() -> None:
    assert (ROOT / "docs/config.schema.json").read_text() == schema.config_schema_text(), (
        "docs/config.schema.json is stale: run `python -m stacks.schema`"
    )


def test_pulumi_yaml_declares_every_scalar_and_array_key_with_type_and_description() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "mlops-platform"
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": ".venv"},
    }
    declared = project["config"]
    expected = {k for k, v in CONFIG_KEYS.items() if not v.structured}
    assert set(declared) == expected | set(PLATFORM_STACK_KEYS)
    for key, entry in declared.items():
        assert entry["type"] in {"string", "integer", "boolean", "array"}, key
        assert entry["description"].endswith("."), key
    assert declared["clusterPublicAccessCidrs"]["items"] == {"type": "string"}


def test_structured_keys_are_in_the_json_schema() -> None:
    document = json.loads((ROOT / "docs/config.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    properties = document["properties"]
    assert {"nodeGroups", "databases", "services", "tags"} <= set(properties)
    node_group = document["$defs"]["NodeGroupSpec"]
    assert {"instanceTypes", "capacityType", "amiType", "minSize", "maxSize"} <= set(
        node_group["properties"]
    )


def test_every_stack_file_validates_against_the_schema_shapes() -> None:
    for stack in ("dev", "staging", "prod"):
        settings = load_from_stack_file(stack)
        assert settings.stack == stack
        assert settings.environment == stack
        assert settings.region == "eu-west-1"


def test_stack_files_hold_no_secret_values() -> None:
    for path in ROOT.glob("Pulumi.*.yaml"):
        text = path.read_text().lower()
        assert "secure:" not in text and "password" not in text, path.name


def test_unknown_stack(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^--stack qa: no Pulumi.qa.yaml"):
        load_from_stack_file("qa", tmp_path)


def test_invalid_yaml(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.dev.yaml").write_text("config: [unclosed\n")
    with pytest.raises(SettingsError, match=r"^Pulumi.dev.yaml: not valid YAML"):
        load_from_stack_file("dev", tmp_path)


def test_foreign_namespace(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  mlops:environment: dev\n"
    )
    with pytest.raises(SettingsError, match=r"^mlops:environment: unknown namespace"):
        load_from_stack_file("dev", tmp_path)


def test_string_values_from_the_cli_are_coerced() -> None:
    # `pulumi config set` stores scalars as strings.
    s = settings_from_config(
        {"environment": "dev", "interfaceEndpoints": "true", "gpuQuota": "8"},
        stack="dev",
        region="eu-west-1",
    )
    assert s.network.interface_endpoints is True
    assert s.gpu_quota == 8


@pytest.fixture
def pulumi_config() -> Iterator[Callable[[str, str], None]]:
    """Set Pulumi config for one test; the process-wide config is restored after it."""
    config = pulumi.runtime.config.CONFIG.get()
    saved = dict(config)
    yield pulumi.runtime.set_config
    config.clear()
    config.update(saved)


def test_load_from_pulumi_reads_the_stack_config(pulumi_config) -> None:
    pulumi_config("mlops-platform:environment", "staging")
    pulumi_config("mlops-platform:vpcCidr", "10.50.0.0/16")
    pulumi_config("mlops-platform:nodeGroups", '{"gpu": {"maxSize": 3}}')
    pulumi_config("aws:region", "eu-central-1")
    use_stack("test")
    target = load_from_pulumi()
    assert (target.layer, target.stack, target.foundation_stack) == ("aws", "test", "")
    s = target.settings
    assert (s.environment, s.region, str(s.network.vpc_cidr)) == (
        "staging",
        "eu-central-1",
        "10.50.0.0/16",
    )
    assert s.node_groups["gpu"].max_size == 3


def test_load_from_pulumi_bad_json_names_the_key(pulumi_config) -> None:
    pulumi_config("mlops-platform:environment", "dev")
    pulumi_config("mlops-platform:nodeGroups", "{not json")
    pulumi_config("aws:region", "eu-west-1")
    use_stack("test")
    with pytest.raises(SettingsError, match=r"^mlops-platform:nodeGroups: not valid object"):
        load_from_pulumi()


def test_a_platform_stack_reads_its_reference_and_the_environment_s_settings(
    pulumi_config,
) -> None:
    pulumi_config("mlops-platform:foundationStack", "organization/mlops-platform/dev")
    use_stack("dev-platform")
    try:
        target = load_from_pulumi()
    finally:
        use_stack("test")
    assert (target.layer, target.stack) == ("platform", "dev-platform")
    assert target.foundation_stack == "organization/mlops-platform/dev"
    assert target.settings == load_from_stack_file("dev")


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (None, r"^mlops-platform:foundationStack: required in Pulumi\.dev-platform\.yaml"),
        (
            "organization/mlops-platform/prod",
            r"^mlops-platform:foundationStack = 'organization/mlops-platform/prod': must name "
            r"the 'dev' stack",
        ),
    ],
)
def test_a_platform_stack_without_its_own_reference_stops(
    pulumi_config, reference: str | None, message: str
) -> None:
    if reference:
        pulumi_config("mlops-platform:foundationStack", reference)
    use_stack("dev-platform")
    try:
        with pytest.raises(SettingsError, match=message):
            load_from_pulumi()
    finally:
        use_stack("test")


def test_an_environment_is_two_stack_files(tmp_path) -> None:
    aws, platform = load_environment("prod")
    assert (aws.stack, platform.stack) == ("prod", "prod-platform")
    assert platform.foundation_stack == "organization/mlops-platform/prod"
    assert aws.settings == platform.settings
    (tmp_path / "Pulumi.dev.yaml").write_text((ROOT / "Pulumi.dev.yaml").read_text())
    (tmp_path / "Pulumi.dev-platform.yaml").write_text(
        "config:\n  mlops-platform:foundationStack: organization/mlops-platform/dev\n"
        "  mlops-platform:gpuQuota: 2\n"
    )
    with pytest.raises(
        SettingsError, match=r"^mlops-platform:gpuQuota: Pulumi\.dev-platform\.yaml"
    ):
        load_environment("dev", tmp_path)
    with pytest.raises(SettingsError, match=r"plan --stack dev \(it plans both of its stacks\)"):
        load_from_stack_file("dev-platform")
