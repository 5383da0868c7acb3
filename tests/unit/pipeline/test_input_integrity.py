"""What was inspected is what the pipeline decodes (issue 13, item 2), over the fakes: an
upload replaced after the trigger accepted it, a pixel bomb among the inputs and a pixel bomb
returned by a vendor are all refused before anything decodes them."""

from __future__ import annotations

from retouch.storage import ObjectInfo, upload_key
from tests.fakes.providers import ScriptedProvider
from tests.fakes.storage import MemoryStorage
from tests.unit.image_support import png
from tests.unit.task_support import ALICE, PHOTO, RESULT, Shop

#: A PNG whose header declares 30000 × 30000 pixels (2.7 GB decoded) in under 100 bytes.
BOMB = png(30_000, 30_000, pixels=False)


class RecordingNormalizer:
    """The prepare step's decoder, recording what it was given (and passing it through)."""

    def __init__(self) -> None:
        self.decoded: list[bytes] = []

    def __call__(self, data: bytes) -> bytes:
        self.decoded.append(data)
        return data


class ReplacedAfterHead(MemoryStorage):
    """Storage where a planned replacement lands just after `head` answers (the race between
    prepare's size check and its read), recording the bound of every `get`."""

    def __init__(self) -> None:
        super().__init__()
        self.replacements: dict[str, bytes] = {}
        self.bounds: list[int | None] = []

    def head(self, key: str) -> ObjectInfo | None:
        info = super().head(key)
        if key in self.replacements:
            self.put(key, self.replacements.pop(key), "image/png")
        return info

    def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        self.bounds.append(max_bytes)
        return super().get(key, max_bytes=max_bytes)


def prepare_detail(shop: Shop, task_id: str) -> str:
    """The internal detail the task failed with (never shown to its owner)."""
    detail = shop.world.tasks.error_details[shop.task(task_id).id]
    assert detail is not None
    return detail


def test_an_upload_replaced_after_inspection_fails_the_task_and_is_never_decoded() -> None:
    # GIVEN a task naming a ready upload, whose object is then replaced behind the trigger's
    # back (a second PUT whose event is late or lost) by other bytes of the same size
    shop = Shop.open()
    image = shop.upload(ALICE)
    task_id = shop.create(inputs={"image": image}).id
    key = upload_key(user_id=ALICE.public_id, upload_id=image)
    replacement = bytearray(PHOTO)
    replacement[-20] ^= 0xFF
    shop.storage.put(key, bytes(replacement), "image/png")
    decoder, provider = RecordingNormalizer(), ScriptedProvider("vendor", (RESULT,))

    # WHEN the pipeline runs
    ran = shop.run_pipeline(engine=shop.engine(provider, normalize=decoder))

    # THEN prepare refuses the input without decoding it: the task fails with its credits
    # returned, and the upload is rejected so no later task can name it
    assert ran == ["prepare"] and decoder.decoded == [] and provider.jobs == []
    task = shop.task(task_id)
    assert (task.status, task.error_code) == ("failed", "INPUT_UNPROCESSABLE")
    assert shop.balance(ALICE) == (10, 0)
    upload = shop.world.uploads.get_by_public_id(image)
    assert upload is not None
    assert (upload.status, upload.reject_reason) == ("rejected", "changed")
    assert "changed since it was inspected" in prepare_detail(shop, task_id)


def test_an_upload_replaced_by_a_larger_object_is_refused_without_reading_it() -> None:
    shop = Shop.open()
    image = shop.upload(ALICE)
    task_id = shop.create(inputs={"image": image}).id
    key = upload_key(user_id=ALICE.public_id, upload_id=image)
    shop.storage.put(key, png(7100, 7100, pixels=False) + b"\0" * 6_000_000, "image/png")

    ran = shop.run_pipeline(ScriptedProvider("vendor", (RESULT,)))

    assert ran == ["prepare"]
    assert shop.task(task_id).error_code == "INPUT_UNPROCESSABLE"
    assert "changed size since it was inspected" in prepare_detail(shop, task_id)
    assert shop.balance(ALICE) == (10, 0)


def test_an_upload_that_is_gone_fails_the_task_with_a_refund() -> None:
    shop = Shop.open()
    image = shop.upload(ALICE)
    task_id = shop.create(inputs={"image": image}).id
    shop.storage.delete(upload_key(user_id=ALICE.public_id, upload_id=image))

    assert shop.run_pipeline(ScriptedProvider("vendor", (RESULT,))) == ["prepare"]
    assert shop.task(task_id).error_code == "INPUT_UNPROCESSABLE"
    assert shop.balance(ALICE) == (10, 0)


def test_a_pixel_bomb_input_is_refused_by_its_header_before_decoding() -> None:
    # GIVEN a ready upload whose header declares 900 megapixels (its fingerprint recorded, as
    # an upload checked before the cap was lowered would be)
    shop = Shop.open()
    task_id = shop.create(inputs={"image": shop.upload(ALICE, data=BOMB)}).id
    decoder = RecordingNormalizer()

    ran = shop.run_pipeline(engine=shop.engine(normalize=decoder))

    assert ran == ["prepare"] and decoder.decoded == []
    assert shop.task(task_id).error_code == "INPUT_UNPROCESSABLE"
    assert "30000x30000 is more than" in prepare_detail(shop, task_id)
    assert shop.balance(ALICE) == (10, 0)


def test_a_pixel_bomb_from_a_vendor_is_never_stored_and_the_next_provider_serves() -> None:
    shop = Shop.open()
    task_id = shop.create().id
    first, second = ScriptedProvider("vendor", (BOMB,)), ScriptedProvider("backup", (RESULT,))

    ran = shop.run_pipeline(first, second)

    assert ran == ["prepare", "generate", "store", "generate", "store", "finalize"]
    task = shop.task(task_id)
    assert task.status == "succeeded"
    assert [shop.storage.get(image.key) for image in task.images] == [RESULT]
    assert BOMB not in [shop.storage.get(key) for key in shop.storage.keys("outputs/")]
    row = shop.world.steps.get(task_id=task.id, index=1)
    assert row is not None
    (fallback,) = row.fallbacks
    assert (fallback["provider"], fallback["code"]) == ("vendor", "BAD_RESULT")
    assert "30000x30000 is more than" in fallback["detail"]


def test_an_upload_replaced_between_size_check_and_read_is_not_read_past_its_size() -> None:
    # GIVEN a ready upload whose object grows to 60 MB just after prepare checked its size
    shop = Shop.open()
    shop.storage = storage = ReplacedAfterHead()
    image = shop.upload(ALICE)
    task_id = shop.create(inputs={"image": image}).id
    key = upload_key(user_id=ALICE.public_id, upload_id=image)
    storage.replacements[key] = PHOTO + b"\0" * 60_000_000
    decoder = RecordingNormalizer()

    # WHEN the pipeline runs
    ran = shop.run_pipeline(
        engine=shop.engine(ScriptedProvider("vendor", (RESULT,)), normalize=decoder)
    )

    # THEN the read was bounded by the size inspected, and the task fails with a refund
    assert ran == ["prepare"] and decoder.decoded == []
    assert storage.bounds == [len(PHOTO)]
    assert shop.task(task_id).error_code == "INPUT_UNPROCESSABLE"
    assert "grew since it was inspected" in prepare_detail(shop, task_id)
    assert shop.balance(ALICE) == (10, 0)
