"""Create many synthetic agents quickly, to measure the registry at scale (never on real data)."""

import random

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from bench.generate import CATEGORIES, ROLES, TOPICS
from registry.agentfiles import validation
from registry.agentfiles.document import AgentDocument
from registry.models import Agent


def generated_text(name: str, rng: random.Random, names: list[str]) -> str:
    topics = rng.sample(TOPICS, 3)
    delegates = [other for other in rng.sample(names, min(3, len(names))) if other != name][:2]
    return (
        "---\n"
        f"name: {name}\n"
        f"description: Handles {topics[0]} and {topics[1]} work; use it for {topics[2]} "
        "questions too.\n"
        f"category: {rng.choice(CATEGORIES)}\n"
        "tools: Read, Grep, Glob\n"
        "---\n\n"
        f"# {name.replace('-', ' ').title()}\n\n"
        f"You are an expert in {topics[0]}, {topics[1]} and {topics[2]}.\n\n"
        "## Focus Areas\n"
        + "".join(f"- **{topic.title()}**: reviews of {topic} choices\n" for topic in topics)
        + "\n## Boundaries\n**Will:**\n"
        f"- Advise on {topics[0]}\n\n**Will Not:**\n- Ship code without review\n\n"
        "## Delegate To\n" + "".join(f"- **{other}** — for its own area\n" for other in delegates)
    )


class Command(BaseCommand):
    help = (
        "Create COUNT synthetic agents named PREFIX-<topic>-<role>-<n> in bulk, with their "
        "versions, problems and search index, to measure pages on a large registry."
    )

    def add_arguments(self, parser):
        parser.add_argument("count", type=int)
        parser.add_argument("--prefix", default="generated")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, count, prefix, seed, batch_size, **options):
        if count < 1:
            raise CommandError("COUNT must be at least 1")
        if not validation.is_valid_name(f"{prefix}-x"):
            raise CommandError(f"{prefix!r} cannot start an agent name")
        rng = random.Random(seed)
        first = Agent.objects.filter(name__startswith=f"{prefix}-").count() + 1
        names = [
            f"{prefix}-{rng.choice(TOPICS)}-{rng.choice(ROLES)}-{number}"
            for number in range(first, first + count)
        ]
        for start in range(0, count, batch_size):
            with transaction.atomic():
                self.create_batch(names[start : start + batch_size], rng, names)
            self.stderr.write(f"\r{min(start + batch_size, count)}/{count}", ending="")
        self.stderr.write("")
        Agent.objects.refresh_problems()
        self.stdout.write(f"{count} agents created.")

    def create_batch(self, batch: list[str], rng: random.Random, names: list[str]) -> None:
        Agent.objects.make_live(
            [
                (
                    None,
                    f"generated/{name}.md",
                    AgentDocument(generated_text(name, rng, names)),
                    None,
                )
                for name in batch
            ],
            message="Generated",
        )
