"""Upload keys: built in one place, read back in one place."""

from __future__ import annotations

import pytest

from pixelmotion.objects.uploads import owner_key, owner_of, split_upload_key, upload_key


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
