"""An upload of more than 200 files is imported by a worker; its page shows the progress, then
the same report an import in the request gives."""

import pytest
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from registry.models import Agent, AuditEvent, ImportJob
from registry.sync import background_import
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import CORPUS, tree
from tests.test_tasks_page import run_one
from tests.test_transfer import post, stored, zip_of

pytestmark = pytest.mark.django_db

COLLECTION = "wshobson__agents"


def collection() -> dict[str, bytes]:
    """202 real agent files, by their paths in their repository."""
    files = {path: data for path, data in tree(CORPUS / COLLECTION).items() if path.endswith(".md")}
    assert len(files) > 200
    return files


def upload(client, files, captured, **options):
    with captured(execute=True):
        return post(client, [zip_of(files)], **options)


def test_a_large_upload_is_imported_by_a_worker_and_its_page_follows_it(
    maintainer_client, django_capture_on_commit_callbacks
):
    files = collection()

    response = upload(maintainer_client, files, django_capture_on_commit_callbacks)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/import/jobs/{job.pk}/"
    assert Agent.objects.count() == 0  # nothing in the request
    page = maintainer_client.get(response["Location"]).text
    assert f"0 of {len(files)} files" in page
    assert 'hx-trigger="every 1s"' in page

    result = run_one(DBTaskResult.objects.get(status=TaskResultStatus.READY))

    assert result.status == TaskResultStatus.SUCCESSFUL
    assert stored() == files
    job.refresh_from_db()
    assert (job.state, job.done, bytes(job.payload)) == (ImportJob.State.DONE, len(files), b"")
    fragment = maintainer_client.get(f"/import/jobs/{job.pk}/", headers={"HX-Request": "true"})
    assert f"{len(files)} created, 0 updated, 0 unchanged, 0 conflicts, 0 rejected" in fragment.text
    assert "every 1s" not in fragment.text
    event = AuditEvent.objects.get(action="import")
    assert (event.details["created"], event.details["job"]) == (len(files), job.pk)
    tasks = maintainer_client.get("/tasks/").text
    assert f"{len(files)} created, 0 updated" in tasks
    assert f'href="/import/jobs/{job.pk}/">Import #{job.pk}</a>' in tasks


def test_a_rejected_file_in_a_large_upload_stores_nothing(
    maintainer_client, django_capture_on_commit_callbacks
):
    files = {**collection(), "latin.md": b"---\nname: caf\xe9\n---\n"}
    upload(maintainer_client, files, django_capture_on_commit_callbacks)

    run_one(DBTaskResult.objects.get(status=TaskResultStatus.READY))

    assert Agent.objects.count() == 0
    page = maintainer_client.get(f"/import/jobs/{ImportJob.objects.get().pk}/").text
    assert "Nothing was stored because files were rejected" in page
    assert "latin.md" in page


def test_skipping_rejected_files_stores_the_others(
    maintainer_client, django_capture_on_commit_callbacks
):
    files = collection()
    upload(
        maintainer_client,
        {**files, "latin.md": b"---\nname: caf\xe9\n---\n"},
        django_capture_on_commit_callbacks,
        skip_rejected="on",
    )

    run_one(DBTaskResult.objects.get(status=TaskResultStatus.READY))

    assert stored() == files


def test_a_job_that_died_half_way_is_run_again_without_storing_anything_twice(
    maintainer_client, django_capture_on_commit_callbacks
):
    files = collection()
    upload(maintainer_client, files, django_capture_on_commit_callbacks)
    job = ImportJob.objects.get()
    # The worker stored the first slice, then died.
    first = dict(list(files.items())[: background_import.SLICE])
    import_files([IncomingFile(path, data) for path, data in first.items()])
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.FAILED)

    report = background_import.run(job.pk)

    assert stored() == files
    assert set(Agent.objects.values_list("live_version__number", flat=True)) == {1}
    assert sorted(report["unchanged"]) == sorted(first)
    assert len(report["created"]) == len(files) - len(first)


def test_a_dry_run_of_many_files_answers_at_once(maintainer_client):
    files = collection()

    page = post(maintainer_client, [zip_of(files)], dry_run="on").text

    assert f"Dry run: {len(files)} created" in page
    assert ImportJob.objects.count() == 0


def test_only_maintainers_see_an_import_job(client, make_user, maintainer):
    job = ImportJob.objects.create(author=maintainer, source="x.zip", total=1)
    client.force_login(make_user("ed", "Editors"))

    assert client.get(f"/import/jobs/{job.pk}/").status_code == 403


def test_a_large_upload_proposed_for_review_is_made_a_change_set_by_a_worker(
    maintainer_client, django_capture_on_commit_callbacks
):
    from registry.models import ChangeRequest

    files = collection()

    response = upload(maintainer_client, files, django_capture_on_commit_callbacks, as_change="on")

    job = ImportJob.objects.get()
    assert response["Location"] == f"/import/jobs/{job.pk}/"
    assert job.as_change
    assert not ChangeRequest.objects.exists()  # nothing in the request

    result = run_one(DBTaskResult.objects.get(status=TaskResultStatus.READY))

    assert result.status == TaskResultStatus.SUCCESSFUL
    job.refresh_from_db()
    change = job.change
    assert (change.kind, change.items.count()) == ("set", len(files))
    assert result.return_value["change"] == change.pk
    assert Agent.objects.count() == 0  # nothing stored until it is approved
    page = maintainer_client.get(f"/import/jobs/{job.pk}/").text
    assert f'<a href="/changes/{change.pk}/">Change #{change.pk}</a> proposes' in page
    assert AuditEvent.objects.get(action="import.propose").details["change"] == change.pk
