#!/usr/bin/env python3
"""Summarize bioscope benchmark rows (JSON lines) into ratios, JSON and a PNG chart.

usage: summarize.py NAME ROWS.jsonl OUT.json [KEY=A/B]

Rows carry at least "mode", a metric ("iops", "MBps" or "rate") and grouping keys (e.g.
"rw", "rep"). For every group the ratio of each mode to "off" is computed per repetition (modes
run side by side in one boot), then summarized as median, min and max over repetitions.
With KEY=A/B, rows whose KEY is A are also compared with the rows that differ only in
KEY being B, per repetition and mode ("versus" in the JSON), e.g. server=attached/none.
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
    versus = sys.argv[4] if len(sys.argv) > 4 else None
    rows = [json.loads(l) for l in open(rows_path) if l.strip().startswith("{")]
    if not rows:
        sys.exit("summarize: no rows in %s" % rows_path)
    metric = next((m for m in ("iops", "MBps", "rate") if m in rows[0]), None)
    if metric is None:
        sys.exit("summarize: rows have no iops, MBps or rate")
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
    vs = compare(rows, keys, metric, versus) if versus else []
    out = {"bench": name, "rows": rows, "summary": summary}
    if versus:
        out["versus"] = vs
    json.dump(out, open(out_path, "w"), indent=1)
    print("== %s (%s; ratio to off = median [min..max] over repetitions)" % (name, metric))
    for e in summary:
        label = " ".join(str(e[k]) for k in keys)
        parts = []
        for k, v in e.items():
            if k.endswith("_vs_off"):
                parts.append("%s/off %.3f [%.3f..%.3f] n=%d" % (k[:-7], v["median"], v["min"], v["max"], v["n"]))
        meds = ", ".join("%s %.0f" % (m, e[m]["median"]) for m in e if isinstance(e.get(m), dict) and "values" in e[m])
        print("  %-28s %s | %s" % (label, meds, "; ".join(parts)))
    if versus:
        print("== %s: %s, per repetition and mode, median [min..max]" % (name, versus))
        for v in vs:
            print("  %-28s %-7s %.3f [%.3f..%.3f] n=%d" % (
                v["group"], v["mode"], v["median"], v["min"], v["max"], v["n"]))
    plot(summary, keys, metric, out_path[:-5] + ".png", name)


def compare(rows, keys, metric, versus):
    """Ratio of KEY=A rows to the KEY=B rows of the same other keys, rep and mode."""
    key, ab = versus.split("=", 1)
    a, b = ab.split("/", 1)
    if key not in keys:
        sys.exit("summarize: rows have no key %s" % key)
    rest = [k for k in keys if k != key]
    val = {}
    for r in rows:
        val[(tuple(r[k] for k in rest), r.get("rep", 1), r["mode"], r[key])] = float(r[metric])
    ratios = {}
    for (g, rep, mode, kv), v in val.items():
        if kv == a and val.get((g, rep, mode, b)):
            ratios.setdefault((g, mode), []).append(v / val[(g, rep, mode, b)])
    res = []
    for (g, mode), rs in sorted(ratios.items()):
        res.append({"group": " ".join(str(x) for x in g), "mode": mode,
                    "ratio": "%s/%s" % (a, b), "median": round(statistics.median(rs), 4),
                    "min": round(min(rs), 4), "max": round(max(rs), 4), "n": len(rs)})
    return res


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
    script = ("set terminal png size 900,500 noenhanced; set output '%s'; set title '%s (median %s)';"
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
