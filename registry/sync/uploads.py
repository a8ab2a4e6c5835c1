"""Agent files in the browser: import uploaded .md files or a .zip of a folder, and download
every live agent as a .zip that unpacks to what export_agents writes."""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings

from registry.models import Agent, Version
from registry.sync.files import UnsafePath, clean_relative_path
from registry.sync.importing import IncomingFile

# Every member of a downloaded zip carries this time, so the same registry gives the same bytes.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


ZIP_FILE_MODE = (stat.S_IFREG | 0o644) << 16  # what export_agents gives its files


EXPORT_CHUNK = 200  # versions' texts read per query while writing the zip


SPOOL_BYTES = 16 * 1024 * 1024  # a larger zip is built in a temporary file, not in memory


# Folders whose files are never agents: git's own, and the resource forks macOS Finder adds.
IGNORED_FOLDERS = {".git", "__MACOSX"}


_DRIVE = re.compile(r"^[A-Za-z]:")


class UploadError(Exception):
    """An upload that cannot be imported at all: not a zip, empty, too big, nothing in it."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class Upload:
    """The files an upload offers for import, and what in it was left out."""

    source: str
    files: list[IncomingFile] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # .md files inside .git or __MACOSX
    other_files: int = 0  # members of a zip that are not .md files


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.1f} MiB"
    if count >= 1024:
        return f"{count / 1024:.0f} KiB"
    return f"{count} bytes"


def _add(upload: Upload, seen: set[str], incoming: IncomingFile) -> None:
    """Add a file, refusing a second one with the same path (it would be imported twice)."""
    if incoming.path in seen:
        incoming = IncomingFile(incoming.path, refused="more than one uploaded file has this path")
    seen.add(incoming.path)
    upload.files.append(incoming)


def _prefixed(folder: str, path: str) -> str:
    return f"{folder}/{path}" if folder else path


def read_uploads(uploaded: list, folder: str = "") -> Upload:
    """The IncomingFiles of uploaded .md files (their names as paths, under folder), or of one
    .zip. Raises UploadError for an upload that offers nothing importable."""
    if not uploaded:
        raise UploadError("Choose one or more .md files, or one .zip.", "no-files")
    total = sum(item.size or 0 for item in uploaded)
    if total > settings.REGISTRY_MAX_UPLOAD_BYTES:
        raise UploadError(
            f"The upload is {_size(total)}; at most "
            f"{_size(settings.REGISTRY_MAX_UPLOAD_BYTES)} can be uploaded at once.",
            "too-big",
        )
    zips = [item for item in uploaded if item.name.lower().endswith(".zip")]
    if zips:
        if len(uploaded) > 1:
            raise UploadError("Upload one .zip on its own, or .md files without a .zip.", "mixed")
        return read_zip(zips[0], zips[0].name, folder)
    others = [item.name for item in uploaded if not item.name.endswith(".md")]
    if others:
        raise UploadError(
            f"Only .md files, or one .zip, can be imported; not {', '.join(others)}.",
            "not-markdown",
        )
    limit = settings.REGISTRY_MAX_FILE_BYTES
    upload = Upload(source=", ".join(item.name for item in uploaded))
    seen: set[str] = set()
    for item in uploaded:
        if not item.size:
            raise UploadError(f"{item.name} is empty.", "empty")
        item.seek(0)
        # One byte over the limit is enough for import to refuse the file as too large.
        _add(upload, seen, IncomingFile(_prefixed(folder, item.name), item.read(limit + 1)))
    return upload


def read_zip(archive_file: BinaryIO, name: str, folder: str = "") -> Upload:
    """Every *.md member of a zip as an IncomingFile, its path inside the zip kept (under
    folder). Members in .git are ignored; symlinks and paths leaving the folder are refused.
    A zip with too many members, or whose files would unpack to too much, is refused whole."""
    limit = settings.REGISTRY_MAX_FILE_BYTES
    max_members = settings.REGISTRY_MAX_ZIP_MEMBERS
    max_unpacked = settings.REGISTRY_MAX_UNPACKED_BYTES
    archive_file.seek(0, 2)
    if archive_file.tell() == 0:
        raise UploadError(f"{name} is empty.", "empty")
    archive_file.seek(0)
    try:
        archive = zipfile.ZipFile(archive_file)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        message = f"{name} is not a zip file, or it is damaged ({error})."
        raise UploadError(message, "not-zip") from None
    upload = Upload(source=name)
    with archive:
        members = archive.infolist()
        if len(members) > max_members:
            raise UploadError(
                f"{name} holds {len(members):,} entries; at most {max_members:,} are read.",
                "too-many-members",
            )
        wanted = []
        for member in members:
            if member.is_dir():
                continue
            if not member.filename.endswith(".md"):
                upload.other_files += 1
            elif IGNORED_FOLDERS.intersection(member.filename.split("/")):
                upload.ignored.append(member.filename)
            else:
                wanted.append(member)
        if not wanted:
            raise UploadError(
                f"{name} holds no .md files"
                + (" outside .git and __MACOSX" if upload.ignored else "")
                + ": nothing to import.",
                "no-markdown",
            )
        declared = sum(member.file_size for member in wanted)
        if declared > max_unpacked:
            raise UploadError(
                f"The .md files in {name} unpack to {_size(declared)}; at most "
                f"{_size(max_unpacked)} are imported at once.",
                "too-big-unpacked",
            )
        seen: set[str] = set()
        unpacked = 0
        for member in wanted:
            path = _prefixed(folder, member.filename)
            reason = _refusal(member)
            if reason:
                _add(upload, seen, IncomingFile(path, refused=reason))
                continue
            try:
                with archive.open(member) as opened:
                    data = opened.read(limit + 1)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError) as error:
                reason = f"cannot be read from the zip: {error}"
                _add(upload, seen, IncomingFile(path, refused=reason))
                continue
            except NotImplementedError as error:  # a compression method zipfile cannot read
                _add(upload, seen, IncomingFile(path, refused=f"cannot be unpacked: {error}"))
                continue
            unpacked += len(data)
            if unpacked > max_unpacked:  # members whose sizes were declared falsely
                raise UploadError(
                    f"The .md files in {name} unpack to more than {_size(max_unpacked)}.",
                    "too-big-unpacked",
                )
            _add(upload, seen, IncomingFile(path, data))
    return upload


def _refusal(member: zipfile.ZipInfo) -> str:
    """Why a zip member is not imported, or "" when it can be."""
    if stat.S_ISLNK(member.external_attr >> 16):
        return "is a symlink; not followed"
    if _DRIVE.match(member.filename):
        return f"{member.filename!r} is absolute; agent paths are relative to the repository"
    try:
        clean_relative_path(member.filename)
    except UnsafePath as error:
        return str(error)
    return ""


def write_export_zip(target: BinaryIO) -> list[str]:
    """Write every live, non-archived agent to a zip at the path export_agents writes it to,
    with the same bytes; returns the paths. Sorted in Python, so the zip does not depend on
    the database's collation."""
    rows = sorted(
        Agent.objects.active()
        .filter(live_version__isnull=False)
        .values_list("path", "live_version_id")
    )
    paths = []
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for start in range(0, len(rows), EXPORT_CHUNK):
            chunk = rows[start : start + EXPORT_CHUNK]
            texts = dict(
                Version.objects.filter(pk__in=[pk for _, pk in chunk]).values_list("pk", "text")
            )
            for path, version_id in chunk:
                try:
                    path = clean_relative_path(path)
                except UnsafePath:
                    continue  # export_agents refuses it too
                member = zipfile.ZipInfo(path, date_time=ZIP_TIMESTAMP)
                member.compress_type = zipfile.ZIP_DEFLATED
                member.external_attr = ZIP_FILE_MODE
                member.create_system = 3  # Unix, whatever the server runs on
                archive.writestr(member, texts[version_id].encode("utf-8"))
                paths.append(path)
    return paths
