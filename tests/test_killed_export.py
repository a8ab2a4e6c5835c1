"""An export killed at any moment leaves no torn file, and the next export finishes the job."""

import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from registry.sync.files import TEMP_SUFFIX
from tests.helpers import MANAGE, agent_text, tree, write

AGENT_COUNT = 200
KILLS = 20
PARALLEL = 4


def manage(env: dict, *args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(MANAGE), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def run_commands(env: dict, commands: list[tuple]) -> None:
    """Run management commands one after the other in a single new process."""
    calls = "; ".join(f"call_command(*{[str(arg) for arg in command]!r})" for command in commands)
    manage(env, "shell", "-c", f"from django.core.management import call_command; {calls}")


def expected_files() -> dict[str, bytes]:
    """The agents' texts by path: some long, some nested, one without a final newline."""
    files = {}
    for number in range(AGENT_COUNT):
        name = f"agent-{number:03d}"
        text = agent_text(name, delegate_to="- **agent-000** — anything\n")
        text += "\nFiller line to make the file longer.\n" * (number % 7) * 200
        if number % 50 == 49:
            text = text.rstrip("\n")
        folder = f"team-{number % 5}/" if number % 3 else ""
        files[f"{folder}{name}.md"] = text.encode()
    return files


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[dict, dict[str, bytes]]:
    """A file SQLite database, outside the test database, with the agents imported into it by
    the same commands an operator runs."""
    base = tmp_path_factory.mktemp("killed-export")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{base / 'registry.sqlite3'}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    files = expected_files()
    write(base / "source", files)
    # One process: each start of Django costs a second or more.
    run_commands(env, [("migrate", "--noinput"), ("import_agents", base / "source")])
    return env, files


def start_export(env: dict, folder: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(MANAGE), "export_agents", str(folder)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def agent_files(folder: Path) -> dict[str, bytes]:
    return {path: data for path, data in tree(folder).items() if path.endswith(".md")}


def temporaries(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.name.endswith(TEMP_SUFFIX)]


def written(folder: Path) -> int:
    """How many agent files are in place (a file being written has a temporary name)."""
    return sum(1 for _ in folder.rglob("*.md")) if folder.exists() else 0


def wait_for(folder: Path, process: subprocess.Popen) -> float:
    """When the export put its first file in place: it is writing from then on."""
    while not written(folder) and process.poll() is None:
        time.sleep(0.002)
    return time.monotonic()


def kill(env: dict, folder: Path, delay: float) -> int:
    """Kill an export delay seconds into its writing; returns how many files it finished."""
    process = start_export(env, folder)
    wait_for(folder, process)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return len(agent_files(folder)) if folder.exists() else 0


def test_export_killed_at_random_moments_never_leaves_a_torn_file(seeded, tmp_path):
    env, files = seeded
    # How long an export spends writing here, so that the kills land all through it.
    timing = start_export(env, tmp_path / "timing")
    writing_from = wait_for(tmp_path / "timing", timing)
    # Until its last file is in place: what follows (syncing folders, recording what was
    # exported, the process ending) writes no agent file.
    while timing.poll() is None and sum(1 for _ in (tmp_path / "timing").rglob("*.md")) < len(
        files
    ):
        time.sleep(0.005)
    writing = time.monotonic() - writing_from
    assert timing.wait(timeout=120) == 0
    shuffle = random.Random(os.environ.get("KILL_SEED", "killed-export"))
    folders = [tmp_path / f"run-{attempt}" for attempt in range(KILLS)]
    delays = [shuffle.uniform(0.0, 1.0) * writing for _ in folders]

    # A few at a time: each run is mostly Django starting up.
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        finished = list(pool.map(lambda pair: kill(env, *pair), zip(folders, delays, strict=True)))

    for folder in folders:
        for path, data in (agent_files(folder) if folder.exists() else {}).items():
            assert data == files.get(path), f"{folder.name}: {path} is torn or not an agent's"
    print(f"{len(files)} agents; files finished when killed: {finished}")  # shown with -s
    # The kills must have hit exports half done, or this proved nothing.
    partial = [count for count in finished if 0 < count < len(files)]
    assert len(partial) >= KILLS // 4, f"files written when killed: {finished}"

    run_commands(env, [("export_agents", folder) for folder in folders])

    for folder in folders:
        assert agent_files(folder) == files, f"{folder.name}: the second export is incomplete"
        assert temporaries(folder) == [], f"{folder.name}: temporary files left behind"
