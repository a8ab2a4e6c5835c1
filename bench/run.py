"""Measure the registry on this machine against a fresh database and print one table.

Import and export next to raw writes of the same rows and bytes, HTTP throughput and latency
under gunicorn next to Django's admin and a constant view, queries per page, worker memory.
Run with `make bench`; `--quick` is a smoke run of about 20 s (too small for the targets)."""

from __future__ import annotations

import argparse
import base64
import gc
import os
import platform
import re
import runpy
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import generate, load  # noqa: E402

CLIENTS = 8
WORKERS = 2
EDITOR_TEXT_BYTES = 6000  # the live check posts an agent of about this size


@dataclass
class Row:
    """One line of the table: a measure over the rounds, its target and whether it is met."""

    measure: str
    values: list[float] = field(default_factory=list)
    unit: str = ""
    target: str = ""
    passed: bool | None = None  # None: a reference figure, no target
    note: str = ""

    def cells(self) -> list[str]:
        if not self.values:
            numbers = ["-", "-", "-"]
        elif len(set(self.values)) == 1 and float(self.values[0]).is_integer():
            numbers = [f"{self.values[0]:.0f}", "", ""]
        else:
            numbers = [
                number(statistics.median(self.values)),
                number(min(self.values)),
                number(max(self.values)),
            ]
        result = "" if self.passed is None else ("PASS" if self.passed else "FAIL")
        return [self.measure, *numbers, self.unit, self.target, result]


def number(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def print_table(rows: list[Row]) -> None:
    header = ["Measure", "Median", "Min", "Max", "Unit", "Target", "Result"]
    lines = [header] + [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {1, 2, 3}

    def render(line):
        return (
            "| "
            + " | ".join(
                cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                for i, cell in enumerate(line)
            )
            + " |"
        )

    print(render(header))
    print(
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if i in right else "-" * (w + 2) for i, w in enumerate(widths)
        )
        + "|"
    )
    for line in lines[1:]:
        print(render(line))
    for row in rows:
        if row.note:
            print(f"  {row.measure}: {row.note}")


def machine_lines(database: str) -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory = "unknown"
    if Path("/proc/meminfo").exists():
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"Machine: {cpus} CPUs (nproc), {model}, {memory} memory, "
        f"Python {platform.python_version()}, {database}",
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


# --- Database ------------------------------------------------------------------------------


def setup_django(arguments) -> str:
    """Configure the environment (before Django loads) and return the database's description."""
    if os.environ.get("DATABASE_URL"):
        database_url = os.environ["DATABASE_URL"]
    else:
        path = Path(arguments.db).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()
        database_url = f"sqlite:///{path}"
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="bench.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        CONN_MAX_AGE="60",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    from registry.models import Agent

    if Agent.objects.exists() or get_user_model().objects.exists():
        sys.exit("bench: the database is not empty; it must be a fresh one (it is wiped)")
    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} ({database_url.removeprefix('sqlite:///')})"
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        return cursor.fetchone()[0].split(",")[0]


def reset_registry() -> None:
    """Remove every agent, version, change and audit event, and the delegation index (versions
    refuse the ORM's delete)."""
    from django.db import connection, transaction

    from registry.models import (
        Agent,
        AgentDelegation,
        AuditEvent,
        ChangeRequest,
        Comment,
        Review,
        Version,
        search,
    )

    with transaction.atomic(), connection.cursor() as cursor:
        for model in (AuditEvent, Review, Comment, ChangeRequest, AgentDelegation):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
        cursor.execute(f"UPDATE {Agent._meta.db_table} SET live_version_id = NULL")
        cursor.execute(f"DELETE FROM {Version._meta.db_table}")
        cursor.execute(f"DELETE FROM {Agent._meta.db_table}")
        if connection.vendor == "sqlite":
            cursor.execute(f"DELETE FROM {search.FTS_TABLE}")


def read_files(folder: Path):
    from registry.sync.importing import IncomingFile

    return [
        IncomingFile(path.relative_to(folder).as_posix(), path.read_bytes())
        for path in sorted(folder.rglob("*.md"))
    ]


def timed_import(folder: Path) -> float:
    from registry.sync.importing import import_files

    began = time.perf_counter()
    # As `manage.py import_agents` does: one validating process per CPU.
    report = import_files(
        read_files(folder), message="Benchmark import", workers=len(os.sched_getaffinity(0))
    )
    elapsed = time.perf_counter() - began
    if report.rejected or not report.stored:
        sys.exit(f"bench: the import refused files: {report.rejected[:3]}")
    return elapsed


def timed_raw_insert(folder: Path) -> float:
    """Read the same files, then insert every row the import stored (agents, versions, the
    delegation index and, on SQLite, the search table's rows; PostgreSQL's index is a column of
    the agent row) into scratch tables of the same shape and indexes, with executemany, in one
    transaction."""
    from django.db import connection, transaction

    from registry.models import Agent, AgentDelegation, Version, search

    tables = [Agent._meta.db_table, Version._meta.db_table, AgentDelegation._meta.db_table]
    if connection.vendor == "sqlite":
        tables.append(search.FTS_TABLE)
    copies = []
    with connection.cursor() as cursor:
        for table in tables:
            scratch = f"bench_scratch_{table}"
            columns = "rowid, *" if table == search.FTS_TABLE else "*"
            cursor.execute(f"SELECT {columns} FROM {table}")
            names = [column[0] for column in cursor.description]
            copies.append((scratch, names, cursor.fetchall()))
            cursor.execute(f"DROP TABLE IF EXISTS {scratch}")
            for statement in scratch_table_ddl(cursor, table, scratch):
                cursor.execute(statement)
    began = time.perf_counter()
    read_files(folder)
    with transaction.atomic(), connection.cursor() as cursor:
        for scratch, names, rows in copies:
            marks = ", ".join(["%s"] * len(names))
            cursor.executemany(f"INSERT INTO {scratch} ({', '.join(names)}) VALUES ({marks})", rows)
    elapsed = time.perf_counter() - began
    with connection.cursor() as cursor:
        for scratch, _, _ in copies:
            cursor.execute(f"DROP TABLE {scratch}")
    return elapsed


def scratch_table_ddl(cursor, table: str, scratch: str) -> list[str]:
    """Statements that make an empty copy of table named scratch, with the same columns,
    constraints and indexes (on SQLite, the same FTS5 definition for the search table)."""
    if cursor.db.vendor == "postgresql":
        return [f"CREATE TABLE {scratch} (LIKE {table} INCLUDING ALL)"]
    cursor.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = %s AND sql IS NOT NULL "
        "AND type IN ('table', 'index') ORDER BY type DESC",
        [table],
    )
    name = re.compile(rf'(?<![\w"])"?{table}"?(?![\w"])')
    index = re.compile(r'^(CREATE (?:UNIQUE )?INDEX )("?)(\w+)\2')
    return [
        name.sub(f'"{scratch}"', index.sub(r'\1"bench_scratch_\3"', row[0]))
        for row in cursor.fetchall()
    ]


# --- Export --------------------------------------------------------------------------------


def raw_write(folder: Path, files: list[tuple[str, bytes]]) -> float:
    began = time.perf_counter()
    for path, data in files:
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    return time.perf_counter() - began


def raw_read(folder: Path, files: list[tuple[str, bytes]]) -> float:
    """Open and read each of the files again: what a comparison with them costs at least."""
    began = time.perf_counter()
    for path, _ in files:
        with open(folder / path, "rb") as handle:
            handle.read()
    return time.perf_counter() - began


# --- Pages ---------------------------------------------------------------------------------


def validation_times(rounds: int) -> tuple[list[float], int]:
    """Per round, the median over the real corpus (tests/corpus) of the time to read one file
    and find its problems, as the linter and the editor's check do (ms), and the file count."""
    from django.conf import settings

    from registry.agentfiles import validation
    from registry.agentfiles.document import AgentDocument, DocumentError

    files = [path.read_bytes() for path in sorted((ROOT / "tests" / "corpus").rglob("*.md"))]
    names = set()
    for data in files:
        try:
            names.add(validation.agent_name(AgentDocument.parse(data)) or "")
        except DocumentError:
            continue
    # The run has built a large heap by now (10,000 agents and more); frozen, the collector's
    # passes cost what they cost a linter or editor process, not what the benchmark left.
    gc.collect()
    gc.freeze()
    medians = []
    for _ in range(rounds):
        times = []
        for data in files:
            began = time.perf_counter()
            try:
                document = AgentDocument.parse(data)
            except DocumentError:
                continue
            validation.validate(
                document, names, required_sections=settings.REGISTRY_REQUIRED_SECTIONS
            )
            times.append((time.perf_counter() - began) * 1000)
        medians.append(statistics.median(times))
    gc.unfreeze()
    return medians, len(files)


def make_superuser():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("bench", "bench@example.com", None)


def session_cookie(user) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


def editor_agent():
    """The agent whose text is nearest EDITOR_TEXT_BYTES."""
    from django.db.models import F, Func, IntegerField

    from registry.models import Agent

    return (
        Agent.objects.select_related("live_version")
        .annotate(
            size=Func(F("live_version__text"), function="LENGTH", output_field=IntegerField())
        )
        .filter(size__gte=EDITOR_TEXT_BYTES - 500, size__lte=EDITOR_TEXT_BYTES + 500)
        .order_by("pk")
        .first()
        or Agent.objects.select_related("live_version").order_by("pk").first()
    )


def make_change(user):
    from registry.models import Agent, ChangeRequest

    agent = Agent.objects.select_related("live_version").order_by("pk").first()
    text = agent.live_version.text.replace("## Outputs", "## Outputs\n- **Benchmark**: a change")
    return ChangeRequest.start_draft(author=user, text=text, agent=agent, message="Benchmark")


def queries_per_page(user) -> dict[str, int]:
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from registry.models import Agent

    change = make_change(user)
    agent = Agent.objects.filter(live_version__delegations__icontains="-").order_by("pk").first()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    counts = {}
    for label, url in (
        ("agent list /agents/", "/agents/"),
        ("agent page /agents/<key>/", f"/agents/{agent.key}/"),
        ("change page /changes/<id>/", f"/changes/{change.pk}/"),
    ):
        client.get(url)  # warm, as in a running server; but the list's results are not cached
        with (
            CaptureQueriesContext(connection) as queries,
            override_settings(REGISTRY_LIST_CACHE_SECONDS=0),
        ):
            response = client.get(url)
        if response.status_code != 200:
            sys.exit(f"bench: {url} answered {response.status_code}")
        counts[label] = len(queries)
    return counts


GUNICORN_CONFIG = ROOT / "agentsite" / "gunicorn.conf.py"


def gunicorn_server(options: list[str]) -> str:
    """The server the HTTP rows measure, as the table's heading names it: make serve's
    configuration with WORKERS workers and the options given (e.g. `-k sync --threads 1`)."""
    config = runpy.run_path(str(GUNICORN_CONFIG))
    given = dict(zip(options, options[1:], strict=False))
    threads = int(given.get("--threads", config.get("threads", 1)))
    kind = given.get("-k", given.get("--worker-class", config.get("worker_class", "sync")))
    if kind == "sync" and threads > 1:  # as gunicorn does
        kind = "gthread"
    return f"gunicorn -w {WORKERS}, {kind} workers" + (
        f" x {threads} threads" if threads > 1 else ""
    )


def start_gunicorn(port: int, log: Path, options: list[str], **env: str) -> subprocess.Popen:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    command = [str(gunicorn)] if gunicorn.exists() else [sys.executable, "-m", "gunicorn"]
    process = subprocess.Popen(
        [
            *command,
            "agentsite.wsgi",
            "--config",
            str(GUNICORN_CONFIG),
            "-w",
            str(WORKERS),
            *options,
            "-b",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "5",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"bench: gunicorn exited; see {log}")
        try:
            connection = load.http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            status, _ = load.send(connection, load.Request("GET", "/healthz"))
            connection.close()
            if status == 200 and len(worker_pids(process.pid)) == WORKERS:
                return process
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    sys.exit(f"bench: gunicorn did not answer within 60 s; see {log}")


def stop_gunicorn(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def http_requests(user, search_word: str) -> dict[str, load.Request]:
    session = session_cookie(user)
    csrf = secrets.token_hex(16)  # 32 characters: an unmasked CSRF secret
    cookie = f"sessionid={session}; csrftoken={csrf}"
    get = {"Cookie": cookie}
    agent = editor_agent()
    source = agent.live_version.text
    typed = source.replace("## Boundaries", "Typed a new sentence while editing.\n\n## Boundaries")
    form = urllib.parse.urlencode(
        {
            "mode": "raw",
            "text": typed,
            "source": base64.b64encode(source.encode()).decode(),
            "message": "",
            "action": "check",
        }
    ).encode()
    post = {
        "Cookie": cookie,
        "X-CSRFToken": csrf,
        "HX-Request": "true",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return {
        "list": load.Request("GET", "/agents/", headers=get),
        "search": load.Request("GET", f"/agents/?q={search_word}", headers=get),
        "admin list": load.Request("GET", "/admin/registry/agent/", headers=get),
        "admin search": load.Request("GET", f"/admin/registry/agent/?q={search_word}", headers=get),
        "agent page": load.Request("GET", f"/agents/{agent.key}/", headers=get),
        "live check": load.Request("POST", f"/agents/{agent.key}/edit/", form, post),
        "constant": load.Request("POST", "/bench/constant", form, post),
    }, len(source.encode())


# --- The run -------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per HTTP measure")
    parser.add_argument("--quick", action="store_true", help="100 agents, 1 round, 2 s")
    parser.add_argument(
        "--gunicorn",
        default="",
        help="more gunicorn options for the HTTP rows, e.g. '--threads 1' (sync workers)",
    )
    parser.add_argument(
        "--db",
        default=str(ROOT / ".bench" / "bench.sqlite3"),
        help="the throwaway SQLite file (wiped first); DATABASE_URL, when set, wins",
    )
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.agents, arguments.rounds, arguments.duration = 100, 1, 2.0
    small = min(100, arguments.agents)
    started = time.perf_counter()

    database = setup_django(arguments)
    from registry.models import Agent
    from registry.sync.exporting import export_agents

    work = Path(arguments.db).resolve().parent / (Path(arguments.db).stem + "-work")
    shutil.rmtree(work, ignore_errors=True)
    agents_folder = work / "agents"
    generate.write_agents(agents_folder, arguments.agents)
    say = lambda message: print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)  # noqa: E731
    say(f"{arguments.agents} agent files written to {agents_folder}")

    user = make_superuser()
    rows: list[Row] = []
    n = f"{arguments.agents:,}"

    # Queries per page with 100 agents, then the import rounds with N.
    small_folder = work / "small"
    for path in sorted(agents_folder.rglob("*.md"))[:small]:
        target = small_folder / path.relative_to(agents_folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    timed_import(small_folder)
    queries_small = queries_per_page(user)
    say(f"queries per page at {small} agents: {queries_small}")

    imports, raws = [], []
    for round_number in range(arguments.rounds):
        reset_registry()
        imports.append(timed_import(agents_folder))
        raws.append(timed_raw_insert(agents_folder))
        say(f"round {round_number + 1}: import {imports[-1]:.2f} s, raw insert {raws[-1]:.2f} s")
    ratios = [a / b for a, b in zip(imports, raws, strict=True)]
    rows += [
        Row(f"import {n} files: import_files", imports, "s"),
        Row(f"import {n} files: raw executemany of the same rows", raws, "s"),
        Row("import / raw insert", ratios, "x", "<= 3x", statistics.median(ratios) <= 3),
    ]
    errors = Agent.objects.filter(error_count__gt=0).count()
    warnings = Agent.objects.filter(error_count=0, warning_count__gt=0).count()
    say(f"{Agent.objects.count()} agents: {errors} with errors, {warnings} with only warnings")

    queries_large = queries_per_page(user)

    # Export.
    files = list(
        Agent.objects.order_by("path").values_list("path", "live_version__text").iterator()
    )
    files = [(path, text.encode()) for path, text in files]
    exports, raw_writes, again, again_written, raw_reads = [], [], [], [], []
    for round_number in range(arguments.rounds):
        export_folder, raw_folder = work / "export", work / "raw"
        for folder in (export_folder, raw_folder):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
        began = time.perf_counter()
        report = export_agents(export_folder)
        exports.append(time.perf_counter() - began)
        if len(report.written) != len(files):
            sys.exit(f"bench: export wrote {len(report.written)} of {len(files)} files")
        raw_writes.append(raw_write(raw_folder, files))
        began = time.perf_counter()
        second = export_agents(export_folder)
        again.append(time.perf_counter() - began)
        again_written.append(len(second.written))
        raw_reads.append(raw_read(export_folder, files))
        say(
            f"round {round_number + 1}: export {exports[-1]:.2f} s, raw write "
            f"{raw_writes[-1]:.2f} s, second export {again[-1]:.2f} s"
        )
    for folder in (work / "export", work / "raw"):
        shutil.rmtree(folder, ignore_errors=True)
    ratios = [a / b for a, b in zip(exports, raw_writes, strict=True)]
    rows += [
        Row(f"export {n} files: export_agents to an empty dir", exports, "s"),
        Row(f"export {n} files: raw open/write/fsync", raw_writes, "s"),
        Row("export / raw write", ratios, "x", "<= 1.5x", statistics.median(ratios) <= 1.5),
        Row(
            "second export, nothing changed: files written",
            again_written,
            "files",
            "0",
            max(again_written) == 0,
        ),
        Row("second export, nothing changed: time", again, "s", "< 1 s", max(again) < 1),
        Row(f"read {n} exported files: raw open/read", raw_reads, "s"),
        Row(
            "second export / raw read",
            [a / b for a, b in zip(again, raw_reads, strict=True)],
            "x",
            "<= 1.5x",
            statistics.median([a / b for a, b in zip(again, raw_reads, strict=True)]) <= 1.5,
        ),
    ]

    # Recheck after a rules change: a required section added, then taken away again.
    from django.conf import settings

    from registry.models.deriving import recheck

    default_sections = list(settings.REGISTRY_REQUIRED_SECTIONS)
    rechecks = []
    for round_number in range(arguments.rounds):
        settings.REGISTRY_REQUIRED_SECTIONS = (
            default_sections + ["Examples"] if round_number % 2 == 0 else default_sections
        )
        began = time.perf_counter()
        count = recheck(workers=len(os.sched_getaffinity(0)))
        rechecks.append(time.perf_counter() - began)
        if count != Agent.objects.count():
            sys.exit(f"bench: recheck found {count} of {Agent.objects.count()} versions stale")
        say(f"round {round_number + 1}: recheck {rechecks[-1]:.2f} s")
    if default_sections != settings.REGISTRY_REQUIRED_SECTIONS:
        settings.REGISTRY_REQUIRED_SECTIONS = default_sections
        recheck(workers=len(os.sched_getaffinity(0)))
    ratios = [a / b for a, b in zip(rechecks, imports, strict=True)]
    rows += [
        Row(f"recheck {n} agents after a rules change", rechecks, "s"),
        Row("recheck / import", ratios, "x", "<= 1x", statistics.median(ratios) <= 1),
    ]

    # Validation of one real file, as the linter and the editor's check do it.
    validations, corpus_files = validation_times(arguments.rounds)
    say(f"validation: median {statistics.median(validations):.2f} ms a file over {corpus_files}")
    rows.append(
        Row(
            f"validate one file: median over the {corpus_files} corpus files",
            validations,
            "ms",
            "<= 1.5 ms",
            statistics.median(validations) <= 1.5,
        )
    )

    # HTTP under gunicorn.
    requests, editor_bytes = http_requests(user, generate.SEARCH_WORD)
    port = free_port()
    options = shlex.split(arguments.gunicorn)
    server_line = gunicorn_server(options)
    server = start_gunicorn(port, work / "gunicorn.log", options)
    say(f"{server_line} on 127.0.0.1:{port}; {CLIENTS} clients, {arguments.duration:g} s a measure")
    results: dict[str, list[load.LoadResult]] = {name: [] for name in requests}
    alone: list[load.LoadResult] = []
    try:
        for request in requests.values():
            connection = load.http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for _ in range(2 * WORKERS):  # warm both workers: imports, templates, connections
                status, body = load.send(connection, request)
                if status != 200:
                    sys.exit(
                        f"bench: {request.method} {request.path} answered {status}: {body[:300]!r}"
                    )
            connection.close()
        for round_number in range(arguments.rounds):
            for name, request in requests.items():
                result = load.run_load(
                    "127.0.0.1", port, request, clients=CLIENTS, seconds=arguments.duration
                )
                results[name].append(result)
            # The same check from one client: its latency without queueing behind the others.
            alone.append(
                load.run_load(
                    "127.0.0.1",
                    port,
                    requests["live check"],
                    clients=1,
                    seconds=arguments.duration / 2,
                )
            )
            say(
                f"HTTP round {round_number + 1}: "
                + ", ".join(f"{name} {results[name][-1].per_second:.0f}/s" for name in requests)
            )
        memory = [rss_mb(pid) for pid in worker_pids(server.pid)]
    finally:
        stop_gunicorn(server)

    # The list and the search again, on a server that renders every request (no list cache).
    server = start_gunicorn(
        port, work / "gunicorn-uncached.log", options, REGISTRY_LIST_CACHE_SECONDS="0"
    )
    try:
        for name in ("list", "search"):
            results[f"{name}, cache off"] = [
                load.run_load(
                    "127.0.0.1", port, requests[name], clients=CLIENTS, seconds=arguments.duration
                )
                for _ in range(arguments.rounds)
            ]
        say(
            "list cache off: "
            + ", ".join(
                f"{results[name + ', cache off'][-1].per_second:.0f}/s"
                for name in ("list", "search")
            )
        )
    finally:
        stop_gunicorn(server)

    def rps(name):
        return [result.per_second for result in results[name]]

    def p(name, fraction):
        return [result.percentile(fraction) for result in results[name]]

    labels = {
        "list": "GET /agents/",
        "search": f"GET /agents/?q={generate.SEARCH_WORD}",
        "admin list": "GET /admin/registry/agent/",
        "admin search": f"GET /admin/registry/agent/?q={generate.SEARCH_WORD}",
        "list, cache off": "GET /agents/, list cache off",
        "search, cache off": f"GET /agents/?q={generate.SEARCH_WORD}, list cache off",
        "agent page": "GET /agents/<key>/ (the live check's agent)",
        "live check": f"POST live check, {editor_bytes:,} B agent",
        "constant": "POST /bench/constant (same body)",
    }
    for name, label in labels.items():
        failures = sum(result.failures for result in results[name])
        first = next((r.first_failure for r in results[name] if r.first_failure), "")
        note = f"{failures} failed requests, the first: {first}" if failures else ""
        rows.append(Row(f"{label}: throughput", rps(name), "req/s", passed=None, note=note))
        if failures:
            rows[-1].target, rows[-1].passed = "no failures", False
        rows.append(Row(f"{label}: p50", p(name, 0.5), "ms"))
        if name == "live check":
            p99 = p(name, 0.99)
            rows.append(Row(f"{label}: p99", p99, "ms"))
            for fraction, suffix in ((0.5, "p50"), (0.99, "p99")):
                latencies = [result.percentile(fraction) for result in alone]
                rows.append(Row(f"{label}, 1 client alone: {suffix}", latencies, "ms"))
        else:
            rows.append(Row(f"{label}: p99", p(name, 0.99), "ms"))

    def share(a, b):
        return [x / y if y else float("nan") for x, y in zip(rps(a), rps(b), strict=True)]

    def p99_ratio(a, b):
        return [x / y if y else float("nan") for x, y in zip(p(a, 0.99), p(b, 0.99), strict=True)]

    list_ratio, search_ratio = share("list", "admin list"), share("search", "admin search")
    check_share = [100 * value for value in share("live check", "constant")]
    rows += [
        Row(
            "list / admin list throughput",
            list_ratio,
            "x",
            ">= 3x",
            statistics.median(list_ratio) >= 3,
        ),
        Row(
            "search / admin search throughput",
            search_ratio,
            "x",
            ">= 3x",
            statistics.median(search_ratio) >= 3,
        ),
        Row(
            "list, cache off / admin list throughput",
            uncached_list := share("list, cache off", "admin list"),
            "x",
            ">= 3x",
            statistics.median(uncached_list) >= 3,
        ),
        Row(
            "search, cache off / admin search throughput",
            uncached_search := share("search, cache off", "admin search"),
            "x",
            ">= 3x",
            statistics.median(uncached_search) >= 3,
        ),
        Row(
            "search, cache off p99 / constant view p99",
            search_p99 := p99_ratio("search, cache off", "constant"),
            "x",
            "<= 3x",
            statistics.median(search_p99) <= 3,
        ),
        Row(
            "live check p99 / constant view p99",
            check_p99 := p99_ratio("live check", "constant"),
            "x",
            "<= 2x",
            statistics.median(check_p99) <= 2,
        ),
        Row(
            "live check / constant view throughput",
            check_share,
            "%",
            ">= 35%",
            statistics.median(check_share) >= 35,
        ),
    ]

    for label, count in queries_large.items():
        rows.append(
            Row(
                f"queries: {label} at {n} agents",
                [count],
                "queries",
                f"= {queries_small[label]} (at {small})",
                count == queries_small[label],
            )
        )

    for index, value in enumerate(memory, 1):
        rows.append(
            Row(
                f"RSS of gunicorn worker {index} after the run",
                [value],
                "MB",
                "< 150 MB",
                value < 150,
            )
        )

    print()
    for line in machine_lines(database):
        print(line)
    print(
        f"Run: {n} agents, {arguments.rounds} round(s) (median, min, max over rounds), "
        f"{CLIENTS} clients x {arguments.duration:g} s per HTTP measure, {server_line}, "
        f"total {time.perf_counter() - started:.0f} s"
    )
    print()
    print_table(rows)
    failed = [row.measure for row in rows if row.passed is False]
    print()
    print(
        f"{sum(row.passed is True for row in rows)} targets pass, {len(failed)} fail"
        + (": " + "; ".join(failed) if failed else "")
    )
    shutil.rmtree(work / "small", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
