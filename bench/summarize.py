#!/usr/bin/env python3
"""Summarize bioscope benchmark rows (JSON lines) into ratios, JSON and a PNG chart.

usage: summarize.py NAME ROWS.jsonl OUT.json

Rows carry at least "mode", a metric ("iops" or "MBps") and grouping keys (e.g. "rw",
"rep"). For every group the ratio of each mode to "off" is computed per repetition (modes
run side by side in one boot), then summarized as median, min and max over repetitions.
The PNG (same name as OUT.json, .png) is drawn with gnuplot.
"""
import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict


def main():
    name, rows_path, out_path = sys.argv[1:4]
    rows = [json.loads(l) for l in open(rows_path) if l.strip().startswith("{")]
    if not rows:
        sys.exit("summarize: no rows in %s" % rows_path)
    metric = "iops" if "iops" in rows[0] else "MBps"
    keys = [k for k in rows[0] if k not in ("mode", "rep", metric)]
    by = defaultdict(lambda: defaultdict(dict))  # group -> rep -> mode -> value
    for r in rows:
        g = tuple((k, r[k]) for k in keys)
        by[g][r.get("rep", 1)][r["mode"]] = float(r[metric])
    summary = []
    for g, reps in sorted(by.items()):
        modes = sorted({m for v in reps.values() for m in v})
        entry = {k: v for k, v in g}
        entry["metric"] = metric
        for m in modes:
            vals = [v[m] for v in reps.values() if m in v]
            entry[m] = {"median": statistics.median(vals), "values": vals}
            if m != "off" and "off" in modes:
                ratios = [v[m] / v["off"] for v in reps.values() if m in v and v.get("off")]
                if ratios:
                    entry[m + "_vs_off"] = {
                        "median": round(statistics.median(ratios), 4),
                        "min": round(min(ratios), 4), "max": round(max(ratios), 4),
                        "n": len(ratios)}
        summary.append(entry)
    json.dump({"bench": name, "rows": rows, "summary": summary}, open(out_path, "w"), indent=1)
    print("== %s (%s; ratio to off = median [min..max] over repetitions)" % (name, metric))
    for e in summary:
        label = " ".join(str(e[k]) for k in keys)
        parts = []
        for k, v in e.items():
            if k.endswith("_vs_off"):
                parts.append("%s/off %.3f [%.3f..%.3f] n=%d" % (k[:-7], v["median"], v["min"], v["max"], v["n"]))
        meds = ", ".join("%s %.0f" % (m, e[m]["median"]) for m in e if isinstance(e.get(m), dict) and "values" in e[m])
        print("  %-28s %s | %s" % (label, meds, "; ".join(parts)))
    plot(summary, keys, metric, out_path[:-5] + ".png", name)


def plot(summary, keys, metric, png, title):
    modes = []
    for e in summary:
        for m in e:
            if isinstance(e.get(m), dict) and "values" in e[m] and m not in modes:
                modes.append(m)
    dat = png[:-4] + ".dat"
    with open(dat, "w") as f:
        f.write("group " + " ".join(modes) + "\n")
        for e in summary:
            label = "-".join(str(e[k]) for k in keys).replace(" ", "_") or "all"
            f.write(label + " " + " ".join(str(e[m]["median"]) if m in e else "0" for m in modes) + "\n")
    cols = " , ".join("'%s' using %d:xtic(1) title '%s'" % (dat, i + 2, m) for i, m in enumerate(modes))
    script = ("set terminal png size 900,500; set output '%s'; set title '%s (median %s)';"
              "set style data histograms; set style histogram clustered gap 1;"
              "set style fill solid 0.8 border -1; set key outside; set yrange [0:*];"
              "set xtics rotate by -20; plot %s\n" % (png, title, metric, cols))
    try:
        subprocess.run(["gnuplot"], input=script.encode(), check=True)
        print("  chart: %s" % png)
    except (OSError, subprocess.CalledProcessError) as exc:
        print("  (no chart: %s)" % exc)
    finally:
        os.unlink(dat) if os.path.exists(dat) else None


if __name__ == "__main__":
    main()
