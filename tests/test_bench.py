"""The benchmark runs end to end: `bench/run.py --quick` prints the whole table."""

import os
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parents[1] / "bench" / "run.py"
ROWS = (
    "import 100 files: import_files",
    "import 100 files: raw executemany of the same rows",
    "import / raw insert",
    "export 100 files: export_agents to an empty dir",
    "export 100 files: raw open/write/fsync",
    "export / raw write",
    "second export, nothing changed: files written",
    "second export, nothing changed: time",
    "read 100 exported files: raw open/read",
    "second export / raw read",
    "validate one file: median over the 537 corpus files",
    "GET /agents/: throughput",
    "GET /agents/?q=kubernetes: p99",
    "GET /admin/registry/agent/: throughput",
    "GET /admin/registry/agent/?q=kubernetes: p99",
    "GET /agents/<key>/ (the live check's agent): p50",
    "POST live check, ",
    "1 client alone: p99",
    "POST /bench/constant (same body): throughput",
    "list / admin list throughput",
    "search / admin search throughput",
    "live check / constant view throughput",
    "list, cache off / admin list throughput",
    "search, cache off / admin search throughput",
    "search, cache off p99 / constant view p99",
    "live check p99 / constant view p99",
    "queries: agent list /agents/ at 100 agents",
    "queries: agent page /agents/<key>/ at 100 agents",
    "queries: change page /changes/<id>/ at 100 agents",
    "RSS of gunicorn worker 1 after the run",
    "RSS of gunicorn worker 2 after the run",
)


def test_quick_benchmark_prints_every_row(tmp_path):
    # Never the database the suite runs against: a throwaway SQLite file.
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}

    result = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--db", str(tmp_path / "bench.sqlite3")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| Measure ")
    for row in ROWS:
        assert any(row in line for line in table), f"no row {row!r} in:\n{result.stdout}"
    assert "Machine: " in result.stdout
    assert "targets pass" in result.stdout
