"""A large upload, imported by a worker: screened whole first (a rejected file stores nothing
unless the upload said to skip it), then stored a slice at a time, so the page can show how
far it is. Tried again, it stores nothing twice: what is stored already is unchanged."""

from __future__ import annotations

import io
import zipfile

from django.core.exceptions import ValidationError
from django.db import transaction

from registry.models import AuditEvent, ImportJob
from registry.sync.importing import (
    ImportReport,
    IncomingFile,
    import_files,
    propose_import,
    screen,
)

SLICE = 100


def queue_import(upload, author, *, skip_rejected: bool, as_change: bool = False) -> ImportJob:
    """An ImportJob holding upload's files. The caller queues its task in the same transaction."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, incoming in enumerate(upload.files):
            if not incoming.refused:
                # Numbered: a path may come twice, and screening says so.
                archive.writestr(f"{index}", incoming.data)
    return ImportJob.objects.create(
        author=author,
        source=upload.source[:1000],
        skip_rejected=skip_rejected,
        as_change=as_change,
        payload=buffer.getvalue(),
        refused=[[incoming.path, incoming.refused] for incoming in upload.files],
        ignored=upload.ignored,
        other_files=upload.other_files,
        total=len(upload.files),
    )


def _files(job: ImportJob) -> list[IncomingFile]:
    files = []
    with zipfile.ZipFile(io.BytesIO(bytes(job.payload))) as archive:
        for index, (path, refused) in enumerate(job.refused):
            if refused:
                files.append(IncomingFile(path, refused=refused))
            else:
                files.append(IncomingFile(path, archive.read(f"{index}")))
    return files


def run(job_id: int) -> dict:
    job = ImportJob.objects.get(pk=job_id)
    if job.state == ImportJob.State.DONE:
        return job.report
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING, done=0, error="")
    if job.as_change:
        return _propose(job)
    try:
        report = _import(job)
    except Exception as error:
        job.finish(ImportJob.State.FAILED, error=f"{type(error).__name__}: {error}"[:2000])
        raise
    job.finish(ImportJob.State.DONE, report=as_dict(report), payload=b"", done=job.total)
    AuditEvent.record(
        "import",
        actor=job.author,
        source=f"upload: {job.source}"[:1000],
        job=job.pk,
        **report.audit_details(),
    )
    return as_dict(report)


def _propose(job: ImportJob) -> dict:
    """The upload's files as one change set for review (propose_import), in one transaction:
    a set is made whole or not at all."""
    try:
        with transaction.atomic():
            report, change = propose_import(
                _files(job),
                job.author,
                f"Upload: {job.source}"[:500],
                skip_rejected=job.skip_rejected,
            )
    except ValidationError as refusal:
        job.finish(
            ImportJob.State.FAILED,
            error=("Nothing was proposed: " + " ".join(refusal.messages) + ".")[:2000],
        )
        return {"refused": refusal.messages}
    except Exception as error:
        job.finish(ImportJob.State.FAILED, error=f"{type(error).__name__}: {error}"[:2000])
        raise
    job.finish(
        ImportJob.State.DONE, report=as_dict(report), payload=b"", done=job.total, change=change
    )
    if change is not None:
        AuditEvent.record(
            "import.propose",
            actor=job.author,
            source=f"upload: {job.source}"[:1000],
            job=job.pk,
            change=change.pk,
        )
    return {**as_dict(report), "change": change.pk if change else None}


def _import(job: ImportJob) -> ImportReport:
    files = _files(job)
    accepted, rejected = screen(files)
    report = ImportReport(rejected=rejected)
    if rejected and not job.skip_rejected:
        return report
    paths = {path for path, _, _ in accepted}
    take = [incoming for incoming in files if not incoming.refused and incoming.path in paths]
    done = len(files) - len(take)
    for start in range(0, len(take), SLICE):
        part = import_files(
            take[start : start + SLICE],
            job.author,
            skip_rejected=True,
            message=f"Imported from an upload: {job.source}"[:500],
        )
        for name in ("created", "updated", "unchanged", "conflicts", "with_errors"):
            getattr(report, name).extend(getattr(part, name))
        report.rejected += part.rejected
        report.stored = True
        done += len(take[start : start + SLICE])
        ImportJob.objects.filter(pk=job.pk).update(done=done)
    return report


def as_dict(report: ImportReport) -> dict:
    return {
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "conflicts": report.conflicts,
        "rejected": [list(pair) for pair in report.rejected],
        "with_errors": report.with_errors,
        "stored": report.stored,
    }


def from_dict(data: dict) -> ImportReport:
    return ImportReport(
        created=data["created"],
        updated=data["updated"],
        unchanged=data["unchanged"],
        conflicts=data["conflicts"],
        rejected=[tuple(pair) for pair in data["rejected"]],
        with_errors=data["with_errors"],
        stored=data["stored"],
    )
