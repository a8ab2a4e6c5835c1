"""Files on disk: finding agent files, checking paths, and writing atomically."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

TEMP_SUFFIX = ".agent-registry-tmp"


class UnsafePath(ValueError):
    """A path that would leave the target folder, go through a symlink, or enter .git."""


def clean_relative_path(path: str) -> str:
    """A repository-relative POSIX path, or UnsafePath saying why it is not one."""
    if not path or "\x00" in path or "\\" in path:
        raise UnsafePath(f"{path!r} is not a usable file path")
    pure = PurePosixPath(path)
    if pure.is_absolute():
        raise UnsafePath(f"{path!r} is absolute; agent paths are relative to the repository")
    parts = pure.parts
    if any(part in {"..", "."} for part in parts) or not parts:
        raise UnsafePath(f"{path!r} leaves its folder")
    if ".git" in parts:
        raise UnsafePath(f"{path!r} is inside .git")
    if pure.suffix != ".md":
        raise UnsafePath(f"{path!r} is not a .md file")
    return pure.as_posix()


@dataclass(frozen=True)
class FoundFile:
    path: str  # relative to the folder searched, POSIX style
    absolute: Path
    is_symlink: bool


def find_markdown(folder: Path) -> Iterator[FoundFile]:
    """Every *.md under folder, sorted, never descending into .git or through symlinked folders."""
    folder = Path(folder)
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(names):
            if not name.endswith(".md") or name.endswith(TEMP_SUFFIX):
                continue
            absolute = Path(root) / name
            relative = absolute.relative_to(folder).as_posix()
            yield FoundFile(relative, absolute, absolute.is_symlink())


def read_limited(path: Path, limit: int) -> bytes:
    """Read at most limit + 1 bytes, so a huge file is refused without loading all of it."""
    with open(path, "rb") as handle:
        return handle.read(limit + 1)


def target_path(folder: Path, relative: str) -> Path:
    """Where relative lands under folder; refuses any parent that is a symlink or not a folder."""
    relative = clean_relative_path(relative)
    current = Path(folder)
    for part in PurePosixPath(relative).parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise UnsafePath(f"{relative}: {current} is a symlink; not writing through it")
        if current.exists() and not current.is_dir():
            raise UnsafePath(f"{relative}: {current} is not a folder")
    return current / PurePosixPath(relative).name


def read_existing(path: Path) -> bytes | None:
    """The bytes at path, or None when there is no regular file there (a symlink counts as none)."""
    if path.is_symlink() or not path.is_file():
        return None
    return path.read_bytes()


def write_atomic(path: Path, data: bytes) -> None:
    """Write data to path through a temporary file in the same folder: fsync, then rename.

    A symlink at path is replaced by the file, never written through."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_leftover_temporaries(folder: Path) -> int:
    """Remove temporary files that a killed export left behind; returns how many."""
    removed = 0
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            if name.endswith(TEMP_SUFFIX):
                (Path(root) / name).unlink(missing_ok=True)
                removed += 1
    return removed


class Progress:
    """A one-line counter on a terminal; silent when output is not a terminal."""

    def __init__(self, label: str, total: int, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = total > 0 and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.label = label
        self.total = total
        self.done = 0

    def step(self, count: int = 1) -> None:
        self.done += count
        if self.enabled and (
            self.done // 25 > (self.done - count) // 25 or self.done == self.total
        ):
            self.stream.write(f"\r{self.label} {self.done}/{self.total}")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
