#!/usr/bin/env python3
"""Draws a chaos soak's timeline as an SVG: tasks accepted (201) and tasks
seen final per 5 s, with a mark for every kill, coloured by what was
killed. Reads submitted.jsonl, first_finals.jsonl and kills.log from the
soak's output directory. Standard library only.
"""

import argparse
import datetime
import json

BIN = 5.0
ROLE_COLORS = {"redis": "#d62728", "server": "#9467bd", "dispatcher": "#ff7f0e", "worker": "#2ca02c"}


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def kills(path, day):
    """[(epoch seconds, role kind)] of the `kill -9` lines (times are UTC of `day`)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 3 and parts[1:3] == ["kill", "-9"]:
                t = datetime.datetime.strptime(f"{day} {parts[0]}", "%Y-%m-%d %H:%M:%S.%f")
                role = parts[3]
                kind = next((k for k in ROLE_COLORS if k in role), "worker")
                out.append((t.replace(tzinfo=datetime.timezone.utc).timestamp(), kind))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="the soak's output directory")
    p.add_argument("svg")
    args = p.parse_args()
    submitted = read_jsonl(f"{args.out}/submitted.jsonl")
    finals = read_jsonl(f"{args.out}/first_finals.jsonl")
    t0 = min(r["t"] for r in submitted)
    day = datetime.datetime.fromtimestamp(t0, datetime.timezone.utc).strftime("%Y-%m-%d")
    marks = [(t - t0, kind) for t, kind in kills(f"{args.out}/kills.log", day) if t >= t0]
    end = max(r["t"] for r in finals) - t0
    bins = int(end // BIN) + 1
    series = {"accepted (201)": [0] * bins, "seen final": [0] * bins}
    for r in submitted:
        series["accepted (201)"][int((r["t"] - t0) // BIN)] += 1
    for r in finals:
        series["seen final"][int((r["t"] - t0) // BIN)] += 1

    width, height, left, right, top = 1000, 360, 60, 150, 30
    pw, ph = width - left - right, height - top - 50
    y_max = max(max(v) for v in series.values()) / BIN * 1.1
    x = lambda s: left + s / end * pw  # noqa: E731
    y = lambda v: top + ph - v / y_max * ph  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left}" y="18" font-size="14" font-weight="bold">chaos soak: tasks per second '
           f'(5 s bins), and every kill -9</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for i in range(6):
        v = y_max * i / 5
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end">{v:.0f}</text>')
    step = next(v for v in (10, 30, 60, 120, 300, 600, 1800) if end / v <= 12)
    for i in range(int(end // step) + 1):
        s = i * step
        out.append(f'<text x="{x(s):.1f}" y="{top + ph + 16}" font-size="11" text-anchor="middle">{s:.0f}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 12}" font-size="12" text-anchor="middle">'
               f'seconds since the first task</text>')
    for s, kind in marks:
        out.append(f'<line x1="{x(s):.1f}" x2="{x(s):.1f}" y1="{top}" y2="{top + 14}" '
                   f'stroke="{ROLE_COLORS[kind]}" stroke-width="2"/>')
    for i, (name, counts) in enumerate(series.items()):
        color = ["#1f77b4", "#333"][i]
        points = " ".join(f"{x((b + 0.5) * BIN):.1f},{y(c / BIN):.1f}" for b, c in enumerate(counts))
        dash = ' stroke-dasharray="5 3"' if i else ""
        out.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.5"{dash}/>')
        ly = top + 10 + i * 18
        out.append(f'<line x1="{left + pw + 10}" x2="{left + pw + 28}" y1="{ly}" y2="{ly}" '
                   f'stroke="{color}" stroke-width="3"{dash}/>')
        out.append(f'<text x="{left + pw + 33}" y="{ly + 4}" font-size="11">{name}</text>')
    for i, (kind, color) in enumerate(ROLE_COLORS.items()):
        ly = top + 60 + i * 18
        tally = sum(1 for _, k in marks if k == kind)
        out.append(f'<line x1="{left + pw + 18}" x2="{left + pw + 18}" y1="{ly - 7}" y2="{ly + 7}" '
                   f'stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{left + pw + 33}" y="{ly + 4}" font-size="11">kill {kind} ({tally})</text>')
    out.append("</svg>")
    with open(args.svg, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {args.svg}")


if __name__ == "__main__":
    main()
