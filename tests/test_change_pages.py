"""The review pages: a change request and its actions, the review queue, history and compare,
restore and archive, the audit log, and the header's count of changes waiting."""

import re

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry.agentfiles.rendering import structured_diff, word_marks
from registry.models import Agent, AuditEvent, ChangeRequest, Comment, Review
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import DEMO, DEMO_NAMES, agent_text

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
NEW_DESCRIPTION = "description: Designs dependable backend systems."


# --- Fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture
def demo_agents() -> dict[str, Agent]:
    report = import_files(
        [
            IncomingFile(f"agents/{name}.md", (DEMO / f"{name}.md").read_bytes())
            for name in DEMO_NAMES
        ]
    )
    assert report.stored
    return {agent.name: agent for agent in Agent.objects.all()}


@pytest.fixture
def architect(demo_agents) -> Agent:
    return demo_agents["backend-architect"]


@pytest.fixture
def author(make_user):
    return make_user("ada", "Editors")


@pytest.fixture
def reviewer(make_user):
    return make_user("rex", "Reviewers")


@pytest.fixture
def maintainer(make_user):
    return make_user("max", "Maintainers")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def edited(agent: Agent, old: str = "description:", new: str = NEW_DESCRIPTION) -> str:
    """The agent's live text with the line starting with `old` replaced by `new`."""
    lines = agent.live_version.text.splitlines(keepends=True)
    return "".join(new + "\n" if line.startswith(old) else line for line in lines)


def draft(author, agent: Agent, text: str | None = None, **fields) -> ChangeRequest:
    return ChangeRequest.start_draft(
        author=author, text=text or edited(agent), agent=agent, message="Clearer", **fields
    )


def open_change(author, agent: Agent, text: str | None = None) -> ChangeRequest:
    change = draft(author, agent, text)
    change.submit(author)
    return change


def page_url(change: ChangeRequest) -> str:
    return reverse("registry:change_detail", args=[change.pk])


def action_url(change: ChangeRequest, action: str) -> str:
    return reverse("registry:change_action", args=[change.pk, action])


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def html_of(response) -> str:
    return response.content.decode()


def squashed(response) -> str:
    """The page's text with tags removed and white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html_of(response)).split())


# --- Word-level and by-part diffs ---------------------------------------------------------------


def test_word_marks_wrap_only_the_changed_words_and_escape_html():
    old, new = word_marks("Use <b>care</b> & the quick fox", "Use <b>care</b> & a slow fox")

    assert old == "Use &lt;b&gt;care&lt;/b&gt; &amp; <del>the quick</del> fox"
    assert new == "Use &lt;b&gt;care&lt;/b&gt; &amp; <ins>a slow</ins> fox"


def test_markup_in_changed_words_is_escaped_inside_the_marks():
    old, new = word_marks("plain", "<script>alert(1)</script>")

    assert old == "<del>plain</del>"
    assert new == "<ins>&lt;script&gt;alert(1)&lt;/script&gt;</ins>"


def test_structured_diff_pairs_keys_and_sections_and_collapses_the_unchanged():
    old = agent_text("one", "Old words here.", extra="model: sonnet\n")
    new = agent_text("one", "New words here.", extra="model: sonnet\n").replace(
        "- Do the one thing\n", "- Do the one thing carefully\n"
    )

    parts = structured_diff(old, new)

    assert [(part.kind, part.label, part.status) for part in parts] == [
        ("unchanged", "", "unchanged"),
        ("field", "description", "changed"),
        ("unchanged", "", "unchanged"),
        ("section", "Boundaries", "changed"),
        ("unchanged", "", "unchanged"),
    ]
    assert parts[0].unchanged == ("name",)
    assert parts[2].unchanged == ("model", "Title and introduction", "Focus Areas")
    (row,) = [row for row in parts[1].rows if row.kind == "change"]
    assert (row.old_number, row.new_number) == (3, 3)
    assert row.old_html == "description: <del>Old</del> words here."
    assert row.new_html == "description: <ins>New</ins> words here."
    (row,) = [row for row in parts[3].rows if row.kind == "change"]
    assert row.new_html == "- Do the one thing<ins> carefully</ins>"


def test_structured_diff_pairs_sections_by_normalized_heading_and_notes_a_move():
    old = agent_text("one")
    moved = old.replace("## Focus Areas\n", "## 🎯 Focus areas:\n")
    focus_start = moved.index("## 🎯")
    boundaries_start = moved.index("## Boundaries")
    delegate_start = moved.index("## Delegate To")
    new = (
        moved[:focus_start]
        + moved[boundaries_start:delegate_start]
        + moved[focus_start:boundaries_start]
        + moved[delegate_start:]
    )

    parts = structured_diff(old, new)

    changed = [part for part in parts if part.status == "changed"]
    assert [(part.kind, part.label) for part in changed] == [
        ("section", "🎯 Focus areas:"),
        ("order", "Order"),
    ]
    assert "now: name, description, Title and introduction, Boundaries" in changed[1].note


def test_structured_diff_of_added_and_removed_parts():
    old = agent_text("one", extra="model: sonnet\n")
    new = old.replace("model: sonnet\n", "").replace(
        "## Delegate To", "## Notes\nSome.\n\n## Delegate To"
    )

    parts = {(part.kind, part.label): part for part in structured_diff(old, new)}

    assert parts["field", "model"].status == "removed"
    assert [row.kind for row in parts["field", "model"].rows] == ["del"]
    assert parts["section", "Notes"].status == "added"
    assert parts["section", "Notes"].rows[1].new_html == "<ins>Some.</ins>"


def test_structured_diff_says_when_only_line_endings_differ():
    text = agent_text("one")

    parts = structured_diff(text, text.replace("\n", "\r\n"))

    assert parts[-1].kind == "file"
    assert "line endings" in parts[-1].note


# --- The change page -----------------------------------------------------------------------------


def test_change_page_shows_summary_status_next_actor_problems_and_word_level_diff(
    author, reviewer, architect
):
    change = open_change(author, architect)

    response = client_for(reviewer).get(page_url(change))

    text = squashed(response)
    assert response.status_code == 200
    assert f"Change #{change.pk}: edit of backend-architect" in text
    assert "Open for review" in text
    assert "Next: a reviewer other than the author." in text
    assert "Author ada" in text
    assert "Message Clearer" in text
    assert "Revision 1, based on version 1" in text
    assert "0 of 1 needed, of the current text" in text
    assert "No problems found." in text
    html = html_of(response)
    assert "Field <code>description</code>" in html
    assert "description: <ins>Designs dependable</ins> backend systems." in html
    assert "<del>&quot;Design reliable</del> backend systems" in html
    assert re.search(r"\d+ unchanged parts", text)
    assert 'href="?view=unified"' in html


def test_change_page_lists_the_problems_of_the_proposed_text(author, reviewer, architect):
    change = draft(author, architect, edited(architect, "name:", "name: Not A Name"))

    response = client_for(author).get(page_url(change))

    problems = html_of(response).split('id="problems"')[1].split("</section>")[0]
    assert "name-invalid" in problems or "name" in problems
    assert 'class="badge error"' in problems


def test_unified_view_is_a_link_and_htmx_gets_only_the_diff(author, reviewer, architect):
    change = open_change(author, architect)
    client = client_for(reviewer)

    page = client.get(page_url(change), {"view": "unified"})
    fragment = client.get(page_url(change), {"view": "unified"}, headers=HTMX)

    assert page.status_code == fragment.status_code == 200
    assert f'<span class="line add">+{NEW_DESCRIPTION}</span>' in html_of(page)
    assert 'id="site-header"' not in html_of(fragment)
    assert "<header" not in html_of(fragment)
    assert html_of(fragment).lstrip().startswith('<section id="diff"')
    assert f'<span class="line add">+{NEW_DESCRIPTION}</span>' in html_of(fragment)
    assert 'aria-current="page">Unified' in html_of(fragment)
    assert "<header" in html_of(page)
    assert page["Vary"] and "HX-Request" in page["Vary"]


def test_htmx_diff_fragment_does_not_count_the_waiting_changes(author, reviewer, architect):
    change = open_change(author, architect)
    client = client_for(reviewer)

    with CaptureQueriesContext(connection) as queries:
        client.get(page_url(change), headers=HTMX)

    assert not any("COUNT(" in query["sql"].upper() for query in queries.captured_queries)


def test_new_agent_change_shows_its_future_path_and_opens_in_the_new_agent_editor(
    author, demo_agents, settings
):
    settings.REGISTRY_NEW_AGENT_FOLDER = "team"
    change = ChangeRequest.start_draft(author=author, text=agent_text("api-designer"))
    client = client_for(author)

    response = client.get(page_url(change))

    text = squashed(response)
    assert f"Change #{change.pk}: new agent api-designer" in text
    assert "A new agent, to be saved as team/api-designer.md" in text
    editor_link = f'href="/agents/new/?change={change.pk}"'
    assert editor_link in html_of(response)
    editor = client.get(f"/agents/new/?change={change.pk}")
    assert editor.status_code == 200
    assert f'name="change" value="{change.pk}"' in html_of(editor)


def test_the_page_shows_only_the_actions_this_user_may_take(author, reviewer, architect):
    change = draft(author, architect)

    as_author = html_of(client_for(author).get(page_url(change)))
    as_reviewer = html_of(client_for(reviewer).get(page_url(change)))
    change.submit(author)
    open_as_author = html_of(client_for(author).get(page_url(change)))
    open_as_reviewer = html_of(client_for(reviewer).get(page_url(change)))

    assert "Submit for review</button>" in as_author
    assert f'href="/agents/backend-architect/edit/?change={change.pk}"' in as_author
    assert "Withdraw…" in as_author
    assert ">Approve</button>" not in as_author
    assert "Submit for review</button>" not in as_reviewer
    assert ">Approve</button>" not in as_reviewer  # a draft is not reviewed yet
    assert ">Approve</button>" not in open_as_author
    assert "Reject…" not in open_as_author
    assert ">Approve</button>" in open_as_reviewer
    assert ">Request changes</button>" in open_as_reviewer
    assert "Reject…" in open_as_reviewer
    assert f'name="seen_hash" value="{change.text_hash}"' in open_as_reviewer
    assert "Withdraw…" not in open_as_reviewer
    assert "Edit in the editor" not in open_as_reviewer


def test_reject_and_withdraw_ask_for_confirmation_without_script(author, reviewer, architect):
    change = open_change(author, architect)

    as_reviewer = html_of(client_for(reviewer).get(page_url(change)))
    as_author = html_of(client_for(author).get(page_url(change)))

    reject = as_reviewer.split('<details class="confirm">')[1].split("</details>")[0]
    assert "<summary>Reject…</summary>" in reject
    assert f'action="{action_url(change, "reject")}"' in reject
    withdraw = as_author.split('<details class="confirm">')[1].split("</details>")[0]
    assert "<summary>Withdraw…</summary>" in withdraw
    assert f"Withdraw change #{change.pk}</button>" in withdraw
    assert "onclick" not in as_reviewer + as_author
    assert "confirm(" not in as_reviewer + as_author


# --- Actions -------------------------------------------------------------------------------------


def test_author_submits_a_draft_for_review(author, architect):
    change = draft(author, architect)

    response = client_for(author).post(action_url(change, "submit"))

    change.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == page_url(change)
    assert change.status == ChangeRequest.Status.OPEN
    assert messages_of(response) == ["Submitted for review."]


def test_submitting_a_text_with_errors_says_why_on_the_page(author, architect):
    change = draft(author, architect, edited(architect, "name:", "name: Not A Name"))
    client = client_for(author)

    response = client.post(action_url(change, "submit"), follow=True)

    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.DRAFT
    (message,) = messages_of(response)
    assert message.startswith("Nothing was done: the text has")
    assert "fix them before submitting" in message
    assert "fix them before submitting" in html_of(response)


def test_reviewer_approves_and_the_change_is_published(author, reviewer, architect):
    change = open_change(author, architect)

    response = client_for(reviewer).post(
        action_url(change, "approve"), {"seen_hash": change.text_hash, "note": "Looks right."}
    )

    change.refresh_from_db()
    architect.refresh_from_db()
    assert response.status_code == 302
    assert change.status == ChangeRequest.Status.PUBLISHED
    assert architect.live_version.number == 2
    assert NEW_DESCRIPTION in architect.live_version.text
    assert messages_of(response) == ["Approved. The change is published as version 2."]
    review = Review.objects.get()
    assert (review.reviewer, review.verdict, review.body) == (reviewer, "approve", "Looks right.")


def test_approving_a_text_changed_since_it_was_shown_is_refused(author, reviewer, architect):
    change = open_change(author, architect)
    shown = change.text_hash
    change.save_text(edited(architect, "description:", "description: Other."), "", 1)

    response = client_for(reviewer).post(action_url(change, "approve"), {"seen_hash": shown})

    change.refresh_from_db()
    assert response.status_code == 302
    assert change.status == ChangeRequest.Status.OPEN
    assert not Review.objects.exists()
    assert messages_of(response) == [
        "Nothing was done: the proposed text changed while you were reviewing it; read it again."
    ]


def test_an_approval_without_the_shown_text_hash_is_refused(author, reviewer, architect):
    change = open_change(author, architect)

    client_for(reviewer).post(action_url(change, "approve"))

    assert not Review.objects.exists()


def test_nobody_approves_their_own_change_not_even_a_superuser(make_user, architect, reviewer):
    root = make_user("root", is_superuser=True)
    change = open_change(root, architect)
    client = client_for(root)

    page = html_of(client.get(page_url(change)))
    response = client.post(action_url(change, "approve"), {"seen_hash": change.text_hash})

    change.refresh_from_db()
    assert ">Approve</button>" not in page
    assert response.status_code == 403
    assert "nobody reviews their own change" in html_of(response)
    assert change.status == ChangeRequest.Status.OPEN
    assert not Review.objects.exists()
    assert AuditEvent.objects.filter(action="change.approve.denied", actor=root).exists()


def test_reviewer_requests_changes_with_a_note(author, reviewer, architect):
    change = open_change(author, architect)

    response = client_for(reviewer).post(
        action_url(change, "request_changes"),
        {"seen_hash": change.text_hash, "note": "Say what it stores."},
    )

    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.CHANGES_REQUESTED
    assert "asked to revise" in messages_of(response)[0]
    page = squashed(client_for(author).get(page_url(change)))
    assert "rex Requested changes" in page
    assert "Say what it stores." in page
    assert "Next: the author, to address the requested changes." in page


def test_reject_closes_the_change_with_the_note_as_a_comment(author, reviewer, architect):
    change = open_change(author, architect)

    client_for(reviewer).post(action_url(change, "reject"), {"note": "Out of scope."})

    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.REJECTED
    assert Comment.objects.get().body == "Out of scope."
    page = squashed(client_for(author).get(page_url(change)))
    assert "Nothing for you to do here." in page


def test_author_withdraws_and_a_second_withdrawal_is_a_clear_error(author, architect):
    change = open_change(author, architect)
    client = client_for(author)

    client.post(action_url(change, "withdraw"), follow=True)
    again = client.post(action_url(change, "withdraw"))

    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.WITHDRAWN
    assert messages_of(again) == ["Nothing was done: the change is already Withdrawn."]


def test_reviewer_publishes_an_approved_change(author, reviewer, architect, make_user):
    change = open_change(author, architect)
    other = make_user("rho", "Reviewers")
    Review.objects.create(
        change=change,
        reviewer=other,
        verdict=Review.Verdict.APPROVE,
        text_hash=change.text_hash,
        revision=change.revision,
    )
    ChangeRequest.objects.filter(pk=change.pk).update(status=ChangeRequest.Status.APPROVED)
    client = client_for(reviewer)

    page = html_of(client.get(page_url(change)))
    response = client.post(action_url(change, "publish"))

    change.refresh_from_db()
    assert ">Publish</button>" in page
    assert change.status == ChangeRequest.Status.PUBLISHED
    assert messages_of(response) == ["Published. The change is published as version 2."]


def test_comments_are_added_and_an_empty_one_is_refused(author, reviewer, architect):
    change = open_change(author, architect)
    client = client_for(reviewer)

    client.post(action_url(change, "comment"), {"body": "Why <b>this</b>?"}, follow=True)
    empty = client.post(action_url(change, "comment"), {"body": "   "})

    assert Comment.objects.get().body == "Why <b>this</b>?"
    assert messages_of(empty) == ["Nothing was done: a comment cannot be empty."]
    page = html_of(client.get(page_url(change)))
    assert "Why &lt;b&gt;this&lt;/b&gt;?" in page


def test_registry_notes_are_shown_apart_from_people(author, reviewer, architect):
    change = open_change(author, architect)
    Comment.objects.create(change=change, author=None, body="Merged into a new revision.")
    Comment.objects.create(change=change, author=reviewer, body="Thanks.")

    html = html_of(client_for(author).get(page_url(change)))

    note = html.split('<li class="comment registry-note" ')[1].split("</li>")[0]
    assert "Registry note" in note
    assert "Merged into a new revision." in note
    person = html.split('<li class="comment" ')[1].split("</li>")[0]
    assert "rex" in person and "Thanks." in person


def test_stale_approval_is_shown_but_not_counted(author, reviewer, architect, settings):
    settings.REGISTRY_APPROVALS_REQUIRED = 2
    change = open_change(author, architect)
    client_for(reviewer).post(action_url(change, "approve"), {"seen_hash": change.text_hash})
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.OPEN
    change.save_text(edited(architect, "description:", "description: Changed again."), "", 1)

    response = client_for(author).get(page_url(change))

    html = html_of(response)
    review = html.split('<li class="review approve stale">')[1].split("</li>")[0]
    assert '<span class="badge stale">stale</span>' in review
    assert "not counted" in review
    assert "0 of 2 needed, of the current text" in squashed(response)
    assert change.valid_approvals().count() == 0


def test_unknown_action_is_not_found_and_get_is_not_allowed(author, reviewer, architect):
    change = open_change(author, architect)
    client = client_for(reviewer)

    assert client.post(f"/changes/{change.pk}/delete/").status_code == 404
    assert client.get(action_url(change, "approve")).status_code == 405


def test_actions_need_the_csrf_token(author, reviewer, architect):
    change = open_change(author, architect)
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)

    response = client.post(action_url(change, "approve"), {"seen_hash": change.text_hash})

    assert response.status_code == 403
    assert not Review.objects.exists()


def test_htmx_action_redirects_the_browser_to_the_change(author, architect):
    change = draft(author, architect)

    response = client_for(author).post(action_url(change, "submit"), headers=HTMX)

    assert response.status_code == 200
    assert response["HX-Redirect"] == page_url(change)


# --- The editor and the change page ----------------------------------------------------------


def test_editor_links_to_the_change_after_saving(author, architect):
    client = client_for(author)
    editor = client.get(f"/agents/{architect.key}/edit/")
    assert 'id="change-link"' not in html_of(editor)
    change = draft(author, architect)

    page = html_of(client.get(f"/agents/{architect.key}/edit/?change={change.pk}"))

    assert f'<a href="{page_url(change)}">Change #{change.pk}</a>' in page
    assert re.search(rf'href="{page_url(change)}" id="change-link">Submit for review…</a>', page)


def test_conflicted_change_is_resolved_in_the_editor_and_saving_rebases_it(author, architect):
    change = open_change(author, architect, edited(architect, "category:", "category: mine"))
    architect.add_version(edited(architect, "category:", "category: theirs"), None, "Meanwhile")
    live = architect.live_version
    ChangeRequest.objects.filter(pk=change.pk).update(
        conflicts=["category"], status=ChangeRequest.Status.CHANGES_REQUESTED
    )
    change.refresh_from_db()
    client = client_for(author)

    page = client.get(page_url(change))
    editor = client.get(f"/agents/{architect.key}/edit/?change={change.pk}")

    assert "conflicts with the live version" in squashed(page)
    assert f'href="/agents/{architect.key}/edit/?change={change.pk}"' in html_of(page)
    html = html_of(editor)
    assert 'id="merge-conflict"' in html
    assert '<span class="line add">+category: theirs</span>' in html
    assert f'<input type="hidden" name="rebase" value="{live.pk}">' in html
    response = client.post(
        f"/agents/{architect.key}/edit/",
        {
            "mode": "raw",
            "text": edited(architect, "category:", "category: both"),
            "change": change.pk,
            "revision": change.revision,
            "rebase": str(live.pk),
            "action": "save",
        },
    )
    change.refresh_from_db()
    assert response.status_code == 302
    assert change.base_version == live
    assert change.conflicts == []
    assert "category: both" in change.text
    assert "Draft saved: 1 line added, 1 removed" in messages_of(response)[0]


def test_a_save_from_a_form_that_did_not_show_the_conflict_does_not_rebase(author, architect):
    change = open_change(author, architect, edited(architect, "category:", "category: mine"))
    base = change.base_version
    architect.add_version(edited(architect, "category:", "category: theirs"), None, "Meanwhile")
    ChangeRequest.objects.filter(pk=change.pk).update(conflicts=["category"])

    client_for(author).post(
        f"/agents/{architect.key}/edit/",
        {
            "mode": "raw",
            "text": edited(architect, "category:", "category: mine again"),
            "change": change.pk,
            "revision": change.revision,
            "action": "save",
        },
    )

    change.refresh_from_db()
    assert change.base_version == base
    assert change.conflicts == ["category"]


def test_only_the_author_edits_a_change_in_the_editor(author, architect, make_user):
    change = draft(author, architect)
    other = make_user("eve", "Editors")
    client = client_for(other)

    page = client.get(f"/agents/{architect.key}/edit/?change={change.pk}")
    response = client.post(
        f"/agents/{architect.key}/edit/",
        {"mode": "raw", "text": "x", "change": change.pk, "revision": 1, "action": "save"},
    )

    change.refresh_from_db()
    assert "only its author can edit it" in squashed(page)
    assert '<fieldset class="editor-frame" disabled>' in html_of(page)
    assert response.status_code == 403
    assert change.revision == 1
    assert AuditEvent.objects.filter(action="change.save.denied", actor=other).exists()


# --- The review queue and the header ---------------------------------------------------------


def test_queue_lists_waiting_mine_and_recently_published(
    author, reviewer, architect, demo_agents, make_user
):
    both = make_user("bea", "Editors", "Reviewers")
    waiting = open_change(author, demo_agents["security-engineer"])
    my_draft = draft(both, demo_agents["performance-engineer"])
    published = open_change(author, architect)
    published.approve(reviewer, seen_hash=published.text_hash)
    withdrawn = open_change(both, architect)
    withdrawn.withdraw(both)

    response = client_for(both).get(reverse("registry:change_queue"))

    html = html_of(response)
    waiting_list = html.split('id="waiting"')[1].split("</section>")[0]
    mine = html.split('id="mine"')[1].split("</section>")[0]
    recent = html.split('id="published"')[1].split("</section>")[0]
    assert f"#{waiting.pk} " in waiting_list
    assert f"#{my_draft.pk} " not in waiting_list
    assert f"#{published.pk} " not in waiting_list
    assert mine.index(f"#{my_draft.pk} ") < mine.index(f"#{withdrawn.pk} ")
    assert f"#{waiting.pk} " not in mine
    assert f"#{published.pk} " in recent


def test_queue_empty_states_for_an_editor(author):
    response = client_for(author).get(reverse("registry:change_queue"))

    text = squashed(response)
    assert "Waiting for my review" not in text
    assert "You have not proposed any change yet." in text
    assert "No change has been published yet." in text


def test_queue_empty_state_for_a_reviewer(reviewer):
    text = squashed(client_for(reviewer).get(reverse("registry:change_queue")))

    assert "Nothing waits for your review." in text


def test_header_shows_how_many_changes_wait_for_the_user(author, reviewer, architect, demo_agents):
    open_change(author, architect)
    open_change(author, demo_agents["security-engineer"])
    draft(author, demo_agents["performance-engineer"])

    as_reviewer = html_of(client_for(reviewer).get("/agents/"))
    as_author = html_of(client_for(author).get("/agents/"))

    assert 'id="waiting-count">2<span class="visually-hidden"> waiting for you' in as_reviewer
    assert 'id="waiting-count">1<span class="visually-hidden"> waiting for you' in as_author
    assert 'href="/changes/" id="queue-link"' in as_author


def test_header_count_is_one_query_and_none_for_anonymous_visitors(author, reviewer, architect):
    open_change(author, architect)
    client = client_for(reviewer)

    with CaptureQueriesContext(connection) as signed_in:
        client.get("/agents/")
    with CaptureQueriesContext(connection) as anonymous:
        Client().get("/accounts/login/")

    counts = [
        query["sql"]
        for query in signed_in.captured_queries
        if "registry_changerequest" in query["sql"] and "COUNT(" in query["sql"].upper()
    ]
    assert len(counts) == 1
    assert not any("registry_changerequest" in q["sql"] for q in anonymous.captured_queries)


def test_no_count_without_changes_waiting(author):
    html = html_of(client_for(author).get("/agents/"))

    assert 'id="queue-link">Changes</a>' in html
    assert "waiting-count" not in html


def test_the_header_counts_the_changes_waiting_for_finds(
    author, reviewer, make_user, demo_agents, settings
):
    settings.REGISTRY_APPROVALS_REQUIRED = 2
    approved_once = open_change(author, demo_agents["backend-architect"])
    approved_once.approve(reviewer, seen_hash=approved_once.text_hash)
    draft(author, demo_agents["performance-engineer"])
    sent_back = open_change(author, demo_agents["security-engineer"])
    sent_back.request_changes(reviewer, "Shorter, please.")
    open_change(make_user("eve", "Editors"), demo_agents["security-engineer"])
    users = [author, reviewer, make_user("ria", "Reviewers"), make_user("nobody")]

    counts = {user.username: ChangeRequest.count_waiting_for(user) for user in users}

    assert counts == {"ada": 2, "rex": 1, "ria": 2, "nobody": 0}
    assert counts == {
        user.username: ChangeRequest.objects.waiting_for(user).count() for user in users
    }


# --- History, compare, restore, archive ------------------------------------------------------


@pytest.fixture
def three_versions(architect, author):
    architect.add_version(edited(architect, "description:", "description: Second."), author, "Two")
    architect.add_version(edited(architect, "description:", "description: Third."), author, "Three")
    architect.refresh_from_db()
    return architect


def test_history_lists_versions_with_radios_to_compare_and_restore_for_editors(
    three_versions, author, reviewer
):
    url = reverse("registry:agent_history", args=[three_versions.key])

    as_editor = html_of(client_for(author).get(url))
    as_reviewer = html_of(client_for(reviewer).get(url))

    assert as_editor.count('type="radio" name="a"') == 3
    assert 'name="a" value="2" form="compare-form" aria-label="Compare from version 2" checked' in (
        as_editor
    )
    assert 'name="b" value="3" form="compare-form" aria-label="Compare to version 3" checked' in (
        as_editor
    )
    assert f'action="{reverse("registry:agent_compare", args=[three_versions.key])}"' in as_editor
    assert as_editor.count("Restore…") == 2  # not the live version
    assert "Restore…" not in as_reviewer
    agent_page = html_of(client_for(reviewer).get(f"/agents/{three_versions.key}/"))
    assert f'href="{url}"' in agent_page


def test_compare_shows_the_diff_between_any_two_versions_both_ways(three_versions, reviewer):
    url = reverse("registry:agent_compare", args=[three_versions.key])
    client = client_for(reviewer)

    page = client.get(url, {"a": 1, "b": 3})
    swapped = client.get(url, {"a": 3, "b": 1})
    fragment = client.get(url, {"a": 1, "b": 3, "view": "unified"}, headers=HTMX)

    assert page.status_code == 200
    assert "version 1 to version 3" in squashed(page)
    assert "version 1 to version 3" in squashed(swapped)
    assert "description: <ins>Third</ins>." in html_of(page)
    assert 'href="?a=1&amp;b=3&amp;view=unified"' in html_of(page)
    assert "<header" not in html_of(fragment)
    assert '<span class="line add">+description: Third.</span>' in html_of(fragment)


def test_compare_defaults_to_the_live_version_and_the_one_before(three_versions, reviewer):
    response = client_for(reviewer).get(
        reverse("registry:agent_compare", args=[three_versions.key])
    )

    assert "version 2 to version 3" in squashed(response)


@pytest.mark.parametrize("query", [{"a": 1, "b": 9}, {"a": "x", "b": 2}, {"a": "-1"}])
def test_compare_of_a_missing_version_is_not_found(three_versions, reviewer, query):
    url = reverse("registry:agent_compare", args=[three_versions.key])

    assert client_for(reviewer).get(url, query).status_code == 404


def test_restore_opens_a_change_with_the_old_text_and_redirects_to_it(three_versions, author):
    url = reverse("registry:agent_restore", args=[three_versions.key, 1])

    response = client_for(author).post(url)

    change = ChangeRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == page_url(change)
    assert change.kind == ChangeRequest.Kind.RESTORE
    assert change.text == three_versions.versions.get(number=1).text
    assert change.base_version == three_versions.live_version
    assert change.status == ChangeRequest.Status.DRAFT


def test_restoring_the_live_version_is_refused_with_a_message(three_versions, author):
    response = client_for(author).post(
        reverse("registry:agent_restore", args=[three_versions.key, 3])
    )

    assert not ChangeRequest.objects.exists()
    assert messages_of(response) == ["Version 3 is the live version already."]


def test_archive_is_offered_with_a_confirmation_and_opens_an_archive_change(architect, author):
    client = client_for(author)
    page = html_of(client.get(f"/agents/{architect.key}/"))

    response = client.post(reverse("registry:agent_archive", args=[architect.key]))

    change = ChangeRequest.objects.get()
    assert '<summary class="button">Archive…</summary>' in page
    assert response["Location"] == page_url(change)
    assert change.kind == ChangeRequest.Kind.ARCHIVE
    change_page = squashed(client.get(page_url(change)))
    assert "Publishing this change archives the agent" in change_page
    assert "Edit in the editor" not in change_page


def test_archive_change_published_archives_the_agent(architect, author, reviewer):
    client_for(author).post(reverse("registry:agent_archive", args=[architect.key]))
    change = ChangeRequest.objects.get()
    client_for(author).post(action_url(change, "submit"))

    response = client_for(reviewer).post(
        action_url(change, "approve"), {"seen_hash": change.text_hash}
    )

    architect.refresh_from_db()
    assert architect.archived
    assert messages_of(response) == ["Approved. The change is published: the agent is archived."]


# --- The audit log -------------------------------------------------------------------------------


@pytest.fixture
def audit_events(demo_agents, author, reviewer, make_user):
    change = open_change(author, demo_agents["backend-architect"])
    change.comment(reviewer, "A question.")
    other_author = make_user("ole", "Editors")
    other = open_change(other_author, demo_agents["security-engineer"])
    other.withdraw(other_author)
    return change


def test_audit_log_is_for_maintainers_only(maintainer, author, reviewer, audit_events):
    url = reverse("registry:audit_log")

    assert client_for(maintainer).get(url).status_code == 200
    assert client_for(author).get(url).status_code == 403
    assert client_for(reviewer).get(url).status_code == 403
    assert AuditEvent.objects.filter(action="audit_log.view.denied", actor=author).exists()


def test_audit_log_shows_newest_first_with_every_column(maintainer, reviewer, audit_events):
    # Refused: only the author withdraws.
    client_for(reviewer).post(action_url(audit_events, "withdraw"), REMOTE_ADDR="10.1.2.3")

    response = client_for(maintainer).get(reverse("registry:audit_log"))

    rows = html_of(response).split("<tbody>")[1].split("</tbody>")[0]
    actions = [
        action
        for action in re.findall(r"<td><code>([\w.]+)</code></td>", rows)
        if action.startswith("change.")
    ]
    assert actions == [
        "change.withdraw.denied",
        "change.withdraw",
        "change.submit",
        "change.create",
        "change.comment",
        "change.submit",
        "change.create",
    ]
    denied = rows.split('<tr class="denied">')[1].split("</tr>")[0]
    assert "<td>rex</td>" in denied
    assert f'<a href="{page_url(audit_events)}">{audit_events}</a>' in denied
    assert "<td>10.1.2.3</td>" in denied
    assert (
        '<code class="details">{&quot;reason&quot;:&quot;only the author can withdraw this '
        "change&quot;}</code>" in denied
    )


def test_audit_log_filters_by_agent_user_and_action(maintainer, audit_events):
    url = reverse("registry:audit_log")
    client = client_for(maintainer)

    def shown(**query):
        rows = html_of(client.get(url, query)).split("<tbody>")
        if len(rows) == 1:
            return []
        return re.findall(r"<td><code>([\w.]+)</code></td>", rows[1].split("</tbody>")[0])

    assert shown(agent="security-engineer") == [
        "change.withdraw",
        "change.submit",
        "change.create",
    ]
    assert shown(agent="Security") == shown(agent="security-engineer")
    assert shown(user="OLE") == ["change.withdraw", "change.submit", "change.create"]
    assert shown(user="rex") == ["change.comment"]
    assert shown(action="change.comment") == ["change.comment"]
    assert shown(agent="backend", user="rex") == ["change.comment"]
    assert shown(agent="nothing-like-it") == []
    assert "No event matches these filters." in html_of(client.get(url, {"user": "nobody"}))
    page = html_of(client.get(url))
    assert '<option value="change.comment">change.comment</option>' in page


def test_audit_log_pages_by_fifty_and_htmx_gets_the_results_only(maintainer, settings):
    for number in range(60):
        AuditEvent.record("test.event", actor=maintainer, number=number)
    client = client_for(maintainer)
    url = reverse("registry:audit_log")

    first = client.get(url, {"action": "test.event"})
    second = client.get(url, {"action": "test.event", "page": 2}, headers=HTMX)

    assert html_of(first).count("<td><code>test.event</code></td>") == 50
    assert '<code class="details">{&quot;number&quot;:59}</code>' in html_of(first)
    assert "Page 1 of 2" in html_of(first)
    assert 'href="?action=test.event&amp;page=2"' in html_of(first)
    assert html_of(second).count("<td><code>test.event</code></td>") == 10
    assert "<header" not in html_of(second)
    assert html_of(second).lstrip().startswith('<section id="results"')
    assert '<code class="details">{&quot;number&quot;:0}</code>' in html_of(second)


def test_audit_log_queries_do_not_grow_with_the_events(maintainer, demo_agents, author):
    client = client_for(maintainer)
    url = reverse("registry:audit_log")
    open_change(author, demo_agents["backend-architect"])
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for name in ("security-engineer", "performance-engineer"):
        for _ in range(5):
            draft(author, demo_agents[name]).withdraw(author)

    with CaptureQueriesContext(connection) as many:
        client.get(url)

    assert len(many.captured_queries) == len(few.captured_queries)
