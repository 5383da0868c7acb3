"""One user's cutout task run by a real engine over scripted providers, shared by the engine,
callback, provider-health and RunningHub pipeline tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from retouch.core.db import get_database
from retouch.providers.port import Provider
from retouch.storage import upload_key
from tests.integration.identity_support import new_account
from tests.integration.pipeline_support import (
    PNG,
    MemoryQueue,
    Providers,
    ScriptedProvider,
    drain,
    make_engine,
    task_steps,
)
from tests.integration.quota_support import assert_ledger_matches
from tests.integration.task_support import new_upload, quota, user_internal_id


class Run:
    """One user's cutout task (its upload `picture`), run by an engine over `providers`
    (`engine_options` go to `make_engine`)."""

    def __init__(
        self,
        client: TestClient,
        tmp_path: Path,
        *providers: Provider,
        picture: bytes = PNG,
        **engine_options: Any,
    ) -> None:
        self.client = client
        first = providers[0] if providers else None
        #: The vendor handle of the first provider's first job (a scripted one's).
        self.vendor_job = first.handle(1) if isinstance(first, ScriptedProvider) else ""
        self.queue = MemoryQueue()
        self.engine = make_engine(tmp_path, Providers(*providers), self.queue, **engine_options)
        self.user, self.headers = new_account()
        self.before = quota(self.user["id"])
        upload = new_upload(self.user["id"])
        self.engine.context.storage.put(
            upload_key(user_id=self.user["id"], upload_id=upload), picture, "image/png"
        )
        response = client.post(
            "/v1/tasks",
            json={"feature": "cutout", "inputs": {"image": upload}},
            headers=self.headers,
        )
        assert response.status_code == 202, response.text
        self.task_id = str(response.json()["id"])

    def run(self, *, copies: int = 1) -> dict[str, Any]:
        first = {"task_id": self.task_id, "step": "prepare", "attempt": 1}
        for _ in range(copies):
            self.engine.handle(dict(first))
        drain(self.engine, self.queue, copies=copies)
        return self.task()

    def task(self) -> dict[str, Any]:
        task: dict[str, Any] = self.client.get(
            f"/v1/tasks/{self.task_id}", headers=self.headers
        ).json()
        return task

    def steps(self) -> list[dict[str, Any]]:
        return task_steps(self.task_id)

    def charged(self) -> bool:
        after = quota(self.user["id"])
        assert after["reserved"] == 0
        assert_ledger_matches(get_database(), user_internal_id(self.user["id"]))
        return after["balance"] == self.before["balance"] - 4
