"""The serving settings: switches, their prerequisites, tunables with one-line refusals."""

from __future__ import annotations

import pytest
from pydantic.alias_generators import to_camel

from stacks.loader import SettingsError, settings_from_config
from stacks.settings import SERVICE_NEEDS, ServiceSwitches


def _settings(env: str = "dev", **raw: object):
    return settings_from_config({"environment": env, **raw}, stack=env, region="eu-west-1")


def test_defaults_per_environment() -> None:
    for env, replicas in (("dev", 1), ("staging", 2), ("prod", 2)):
        platform = _settings(env).platform
        assert platform.knative_replicas == replicas, env
        assert platform.knative_scale_to_zero_grace_period == "30s"
        assert platform.kserve_deployment_mode == "Knative"
    services = _settings().services
    assert (services.knative, services.keda, services.kserve) == (True, True, True)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"services": {"istio": False}},
            "mlops-platform:services.knative = True: needs services.istio = True",
        ),
        (
            {"services": {"certManager": False}},
            "mlops-platform:services.kserve = True: needs services.certManager = True",
        ),
        (
            {"services": {"knative": False}},
            "mlops-platform:services.kserve = True: in platform.kserveDeploymentMode 'Knative' "
            "needs services.knative = True (or kserveDeploymentMode 'Standard')",
        ),
    ],
)
def test_missing_prerequisite_stops_with_one_line(raw: dict, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        _settings(**raw)
    assert str(error.value) == message


def test_standard_mode_needs_no_knative() -> None:
    settings = _settings(services={"knative": False}, kserveDeploymentMode="Standard")
    assert settings.services.kserve and not settings.services.knative


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("knativeReplicas", 0),
        ("knativeReplicas", 6),
        ("knativeScaleToZeroGracePeriod", "5s"),
        ("knativeScaleToZeroGracePeriod", "1m"),
        ("kserveDeploymentMode", "Serverless"),
    ],
)
def test_bad_tunables_are_refused_naming_the_key(key: str, value: object) -> None:
    with pytest.raises(SettingsError) as error:
        _settings(**{key: value})
    message = str(error.value)
    assert message.startswith(f"mlops-platform:{key} = {value!r}: "), message
    assert "\n" not in message


@pytest.mark.parametrize(("service", "needed"), SERVICE_NEEDS)
def test_every_service_need_is_refused_alone(service: str, needed: str) -> None:
    """Each row of SERVICE_NEEDS, on a stack that runs only that service."""
    switches = {to_camel(name): name == service for name in ServiceSwitches.model_fields}
    with pytest.raises(SettingsError) as error:
        _settings(services=switches)
    assert str(error.value) == (
        f"mlops-platform:services.{to_camel(service)} = True: "
        f"needs services.{to_camel(needed)} = True"
    )
