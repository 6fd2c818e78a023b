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

def med(tool, op, field):
    vals = [float(r[field]) for r in by[(tool, op)] if r[field]]
    return statistics.median(vals) if vals else None

ops = ["backup-full", "backup-incremental", "restore"]
runs = len({r["run"] for r in rows})
print(f"Medians of {runs} run(s); ratio = tool / restic (below 1 is better).\n")
print("| operation | tool | wall s | ratio | CPU s | peak RSS MiB | ratio | stored MiB | ratio |")
print("|---|---|---|---|---|---|---|---|---|")
for op in ops:
    base = {f: med("restic", op, f) for f in ("wall_s", "peak_rss_kib", "stored_bytes")}
    for tool in ("coffer", "restic", "borg"):
        if (tool, op) not in by:
            continue
        wall, cpu = med(tool, op, "wall_s"), med(tool, op, "cpu_s")
        rss, stored = med(tool, op, "peak_rss_kib"), med(tool, op, "stored_bytes")
        ratio = lambda a, b: f"{a / b:.2f}" if a is not None and b else ""
        print(
            f"| {op} | {tool} | {wall:.2f} | {ratio(wall, base['wall_s'])} | {cpu:.2f} | {rss / 1024:.1f} | "
            f"{ratio(rss, base['peak_rss_kib'])} | {'' if stored is None else f'{stored / 2**20:.0f}'} | {ratio(stored, base['stored_bytes'])} |"
        )
