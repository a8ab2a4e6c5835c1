"""Load test: mixed reads, searches, live checks and draft saves from many clients at once.

Against gunicorn on 127.0.0.1 and its own PostgreSQL database (made on the server that
DATABASE_URL names, dropped afterwards). Fails on any 5xx, and unless every save the server
acknowledged is in the database afterwards with its revision and text. Run by .ci/run after
the test suite; `--duration 10` for a quick local run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry python tests/load/run.py
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

# Share of each kind of request in the mix.
MIX = {"list": 25, "agent": 25, "search": 15, "check": 20, "save": 15}
SEARCH_WORDS = ["backend", "security", "agent", "data", "review", "team", "zz-nothing"]
SAVES_PER_DRAFT = 5
MAX_REQUESTS_PER_CLIENT = 1_000_000  # a bound on the loop; the deadline ends it long before


def agent_file(number: int) -> str:
    name = f"load-agent-{number:03d}"
    area = ["backend", "security", "data", "review"][number % 4]
    return (
        f"---\nname: {name}\ndescription: Handles {area} work for team {number % 10}.\n"
        f"category: {area}\n---\n\n# {name}\n\n"
        "## Focus Areas\n- **One thing**: done well\n\n"
        "## Boundaries\n**Will:**\n- Do the one thing\n\n**Will Not:**\n- Do anything else\n\n"
        f"## Delegate To\n- **load-agent-{(number + 1) % 300:03d}** — for the next thing\n"
    )


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- The database ----------------------------------------------------------------------------


def database_urls(database: str) -> tuple[str, dict]:
    """The load database's URL on the server DATABASE_URL names, and that server's parameters."""
    import dj_database_url

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("tests/load/run.py: set DATABASE_URL to a PostgreSQL server")
    parts = urlsplit(url)
    return parts._replace(path=f"/{database}").geturl(), dj_database_url.parse(url)


def recreate_database(server: dict, database: str, *, drop_only: bool = False) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=server["HOST"] or "127.0.0.1",
        port=server["PORT"] or 5432,
        user=server["USER"] or None,
        password=server["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
        connect_timeout=10,
    ) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def prepare(agent_count: int) -> tuple[str, str, list[str]]:
    """Migrate, import the agents and sign a user in. Returns (session id, secret key, keys)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentsite.settings")
    # DEBUG is off, as in production, which needs a key; gunicorn is given the same one.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group, User
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import connections

    from registry.models import Agent
    from registry.sync.importing import IncomingFile, import_files

    call_command("migrate", "--noinput", verbosity=0)
    report = import_files(
        [
            IncomingFile(f"agents/load-agent-{n:03d}.md", agent_file(n).encode())
            for n in range(agent_count)
        ]
    )
    assert report.stored and not report.rejected, report.summary()
    user = User.objects.create_user(username="load", password=secrets.token_urlsafe(16))
    user.groups.add(Group.objects.get(name="Editors"))
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    keys = list(Agent.objects.order_by("path").values_list("key", flat=True))
    connections.close_all()
    return session.session_key, settings.SECRET_KEY, keys


# --- The server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, database_url: str, secret_key: str, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": secret_key,
        "DEBUG": "false",
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "agentsite.wsgi",
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers),
            "--threads", "4",
            "--timeout", "60",
            "--log-level", "warning",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def wait_for_health(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"tests/load/run.py: gunicorn exited with status {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("tests/load/run.py: gunicorn did not answer /healthz in time")


# --- The clients -----------------------------------------------------------------------------


@dataclass
class Results:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    # change id -> (revision, text hash) of the last save the server acknowledged
    acknowledged: dict[int, tuple[int, str]] = field(default_factory=dict)
    saves_acknowledged: int = 0

    def record(self, kind: str, status: int, seconds: float, problem: str = "") -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            self.statuses[(kind, status)] += 1
            if problem:
                self.failures.append(problem)


class Client:
    """One simulated user's connection (kept alive), signed in, with a CSRF token."""

    def __init__(self, port: int, session_id: str):
        self.port = port
        self.csrf = secrets.token_hex(16)
        self.headers = {
            "Cookie": f"sessionid={session_id}; csrftoken={self.csrf}",
            "X-CSRFToken": self.csrf,
        }
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, form: dict | None = None, headers=None):
        body = urlencode(form) if form is not None else None
        sent = {**self.headers, **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=sent)
                response = self.conn.getresponse()
                response.read()
                return response.status, response.getheader("Location", "")
            except (http.client.HTTPException, ConnectionError):
                # A kept-alive connection the server closed: once more on a new one.
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def run_client(
    number: int, clients: int, port: int, session_id: str, keys, deadline: float, results
):
    client = Client(port, session_id)
    chance = random.Random(number)
    kinds, weights = list(MIX), list(MIX.values())
    # The agents this client drafts changes to: its own, so no two clients edit one draft.
    own_keys = keys[number::clients]
    draft: tuple[int, int, str] | None = None  # (change id, revision, agent key)
    saves_on_draft = 0
    for step in range(MAX_REQUESTS_PER_CLIENT):
        if time.monotonic() >= deadline:
            return
        kind = chance.choices(kinds, weights)[0]
        key = chance.choice(keys)
        form, headers, method = None, None, "GET"
        if kind == "list":
            path = f"/agents/?page={chance.randint(1, 6)}"
        elif kind == "agent":
            path = f"/agents/{key}/"
        elif kind == "search":
            path = f"/agents/?q={quote(chance.choice(SEARCH_WORDS))}"
            headers = {"HX-Request": "true"} if chance.random() < 0.5 else None
        elif kind == "check":
            method, path = "POST", f"/agents/{key}/edit/"
            text = agent_file(keys.index(key)).replace("Handles", f"Checks {step}:")
            form = {"mode": "raw", "text": text, "action": "check"}
            headers = {"HX-Request": "true"}
        else:
            if draft is None or saves_on_draft >= SAVES_PER_DRAFT:
                draft, saves_on_draft = None, 0
                key = chance.choice(own_keys)
            else:
                key = draft[2]
            method, path = "POST", f"/agents/{key}/edit/"
            text = agent_file(keys.index(key)).replace("Handles", f"Client {number} save {step}:")
            form = {"mode": "raw", "text": text, "action": "save", "message": f"load {step}"}
            if draft is not None:
                form.update(change=draft[0], revision=draft[1])
        started = time.monotonic()
        try:
            status, location = client.request(method, path, form, headers)
        except OSError as error:
            results.record(kind, 0, time.monotonic() - started, f"{kind} {path}: {error!r}")
            continue
        seconds = time.monotonic() - started
        problem = ""
        if status >= 500:
            problem = f"{kind} {method} {path}: {status}"
        elif kind == "save":
            change = parse_qs(urlsplit(location).query).get("change", [""])[0]
            if status == 302 and change.isdigit():
                revision = 1 if draft is None else draft[1] + 1
                draft = (int(change), revision, key)
                saves_on_draft += 1
                with results.lock:
                    results.acknowledged[int(change)] = (revision, sha256(text))
                    results.saves_acknowledged += 1
            else:
                problem = f"save {path}: not acknowledged ({status} {location})"
                draft = None
        elif status != 200:
            problem = f"{kind} {method} {path}: {status}"
        results.record(kind, status, seconds, problem)


# --- Checking and reporting ------------------------------------------------------------------


def missing_saves(acknowledged: dict[int, tuple[int, str]]) -> list[str]:
    """Every acknowledged save as the database has it now: (revision, text hash) per change."""
    from django.db import connections

    from registry.models import ChangeRequest

    stored = {
        pk: (revision, digest, sha256(text))
        for pk, revision, digest, text in ChangeRequest.objects.filter(
            pk__in=list(acknowledged)
        ).values_list("pk", "revision", "text_hash", "text")
    }
    connections.close_all()
    problems = []
    for pk, (revision, digest) in sorted(acknowledged.items()):
        row = stored.get(pk)
        if row is None:
            problems.append(f"change {pk}: acknowledged but not in the database")
        elif row != (revision, digest, digest):
            problems.append(f"change {pk}: acknowledged revision {revision}, stored {row[0]}")
    return problems


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(results: Results, seconds: float, clients: int) -> str:
    lines = [f"Load: {clients} clients for {seconds:.0f} s against gunicorn on 127.0.0.1"]
    lines.append(f"{'kind':<8} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8}")
    everything = []
    for kind in MIX:
        values = results.latencies.get(kind, [])
        everything += values
        errors = sum(
            count
            for (name, status), count in results.statuses.items()
            if name == kind
            and (status >= 400 or status == 0)
            and not (name == "save" and status == 302)
        )
        lines.append(
            f"{kind:<8} {len(values):>9} {errors:>7} "
            f"{percentile(values, 0.5) * 1000:>8.1f} {percentile(values, 0.99) * 1000:>8.1f}"
        )
    fives = sum(count for (_, status), count in results.statuses.items() if status >= 500)
    lines.append(
        f"{'all':<8} {len(everything):>9} {len(results.failures):>7} "
        f"{percentile(everything, 0.5) * 1000:>8.1f} {percentile(everything, 0.99) * 1000:>8.1f}"
    )
    lines.append(
        f"{len(everything) / seconds:.1f} requests/s; {fives} answers 5xx; "
        f"{results.saves_acknowledged} saves acknowledged on {len(results.acknowledged)} drafts"
    )
    if everything:
        lines.append(f"mean {statistics.fmean(everything) * 1000:.1f} ms")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds of load (60)")
    parser.add_argument("--clients", type=int, default=16, help="client threads (16)")
    parser.add_argument("--agents", type=int, default=300, help="agents imported first (300)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (4)")
    parser.add_argument("--database", default="registry_load", help="database made and dropped")
    options = parser.parse_args(argv)

    load_url, server_params = database_urls(options.database)
    recreate_database(server_params, options.database)
    os.environ["DATABASE_URL"] = load_url
    server = None
    try:
        session_id, secret_key, keys = prepare(options.agents)
        port = free_port()
        server = start_gunicorn(port, load_url, secret_key, options.workers)
        wait_for_health(port, server)

        results = Results()
        started = time.monotonic()
        deadline = started + options.duration
        threads = [
            threading.Thread(
                target=run_client,
                args=(number, options.clients, port, session_id, keys, deadline, results),
            )
            for number in range(options.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=options.duration + 120)
        elapsed = time.monotonic() - started
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        server = None

        lost = missing_saves(results.acknowledged)
        print(summary(results, elapsed, options.clients))
        print(f"acknowledged saves checked in the database: {len(results.acknowledged)} drafts, "
              f"{len(lost)} missing or different")  # fmt: skip
        for problem in (results.failures + lost)[:20]:
            print(f"  {problem}")
        if any(thread.is_alive() for thread in threads):
            print("a client did not finish")
            return 1
        return 1 if results.failures or lost else 0
    finally:
        if server is not None:
            server.kill()
            server.wait()
        from django.db import connections

        connections.close_all()
        recreate_database(server_params, options.database, drop_only=True)


if __name__ == "__main__":
    sys.exit(main())
