"""Agents and their immutable versions: numbering, names, keys, import, admin."""

import hashlib
import os
import signal
from concurrent.futures.process import BrokenProcessPool

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry.models import Agent, ImmutableVersionError, Version
from registry.models import deriving as deriving_module
from registry.sync.exporting import export_agents
from registry.sync.importing import PARALLEL_MIN_FILES, IncomingFile, import_files
from tests.helpers import agent_text

pytestmark = pytest.mark.django_db


def stored(path: str, text: str) -> Agent:
    """Import one file, as import_agents would, and return its agent."""
    report = import_files([IncomingFile(path, text.encode())])
    assert not report.rejected
    return Agent.objects.get(path=path)


def codes(agent: Agent) -> list[str]:
    agent.refresh_from_db()
    return [problem["code"] for problem in agent.problems]


@pytest.fixture
def author(django_user_model):
    return django_user_model.objects.create_user(username="editor", password="a-long-password")


@pytest.fixture
def agent():
    return stored("agents/agent-one.md", agent_text())


# --- Versions are immutable -------------------------------------------------------------------


def test_saving_an_existing_version_raises(agent):
    version = Version.objects.get(pk=agent.live_version_id)
    version.text = "changed"

    with pytest.raises(ImmutableVersionError):
        version.save()

    assert Version.objects.get(pk=version.pk).text == agent_text()


def test_saving_a_version_again_unchanged_raises_too(agent):
    with pytest.raises(ImmutableVersionError):
        agent.live_version.save()


def test_deleting_a_version_raises(agent):
    with pytest.raises(ImmutableVersionError):
        agent.live_version.delete()

    assert Version.objects.filter(agent=agent).count() == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda versions: versions.update(text="changed"),
        lambda versions: versions.delete(),
        lambda versions: versions.filter(number=1).update(message="changed"),
    ],
    ids=["update", "delete", "filtered-update"],
)
def test_queryset_update_and_delete_of_versions_raise(agent, change):
    with pytest.raises(ImmutableVersionError):
        change(Version.objects.all())

    assert Version.objects.get().text == agent_text()


def test_agent_with_versions_cannot_be_deleted(agent):
    with pytest.raises(ProtectedError):
        agent.delete()


# --- Numbering, parents, hashes ------------------------------------------------------------


def test_versions_are_numbered_per_agent_and_linked_to_their_parent(agent, author):
    second = agent.add_version(agent_text(description="Second."), author, "second")
    third = agent.add_version(agent_text(description="Third."), author, "third")
    other = stored("agents/other-agent.md", agent_text(name="other-agent"))

    first = Version.objects.get(agent=agent, number=1)
    assert [v.number for v in agent.versions.order_by("number")] == [1, 2, 3]
    assert first.parent is None
    assert second.parent == first
    assert third.parent == second
    assert other.live_version.number == 1
    assert other.live_version.parent is None


def test_version_hash_is_the_sha256_of_its_text(agent):
    text = agent_text(description="Ünïcode — text ✓")

    version = agent.add_version(text)

    assert version.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_add_version_makes_it_live_and_caches_name_description_and_category(agent, author):
    text = agent_text(description="Now better.", extra="category: quality\n")

    version = agent.add_version(text, author, "Improve the description")

    agent.refresh_from_db()
    assert agent.live_version == version
    assert (agent.name, agent.description, agent.category) == (
        "agent-one",
        "Now better.",
        "quality",
    )
    assert version.author == author
    assert version.message == "Improve the description"
    assert version.text == text
    assert version.frontmatter == {
        "name": "agent-one",
        "description": "Now better.",
        "category": "quality",
    }
    assert version.delegations == [["other-agent", version.text.count("\n"), 5, "section"]]
    assert version.name_line == 2


def test_add_version_caches_nothing_from_non_text_values(agent):
    agent.add_version(agent_text(description="[a, b]", extra="category: 5\n"))

    agent.refresh_from_db()
    assert (agent.description, agent.category) == ("", "")


def test_nul_made_by_a_yaml_escape_is_cached_as_a_replacement_character():
    text = agent_text(description='"a\\0b"', extra='"k\\0": "\\0"\n')

    agent = stored("nul.md", text)

    agent.refresh_from_db()
    assert agent.live_version.text == text
    assert agent.description == "a\ufffdb"
    assert agent.live_version.frontmatter["k\ufffd"] == "\ufffd"


def test_add_version_keeps_bom_and_crlf(agent):
    text = "\ufeff" + agent_text(description="Windows.").replace("\n", "\r\n")

    version = agent.add_version(text)

    assert Version.objects.get(pk=version.pk).text == text


def test_add_version_refuses_text_that_is_not_a_valid_file(agent):
    with pytest.raises(ValidationError) as caught:
        agent.add_version(agent_text() + "\x00")

    assert caught.value.code == "nul-byte"
    assert agent.versions.count() == 1


# --- New agents and renames ----------------------------------------------------------------


def test_new_agent_is_stored_at_a_path_built_from_its_name(author, settings):
    settings.REGISTRY_NEW_AGENT_FOLDER = "team/agents"

    created = Agent.create_new(agent_text(name="new-agent"), author)

    assert created.path == "team/agents/new-agent.md"
    assert created.key == "new-agent"
    assert created.live_version.number == 1
    assert created.live_version.author == author
    assert created.live_version.message == "Created"


@pytest.mark.parametrize(("folder", "path"), [("", "new-agent.md"), ("/x/", "x/new-agent.md")])
def test_new_agent_folder_setting_may_be_empty_or_slashed(author, settings, folder, path):
    settings.REGISTRY_NEW_AGENT_FOLDER = folder

    assert Agent.create_new(agent_text(name="new-agent"), author).path == path


def test_new_agent_gets_its_registry_problems(author):
    created = Agent.create_new(agent_text(name="new-agent"), author)

    assert codes(created) == ["delegate-unknown"]
    assert created.error_count == 1


@pytest.mark.parametrize("existing", ["agent-one", "Agent-One"])
def test_new_agent_whose_name_is_taken_ignoring_case_is_refused(author, existing):
    stored("imported/whatever.md", agent_text(name=existing))

    with pytest.raises(ValidationError) as caught:
        Agent.create_new(agent_text(name="agent-one"), author)

    assert caught.value.code == "name-taken"
    assert Agent.objects.count() == 1


@pytest.mark.parametrize(
    "name_line",
    ["name: Brand Guardian", "name: ../../etc/passwd", "name: " + "a" * 65, "name: ''"],
)
def test_new_agent_with_an_invalid_name_is_refused(author, name_line):
    text = agent_text().replace("name: agent-one", name_line)

    with pytest.raises(ValidationError) as caught:
        Agent.create_new(text, author)

    assert caught.value.code == "name-invalid"
    assert Agent.objects.count() == 0
    assert Version.objects.count() == 0


def test_path_is_never_built_from_an_invalid_name():
    with pytest.raises(ValidationError) as caught:
        Agent.path_for_name("../../etc/passwd")

    assert caught.value.code == "name-invalid"


def test_rename_through_add_version_to_a_taken_name_is_refused(agent, author):
    other = stored("agents/other-agent.md", agent_text(name="other-agent"))
    live = other.live_version

    with pytest.raises(ValidationError) as caught:
        other.add_version(agent_text(name="agent-one"), author)

    assert caught.value.code == "name-taken"
    other.refresh_from_db()
    assert other.live_version == live
    assert other.name == "other-agent"
    assert other.versions.count() == 1


def test_rename_through_add_version_to_an_invalid_name_is_refused(agent, author):
    with pytest.raises(ValidationError) as caught:
        agent.add_version(agent_text(name="Agent One"), author)

    assert caught.value.code == "name-invalid"
    assert agent.versions.count() == 1


def test_rename_to_a_free_name_is_allowed(agent, author):
    agent.add_version(agent_text(name="agent-renamed"), author)

    agent.refresh_from_db()
    assert agent.name == "agent-renamed"


def test_editing_an_imported_agent_without_renaming_keeps_its_bad_name(author):
    imported = stored("team/brand.md", agent_text(name="Brand Guardian"))

    imported.add_version(agent_text(name="Brand Guardian", description="Edited."), author)

    imported.refresh_from_db()
    assert imported.description == "Edited."
    assert imported.versions.count() == 2


# --- Import keeps every file ------------------------------------------------------------------


def test_import_stores_duplicate_names_with_an_error_on_both():
    import_files(
        [
            IncomingFile("a/dup-name.md", agent_text(name="dup-name").encode()),
            IncomingFile("b/dup-name.md", agent_text(name="dup-name").encode()),
        ]
    )

    first, second = Agent.objects.order_by("path")
    assert "name-duplicate" in codes(first)
    assert "name-duplicate" in codes(second)
    assert {first.key, second.key} == {"dup-name", "b-dup-name"}


def test_import_stores_names_differing_only_in_case_with_an_error_on_both():
    import_files(
        [
            IncomingFile("lower.md", agent_text(name="agent-x").encode()),
            IncomingFile("upper.md", agent_text(name="Agent-X").encode()),
        ]
    )

    lower, upper = Agent.objects.get(path="lower.md"), Agent.objects.get(path="upper.md")
    assert "name-duplicate" in codes(lower)
    assert "name-duplicate" in codes(upper)
    assert "name-invalid" in codes(upper)
    assert lower.error_count >= 1


@pytest.mark.parametrize(
    ("path", "name", "key"),
    [
        ("team/brand-guardian.md", "Brand Guardian", "team-brand-guardian"),
        ("evil.md", "../../etc/passwd", "evil"),
        ("long.md", "a" * 65, "long"),
    ],
)
def test_import_stores_an_invalid_name_with_an_error_and_a_key_from_the_path(path, name, key):
    agent = stored(path, agent_text(name=f"'{name}'"))

    assert agent.path == path
    assert agent.name == name
    assert agent.key == key
    assert "name-invalid" in codes(agent)


def test_url_key_is_the_name_when_valid_and_free(agent):
    named = stored("folder/whatever.md", agent_text(name="nice-name"))

    assert agent.key == "agent-one"
    assert named.key == "nice-name"


def test_url_keys_stay_unique_when_path_slugs_collide():
    import_files(
        [
            IncomingFile("x/y.md", agent_text(name="Bad One").encode()),
            IncomingFile("x-y.md", agent_text(name="Bad Two").encode()),
            IncomingFile("z/x-y-2.md", agent_text(name="x-y").encode()),
        ]
    )

    keys = list(Agent.objects.values_list("key", flat=True))
    assert len(keys) == len(set(keys)) == 3
    assert set(keys) >= {"x-y", "x-y-2"}


def test_unique_key_derives_from_path_when_the_name_is_taken(agent):
    assert Agent.objects.unique_key("agent-one", "more/agent-one.md") == "more-agent-one"
    assert Agent.objects.unique_key("agent-one", "x.md", exclude=agent) == "agent-one"


def test_refresh_problems_resolves_an_unknown_delegate_once_it_is_imported(agent):
    assert codes(agent) == ["delegate-unknown"]

    stored("agents/other-agent.md", agent_text(name="other-agent", delegate_to="- agent-one\n"))

    assert codes(agent) == []
    assert agent.error_count == 0


def test_refresh_problems_flags_delegates_to_an_archived_agent(agent):
    other = stored("agents/other-agent.md", agent_text(name="other-agent"))
    Agent.objects.filter(pk=other.pk).update(archived=True)

    changed = Agent.objects.refresh_problems()

    assert changed >= 1
    assert codes(agent) == ["delegate-unknown"]
    assert Agent.objects.refresh_problems() == 0


def test_stored_problem_counts_match_the_problems():
    agent = stored("x.md", agent_text(name="Bad Name", extra="color: mauve\nfoo: 1\n"))

    agent.refresh_from_db()
    severities = [problem["severity"] for problem in agent.problems]
    assert agent.error_count == severities.count("error") == 2
    assert agent.warning_count == severities.count("warning") == 2


def test_import_stores_bytes_exactly():
    data = b"\xef\xbb\xbf" + agent_text().replace("\n", "\r\n").encode()

    agent = stored("crlf.md", data.decode("utf-8"))

    assert agent.live_version.text.encode("utf-8") == data


@pytest.mark.parametrize(
    "path", ["../outside.md", "/etc/agent.md", ".git/agent.md", "a\\b.md", "notes.txt", ""]
)
def test_import_rejects_an_unsafe_path_and_stores_nothing(path):
    report = import_files(
        [
            IncomingFile("good.md", agent_text().encode()),
            IncomingFile(path, agent_text(name="other-agent").encode()),
        ]
    )

    assert [rejected for rejected, _ in report.rejected] == [path]
    assert not report.stored
    assert Agent.objects.count() == 0


def test_import_with_skip_rejected_stores_the_rest():
    report = import_files(
        [
            IncomingFile("good.md", agent_text().encode()),
            IncomingFile("link.md", refused="is a symlink; not followed"),
        ],
        skip_rejected=True,
    )

    assert report.rejected == [("link.md", "is a symlink; not followed")]
    assert list(Agent.objects.values_list("path", flat=True)) == ["good.md"]


# --- Admin ----------------------------------------------------------------------------------


def test_agent_and_version_are_in_the_admin():
    assert admin.site.is_registered(Agent)
    assert admin.site.is_registered(Version)


def test_version_admin_grants_no_add_change_or_delete(rf, admin_user, agent):
    request = rf.get("/")
    request.user = admin_user
    version_admin = admin.site._registry[Version]

    assert not version_admin.has_add_permission(request)
    assert not version_admin.has_change_permission(request, agent.live_version)
    assert not version_admin.has_delete_permission(request, agent.live_version)
    assert version_admin.has_view_permission(request, agent.live_version)


@pytest.mark.parametrize("model", ["agent", "version"])
def test_admin_changelists_render(admin_client, agent, model):
    response = admin_client.get(reverse(f"admin:registry_{model}_changelist"))

    assert response.status_code == 200
    assert "agent-one" in response.content.decode()


def test_version_admin_shows_a_version_read_only(admin_client, agent):
    url = reverse("admin:registry_version_change", args=[agent.live_version_id])

    page = admin_client.get(url)
    post = admin_client.post(url, {"message": "changed"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert post.status_code == 403
    assert admin_client.get(reverse("admin:registry_version_add")).status_code == 403
    assert Version.objects.get().message == "Imported"


def _stored_rows():
    """What an import stored, without ids or times: agents with their live versions."""
    return sorted(
        Agent.objects.values_list(
            "path",
            "key",
            "name",
            "description",
            "problems",
            "error_count",
            "warning_count",
            "synced_hash",
            "live_version__number",
            "live_version__text",
            "live_version__problems",
            "live_version__delegations",
            "live_version__frontmatter",
            "live_version__name_line",
        )
    )


def _many_files(count: int) -> list[IncomingFile]:
    files = [
        IncomingFile(
            f"team/agent-{number}.md",
            agent_text(name=f"agent-{number}", delegate_to=f"- **agent-{number + 1}** — next\n")
            .replace("\n", "\r\n" if number % 7 == 0 else "\n")
            .encode(),
        )
        for number in range(count)
    ]
    files.append(IncomingFile("team/dup.md", agent_text(name="agent-3").encode()))
    files.append(IncomingFile("team/bad.md", agent_text(name="Bad Name").encode()))
    return files


class _RolledBack(Exception):
    pass


def test_import_in_worker_processes_stores_what_one_process_stores():
    count = PARALLEL_MIN_FILES + 10
    try:
        with transaction.atomic():
            serial = import_files(_many_files(count))
            expected = _stored_rows()
            raise _RolledBack
    except _RolledBack:
        pass
    assert not Agent.objects.exists()

    parallel = import_files(_many_files(count), workers=2)

    assert parallel.created == serial.created and len(parallel.created) == count + 2
    assert sorted(parallel.with_errors) == sorted(serial.with_errors)
    assert _stored_rows() == expected
    # The last agent delegates to one that does not exist; agent-3's name is taken twice.
    last = Agent.objects.get(path=f"team/agent-{count - 1}.md")
    assert [p["code"] for p in last.problems] == ["delegate-unknown"]
    assert "name-duplicate" in codes(Agent.objects.get(path="team/dup.md"))


def test_reimport_of_changed_files_adds_the_next_version_in_bulk():
    files = [
        IncomingFile(f.path, f.data.replace(b"Does one thing well.", b"Knows quokkas."))
        for f in _many_files(5)
    ]
    import_files(files)
    changed = [
        IncomingFile(f.path, f.data.replace(b"Knows quokkas.", b"Knows wombats.")) for f in files
    ]

    report = import_files(changed)

    assert len(report.updated) == len(files) and not report.created
    for agent in Agent.objects.select_related("live_version"):
        assert agent.live_version.number == 2
        assert agent.live_version.parent.number == 1
        assert agent.description == "Knows wombats."
        assert agent.synced_hash == agent.live_version.sha256
    assert Agent.objects.search("wombats").count() == len(files)
    assert Agent.objects.search("quokkas").count() == 0


def test_import_refuses_the_same_path_given_twice():
    report = import_files(
        [
            IncomingFile("a/b.md", agent_text(name="one").encode()),
            IncomingFile("a/./b.md", agent_text(name="two").encode()),
        ]
    )

    assert report.rejected == [("a/./b.md", "the path a/b.md is given more than once")]
    assert not report.stored and not Agent.objects.exists()


def test_keys_for_a_batch_are_distinct_from_each_other_and_from_stored_ones(agent):
    keys = Agent.objects.unique_keys(
        [("agent-one", "x/agent-one.md"), ("fresh", "a.md"), ("fresh", "b.md"), ("new", "new.md")]
    )

    assert keys == ["x-agent-one", "fresh", "b", "new-2"]


def test_export_records_what_it_synced_so_a_later_edit_in_the_repository_is_a_conflict(
    author, tmp_path
):
    created = Agent.create_new(agent_text(name="fresh-one"), author)
    assert created.synced_hash == ""

    export_agents(tmp_path)

    created.refresh_from_db()
    assert created.synced_hash == created.live_version.sha256
    created.add_version(agent_text(name="fresh-one", description="Changed here."), author)
    path = tmp_path / created.path
    path.write_bytes(path.read_bytes().replace(b"Does one thing well.", b"Changed there."))
    report = import_files([IncomingFile(created.path, path.read_bytes())])
    assert report.conflicts == [created.path]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner and row layout")
def test_after_a_large_import_export_reads_live_hashes_from_the_index_not_the_rows(tmp_path):
    import_files(_many_files(PARALLEL_MIN_FILES + 10))

    with CaptureQueriesContext(connection) as queries:
        export_agents(tmp_path)

    rows = next(query["sql"] for query in queries if '"sha256"' in query["sql"])
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {rows}")
        plan = " ".join(step[-1] for step in cursor.fetchall())
    assert "USING COVERING INDEX version_id_sha256" in plan


_derive = deriving_module._derive


def _die_on_agent_8(text_and_bom):
    """_derive, except that the worker process deriving agent-8 is killed."""
    if "name: agent-8\n" in text_and_bom[0]:
        os.kill(os.getpid(), signal.SIGKILL)
    return _derive(text_and_bom)


def test_a_worker_killed_mid_import_fails_the_import_and_stores_nothing(monkeypatch):
    monkeypatch.setattr(deriving_module, "_derive", _die_on_agent_8)

    with pytest.raises(BrokenProcessPool):
        import_files(_many_files(PARALLEL_MIN_FILES + 10), workers=2)

    assert not Agent.objects.exists() and not Version.objects.exists()


def test_keys_for_hundreds_of_agents_named_from_their_paths_are_distinct():
    items = [("Bad Name", f"folder-{number}/x.md") for number in range(450)]

    keys = Agent.objects.unique_keys(items)

    assert len(set(keys)) == 450 and keys[0] == "folder-0-x"


def test_import_stores_one_by_one_where_bulk_inserts_return_no_ids(monkeypatch):
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)

    report = import_files(_many_files(3))

    assert len(report.created) == 5
    for agent in Agent.objects.select_related("live_version"):
        assert agent.live_version.agent_id == agent.pk and agent.live_version.number == 1
