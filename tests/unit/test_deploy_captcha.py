"""The sign-up CAPTCHA in both deploys: template.yaml leaves it off by default (no secret
read, no policy), and with CaptchaProvider gives AuthFunction alone the provider, the sitekey
and a reference to the secret it alone may read, refusing a provider without them;
deploy/tencent.yml gives the auth function the same variables, and the Tencent deploy refuses
an unknown provider, a missing app id and a secret given as a value, naming the variable."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from scripts.deploy_tencent.config import ConfigError, load_plan
from scripts.local.sam import TEMPLATE
from tests.unit.cfn_support import broken_rules, translated
from tests.unit.test_deploy_config import _environment

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:retouch/hcaptcha-AbCdEf"
ON = {
    "DataTier": "new",
    "CaptchaProvider": "hcaptcha",
    "CaptchaSiteKey": "10000000-ffff-ffff-ffff-000000000001",
    "CaptchaSecretArn": ARN,
}
DEPLOYS = {"off": {"DataTier": "new"}, "on": ON}
POLICY = {"Ref": "CaptchaSecretPolicy"}


@functools.cache
def _resources(deploy: str) -> dict[str, Any]:
    resources: dict[str, Any] = translated(TEMPLATE, DEPLOYS[deploy])["Resources"]
    return resources


def _variables(deploy: str, logical_id: str) -> dict[str, Any]:
    function = _resources(deploy)[logical_id]
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return variables


def test_off_by_default_no_secret_is_named_or_readable() -> None:
    variables = _variables("off", "AuthFunction")

    assert variables["RETOUCH_CAPTCHA_PROVIDER"] == {"Ref": "CaptchaProvider"}
    assert "RETOUCH_CAPTCHA_SECRET" not in variables
    assert "RETOUCH_CAPTCHA_SITE_KEY" not in variables
    assert "CaptchaSecretPolicy" not in _resources("off")


def test_on_the_auth_function_alone_reads_the_secret_by_reference() -> None:
    resources = _resources("on")
    statement = resources["CaptchaSecretPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    readers = {
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::IAM::Role"
        and POLICY in resource["Properties"].get("ManagedPolicyArns", [])
    }
    guarded = {
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
        and "RETOUCH_CAPTCHA_PROVIDER" in resource["Properties"]["Environment"]["Variables"]
    }

    assert statement == [
        {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": {"Ref": "CaptchaSecretArn"},
        }
    ]
    assert readers == {"AuthFunctionRole"}
    assert guarded == {"AuthFunction"}
    variables = _variables("on", "AuthFunction")
    assert variables["RETOUCH_CAPTCHA_SECRET"] == {"Fn::Sub": "secretsmanager:${CaptchaSecretArn}"}
    assert variables["RETOUCH_CAPTCHA_SITE_KEY"] == {"Ref": "CaptchaSiteKey"}


@pytest.mark.parametrize(
    ("missing", "broken"),
    [
        ((), []),
        (("CaptchaSiteKey",), ["CaptchaSiteKey"]),
        (("CaptchaSecretArn",), ["CaptchaSecretArn"]),
    ],
)
def test_a_provider_without_its_keys_is_refused_before_any_resource(
    missing: tuple[str, ...], broken: list[str]
) -> None:
    template = translated(TEMPLATE, DEPLOYS["off"])

    refused = broken_rules(template, {**ON, **dict.fromkeys(missing, "")})

    assert [description.split()[2] for description in refused] == broken


def _refusals(**overrides: str) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        load_plan("dev", _environment(**overrides))
    return refused.value.problems


def test_scf_gives_the_auth_function_alone_the_captcha_variables() -> None:
    plan = load_plan("dev", _environment())

    guarded = {
        key
        for key, function in plan.functions.items()
        if any(name.startswith("RETOUCH_CAPTCHA_") for name in function.environment)
    }
    assert guarded == {"auth"}
    assert plan.functions["auth"].environment["RETOUCH_CAPTCHA_SECRET"] == (
        "tcssm:retouch-dev-captcha-secret"
    )


@pytest.mark.parametrize("provider", ["", "off"])
def test_scf_off_needs_nothing_else(provider: str) -> None:
    plan = load_plan(
        "dev",
        _environment(
            RETOUCH_CAPTCHA_PROVIDER=provider,
            RETOUCH_CAPTCHA_SITE_KEY="",
            RETOUCH_CAPTCHA_SECRET="",
        ),
    )

    assert plan.functions["auth"].environment["RETOUCH_CAPTCHA_PROVIDER"] == provider


def test_scf_refuses_an_unknown_provider() -> None:
    assert _refusals(RETOUCH_CAPTCHA_PROVIDER="recaptcha") == [
        "function auth: RETOUCH_CAPTCHA_PROVIDER must be off, hcaptcha or tencent"
    ]


def test_scf_refuses_a_provider_without_its_app_id_or_with_its_secret_as_a_value() -> None:
    assert _refusals(RETOUCH_CAPTCHA_SITE_KEY="app-1", RETOUCH_CAPTCHA_SECRET="the-key") == [
        "function auth: RETOUCH_CAPTCHA_SITE_KEY must be the CaptchaAppId (digits)",
        "function auth: RETOUCH_CAPTCHA_SECRET must be a tcssm:<name> reference",
    ]
