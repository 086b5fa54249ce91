"""The results files: results/latest.json, results/latest.md, and the table in README.md.

latest.json keeps the latest figures of every scenario on every database: a run replaces the
figures of the scenarios it ran on its database and leaves the rest, so a PostgreSQL run, a SQLite
run and an `--only` run live side by side. Each run keeps its own date and machine facts, and its
ratios use only figures from that run. The README shows the full-scale runs only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import DATABASES, Figure

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
README = HERE / "README.md"
README_START = "<!-- figures:start (written by `python -m benchmarks`; edits here are replaced) -->"
README_END = "<!-- figures:end -->"
DATABASE_NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


def run_record(
    *,
    database: str,
    scale: str,
    scenarios: Sequence[str],
    figures: Sequence[Figure],
    machine: dict[str, object],
) -> dict[str, Any]:
    return {
        "database": database,
        "scale": scale,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "scenarios": list(scenarios),
        "machine": machine,
        "figures": [figure.as_dict() for figure in figures],
    }


def merge(previous: dict[str, Any] | None, run: dict[str, Any]) -> dict[str, Any]:
    """The results with `run`'s scenarios replacing their earlier figures on the same database."""
    replaced = set(run["scenarios"])
    runs: list[dict[str, Any]] = []
    for earlier in (previous or {}).get("runs", []):
        if earlier.get("database") == run["database"]:
            kept = [name for name in earlier["scenarios"] if name not in replaced]
            if not kept:
                continue
            earlier = {
                **earlier,
                "scenarios": kept,
                "figures": [f for f in earlier["figures"] if f["scenario"] in kept],
            }
        runs.append(earlier)
    runs.append(run)
    runs.sort(key=lambda r: (_database_order(r["database"]), r["date"]))
    return {"runs": runs}


def _database_order(database: str) -> int:
    return DATABASES.index(database) if database in DATABASES else len(DATABASES)


def render_run(run: dict[str, Any]) -> str:
    machine = run["machine"]
    name = DATABASE_NAMES.get(run["database"], run["database"])
    facts = " · ".join(
        [
            f"{machine['cpu_count']} CPUs ({machine['usable_cpus']} usable)",
            f"{machine['memory_gib']} GiB",
            f"load {machine['load_average_start']} → {machine['load_average_end']}",
            str(machine["python"]),
            str(machine["database"]),
            f"Django {machine['django']}",
            str(machine["driver"]),
            str(machine["platform"]),
            f"commit {machine['commit']}",
        ]
    )
    lines = [
        f"### {name}, {run['scale']} scale, {run['date']}",
        "",
        facts,
        "",
        "| scenario | figure | value | unit | ratio | baseline | rows | seconds | client CPU s"
        " | peak RSS MiB |",
        "|---|---|---:|---|---:|---|---:|---:|---:|---:|",
    ]
    for f in run["figures"]:
        lines.append(
            f"| {f['scenario']} | {f['label']} | {f['value']:,.0f} | {f['unit']}"
            f" | {f['ratio']:.3f} | {f['baseline']} | {f['rows']:,} | {f['seconds']:.2f}"
            f" | {f['cpu_seconds']:.1f} | {f['peak_rss_mib']:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def render_runs(results: dict[str, Any], *, scale: str | None = None) -> str:
    runs = [run for run in results["runs"] if scale is None or run["scale"] == scale]
    return "\n".join(render_run(run) for run in runs) if runs else "No full-scale run yet.\n"


def render(results: dict[str, Any]) -> str:
    header = (
        "Written by `python -m benchmarks` (`make bench`): the latest figures of each scenario on"
        " each database. Each ratio is to the baseline named on its row, from the same run.\n"
    )
    return header + "\n" + render_runs(results)


def save(run: dict[str, Any], results_dir: Path = RESULTS_DIR, readme: Path = README) -> list[Path]:
    """Write latest.json and latest.md; copy the full-scale runs into the README's figures."""
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / "latest.json"
    previous = json.loads(json_path.read_text()) if json_path.exists() else None
    results = merge(previous, run)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path = results_dir / "latest.md"
    md_path.write_text(render(results))
    written = [json_path, md_path]
    if readme.exists():
        text = readme.read_text()
        start, end = text.find(README_START), text.find(README_END)
        if 0 <= start < end:
            body = render_runs(results, scale="full")
            replaced = text[: start + len(README_START)] + "\n\n" + body + "\n" + text[end:]
            if replaced != text:
                readme.write_text(replaced)
                written.append(readme)
    return written
