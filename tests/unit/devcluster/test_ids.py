"""Identifiers made without a system call keep the formats of the real server."""

from __future__ import annotations

import uuid

from devcluster.ids import new_uid, random_suffix


def test_uids_are_distinct_version_4_uuids_in_canonical_form() -> None:
    uids = [new_uid() for _ in range(2000)]
    assert len(set(uids)) == len(uids)
    for text in uids[:50]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_suffixes_use_only_the_alphabet_and_the_length_asked_for() -> None:
    suffixes = {random_suffix("abc", 5) for _ in range(200)}
    assert all(len(s) == 5 and set(s) <= set("abc") for s in suffixes)
    assert len(suffixes) > 1
