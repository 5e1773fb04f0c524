"""Turn the figures of one ``run.py`` run into results.json, RESULTS.md, the plot and the table.

``results.json`` has the keys issue 5 asks for (``throughput``, ``cpu_ms_per_row``,
``validation_us_per_body``, ``rss_mb``, ``storm``) plus ``targets`` (each target, met or not)
and ``detail`` (every measured figure). RESULTS.md is written from the same data; where a
target is missed it says by how much, what the time went on, and what would reach it.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import explain
import markdown as results_markdown
import storm
import throughput

KIND_LABELS = {
    "ours": "knime-llm",
    "sdk": "openai SDK + semaphore",
    "groups": "SDK fixed groups",
    "bare": "bare aiohttp",
    "lean": "lean asyncio.Protocol (lower bound)",
}


def machine() -> dict[str, Any]:
    """CPU model, cores, load, Python and library versions, date: where the figures come from."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    versions = {}
    for name in (
        "aiohttp",
        "openai",
        "jsonschema",
        "jsonschema-rs",
        "fastjsonschema",
        "orjson",
        "pyarrow",
        "uvloop",
    ):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_at_start": list(os.getloadavg()),
    }


def build(results: dict[str, Any]) -> dict[str, Any]:
    """The content of results.json, from what ``run.py`` gathered."""
    rows = results["rows"]
    figures = results["figures"]
    cost = results["client_cost"]
    ours_storm = results["storm_runs"]["ours"]
    final: dict[str, Any] = {
        "throughput": throughput.ratios(figures, rows),
        "cpu_ms_per_row": cost["ours"]["cpu_ms_per_row"],
        "validation_us_per_body": {
            name: v["us_per_body"] for name, v in cost["validation"].items()
        },
        "rss_mb": {n: s["max_rss_mb"] for n, s in results["scale"].items()},
        "storm": {
            "ratio_to_minimum": ours_storm["ratio_to_minimum"],
            "requests_during_cooldown": ours_storm["requests_during_cooldown"],
        },
    }
    final["targets"] = explain.targets(final, results)
    final["detail"] = {
        "machine": results["machine"],
        "rows": rows,
        "elapsed_s": results["elapsed_s"],
        "load_average_at_end": results.get("load_average_at_end", list(os.getloadavg())),
        "runs": figures,
        "floors": results["floors"],
        "time_split": explain.time_splits(figures, results["floors"], rows),
        "client_cost": cost,
        "scale": results["scale"],
        "storm": results["storm_runs"],
    }
    return final


def write(results: dict[str, Any], out: Path) -> dict[str, Any]:
    """Write results.json, throughput.png and RESULTS.md into ``out``; return the JSON content."""
    final = build(results)
    (out / "results.json").write_text(json.dumps(final, indent=2) + "\n")
    plot(final, out / "throughput.png")
    (out / "RESULTS.md").write_text(markdown(final))
    return final


def plot(final: dict[str, Any], path: Path) -> None:
    """Rows per second against concurrency, per client, one panel per latency shape."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    detail = final["detail"]
    rows = detail["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, shape in zip(axes, throughput.SHAPES):
        cs = throughput.CONCURRENCIES
        floor = [rows / detail["floors"][f"{shape}/{c}"]["floor_s"] for c in cs]
        ax.plot(cs, floor, "k--", label="floor (zero-overhead sliding window)")
        for kind, style in zip(throughput.ALL_KINDS, ("o-", "s-", "v-", "^-", "x:")):
            runs = [detail["runs"].get(f"{kind}/{shape}/{c}") for c in cs]
            ax.plot(
                cs,
                [rows / r["wall_s"] if r else float("nan") for r in runs],
                style,
                label=KIND_LABELS[kind],
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(cs, [str(c) for c in cs])
        ax.set_xlabel("concurrency")
        ax.set_title(f"{shape} latency, mean 50 ms, N = {rows:,}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("rows per second")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(final: dict[str, Any]) -> str:
    """The throughput table and the other headline figures, as plain text for the terminal."""
    detail = final["detail"]
    lines = [
        f"{'shape':<10}{'C':>5}{'floor s':>9}{'ours s':>9}{'/floor':>8}"
        f"{'SDK s':>9}{'SDK/ours':>10}{'groups s':>10}{'grp/ours':>10}"
        f"{'bare s':>9}{'bare/ours':>10}{'lean s':>8}"
    ]
    for shape in throughput.SHAPES:
        for c in throughput.CONCURRENCIES:
            run = {
                k: detail["runs"].get(f"{k}/{shape}/{c}", {}).get("wall_s", float("nan"))
                for k in throughput.ALL_KINDS
            }
            ratio = final["throughput"].get(shape, {}).get(str(c), {})
            lines.append(
                f"{shape:<10}{c:>5}{detail['floors'][f'{shape}/{c}']['floor_s']:>9.2f}{run['ours']:>9.2f}"
                f"{ratio.get('ratio_to_ideal', float('nan')):>8.3f}{run['sdk']:>9.2f}"
                f"{ratio.get('sdk_over_ours', float('nan')):>10.2f}{run['groups']:>10.2f}"
                f"{ratio.get('groups_over_ours', float('nan')):>10.2f}{run['bare']:>9.2f}"
                f"{ratio.get('bare_over_ours', float('nan')):>10.3f}{run['lean']:>8.2f}"
            )
    lines.append(
        f"cpu_ms_per_row {final['cpu_ms_per_row']}  ·  validation µs/body "
        + ", ".join(f"{k}: {v}" for k, v in final["validation_us_per_body"].items())
    )
    lines.append(
        "rss_mb "
        + ", ".join(f"{int(n):,} rows: {mb}" for n, mb in final["rss_mb"].items())
        + "  ·  storm "
        + json.dumps(final["storm"])
    )
    missed = [t["target"] for t in final["targets"] if not t["met"]]
    lines.append(
        f"targets met: {sum(t['met'] for t in final['targets'])}/{len(final['targets'])}"
        + (f"; missed: {'; '.join(missed)}" if missed else "")
    )
    return "\n".join(lines)


def markdown(final: dict[str, Any]) -> str:
    """RESULTS.md."""
    return results_markdown.markdown(final, table(final), KIND_LABELS, storm)


def raw_from(final: dict[str, Any]) -> dict[str, Any]:
    """What ``run.py`` gathered, recovered from a results.json (to write the reports again)."""
    d = final["detail"]
    return {"machine": d["machine"], "rows": d["rows"], "elapsed_s": d["elapsed_s"],
            "load_average_at_end": d["load_average_at_end"], "figures": d["runs"],
            "floors": d["floors"], "client_cost": d["client_cost"], "scale": d["scale"],
            "storm_runs": d["storm"]}


if __name__ == "__main__":
    # Write RESULTS.md, the plot and results.json again from bench/results.json (no measuring).
    here = Path(__file__).resolve().parent
    print(table(write(raw_from(json.loads((here / "results.json").read_text())), here)))
