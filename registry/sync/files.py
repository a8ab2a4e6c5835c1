"""Files on disk: finding agent files, checking paths, and writing atomically."""

from __future__ import annotations

import errno
import os
import secrets
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

TEMP_SUFFIX = ".agent-registry-tmp"
# The longest path an agent may have (its column's length), and the longest file or folder name
# the usual file systems take (ext4, APFS, NTFS: 255 bytes or fewer), so that any checkout of
# the repository can hold every agent's file.
MAX_PATH_CHARACTERS = 1024
MAX_NAME_BYTES = 255


class UnsafePath(ValueError):
    """A path that would leave the target folder, go through a symlink, or enter .git, or that
    is not text."""


class PathTooLong(UnsafePath):
    """A path, or a file or folder name in it, longer than a repository can hold."""


def clean_relative_path(path: str) -> str:
    """A repository-relative POSIX path, or UnsafePath saying why it is not one.

    Every way a path comes in (import, upload, drift, export) goes through here. It reads the
    path as PurePosixPath does (a//b, ./a and a/ are a/b, a and a), with string operations
    only: an export checks every agent's path."""
    if not path or "\x00" in path or "\\" in path:
        raise UnsafePath(f"{shown_path(path)!r} is not a usable file path")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # a file name that was not UTF-8, read with surrogateescape
        raise UnsafePath(f"{shown_path(path)!r} is not a UTF-8 file name; rename it") from None
    check_length(path)
    if path.startswith("/"):
        raise UnsafePath(f"{path!r} is absolute; agent paths are relative to the repository")
    parts = [part for part in path.split("/") if part not in {"", "."}]
    if not parts or ".." in parts:
        raise UnsafePath(f"{path!r} leaves its folder")
    if ".git" in parts:
        raise UnsafePath(f"{path!r} is inside .git")
    # PurePosixPath's suffix: a name that is only ".md" has none.
    if not parts[-1].endswith(".md") or parts[-1] == ".md":
        raise UnsafePath(f"{path!r} is not a .md file")
    return "/".join(parts)


def check_length(path: str) -> None:
    """Refuse (PathTooLong) a path of more than MAX_PATH_CHARACTERS characters, or with a file
    or folder name of more than MAX_NAME_BYTES bytes in UTF-8, naming it."""
    if len(path) > MAX_PATH_CHARACTERS:
        raise PathTooLong(
            f"{shown_path(path)!r} is {len(path):,} characters long; a path may have at most "
            f"{MAX_PATH_CHARACTERS:,}"
        )
    for name in path.split("/"):
        size = len(name.encode("utf-8", "surrogatepass"))
        if size > MAX_NAME_BYTES:
            where = "" if name == path else f" in {shown_path(path)!r}"
            raise PathTooLong(
                f"the name {shown_path(name)!r}{where} is {size:,} bytes long; a file or folder "
                f"name may have at most {MAX_NAME_BYTES} bytes (in UTF-8)"
            )


def readable_path(path: str) -> str:
    """path as text a page can show: U+FFFD where a file name that was not UTF-8 had bytes."""
    try:
        data = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no undecodable byte made
        data = path.encode("utf-8", "surrogatepass")
    return data.decode("utf-8", "replace")


def shown_path(path: str, keep: int = 80) -> str:
    """A path as a message shows it: readable, and only its start and end when it is long."""
    path = readable_path(path)
    if len(path) <= keep:
        return path
    return f"{path[: keep // 2]}…{path[-(keep // 2 - 1) :]}"


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
    return Path(target_fspath(os.fspath(folder), relative))


def target_fspath(folder: str, relative: str, checked: set[str] | None = None) -> str:
    """target_path as a string, for a caller that checks thousands of paths (an export), to
    which making a Path for each costs more than checking it. checked: the folders (relative to
    folder) found safe already by this caller, which it keeps for its next paths, so that each
    folder is checked once."""
    relative = clean_relative_path(relative)
    parents = relative.split("/")[:-1]
    if checked is not None and "/".join(parents) in checked:
        return os.path.join(folder, relative)
    for under in accumulate(parents, "{}/{}".format):
        if checked is not None and under in checked:
            continue
        current = os.path.join(folder, under)
        try:
            mode = os.lstat(current).st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue  # made when the file is written
        except OSError as error:  # too long with the folder before it, say, or not readable
            raise UnsafePath(f"{shown_path(relative)}: {error.strerror or error}") from None
        if stat.S_ISLNK(mode):
            raise UnsafePath(f"{relative}: {current} is a symlink; not writing through it")
        if not stat.S_ISDIR(mode):
            raise UnsafePath(f"{relative}: {current} is not a folder")
        if checked is not None:
            checked.add(under)
    return os.path.join(folder, relative)


def read_existing(path: str | Path) -> bytes | None:
    """The bytes at path, or None when there is no regular file there (a symlink counts as none)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:  # a symlink
            return None
        raise
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            return None
        # Plain reads, without a buffered file object: an export reads thousands of files. One
        # read of the size fstat gave, then on to the end (past that size if the file grew).
        data = os.read(descriptor, status.st_size)
        while more := os.read(descriptor, READ_SIZE):
            data += more
        return data
    finally:
        os.close(descriptor)


# How much read_existing asks for at a time past the size the file had when it was opened.
READ_SIZE = 1 << 16


def write_atomic(path: Path, data: bytes, *, sync_folder: bool = True) -> None:
    """Write data to path through a temporary file in the same folder: fsync, then rename.

    A symlink at path is replaced by the file, never written through. sync_folder=False leaves
    the folder's fsync (which makes the rename durable) to the caller, who writes many files
    into it and syncs it once."""
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
    if sync_folder:
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
