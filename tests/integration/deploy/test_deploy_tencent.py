"""`scripts/deploy tencent --stage dev`, run as a command against a loopback fake of SCF and
API Gateway that checks every request's TC3 signature and fields (tencent_deploy_fake).

The deployed config is deploy/tencent.yml itself with one change a test needs: the layers
install small locks so the test downloads little (the real locks are built and sized in
test_packages.py).
"""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from retouch.http.cors import ALLOWED_HEADERS
from scripts.deploy_tencent.api import TencentApi
from scripts.deploy_tencent.config import ROOT, load_plan
from scripts.deploy_tencent.cos import cos_uploader
from scripts.deploy_tencent.package import INLINE_ZIP_LIMIT, Package
from scripts.deploy_tencent.scf import publish_layer
from scripts.local.sam import load_template
from tests.integration.cos_fake import SECRET_ID, SECRET_KEY, running_fake_cos
from tests.integration.tencent_deploy_fake import FakeTencentDeploy, running_fake_tencent_deploy
from tests.unit.test_deploy_config import CAPTCHA_ENVIRONMENT, MAIL_ENVIRONMENT

pytestmark = pytest.mark.integration

NAMESPACE = "retouch-dev"
UPLOAD_BUCKET = "retouch-uploads-1250000000.cos.ap-guangzhou.myqcloud.com"
DEPLOY_ENV = {
    "RETOUCH_TENCENT_VPC_ID": "vpc-abc12345",
    "RETOUCH_TENCENT_SUBNET_ID": "subnet-def67890",
    "RETOUCH_TENCENT_CODE_BUCKET": "retouch-code-1250000000",
    "RETOUCH_TENCENT_CLS_LOGSET_ID": "5c0a4e0b-2b4d-4c55-9a47-0d5b7f1b2c3d",
    "RETOUCH_TENCENT_CLS_TOPIC_ID": "8f6e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
    "RETOUCH_DB_HOST": "10.0.0.12",
    "RETOUCH_DB_PORT": "3306",
    "RETOUCH_DB_USER": "retouch",
    "RETOUCH_DB_PASSWORD_SECRET": "tcssm:retouch-dev-db-password",
    "RETOUCH_DB_NAME": "retouch",
    "RETOUCH_REDIS_URL": "redis://10.0.0.13:6379/0",
    "RETOUCH_REDIS_AUTH_SECRET": "tcssm:retouch-dev-redis-password",
    "RETOUCH_JWT_KEYS_SECRET": "tcssm:retouch-dev-jwt-keys",
    "RETOUCH_JWT_ACTIVE_KID": "k1",
    "RETOUCH_BACKUP_SIGNING_KEYS_SECRET": "tcssm:retouch-dev-backup-signing-keys",
    "RETOUCH_CORS_ORIGINS": "https://app.example.com",
    "RETOUCH_STORAGE_BUCKET": "retouch-uploads-1250000000",
    "RETOUCH_STORAGE_UPLOAD_ROLE_ARN": "qcs::cam::uin/100000000001:roleName/retouch-upload",
    "RETOUCH_UPLOAD_BUCKET": UPLOAD_BUCKET,
    "RETOUCH_CALLBACK_BASE_URL": "https://service-x.gz.apigw.tencentcs.com/release",
    "RETOUCH_SECRET_RUNNINGHUB": "tcssm:retouch-providers-runninghub",
    "RETOUCH_SECRET_TENCENT": "tcssm:retouch-providers-tencent",
    "RETOUCH_SECRET_HUNYUAN": "tcssm:retouch-providers-hunyuan",
    "RETOUCH_FIRST_ADMIN_EMAIL": "mei@example.com",
    **MAIL_ENVIRONMENT,
    **CAPTCHA_ENVIRONMENT,
}


def _test_config(tmp_path: Path) -> Path:
    document = yaml.safe_load((ROOT / "deploy" / "tencent.yml").read_text())
    lock = tmp_path / "small.txt"
    lock.write_text("pymysql==1.2.4\n")
    for layer in document["layers"].values():
        layer["requirements"] = [str(lock)]
    path = tmp_path / "tencent.yml"
    path.write_text(yaml.safe_dump(document))
    return path


def run_deploy(
    fake: FakeTencentDeploy, config: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RETOUCH_", "TENCENTCLOUD_"))},
        **DEPLOY_ENV,
        "TENCENTCLOUD_SECRET_ID": SECRET_ID,
        "TENCENTCLOUD_SECRET_KEY": SECRET_KEY,
        "RETOUCH_DEPLOY_TENCENT_ENDPOINT": fake.url,
        **extra,
    }
    return subprocess.run(  # noqa: S603
        [str(ROOT / "scripts" / "deploy"), "tencent", "--stage", "dev", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeTencentDeploy, Path]]:
    """One fake, deployed to once (the tests read what it holds)."""
    config = _test_config(tmp_path_factory.mktemp("deploy"))
    with running_fake_tencent_deploy() as fake:
        fake.invoke = lambda name, event: {"function": name, "event": event}
        result = run_deploy(fake, config)
        assert result.returncode == 0, result.stderr
        yield fake, config


def _zip_names(data: bytes) -> set[str]:
    return set(zipfile.ZipFile(io.BytesIO(data)).namelist())


def _environment(function: dict[str, Any]) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in function["Environment"]["Variables"]}


def test_every_function_of_the_template_and_migrate_is_created_with_its_code(
    deployed: Any,
) -> None:
    fake, _ = deployed
    folders = {spec.code_uri.relative_to(ROOT).as_posix() for spec in load_template().functions}

    names = {name for (namespace, name) in fake.functions if namespace == NAMESPACE}

    # migrate is a template function too (the AWS deploy's Migrations custom resource)
    assert "functions/jobs/migrate" in folders
    assert len(names) == len(folders) and "retouch-migrate" in names
    for (_, name), function in fake.functions.items():
        assert "app.py" in _zip_names(function["zip"]), name
        assert function["Handler"] == "app.main_handler"
        assert function["Runtime"] == "Python3.10"
        assert function["Role"] == "retouch-scf-dev"
        assert function["VpcConfig"] == {"VpcId": "vpc-abc12345", "SubnetId": "subnet-def67890"}
        # logs to the stage's CLS topic (its Period is the retention)
        assert (function["ClsLogsetId"], function["ClsTopicId"]) == (
            DEPLOY_ENV["RETOUCH_TENCENT_CLS_LOGSET_ID"],
            DEPLOY_ENV["RETOUCH_TENCENT_CLS_TOPIC_ID"],
        )


def test_functions_get_the_settings_variables_with_secrets_as_references(deployed: Any) -> None:
    fake, _ = deployed

    for function in fake.functions.values():
        env = _environment(function)
        assert env["RETOUCH_DB_HOST"] == "10.0.0.12" and env["RETOUCH_STAGE"] == "dev"
        assert env["RETOUCH_DB_PASSWORD_SECRET"] == "tcssm:retouch-dev-db-password"
        assert env["RETOUCH_JWT_KEYS_SECRET"] == "tcssm:retouch-dev-jwt-keys"
        assert env["RETOUCH_REDIS_AUTH_SECRET"] == "tcssm:retouch-dev-redis-password"
        assert "@" not in env["RETOUCH_REDIS_URL"]
        assert "RETOUCH_DB_PASSWORD" not in env and "RETOUCH_JWT_KEYS" not in env
        secrets = {key: value for key, value in env.items() if key.startswith("RETOUCH_SECRET_")}
        assert all(value.startswith("tcssm:") for value in secrets.values())
    callbacks = _environment(fake.function("retouch-callbacks", NAMESPACE))
    assert callbacks["RETOUCH_SECRET_TENCENT"] == "tcssm:retouch-providers-tencent"


def test_the_auth_function_alone_gets_the_account_mail_with_its_password_as_a_reference(
    deployed: Any,
) -> None:
    fake, _ = deployed

    mailing = {
        name
        for (_, name), function in fake.functions.items()
        if any(key.startswith("RETOUCH_MAIL_") for key in _environment(function))
    }
    auth = _environment(fake.function("retouch-auth", NAMESPACE))

    assert mailing == {"retouch-auth"}
    assert auth["RETOUCH_MAIL_SMTP_HOST"] == "smtp.qcloudmail.com"
    assert auth["RETOUCH_MAIL_SMTP_PORT"] == "465"
    assert auth["RETOUCH_MAIL_SMTP_PASSWORD_SECRET"] == "tcssm:retouch-dev-mail-smtp-password"
    assert auth["RETOUCH_EMAIL_VERIFICATION_URL"] == "https://app.example.com/verify-email?token="
    assert auth["RETOUCH_PASSWORD_RESET_URL"] == "https://app.example.com/reset-password?token="


def test_the_layers_hold_the_retouch_package_and_their_locks_packages(deployed: Any) -> None:
    fake, _ = deployed
    retouch = fake.layers["retouch-retouch-dev"][-1]

    names = _zip_names(retouch["zip"])

    assert {
        "retouch/__init__.py",
        "retouch/core/settings/__init__.py",
        "pymysql/__init__.py",
    } <= names
    assert retouch["CompatibleRuntimes"] == ["Python3.10"]
    health = fake.function("retouch-health", NAMESPACE)
    generate = fake.function("retouch-steps-generate", NAMESPACE)
    assert [layer["LayerName"] for layer in health["Layers"]] == ["retouch-retouch-dev"]
    assert [layer["LayerName"] for layer in generate["Layers"]] == [
        "retouch-retouch-dev",
        "retouch-providers-dev",
    ]


def test_the_migrate_function_ships_migrations_seed_and_yoyo(deployed: Any) -> None:
    fake, _ = deployed

    names = _zip_names(fake.function("retouch-migrate", NAMESPACE)["zip"])

    assert {
        "app.py",
        "shared/seed/catalog.json",
        "shared/seed/plans.json",
        "yoyo/__init__.py",
    } <= names
    assert any(name.startswith("shared/migrations/") and name.endswith(".sql") for name in names)


def test_every_route_is_an_api_with_integrated_response_to_its_function(deployed: Any) -> None:
    fake, _ = deployed
    (service,) = fake.services.values()
    expected = {
        (route.method, route.path.replace("+}", "}")): f"retouch-{spec.code_uri.name}"
        for spec in load_template().functions
        for route in spec.routes
        if route.event_type == "HttpApi"
    }

    routed = {
        (api["RequestConfig"]["Method"], api["RequestConfig"]["Path"]): api[
            "ServiceScfFunctionName"
        ]
        for api in service["apis"].values()
    }

    assert routed == expected
    assert all(api["ServiceScfIsIntegratedResponse"] is True for api in service["apis"].values())
    assert service["releases"] == ["release"]


def test_every_api_answers_preflights_through_the_stages_cors_plugin(deployed: Any) -> None:
    fake, _ = deployed
    ((service_id, service),) = fake.services.items()

    # THEN one Cors plugin holds the app's CORS answer for the deploy's origins
    (plugin,) = fake.plugins.values()
    data = json.loads(plugin["PluginData"])
    assert plugin["PluginType"] == "Cors"
    assert data["allow_origin"] == [DEPLOY_ENV["RETOUCH_CORS_ORIGINS"]]
    assert data["allow_headers"] == list(ALLOWED_HEADERS)
    assert data["allow_methods"] == ["GET", "POST", "PUT", "DELETE"]  # no PATCH on Tencent
    assert data["allow_credentials"] is False
    # AND it is bound to every API of the service in the released environment
    assert plugin["attached"] == {(service_id, "release", api_id) for api_id in service["apis"]}


def test_cos_and_timer_triggers_are_created(deployed: Any) -> None:
    fake, _ = deployed

    def triggers(name: str) -> list[tuple[str, str, str]]:
        found = fake.function(name, NAMESPACE)["triggers"]
        return [(t["Type"], t["TriggerName"], t["TriggerDesc"]) for t in found]

    (cos,) = triggers("retouch-upload-trigger")
    assert cos[:2] == ("cos", UPLOAD_BUCKET)
    assert json.loads(cos[2]) == {
        "event": "cos:ObjectCreated:*",
        "filter": {"Prefix": "uploads/", "Suffix": ""},
    }
    assert triggers("retouch-outbox-relay") == [
        ("timer", "outbox_relay_every_5s", "*/5 * * * * * *")
    ]
    assert triggers("retouch-reaper") == [("timer", "reaper_every_minute", "0 */1 * * * * *")]


def test_each_step_queue_is_its_function_invoked_asynchronously_with_a_retry_policy(
    deployed: Any,
) -> None:
    fake, _ = deployed
    publisher = _environment(fake.function("retouch-tasks", NAMESPACE))

    for queue in ("steps-prepare", "steps-generate", "steps-store", "steps-finalize"):
        # the function the queue publisher invokes for this queue exists, with no trigger
        step = fake.function(publisher["RETOUCH_QUEUE_NAME_PREFIX"] + queue, NAMESPACE)
        assert step["triggers"] == []
        assert step["async_invoke"] == {"RetryConfig": [{"RetryNum": 2}], "MsgTTL": 21600}
        # a message is retried by SCF RetryNum times, then counted dead by us: the same number
        assert int(_environment(step)["RETOUCH_QUEUE_MAX_DELIVERIES"]) == 2 + 1
    assert publisher["RETOUCH_QUEUE_BACKEND"] == "scf"
    assert publisher["RETOUCH_QUEUE_SCF_NAMESPACE"] == NAMESPACE


def test_the_deploy_invokes_migrate_with_the_first_admin(deployed: Any) -> None:
    fake, _ = deployed

    invokes = [params for service, action, params in fake.calls if action == "Invoke"]

    assert [(p["FunctionName"], p["InvocationType"]) for p in invokes] == [
        ("retouch-migrate", "RequestResponse")
    ]
    assert json.loads(invokes[0]["ClientContext"]) == {"first_admin_email": "mei@example.com"}
    assert fake.actions()[-1] == "Invoke"


def test_a_second_deploy_updates_in_place_and_duplicates_nothing(deployed: Any) -> None:
    fake, config = deployed
    before = (len(fake.functions), {k: len(v) for k, v in fake.layers.items()})
    apis = sum(len(service["apis"]) for service in fake.services.values())
    first = len(fake.calls)

    result = run_deploy(fake, config)

    assert result.returncode == 0, result.stderr
    second = [action for _, action, _ in fake.calls[first:]]
    assert not {
        "CreateFunction",
        "PublishLayerVersion",
        "CreateApi",
        "CreateTrigger",
        "CreateService",
    } & set(second)
    assert second.count("UpdateFunctionCode") == before[0]
    assert second.count("ModifyApi") == apis
    assert (len(fake.functions), {k: len(v) for k, v in fake.layers.items()}) == before
    assert len(fake.services) == 1
    # the CORS plugin is modified in place and nothing is bound twice (the fake refuses that)
    assert "CreatePlugin" not in second and second.count("ModifyPlugin") == 1
    assert "AttachPlugin" not in second
    assert len(fake.plugins) == 1


def test_a_config_with_a_pending_trigger_is_refused_before_any_call(tmp_path: Path) -> None:
    document = yaml.safe_load(_test_config(tmp_path).read_text())
    document["functions"]["store_step"]["triggers"] = [
        {"type": "ckafka", "pending": "its topic is not created yet"}
    ]
    config = tmp_path / "pending.yml"
    config.write_text(yaml.safe_dump(document))

    with running_fake_tencent_deploy() as fake:
        result = run_deploy(fake, config)

    assert result.returncode == 2
    assert (
        "function store_step: its ckafka trigger is not declared yet (its topic is not created yet)"
        in result.stderr
    )
    assert fake.calls == []


def test_a_deploy_signed_with_a_wrong_key_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    with running_fake_tencent_deploy() as fake:
        result = run_deploy(fake, _test_config(tmp_path), TENCENTCLOUD_SECRET_KEY="not-the-key")

    assert result.returncode == 1
    assert "AuthFailure" in result.stderr
    assert fake.calls == [] and fake.functions == {}


@pytest.mark.parametrize(
    "variable", ["RETOUCH_DB_PASSWORD_SECRET", "RETOUCH_MAIL_SMTP_PASSWORD_SECRET"]
)
def test_a_plain_secret_in_the_environment_is_refused_before_any_call(
    tmp_path: Path, variable: str
) -> None:
    with running_fake_tencent_deploy() as fake:
        result = run_deploy(fake, _test_config(tmp_path), **{variable: "hunter2-plain"})

    assert result.returncode == 2
    assert f"{variable} must be a tcssm:<name> reference" in result.stderr
    assert "hunter2-plain" not in result.stderr
    assert fake.calls == []


def test_a_layer_past_the_inline_limit_is_published_from_the_code_bucket(tmp_path: Path) -> None:
    # GIVEN a layer zip one byte past SCF's inline limit, a code bucket and the SCF fake
    environ = {
        **DEPLOY_ENV,
        "TENCENTCLOUD_SECRET_ID": SECRET_ID,
        "TENCENTCLOUD_SECRET_KEY": SECRET_KEY,
    }
    plan = load_plan("dev", environ, _test_config(tmp_path))
    big = Package("retouch-providers-dev", secrets.token_bytes(INLINE_ZIP_LIMIT + 1), 1)
    with (
        running_fake_cos(environ["RETOUCH_TENCENT_CODE_BUCKET"]) as bucket,
        running_fake_tencent_deploy() as fake,
    ):
        environ |= {
            "RETOUCH_DEPLOY_TENCENT_ENDPOINT": fake.url,
            "RETOUCH_DEPLOY_TENCENT_COS_ENDPOINT": bucket.url,
        }

        # WHEN the deploy publishes it
        api, upload = TencentApi(plan.region, environ), cos_uploader(plan, environ)
        version = publish_layer(api, big, plan, upload)

    # THEN the zip went to the bucket whole, and SCF was told the object, not sent the bytes
    (key,) = bucket.objects
    assert bucket.objects[key].data == big.data and key.startswith("retouch/dev/")
    assert fake.layers["retouch-providers-dev"][version - 1]["zip"] == f"cos:retouch-code/{key}"
    ((_, _, params),) = [call for call in fake.calls if call[1] == "PublishLayerVersion"]
    assert "ZipFile" not in params["Content"]
