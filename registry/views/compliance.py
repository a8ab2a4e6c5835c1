"""The Compliance page: how far the registry is from every agent keeping every rule."""

from collections import Counter
from dataclasses import dataclass, field

from django.http import HttpRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from registry.models import Agent, ComplianceSnapshot, enforcement_is_strict

EXAMPLES = 8  # agents listed under each code, with a link to the rest
CHART_DAYS = 90
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 640, 160, 28


@dataclass
class CodeRow:
    code: str
    errors: int = 0
    agents: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)  # (key, shown name)


@require_GET
def compliance(request: HttpRequest):
    rows: dict[str, CodeRow] = {}
    total = compliant = with_warnings = 0
    for key, name, path, errors, warnings, problems in (
        Agent.objects.compliance_scope()
        .order_by("name", "path")
        .values_list("key", "name", "path", "error_count", "warning_count", "problems")
    ):
        total += 1
        if not errors:
            compliant += 1
            with_warnings += bool(warnings)
            continue
        counted = Counter(p["code"] for p in problems or [] if p.get("severity") == "error")
        for code, count in counted.items():
            row = rows.setdefault(code, CodeRow(code))
            row.errors += count
            row.agents += 1
            if len(row.examples) < EXAMPLES:
                row.examples.append((key, name or path))
    snapshots = list(ComplianceSnapshot.objects.recent(CHART_DAYS))
    context = {
        "total": total,
        "compliant": compliant,
        "with_warnings": with_warnings,
        "failing": total - compliant,
        "share": round(100 * compliant / total) if total else 100,
        "strict": enforcement_is_strict(),
        "rows": sorted(rows.values(), key=lambda row: (-row.agents, row.code)),
        "errors": sum(row.errors for row in rows.values()),
        "chart": _chart(snapshots),
        "snapshots": snapshots,
    }
    return render(request, "registry/compliance.html", context)


def _chart(snapshots) -> dict | None:
    """Points of the share of agents that keep every rule, day by day, as SVG coordinates."""
    if len(snapshots) < 2:
        return None
    inner_width = CHART_WIDTH - 2 * CHART_PAD
    inner_height = CHART_HEIGHT - 2 * CHART_PAD
    step = inner_width / (len(snapshots) - 1)
    points = []
    for index, snapshot in enumerate(snapshots):
        share = snapshot.compliant / snapshot.agents if snapshot.agents else 1
        x = CHART_PAD + index * step
        y = CHART_PAD + (1 - share) * inner_height
        points.append((round(x, 1), round(y, 1), snapshot))
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "pad": CHART_PAD,
        "bottom": CHART_HEIGHT - CHART_PAD,
        "right": CHART_WIDTH - CHART_PAD,
        "middle": CHART_PAD + inner_height / 2,
        "line": " ".join(f"{x},{y}" for x, y, _ in points),
        "points": points,
        "first": snapshots[0].day,
        "last": snapshots[-1].day,
    }
