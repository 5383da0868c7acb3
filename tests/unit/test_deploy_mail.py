"""The account mail in both deploys: template.yaml gives AuthFunction alone the SMTP settings,
the links' prefixes and a reference to the SMTP password (a secret named by ARN, or a
placeholder the stack creates under its key), readable by AuthFunction's role alone, and
refuses a host without a sender or links; deploy/tencent.yml gives the auth function the same
variables, and the Tencent deploy refuses a password given as a value and settings the first
request would fail on."""

from __future__ import annotations

import functools
import re
from typing import Any

import pytest

from scripts.deploy_tencent.config import ConfigError, load_plan
from scripts.local.sam import TEMPLATE
from tests.unit.cfn_support import broken_rules, translated
from tests.unit.test_deploy_config import _environment

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:retouch/ses-smtp-AbCdEf"
MAIL = {
    "MailSmtpHost": "email-smtp.eu-west-1.amazonaws.com",
    "MailSmtpUser": "AKIAEXAMPLESMTPUSER",
    "MailFrom": "Retouch <no-reply@example.com>",
    "EmailVerificationUrl": "https://app.example.com/verify-email?token=",
    "PasswordResetUrl": "https://app.example.com/reset-password?token=",
}
DEPLOYS = {
    "none": {"DataTier": "new"},
    "generated": {"DataTier": "new", **MAIL},
    "named": {"DataTier": "new", **MAIL, "MailSmtpPasswordSecretArn": ARN},
}
POLICY = {"Ref": "MailSmtpPasswordPolicy"}


@functools.cache
def _resources(deploy: str) -> dict[str, Any]:
    resources: dict[str, Any] = translated(TEMPLATE, DEPLOYS[deploy])["Resources"]
    return resources


def _variables(deploy: str, logical_id: str) -> dict[str, Any]:
    variables: dict[str, Any] = _resources(deploy)[logical_id]["Properties"]["Environment"][
        "Variables"
    ]
    return variables


def test_without_a_host_no_mail_is_sent_and_no_password_is_read() -> None:
    variables = _variables("none", "AuthFunction")

    assert variables["RETOUCH_MAIL_SMTP_HOST"] == {"Ref": "MailSmtpHost"}
    assert DEPLOYS["none"].get("MailSmtpHost", "") == ""
    assert "RETOUCH_MAIL_SMTP_PASSWORD_SECRET" not in variables
    assert "RETOUCH_EMAIL_VERIFICATION_URL" not in variables
    assert "MailSmtpPasswordGenerated" not in _resources("none")
    assert "MailSmtpPasswordPolicy" not in _resources("none")


def test_a_user_without_a_named_secret_gets_a_placeholder_under_the_stack_key() -> None:
    resources = _resources("generated")
    secret = resources["MailSmtpPasswordGenerated"]

    assert secret["Properties"]["KmsKeyId"] == {"Ref": "DataKey"}
    assert secret["DeletionPolicy"] == "RetainExceptOnCreate"
    assert _variables("generated", "AuthFunction")["RETOUCH_MAIL_SMTP_PASSWORD_SECRET"] == {
        "Fn::Sub": "secretsmanager:${MailSmtpPasswordGenerated}"
    }
    statement = resources["MailSmtpPasswordPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement == [
        {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": {"Ref": "MailSmtpPasswordGenerated"},
        }
    ]


def test_a_named_secret_is_read_by_its_arn_and_nothing_is_generated() -> None:
    resources = _resources("named")
    statement = resources["MailSmtpPasswordPolicy"]["Properties"]["PolicyDocument"]["Statement"]

    assert "MailSmtpPasswordGenerated" not in resources
    assert statement[0]["Resource"] == {"Ref": "MailSmtpPasswordSecretArn"}
    assert _variables("named", "AuthFunction")["RETOUCH_MAIL_SMTP_PASSWORD_SECRET"] == {
        "Fn::Sub": "secretsmanager:${MailSmtpPasswordSecretArn}"
    }


@pytest.mark.parametrize("deploy", ["generated", "named"])
def test_only_the_auth_function_reads_the_password_and_has_the_mail_settings(deploy: str) -> None:
    resources = _resources(deploy)
    roles = {
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::IAM::Role"
        and POLICY in resource["Properties"].get("ManagedPolicyArns", [])
    }
    mailing = {
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
        and any(
            variable.startswith("RETOUCH_MAIL_")
            for variable in resource["Properties"]["Environment"]["Variables"]
        )
    }

    assert roles == {"AuthFunctionRole"}
    assert mailing == {"AuthFunction"}
    variables = _variables(deploy, "AuthFunction")
    assert variables["RETOUCH_EMAIL_VERIFICATION_URL"] == {"Ref": "EmailVerificationUrl"}
    assert variables["RETOUCH_PASSWORD_RESET_URL"] == {"Ref": "PasswordResetUrl"}
    assert variables["RETOUCH_MAIL_FROM"] == {"Ref": "MailFrom"}
    # the Globals are still merged in
    assert "RETOUCH_DB_PASSWORD_SECRET" in variables


@pytest.mark.parametrize(
    ("missing", "broken"),
    [
        ((), []),
        (("MailFrom",), ["MailFrom"]),
        (
            ("EmailVerificationUrl", "PasswordResetUrl"),
            ["EmailVerificationUrl", "PasswordResetUrl"],
        ),
    ],
)
def test_a_host_without_its_sender_or_links_is_refused_before_any_resource(
    missing: tuple[str, ...], broken: list[str]
) -> None:
    template = translated(TEMPLATE, DEPLOYS["none"])
    parameters = {**MAIL, **dict.fromkeys(missing, "")}

    refused = broken_rules(template, parameters)

    assert [description.split()[2] for description in refused] == broken


@pytest.mark.parametrize(
    ("parameter", "value", "allowed"),
    [
        ("EmailVerificationUrl", "https://app.example.com/verify-email?token=", True),
        ("EmailVerificationUrl", "http://app.example.com/verify-email?token=", False),
        ("PasswordResetUrl", "javascript:alert(1)//", False),
        ("MailSmtpPasswordSecretArn", ARN, True),
        ("MailSmtpPasswordSecretArn", "BPasswordFromSes123", False),
        ("MailSmtpHost", "email-smtp.eu-west-1.amazonaws.com", True),
        ("MailSmtpHost", "user:pw@smtp.example.com", False),
        ("MailFrom", "Retouch <no-reply@example.com>", True),
        ("MailFrom", "a@b\r\nBcc: victim@example.com", False),
        ("MailFrom", "Retouch\r\nX-Injected: yes <no-reply@example.com>", False),
    ],
)
def test_the_parameters_refuse_what_is_not_their_kind(
    parameter: str, value: str, allowed: bool
) -> None:
    spec = translated(TEMPLATE, DEPLOYS["none"])["Parameters"][parameter]

    assert bool(re.fullmatch(spec["AllowedPattern"], value)) is allowed


def _scf_auth(**overrides: str) -> dict[str, str]:
    environment: dict[str, str] = (
        load_plan("dev", _environment(**overrides)).functions["auth"].environment
    )
    return environment


def _refusals(**overrides: str) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        load_plan("dev", _environment(**overrides))
    return refused.value.problems


def test_scf_gives_the_auth_function_alone_the_mail_settings_and_the_reference() -> None:
    plan = load_plan("dev", _environment())

    assert _scf_auth()["RETOUCH_MAIL_SMTP_PASSWORD_SECRET"] == (
        "tcssm:retouch-dev-mail-smtp-password"
    )
    mailing = {
        key
        for key, function in plan.functions.items()
        if any(name.startswith("RETOUCH_MAIL_") for name in function.environment)
    }
    assert mailing == {"auth"}


def test_scf_without_a_user_takes_no_password_and_without_a_host_sends_none() -> None:
    environment = _scf_auth(
        RETOUCH_MAIL_SMTP_HOST="", RETOUCH_MAIL_SMTP_USER="", RETOUCH_MAIL_SMTP_PASSWORD_SECRET=""
    )

    assert environment["RETOUCH_MAIL_SMTP_HOST"] == ""
    assert environment["RETOUCH_MAIL_SMTP_PASSWORD_SECRET"] == ""


def test_scf_refuses_a_user_without_a_password_reference() -> None:
    assert _refusals(RETOUCH_MAIL_SMTP_PASSWORD_SECRET="") == [
        "function auth: RETOUCH_MAIL_SMTP_PASSWORD_SECRET must be a tcssm:<name> reference, "
        "not a value"
    ]


def test_scf_refuses_what_the_first_request_would_fail_on_naming_each_variable() -> None:
    problems = _refusals(
        RETOUCH_MAIL_SMTP_PORT="",
        RETOUCH_MAIL_SMTP_SECURITY="tls",
        RETOUCH_EMAIL_VERIFICATION_URL="http://app.example.com/verify-email?token=",
        RETOUCH_PASSWORD_RESET_URL="",
        RETOUCH_MAIL_FROM="",
    )

    assert problems == [
        "function auth: RETOUCH_MAIL_SMTP_PORT must be a port number (465, 587)",
        "function auth: RETOUCH_MAIL_SMTP_SECURITY must be ssl or starttls",
        "function auth: RETOUCH_EMAIL_VERIFICATION_URL must be the link's https:// prefix",
        "function auth: RETOUCH_PASSWORD_RESET_URL must be the link's https:// prefix",
        "function auth: RETOUCH_MAIL_SMTP_HOST needs RETOUCH_MAIL_FROM",
    ]


@pytest.mark.parametrize("port", ["0", "65536", "465 ", "smtp"])
def test_scf_refuses_a_port_out_of_range(port: str) -> None:
    assert _refusals(RETOUCH_MAIL_SMTP_PORT=port) == [
        "function auth: RETOUCH_MAIL_SMTP_PORT must be a port number (465, 587)"
    ]


@pytest.mark.parametrize(
    "sender", ["Retouch\r\nX-Injected: yes <no-reply@example.com>", "no-reply", "a@b, c@d"]
)
def test_scf_refuses_a_sender_that_is_not_one_address_on_one_line(sender: str) -> None:
    assert _refusals(RETOUCH_MAIL_FROM=sender) == [
        "function auth: RETOUCH_MAIL_FROM must be one address, a@b or Name <a@b>"
    ]
