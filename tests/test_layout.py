"""The code keeps its shape: the agent-file core needs no Django, and no modules import each
other in a circle."""

import ast
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGE = REPOSITORY / "registry"


def test_the_agent_file_core_imports_no_django():
    modules = sorted(path.stem for path in (PACKAGE / "agentfiles").glob("[!_]*.py"))
    program = (
        "import sys\n"
        + "".join(f"import registry.agentfiles.{module}\n" for module in modules)
        + "print(sorted(name for name in sys.modules if name.split('.')[0] == 'django'))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", program], cwd=REPOSITORY, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert len(modules) >= 5
    assert result.stdout.strip() == "[]"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPOSITORY).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Each registry module, and the registry modules it imports (anywhere in it)."""
    paths = {
        _module_name(path): path for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts
    }
    found: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found[name] |= {alias.name for alias in node.names if alias.name in paths}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, *([node.module] if node.module else [])])
                submodules = {f"{base}.{alias.name}" for alias in node.names} & paths.keys()
                names_only = len(submodules) < len(node.names)
                found[name] |= submodules | ({base} if names_only and base in paths else set())
        found[name].discard(name)
    return found


def test_no_modules_import_each_other_in_a_circle():
    imports = _imports()
    cycles = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]):
        state[name] = "open"
        for other in sorted(imports[name]):
            if state.get(other) == "open":
                cycles.append(" -> ".join([*path[path.index(other) :], other]))
            elif other not in state:
                visit(other, [*path, other])
        state[name] = "done"

    for name in sorted(imports):
        if name not in state:
            visit(name, [name])
    assert cycles == []
