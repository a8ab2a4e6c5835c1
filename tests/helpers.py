"""Test data and helpers: agent files to build, the corpus of real ones, running commands."""

import subprocess
from io import StringIO
from pathlib import Path

from django.core.management import CommandError, call_command

from registry.agentfiles import validation
from registry.agentfiles.document import DEFAULT_MAX_BYTES, AgentDocument, DocumentError

# Test data kept in the repository: real agent files (corpus/README.md), the reference example.
TESTS = Path(__file__).resolve().parent
CORPUS = TESTS / "corpus"
EXAMPLE = TESTS / "examples" / "backend-architect.md"
DEMO = Path(__file__).resolve().parents[1] / "registry" / "demo"
DEMO_NAMES = ("backend-architect", "security-engineer", "performance-engineer")
MANAGE = Path(__file__).resolve().parents[1] / "manage.py"
NO_DATABASE = "sqlite:////nonexistent-folder/no.sqlite3"  # any query through it fails

FOCUS = "- **One thing**: done well\n"
BOUNDARIES = "**Will:**\n- Do the one thing\n\n**Will Not:**\n- Do anything else\n"
DELEGATE_TO = "- **other-agent** — for everything else\n"

# Files import must refuse: (bytes, what the reason says).
NOT_TEXT = {
    "latin-1": (b"---\nname: caf\xe9\n---\n", "line 2: byte 0xe9 is not valid UTF-8"),
    "utf-16": ("---\nname: x\n---\n".encode("utf-16"), "UTF-16"),
    "utf-16-no-bom": ("---\nname: x\n---\n".encode("utf-16-le"), "UTF-16"),
    "nul": (b"---\nname: x\n---\n# A\x00\n", "line 4: file holds a NUL byte"),
    "five-mb": (b"---\nname: x\n---\n" + b"x" * (5 * 1024 * 1024), "the limit is 262,144 bytes"),
}


def agent_text(
    name: str = "agent-one",
    description: str = "Does one thing well.",
    *,
    extra: str = "",
    focus: str = FOCUS,
    boundaries: str = BOUNDARIES,
    delegate_to: str = DELEGATE_TO,
) -> str:
    """A valid agent file (given an agent called other-agent), with parts to override.

    Line 1 is ---, name is on line 2, description on line 3, then `extra` frontmatter lines."""
    return (
        f"---\nname: {name}\ndescription: {description}\n{extra}---\n\n"
        f"# {name}\n\n"
        f"## Focus Areas\n{focus}\n"
        f"## Boundaries\n{boundaries}\n"
        f"## Delegate To\n{delegate_to}"
    )


def write(folder: Path, files: dict[str, bytes | str]) -> Path:
    """Write files (relative path -> content) under folder; returns folder."""
    for path, content in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
    return folder


def tree(folder: Path) -> dict[str, bytes]:
    """Every regular file under folder (symlinks left out), relative path -> bytes."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def git(folder, *args) -> str:
    """git as a person working on a test repository runs it (their output, or an error)."""
    result = subprocess.run(
        ["git", "-c", "user.name=Someone", "-c", "user.email=someone@example.com", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def run(*args) -> tuple[int, str, str]:
    """Run a management command as the shell would see it: (exit status, stdout, stderr)."""
    out, err = StringIO(), StringIO()
    try:
        call_command(*[str(arg) for arg in args], stdout=out, stderr=err)
    except SystemExit as exit:
        return exit.code, out.getvalue(), err.getvalue()
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


def file_problems(data: bytes, known_names=None, *, max_bytes: int = DEFAULT_MAX_BYTES, **options):
    """A file's problems from its bytes, as the linter reports them: bytes that are not a
    text file are one problem, not an exception."""
    try:
        document = AgentDocument.parse(data, max_bytes=max_bytes)
    except DocumentError as error:
        return [validation.problem_from_error(error)]
    return validation.validate(document, known_names, **options)
