"""Agent files in the browser: import uploaded .md files or a .zip of a folder, and download
every live agent as a .zip that unpacks to what export_agents writes."""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from typing import BinaryIO

from django import forms
from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFilesSent,
    ValidationError,
)
from django.http import FileResponse, HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from .files import PathTooLong, UnsafePath, check_length, clean_relative_path
from .models import Agent, AuditEvent, ImportReport, IncomingFile, Version, import_files

# Every member of a downloaded zip carries this time, so the same registry gives the same bytes.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = (stat.S_IFREG | 0o644) << 16  # what export_agents gives its files
EXPORT_CHUNK = 200  # versions' texts read per query while writing the zip
SPOOL_BYTES = 16 * 1024 * 1024  # a larger zip is built in a temporary file, not in memory
FOLD_AFTER = 30  # files listed under a heading of the import report before it is folded
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


# --- Export ---------------------------------------------------------------------------------


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


# --- Views ----------------------------------------------------------------------------------


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class UploadedFilesField(forms.Field):
    """Any number of uploaded files, as a list; what they hold is checked by read_uploads."""

    widget = MultipleFileInput

    def to_python(self, data):
        if not data:
            return []
        return [item for item in (data if isinstance(data, list | tuple) else [data]) if item]


class ImportUploadForm(forms.Form):
    files = UploadedFilesField(
        label="Agent files",
        error_messages={"required": "Choose one or more .md files, or one .zip."},
        widget=MultipleFileInput(attrs={"accept": ".md,.zip,text/markdown,application/zip"}),
    )
    folder = forms.CharField(
        label="Folder in the repository",
        required=False,
        max_length=500,
        help_text="Optional: the uploaded paths are put under this folder, e.g. .claude/agents.",
    )
    dry_run = forms.BooleanField(
        label="Dry run: report what would happen, store nothing", required=False
    )
    skip_rejected = forms.BooleanField(
        label="Skip rejected files: store the others anyway", required=False
    )

    def clean_folder(self) -> str:
        folder = self.cleaned_data["folder"].strip().rstrip("/")
        if not folder:
            return ""
        try:
            check_length(folder)
        except PathTooLong as error:
            raise ValidationError(
                f"The folder is too long: {error}.", code="folder-too-long"
            ) from None
        try:
            clean_relative_path(f"{folder}/agent.md")
        except UnsafePath:
            raise ValidationError(
                "Give a folder inside the repository, relative to it: no leading /, no . or .. "
                "parts, not inside .git, no backslashes.",
                code="folder-unsafe",
            ) from None
        return folder

    def clean(self):
        data = super().clean()
        if "files" in data and "folder" in data:
            try:
                self.upload = read_uploads(data["files"], data["folder"])
            except UploadError as error:
                self.add_error("files", ValidationError(error.message, code=error.code))
        return data


@dataclass
class ReportGroup:
    """One heading of the import report: the files, each with its agent's key and a reason."""

    title: str
    badge: str
    about: str
    rows: list[tuple[str, str | None, str]]
    folded: bool = False


def report_groups(report: ImportReport) -> list[ReportGroup]:
    paths = [
        *report.created,
        *report.updated,
        *report.unchanged,
        *report.conflicts,
        *report.with_errors,
    ]
    keys = dict(Agent.objects.filter(path__in=paths).values_list("path", "key"))

    def rows(found: list[str]) -> list[tuple[str, str | None, str]]:
        return [(path, keys.get(path), "") for path in sorted(found)]

    groups = [
        ReportGroup("Created", "ok", "New agents.", rows(report.created)),
        ReportGroup("Updated", "info", "A new version from the file.", rows(report.updated)),
        ReportGroup(
            "Rejected",
            "error",
            "Not text the registry can store: each with its reason.",
            [(path, None, reason) for path, reason in sorted(report.rejected)],
        ),
        ReportGroup(
            "Conflicts",
            "error",
            "Changed both in the repository and in the registry since the last sync: not "
            "overwritten. Compare them on the drift page or in the agent's history.",
            rows(report.conflicts),
        ),
        ReportGroup(
            "With errors",
            "warning",
            "Import stores them all the same; their problems show on each agent's page.",
            rows(report.with_errors),
        ),
        ReportGroup(
            "Unchanged",
            "",
            "The registry has this text already: no new version.",
            rows(report.unchanged),
            folded=True,
        ),
    ]
    for group in groups:
        # A long list (a whole repository's worth) is folded; rejections and conflicts never are.
        if len(group.rows) > FOLD_AFTER and group.badge != "error":
            group.folded = True
    return [group for group in groups if group.rows]


def _require_maintainer(request: HttpRequest, *, audited: bool = True) -> None:
    """Refuse (403) anyone but a maintainer, recording the attempt in the audit log unless
    audited is off (a POST whose CSRF token could not be checked may come from another site)."""
    if not request.user.has_perm("registry.maintain_registry"):
        reason = "only maintainers can import agent files"
        if audited:
            AuditEvent.record("import.denied", actor=request.user, request=request, reason=reason)
        raise PermissionDenied(reason)


def _render_import(
    request, form, *, problem="", upload=None, report=None, dry_run=False, status=200
):
    context = {
        "form": form,
        "problem": problem,
        "upload": upload,
        "report": report,
        "groups": report_groups(report) if report else [],
        "dry_run": dry_run,
        "nothing_stored": bool(report and report.rejected and not report.stored and not dry_run),
        "max_file": _size(settings.REGISTRY_MAX_FILE_BYTES),
        "max_upload": _size(settings.REGISTRY_MAX_UPLOAD_BYTES),
        "max_unpacked": _size(settings.REGISTRY_MAX_UNPACKED_BYTES),
        "max_files": settings.DATA_UPLOAD_MAX_NUMBER_FILES,
    }
    return render(request, "registry/import_upload.html", context, status=status)


# The CSRF middleware would read (and spool to disk) the whole body to find the token before
# the view could refuse an upload for its size. So the view checks the size, reads the body, then
# checks the token, and only then writes anything: the audit log's record of a refusal too, which
# a page on another site could otherwise make a signed-in browser write.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest):
    if request.method == "GET":
        _require_maintainer(request)
        return _render_import(request, ImportUploadForm())
    problem, status = _unreadable_upload(request)
    if problem:
        _require_maintainer(request, audited=False)  # the token is in the body, unread
        return _render_import(request, ImportUploadForm(), problem=problem, status=status)
    return _import_post(request)


def _unreadable_upload(request: HttpRequest) -> tuple[str, int]:
    """Why the upload cannot be read, with the status to answer; ("", 200) once it is read.
    An upload over the size limit is refused before any of it is read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.REGISTRY_MAX_UPLOAD_BYTES:
        problem = (
            f"The upload is {_size(length)}; at most {_size(settings.REGISTRY_MAX_UPLOAD_BYTES)} "
            "can be uploaded at once. Upload fewer files, or a smaller .zip."
        )
        return problem, 413
    try:
        request.POST, request.FILES  # noqa: B018 - parsed here, so a bad body gets a message
    except TooManyFilesSent:
        problem = (
            f"At most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files can be uploaded at once: "
            "upload a .zip of the folder instead."
        )
        return problem, 400
    except (RequestDataTooBig, MultiPartParserError) as error:
        return f"The upload could not be read: {error}", 400
    return "", 200


@csrf_protect
def _import_post(request: HttpRequest):
    _require_maintainer(request)
    form = ImportUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_import(request, form, status=400)
    dry_run = form.cleaned_data["dry_run"]
    report = import_files(
        form.upload.files,
        request.user,
        dry_run=dry_run,
        skip_rejected=form.cleaned_data["skip_rejected"],
        message=f"Imported from an upload: {form.upload.source}"[:500],
    )
    if not dry_run:
        AuditEvent.record(
            "import",
            actor=request.user,
            request=request,
            source=f"upload: {form.upload.source}"[:1000],
            **report.audit_details(),
        )
    return _render_import(
        request, ImportUploadForm(), upload=form.upload, report=report, dry_run=dry_run
    )


@require_GET
def export_download(request: HttpRequest):
    """Every live agent as agents-YYYYMMDD.zip, unpacking to exactly what export_agents writes.
    A download is not a sync: the agents' last synced texts are left as they are."""
    archive = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - FileResponse closes it
    paths = write_export_zip(archive)
    size = archive.tell()
    archive.seek(0)
    AuditEvent.record("export.download", actor=request.user, request=request, files=len(paths))
    response = FileResponse(
        archive,
        as_attachment=True,
        filename=f"agents-{timezone.localdate():%Y%m%d}.zip",
        content_type="application/zip",
    )
    response["Content-Length"] = str(size)
    return response
