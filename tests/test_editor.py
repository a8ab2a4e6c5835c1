"""The browser editor: structured fields and sections or the raw file, live checks, drafts."""

import base64
import difflib
import html
import itertools
import json
import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry import editor
from registry.agentfiles.document import DEFAULT_MAX_BYTES, normalize_newlines
from registry.models import Agent, ChangeRequest
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import CORPUS, DEMO, DEMO_NAMES, EXAMPLE, agent_text

pytestmark = pytest.mark.django_db

FILE_NUMBERS = itertools.count()
HTMX = {"HX-Request": "true"}
CORPUS_SAMPLES = [
    # a flow-list tools, no final newline, a folded description, a comma string, emoji headings
    "affaan-m__everything-claude-code/agents/architect.md",
    "0xfurai__claude-code-subagents/agents/actix-expert.md",
    "wshobson__agents/plugins/arm-cortex-microcontrollers/agents/arm-cortex-expert.md",
    "davepoon__claude-code-subagents-collection/subagents/api-documenter.md",
    "SuperClaude-Org__SuperClaude_Framework/src/superclaude/agents/security-engineer.md",
]


# --- Helpers ---------------------------------------------------------------------------------


class FormReader(HTMLParser):
    """The values a browser would send for the editor form (buttons aside), as it sends them:
    a textarea's first newline is dropped and its line endings become CRLF."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self.disabled = False
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "fieldset" and "disabled" in attrs:
            self.disabled = True
        if tag == "input" and attrs.get("name") and attrs.get("type") in {"text", "hidden"}:
            self.values[attrs["name"]] = attrs.get("value") or ""
        elif tag == "textarea":
            self._textarea, self._text = attrs["name"], []

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            value = "".join(self._text).removeprefix("\n")
            self.values[self._textarea] = value.replace("\r\n", "\n").replace("\n", "\r\n")
            self._textarea = None


def form_values(response) -> dict[str, str]:
    reader = FormReader()
    reader.feed(response.content.decode())
    return reader.values


def source_of(values: dict[str, str]) -> str:
    return base64.b64decode(values["source"]).decode()


def add_agent(text: str, path: str = "") -> Agent:
    path = path or f"agents/file-{next(FILE_NUMBERS)}.md"
    report = import_files([IncomingFile(path, text.encode())])
    assert not report.rejected
    return Agent.objects.get(path=path)


def edit_url(agent: Agent) -> str:
    return reverse("registry:agent_edit", args=[agent.key])


NEW_URL = "/agents/new/"


def post(client, url, values, action="check", htmx=False, **extra):
    data = {**values, "action": action, **extra}
    return client.post(url, data, headers=HTMX if htmx else {})


def open_and_post(client, url, action="check", htmx=False, **changes):
    """Open the editor at url, change fields as a user would, and press a button."""
    values = form_values(client.get(url))
    values.update(changes)
    return post(client, url, values, action, htmx)


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    for line in list(difflib.unified_diff(old.splitlines(), new.splitlines(), n=0, lineterm=""))[
        2:
    ]:
        if line.startswith("-"):
            removed.append(line[1:])
        elif line.startswith("+"):
            added.append(line[1:])
    return removed, added


class ElementText(HTMLParser):
    """The tags and attributes inside the element with a given id."""

    def __init__(self, element_id: str):
        super().__init__(convert_charrefs=True)
        self.element_id = element_id
        self.depth = 0
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.depth:
            self.tags.append((tag, attrs))
            if tag not in {"br", "hr", "img", "input"}:
                self.depth += 1
        elif attrs.get("id") == self.element_id:
            self.depth = 1

    def handle_endtag(self, tag):
        if self.depth and tag not in {"br", "hr", "img", "input"}:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def inside(response, element_id: str) -> ElementText:
    parser = ElementText(element_id)
    parser.feed(response.content.decode())
    return parser


class Attributes(HTMLParser):
    def __init__(self, element_id: str):
        super().__init__()
        self.element_id = element_id
        self.found: dict = {}

    def handle_starttag(self, tag, attrs):
        if dict(attrs).get("id") == self.element_id:
            self.found = dict(attrs)


def attributes_of(response, element_id: str) -> dict:
    parser = Attributes(element_id)
    parser.feed(response.content.decode())
    return parser.found


def text_inside(response, element_id: str) -> str:
    return " ".join("".join(inside(response, element_id).text).split())


# --- Fixtures --------------------------------------------------------------------------------


@pytest.fixture
def demo_agents() -> dict[str, Agent]:
    report = import_files(
        [IncomingFile(f"{name}.md", (DEMO / f"{name}.md").read_bytes()) for name in DEMO_NAMES]
    )
    assert not report.rejected
    return {agent.name: agent for agent in Agent.objects.all()}


@pytest.fixture
def architect(demo_agents) -> Agent:
    return demo_agents["backend-architect"]


@pytest.fixture
def editor_user(django_user_model):
    user = django_user_model.objects.create_user(username="edith", password="a-long-password")
    user.groups.add(Group.objects.get(name="Editors"))
    return user


@pytest.fixture
def editor_client(client, editor_user):
    client.force_login(editor_user)
    return client


@pytest.fixture
def reader_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="rita", password="pw-long"))
    return client


# --- Access ----------------------------------------------------------------------------------


def test_editor_page_shows_fields_and_save_to_an_editor(editor_client, architect):
    response = editor_client.get(edit_url(architect))

    assert response.status_code == 200
    values = form_values(response)
    assert values["name"] == "backend-architect"
    assert values["section-0-title"] == "Behavioral Mindset"
    assert source_of(values) == architect.live_version.text
    assert 'value="save"' in response.content.decode()


def test_new_agent_page_shows_the_required_sections_to_fill_in(editor_client):
    response = editor_client.get(NEW_URL)

    values = form_values(response)
    assert response.status_code == 200
    assert [values[f"section-{i}-title"] for i in range(3)] == [
        "Focus Areas",
        "Boundaries",
        "Delegate To",
    ]
    assert "**Will:**" in values["section-1-body"]
    assert "**Will Not:**" in values["section-1-body"]


def test_editor_page_is_read_only_without_the_editor_role(reader_client, architect):
    response = reader_client.get(edit_url(architect))

    reader = FormReader()
    reader.feed(response.content.decode())
    assert response.status_code == 200
    assert reader.disabled
    assert "needs the Editors role" in response.content.decode()
    assert 'value="save"' not in response.content.decode()
    assert "hx-post" not in response.content.decode()
    raw = reader_client.get(edit_url(architect) + "?mode=raw")
    assert form_values(raw)["text"].replace("\r\n", "\n") == architect.live_version.text


@pytest.mark.parametrize("action", ["check", "save", "mode:raw", "remove:0"])
def test_any_post_without_the_editor_role_is_forbidden(reader_client, architect, action):
    values = form_values(reader_client.get(edit_url(architect)))

    assert post(reader_client, edit_url(architect), values, action).status_code == 403
    assert post(reader_client, NEW_URL, values, action).status_code == 403
    assert not ChangeRequest.objects.exists()


def test_anonymous_visitor_is_sent_to_sign_in(client, architect):
    for url in (edit_url(architect), NEW_URL):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert client.post(NEW_URL, {"action": "save"}).status_code == 302
    assert not ChangeRequest.objects.exists()


def test_new_agent_link_shows_only_to_editors(editor_client, reader_client, architect):
    # reader_client and editor_client are the same client: sign in each in turn.
    assert 'href="/agents/new/"' not in reader_client.get("/agents/").content.decode()
    editor_client.force_login(Group.objects.get(name="Editors").user_set.get(username="edith"))
    assert 'href="/agents/new/"' in editor_client.get("/agents/").content.decode()


# --- Saving changes only what changed ------------------------------------------------------


def test_saving_a_new_description_changes_only_its_line(editor_client, architect):
    original = architect.live_version.text

    response = open_and_post(
        editor_client,
        edit_url(architect),
        "save",
        description="Designs backends that stay up.",
        message="Shorter description",
    )

    assert response.status_code == 302
    change = ChangeRequest.objects.get()
    assert change.agent == architect
    assert change.kind == ChangeRequest.Kind.EDIT
    assert change.author.username == "edith"
    assert change.message == "Shorter description"
    removed, added = changed_lines(original, change.text)
    assert removed == [line for line in original.splitlines() if line.startswith("description:")]
    assert added == ['description: "Designs backends that stay up."']
    page = editor_client.get(response["Location"])
    assert "Draft saved: 1 line added, 1 removed" in page.content.decode()
    assert '+description: "Designs backends that stay up."' in text_inside(page, "feedback")
    assert "-description: " in text_inside(page, "feedback")


def test_saving_new_tools_adds_only_their_lines(editor_client, architect):
    original = architect.live_version.text

    open_and_post(editor_client, edit_url(architect), "save", tools="Read\r\nGrep\r\n")

    removed, added = changed_lines(original, ChangeRequest.objects.get().text)
    assert removed == []
    assert added == ["tools: Read, Grep"]


def test_saving_a_changed_section_and_skill_changes_only_their_lines(editor_client, architect):
    original = architect.live_version.text
    values = form_values(editor_client.get(edit_url(architect)))
    index = next(i for i in range(10) if values[f"section-{i}-title"] == "Focus Areas")
    body = values[f"section-{index}-body"].replace("GraphQL", "gRPC")

    post(
        editor_client,
        edit_url(architect),
        {**values, f"section-{index}-body": body, "skills": "backend-patterns\r\ntesting"},
        "save",
    )

    removed, added = changed_lines(original, ChangeRequest.objects.get().text)
    assert removed == [
        "  - coding-standards",
        "- **API Design**: RESTful services, GraphQL, proper error handling, validation",
    ]
    assert added == [
        "  - testing",
        "- **API Design**: RESTful services, gRPC, proper error handling, validation",
    ]


def test_renaming_a_section_rewrites_only_its_heading(editor_client, architect):
    original = architect.live_version.text

    open_and_post(editor_client, edit_url(architect), "save", **{"section-2-title": "Steps"})

    assert changed_lines(original, ChangeRequest.objects.get().text) == (
        ["## Key Actions"],
        ["## Steps"],
    )


def test_an_unknown_key_edited_as_yaml_changes_only_its_line(editor_client):
    agent = add_agent(agent_text("solo", extra="permissionMode: plan\nmaxTurns: 3\n"))
    original = agent.live_version.text
    values = form_values(editor_client.get(edit_url(agent)))
    assert values["extra_yaml"] == "permissionMode: plan\r\nmaxTurns: 3\r\n"

    post(
        editor_client,
        edit_url(agent),
        {**values, "extra_yaml": "permissionMode: acceptEdits\r\nmaxTurns: 3\r\n"},
        "save",
    )

    assert changed_lines(original, ChangeRequest.objects.get().text) == (
        ["permissionMode: plan"],
        ["permissionMode: acceptEdits"],
    )


def test_a_crlf_file_keeps_its_line_endings_when_a_field_changes(editor_client):
    original = EXAMPLE.read_text().replace("\n", "\r\n")
    agent = add_agent(original)

    open_and_post(editor_client, edit_url(agent), "save", category="backend")

    saved = ChangeRequest.objects.get().text
    assert saved == original.replace("category: engineering\r\n", "category: backend\r\n")


def test_saving_unchanged_text_stores_it_byte_for_byte(editor_client):
    original = "\ufeff" + EXAMPLE.read_text().replace("\n", "\r\n").rstrip("\r\n")
    agent = add_agent(original)

    open_and_post(editor_client, edit_url(agent), "save")

    assert ChangeRequest.objects.get().text == original


def test_saving_again_updates_the_same_draft(editor_client, architect):
    first = open_and_post(editor_client, edit_url(architect), "save", category="one")
    second = open_and_post(editor_client, first["Location"], "save", category="two")

    change = ChangeRequest.objects.get()
    assert second.status_code == 302
    assert change.revision == 2
    assert "category: two\n" in change.text
    # Opening the agent again opens the user's draft.
    assert form_values(editor_client.get(edit_url(architect)))["category"] == "two"


def test_saving_keeps_a_draft_with_errors(editor_client, architect):
    response = open_and_post(
        editor_client, edit_url(architect), "save", name="Not A Valid Name", description=""
    )

    change = ChangeRequest.objects.get()
    assert response.status_code == 302
    assert change.error_count == 2
    assert "name: Not A Valid Name\n" in change.text


def test_htmx_save_redirects_the_browser_to_the_draft(editor_client, architect):
    response = open_and_post(editor_client, edit_url(architect), "save", htmx=True, color="red")

    change = ChangeRequest.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{edit_url(architect)}?change={change.pk}"


# --- Raw and structured modes --------------------------------------------------------------


def round_trip_texts():
    yield "example", EXAMPLE.read_text()
    yield "example-crlf-bom", "\ufeff" + EXAMPLE.read_text().replace("\n", "\r\n")
    for path in CORPUS_SAMPLES:
        yield path, (CORPUS / path).read_bytes().decode()


@pytest.mark.parametrize(
    "original", [text for _, text in round_trip_texts()], ids=[n for n, _ in round_trip_texts()]
)
def test_switching_to_raw_and_back_keeps_the_text_exactly(editor_client, original):
    agent = add_agent(original)
    url = edit_url(agent)

    raw = open_and_post(editor_client, url, "mode:raw", htmx=True)
    raw_values = form_values(raw)
    fields = post(editor_client, url, raw_values, "mode:structured", htmx=True)
    field_values = form_values(fields)
    saved = post(editor_client, url, field_values, "save")

    assert raw_values["mode"] == "raw"
    assert raw_values["text"].replace("\r\n", "\n") == original.removeprefix("\ufeff").replace(
        "\r\n", "\n"
    )
    assert source_of(raw_values) == original
    assert field_values["mode"] == "structured"
    assert source_of(field_values) == original
    assert saved.status_code == 302
    assert ChangeRequest.objects.get().text == original


def test_raw_edit_then_switch_to_fields_shows_the_edit(editor_client, architect):
    raw_values = form_values(open_and_post(editor_client, edit_url(architect), "mode:raw"))
    raw_values["text"] = raw_values["text"].replace("category: engineering", "category: ops")

    fields = post(editor_client, edit_url(architect), raw_values, "mode:structured")

    assert form_values(fields)["category"] == "ops"
    assert changed_lines(architect.live_version.text, source_of(form_values(fields))) == (
        ["category: engineering"],
        ["category: ops"],
    )


def test_broken_yaml_cannot_switch_to_fields_and_keeps_the_raw_text(editor_client, architect):
    raw_values = form_values(open_and_post(editor_client, edit_url(architect), "mode:raw"))
    broken = raw_values["text"].replace("category: engineering", "category: [engineering")

    response = post(
        editor_client, edit_url(architect), {**raw_values, "text": broken}, "mode:structured"
    )

    assert response.status_code == 200
    assert form_values(response)["mode"] == "raw"
    assert form_values(response)["text"] == broken
    assert "fix it in the raw file" in text_inside(response, "problems-text")


def test_agent_with_broken_frontmatter_opens_in_raw_mode(editor_client):
    agent = add_agent("---\nname: x\ndescription: [unclosed\n---\n# X\n")

    response = editor_client.get(edit_url(agent))

    assert form_values(response)["mode"] == "raw"
    assert "yaml-syntax" in text_inside(response, "problems-text")
    assert "Line 4: frontmatter is not valid YAML" in text_inside(response, "problems-text")


# --- Section buttons -------------------------------------------------------------------------


def test_adding_a_missing_required_section_puts_it_in_its_place(editor_client):
    agent = add_agent(
        "---\nname: solo\ndescription: Works alone.\n---\n\n# Solo\n\n"
        "## Focus Areas\n- One thing\n\n## Notes\nSome notes.\n\n"
        "## Delegate To\n- **solo-two** — x\n"
    )
    page = editor_client.get(edit_url(agent))
    assert "required section '## Boundaries' is missing" in text_inside(page, "problems-general")
    assert 'value="add-required:1"' in page.content.decode()

    response = post(editor_client, edit_url(agent), form_values(page), "add-required:1", htmx=True)

    values = form_values(response)
    assert "<html" not in response.content.decode()
    assert [values[f"section-{i}-title"] for i in range(4)] == [
        "Focus Areas",
        "Boundaries",
        "Notes",
        "Delegate To",
    ]
    assert values["section-1-body"] == (
        "**Will:**\r\n- What this agent does\r\n\r\n"
        "**Will Not:**\r\n- What it leaves to other agents\r\n\r\n"
    )
    assert "autofocus" in attributes_of(response, "section-1-body")
    assert 'value="add-required:1"' not in response.content.decode()


def test_removing_a_section_takes_out_only_its_lines(editor_client, architect):
    original = architect.live_version.text
    values = form_values(editor_client.get(edit_url(architect)))

    response = post(editor_client, edit_url(architect), values, "remove:3")
    post(editor_client, edit_url(architect), form_values(response), "save")

    removed, added = changed_lines(original, ChangeRequest.objects.get().text)
    assert added == []
    assert removed[0] == "## Outputs" and len(removed) == 7


def test_moving_a_section_down_and_up(editor_client, architect):
    values = form_values(editor_client.get(edit_url(architect)))

    down = form_values(post(editor_client, edit_url(architect), values, "move-down:0"))
    assert [down[f"section-{i}-title"] for i in range(2)] == [
        "Focus Areas",
        "Behavioral Mindset",
    ]
    up = form_values(post(editor_client, edit_url(architect), down, "move-up:1"))
    assert source_of(up) == architect.live_version.text


def test_section_buttons_keep_typed_edits(editor_client, architect):
    values = form_values(editor_client.get(edit_url(architect)))
    values["description"] = "Typed before pressing a button."

    response = post(editor_client, edit_url(architect), values, "move-down:0")

    assert form_values(response)["description"] == "Typed before pressing a button."
    assert 'description: "Typed before pressing a button."' in source_of(form_values(response))


def test_adding_a_custom_section_appends_it(editor_client, architect):
    values = form_values(editor_client.get(edit_url(architect)))

    response = post(
        editor_client,
        edit_url(architect),
        {**values, "new_section_title": "Examples"},
        "add-section",
    )

    values = form_values(response)
    assert values["section-6-title"] == "Examples"
    assert source_of(values).endswith("load analysis\n\n## Examples\n")


# --- Live check ------------------------------------------------------------------------------


def test_live_check_puts_each_problem_next_to_its_field_with_preview_and_diff(
    editor_client, architect
):
    values = form_values(editor_client.get(edit_url(architect)))
    delegate = next(i for i in range(10) if values[f"section-{i}-title"] == "Delegate To")
    values["name"] = "Backend Architect"
    values[f"section-{delegate}-body"] += "- **nobody-at-all** — for nothing\r\n"
    values["preamble"] = values["preamble"].replace("# Backend Architect", "# Backend *Hero*")

    response = post(editor_client, edit_url(architect), values, htmx=True)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'hx-swap-oob="innerHTML"' in html
    assert response["HX-Reswap"] == "none"  # the Check button's answer must not replace the form
    assert "name-invalid" in text_inside(response, "problems-name")
    assert "name-invalid" not in text_inside(response, "problems-general")
    assert "'nobody-at-all'" in text_inside(response, f"problems-section-{delegate}")
    assert text_inside(response, "problems-description") == ""
    assert ("em", {}) in inside(response, "preview").tags
    assert '<span class="line add">+name: Backend Architect</span>' in html
    assert '<span class="line del">-name: backend-architect</span>' in html
    assert "2 errors" in text_inside(response, "summary")
    assert not ChangeRequest.objects.exists()


def test_live_check_reads_only_what_its_answer_shows(editor_client, architect):
    values = form_values(editor_client.get(edit_url(architect)))
    values["preamble"] += "One more sentence.\r\n"

    with CaptureQueriesContext(connection) as queries:
        response = post(editor_client, edit_url(architect), values, htmx=True)

    tables = [query["sql"].split(" FROM ")[1].split()[0] for query in queries.captured_queries]
    assert response.status_code == 200
    assert "One more sentence." in text_inside(response, "preview")
    # The session, the user, their permissions, the agent, and the names the text delegates to
    # or might clash with: not the change requests nor the categories the form's fields offer.
    assert not any("changerequest" in table for table in tables), tables
    assert sum("registry_agent" in table for table in tables) == 2, tables


def test_live_check_without_htmx_answers_with_the_whole_page(editor_client, architect):
    response = open_and_post(editor_client, edit_url(architect), name="Backend Architect")

    assert response.status_code == 200
    assert "<html" in response.content.decode()
    assert form_values(response)["name"] == "Backend Architect"
    assert "name-invalid" in text_inside(response, "problems-name")


def test_live_check_of_a_new_agent_shows_where_it_will_be_saved(editor_client, settings):
    settings.REGISTRY_NEW_AGENT_FOLDER = "team/agents/"

    response = open_and_post(editor_client, NEW_URL, htmx=True, name="api-designer")

    assert "team/agents/api-designer.md" in text_inside(response, "new-path")


def test_a_removed_required_section_is_listed_on_top_with_a_button_to_add_it(
    editor_client, architect
):
    values = form_values(editor_client.get(edit_url(architect)))
    boundaries = next(i for i in range(10) if values[f"section-{i}-title"] == "Boundaries")
    values[f"section-{boundaries}-title"] = "Limits"

    response = post(editor_client, edit_url(architect), values, htmx=True)

    assert "required section '## Boundaries' is missing" in text_inside(
        response, "problems-general"
    )
    assert 'value="add-required:1"' in text_inside_html(response, "add-required")


def text_inside_html(response, element_id: str) -> str:
    parser = inside(response, element_id)
    return " ".join(f'{tag} value="{attrs.get("value", "")}"' for tag, attrs in parser.tags)


# --- Conflicts -------------------------------------------------------------------------------


def test_second_save_with_a_stale_revision_shows_the_conflict_and_keeps_the_text(
    editor_client, architect, django_user_model
):
    first = open_and_post(editor_client, edit_url(architect), "save", category="mine")
    stale = form_values(editor_client.get(first["Location"]))
    change = ChangeRequest.objects.get()
    change.save_text(change.text.replace("category: mine", "category: theirs"), "", 1)

    response = post(
        editor_client, edit_url(architect), {**stale, "description": "My new words."}, "save"
    )

    change.refresh_from_db()
    values = form_values(response)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Someone saved this draft since you opened it" in html
    assert values["description"] == "My new words."
    assert values["revision"] == "1"
    assert values["conflict_revision"] == "2"
    assert '<span class="line del">-category: theirs</span>' in html
    assert '<span class="line add">+category: mine</span>' in html
    assert "category: theirs" in change.text
    assert change.revision == 2

    overwrite = post(editor_client, edit_url(architect), values, "overwrite")

    change.refresh_from_db()
    assert overwrite.status_code == 302
    assert change.revision == 3
    assert "category: mine" in change.text
    assert 'description: "My new words."' in change.text


def test_saving_a_change_that_left_editing_says_so(editor_client, architect):
    first = open_and_post(editor_client, edit_url(architect), "save", category="mine")
    values = form_values(editor_client.get(first["Location"]))
    ChangeRequest.objects.update(status=ChangeRequest.Status.PUBLISHED)

    response = post(editor_client, edit_url(architect), values, "save")

    assert response.status_code == 200
    assert "can no longer be edited" in response.content.decode()


# --- New agents ------------------------------------------------------------------------------


def test_new_agent_draft_is_saved_with_its_path_under_the_new_agent_folder(editor_client, settings):
    settings.REGISTRY_NEW_AGENT_FOLDER = "team/agents"

    response = open_and_post(
        editor_client,
        NEW_URL,
        "save",
        name="api-designer",
        description="Designs APIs.",
        message="A new agent",
    )

    change = ChangeRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{NEW_URL}?change={change.pk}"
    assert change.agent is None
    assert change.kind == ChangeRequest.Kind.CREATE
    assert change.base_version is None
    assert change.text.startswith("---\nname: api-designer\ndescription: Designs APIs.\n---\n")
    page = editor_client.get(response["Location"])
    assert "team/agents/api-designer.md" in text_inside(page, "new-path")
    assert form_values(page)["change"] == str(change.pk)
    assert not Agent.objects.exists()


def test_new_agent_with_a_name_taken_ignoring_case_is_not_saved(editor_client):
    add_agent(agent_text("Data-Scientist"))  # imported as it was, with its bad name

    response = open_and_post(editor_client, NEW_URL, "save", name="data-scientist", description="x")

    assert response.status_code == 200
    assert "already used by the agent 'Data-Scientist'" in text_inside(response, "problems-name")
    assert not ChangeRequest.objects.exists()


def test_new_agent_without_a_valid_name_is_not_saved(editor_client):
    response = open_and_post(editor_client, NEW_URL, "save", name="My Agent")

    assert "not a valid name" in text_inside(response, "problems-name")
    assert "'my-agent'" in text_inside(response, "problems-name")
    assert not ChangeRequest.objects.exists()


def test_renaming_an_agent_to_another_agents_name_is_not_saved(editor_client, demo_agents):
    architect = demo_agents["backend-architect"]

    response = open_and_post(editor_client, edit_url(architect), "save", name="Security-Engineer")

    assert response.status_code == 200
    assert "already used by the agent 'security-engineer'" in text_inside(response, "problems-name")
    assert form_values(response)["name"] == "Security-Engineer"
    assert not ChangeRequest.objects.exists()


def test_renaming_an_agent_to_another_agents_name_in_raw_mode_is_not_saved(
    editor_client, demo_agents
):
    architect = demo_agents["backend-architect"]
    values = form_values(open_and_post(editor_client, edit_url(architect), "mode:raw"))
    values["text"] = values["text"].replace("name: backend-architect", "name: security-engineer")

    response = post(editor_client, edit_url(architect), values, "save")

    assert "already used by the agent 'security-engineer'" in text_inside(response, "problems-text")
    assert not ChangeRequest.objects.exists()


def test_agent_called_new_gets_a_key_that_does_not_hide_the_new_agent_editor():
    agent = add_agent(agent_text("new"), path="new.md")

    assert agent.key != "new"


# --- Bad input -------------------------------------------------------------------------------


def test_text_over_the_size_limit_is_refused_next_to_it(editor_client, architect, settings):
    settings.REGISTRY_MAX_FILE_BYTES = 4000
    values = form_values(open_and_post(editor_client, edit_url(architect), "mode:raw"))
    values["text"] += "x" * 4000

    response = post(editor_client, edit_url(architect), values, "save")

    assert response.status_code == 200
    assert "the limit is 4,000 bytes" in text_inside(response, "problems-text")
    assert not ChangeRequest.objects.exists()


def test_a_field_that_makes_the_file_too_large_is_refused_on_top(
    editor_client, architect, settings
):
    settings.REGISTRY_MAX_FILE_BYTES = 4000

    response = open_and_post(
        editor_client, edit_url(architect), "save", htmx=True, **{"section-0-body": "y" * 4000}
    )

    assert response.status_code == 200
    assert "the limit is 4,000 bytes" in text_inside(response, "problems-general")
    assert not ChangeRequest.objects.exists()


def test_a_request_body_over_the_upload_limit_gets_a_413_page(editor_client, architect, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    values = form_values(editor_client.get(edit_url(architect)))

    response = post(
        editor_client, edit_url(architect), {**values, "preamble": "z" * 20_000}, "save"
    )

    assert response.status_code == 413
    assert "a form may hold at most 10,000 bytes" in response.content.decode()
    assert "Nothing was saved" in response.content.decode()
    assert not ChangeRequest.objects.exists()


def test_a_request_body_over_the_upload_limit_from_htmx_shows_where_problems_go(
    editor_client, architect, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    values = form_values(editor_client.get(edit_url(architect)))

    response = post(
        editor_client, edit_url(architect), {**values, "preamble": "z" * 20_000}, htmx=True
    )

    assert response.status_code == 200
    assert response["HX-Reswap"] == "none"
    assert "too large" in text_inside(response, "problems-general")


def test_invalid_yaml_in_raw_mode_is_shown_with_its_line_next_to_the_text(editor_client, architect):
    values = form_values(open_and_post(editor_client, edit_url(architect), "mode:raw"))
    values["text"] = values["text"].replace("category: engineering", "category: a: b")

    response = post(editor_client, edit_url(architect), values, htmx=True)

    problems = text_inside(response, "problems-text")
    assert response.status_code == 200
    assert "Line 7: frontmatter is not valid YAML" in problems
    assert "put the whole value in quotes" in problems


def test_a_draft_with_invalid_yaml_can_still_be_saved(editor_client, architect):
    values = form_values(open_and_post(editor_client, edit_url(architect), "mode:raw"))
    values["text"] = values["text"].replace("category: engineering", "category: [x")

    response = post(editor_client, edit_url(architect), values, "save")

    assert response.status_code == 302
    assert "category: [x\n" in ChangeRequest.objects.get().text


def test_invalid_yaml_in_the_other_frontmatter_box_is_shown_next_to_it(editor_client):
    agent = add_agent(agent_text("solo", extra="permissionMode: plan\n"))
    values = form_values(editor_client.get(edit_url(agent)))
    values["extra_yaml"] = "permissionMode: plan\r\nhooks: [unclosed\r\n"

    response = post(editor_client, edit_url(agent), values, "save")

    assert response.status_code == 200
    assert "line 3, column 1: frontmatter is not valid YAML" in text_inside(
        response, "problems-extra-yaml"
    ) or "line 2" in text_inside(response, "problems-extra-yaml")
    assert form_values(response)["extra_yaml"] == values["extra_yaml"]
    assert not ChangeRequest.objects.exists()


def test_a_known_key_typed_in_the_other_frontmatter_box_is_refused(editor_client, architect):
    response = open_and_post(
        editor_client, edit_url(architect), "save", extra_yaml="model: opus\r\n"
    )

    assert "'model' has its own field" in text_inside(response, "problems-extra-yaml")
    assert not ChangeRequest.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "where", "message"),
    [
        ("description", "Nul \x00 here", "problems-description", "a NUL character"),
        ("section-1-body", "ok\r\nbell \x07\r\n", "problems-section-1", "line 2, column 6"),
        ("section-1-title", "Esc \x1b", "problems-section-1", "U+001B"),
        ("preamble", "# T\r\n\ufffe\r\n", "problems-preamble", "U+FFFE"),
        ("message", "a \x00 message", "problems-message", "a NUL character"),
    ],
)
def test_invalid_characters_are_refused_next_to_their_field(
    editor_client, architect, field, value, where, message
):
    response = open_and_post(editor_client, edit_url(architect), "save", **{field: value})

    assert response.status_code == 200
    assert message in text_inside(response, where)
    assert not ChangeRequest.objects.exists()


def test_a_nul_in_the_raw_text_is_refused_next_to_it(editor_client, architect):
    values = form_values(open_and_post(editor_client, edit_url(architect), "mode:raw"))
    values["text"] = values["text"].replace("# Backend Architect", "# Backend\x00Architect")

    for htmx in (True, False):
        response = post(editor_client, edit_url(architect), values, "save", htmx=htmx)
        assert response.status_code == 200
        assert "line 10, column 10: holds a NUL character" in text_inside(response, "problems-text")
    assert not ChangeRequest.objects.exists()


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"source": "not base64!"}, 200),
        ({"mode": "sideways"}, 302),
        ({"action": "move-up:99"}, 200),
        ({"action": "add-required:x"}, 200),
        ({"action": "explode"}, 200),
        ({"change": "abc"}, 404),
        ({"change": "999999"}, 404),
        ({"revision": "zz"}, 302),
    ],
)
def test_damaged_form_data_never_crashes(editor_client, architect, data, status):
    values = form_values(editor_client.get(edit_url(architect)))

    response = editor_client.post(edit_url(architect), {**values, "action": "save", **data})

    assert response.status_code == status


# --- Every real file -------------------------------------------------------------------------

CORPUS_FILES = sorted(path for path in CORPUS.rglob("*.md") if path != CORPUS / "README.md")


def browser_values(form: editor.EditorForm) -> dict[str, str]:
    """What a browser sends back for an untouched structured form: CRLF line endings."""
    shown = form.shown
    values = {
        **shown.fields,
        "extra_yaml": shown.extra_yaml,
        "preamble": shown.preamble,
        "mode": form.mode,
        "source": form.encoded_source,
    }
    for index, (title, body) in enumerate(shown.sections):
        values[f"section-{index}-title"] = title
        values[f"section-{index}-body"] = body
    return {key: normalize_newlines(value, "\r\n") for key, value in values.items()}


@pytest.mark.django_db(False)
def test_an_untouched_form_gives_back_every_corpus_file_exactly():
    for path in CORPUS_FILES:
        text = path.read_bytes().decode()
        for variant in (text, text.replace("\n", "\r\n")):
            opened = editor.EditorForm(variant, max_bytes=DEFAULT_MAX_BYTES)
            if opened.mode != editor.STRUCTURED:
                continue
            posted = editor.EditorForm("", browser_values(opened), max_bytes=DEFAULT_MAX_BYTES)
            assert posted.errors == {}, path
            assert posted.text == variant, path


# --- Preview and headers ---------------------------------------------------------------------

PAYLOADS = """\
# Payloads

<script>alert(1)</script>

<img src=x onerror="alert(2)">

[click](javascript:alert(3)) and [data](data:text/html;base64,PHNjcmlwdD4=)

<a hx-get="/agents/" hx-trigger="load">htmx</a>

<iframe src="https://evil.example"></iframe>

<svg onload="alert(4)"></svg>

<p style="background:url(javascript:alert(5))">styled</p>

<form action="https://evil.example"><input name="x"></form>

![pixel](https://evil.example/pixel.png) ![data](data:image/png;base64,AAAA)

<details open ontoggle="alert(6)">x</details>
"""


def test_preview_of_script_payloads_holds_no_live_markup(editor_client, architect):
    values = form_values(editor_client.get(edit_url(architect)))
    values["preamble"] = PAYLOADS

    for htmx in (True, False):
        response = post(editor_client, edit_url(architect), values, htmx=htmx)
        tags = inside(response, "preview").tags
        names = {tag for tag, _ in tags}
        assert names.isdisjoint({"script", "iframe", "svg", "form", "input", "details", "style"})
        for tag, attrs in tags:
            for attribute, value in attrs.items():
                assert not attribute.startswith(("on", "hx-", "style", "data-"))
                assert not (value or "").lower().startswith(("javascript:", "data:"))
                assert "evil.example" not in (value if tag == "img" else "")
        scripts = response.content.decode().count("<script")
        assert scripts == (0 if htmx else 1)  # only htmx itself, loaded from a file
        assert "<script src=" in response.content.decode() or htmx


def test_every_editor_response_forbids_inline_scripts(editor_client, architect, settings):
    values = form_values(editor_client.get(edit_url(architect)))
    responses = [
        editor_client.get(edit_url(architect)),
        editor_client.get(NEW_URL),
        post(editor_client, edit_url(architect), values, htmx=True),
        post(editor_client, edit_url(architect), values, "mode:raw", htmx=True),
        post(editor_client, edit_url(architect), values, "save"),
    ]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    responses.append(post(editor_client, edit_url(architect), values))
    editor_client.logout()
    responses.append(editor_client.post(edit_url(architect), {}))

    for response in responses:
        policy = response["Content-Security-Policy"]
        script_src = next(part for part in policy.split(";") if "script-src" in part)
        assert "'unsafe-inline'" not in script_src
        assert "'unsafe-eval'" not in script_src
        assert "<script>" not in response.content.decode()


def test_a_new_draft_is_based_on_the_version_the_form_was_loaded_from(editor_client, architect):
    loaded_from = architect.live_version
    values = form_values(editor_client.get(edit_url(architect)))
    meanwhile = loaded_from.text.replace("category: engineering", "category: platform")
    architect.add_version(meanwhile, None, "Published while the form was open")

    values["description"] = "Designs reliable backend systems."
    post(editor_client, edit_url(architect), values, "save")

    change = ChangeRequest.objects.get(agent=architect)
    assert change.base_version == loaded_from
    assert "category: engineering" in change.text


# --- Fix buttons -----------------------------------------------------------------------------
# A problem with a certain fix is fixed in the draft text; nothing else in the text, nor anything
# the user typed, changes.

ADD_BOUNDARIES = "fix:section-missing:section:Boundaries"


def without_boundaries(text: str) -> str:
    return re.sub(r"## Boundaries\n.*?(?=## )", "", text, flags=re.DOTALL)


@pytest.fixture
def no_boundaries():
    return add_agent(without_boundaries(EXAMPLE.read_text()))


def test_a_problem_with_a_certain_fix_has_a_fix_button_beside_it(editor_client, no_boundaries):
    page = editor_client.get(edit_url(no_boundaries))

    assert "required section '## Boundaries' is missing" in text_inside(page, "problems-general")
    assert f'value="{ADD_BOUNDARIES}"' in page.content.decode()
    assert "{#" not in page.content.decode()
    # A problem without a certain fix has no button.
    assert page.content.decode().count('class="fix"') == 1


def test_fix_adds_the_section_and_keeps_what_the_user_typed(editor_client, no_boundaries):
    original = no_boundaries.live_version.text
    values = form_values(editor_client.get(edit_url(no_boundaries)))
    values["category"] = "backend"

    response = post(editor_client, edit_url(no_boundaries), values, ADD_BOUNDARIES, htmx=True)

    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    fixed = form_values(response)
    assert fixed["category"] == "backend"
    text = source_of(fixed)
    removed, added = changed_lines(original, text)
    assert removed == ["category: engineering"]
    assert sorted(added) == sorted(
        [
            "category: backend",
            "## Boundaries",
            "**Will:**",
            "- What this agent does",
            "",
            "**Will Not:**",
            "- What it leaves to other agents",
            "",
        ]
    )
    assert "section-missing" not in response.content.decode()
    assert ADD_BOUNDARIES not in response.content.decode()
    boundaries = next(k for k, v in fixed.items() if v == "Boundaries")
    assert "autofocus" in text_inside_attributes(response, boundaries.replace("title", "body"))

    post(editor_client, edit_url(no_boundaries), fixed, "save")
    assert ChangeRequest.objects.get().text == text


def text_inside_attributes(response, element_id: str) -> str:
    match = re.search(rf'<[^>]*id="{re.escape(element_id)}"[^>]*>', response.content.decode())
    assert match, element_id
    return match.group()


def test_fix_in_the_raw_file_quotes_the_description_and_keeps_crlf(editor_client):
    original = EXAMPLE.read_text().replace("\n", "\r\n")
    broken = re.sub(
        r"description: .*\r\n",
        "description: Designs backends. Use it when: a service is added.\r\n",
        original,
    )
    agent = add_agent(broken)
    page = editor_client.get(edit_url(agent))
    assert form_values(page)["mode"] == "raw"
    action = "fix:yaml-syntax:frontmatter"
    assert f'value="{action}"' in page.content.decode()

    response = post(editor_client, edit_url(agent), form_values(page), action, htmx=True)

    fixed = form_values(response)
    assert fixed["mode"] == "raw"
    assert source_of(fixed) == broken.replace(
        "description: Designs backends. Use it when: a service is added.\r\n",
        'description: "Designs backends. Use it when: a service is added."\r\n',
    )
    assert "yaml-syntax" not in text_inside(response, "problems-text")
    assert "autofocus" in text_inside_attributes(response, "field-text")


def test_fix_renames_a_misspelled_key_in_its_place(editor_client):
    original = EXAMPLE.read_text()
    agent = add_agent(original.replace("category: engineering\n", "allowedTools: Read, Grep\n"))
    values = form_values(editor_client.get(edit_url(agent)))

    response = post(
        editor_client, edit_url(agent), values, "fix:key-unknown:frontmatter.allowedTools"
    )

    assert response.status_code == 200
    text = source_of(form_values(response))
    assert text == original.replace("category: engineering\n", "tools: Read, Grep\n")


def test_a_fix_that_does_not_apply_is_refused_with_a_400_and_the_text_kept(
    editor_client, architect
):
    values = form_values(editor_client.get(edit_url(architect)))
    values["category"] = "typed by the user"

    for action in (ADD_BOUNDARIES, "fix:delegate-unknown:section:Delegate To", "fix:", "fix:x:y"):
        response = post(editor_client, edit_url(architect), values, action, htmx=True)

        assert response.status_code == 400
        assert "That fix does not apply to this text" in text_inside(response, "problems-general")
        assert form_values(response)["category"] == "typed by the user"
    assert not ChangeRequest.objects.exists()
    # htmx swaps a 400 in like a 200, so the message shows where the user is.
    page = editor_client.get(edit_url(architect)).content.decode()
    config = json.loads(
        html.unescape(re.search(r'name="htmx-config" content=\'([^\']*)\'', page)[1])
    )
    assert {"code": "400", "swap": True} in config["responseHandling"]


def test_fix_needs_the_editor_role(reader_client, no_boundaries):
    values = form_values(reader_client.get(edit_url(no_boundaries)))
    assert 'class="fix"' not in reader_client.get(edit_url(no_boundaries)).content.decode()

    response = post(reader_client, edit_url(no_boundaries), values, ADD_BOUNDARIES)

    assert response.status_code == 403


def test_fix_needs_the_csrf_token(editor_user, no_boundaries):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(editor_user)
    page = browser.get(edit_url(no_boundaries))
    values = form_values(page)
    values.pop("csrfmiddlewaretoken", None)

    refused = browser.post(edit_url(no_boundaries), {**values, "action": ADD_BOUNDARIES})
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page.content.decode()).group(1)
    accepted = browser.post(
        edit_url(no_boundaries),
        {**values, "action": ADD_BOUNDARIES},
        headers={**HTMX, "X-CSRFToken": token},
    )

    assert refused.status_code == 403
    assert accepted.status_code == 200
    assert "## Boundaries" in source_of(form_values(accepted))
