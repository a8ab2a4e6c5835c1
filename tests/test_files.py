"""Checking agent paths and reading the files at them (registry/sync/files.py)."""

import os
from pathlib import PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.sync.files import (
    READ_SIZE,
    UnsafePath,
    clean_relative_path,
    read_existing,
    target_fspath,
    target_path,
)

# Pieces that make the paths where a reading could go wrong: empty and "." parts, "..",
# ".git", a name that is only ".md", slashes at either end and doubled.
PATH_PIECES = ["a", "é", ".", "..", "/", "//", "md", ".md", ".git", "x.md"]


def pathlib_reading(path: str) -> str | None:
    """The path as PurePosixPath reads it, or None where the registry refuses it."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or not pure.parts or ".." in pure.parts or ".git" in pure.parts:
        return None
    return pure.as_posix() if pure.suffix == ".md" else None


@given(st.lists(st.sampled_from(PATH_PIECES), max_size=8).map("".join))
def test_a_path_is_read_as_pathlib_reads_it(path):
    expected = pathlib_reading(path)

    if expected is None:
        with pytest.raises(UnsafePath):
            clean_relative_path(path)
    else:
        assert clean_relative_path(path) == expected


def test_a_target_is_the_path_under_the_folder(tmp_path):
    (tmp_path / "team").mkdir()

    assert target_path(tmp_path, "team//./x.md") == tmp_path / "team/x.md"
    assert target_fspath(str(tmp_path), "team/x.md") == str(tmp_path / "team/x.md")
    assert target_fspath(str(tmp_path), "new/deeper/x.md") == str(tmp_path / "new/deeper/x.md")


@pytest.mark.parametrize("checked", [None, set()], ids=["alone", "checking-many"])
def test_a_target_through_a_symlinked_folder_or_a_file_is_refused(tmp_path, checked):
    (tmp_path / "outside").mkdir()
    (tmp_path / "team").symlink_to(tmp_path / "outside", target_is_directory=True)
    (tmp_path / "file").write_text("not a folder")

    with pytest.raises(UnsafePath, match="is a symlink"):
        target_fspath(str(tmp_path), "team/x.md", checked)
    with pytest.raises(UnsafePath, match="is not a folder"):
        target_fspath(str(tmp_path), "file/x.md", checked)


def test_folders_checked_once_are_remembered_only_when_safe(tmp_path):
    (tmp_path / "team/inner").mkdir(parents=True)
    checked = set()

    target_fspath(str(tmp_path), "team/inner/x.md", checked)
    target_fspath(str(tmp_path), "later/x.md", checked)  # not there yet: made when written

    assert checked == {"team", "team/inner"}


def test_existing_bytes_are_read_whole(tmp_path):
    small, large = tmp_path / "small.md", tmp_path / "large.md"
    small.write_bytes(b"")
    large.write_bytes(os.urandom(3 * READ_SIZE + 5))

    assert read_existing(small) == b""
    assert read_existing(str(large)) == large.read_bytes()


def test_no_regular_file_reads_as_none(tmp_path):
    (tmp_path / "real.md").write_text("real")
    (tmp_path / "link.md").symlink_to(tmp_path / "real.md")
    (tmp_path / "folder.md").mkdir()

    assert read_existing(tmp_path / "link.md") is None
    assert read_existing(tmp_path / "folder.md") is None
    assert read_existing(tmp_path / "missing.md") is None
    assert read_existing(tmp_path / "real.md/below.md") is None
