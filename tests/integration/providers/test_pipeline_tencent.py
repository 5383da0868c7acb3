"""Whole tasks through the real Engine (MariaDB, Redis, local storage, `prepare` normalisation,
`store` fetching) with the chain `[tencent, local]` or `[hunyuan, local]`: the Tencent adapters
call the loopback fake of the Tencent Cloud API through the real SDK; `local` is the real
OpenCV provider. The vendor serves, or fails in some way and `local` serves."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from retouch.catalog.repository import MySQLFeatureRepository
from retouch.catalog.service import add_pipeline_version
from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.images import normalize
from retouch.pipeline.fetch import fetch_result
from retouch.providers.local.provider import LocalProvider
from retouch.providers.tencent import HunyuanProvider, TencentProvider
from retouch.providers.tencent_options import HunyuanOptions, TencentOptions
from retouch.storage import upload_key
from tests.conftest import Stack
from tests.integration.cos_fake import SECRET_ID, SECRET_KEY
from tests.integration.identity_support import new_account
from tests.integration.pipeline_support import (
    MemoryQueue,
    Providers,
    drain,
    local_storage,
    make_engine,
    product_picture,
    task_steps,
)
from tests.integration.quota_support import assert_ledger_matches
from tests.integration.task_support import new_upload, quota, tasks_app, user_internal_id
from tests.integration.tencent_ai_fake import (
    HANG,
    HTML,
    MALFORMED,
    RESULT,
    FakeTencentAI,
    Reply,
    done,
    error,
    job_state,
    running_fake_tencent_ai,
)

pytestmark = pytest.mark.integration

COSTS = {"cutout": 4, "outpaint": 8}
RETRIES = 1  # two attempts of the vendor before the fallback
# Words of vendor answers that must never reach a client ("Bad Gateway", not "502": a
# timestamp can hold those digits).
VENDOR_WORDS = ("RequestId", "tencent", "hunyuan", "Bad Gateway", "nginx", "JSONDecode", "evil")


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(tasks_app()) as test_client:
        yield test_client


@pytest.fixture
def fake() -> Iterator[FakeTencentAI]:
    with running_fake_tencent_ai() as running:
        yield running


@pytest.fixture(autouse=True)
def clean_guards(stack: Stack) -> Iterator[None]:
    keys = [
        key
        for provider in ("tencent", "hunyuan", "local")
        for key in (
            f"breaker:{{{provider}}}:open",
            f"breaker:{{{provider}}}:failures",
            f"slots:{{{provider}}}",
        )
    ]
    get_redis().delete(*keys)
    yield
    get_redis().delete(*keys)


@pytest.fixture
def chain(stack: Stack) -> Iterator[Callable[[str, str], None]]:
    """Makes a feature's current pipeline `[vendor, local]`; the seeded versions come back."""
    database, seeded = get_database(), dict[str, int]()

    def use(feature: str, vendor: str) -> None:
        with database.read_only() as uow:
            current = MySQLFeatureRepository(uow).get(feature)
        assert current is not None and current.pipeline_version is not None
        seeded.setdefault(feature, current.pipeline_version)
        steps = [
            {"step": "prepare"},
            {"step": "generate", "providers": [vendor, "local"], "timeout_s": 30,
             "retries": RETRIES},
            {"step": "store"},
        ]  # fmt: skip
        add_pipeline_version(
            database=database, feature_key=feature, steps=steps, created_by=None, make_current=True
        )

    yield use
    with database.unit_of_work() as uow:
        for feature, version in seeded.items():
            MySQLFeatureRepository(uow).set_current(feature, kind="pipeline", version=version)
        uow.commit()


@pytest.fixture(scope="module")
def picture() -> bytes:
    return product_picture()


class Run:
    """One user's task of `feature`, run by an engine over `vendor` and `local`."""

    def __init__(
        self,
        client: TestClient,
        tmp_path: Path,
        vendor: TencentProvider | HunyuanProvider,
        picture: bytes,
        feature: str = "cutout",
        inputs: dict[str, Any] | None = None,
    ) -> None:
        self.client, self.feature, self.tmp_path = client, feature, tmp_path
        self.words = (*VENDOR_WORDS, vendor.options.endpoint)
        self.queue = MemoryQueue()
        storage = local_storage(tmp_path, base_url="https://files.retouch.test/_storage")
        self.engine = make_engine(
            tmp_path, Providers(vendor, LocalProvider()), self.queue,
            normalize=normalize, storage=storage, fetch=fetch_result,
        )  # fmt: skip
        self.user, self.headers = new_account()
        self.before = quota(self.user["id"])
        upload = new_upload(self.user["id"])
        storage.put(upload_key(user_id=self.user["id"], upload_id=upload), picture, "image/png")
        response = client.post(
            "/v1/tasks",
            json={"feature": feature, "inputs": {"image": upload, **(inputs or {})}},
            headers=self.headers,
        )
        assert response.status_code == 202, response.text
        self.task_id = str(response.json()["id"])

    def run(self) -> dict[str, Any]:
        self.engine.handle({"task_id": self.task_id, "step": "prepare", "attempt": 1})
        drain(self.engine, self.queue)
        response = self.client.get(f"/v1/tasks/{self.task_id}", headers=self.headers)
        for word in self.words:
            assert word not in response.text, f"{word!r} leaked into {response.text}"
        task: dict[str, Any] = response.json()
        return task

    def generate(self) -> tuple[str, list[str]]:
        """Who served the generate step, and which providers it fell back from."""
        (step,) = [s for s in task_steps(self.task_id) if s["step"] == "generate"]
        fallbacks = json.loads(step["fallbacks"] or "[]")
        return str(step["provider_key"]), [f["provider"] for f in fallbacks]

    def stored(self) -> list[bytes]:
        return [p.read_bytes() for p in (self.tmp_path / "outputs").rglob("*") if p.is_file()]

    def charged(self, times: int) -> bool:
        after = quota(self.user["id"])
        assert after["reserved"] == 0
        assert_ledger_matches(get_database(), user_internal_id(self.user["id"]))
        return after["balance"] == self.before["balance"] - COSTS[self.feature] * times


@pytest.fixture
def start(
    client: TestClient, tmp_path: Path, chain: Callable[[str, str], None], picture: bytes
) -> Callable[..., Run]:
    """Starts a task of a feature whose chain is `[vendor, local]`."""

    def begin(
        vendor: TencentProvider | HunyuanProvider,
        feature: str = "cutout",
        inputs: dict[str, Any] | None = None,
    ) -> Run:
        chain(feature, vendor.key)
        return Run(client, tmp_path, vendor, picture, feature, inputs)

    return begin


def tencent(fake: FakeTencentAI, **options: Any) -> TencentProvider:
    settings = TencentOptions(endpoint=fake.url, **options)
    return TencentProvider(settings, secret_id=SECRET_ID, secret_key=SECRET_KEY)


def hunyuan(fake: FakeTencentAI) -> HunyuanProvider:
    # The fake serves results itself, on loopback: its host is the result host here.
    settings = HunyuanOptions(endpoint=fake.url, result_hosts=("127.0.0.1",))
    return HunyuanProvider(settings, secret_id=SECRET_ID, secret_key=SECRET_KEY)


def test_tencent_serves_a_cutout_and_the_stored_output_is_its_image(
    start: Callable[..., Run],
    fake: FakeTencentAI,
) -> None:
    run = start(tencent(fake))

    task = run.run()

    assert task["status"] == "succeeded"
    (image,) = task["output"]["images"]
    assert (image["width"], image["height"]) == (24, 16)
    assert run.stored() == [RESULT]
    assert run.generate() == ("tencent", [])
    assert run.charged(1)
    (call,) = fake.calls  # the photo went as a presigned URL of our storage
    assert call.params["Url"].startswith("https://files.retouch.test/_storage/")


@pytest.mark.parametrize(
    "reply",
    [
        HTML,
        MALFORMED,
        Reply(response={"ResultImage": None}),  # a success without an output
        Reply(response={"ResultImage": "https://evil.example.com/x.png"}),  # off its hosts
        HANG,
    ],
    ids=["html", "malformed", "no-output", "foreign-url", "hanging"],
)
def test_a_failing_tencent_falls_back_to_local_which_serves_charged_once(
    start: Callable[..., Run],
    fake: FakeTencentAI,
    reply: Reply,
) -> None:
    fake.script("SegmentPortraitPic", *[reply] * (RETRIES + 1))
    run = start(tencent(fake, timeout_s=0.3))

    task = run.run()

    assert task["status"] == "succeeded"
    assert run.generate() == ("local", ["tencent"])
    assert fake.actions() == ["SegmentPortraitPic"] * (RETRIES + 1)
    (stored,) = run.stored()
    assert stored != RESULT and stored.startswith(b"\x89PNG")
    assert run.charged(1)
    assert fake.downloads == []  # a foreign URL is never fetched


def test_an_account_in_arrears_falls_back_to_local_after_one_request(
    start: Callable[..., Run],
    fake: FakeTencentAI,
) -> None:
    fake.script("SegmentPortraitPic", *[error("ResourceUnavailable.InArrears", "账户欠费")] * 3)
    run = start(tencent(fake))

    task = run.run()

    assert task["status"] == "succeeded"
    assert run.generate() == ("local", ["tencent"])
    assert fake.actions() == ["SegmentPortraitPic"]  # no retry spent on a refused account
    assert run.charged(1)


def test_a_busy_tencent_is_waited_for_and_then_serves(
    start: Callable[..., Run],
    fake: FakeTencentAI,
) -> None:
    fake.script("SegmentPortraitPic", *[error("RequestLimitExceeded.JobNumExceed")] * 3)
    run = start(tencent(fake))

    task = run.run()

    assert task["status"] == "succeeded"
    assert run.generate() == ("tencent", [])  # busy is not a failure: no fallback
    assert fake.actions() == ["SegmentPortraitPic"] * 4
    assert get_redis().get("breaker:{tencent}:failures") is None
    assert run.charged(1)


def test_content_refused_by_tencent_fails_the_task_and_refunds(
    start: Callable[..., Run],
    fake: FakeTencentAI,
) -> None:
    fake.script("SegmentPortraitPic", error("OperationDenied.ImageIllegalDetected", "图片违规"))
    run = start(tencent(fake))

    task = run.run()

    assert (task["status"], task["error"]["code"]) == ("failed", "INPUT_UNPROCESSABLE")
    assert fake.actions() == ["SegmentPortraitPic"]
    assert run.stored() == []
    assert run.charged(0)


def test_hunyuan_serves_an_outpaint_whose_result_url_is_copied_into_our_storage(
    start: Callable[..., Run],
    fake: FakeTencentAI,
) -> None:
    fake.script_job(job_state("1"), job_state("2"), done(f"{fake.url}/result/job.png"))
    run = start(hunyuan(fake), "outpaint", {"ratio": "16:9"})

    task = run.run()

    assert task["status"] == "succeeded"
    assert run.stored() == [RESULT]
    assert run.generate() == ("hunyuan", [])
    assert fake.actions() == ["SubmitHunyuanImageJob"] + ["QueryHunyuanImageJob"] * 3
    assert fake.downloads == ["/result/job.png"]
    assert fake.calls[0].params["Resolution"] == "1280:720"
    assert run.charged(1)


@pytest.mark.parametrize(
    "answer",
    [
        done("https://evil.example.com/result/job.png"),
        job_state("9"),
        done(),
        job_state("4", JobErrorCode="FailedOperation.GenerateImageFailed"),
    ],
    ids=["foreign-url", "unknown-status", "no-output", "job-failed"],
)
def test_a_failing_hunyuan_job_falls_back_to_local_which_serves_charged_once(
    start: Callable[..., Run],
    fake: FakeTencentAI,
    answer: dict[str, Any],
) -> None:
    run = start(hunyuan(fake), "outpaint", {"ratio": "16:9"})
    fake.script_job(answer)
    # the retry submits a second job, which ends the same way
    original = fake.answer

    def same_for_every_job(headers: dict[str, str], body: bytes) -> Reply:
        if headers.get("x-tc-action") == "SubmitHunyuanImageJob":
            fake.script_job(answer)
        return original(headers, body)

    fake.answer = same_for_every_job  # type: ignore[method-assign]

    task = run.run()

    assert task["status"] == "succeeded"
    assert run.generate() == ("local", ["hunyuan"])
    assert fake.actions() == ["SubmitHunyuanImageJob", "QueryHunyuanImageJob"] * (RETRIES + 1)
    assert fake.downloads == []
    (stored,) = run.stored()
    assert stored != RESULT
    assert run.charged(1)
