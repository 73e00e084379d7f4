#!/usr/bin/env python3
"""Plots the memory soak's samples as an SVG and prints each series' growth.

Input: the CSV scripts/memory-soak.sh writes (t_s, then one column per
series, in bytes, and counters such as tasks_done that are drawn nowhere).
Growth is measured from the end of the first 2 x RETENTION seconds (the
first sample at or after it) to the last sample: after one retention
period records start to expire, after two the store holds a steady window.
Standard library only.
"""

import argparse
import csv
import math
import sys

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
MIB = 1024 * 1024


def read(path):
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{path}: no samples")
    return rows


def growth(rows, series, retention):
    """From the end of the first 2 x retention to the end: (baseline time,
    window in samples, [(series, value at the baseline, value at the end,
    mean of the window after the baseline, mean of the last window)]). The
    load comes in rounds, so single samples swing; window means do not."""
    after = [r for r in rows if float(r["t_s"]) >= 2 * retention]
    if len(after) < 2:
        return None, 0, []
    window = max(1, min(30, len(after) // 3))
    mean = lambda rs, s: sum(float(r[s]) for r in rs) / len(rs)  # noqa: E731
    return float(after[0]["t_s"]), window, [
        (s, float(after[0][s]), float(after[-1][s]), mean(after[:window], s), mean(after[-window:], s))
        for s in series]


def nice_ceiling(v):
    """The smallest round number (1, 1.5, 2, ... 8 x 10^k) at or above v (axis ends)."""
    if v <= 0:
        return 1.0
    k = math.floor(math.log10(v))
    return next(m * 10 ** k for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * 10 ** k >= v)


def panel(out, rows, series, top, height, width, title, retention, scale=MIB, unit="MiB"):
    """One chart of `series` (divided by `scale`, in `unit`) at y = top."""
    left, right = 70, 170
    plot_w, plot_h = width - left - right, height - 50
    xs = [float(r["t_s"]) for r in rows]
    x_max = max(xs[-1], 1.0)
    y_max = nice_ceiling(max(max(float(r[s]) for r in rows if r[s] is not None) for s in series)
                         / scale * 1.05)
    x = lambda v: left + v / x_max * plot_w  # noqa: E731
    y = lambda v: top + 30 + plot_h - v / y_max * plot_h  # noqa: E731
    out.append(f'<text x="{left}" y="{top + 18}" font-size="14" font-weight="bold">{title}</text>')
    out.append(f'<rect x="{left}" y="{top + 30}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    for i in range(6):
        v = y_max * i / 5
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end">{v:g}</text>')
    step = next((v for v in (10, 30, 60, 120, 300, 600, 1800) if x_max / v <= 12), 3600)
    for i in range(int(x_max // step) + 1):
        v = i * step
        out.append(f'<text x="{x(v):.1f}" y="{top + 30 + plot_h + 16}" font-size="11" '
                   f'text-anchor="middle">{v:.0f}</text>')
    out.append(f'<text x="{left - 50}" y="{top + 30 + plot_h / 2}" font-size="11" '
               f'transform="rotate(-90 {left - 50} {top + 30 + plot_h / 2})" text-anchor="middle">{unit}</text>')
    for i, (mark, label) in enumerate(((retention, "retention"), (2 * retention, "2 x retention"))):
        if mark <= x_max:
            out.append(f'<line x1="{x(mark):.1f}" x2="{x(mark):.1f}" y1="{top + 30}" y2="{top + 30 + plot_h}" '
                       f'stroke="#888" stroke-dasharray="4 3"/>')
            out.append(f'<text x="{x(mark) + 3:.1f}" y="{top + 42 + 12 * i}" font-size="10" '
                       f'fill="#666">{label}</text>')
    for i, s in enumerate(series):
        color = COLORS[i % len(COLORS)]
        points = " ".join(f"{x(float(r['t_s'])):.1f},{y(float(r[s]) / scale):.1f}"
                          for r in rows if r[s] is not None)
        out.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        ly = top + 40 + i * 18
        out.append(f'<line x1="{left + plot_w + 12}" x2="{left + plot_w + 30}" y1="{ly}" y2="{ly}" '
                   f'stroke="{color}" stroke-width="3"/>')
        out.append(f'<text x="{left + plot_w + 35}" y="{ly + 4}" font-size="11">{s}</text>')


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("csv")
    p.add_argument("svg")
    p.add_argument("--retention", type=float, required=True, help="seconds")
    p.add_argument("--title", default="memory soak")
    args = p.parse_args()
    rows = read(args.csv)
    # The load's rate, from the count of tasks submitted: Redis holds about
    # rate x retention records, so its memory follows the rate.
    prev = None
    for r in rows:
        r["tasks_per_s"] = 0.0 if prev is None else \
            (float(r["tasks_submitted"]) - float(prev["tasks_submitted"])) / \
            max(float(r["t_s"]) - float(prev["t_s"]), 1e-9)
        prev = r
        # What a leak would raise even when the rate (and so the records
        # held) moves with the machine's load: memory per key held.
        # (None, not drawn, while Redis holds too few keys for it to mean much)
        keys = float(r["redis_keys"])
        r["redis_bytes_per_key"] = float(r["redis_used_memory"]) / keys if keys >= 1000 else None
    redis = ["redis_used_memory", "rss_redis"]
    faas = [c for c in rows[0] if c.startswith("rss_") and c != "rss_redis"]

    width, height = 900, 220
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{5 * height + 30}" '
           f'font-family="sans-serif">',
           '<rect width="100%" height="100%" fill="white"/>']
    panel(out, rows, redis, 0, height, width,
          f"{args.title}: Redis (INFO used_memory, and its resident set)", args.retention)
    panel(out, rows, faas, height, height, width,
          f"{args.title}: resident set of the faas processes", args.retention)
    panel(out, rows, ["redis_keys"], 2 * height, height, width,
          f"{args.title}: keys in Redis (task records and the rest)", args.retention,
          scale=1000, unit="thousand keys")
    panel(out, rows, ["redis_bytes_per_key"], 3 * height, height, width,
          f"{args.title}: Redis used_memory per key (flat unless something leaks)", args.retention,
          scale=1, unit="bytes")
    panel(out, rows, ["tasks_per_s"], 4 * height, height, width,
          f"{args.title}: tasks submitted per second (the load)", args.retention,
          scale=1000, unit="thousand tasks/s")
    out.append(f'<text x="{width / 2}" y="{5 * height + 20}" font-size="12" text-anchor="middle">'
               f'seconds since the load started</text>')
    out.append("</svg>")
    with open(args.svg, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {args.svg}")

    base_t, window, grown = growth(rows, redis + faas + ["redis_keys", "redis_bytes_per_key"],
                                   args.retention)
    if base_t is None:
        print(f"too few samples after 2 x retention ({2 * args.retention:.0f} s): no growth to report")
        return
    print(f"growth from t = {base_t:.0f} s (end of the first 2 x retention) to t = {rows[-1]['t_s']} s, "
          f"sample to sample, and between the means of the first and last {window} samples:")
    pct = lambda x, y: (y - x) / x * 100 if x else float("nan")  # noqa: E731
    for s, a, b, wa, wb in grown:
        scale, unit = {"redis_keys": (1, "keys"), "redis_bytes_per_key": (1, "B")}.get(s, (MIB, "MiB"))
        a, b, wa, wb = (v / scale for v in (a, b, wa, wb))
        print(f"  {s:18} {a:10.1f} -> {b:10.1f} {unit:4} ({b - a:+9.1f}, {pct(a, b):+5.1f}%)"
              f"   means {wa:10.1f} -> {wb:10.1f} {unit:4} ({wb - wa:+9.1f}, {pct(wa, wb):+5.1f}%)")

if __name__ == "__main__":
    main()
