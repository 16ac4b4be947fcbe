#!/usr/bin/env python3
"""Slice the new kernel files of linux/ into the version each patch of the series adds.

linux/ holds new files in their final state at their kernel paths; linux/patches/series
edits upstream files only. To export a bisectable series, each new file is created by one
patch and grown by later ones. linux/patches/new-files says which lines each patch adds:

    NNNN PATH                    PATH is created by patch NNNN (one such line per file)
    NNNN PATH START              the one line matching START is added by patch NNNN
    NNNN PATH START END          lines from the one matching START through the first at or
                                 after it matching END are added by patch NNNN

START and END are Python regular expressions (re.search) without spaces (use \\s or \\x20); a
line starting with # is a comment. START must match exactly one line. A regex may end in @+N
or @-N: the line N after or before the one it designates (for blocks that begin or end at a
line such as "/**" or "}" that occurs many times). A line covered by several ranges belongs
to the highest patch number among them; a line covered by none belongs to the file's
creating patch. The version
of a file after patch k is its final text without the lines of patches after k: later
patches add lines. Where a later patch changes a line instead,

    subst FIRST PATH LINE TEXT   from patch FIRST until the patch that owns the line matching
                                 LINE, that line reads TEXT (the rest of the manifest line;
                                 \\t is a tab, \\n starts another line)

    newfiles.py check LINUXDIR              validate the manifest against the overlay
    newfiles.py write LINUXDIR NNNN DEST    write every file that exists after patch NNNN
                                            into DEST (a kernel tree), remove the others
    newfiles.py stats LINUXDIR              lines each patch adds to each file
    newfiles.py list LINUXDIR NNNN          the new files that exist after patch NNNN
"""
import os
import re
import sys


class ManifestError(Exception):
    pass


def overlay_files(linux):
    out = []
    for root, dirs, files in os.walk(linux):
        rel = os.path.relpath(root, linux)
        if rel == ".":
            dirs[:] = [d for d in dirs if d not in ("patches", "configs")]
        for f in files:
            out.append(os.path.normpath(os.path.join(rel, f)))
    return sorted(out)


def series_numbers(linux):
    nums = []
    with open(os.path.join(linux, "patches", "series")) as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"(\d{4})-", line)
            if not m:
                raise ManifestError("series entry %r has no NNNN- prefix" % line)
            nums.append(m.group(1))
    return nums


OFFSET = re.compile(r"^(.*)@([+-]\d+)$")


def split_offset(rx):
    m = OFFSET.match(rx)
    return (m.group(1), int(m.group(2))) if m else (rx, 0)


def find_one(lines, rx, where, what, p):
    rx, off = split_offset(rx)
    hits = [i for i, s in enumerate(lines) if re.search(rx, s)]
    if len(hits) != 1:
        raise ManifestError("%s: %s %r matches %d lines of %s, not 1"
                            % (where, what, rx, len(hits), p))
    i = hits[0] + off
    if not 0 <= i < len(lines):
        raise ManifestError("%s: %s %r%+d is outside %s" % (where, what, rx, off, p))
    return i


def parse(linux):
    """Return {path: (created, [step per line], lines, {line: (step, text)})}: steps are
    positions in the series (0-based), which need not follow the patch numbers."""
    path = os.path.join(linux, "patches", "new-files")
    nums = series_numbers(linux)
    pos = {n: i for i, n in enumerate(nums)}
    created, ranges, substs = {}, [], []
    with open(path) as fh:
        for ln, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            f = line.split()
            where = "%s:%d" % (path, ln)
            if f[0] == "subst":
                f = line.split(None, 4)
                if len(f) != 5 or f[1] not in nums:
                    raise ManifestError("%s: expected subst FIRST PATH LINE TEXT" % where)
                text = f[4].replace("\\t", "\t").split("\\n")
                substs.append((where, pos[f[1]], f[2], f[3], text))
                continue
            if f[0] not in nums:
                raise ManifestError("%s: patch %s is not in the series" % (where, f[0]))
            if len(f) == 2:
                if f[1] in created:
                    raise ManifestError("%s: %s is created twice" % (where, f[1]))
                created[f[1]] = pos[f[0]]
            elif len(f) in (3, 4):
                ranges.append((where, pos[f[0]], f[1], f[2], f[3] if len(f) == 4 else None))
            else:
                raise ManifestError("%s: expected NNNN PATH [START [END]]" % where)
    files = overlay_files(linux)
    missing = [p for p in files if p not in created]
    if missing:
        raise ManifestError("no patch creates %s" % ", ".join(missing))
    stale = [p for p in created if p not in files]
    if stale:
        raise ManifestError("new-files names %s, which linux/ does not have" % ", ".join(stale))
    out = {}
    for p in files:
        with open(os.path.join(linux, p)) as fh:
            lines = fh.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        out[p] = (created[p], [created[p]] * len(lines), lines, {})
    for where, num, p, start, end in ranges:
        if p not in out:
            raise ManifestError("%s: %s is not a new file" % (where, p))
        c, owner, lines, _ = out[p]
        if num < c:
            raise ManifestError("%s: patch %s comes before %s, which creates %s"
                                % (where, nums[num], nums[c], p))
        a = b = find_one(lines, start, where, "START", p)
        if end is not None:
            erx, off = split_offset(end)
            b = next((i for i in range(a, len(lines)) if re.search(erx, lines[i])), None)
            if b is None:
                raise ManifestError("%s: END %r not found after line %d of %s"
                                    % (where, erx, a + 1, p))
            b += off
            if b < a or b >= len(lines):
                raise ManifestError("%s: END %r%+d is outside the range" % (where, erx, off))
        for i in range(a, b + 1):
            if num > owner[i]:
                owner[i] = num
    for where, first, p, rx, text in substs:
        if p not in out:
            raise ManifestError("%s: %s is not a new file" % (where, p))
        c, owner, lines, sub = out[p]
        i = find_one(lines, rx, where, "LINE", p)
        if not c <= first < owner[i]:
            raise ManifestError("%s: subst from %s, but that line of %s is patch %s's (file "
                                "created by %s)" % (where, nums[first], p, nums[owner[i]],
                                                    nums[c]))
        if i in sub:
            raise ManifestError("%s: line %d of %s has two substs" % (where, i + 1, p))
        sub[i] = (first, text)
    return out


def text_at(entry, k):
    c, owner, lines, sub = entry
    if c > k:
        return None
    out = []
    for i, (s, o) in enumerate(zip(lines, owner)):
        if o <= k:
            out.append(s)
        elif i in sub and sub[i][0] <= k:
            out.extend(sub[i][1])
    return "".join(s + "\n" for s in out)


def main(argv):
    if len(argv) < 3 or argv[1] not in ("check", "write", "stats", "list"):
        sys.stderr.write(__doc__)
        return 2
    cmd, linux = argv[1], argv[2]
    try:
        files = parse(linux)
    except (ManifestError, re.error, OSError) as e:
        sys.stderr.write("new-files: %s\n" % e)
        return 1
    if cmd == "check":
        print("new-files: %d files, %d lines assigned" %
              (len(files), sum(len(v[2]) for v in files.values())))
        return 0
    nums = series_numbers(linux)
    if cmd == "stats":
        for p, (c, owner, lines, sub) in files.items():
            counts = {}
            for o in owner:
                counts[o] = counts.get(o, 0) + 1
            print("%s: %s" % (p, " ".join("%s:+%d" % (nums[o], n)
                                          for o, n in sorted(counts.items()))))
        return 0
    if len(argv) >= 4 and argv[3] not in nums:
        sys.stderr.write("new-files: patch %s is not in the series\n" % argv[3])
        return 2
    if cmd == "list" and len(argv) == 4:
        for p, entry in files.items():
            if entry[0] <= nums.index(argv[3]):
                print(p)
        return 0
    if len(argv) != 5:
        sys.stderr.write("usage: newfiles.py write LINUXDIR NNNN DEST\n")
        return 2
    k, dest = nums.index(argv[3]), argv[4]
    for p, entry in files.items():
        t = text_at(entry, k)
        d = os.path.join(dest, p)
        if t is None:
            if os.path.exists(d):
                os.unlink(d)
            continue
        os.makedirs(os.path.dirname(d), exist_ok=True)
        old = None
        if os.path.exists(d):
            with open(d) as fh:
                old = fh.read()
        if old != t:
            with open(d, "w") as fh:
                fh.write(t)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
