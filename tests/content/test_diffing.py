"""The side-by-side diff of two versions."""

from __future__ import annotations

from carereach.content.diffing import VersionText, version_diff


def test_rows_pair_changes_and_mark_additions() -> None:
    old = VersionText("v1", {"SMS (en): text": "Hello\nold line\nsame", "Brand": "X"})
    new = VersionText("v2", {"SMS (en): text": "Hello\nnew line\nsame\nadded", "Media": "m"})
    sections = {s.title: s for s in version_diff(old, new)}
    assert list(sections) == ["SMS (en): text", "Brand", "Media"]
    rows = sections["SMS (en): text"].rows
    assert [(r.kind, r.left, r.right) for r in rows] == [
        ("equal", "Hello", "Hello"),
        ("changed", "old line", "new line"),
        ("equal", "same", "same"),
        ("added", "", "added"),
    ]
    assert rows[3].left_number is None
    assert rows[3].right_number == 4
    assert [r.kind for r in sections["Brand"].rows] == ["removed"]
    assert sections["Media"].changed


def test_identical_versions_have_no_changes() -> None:
    same = VersionText("v1", {"a": "x\ny"})
    assert not any(section.changed for section in version_diff(same, same))
