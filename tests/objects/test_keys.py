"""Object keys: built in one place, read back in one place."""

from __future__ import annotations

import pytest

from pixelmotion.objects.keys import (
    OUTPUT_FILES,
    content_type,
    job_prefix,
    output_key,
    owner_key,
    owner_of,
    source_clip_key,
    split_upload_key,
    upload_key,
)


def test_an_upload_key_reads_back_as_its_owner_and_id() -> None:
    key = upload_key("alice", "u-123")
    assert split_upload_key(key) == (owner_of("alice"), "u-123")
    assert owner_key(*split_upload_key(key)) == key


def test_the_same_upload_id_of_two_users_is_two_keys() -> None:
    assert upload_key("alice", "u-1") != upload_key("bob", "u-1")
    assert "alice" not in upload_key("alice", "u-1")  # the owner part does not name the user


@pytest.mark.parametrize("key", ["results/x/y", "uploads/x", "uploads/a/b/c"])
def test_other_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError):
        split_upload_key(key)


def test_every_key_of_a_job_is_under_its_prefix() -> None:
    prefix = job_prefix("j-1") + "/"
    assert source_clip_key("j-1").startswith(prefix)
    assert {output_key("j-1", name).removeprefix(prefix) for name in OUTPUT_FILES} == set(
        OUTPUT_FILES.values()
    )
    assert not job_prefix("j-10").startswith(prefix)  # one job's prefix is not another's


def test_content_types_of_stored_results() -> None:
    assert content_type("gif") == "image/gif"
    assert content_type("sheetJson") == "application/json"
    assert content_type("pngs") == "application/octet-stream"  # written, never stored
