"""The erasure's object keys: found anywhere in a task's output or a step's state, and only
keys of a person's roots that pass the key rules."""

from __future__ import annotations

from retouch.erasure.repository import object_keys_in


def test_finds_the_keys_of_uploads_results_and_intermediate_images_at_any_depth() -> None:
    # GIVEN a step state naming prepared inputs and raw results, and a task output
    state = {
        "prepared": {"image": "work/tsk_a/in-image.png", "mask": "work/tsk_a/in-mask.png"},
        "outputs": [{"key": "work/tsk_a/raw-0-0"}, {"url": "https://vendor.example/x.png"}],
        "source": "uploads/usr_b/upl_c",
    }
    output = {"images": [{"key": "outputs/tsk_a/0.png", "width": 4, "height": 3}]}

    # WHEN the keys are collected
    keys = set(object_keys_in(state)) | set(object_keys_in(output))

    # THEN every key of a person's objects is there, and nothing else
    assert keys == {
        "work/tsk_a/in-image.png",
        "work/tsk_a/in-mask.png",
        "work/tsk_a/raw-0-0",
        "uploads/usr_b/upl_c",
        "outputs/tsk_a/0.png",
    }


def test_ignores_other_roots_text_and_keys_breaking_the_rules() -> None:
    document = [
        "archive/audit_logs/2026/01/01/1-2.jsonl.gz",  # not the person's: kept by retention
        "backups/2026-01-01/dump.sql.gz",
        "work/../../etc/passwd",  # never handed to storage
        "outputs/",
        "a sentence about work/tsk_a",
        17,
        None,
    ]

    assert list(object_keys_in(document)) == []
