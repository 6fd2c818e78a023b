#!/usr/bin/env python3
"""Medians per tool and operation from a bench/run CSV, with ratios to restic."""
import csv
import statistics
import sys
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1])))
by = defaultdict(list)
for r in rows:
    by[(r["tool"], r["operation"])].append(r)

def paired(tool, op, field):
    """Median of the per-run ratios tool/restic (runs alternate the order)."""
    base = {r["run"]: float(r[field]) for r in by[("restic", op)] if r[field]}
    ratios = [float(r[field]) / base[r["run"]] for r in by[(tool, op)] if r[field] and base.get(r["run"])]
    return f"{statistics.median(ratios):.2f}" if ratios else ""

def med(tool, op, field):
    vals = [float(r[field]) for r in by[(tool, op)] if r[field]]
    return statistics.median(vals) if vals else None

ops = ["backup-full", "backup-incremental", "restore"]
runs = len({r["run"] for r in rows})
print(f"Medians of {runs} run(s); ratio = median over runs of tool / restic in the same run (below 1 is better).\n")
print("| operation | tool | wall s | ratio | CPU s | peak RSS MiB | ratio | stored MiB | ratio |")
print("|---|---|---|---|---|---|---|---|---|")
for op in ops:
    for tool in ("coffer", "restic", "borg"):
        if (tool, op) not in by:
            continue
        wall, cpu = med(tool, op, "wall_s"), med(tool, op, "cpu_s")
        rss, stored = med(tool, op, "peak_rss_kib"), med(tool, op, "stored_bytes")
        print(
            f"| {op} | {tool} | {wall:.2f} | {paired(tool, op, 'wall_s')} | {cpu:.2f} | {rss / 1024:.1f} | "
            f"{paired(tool, op, 'peak_rss_kib')} | {'' if stored is None else f'{stored / 2**20:.0f}'} | {paired(tool, op, 'stored_bytes')} |"
        )
