"""Write N synthetic agent files: 4-8 KB, realistic frontmatter and sections, some with problems."""

from __future__ import annotations

import random
from pathlib import Path

CATEGORIES = (
    "architecture", "backend", "data", "design", "devops", "documentation", "frontend",
    "infrastructure", "mobile", "quality", "security", "testing",
)  # fmt: skip
TOPICS = (
    "api", "cache", "cloud", "compliance", "database", "deployment", "graphql", "kubernetes",
    "latency", "logging", "migration", "monitoring", "payments", "performance", "privacy",
    "queue", "react", "refactoring", "search", "streaming", "terraform", "typescript",
)  # fmt: skip
ROLES = ("architect", "engineer", "reviewer", "specialist", "strategist", "analyst")
TOOLS = ("Read", "Grep", "Glob", "Edit", "Write", "Bash", "WebFetch", "TodoWrite")
MODELS = ("sonnet", "opus", "haiku", "inherit")
COLORS = ("red", "blue", "green", "yellow", "purple", "orange", "pink", "cyan")
VERBS = (
    "Assess", "Design", "Review", "Measure", "Document", "Harden", "Simplify", "Automate",
    "Profile", "Validate", "Plan", "Migrate",
)  # fmt: skip
NOUNS = (
    "service boundaries", "failure modes", "query plans", "rollout steps", "error budgets",
    "access policies", "schema changes", "alert thresholds", "test coverage", "data flows",
    "release notes", "capacity limits", "retry policies", "audit trails", "build pipelines",
)  # fmt: skip
SENTENCES = (
    "Start from the constraints the team already lives with and make every trade-off explicit.",
    "Prefer small, reversible steps over a single large change that cannot be rolled back.",
    "Write down what was measured, how, and what would change the recommendation.",
    "Name the owner of each follow-up and the signal that tells when it is done.",
    "Keep the blast radius of every change small and observable from the first deploy.",
    "Ask for the production numbers before proposing an optimisation of any kind.",
    "Treat security and privacy requirements as design inputs, not as a late review.",
    "Leave the code and the documentation in a state the next engineer can pick up.",
)
# About one file in eight has a problem the validator reports (and a few have two).
PROBLEMS = (
    "missing-section",
    "unknown-delegate",
    "unknown-tool",
    "bad-model",
    "unknown-key",
    "bad-name",
)

SEARCH_WORD = "kubernetes"  # a topic: in the name, description or body of about one in eight


def agent_names(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(TOPICS)}-{rng.choice(ROLES)}-{number}" for number in range(1, count + 1)]


def _paragraph(rng: random.Random, topics: list[str], sentences: int) -> str:
    words = [rng.choice(SENTENCES) for _ in range(sentences)]
    words.insert(rng.randrange(len(words) + 1), f"In {rng.choice(topics)} work this matters most.")
    return " ".join(words)


def agent_text(name: str, index: int, names: list[str], rng: random.Random) -> str:
    """One agent file of 4 to 8 KB; `index` decides whether (and which) problem it has."""
    topics = rng.sample(TOPICS, 3)
    problem = PROBLEMS[(index // 8) % len(PROBLEMS)] if index % 8 == 7 else ""
    shown_name = name.replace("-", "_").upper() if problem == "bad-name" else name
    tools = rng.sample(TOOLS, rng.randint(2, 5))
    if problem == "unknown-tool":
        tools.append("Teleport")
    lines = [
        "---",
        f"name: {shown_name}",
        f"description: Use this agent for {topics[0]} and {topics[1]} work, and for questions "
        f"about {topics[2]}. It reviews designs, proposes changes and explains the trade-offs.",
        f"category: {rng.choice(CATEGORIES)}",
        f"tools: {', '.join(tools)}",
        f"model: {'gpt-7' if problem == 'bad-model' else rng.choice(MODELS)}",
        f"color: {rng.choice(COLORS)}",
    ]
    if problem == "unknown-key":
        lines.append("temperature: 0.2")
    lines += ["---", "", f"# {name.replace('-', ' ').title()}", ""]
    lines += [f"You are an expert in {', '.join(topics)}. " + _paragraph(rng, topics, 3), ""]
    lines += ["## Behavioral Mindset", _paragraph(rng, topics, 4), ""]
    if problem != "missing-section":
        lines.append("## Focus Areas")
        lines += [
            f"- **{topic.title()}**: {rng.choice(NOUNS)}, {rng.choice(NOUNS)} and "
            f"{rng.choice(NOUNS)}"
            for topic in topics
        ]
        lines.append("")
    lines.append("## Key Actions")
    lines += [
        f"{number}. **{rng.choice(VERBS)} {rng.choice(NOUNS)}**: {rng.choice(SENTENCES)}"
        for number in range(1, rng.randint(5, 8))
    ]
    lines += ["", "## Outputs"]
    lines += [f"- **{rng.choice(NOUNS).title()}**: {rng.choice(SENTENCES)}" for _ in range(5)]
    lines += ["", "## Approach"]
    target = rng.randint(4200, 7200)
    while sum(len(line) + 1 for line in lines) < target - 400:
        lines += [_paragraph(rng, topics, rng.randint(3, 6)), ""]
    lines += [
        "## Boundaries",
        "**Will:**",
        f"- Advise on {topics[0]} and {topics[1]}",
        f"- Review {rng.choice(NOUNS)} before they ship",
        "",
        "**Will Not:**",
        "- Ship code without review",
        "- Change production systems directly",
        "",
        "## Delegate To",
    ]
    delegates = [other for other in rng.sample(names, min(3, len(names))) if other != name][:2]
    if problem == "unknown-delegate":
        delegates.append("nobody-by-this-name")
    lines += [f"- **{other}** — for {rng.choice(NOUNS)}" for other in delegates]
    return "\n".join(lines) + "\n"


def write_agents(folder: Path, count: int, seed: int = 1) -> list[Path]:
    """Write count agent files under folder (in subfolders of 500); returns their paths."""
    rng = random.Random(seed)
    names = agent_names(count, seed)
    paths = []
    for index, name in enumerate(names):
        path = folder / f"team-{index // 500:03d}" / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(agent_text(name, index, names, rng), encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--agents", type=int, default=10_000)
    arguments = parser.parse_args()
    written = write_agents(arguments.folder, arguments.agents)
    print(f"{len(written)} files written under {arguments.folder}")
