"""Import and export in the browser: the upload page and its report, the zip of all agents."""

from __future__ import annotations

from dataclasses import dataclass
from tempfile import SpooledTemporaryFile

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFilesSent,
    ValidationError,
)
from django.db import transaction
from django.http import FileResponse, HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from registry.forms import ImportUploadForm
from registry.models import Agent, AuditEvent, ImportJob
from registry.sync.background_import import from_dict, queue_import
from registry.sync.importing import ImportReport, import_files, propose_import
from registry.sync.uploads import SPOOL_BYTES, Upload, _size, write_export_zip
from registry.tasks import run_import
from registry.views.common import HtmxHttpRequest, _wants_fragment, _with_vary

FOLD_AFTER = 30  # files listed under a heading of the import report before it is folded
# An upload of more files than this is imported by a worker, its page showing the progress.
IMPORT_IN_BACKGROUND_FROM = 200


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


def _propose_upload(request: HttpRequest, form: ImportUploadForm):
    """The upload as one change set for review: to its page, or back with why not."""
    try:
        report, change = propose_import(
            form.upload.files,
            request.user,
            f"Upload: {form.upload.source}"[:500],
            skip_rejected=form.cleaned_data["skip_rejected"],
        )
    except ValidationError as refusal:
        problem = "Nothing was proposed: " + " ".join(refusal.messages) + "."
        return _render_import(request, ImportUploadForm(), problem=problem, status=400)
    if change is None:
        return _render_import(
            request, ImportUploadForm(), upload=form.upload, report=report, dry_run=True
        )
    AuditEvent.record(
        "import.propose",
        actor=request.user,
        request=request,
        source=f"upload: {form.upload.source}"[:1000],
        change=change.pk,
    )
    messages.success(
        request,
        f"Change #{change.pk} proposes the upload's {change.items.count()} changed files "
        f"({report.summary()}). Submit it for review: nothing is stored until it is approved.",
    )
    return redirect("registry:change_detail", pk=change.pk)


@csrf_protect
def _import_post(request: HttpRequest):
    _require_maintainer(request)
    form = ImportUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_import(request, form, status=400)
    dry_run = form.cleaned_data["dry_run"]
    as_change = form.cleaned_data["as_change"] and not dry_run
    if not dry_run and len(form.upload.files) > IMPORT_IN_BACKGROUND_FROM:
        # Many files: a worker imports (or proposes) them, and the job's page follows it.
        with transaction.atomic():
            job = queue_import(
                form.upload,
                request.user,
                skip_rejected=form.cleaned_data["skip_rejected"],
                as_change=as_change,
            )
            transaction.on_commit(lambda: run_import.enqueue(job.pk), robust=True)
        return redirect("registry:import_job", pk=job.pk)
    if as_change:
        return _propose_upload(request, form)
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
def import_job(request: HtmxHttpRequest, pk: int):
    """A background import's progress, then its report."""
    _require_maintainer(request)
    job = get_object_or_404(ImportJob.objects.defer("payload").select_related("change"), pk=pk)
    report = from_dict(job.report) if job.report else None
    upload = Upload(job.source, ignored=job.ignored, other_files=job.other_files)
    context = {
        "job": job,
        "report": report,
        "upload": upload,
        "groups": report_groups(report) if report else [],
        "dry_run": False,
        "nothing_stored": bool(report and report.rejected and not report.stored),
    }
    template = "registry/import_job.html"
    if _wants_fragment(request):
        template += "#job"
    return _with_vary(render(request, template, context))


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
