"""Turns the raw "FIG"/"SERIES"/"NOTE" lines of the benchmarks into the table
(stdout and results/table.md), results/latest.json and the data for the plot.

    python3 report.py RESULTS_DIR RAW_FILE...

Figures with the same name (from repeated processes) are merged: their
samples are pooled.  For each figure: median, p10-p90 of the samples, the
median of the reference samples, ratio = median / reference median.  For an
absolute target (no reference), the ratio is median / limit.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def fmt(v, unit=""):
    if v != v:  # nan
        return "-"
    a = abs(v)
    s = f"{v:.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2f}" if a >= 0.1 else f"{v:.3g}"
    return s + (" " + unit if unit else "")


def machine():
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} CPUs{mem}, {platform.system()} {platform.release()}"


def main(outdir, files):
    figs, order, series, notes = {}, [], {}, []
    for path in files:
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("FIG "):
                    d = json.loads(line[4:])
                    if d["name"] in figs:
                        figs[d["name"]]["samples"] += d["samples"]
                        figs[d["name"]]["ref_samples"] += d["ref_samples"]
                    else:
                        figs[d["name"]] = d
                        order.append(d["name"])
                elif line.startswith("SERIES "):
                    d = json.loads(line[7:])
                    series.setdefault(d["name"], []).append(d["points"])
                elif line.startswith("NOTE "):
                    notes.append(line[5:])
    rows = []
    for name in order:
        d = figs[name]
        s, r, t = d["samples"], d["ref_samples"], d["target"]
        med, p10, p90 = pct(s, 50), pct(s, 10), pct(s, 90)
        ref = pct(r, 50) if r else float("nan")
        kind, op, val = t["kind"], t["op"], t["value"]
        if kind == "abs":
            ratio = med / val
            ref_txt = f"limit {fmt(val, d['unit'])}"
        else:
            ratio = med / ref if r else float("nan")
            ref_txt = fmt(ref, d["unit"]) if r else "-"
        if kind == "info":
            target, result = "-", "info"
        else:
            x = med if kind == "abs" else ratio
            ok = {"<": x < val, "<=": x <= val, ">=": x >= val, ">": x > val}[op]
            target = f"{op} {fmt(val, d['unit'])}" if kind == "abs" else f"{op} {val:g}x"
            result = "PASS" if ok else "MISS"
        rows.append({
            "name": name, "label": d["label"], "unit": d["unit"], "n": len(s),
            "median": med, "p10": p10, "p90": p90, "ref_label": d["ref_label"],
            "ref_n": len(r), "ref_median": ref if r else None, "ratio": ratio,
            "target": target, "result": result, "note": d.get("note", ""),
            "ref_text": ref_txt,
        })

    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except OSError:
        commit = ""
    mach = machine()

    # ---- table (markdown, also printed) ----
    lines = [
        f"Benchmarks of {date} on {mach} (commit {commit or '?'}; `make bench`).",
        "Median and p10-p90 over repeated runs; ratio = median / reference median measured in "
        "the same run (for an absolute target: median / limit).",
        "",
        "| figure | median | p10-p90 | reference (median) | ratio | target | result |",
        "| --- | ---: | ---: | --- | ---: | --- | --- |",
    ]
    for row in rows:
        ref = row["ref_text"]
        if row["ref_label"] and row["ref_median"] is not None:
            ref = f"{row['ref_label']}: {ref}"
        label = row["label"] + (f" ({row['note']})" if row["note"] else "")
        ratio_txt = "-" if row["ratio"] != row["ratio"] else f"{row['ratio']:.2f}x"
        lines.append(
            f"| {label} | {fmt(row['median'], row['unit'])} | "
            f"{fmt(row['p10'])}-{fmt(row['p90'])} | {ref} | "
            f"{ratio_txt} | "
            f"{row['target']} | {row['result']} |")
    if notes:
        lines.append("")
        lines.extend(f"- {n}" for n in notes)
    missed = [r["name"] for r in rows if r["result"] == "MISS"]
    lines.append("")
    lines.append("Targets missed: " + (", ".join(missed) if missed else "none"))
    table = "\n".join(lines) + "\n"
    print(table)
    with open(os.path.join(outdir, "table.md"), "w") as f:
        f.write(table)
    with open(os.path.join(outdir, "latest.json"), "w") as f:
        head = json.dumps({"date": date, "machine": mach, "commit": commit, "notes": notes,
                           "figures": rows, "missed": missed}, indent=1)
        # the plot series on one line each: [libraries, load us, RSS KiB]
        f.write(head[:-2] + ',\n "series": {\n' + ",\n".join(
            f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in series.items()) + "\n }\n}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
