"""Paths too long for a repository, or not text, are refused at every way in, named in the
reason; export checks every stored path before it writes, so it never stops half-way."""

import io
import os
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape

from registry.models import Agent, text_hash
from registry.sync import drift
from registry.sync.files import UnsafePath, clean_relative_path
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text, run, tree

TEXT = agent_text()
# The zip member of the finding: 5,034 characters, its file name 303.
FOLDERS = "/".join(["f" * 99] * 47)  # 4,699 characters
LONG_ZIP_PATH = f"{FOLDERS}/{'n' * 30}/{'x' * 300}.md"
# A path longer than the column (1,024), of names the file system takes.
DEEP_PATH = "/".join(["d" * 200] * 6) + "/deep.md"
# A name within 255 characters but not within 255 bytes.
WIDE_NAME = "é" * 200 + ".md"  # 403 bytes
NOT_UTF8_NAME = os.fsdecode(b"caf\xe9.md")  # as os.walk reads it


def zip_of(members: dict[str, str]) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in members.items():
            archive.writestr(path, data)
    return SimpleUploadedFile("agents.zip", buffer.getvalue(), content_type="application/zip")


# --- The rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "said"),
    [
        (LONG_ZIP_PATH, "is 5,034 characters long; a path may have at most 1,024"),
        (DEEP_PATH, f"is {len(DEEP_PATH):,} characters long; a path may have at most 1,024"),
        ("a/" + "n" * 256 + ".md", "is 259 bytes long; a file or folder name may have at most 255"),
        (f"a/{WIDE_NAME}", "is 403 bytes long; a file or folder name may have at most 255"),
        ("é" * 128 + "/a.md", "is 256 bytes long; a file or folder name may have at most 255"),
        (NOT_UTF8_NAME, "'caf\ufffd.md' is not a UTF-8 file name"),
    ],
    ids=["zip-path", "deep", "long-name", "wide-name", "wide-folder", "not-utf8"],
)
def test_path_too_long_or_not_text_is_refused_naming_it_shortened(path, said):
    with pytest.raises(UnsafePath) as refused:
        clean_relative_path(path)

    message = str(refused.value)
    assert said in message
    assert len(message) < 400
    assert path.split("/")[0][:30] in message or "caf" in message


@pytest.mark.parametrize(
    "path",
    ["/".join(["d" * 254] * 4) + "/" + "e" * 1 + ".md", "n" * 252 + ".md", "é" * 125 + "xy.md"],
    ids=["1,024-characters", "255-bytes", "255-bytes-wide"],
)
def test_path_at_the_limits_is_taken(path):
    assert len(path) <= 1024
    assert clean_relative_path(path) == path


# --- Import: the command, the upload, a zip -------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", [LONG_ZIP_PATH, DEEP_PATH, f"a/{WIDE_NAME}"])
def test_import_refuses_a_long_path_and_stores_nothing(path):
    report = import_files(
        [IncomingFile("agents/agent-one.md", TEXT.encode()), IncomingFile(path, TEXT.encode())]
    )

    ((rejected, reason),) = report.rejected
    assert rejected == path and "long" in reason
    assert not Agent.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", [LONG_ZIP_PATH, DEEP_PATH, f"a/{WIDE_NAME}"])
def test_import_skipping_rejected_stores_the_others(path):
    # On PostgreSQL a path over the column's length would fail the whole transaction.
    report = import_files(
        [IncomingFile("agents/agent-one.md", TEXT.encode()), IncomingFile(path, TEXT.encode())],
        skip_rejected=True,
    )

    assert [rejected for rejected, _ in report.rejected] == [path]
    assert list(Agent.objects.values_list("path", flat=True)) == ["agents/agent-one.md"]


@pytest.mark.django_db
def test_import_agents_refuses_a_deep_path_and_a_name_not_utf8(tmp_path):
    folder = tmp_path / "repo"
    (folder / Path(DEEP_PATH).parent).mkdir(parents=True)
    (folder / DEEP_PATH).write_text(TEXT)
    (folder / "agent-one.md").write_text(TEXT)
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.md"), "wb") as handle:
        handle.write(agent_text("cafe").encode())

    status, out, err = run("import_agents", folder)

    assert status == 1
    assert "characters long; a path may have at most 1,024" in err
    assert "'caf\ufffd.md' is not a UTF-8 file name" in err
    assert "Nothing was stored" in out
    assert not Agent.objects.exists()

    status, out, err = run("import_agents", folder, "--skip-rejected")

    assert status == 1
    assert list(Agent.objects.values_list("path", flat=True)) == ["agent-one.md"]


@pytest.fixture
def maintainer_browser(maintainer):
    client = Client(raise_request_exception=False)
    client.force_login(maintainer)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("skip_rejected", [False, True])
def test_upload_of_a_zip_with_the_long_path_rejects_it_by_name(maintainer_browser, skip_rejected):
    upload = zip_of({LONG_ZIP_PATH: TEXT, "agents/agent-one.md": TEXT})
    options = {"skip_rejected": "on"} if skip_rejected else {}

    response = maintainer_browser.post("/import/", {"files": [upload], **options})

    assert response.status_code == 200
    page = response.content.decode()
    assert "0 conflicts, 1 rejected" in page
    assert escape("is 5,034 characters long; a path may have at most 1,024") in page
    stored = list(Agent.objects.values_list("path", flat=True))
    assert stored == (["agents/agent-one.md"] if skip_rejected else [])


@pytest.mark.django_db
def test_upload_of_a_file_whose_name_is_too_wide_rejects_it(maintainer_browser):
    files = [
        SimpleUploadedFile(WIDE_NAME, TEXT.encode()),
        SimpleUploadedFile("other.md", agent_text("other-agent").encode()),
    ]

    response = maintainer_browser.post("/import/", {"files": files, "skip_rejected": "on"})

    assert response.status_code == 200
    assert escape("is 403 bytes long; a file or folder name may have at most 255") in (
        response.content.decode()
    )
    assert list(Agent.objects.values_list("path", flat=True)) == ["other.md"]


@pytest.mark.django_db
def test_upload_under_a_folder_that_makes_the_path_too_long_rejects_it(maintainer_browser):
    folder = "/".join(["d" * 200] * 2)  # 401 characters: the folder field takes 500
    upload = zip_of({"/".join(["e" * 200] * 4) + "/agent.md": TEXT})  # 809 characters

    response = maintainer_browser.post("/import/", {"files": [upload], "folder": folder})

    assert response.status_code == 200
    assert escape("characters long; a path may have at most 1,024") in response.content.decode()
    assert not Agent.objects.exists()


@pytest.mark.django_db
def test_upload_folder_with_a_name_too_wide_is_refused_saying_so(maintainer_browser):
    files = [SimpleUploadedFile("agent-one.md", TEXT.encode())]

    response = maintainer_browser.post("/import/", {"files": files, "folder": "é" * 130})

    assert response.status_code == 400
    assert escape("The folder is too long: the name") in response.content.decode()
    assert "is 260 bytes long" in response.content.decode()
    assert not Agent.objects.exists()


# --- Drift ------------------------------------------------------------------------------------


@pytest.fixture
def repository(tmp_path, settings):
    """A configured repository holding a path too long to import and a name not UTF-8."""
    folder = tmp_path / "repo"
    (folder / Path(DEEP_PATH).parent).mkdir(parents=True)
    (folder / DEEP_PATH).write_text(TEXT)
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.md"), "wb") as handle:
        handle.write(TEXT.encode())
    settings.REGISTRY_REPOSITORY_DIR = str(folder)
    return folder


@pytest.mark.django_db
def test_drift_lists_a_path_import_would_refuse_as_unreadable(repository, maintainer_browser):
    entries = {entry.path: entry for entry in drift.compare(repository).entries}

    assert entries[DEEP_PATH].state == drift.UNREADABLE
    assert "a path may have at most 1,024" in entries[DEEP_PATH].reason
    assert entries["caf\ufffd.md"].state == drift.UNREADABLE
    response = maintainer_browser.get("/drift/")
    assert response.status_code == 200
    assert 'action="/drift/import/"' not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("path", [DEEP_PATH, LONG_ZIP_PATH, "a/" + "n" * 300 + ".md"])
def test_drift_import_of_a_long_path_is_refused_naming_it(repository, maintainer_browser, path):
    response = maintainer_browser.post(
        "/drift/import/", {"path": path, "sha256": text_hash(TEXT)}, follow=True
    )

    assert response.status_code == 200
    assert "Not imported: " in response.content.decode()
    assert "long; a" in response.content.decode()
    assert not Agent.objects.exists()


# --- Export -----------------------------------------------------------------------------------


def store_with_path(path: str) -> Agent:
    """An agent stored at path as an earlier release let in (no check on its length)."""
    agent = Agent.objects.create(path=path, key=text_hash(path)[:20])
    agent.add_version(agent_text(f"agent-{agent.key[:8]}"), None, "Imported")
    return agent


@pytest.mark.django_db
def test_export_writes_every_other_file_and_refuses_the_long_name(tmp_path):
    for path in ("a.md", f"b/{'n' * 300}.md", "c.md"):
        store_with_path(path)
    target = tmp_path / "out"

    status, out, err = run("export_agents", target)

    assert status == 1
    assert "refused b/" in err and "is 303 bytes long" in err
    assert "2 written, 0 unchanged, 0 removed, 1 refused" in out
    assert sorted(tree(target)) == ["a.md", "c.md"]


@pytest.mark.django_db
def test_export_refuses_a_path_the_file_system_cannot_hold_under_its_folder(tmp_path):
    # Within the rule, but too long with the folder it is written under (PATH_MAX is 4,096).
    path = "/".join(["\U0001d51e" * 62] * 16) + "/x.md"  # 1,012 characters, 3,988 bytes
    for each in ("a.md", path, "z.md"):
        store_with_path(each)
    root = tmp_path / ("r" * 200) / ("s" * 200)

    status, out, err = run("export_agents", root)

    assert status == 1
    assert "1 refused" in out and "File name too long" in err
    assert sorted(tree(root)) == ["a.md", "z.md"]


@pytest.mark.django_db
def test_download_of_all_agents_leaves_out_the_long_name(maintainer_browser):
    for path in ("a.md", f"b/{'n' * 300}.md"):
        store_with_path(path)

    response = maintainer_browser.get("/export.zip")

    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == ["a.md"]
