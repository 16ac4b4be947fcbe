#!/usr/bin/env python3
"""Summarize a bench matrix run (bench/loop-matrix, bench/stack-matrix): JSON, table, PNG.

usage: matrix.py RUN_DIR OUT.json [--png OUT.png]

RUN_DIR holds config.json (written by bench/lib/matrix-host.sh), vms.jsonl (one line per
VM: mode, exit status, verdict) and one directory per mode with the guest's rows.jsonl.

Every cell of the configured matrix appears in the output, per mode, with a status:
  pass     every repetition ran and passed
  fail     at least one repetition failed (fio error, hung task, lockdep, kernel warning,
           OOM kill, stuck, servicer died); "reasons" says which
  missing  no row: the stack was skipped or failed to set up, or the VM ended early
           (reason from the stack row or the VM's exit status)
Ratios (median of one mode over median of another, MB/s and IOPS) are given only when both
sides pass. With repetitions, "range" is [min(a)/max(b), max(a)/min(b)].
Modes run in separate boots, one VM per mode; the "ceiling" stack (fio on the backing
ext4 itself) runs in every boot, so its ratios to off show the boot-to-boot noise.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

MODES = ("off", "blanket", "scoped")
PAIRS = (("blanket", "off"), ("scoped", "off"), ("scoped", "blanket"))
VM_EXIT = {120: "kernel panic/oops", 121: "lockdep report", 122: "hung-task report",
           123: "VM timeout", 124: "guest ended without a status"}


def load_jsonl(path):
    rows = []
    if not os.path.exists(path):
        return rows
    for line in open(path, errors="replace"):
        line = line.strip()
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass
    return rows


def bs_bytes(bs):
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    s = bs.lower()
    return int(s[:-1]) * units[s[-1]] if s[-1] in units else int(s)


def cell_key(stack, direct, rw, bs, pressure):
    return (stack, int(direct), rw, bs, pressure)


def cell_label(key, short=False):
    stack, direct, rw, bs, pressure = key
    io = "direct" if direct else "buffered"
    if short:
        io = "dio" if direct else "buf"
        pressure = "-" if pressure == "none" else pressure
    return "%s %s %s %s %s" % (stack, io, rw, bs, pressure)


def stats(values):
    if not values:
        return None
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "values": values}


def ratio(a, b, metric):
    if not a or not b or a["status"] != "pass" or b["status"] != "pass":
        return None
    sa, sb = a[metric], b[metric]
    if not sa or not sb or not sb["median"] or not sb["min"]:
        return None
    r = {"ratio": round(sa["median"] / sb["median"], 4)}
    if len(sa["values"]) > 1 or len(sb["values"]) > 1:
        r["range"] = [round(sa["min"] / sb["max"], 4), round(sa["max"] / sb["min"], 4)]
    return r


STACK_ADOPTERS = {"loop": ["loop"], "ublk": ["ublk"], "tcmu-zbc": ["tcmu", "dm-zoned"], "ceiling": []}


def scope_check(mode, stack, delta, servicer):
    """Did the mode take effect in the stack's servicers? From the adopter counter deltas
    over the stack's run and what the userspace servicer reported."""
    names = STACK_ADOPTERS.get(stack, [])
    if not names:
        return {"ok": None, "detail": "no servicer"}
    tot = lambda key: sum(delta.get(n, {}).get(key, 0) for n in names)
    served, blanket = tot("served"), tot("blanket")
    adopted = tot("adopted_nofs") + tot("adopted_noio") + tot("adopted_wb")
    detail = "served %d, adopted nofs/noio/wb %d/%d/%d, blanket %d" % (
        served, tot("adopted_nofs"), tot("adopted_noio"), tot("adopted_wb"), blanket)
    problems = []
    if served == 0:
        problems.append("no command counted by the adopter(s) %s" % "/".join(names))
    if mode == "off" and (adopted or blanket):
        problems.append("scopes applied in off mode")
    if mode == "blanket" and served and not blanket:
        problems.append("blanket mode but no command served blanket")
    if mode == "scoped":
        if not adopted:
            problems.append("scoped mode but no command adopted a scope")
        if stack == "ublk" and not ("feature=yes" in servicer and "rwf_scope=on" in servicer):
            problems.append("ublk-scope did not negotiate scopes / RWF flags")
        if stack == "tcmu-zbc" and "kernel passes memory allocation scopes" not in servicer:
            problems.append("tcmu-runner did not declare scopes")
    if servicer:
        detail += "; servicer: " + servicer
    return {"ok": not problems, "detail": detail, "problems": problems}


def part_dirs(run, mode):
    """MODE/, MODE.2/, ...: the VMs of one mode, in order (a later part runs the stacks an
    earlier VM did not start or, with --resume, did not finish)."""
    ds = [d for d in os.listdir(run) if os.path.isdir(os.path.join(run, d)) and
          (d == mode or (d.startswith(mode + ".") and d[len(mode) + 1:].isdigit()))]
    return sorted(ds, key=lambda d: int(d[len(mode) + 1:]) if d != mode else 1)


def stack_rows_of(run, mode):
    """stack -> its rows from the last VM of MODE that started it."""
    out = {}
    for d in part_dirs(run, mode):
        per = {}
        for r in load_jsonl(os.path.join(run, d, "rows.jsonl")):
            if "stack" in r and r.get("type") in ("stack-start", "stack", "cell"):
                per.setdefault(r["stack"], []).append(r)
        for stack, rs in per.items():
            if any(r["type"] == "stack-start" for r in rs):
                out[stack] = rs
    return out


def status(run):
    """For --resume: per mode, the next part number and the stacks still to run (never
    started, or started in a VM that died before the stack's end row)."""
    cfg = json.load(open(os.path.join(run, "config.json")))
    for mode in cfg["modes"]:
        done = {st for st, rs in stack_rows_of(run, mode).items() if any(r["type"] == "stack" for r in rs)}
        todo = [st for st in cfg["stacks"] if st not in done]
        parts = part_dirs(run, mode)
        nxt = 1 if not parts else max(int(d[len(mode) + 1:]) if d != mode else 1 for d in parts) + 1
        print(mode, nxt, " ".join(todo))


def summarize(run):
    cfg = json.load(open(os.path.join(run, "config.json")))
    vms = load_jsonl(os.path.join(run, "vms.jsonl"))
    rows, stack_rows, vm_rows = [], {}, {}
    for mode in cfg["modes"]:
        for stack, rs in stack_rows_of(run, mode).items():
            for r in rs:
                if r.get("type") == "cell":
                    rows.append(r)
                elif r.get("type") == "stack":
                    stack_rows[(mode, stack)] = r
        for d in part_dirs(run, mode):
            for r in load_jsonl(os.path.join(run, d, "rows.jsonl")):
                if r.get("type") == "vm":
                    vm_rows.setdefault(mode, r)

    keys = []
    for stack in cfg["stacks"]:
        for p in cfg["pressures"]:
            for d in cfg["directs"]:
                for job in cfg["jobs"]:
                    rw, bs = job.split(":")
                    keys.append(cell_key(stack, d, rw, bs, p))

    def why_missing(mode, stack):
        st = stack_rows.get((mode, stack))
        if st and st["status"] != "ok":
            return "stack %s %s: %s" % (stack, st["status"], st.get("reason") or "?")
        ran = [v for v in vms if v["mode"] == mode and stack in v.get("stacks", [stack])]
        if not ran:
            return "no VM ran stack %s in mode %s" % (stack, mode)
        vm = ran[-1]
        if vm["exit"] != 0:
            return "VM exit %s (%s)" % (vm["exit"], VM_EXIT.get(vm["exit"], vm.get("verdict", "")))
        return "no result row"

    cells = []
    for key in keys:
        entry = {"stack": key[0], "direct": key[1], "rw": key[2], "bs": key[3],
                 "pressure": key[4], "label": cell_label(key), "modes": {}}
        for mode in cfg["modes"]:
            rs = [r for r in rows if r["mode"] == mode and
                  cell_key(r["stack"], r["direct"], r["rw"], r["bs"], r["pressure"]) == key]
            passed = [r for r in rs if r["status"] == "pass"]
            reasons = sorted({r["reason"] for r in rs if r["status"] != "pass" and r["reason"]})
            if rs and len(passed) == len(rs) and len(rs) >= cfg["reps"]:
                status = "pass"
            elif any(r["status"] != "pass" for r in rs):
                status = "fail"
            else:
                status = "missing"
                reasons.append(why_missing(mode, key[0]))
                if rs:
                    reasons[-1] = "%d of %d repetitions ran; %s" % (len(rs), cfg["reps"], reasons[-1])
            m = {"status": status, "reps": len(rs), "passed": len(passed),
                 "MBps": stats([r["MBps"] for r in passed if r["MBps"] is not None]),
                 "iops": stats([r["iops"] for r in passed if r["iops"] is not None]),
                 "clat_us": stats([r["clat_us"] for r in passed if r.get("clat_us") is not None])}
            if reasons:
                m["reasons"] = reasons
            entry["modes"][mode] = m
        entry["ratios"] = {}
        for a, b in PAIRS:
            if a in entry["modes"] and b in entry["modes"]:
                entry["ratios"]["%s/%s" % (a, b)] = {
                    "MBps": ratio(entry["modes"][a], entry["modes"][b], "MBps"),
                    "iops": ratio(entry["modes"][a], entry["modes"][b], "iops")}
        cells.append(entry)

    # fraction of the ceiling (fio on the backing ext4 in the same boot)
    if "ceiling" in cfg["stacks"]:
        ceil = {(c["direct"], c["rw"], c["bs"], c["pressure"]): c for c in cells if c["stack"] == "ceiling"}
        for c in cells:
            if c["stack"] == "ceiling":
                continue
            ref = ceil.get((c["direct"], c["rw"], c["bs"], c["pressure"]))
            c["vs_ceiling"] = {m: {"MBps": ratio(c["modes"][m], ref["modes"].get(m), "MBps")}
                               for m in c["modes"]} if ref else {}

    adopters = {}
    for (mode, stack), st in sorted(stack_rows.items()):
        b, a = st.get("adopters_before") or {}, st.get("adopters_after") or {}
        delta = {}
        for name, counters in a.items():
            d = {k: v - b.get(name, {}).get(k, 0) for k, v in counters.items()}
            if any(d.values()):
                delta[name] = d
        adopters.setdefault(mode, {})[stack] = {
            "status": st["status"], "reason": st.get("reason", ""), "servicer": st.get("servicer", ""),
            "adopter_counter_deltas": delta,
            "scope_check": scope_check(mode, stack, delta, st.get("servicer", ""))}

    failed = sum(1 for c in cells for m in c["modes"].values() if m["status"] != "pass")
    return {
        "bench": cfg["name"],
        "description": cfg.get("description", ""),
        "config": cfg,
        "vms": vms,
        "guests": vm_rows,
        "stacks": adopters,
        "metric_note": "MBps = fio bw_bytes/1e6 (read+write); iops = read+write IOPS; "
                       "ratios are ratios of medians over repetitions",
        "cells_total": len(cells) * len(cfg["modes"]),
        "cells_not_passed": failed,
        "cells": cells,
        "rows": rows,
    }


def fmt(v, metric):
    if v is None:
        return "-"
    if metric == "iops":
        return "%.0f" % v
    return "%.2f" % v if v < 100 else "%.0f" % v


def table(summary):
    cfg = summary["config"]
    modes = cfg["modes"]
    pairs = ["%s/%s" % p for p in PAIRS if p[0] in modes and p[1] in modes]
    has_ceil = any("vs_ceiling" in c for c in summary["cells"])
    out = []
    out.append("== %s: %s" % (summary["bench"], summary.get("description", "")))
    out.append("   per mode: median over %d rep(s); 4k-class jobs (bs < 64k) in IOPS, others in MB/s;"
               " ratios of medians" % cfg["reps"])
    head = "%-34s %-4s" % ("cell", "unit") + "".join("%9s" % m for m in modes) + " |" + \
        "".join("%18s" % p for p in pairs)
    if has_ceil:
        head += " |" + "".join("%13s" % ("%s/ceil" % m) for m in modes)
    out.append(head)
    out.append("-" * len(head))
    notes = []
    for c in summary["cells"]:
        key = (c["stack"], c["direct"], c["rw"], c["bs"], c["pressure"])
        metric = "iops" if bs_bytes(c["bs"]) < 65536 else "MBps"
        line = "%-34s %-4s" % (cell_label(key, short=True), "IOPS" if metric == "iops" else "MB/s")
        for m in modes:
            e = c["modes"][m]
            if e["status"] == "pass":
                line += "%9s" % fmt(e[metric]["median"], metric)
            else:
                line += "%9s" % e["status"].upper()
                notes.append("  %s [%s]: %s" % (cell_label(key), m, "; ".join(e.get("reasons", []))))
        line += " |"
        for p in pairs:
            r = c["ratios"][p][metric]
            if r is None:
                line += "%18s" % "-"
            elif "range" in r:
                line += "%18s" % ("%.2f (%.2f-%.2f)" % (r["ratio"], r["range"][0], r["range"][1]))
            else:
                line += "%18.3f" % r["ratio"]
        if has_ceil:
            line += " |"
            for m in modes:
                r = (c.get("vs_ceiling") or {}).get(m, {}).get("MBps")
                line += "%13s" % ("-" if r is None else "%.3f" % r["ratio"])
        out.append(line)
    if notes:
        out.append("not passed:")
        out.extend(notes)
    out.append("scope check (adopter counters over each stack's run; servicer report):")
    for mode in modes:
        for stack, st in (summary["stacks"].get(mode) or {}).items():
            chk = st["scope_check"]
            if chk["ok"] is None and st["status"] == "ok":
                continue
            verdict = "ok" if chk["ok"] else "NOT IN EFFECT: " + "; ".join(chk.get("problems", []))
            if st["status"] != "ok":
                verdict = "stack %s: %s" % (st["status"], st["reason"])
            out.append("  %-8s %-9s %s | %s" % (mode, stack, verdict, chk["detail"]))
    for v in summary["vms"]:
        busy = v.get("host_busy_max", v.get("host_busy_processes_at_end", 0))
        out.append("  VM %-8s %-22s exit %s, %ss%s%s" % (
            v["mode"], " ".join(v.get("stacks", [])), v.get("exit"), v.get("secs", "?"),
            (" (%s)" % v["verdict"].split(" (console")[0]) if v.get("verdict") else "",
            ("  WARNING: up to %d other qemu/compiler processes on the host during this VM" % busy) if busy else ""))
    if any(v.get("host_busy_max", v.get("host_busy_processes_at_end", 0)) for v in summary["vms"]):
        out.append("  WARNING: the host was shared with other VMs/builds during the run: absolute numbers and"
                   " ratios are skewed (see the ceiling rows for the size of the effect)")
    return "\n".join(out)


def plot(summary, png):
    cfg = summary["config"]
    modes = cfg["modes"]
    pairs = ["%s/%s" % p for p in PAIRS if p[0] in modes and p[1] in modes]
    cells = summary["cells"]
    has_ceil = any("vs_ceiling" in c for c in cells)
    tmp = tempfile.mkdtemp(prefix="matrix-plot-")
    top = os.path.join(tmp, "ratios.dat")
    bottom = os.path.join(tmp, "bottom.dat")

    def label(c):
        parts = []
        if len(cfg["stacks"]) > 1:
            parts.append(c["stack"])
        job = "%s %s" % (c["rw"], c["bs"])
        if len(cfg["directs"]) > 1:
            job = ("dio " if c["direct"] else "buf ") + job
        parts.append(job)
        parts.append("no pressure" if c["pressure"] == "none" else "memcg " + c["pressure"])
        if any(m["status"] != "pass" for m in c["modes"].values()):
            parts.append("FAIL")
        return '"%s"' % "\\n".join(parts)

    def num(x):
        return "NaN" if x is None else "%.4f" % x

    with open(top, "w") as f:
        for c in cells:
            cols = []
            for p in pairs:
                r = c["ratios"][p]["MBps"]
                v = r["ratio"] if r else None
                lo, hi = (r["range"] if r and "range" in r else (v, v))
                cols += [num(v), num(lo), num(hi)]
            f.write("%s %s\n" % (label(c), " ".join(cols)))
    if has_ceil:
        bcells = [c for c in cells if "vs_ceiling" in c]
        with open(bottom, "w") as f:
            for c in bcells:
                vals = []
                for m in modes:
                    r = c["vs_ceiling"].get(m, {}).get("MBps")
                    vals.append(num(r["ratio"] if r else None))
                f.write("%s %s\n" % (label(c), " ".join(vals)))
        bottom_title = "fraction of the ceiling (fio on the backing ext4, same boot), MB/s"
        bottom_y = "set logscale y; set yrange [*:*]; set ylabel 'x ceiling (log)';"
    else:
        with open(bottom, "w") as f:
            for c in cells:
                vals = []
                for m in modes:
                    s = c["modes"][m]["MBps"] if c["modes"][m]["status"] == "pass" else None
                    vals.append(num(s["median"] if s else None))
                f.write("%s %s\n" % (label(c), " ".join(vals)))
        bottom_title = "MB/s per mode (median)"
        bottom_y = "set logscale y; set yrange [*:*]; set ylabel 'MB/s (log)';"

    n = len(cells)
    width = max(1000, 110 * n + 260)
    top_plot = ", ".join("'%s' using %d:%d:%d:xtic(1) title '%s'" % (top, 2 + 3 * i, 3 + 3 * i, 4 + 3 * i, p)
                         for i, p in enumerate(pairs))
    top_plot += ", 1 with lines lc rgb 'black' dt 2 notitle"
    top_block = ("set style histogram errorbars gap 2 lw 1\n"
                 "set title 'MB/s ratios between modes (1.0 = equal; error bars: min..max over reps)'\n"
                 "set yrange [0:*]\nset ylabel 'ratio'\nplot %s\n" % top_plot) if pairs else ""
    bottom_plot = ", ".join("'%s' using %d:xtic(1) title '%s'" % (bottom, 2 + i, m) for i, m in enumerate(modes))
    title = "%s  (%s; %d rep(s), %ss+%ss ramp, size %s)" % (
        summary["bench"], "quick" if cfg.get("quick") else "full", cfg["reps"], cfg["runtime"], cfg["ramp"], cfg["size"])
    script = """
set terminal pngcairo size {w},{h} font ',9' noenhanced
set output '{png}'
set datafile missing 'NaN'
set multiplot layout {panels},1 title '{title}'
set style data histograms
set style fill solid 0.85 border -1
set key outside right top
set grid ytics
set bmargin 6
set xtics font ',8'
{top_block}set style histogram clustered gap 2
set title '{bottom_title}'
{bottom_y}
plot {bottom_plot}
unset multiplot
""".format(w=width, png=png, title=title, top_block=top_block, panels=2 if pairs else 1, h=1000 if pairs else 560,
           bottom_title=bottom_title,
           bottom_y=bottom_y, bottom_plot=bottom_plot)
    try:
        r = subprocess.run(["gnuplot"], input=script.encode(), capture_output=True)
        if r.returncode != 0 or not os.path.exists(png):
            # pngcairo may be missing from gnuplot-nox builds: fall back to the gd png terminal
            script = script.replace("pngcairo size", "png size").replace(" font ',9'", "")
            r = subprocess.run(["gnuplot"], input=script.encode(), capture_output=True)
        if r.returncode != 0:
            return "no chart: gnuplot: %s" % r.stderr.decode(errors="replace").strip()[-300:]
        return "chart: %s" % png
    except OSError as exc:
        return "no chart: %s" % exc
    finally:
        for p in (top, bottom):
            if os.path.exists(p):
                os.unlink(p)
        os.rmdir(tmp)


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) > 1 and argv[1] in ("-h", "--help") else 2
    if argv[1] == "--status":
        status(argv[2])
        return 0
    if argv[1] == "--config-sh":
        # shell assignments of a run's config, for --resume
        c = json.load(open(os.path.join(argv[2], "config.json")))
        q = lambda v: "'" + str(v).replace("'", "'\\''") + "'"
        for k, v in (("modes", " ".join(c["modes"])), ("stacks", " ".join(c["stacks"])),
                     ("jobs", " ".join(c["jobs"])), ("directs", " ".join(map(str, c["directs"]))),
                     ("pressures", " ".join(c["pressures"])), ("reps", c["reps"]), ("rt", c["runtime"]),
                     ("ramp", c["ramp"]), ("size", c["size"]), ("mem", c["mem"]), ("quick", int(c["quick"])),
                     ("dirty", "" if c.get("dirty_bytes", "default") == "default" else c["dirty_bytes"]),
                     ("cell_timeout", c["cell_timeout"]), ("stall", c.get("stall", 60)),
                     ("hung", c["hung_timeout"])):
            print("%s=%s" % (k, q(v)))
        return 0
    run, out = argv[1], argv[2]
    png = out[:-5] + ".png" if out.endswith(".json") else out + ".png"
    if "--png" in argv:
        png = argv[argv.index("--png") + 1]
    summary = summarize(run)
    summary["run_dir"] = os.path.abspath(run)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(summary, f, indent=1)
    print(table(summary))
    print("  json: %s" % out)
    print("  %s" % plot(summary, png))
    return 0 if summary["cells_not_passed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
