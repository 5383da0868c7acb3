"""deploy/tencent.yml agrees with template.yaml (the same code folders, handlers, routes,
variable names, schedules, storage and queue triggers), and the deploy's config checks refuse
what SCF or our security model would not take, before any call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from retouch.bootstrap.migrations import deployable_catalog
from retouch.providers.destinations import DestinationPolicy
from scripts.deploy_tencent.config import ROOT, ConfigError, Function, Plan, load_plan
from scripts.local.sam import TEMPLATE, FunctionSpec, load_module, load_template
from tests.catalog_support import load_seed_catalog
from tests.unit.test_descriptors import (
    HTTP_FUNCTIONS,
    PROVIDER_FUNCTIONS,
    QUEUE_FUNCTIONS,
    SCHEDULED_FUNCTIONS,
    STORAGE_FUNCTIONS,
    TEMPLATE_FUNCTIONS,
    _code_routes,
    _document,
)

CONFIG = ROOT / "deploy" / "tencent.yml"
#: Functions only SCF has: none since AWS runs `migrate` too (the Migrations custom resource).
SCF_ONLY_FUNCTIONS: set[str] = set()
#: Read only by the Tencent adapters (the SCF invocation queue's region, namespace, and its
#: delivery rules, which SQS's redrive policy and visibility timeout hold on AWS).
SCF_ONLY_VARIABLES = {
    "RETOUCH_QUEUE_SCF_REGION",
    "RETOUCH_QUEUE_SCF_NAMESPACE",
    "RETOUCH_QUEUE_MAX_DELIVERIES",
    "RETOUCH_QUEUE_VISIBILITY_TIMEOUT_S",
    "RETOUCH_SECRETS_TENCENT_REGION",
    "RETOUCH_METRICS_SINK",
    "RETOUCH_METRICS_TENCENT_REGION",
}
#: Set only by the AWS template: the RDS CA bundle for a direct Aurora/RDS endpoint
#: (DataTier=existing; RDS Proxy's certificate is verified by the system CAs), and botocore's
#: STS endpoint (the VPC's regional one).
AWS_ONLY_VARIABLES = {"RETOUCH_DB_TLS_CA_FILE", "AWS_STS_REGIONAL_ENDPOINTS"}
#: What the template resolves into a value, SCF gets as a Secrets Manager reference.
SCF_REFERENCES = {
    "RETOUCH_DB_PASSWORD": "RETOUCH_DB_PASSWORD_SECRET",
    "RETOUCH_JWT_KEYS": "RETOUCH_JWT_KEYS_SECRET",
}
#: On SCF vendor credentials are references in variables, one per provider of the seed that
#: has a secret; on AWS they are read from Secrets Manager, which the template grants instead.
SCF_SECRETS = {
    f"RETOUCH_SECRET_{provider.key.upper()}"
    for provider in load_seed_catalog().providers
    if provider.credential_ref
}


#: The account mail as a stage sets it (Tencent Cloud SES's SMTP server, docs/deploy-tencent.md).
MAIL_ENVIRONMENT = {
    "RETOUCH_MAIL_SMTP_HOST": "smtp.qcloudmail.com",
    "RETOUCH_MAIL_SMTP_PORT": "465",
    "RETOUCH_MAIL_SMTP_SECURITY": "ssl",
    "RETOUCH_MAIL_SMTP_USER": "no-reply@mail.example.com",
    "RETOUCH_MAIL_SMTP_PASSWORD_SECRET": "tcssm:retouch-dev-mail-smtp-password",
    "RETOUCH_MAIL_FROM": "Retouch <no-reply@mail.example.com>",
    "RETOUCH_EMAIL_VERIFICATION_URL": "https://app.example.com/verify-email?token=",
    "RETOUCH_PASSWORD_RESET_URL": "https://app.example.com/reset-password?token=",
}
#: The sign-up CAPTCHA as a stage enables it (tests/unit/test_deploy_captcha.py).
CAPTCHA_ENVIRONMENT = {
    "RETOUCH_CAPTCHA_PROVIDER": "tencent",
    "RETOUCH_CAPTCHA_SITE_KEY": "190000001",
    "RETOUCH_CAPTCHA_SECRET": "tcssm:retouch-dev-captcha-secret",
}


def _environment(**overrides: str) -> dict[str, str]:
    """A value for every `${env:...}` of the config (secrets as references)."""
    names = {part.split("}")[0] for part in CONFIG.read_text().split("${env:")[1:]}
    values = {name: f"value-{name.lower()}" for name in names}
    values |= {
        name: f"tcssm:retouch-{name.lower().replace('_', '-')}"
        for name in names
        if "SECRET" in name
    }
    return values | MAIL_ENVIRONMENT | CAPTCHA_ENVIRONMENT | overrides


def _edited(tmp_path: Path, edit: Any) -> Path:
    document = yaml.safe_load(CONFIG.read_text())
    edit(document)
    path = tmp_path / "tencent.yml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(scope="module")
def plan() -> Plan:
    """The dev plan of deploy/tencent.yml."""
    return load_plan("dev", _environment())


def _by_folder(plan: Plan) -> dict[Path, Function]:
    return {function.code: function for function in plan.functions.values()}


def test_scf_deploys_exactly_the_template_functions(plan: Plan) -> None:
    sam = {spec.code_uri for spec in TEMPLATE_FUNCTIONS}
    scf = set(_by_folder(plan))

    assert scf - sam == {ROOT / "functions" / "jobs" / name for name in SCF_ONLY_FUNCTIONS}
    assert sam <= scf
    assert ROOT / "functions" / "jobs" / "migrate" in sam


@pytest.mark.parametrize("spec", TEMPLATE_FUNCTIONS, ids=lambda spec: spec.logical_id)
def test_scf_handler_is_in_the_same_file_as_the_lambda_handler(
    plan: Plan, spec: FunctionSpec
) -> None:
    module, _, attribute = _by_folder(plan)[spec.code_uri].handler.rpartition(".")

    assert module == spec.handler.rpartition(".")[0]
    assert callable(getattr(load_module(spec), attribute, None))


@pytest.mark.parametrize("spec", HTTP_FUNCTIONS, ids=lambda spec: spec.logical_id)
def test_scf_api_gateway_routes_are_exactly_the_routes_in_code(
    plan: Plan, spec: FunctionSpec
) -> None:
    function = _by_folder(plan)[spec.code_uri]

    routes = {route for trigger in function.triggers for route in trigger.routes}

    assert routes == _code_routes(spec)


@pytest.mark.parametrize("spec", TEMPLATE_FUNCTIONS, ids=lambda spec: spec.logical_id)
def test_scf_sets_the_same_environment_variables_as_the_template(
    plan: Plan, spec: FunctionSpec
) -> None:
    # GIVEN the variables the template gives the function (Globals plus its own)
    template = _document(TEMPLATE)
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    own = template["Resources"][spec.logical_id]["Properties"].get("Environment") or {}
    variables.update(own.get("Variables") or {})

    # THEN SCF sets the same names (secrets as their references), plus those only its adapters
    # read, plus the vendors' credential references where providers are built
    expected = {SCF_REFERENCES.get(name, name) for name in variables} | SCF_ONLY_VARIABLES
    expected -= AWS_ONLY_VARIABLES
    expected |= SCF_SECRETS if spec.logical_id in PROVIDER_FUNCTIONS else set()
    assert set(_by_folder(plan)[spec.code_uri].environment) == expected


def test_functions_with_an_s3_event_are_exactly_those_with_a_cos_trigger(plan: Plan) -> None:
    with_cos = {f.code for f in plan.functions.values() if any(t.kind == "cos" for t in f.triggers)}

    assert with_cos == {spec.code_uri for spec in STORAGE_FUNCTIONS}


#: The schedules that are not every minute: (EventBridge rate, SCF cron) by code folder.
TIMERS = {
    # the outbox relay also sends the delayed step messages that fall due (SQS delays them
    # itself on AWS): every 5 s on SCF, so a delay is late by at most 5 s
    "outbox_relay": ("rate(1 minute)", "*/5 * * * * * *"),
    "rollup": ("rate(5 minutes)", "0 */5 * * * * *"),
    # hourly, at a fixed minute of every hour
    "retention": ("rate(1 hour)", "0 5 * * * * *"),
    "plan_expiry": ("rate(1 hour)", "0 15 * * * * *"),
}


def test_functions_with_a_schedule_have_a_timer_of_the_same_rate(plan: Plan) -> None:
    timers = {
        f.code: [t.desc for t in f.triggers if t.kind == "timer"] for f in plan.functions.values()
    }

    assert {code for code, crons in timers.items() if crons} == {
        s.code_uri for s in SCHEDULED_FUNCTIONS
    }
    for spec in SCHEDULED_FUNCTIONS:
        rate, cron = DAILY.get(spec.code_uri.name) or TIMERS.get(
            spec.code_uri.name, ("rate(1 minute)", "0 */1 * * * * *")
        )
        assert [s.expression for s in spec.schedules] == [rate]
        assert timers[spec.code_uri] == [cron]


#: Daily jobs: their EventBridge cron and the SCF timer's 7-field cron of the same time.
DAILY = {
    "backup": ("cron(0 3 * * ? *)", "0 0 3 * * * *"),
    "backup_verify": ("cron(0 6 * * ? *)", "0 0 6 * * * *"),
}


def test_each_queue_of_the_template_is_the_function_its_publisher_invokes(plan: Plan) -> None:
    # GIVEN the queues the template's step functions consume (their local names)
    template = load_template()
    queues = {spec.code_uri: template.queue_for(spec.queues[0]).name for spec in QUEUE_FUNCTIONS}

    # THEN on SCF each is the function named <prefix><queue>, invoked asynchronously with a
    # retry policy whose tries equal the deliveries our ledger allows, and with no trigger
    for folder, queue in queues.items():
        function = _by_folder(plan)[folder]
        assert function.name == function.environment["RETOUCH_QUEUE_NAME_PREFIX"] + queue
        assert function.triggers == ()
        assert function.async_invoke is not None
        assert function.async_invoke.retries + 1 == int(
            function.environment["RETOUCH_QUEUE_MAX_DELIVERIES"]
        )
    assert {f.code for f in plan.functions.values() if f.async_invoke} == set(queues)
    assert {f.environment["RETOUCH_QUEUE_BACKEND"] for f in plan.functions.values()} == {"scf"}


def test_steps_that_ship_provider_requirements_on_aws_bind_the_providers_layer(plan: Plan) -> None:
    with_requirements = {
        spec.code_uri
        for spec in TEMPLATE_FUNCTIONS
        if (spec.code_uri / "requirements.txt").is_file()
    }

    bound = {f.code for f in plan.functions.values() if "providers" in f.layers}

    assert bound == with_requirements


def test_a_pending_trigger_is_refused_naming_its_function(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["functions"]["store_step"]["triggers"] = [
            {"type": "ckafka", "pending": "its topic is not created yet"}
        ]

    with pytest.raises(ConfigError) as refused:
        load_plan("dev", _environment(), _edited(tmp_path, edit))

    assert refused.value.problems == [
        "function store_step: its ckafka trigger is not declared yet (its topic is not created yet)"
    ]


def test_every_missing_variable_is_named_before_any_call(tmp_path: Path) -> None:
    environ = _environment()
    del environ["RETOUCH_DB_HOST"], environ["RETOUCH_TENCENT_VPC_ID"]

    with pytest.raises(ConfigError) as refused:
        load_plan("dev", environ)

    assert refused.value.problems == [
        "environment variable RETOUCH_DB_HOST is not set",
        "environment variable RETOUCH_TENCENT_VPC_ID is not set",
    ]


@pytest.mark.parametrize(
    "name",
    [
        "RETOUCH_DB_PASSWORD_SECRET",
        "RETOUCH_JWT_KEYS_SECRET",
        "RETOUCH_REDIS_AUTH_SECRET",
        "RETOUCH_SECRET_TENCENT",
        "RETOUCH_BACKUP_SIGNING_KEYS_SECRET",
        "RETOUCH_MAIL_SMTP_PASSWORD_SECRET",
    ],
)
def test_a_secret_given_as_a_value_is_refused_without_echoing_it(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_plan("dev", _environment(**{name: "s3cr3t-value"}))

    assert any(
        f"{name} must be a tcssm:<name> reference" in line for line in refused.value.problems
    )
    assert "s3cr3t-value" not in str(refused.value)


def test_a_plain_secret_variable_in_the_config_is_refused(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["environment"]["RETOUCH_DB_PASSWORD"] = "x"

    with pytest.raises(ConfigError) as refused:
        load_plan("dev", _environment(), _edited(tmp_path, edit))

    assert (
        "function health: RETOUCH_DB_PASSWORD would put a secret in a variable; set "
        "RETOUCH_DB_PASSWORD_SECRET" in refused.value.problems
    )


def test_variables_past_scf_4_kb_and_too_many_layers_are_refused(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["functions"]["health"]["environment"] = {"RETOUCH_CORS_ORIGINS": "o" * 4096}
        document["functions"]["reaper"]["layers"] = ["retouch"] * 6

    with pytest.raises(ConfigError) as refused:
        load_plan("dev", _environment(), _edited(tmp_path, edit))

    problems = "\n".join(refused.value.problems)
    assert "function health: variables take" in problems and "SCF allows 4096" in problems
    assert "function reaper: 6 layers, SCF binds 5" in problems


def test_an_unknown_stage_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown stage 'staging'"):
        load_plan("staging", _environment())


def test_a_custom_trigger_keeps_its_type_name_and_description(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["functions"]["prepare_step"]["triggers"] = [
            {"type": "ckafka", "desc": {"maxMsgNum": 5}}
        ]

    prepare = load_plan("dev", _environment(), _edited(tmp_path, edit)).functions["prepare_step"]

    (trigger,) = prepare.triggers

    assert (trigger.kind, trigger.name, json.loads(trigger.desc)) == (
        "ckafka",
        "prepare_step-ckafka",
        {"maxMsgNum": 5},
    )


def test_the_cloud_seed_leaves_out_the_simulator_and_keeps_every_other_provider() -> None:
    seed = load_seed_catalog()

    cloud = deployable_catalog(seed, DestinationPolicy(local_network=False))
    local = deployable_catalog(seed, DestinationPolicy(local_network=True))

    assert [p.key for p in cloud.providers] == [
        p.key for p in seed.providers if p.kind != "simulator"
    ]
    assert "local" in {p.key for p in cloud.providers}
    assert local.providers == seed.providers


@pytest.mark.parametrize(
    "url", ["redis://:hunter2@10.0.0.13:6379/0", "rediss://default:hunter2@10.0.0.13:6380/0"]
)
def test_a_redis_url_with_a_password_is_refused_without_echoing_it(url: str) -> None:
    # GIVEN the Redis password in the URL instead of the token's secret
    with pytest.raises(ConfigError) as refused:
        load_plan("dev", _environment(RETOUCH_REDIS_URL=url))

    # THEN the deploy names the variable and its replacement, never the password
    assert any(
        "RETOUCH_REDIS_URL carries a password; set RETOUCH_REDIS_AUTH_SECRET" in line
        for line in refused.value.problems
    )
    assert "hunter2" not in str(refused.value)
