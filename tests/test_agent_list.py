"""The agent list: search as you type, filters, sorting, paging, and its cost per page."""

import io
import itertools
import re

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry.models import Agent, ChangeRequest, RowPaginator
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text

pytestmark = pytest.mark.django_db

LIST_URL = reverse("registry:agent_list")
FILE_NUMBERS = itertools.count()
HTMX = {"HX-Request": "true"}


def add_agents(*texts: str) -> dict[str, Agent]:
    """Import new files as import_agents would; all the agents by name."""
    report = import_files(
        [IncomingFile(f"agents/file-{next(FILE_NUMBERS)}.md", text.encode()) for text in texts]
    )
    assert not report.rejected
    return {agent.name: agent for agent in Agent.objects.all()}


def listed(response) -> list[str]:
    """The agent names of the result rows, in order."""
    html = response.content.decode()
    return re.findall(r'<a href="/agents/[^"/]+/">([^<]+)</a>', html)


@pytest.fixture
def three_agents():
    return add_agents(
        agent_text(
            "other-agent",
            "Catches whatever the others drop.",
            delegate_to="- **database-tuner** — for the database\n",
        ),
        agent_text(
            "database-tuner",
            "Makes slow queries fast.",
            extra="category: data\n",
            focus="- **Indexes**: the quasiquote of B-trees\n",
        ),
        agent_text("brand-guardian", "Keeps the voice consistent.", extra="category: design\n"),
    )


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(LIST_URL)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_home_redirects_to_the_list(reader):
    assert reader.get("/").url == LIST_URL


def test_rows_show_name_description_category_problems_and_last_change(reader, three_agents):
    response = reader.get(LIST_URL)

    html = response.content.decode()
    assert listed(response) == ["brand-guardian", "database-tuner", "other-agent"]
    assert '<a href="/agents/database-tuner/">database-tuner</a>' in html
    assert "Makes slow queries fast." in html
    assert "<td>data</td>" in html
    assert html.count('<span class="badge ok">valid</span>') == 3
    assert "by import" in html
    assert "3 agents" in html


def test_rows_count_errors_and_warnings(reader, three_agents):
    add_agents(
        agent_text("broken", "Names a ghost.", delegate_to="- **ghost** — x\n- **spook** — y\n"),
        agent_text("vague", "Names nobody.", delegate_to="Whoever is around.\n"),
    )

    html = reader.get(LIST_URL).content.decode()

    assert '<span class="badge error">2 errors</span>' in html
    assert '<span class="badge warning">1 warning</span>' in html
    assert html.count('<span class="badge ok">valid</span>') == 3


def test_long_descriptions_are_shortened(reader):
    add_agents(agent_text("wordy", "word " * 100, delegate_to="- none\n"))

    html = reader.get(LIST_URL).content.decode()

    assert ("word " * 27).strip() in html
    assert ("word " * 40).strip() not in html
    assert "…" in html


def test_text_from_agent_files_is_escaped_in_the_rows(reader):
    add_agents(
        agent_text(
            "<b>bold</b>",
            """<script>alert("x")</script> & 'more'""",
            extra="category: <i>data</i>\n",
        )
    )

    for response in (reader.get(LIST_URL), reader.get(LIST_URL, headers=HTMX)):
        html = response.content.decode()
        assert "<b>" not in html
        assert "<script>" not in html
        assert "<i>" not in html
        assert "&lt;b&gt;bold&lt;/b&gt;</a>" in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;more&#39;" in html
        assert "<td>&lt;i&gt;data&lt;/i&gt;</td>" in html


def test_one_agent_is_counted_in_the_singular(reader):
    add_agents(agent_text("lonely", "Alone.", delegate_to="- none\n"))

    html = reader.get(LIST_URL).content.decode()

    assert re.search(r"\b1 agent\s*</p>", html)


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("brand-guardian", ["brand-guardian"]),  # the name
        ("slow queries", ["database-tuner"]),  # the description
        ("quasiquote", ["database-tuner"]),  # the body
        ("QUASIQUOTE", ["database-tuner"]),  # any case
        ("quasi", ["database-tuner"]),  # a prefix, as typed so far
        ("guard", ["brand-guardian"]),
        ("voice brand", ["brand-guardian"]),  # every word, in any order
        ("voice slow", []),
        ("nothing-like-this", []),
    ],
)
def test_search_matches_name_description_and_body(reader, three_agents, query, found):
    response = reader.get(LIST_URL, {"q": query})

    assert response.status_code == 200
    assert listed(response) == found


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '"unbalanced',
        "(",
        "a) OR (b",
        "*",
        "quasi*",
        "-",
        "-quasiquote",
        "NOT",
        "AND OR NOT NEAR",
        "name:brand",
        "^brand",
        "brand + guardian",
        "a & b | !c <-> d:*",
        "'; DROP TABLE registry_agent; --",
        "\\",
        "%_",
        "😀",
        "日本語",
        "x" * 5000,
        "a " * 500,
        "nul\x00byte",
    ],
)
def test_search_syntax_characters_never_break_the_page(reader, three_agents, query):
    response = reader.get(LIST_URL, {"q": query})

    assert response.status_code == 200


def test_filters_with_nul_bytes_are_ignored(reader, three_agents):
    response = reader.get(LIST_URL, {"category": "data\x00", "status": "\x00"})

    assert len(listed(response)) == 3


def test_search_words_inside_syntax_still_match(reader, three_agents):
    assert listed(reader.get(LIST_URL, {"q": '"quasiquote'})) == ["database-tuner"]
    assert listed(reader.get(LIST_URL, {"q": "(brand*)"})) == ["brand-guardian"]


def test_search_finds_unicode_words(reader):
    add_agents(agent_text("barista", "Prépare le café.", delegate_to="- none\n"))

    assert listed(reader.get(LIST_URL, {"q": "café"})) == ["barista"]
    assert listed(reader.get(LIST_URL, {"q": "prép"})) == ["barista"]


def test_search_follows_the_live_version(reader, three_agents):
    agent = three_agents["brand-guardian"]
    agent.add_version(agent_text("brand-guardian", "Now writes release notes."))

    assert listed(reader.get(LIST_URL, {"q": "release notes"})) == ["brand-guardian"]
    assert listed(reader.get(LIST_URL, {"q": "voice"})) == []


def test_text_without_words_matches_nothing(reader, three_agents):
    response = reader.get(LIST_URL, {"q": '"*()'})

    assert listed(response) == []
    assert "No agents match" in response.content.decode()


def test_category_filter(reader, three_agents):
    response = reader.get(LIST_URL, {"category": "design"})

    assert listed(response) == ["brand-guardian"]
    html = response.content.decode()
    assert '<option value="design" selected>design</option>' in html
    assert '<option value="data">data</option>' in html


@pytest.mark.parametrize(
    ("status", "found"),
    [
        ("valid", ["brand-guardian", "database-tuner", "other-agent"]),
        ("warnings", ["vague"]),
        ("errors", ["broken"]),
        ("open", ["database-tuner"]),
        ("", ["brand-guardian", "broken", "database-tuner", "other-agent", "vague"]),
        ("nonsense", ["brand-guardian", "broken", "database-tuner", "other-agent", "vague"]),
    ],
)
def test_status_filter(reader, user, three_agents, status, found):
    add_agents(
        agent_text("broken", "Delegates to nobody real.", delegate_to="- **ghost** — x\n"),
        agent_text("vague", "Names nobody.", delegate_to="Whoever is around.\n"),
    )
    tuner = three_agents["database-tuner"]
    ChangeRequest.start_draft(author=user, text=tuner.live_version.text, agent=tuner)
    ChangeRequest.objects.create(
        agent=three_agents["brand-guardian"],
        author=user,
        text="x",
        text_hash="x",
        status=ChangeRequest.Status.PUBLISHED,
    )

    assert listed(reader.get(LIST_URL, {"status": status})) == found


def test_open_change_is_shown_on_its_row(reader, user, three_agents):
    tuner = three_agents["database-tuner"]
    ChangeRequest.start_draft(author=user, text=tuner.live_version.text, agent=tuner)

    html = reader.get(LIST_URL).content.decode()

    assert html.count("open change</span>") == 1


def test_archived_agents_are_hidden_unless_asked_for(reader, three_agents):
    Agent.objects.filter(name="brand-guardian").update(archived=True)

    assert "brand-guardian" not in listed(reader.get(LIST_URL))
    shown = reader.get(LIST_URL, {"archived": "on"})
    assert "brand-guardian" in listed(shown)
    assert '<span class="badge">archived</span>' in shown.content.decode()


def test_the_unfiltered_count_leaves_out_archived_agents(reader, three_agents):
    assert "3 agents" in reader.get(LIST_URL).content.decode()
    Agent.objects.filter(name="brand-guardian").update(archived=True)

    assert Agent.objects.active_count() == Agent.objects.active().count() == 2
    assert "2 agents" in reader.get(LIST_URL).content.decode()
    assert "3 agents" in reader.get(LIST_URL, {"archived": "on"}).content.decode()


def test_the_paginator_takes_a_count_given_and_asks_for_none(three_agents):
    ordered = Agent.objects.active().order_by("name")
    with CaptureQueriesContext(connection) as queries:
        paginator = RowPaginator(ordered, 2, Agent.objects.for_list(), count=3)
        assert paginator.num_pages == 2
    assert queries.captured_queries == []
    assert [row["name"] for row in paginator.page(2).object_list] == ["other-agent"]


def test_sort_by_last_change_puts_the_newest_first(reader, three_agents):
    # Imported in the order other-agent, database-tuner, brand-guardian; then other-agent edited.
    three_agents["other-agent"].add_version(agent_text("other-agent", "Edited.", delegate_to="x"))

    by_change = listed(reader.get(LIST_URL, {"sort": "changed"}))
    by_name = listed(reader.get(LIST_URL, {"sort": "name"}))

    assert by_change == ["other-agent", "brand-guardian", "database-tuner"]
    assert by_name == ["brand-guardian", "database-tuner", "other-agent"]


def test_names_are_sorted_regardless_of_case(reader):
    # Imported files keep their names, valid or not.
    add_agents(
        *[
            agent_text(name, "A job.", delegate_to="- none\n")
            for name in ["delta", "Charlie", "bravo"]
        ]
    )

    assert listed(reader.get(LIST_URL)) == ["bravo", "Charlie", "delta"]
    assert listed(reader.get(LIST_URL, {"q": "job", "sort": "name"})) == [
        "bravo",
        "Charlie",
        "delta",
    ]


@pytest.fixture
def kubernetes_agents():
    body = "- **Everything else**: logs, queues, caches and one kubernetes cluster\n"
    return add_agents(
        agent_text("aardvark-tool", "Digs through logs.", focus=body, delegate_to="- none\n"),
        agent_text("zulu-cluster", "Runs Kubernetes clusters.", delegate_to="- none\n"),
        agent_text("kubernetes-operator", "Operates things.", delegate_to="- none\n"),
        agent_text("kubernetes", "Knows the platform.", delegate_to="- none\n"),
        agent_text("brand-guardian", "Keeps the voice consistent.", delegate_to="- none\n"),
    )


def test_search_results_come_best_match_first(reader, kubernetes_agents):
    # The agent named as the search, then a name that starts with it, then a description that
    # holds it before a body that does, whatever the names' order.
    expected = ["kubernetes", "kubernetes-operator", "zulu-cluster", "aardvark-tool"]

    assert listed(reader.get(LIST_URL, {"q": "kubernetes"})) == expected
    assert listed(reader.get(LIST_URL, {"q": "Kubernetes", "sort": "relevance"})) == expected
    # The search box's own order: the first option is chosen.
    html = reader.get(LIST_URL, {"q": "kubernetes"}).content.decode()
    assert '<option value="relevance" selected>Best match</option>' in html


def test_a_name_typed_with_spaces_still_comes_first(reader, kubernetes_agents):
    assert listed(reader.get(LIST_URL, {"q": "kubernetes operator"}))[0] == "kubernetes-operator"


def test_the_sort_choice_still_orders_search_results(reader, kubernetes_agents):
    kubernetes_agents["aardvark-tool"].add_version(
        agent_text(
            "aardvark-tool",
            "Digs through logs.",
            focus="- **Everything**: kubernetes\n",
            delegate_to="- none\n",
        )
    )

    by_name = listed(reader.get(LIST_URL, {"q": "kubernetes", "sort": "name"}))
    by_change = listed(reader.get(LIST_URL, {"q": "kubernetes", "sort": "changed"}))

    assert by_name == ["aardvark-tool", "kubernetes", "kubernetes-operator", "zulu-cluster"]
    assert by_change[0] == "aardvark-tool"


def test_without_a_search_best_match_is_by_name(reader, kubernetes_agents):
    assert (
        listed(reader.get(LIST_URL, {"sort": "relevance"}))
        == listed(reader.get(LIST_URL))
        == [
            "aardvark-tool",
            "brand-guardian",
            "kubernetes",
            "kubernetes-operator",
            "zulu-cluster",
        ]
    )


def test_pages_hold_fifty_agents_and_keep_the_filters(reader):
    add_agents(
        *[agent_text(f"agent-{n:03}", "Same job.", delegate_to="- none\n") for n in range(60)]
    )

    first = reader.get(LIST_URL, {"q": "same", "sort": "name"})
    second = reader.get(LIST_URL, {"q": "same", "sort": "name", "page": "2"})

    assert len(listed(first)) == 50
    assert listed(second) == [f"agent-{n:03}" for n in range(50, 60)]
    first_html = first.content.decode()
    assert "Page 1 of 2" in first_html
    assert 'href="/agents/?q=same&amp;sort=name&amp;page=2"' in first_html
    assert "Previous" not in first_html
    second_html = second.content.decode()
    assert "Page 2 of 2" in second_html
    assert 'href="/agents/?q=same&amp;sort=name&amp;page=1"' in second_html
    assert "Next" not in second_html


def test_page_links_load_the_next_results_in_place(reader):
    add_agents(
        *[agent_text(f"agent-{n:03}", "Same job.", delegate_to="- none\n") for n in range(51)]
    )

    html = reader.get(LIST_URL, {"page": "2"}, headers=HTMX).content.decode()

    assert '<nav class="pagination" aria-label="Pages">' in html
    assert (
        '<a href="/agents/?page=1" rel="prev"\n'
        '       hx-get="/agents/?page=1" hx-target="#results" hx-swap="outerHTML" '
        'hx-push-url="true">&larr; Previous</a>'
    ) in html


def test_a_page_past_the_end_shows_the_last_page(reader, three_agents):
    response = reader.get(LIST_URL, {"page": "99"})

    assert len(listed(response)) == 3


def test_htmx_request_gets_only_the_results(reader, three_agents):
    response = reader.get(LIST_URL, {"q": "brand"}, headers=HTMX)

    html = response.content.decode()
    assert "<html" not in html
    assert "<form" not in html
    assert html.lstrip().startswith('<section id="results"')
    assert listed(response) == ["brand-guardian"]
    assert "HX-Request" in response["Vary"]


def test_normal_request_gets_the_whole_page(reader, three_agents):
    response = reader.get(LIST_URL, {"q": "brand"})

    html = response.content.decode()
    assert "<html" in html
    assert 'id="results"' in html
    assert '<input type="search" id="agent-search" name="q" value="brand"' in html


def test_back_button_history_restore_gets_the_whole_page(reader, three_agents):
    response = reader.get(
        LIST_URL, {"q": "brand"}, headers={**HTMX, "HX-History-Restore-Request": "true"}
    )

    assert "<html" in response.content.decode()


def test_search_box_is_labelled_and_searches_as_you_type(reader, three_agents):
    html = reader.get(LIST_URL).content.decode()

    assert '<label for="agent-search">Search</label>' in html
    assert 'hx-trigger="input changed delay:250ms, search"' in html
    assert 'hx-push-url="true"' in html
    assert '<form class="toolbar" method="get" action="/agents/"' in html
    for control in ("agent-category", "agent-status", "agent-sort", "agent-archived"):
        assert f'<label for="{control}">' in html


def test_empty_registry_says_how_to_import(reader):
    html = reader.get(LIST_URL).content.decode()

    assert "No agents yet" in html
    assert "manage.py import_agents DIR" in html


def test_no_results_offer_to_clear_the_search(reader, three_agents):
    html = reader.get(LIST_URL, {"q": "zzz"}).content.decode()

    assert "No agents match &ldquo;zzz&rdquo;" in html
    assert '<a href="/agents/">Clear the search and filters</a>' in html
    assert "No agents yet" not in html


def test_the_search_is_escaped_where_nothing_matches(reader, three_agents):
    html = reader.get(LIST_URL, {"q": "<b>zzz</b>"}, headers=HTMX).content.decode()

    assert "No agents match &ldquo;&lt;b&gt;zzz&lt;/b&gt;&rdquo;" in html


def test_queries_per_page_do_not_grow_with_the_number_of_agents(
    reader, user, django_assert_num_queries
):
    def add(numbers):
        add_agents(*[agent_text(f"agent-{n:03}", "Same.", extra="category: c\n") for n in numbers])
        for agent in Agent.objects.order_by("?")[:3]:
            ChangeRequest.start_draft(author=user, text=agent.live_version.text, agent=agent)

    def page_queries(count: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = reader.get(LIST_URL, {"sort": "changed"})
        assert len(listed(response)) == count
        # The fragment: session, user, the cache key, count, the page's keys, its rows.
        with django_assert_num_queries(6):
            fragment = reader.get(LIST_URL, {"q": "same", "category": "c"}, headers=HTMX)
        assert len(listed(fragment)) == count
        return len(queries)

    add(range(5))
    with_five = page_queries(5)
    add(range(5, 60))
    with_sixty = page_queries(50)

    assert with_five == with_sixty


def test_list_never_reads_version_text(reader, three_agents):
    with CaptureQueriesContext(connection) as queries:
        reader.get(LIST_URL, {"q": "brand", "sort": "changed"})

    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert '"registry_version"."created_at"' in sql
    assert '"registry_version"."text"' not in sql
    assert '"registry_agent"."problems"' not in sql


def test_seed_agents_creates_many_searchable_agents(reader):
    call_command("seed_agents", 120, "--prefix", "bulk", stdout=io.StringIO(), stderr=io.StringIO())

    assert Agent.objects.filter(name__startswith="bulk-").count() == 120
    assert Agent.objects.filter(live_version__isnull=True).count() == 0
    assert Agent.objects.filter(error_count__gt=0).count() == 0
    response = reader.get(LIST_URL, {"q": "bulk"})
    assert "120 agents found" in response.content.decode()
    assert len(listed(reader.get(LIST_URL, {"q": "kubernetes"}))) > 0


@pytest.mark.django_db
def test_searching_a_hyphenated_name_finds_that_agent(client, django_user_model):
    import_files(
        [
            IncomingFile("agents/helper-5.md", agent_text("helper-5").encode()),
            IncomingFile("agents/helper-6.md", agent_text("helper-6").encode()),
        ]
    )
    client.force_login(django_user_model.objects.create_user("reader"))
    page = client.get("/agents/", {"q": "helper-5"}).content.decode()
    assert 'href="/agents/helper-5/"' in page
    assert 'href="/agents/helper-6/"' not in page


# --- The results cache ----------------------------------------------------------------------


def test_a_repeated_request_is_answered_from_the_cache(reader, three_agents):
    reader.get(LIST_URL, {"q": "queries"}, headers=HTMX)
    with CaptureQueriesContext(connection) as queries:
        response = reader.get(LIST_URL, {"q": "queries"}, headers=HTMX)

    assert listed(response) == ["database-tuner"]
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert "COUNT(*)" not in sql and '"registry_agent"."description"' not in sql


def test_a_new_version_shows_at_once(reader, three_agents):
    assert "Keeps the voice consistent." in reader.get(LIST_URL).content.decode()
    agent = three_agents["brand-guardian"]
    agent.add_version(agent_text("brand-guardian", "Now writes release notes."))

    html = reader.get(LIST_URL).content.decode()

    assert "Now writes release notes." in html and "Keeps the voice" not in html


def test_an_opened_change_shows_at_once(reader, user, three_agents):
    assert "open change</span>" not in reader.get(LIST_URL).content.decode()
    tuner = three_agents["database-tuner"]
    ChangeRequest.start_draft(author=user, text=tuner.live_version.text, agent=tuner)

    assert reader.get(LIST_URL).content.decode().count("open change</span>") == 1


def test_problems_recomputed_for_other_agents_show_at_once(reader):
    add_agents(agent_text("lonely", "Waits.", delegate_to="- **helper** — for help\n"))
    assert "1 error</span>" in reader.get(LIST_URL).content.decode()

    add_agents(agent_text("helper", "Helps.", delegate_to="- **lonely** — back\n"))

    html = reader.get(LIST_URL).content.decode()
    assert listed(reader.get(LIST_URL)) == ["helper", "lonely"]
    assert "error</span>" not in html


def test_an_update_through_the_queryset_shows_at_once(reader, three_agents):
    assert "brand-guardian" in listed(reader.get(LIST_URL))
    Agent.objects.filter(name="brand-guardian").update(archived=True)

    assert "brand-guardian" not in listed(reader.get(LIST_URL))
    assert "design" not in reader.get(LIST_URL).content.decode()  # nor its category


def test_the_empty_state_follows_the_users_permissions(client, make_user):
    client.force_login(make_user("someone"))
    assert "upload the files" not in client.get(LIST_URL).content.decode()

    client.force_login(make_user("keeper", "Maintainers"))

    assert "upload the files" in client.get(LIST_URL).content.decode()


def test_the_cache_can_be_turned_off(reader, three_agents, settings):
    settings.REGISTRY_LIST_CACHE_SECONDS = 0
    reader.get(LIST_URL, headers=HTMX)
    with CaptureQueriesContext(connection) as queries:
        reader.get(LIST_URL, headers=HTMX)

    assert any("COUNT(*)" in query["sql"] for query in queries.captured_queries)


def test_on_postgresql_any_commit_elsewhere_moves_the_cache_key():
    """updated_at is stamped before commit, so the key also holds PostgreSQL's snapshot."""
    if connection.vendor != "postgresql":
        pytest.skip("the snapshot is PostgreSQL's; SQLite serializes its writers")
    before = Agent.objects.generation()
    assert Agent.objects.generation() == before  # nothing committed in between
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or "postgres",
        password=settings["PASSWORD"] or "",
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
    ) as other:
        other.execute("SELECT pg_current_xact_id()")  # a transaction of its own, committed

    assert Agent.objects.generation() != before


def test_a_page_of_search_results_keeps_the_ranked_order_across_pages(kubernetes_agents):
    ranked = Agent.objects.listed(q="kubernetes").in_order("relevance", "kubernetes")
    paginator = RowPaginator(ranked, 3, Agent.objects.for_list())

    first, second = paginator.page(1), paginator.page(2)

    assert paginator.count == 4
    assert [row["name"] for row in first] == ["kubernetes", "kubernetes-operator", "zulu-cluster"]
    assert [row["name"] for row in second] == ["aardvark-tool"]
    # The rows carry what the list shows, read in the second query.
    assert [row["has_open_change"] for row in first] == [False, False, False]


def test_an_agent_gone_between_the_two_queries_is_left_out_of_its_page(kubernetes_agents):
    ranked = Agent.objects.listed(q="kubernetes").in_order("relevance", "kubernetes")
    rows = Agent.objects.for_list().exclude(name="kubernetes-operator")

    page = RowPaginator(ranked, 50, rows).page(1)

    assert [row["name"] for row in page] == ["kubernetes", "zulu-cluster", "aardvark-tool"]


def test_model_rows_are_paged_too(kubernetes_agents):
    # The API pages model instances with the same paginator.
    ranked = Agent.objects.listed(q="kubernetes").in_order("relevance", "kubernetes")

    page = RowPaginator(ranked, 2, Agent.objects.all()).page(1)

    assert [agent.display_name for agent in page] == ["kubernetes", "kubernetes-operator"]
