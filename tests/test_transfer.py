"""Agent files in the browser: uploading .md files or a .zip to import, and downloading every
live agent as a .zip that unpacks to what export_agents writes."""

import io
import stat
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from registry.models import Agent, AuditEvent, Version
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import CORPUS, DEMO, DEMO_NAMES, NOT_TEXT, agent_text, run, tree

pytestmark = pytest.mark.django_db

SUBSET = "SuperClaude-Org__SuperClaude_Framework"


def md(name: str, data: bytes | str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data.encode() if isinstance(data, str) else data)


def zip_of(members: dict[str, bytes | str], name: str = "agents.zip") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in members.items():
            archive.writestr(path, data)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/zip")


def demo_uploads() -> list[SimpleUploadedFile]:
    return [md(f"{name}.md", (DEMO / f"{name}.md").read_bytes()) for name in DEMO_NAMES]


def subset_files() -> dict[str, bytes]:
    """The SuperClaude agents of the corpus, by their paths in that repository."""
    return {path: data for path, data in tree(CORPUS / SUBSET).items() if path.endswith(".md")}


def post(client, files, **options):
    return client.post("/import/", {"files": files, **options})


def stored() -> dict[str, bytes]:
    return {
        path: text.encode("utf-8")
        for path, text in Agent.objects.values_list("path", "live_version__text")
    }


# --- Uploading .md files ------------------------------------------------------------------------


def test_uploaded_files_create_agents_byte_for_byte(maintainer_client):
    response = post(maintainer_client, demo_uploads())

    page = response.content.decode()
    assert response.status_code == 200
    assert stored() == {f"{name}.md": (DEMO / f"{name}.md").read_bytes() for name in DEMO_NAMES}
    assert "3 created, 0 updated, 0 unchanged, 0 conflicts, 0 rejected, 0 with errors" in page
    for name in DEMO_NAMES:
        assert f'href="/agents/{name}/"' in page
    assert Version.objects.filter(author__username="maintainer").count() == 3


def test_a_folder_puts_the_files_under_it(maintainer_client):
    post(maintainer_client, demo_uploads(), folder=".claude/agents/")

    assert sorted(stored()) == [f".claude/agents/{name}.md" for name in sorted(DEMO_NAMES)]


@pytest.mark.parametrize("folder", ["../up", "/etc", "a/../../b", ".git/hooks", "a\\b"])
def test_a_folder_outside_the_repository_is_refused(maintainer_client, folder):
    response = post(maintainer_client, demo_uploads(), folder=folder)

    assert response.status_code == 400
    assert "Give a folder inside the repository" in response.content.decode()
    assert not Agent.objects.exists()


def test_a_second_upload_of_the_same_files_changes_nothing(maintainer_client):
    post(maintainer_client, demo_uploads())

    page = post(maintainer_client, demo_uploads()).content.decode()

    assert "0 created, 0 updated, 3 unchanged" in page
    assert Version.objects.count() == 3


def test_a_changed_file_makes_a_new_version(maintainer_client):
    post(maintainer_client, [md("agent-one.md", agent_text())])

    page = post(
        maintainer_client, [md("agent-one.md", agent_text(description="Now better."))]
    ).content.decode()

    assert "0 created, 1 updated" in page
    assert Agent.objects.get().live_version.number == 2


def test_a_rejected_file_stores_nothing_and_the_report_says_why(maintainer_client):
    data, reason = NOT_TEXT["latin-1"]

    response = post(maintainer_client, [*demo_uploads(), md("latin.md", data)])

    page = response.content.decode()
    assert response.status_code == 200
    assert not Agent.objects.exists()
    assert "Nothing was stored because files were rejected" in page
    assert "latin.md" in page
    assert reason in page


def test_skip_rejected_stores_the_other_files(maintainer_client):
    data, reason = NOT_TEXT["nul"]

    page = post(
        maintainer_client, [*demo_uploads(), md("nul.md", data)], skip_rejected="on"
    ).content.decode()

    assert sorted(stored()) == sorted(f"{name}.md" for name in DEMO_NAMES)
    assert "3 created" in page and "1 rejected" in page
    assert reason in page
    assert "Nothing was stored" not in page


def test_a_file_over_the_size_limit_is_rejected(maintainer_client):
    data, reason = NOT_TEXT["five-mb"]

    page = post(maintainer_client, [md("huge.md", data)]).content.decode()

    assert reason in page
    assert not Agent.objects.exists()


def test_a_file_with_problems_is_stored_and_listed_with_errors(maintainer_client):
    page = post(maintainer_client, [md("broken.md", "# No frontmatter\n")]).content.decode()

    agent = Agent.objects.get()
    assert agent.error_count > 0
    assert "1 with errors" in page
    assert f'href="/agents/{agent.key}/"' in page


def test_a_conflict_is_reported_and_not_overwritten(maintainer_client):
    import_files([IncomingFile("agent-one.md", agent_text().encode())])
    agent = Agent.objects.get()
    agent.add_version(agent_text(description="Edited in the registry."))

    page = post(
        maintainer_client, [md("agent-one.md", agent_text(description="Edited in the repo."))]
    ).content.decode()

    assert "1 conflicts" in page
    assert "Edited in the registry." in Agent.objects.get().live_version.text


def test_dry_run_stores_nothing_and_reports_what_would_happen(maintainer_client):
    response = post(maintainer_client, demo_uploads(), dry_run="on")

    page = response.content.decode()
    assert not Agent.objects.exists()
    assert "Dry run: 3 created" in page
    assert "Nothing was stored: this is what an import would do" in page
    assert not AuditEvent.objects.filter(action="import").exists()


def test_the_import_is_audited_with_its_counts_and_actor(maintainer_client, maintainer):
    data, _ = NOT_TEXT["utf-16"]
    post(maintainer_client, [*demo_uploads(), md("wide.md", data)], skip_rejected="on")

    event = AuditEvent.objects.get(action="import")
    assert event.actor == maintainer
    assert event.details["created"] == 3
    assert event.details["rejected"] == ["wide.md"]
    assert event.details["stored"] is True
    assert event.details["source"].startswith("upload: ")


def test_the_same_name_twice_is_refused(maintainer_client):
    page = post(
        maintainer_client, [md("a.md", agent_text("a")), md("a.md", agent_text("a"))]
    ).content.decode()

    assert "more than one uploaded file has this path" in page
    assert not Agent.objects.exists()


# --- Uploading a zip ----------------------------------------------------------------------------


def test_a_zip_of_part_of_the_corpus_creates_its_agents_byte_for_byte(maintainer_client):
    files = subset_files()

    page = post(maintainer_client, [zip_of(files)]).content.decode()

    assert stored() == files
    assert f"{len(files)} created, 0 updated, 0 unchanged, 0 conflicts, 0 rejected" in page


def test_a_zip_keeps_its_paths_under_the_folder(maintainer_client):
    post(maintainer_client, [zip_of({"team/agent-one.md": agent_text()})], folder="agents")

    assert list(stored()) == ["agents/team/agent-one.md"]


def test_other_members_of_a_zip_are_left_out(maintainer_client):
    page = post(
        maintainer_client,
        [zip_of({"agent-one.md": agent_text(), "LICENSE": "MIT", "img/logo.png": b"\x89PNG"})],
    ).content.decode()

    assert list(stored()) == ["agent-one.md"]
    assert "2 files that are not .md" in page


@pytest.mark.parametrize(
    "member",
    ["../escape.md", "team/../../escape.md", "/etc/escape.md", "C:/escape.md", "a\\..\\b.md"],
)
def test_a_zip_member_outside_the_folder_is_rejected(maintainer_client, member):
    page = post(
        maintainer_client, [zip_of({"agent-one.md": agent_text(), member: agent_text("x")})]
    ).content.decode()

    assert not Agent.objects.exists()
    assert "Nothing was stored because files were rejected" in page
    assert "1 rejected" in page


def test_a_symlink_member_is_rejected(maintainer_client):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("agent-one.md", agent_text())
        link = zipfile.ZipInfo("linked.md")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")

    page = post(
        maintainer_client, [SimpleUploadedFile("agents.zip", buffer.getvalue())]
    ).content.decode()

    assert not Agent.objects.exists()
    assert "linked.md" in page
    assert "is a symlink; not followed" in page


def test_members_inside_git_are_ignored(maintainer_client):
    page = post(
        maintainer_client,
        [zip_of({"agent-one.md": agent_text(), ".git/hooks/evil.md": "x", "a/.git/b.md": "y"})],
    ).content.decode()

    assert list(stored()) == ["agent-one.md"]
    assert "1 created" in page
    assert "2 .md files inside .git or __MACOSX" in page


def test_a_zip_with_only_git_members_has_nothing_to_import(maintainer_client):
    response = post(maintainer_client, [zip_of({".git/a.md": agent_text()})])

    assert response.status_code == 400
    assert "holds no .md files outside .git" in response.content.decode()


def test_the_same_path_twice_in_a_zip_is_refused(maintainer_client):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("agent-one.md", agent_text())
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("agent-one.md", agent_text(description="Another."))

    page = post(
        maintainer_client, [SimpleUploadedFile("agents.zip", buffer.getvalue())]
    ).content.decode()

    assert not Agent.objects.exists()
    assert "more than one uploaded file has this path" in page


def test_a_member_over_the_size_limit_is_rejected_without_reading_it_all(maintainer_client):
    data, reason = NOT_TEXT["five-mb"]

    page = post(maintainer_client, [zip_of({"huge.md": data})]).content.decode()

    assert reason in page
    assert not Agent.objects.exists()


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("agents.zip", b"this is not a zip"), "is not a zip file"),
        (SimpleUploadedFile("agents.zip", b""), "agents.zip is empty"),
        (SimpleUploadedFile("empty.md", b""), "empty.md is empty"),
        (SimpleUploadedFile("notes.txt", b"hello"), "Only .md files, or one .zip"),
    ],
    ids=["not-a-zip", "empty-zip", "empty-md", "not-markdown"],
)
def test_a_bad_upload_gets_a_clear_message(maintainer_client, upload, message):
    response = post(maintainer_client, [upload])

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Agent.objects.exists()


def test_a_damaged_zip_gets_a_clear_message(maintainer_client):
    whole = zip_of(subset_files()).read()

    response = post(maintainer_client, [SimpleUploadedFile("agents.zip", whole[: len(whole) // 2])])

    assert response.status_code == 400
    assert "is not a zip file, or it is damaged" in response.content.decode()


def test_a_zip_without_markdown_has_nothing_to_import(maintainer_client):
    response = post(maintainer_client, [zip_of({"README.txt": "hello"})])

    assert response.status_code == 400
    assert "holds no .md files: nothing to import" in response.content.decode()


def test_no_file_chosen_gets_a_clear_message(maintainer_client):
    response = maintainer_client.post("/import/", {"folder": ""})

    assert response.status_code == 400
    assert "Choose one or more .md files, or one .zip." in response.content.decode()


def test_a_zip_with_md_files_beside_it_is_refused(maintainer_client):
    response = post(maintainer_client, [zip_of({"a.md": agent_text("a")}), md("b.md", "x")])

    assert response.status_code == 400
    assert "Upload one .zip on its own" in response.content.decode()


def test_a_zip_bomb_is_refused_before_it_is_unpacked(maintainer_client, settings):
    settings.REGISTRY_MAX_UNPACKED_BYTES = 1024 * 1024
    bomb = {f"agent-{number}.md": b"a" * 200_000 for number in range(10)}

    response = post(maintainer_client, [zip_of(bomb)])

    assert response.status_code == 400
    assert "unpack to 1.9 MiB; at most 1.0 MiB" in response.content.decode()


def test_a_zip_with_too_many_members_is_refused(maintainer_client, settings):
    settings.REGISTRY_MAX_ZIP_MEMBERS = 5

    response = post(maintainer_client, [zip_of({f"{n}.md": "x" for n in range(6)})])

    assert response.status_code == 400
    assert "holds 6 entries; at most 5 are read" in response.content.decode()


def test_an_upload_over_the_limit_is_refused_before_it_is_read(maintainer_client, settings):
    settings.REGISTRY_MAX_UPLOAD_BYTES = 100_000

    response = post(maintainer_client, [md("big.md", b"x" * 150_000)])

    assert response.status_code == 413
    assert (
        "The upload is 147 KiB; at most 98 KiB can be uploaded at once" in response.content.decode()
    )
    assert not Agent.objects.exists()


def test_too_many_files_at_once_get_a_clear_message(maintainer_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2

    response = post(maintainer_client, demo_uploads())

    assert response.status_code == 400
    assert "At most 2 files can be uploaded at once" in response.content.decode()


# --- Who may import -----------------------------------------------------------------------------


@pytest.mark.parametrize("groups", [(), ("Editors",), ("Reviewers",), ("Editors", "Reviewers")])
def test_only_maintainers_may_import(client, make_user, groups):
    client.force_login(make_user("someone", *groups))

    page = client.get("/import/")
    posted = post(client, demo_uploads())

    assert page.status_code == 403
    assert posted.status_code == 403
    assert not Agent.objects.exists()
    assert AuditEvent.objects.filter(action="import.denied").count() == 2
    assert 'href="/import/"' not in client.get("/agents/").content.decode()


def test_maintainers_find_the_page_in_the_header(maintainer_client):
    page = maintainer_client.get("/agents/").content.decode()

    assert 'href="/import/"' in page
    assert 'href="/export.zip"' in page


def test_the_import_form_needs_the_csrf_token(maintainer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(maintainer)

    response = post(client, demo_uploads())

    assert response.status_code == 403
    assert not Agent.objects.exists()


def test_the_import_form_has_labels_and_a_token(maintainer_client):
    page = maintainer_client.get("/import/").content.decode()

    assert 'enctype="multipart/form-data"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert 'type="file" name="files"' in page and "multiple" in page
    for field in ("files", "folder", "dry_run", "skip_rejected"):
        assert f'for="id_{field}"' in page


@pytest.mark.parametrize("url", ["/import/", "/export.zip", "/graph/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_an_anonymous_upload_is_sent_to_sign_in(client):
    response = post(client, demo_uploads())

    assert response.status_code == 302
    assert not Agent.objects.exists()


# --- Downloading every agent as a zip -----------------------------------------------------------


def download(client) -> bytes:
    response = client.get("/export.zip")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


@pytest.fixture
def registry_with_agents():
    """The corpus subset and the demo agents, one of them edited, one archived."""
    files = [IncomingFile(path, data) for path, data in subset_files().items()]
    files += [
        IncomingFile(f"demo/{name}.md", (DEMO / f"{name}.md").read_bytes()) for name in DEMO_NAMES
    ]
    import_files(files)
    edited = Agent.objects.get(path="demo/backend-architect.md")
    edited.add_version(edited.live_version.text.replace("\n", "\r\n"), None, "CRLF now")
    Agent.objects.filter(path="demo/security-engineer.md").update(archived=True)


def test_the_zip_unpacks_to_what_export_agents_writes(
    client, make_user, registry_with_agents, tmp_path
):
    client.force_login(make_user("reader"))  # any signed-in user may download
    data = download(client)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(tmp_path / "unzipped")
    code, _, _ = run("export_agents", tmp_path / "exported")

    exported = tree(tmp_path / "exported")
    assert code == 0
    assert tree(tmp_path / "unzipped") == exported
    assert "demo/security-engineer.md" not in exported
    assert exported["demo/backend-architect.md"].count(b"\r\n") > 10


def test_the_zip_is_the_same_bytes_for_the_same_registry(maintainer_client, registry_with_agents):
    first = download(maintainer_client)

    assert download(maintainer_client) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        members = archive.infolist()
    assert [member.filename for member in members] == sorted(m.filename for m in members)
    assert {member.compress_type for member in members} == {zipfile.ZIP_DEFLATED}
    assert {member.date_time for member in members} == {(1980, 1, 1, 0, 0, 0)}


def test_the_download_is_named_after_the_day(maintainer_client, registry_with_agents):
    response = maintainer_client.get("/export.zip")

    today = timezone.localdate().strftime("%Y%m%d")
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="agents-{today}.zip"'
    assert int(response["Content-Length"]) == len(b"".join(response.streaming_content))


def test_a_download_does_not_count_as_a_sync(maintainer_client, registry_with_agents):
    before = dict(Agent.objects.values_list("pk", "synced_hash"))

    download(maintainer_client)

    assert dict(Agent.objects.values_list("pk", "synced_hash")) == before
    assert AuditEvent.objects.filter(action="export.download").exists()


def test_an_empty_registry_downloads_an_empty_zip(maintainer_client):
    with zipfile.ZipFile(io.BytesIO(download(maintainer_client))) as archive:
        assert archive.namelist() == []


def test_the_agent_list_links_the_download(client, make_user):
    client.force_login(make_user("reader"))

    page = client.get("/agents/").content.decode()

    assert 'href="/export.zip"' in page
    assert "Download all (.zip)" in page


# --- Uploading as one change request ------------------------------------------------------------


def test_an_upload_as_a_change_request_stores_nothing_until_approved(maintainer_client):
    from registry.models import ChangeRequest

    post(
        maintainer_client,
        [
            md("agent-one.md", agent_text()),
            md("other-agent.md", agent_text("other-agent", delegate_to="- **agent-one** — x\n")),
        ],
    )
    changed = agent_text(description="Now better.")
    new = agent_text("third-agent", delegate_to="- **agent-one** — x\n")
    response = post(
        maintainer_client,
        [
            md("agent-one.md", changed),
            md("other-agent.md", stored()["other-agent.md"]),
            md("third-agent.md", new),
        ],
        as_change="on",
    )
    change = ChangeRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/changes/{change.pk}/"
    assert change.kind == ChangeRequest.Kind.SET
    assert {item.path: item.text for item in change.items.all()} == {
        "agent-one.md": changed,
        "third-agent.md": new,
    }
    assert Agent.objects.get(path="agent-one.md").live_version.number == 1
    assert not Agent.objects.filter(path="third-agent.md").exists()


def test_an_upload_as_a_change_request_with_a_taken_name_proposes_nothing(maintainer_client):
    from registry.models import ChangeRequest

    post(maintainer_client, [md("agent-one.md", agent_text())])
    response = post(maintainer_client, [md("copy.md", agent_text())], as_change="on")
    assert response.status_code == 400
    assert "Nothing was proposed" in response.content.decode()
    assert not ChangeRequest.objects.exists()


def test_the_import_page_offers_a_change_request(maintainer_client):
    page = maintainer_client.get("/import/").content.decode()
    assert 'name="as_change"' in page
