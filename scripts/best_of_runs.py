#!/usr/bin/env python3
"""Combines several results tables of benches/results.rs into one: for each
layer, the best of the runs of each implementation (pointwise per ISA, gemm,
matrixmultiply, XNNPACK), each run's figure being already a median of its
samples. This is the comparison that the machine's noise calls for (other
tenants slow a run now and then, never speed one up): compare back to back,
take the better of several runs of each, and quote ratios. The ratios, the
share of peak (against the best of the runs' peaks) and the geometric means
are computed again from the best figures.

    python3 scripts/best_of_runs.py RUN1.md RUN2.md ... > TABLE.md
"""
import math
import re
import sys


def parse(path):
    """The summary line, the header cells and {layer: cells} of one table."""
    summary, header, rows = None, None, {}
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("Machine:"):
            summary = line
        elif line.startswith("| layer |"):
            header = cells(line)
        elif line.startswith("| ") and not line.startswith("| **") and header:
            row = cells(line)
            rows[row[0]] = row
    if summary is None or header is None or not rows:
        sys.exit(f"{path}: not a results table")
    return summary, header, rows


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def number(text):
    return None if text in ("n/a", "") else float(text)


def main(paths):
    runs = [parse(p) for p in paths]
    header = runs[0][1]
    if any(h != header for _, h, _ in runs):
        sys.exit("the runs' tables have different columns")
    layers = list(runs[0][2])
    if any(list(r) != layers for _, _, r in runs):
        sys.exit("the runs' tables have different layers")
    peaks = [float(re.search(r"([0-9.]+) GFLOP/s", s).group(1)) for s, _, _ in runs]
    peak = max(peaks)
    # Speed columns: every header that is not the layer, a share or a ratio.
    speed_cols = [i for i, h in enumerate(header) if i > 0 and h != "% peak" and " vs " not in f" {h}"]
    ours, xnn, gemm = 1, header.index("XNNPACK"), header.index("gemm 0.19")

    best = {}
    for layer in layers:
        best[layer] = {}
        for i in speed_cols:
            values = [number(r[layer][i]) for _, _, r in runs]
            values = [v for v in values if v is not None]
            best[layer][i] = max(values) if values else None

    logs = {h: [] for h in header if h.startswith("vs ") or h.endswith(" vs XNNPACK")}
    summary = runs[0][0]
    summary = re.sub(r"[0-9.]+ GFLOP/s", f"{peak:.1f} GFLOP/s", summary, count=1)
    summary += (
        f" Each figure is the best of {len(runs)} runs of that implementation (each run's figure the median"
        " of its samples); the share of peak is against the best of the runs' peaks"
        f" ({', '.join(f'{p:.1f}' for p in peaks)})."
    )
    out = [summary, "", "| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for layer in layers:
        b = best[layer]
        row = []
        for i, h in enumerate(header):
            if i == 0:
                row.append(layer)
            elif i in speed_cols:
                row.append("n/a" if b[i] is None else f"{b[i]:.1f}")
            elif h == "% peak":
                row.append(f"{100 * b[ours] / peak:.0f}%")
            else:
                # "vs gemm", "vs XNNPACK" (the dispatched ISA), "<isa> vs XNNPACK".
                if h == "vs gemm":
                    num, den = b[ours], b[gemm]
                elif h == "vs XNNPACK":
                    num, den = b[ours], b[xnn]
                else:
                    num, den = b[header.index("pointwise " + h.removesuffix(" vs XNNPACK"))], b[xnn]
                if num is None or den is None:
                    row.append("n/a")
                else:
                    logs[h].append(math.log(num / den))
                    row.append(f"{num / den:.2f}x")
        out.append("| " + " | ".join(row) + " |")
    geo = ["**geometric mean**"]
    for i, h in enumerate(header[1:], start=1):
        if h in logs and logs[h]:
            geo.append(f"**{math.exp(sum(logs[h]) / len(logs[h])):.2f}x**")
        elif h in logs:
            geo.append("n/a")
        else:
            geo.append("")
    out.append("| " + " | ".join(geo) + " |")
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
