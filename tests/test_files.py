"""Checking agent paths (registry/sync/files.py)."""

from pathlib import PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.sync.files import UnsafePath, clean_relative_path

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
