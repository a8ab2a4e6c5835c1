"""Lint agent files: the registry's validation rules, without a database."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from registry.agentfiles import fixes, rules, targets, validation
from registry.agentfiles.document import AgentDocument, DocumentError
from registry.sync.files import find_markdown, read_limited, write_atomic


class Command(BaseCommand):
    help = (
        "Check agent files (files or folders) and print path:line:col: severity code message. "
        "With --fix, first make the fixes that are certain, each file written atomically. "
        "Exits 0 without errors, 1 with errors, 2 for a usage or I/O error."
    )
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", metavar="PATH", help="agent files or folders")
        parser.add_argument(
            "--format",
            choices=["text", "json", "github", "sarif"],
            default="text",
            help="text lines; json; github: workflow annotations; sarif: for code scanning",
        )
        parser.add_argument(
            "--fix",
            action="store_true",
            help="make every certain fix in the files (a missing section, a description to "
            "quote, a misspelled key, a name to lowercase) and list each change before the "
            "problems that remain",
        )
        parser.add_argument(
            "--explain",
            metavar="CODE",
            help="print what the rule with this code checks and why, with examples, and exit",
        )

    def handle(self, *args, paths, format, explain=None, fix=False, **options):
        if explain is not None:
            self.explain(explain)
            return
        if not paths:
            raise CommandError("name the agent files or folders to check", returncode=2)
        limit = settings.REGISTRY_MAX_FILE_BYTES
        files = []
        for given in paths:
            path = Path(given)
            if path.is_dir():
                files += [(str(path / found.path), found.absolute) for found in find_markdown(path)]
            elif path.is_file():
                files.append((given, path))
            else:
                raise CommandError(f"{given}: no such file or folder", returncode=2)

        documents, problems = {}, []
        for shown, absolute in files:
            try:
                documents[shown] = AgentDocument.parse(read_limited(absolute, limit), limit)
            except DocumentError as error:
                problems.append((shown, validation.problem_from_error(error)))
            except OSError as error:
                raise CommandError(f"{shown}: {error.strerror}", returncode=2) from None

        if fix:
            # Changes go to stderr when stdout carries JSON, SARIF or annotations.
            out = self.stdout if format == "text" else self.stderr
            for shown, absolute in files:
                if shown in documents:
                    documents[shown] = self.fix_file(shown, absolute, documents[shown], out)

        names = {
            shown: name for shown, doc in documents.items() if (name := validation.agent_name(doc))
        }
        known = set(names.values())
        for shown, document in documents.items():
            name = names.get(shown)
            taken = [
                other
                for other_path, other in names.items()
                if name and other_path != shown and other.lower() == name.lower()
            ]
            problems += [
                (shown, problem)
                for problem in validation.validate(
                    document,
                    known,
                    taken_names=taken,
                    required_sections=settings.REGISTRY_REQUIRED_SECTIONS,
                    target=targets.target_of(shown, settings.REGISTRY_DEFAULT_TARGET)[0],
                )
            ]

        problems.sort(key=lambda item: (item[0], item[1].line, item[1].column))
        if format == "json":
            rows = [
                {
                    "path": shown,
                    "line": p.line,
                    "column": p.column,
                    "severity": p.severity,
                    "code": p.code,
                    "message": p.message,
                }
                for shown, p in problems
            ]
            self.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False))
        elif format == "github":
            for shown, p in problems:
                self.stdout.write(github_annotation(shown, p))
        elif format == "sarif":
            self.stdout.write(json.dumps(sarif(problems), indent=2, ensure_ascii=False))
        else:
            for shown, p in problems:
                self.stdout.write(f"{shown}:{p.line}:{p.column}: {p.severity} {p.code} {p.message}")
            errors = sum(1 for _, p in problems if p.is_error)
            self.stderr.write(
                f"{len(files)} files checked: {errors} errors, {len(problems) - errors} warnings"
            )
        if any(p.is_error for _, p in problems):
            raise SystemExit(1)

    def fix_file(self, shown: str, absolute: Path, document: AgentDocument, out) -> AgentDocument:
        """Make the file's certain fixes, write it atomically, and list each change."""
        target = targets.target_of(shown, settings.REGISTRY_DEFAULT_TARGET)[0]
        fixed, made = fixes.fix_all(document, settings.REGISTRY_REQUIRED_SECTIONS, target)
        if not made:
            return document
        if absolute.is_symlink():
            out.write(f"{shown}: not fixed: it is a symlink; fix the file it points to")
            return document
        try:
            write_atomic(absolute, fixed.to_bytes())
        except OSError as error:
            raise CommandError(f"{shown}: {error.strerror or error}", returncode=2) from None
        for made_fix in made:
            problem = made_fix.problem
            out.write(f"{shown}:{problem.line}: fixed {problem.code}: {made_fix.change}")
        return fixed

    def explain(self, code: str) -> None:
        found = rules.rule(code.strip())
        if found is None:
            known = ", ".join(sorted(rules.RULES))
            raise CommandError(
                f"no rule has the code {code!r}; the codes are: {known}", returncode=2
            )
        self.stdout.write(
            "\n".join(
                [
                    f"{found.code} ({found.severity}): {found.title}",
                    "",
                    found.checks,
                    "",
                    found.why,
                    "",
                    "Breaks the rule:",
                    *(f"    {line}" for line in found.bad.splitlines()),
                    "",
                    "Keeps it:",
                    *(f"    {line}" for line in found.good.splitlines()),
                ]
            )
        )


def _escape(text: str, *, prop: bool = False) -> str:
    """A value in a GitHub workflow command: %, CR and LF encoded; in a property, : and , too."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def github_annotation(path: str, problem) -> str:
    """One problem as a GitHub Actions annotation on its line of the file."""
    level = "error" if problem.is_error else "warning"
    where = ",".join(
        [
            f"file={_escape(path, prop=True)}",
            f"line={problem.line}",
            f"col={problem.column}",
            f"title={_escape(problem.code, prop=True)}",
        ]
    )
    return f"::{level} {where}::{_escape(problem.message)}"


def sarif(problems) -> dict:
    """The problems as a SARIF 2.1.0 log, for code scanning, each rule described once."""
    used = sorted({p.code for _, p in problems})
    descriptions = []
    for code in used:
        found = rules.rule(code)
        entry = {"id": code}
        if found is not None:
            entry.update(
                shortDescription={"text": found.title},
                fullDescription={"text": found.checks},
                help={"text": found.why},
                defaultConfiguration={"level": found.severity},
            )
        descriptions.append(entry)
    results = [
        {
            "ruleId": p.code,
            "ruleIndex": used.index(p.code),
            "level": "error" if p.is_error else "warning",
            "message": {"text": p.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": Path(path).as_posix()},
                        "region": {"startLine": p.line, "startColumn": p.column},
                    }
                }
            ],
        }
        for path, p in problems
    ]
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "lint_agents", "rules": descriptions}},
                "results": results,
            }
        ],
    }
