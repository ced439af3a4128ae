"""Plots load latency and resident memory against the number of live
libraries (the 1,000-library benchmark) from results/latest.json into
results/libs.png.  Uses matplotlib when it imports; otherwise draws a plain
two-panel line chart with zlib only.

    python plot.py RESULTS_DIR
"""

from __future__ import annotations

import json
import os
import struct
import sys
import zlib


def load_series(outdir):
    with open(os.path.join(outdir, "latest.json")) as f:
        data = json.load(f)
    runs = data.get("series", {}).get("libs", [])
    return data, runs


def with_matplotlib(data, runs, png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for i, pts in enumerate(runs):
        n = [p[0] for p in pts]
        t = [p[1] for p in pts]
        rss = [(p[2] - pts[0][2]) / 1024 for p in pts]
        # a running median over 25 loads makes the trend readable
        w = 25
        sm = [sorted(t[max(0, j - w // 2): j + w // 2 + 1])[len(t[max(0, j - w // 2): j + w // 2 + 1]) // 2]
              for j in range(len(t))]
        a1.plot(n, t, ".", ms=2, alpha=0.3, color=f"C{i}")
        a1.plot(n, sm, "-", color=f"C{i}", label=f"run {i + 1} (running median)")
        a2.plot(n, rss, "-", color=f"C{i}", label=f"run {i + 1}")
    a1.set_ylabel("load + get function (us)")
    a1.set_yscale("log")
    a1.legend(fontsize=8)
    a2.set_ylabel("RSS growth (MiB)")
    a2.set_xlabel("live libraries in the session")
    a2.legend(fontsize=8)
    fig.suptitle(f"tvm-ffi-orcjit: 1,000 libraries in one session\n{data.get('date', '')}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    return "matplotlib"


def without_matplotlib(data, runs, png):
    """A minimal PNG: two panels, one polyline each (latency, RSS), per run."""
    w, h = 800, 600
    img = [[(255, 255, 255)] * w for _ in range(h)]
    colors = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]

    def panel(y0, y1, key):
        for x in range(50, w - 20):
            img[y1][x] = (0, 0, 0)
        for y in range(y0, y1 + 1):
            img[y][50] = (0, 0, 0)
        vals = [p[key] for pts in runs for p in pts]
        if not vals:
            return
        lo, hi = min(vals), max(vals)
        hi = hi if hi > lo else lo + 1
        nmax = max(p[0] for pts in runs for p in pts)
        for i, pts in enumerate(runs):
            c = colors[i % len(colors)]
            for p in pts:
                x = 50 + int((p[0] / nmax) * (w - 75))
                y = y1 - int((p[key] - lo) / (hi - lo) * (y1 - y0 - 5))
                for dx in (0, 1):
                    for dy in (0, 1):
                        if 0 <= y + dy < h and 0 <= x + dx < w:
                            img[y + dy][x + dx] = c

    panel(20, 280, 1)   # load latency
    panel(320, 580, 2)  # RSS
    raw = b"".join(b"\x00" + bytes(v for px in row for v in px) for row in img)

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    with open(png, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))
    return "plain PNG (top: load latency, bottom: RSS, x: live libraries)"


def main(outdir):
    data, runs = load_series(outdir)
    png = os.path.join(outdir, "libs.png")
    if not runs:
        print("plot: no 1,000-library series in latest.json")
        return 0
    try:
        how = with_matplotlib(data, runs, png)
    except ImportError:
        how = without_matplotlib(data, runs, png)
    print(f"plot: {png} ({how})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
