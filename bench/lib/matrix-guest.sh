#!/bin/bash
# In-guest half of bench/loop-matrix and bench/stack-matrix (run by scripts/vm).
#
#   matrix-guest.sh STACK...     STACK: loop | ublk | tcmu-zbc (tests/stacked rigs) | ceiling
#
# One boot, one bioscope mode (BIOSCOPE_MODE). The mode is set first, before any stack is
# set up: loop decides its backing mapping's gfp mask when the file is bound (patch 0009),
# so the mode must be in place before losetup. Each stack is set up with its rig's own
# setup() (tests/stacked/STACK, sourced), measured with fio over the cell matrix, and torn
# down; "ceiling" is fio on a file directly on the backing ext4.
#
# Everything a stack runs (servicer and fio) lives in one memcg; a cell's pressure is that
# memcg's memory.max ("none" = max), set per cell, after sync + drop_caches.
#
# Environment (set by bench/lib/matrix-host.sh through scripts/vm):
#   BIOSCOPE_MODE                 off | blanket | scoped
#   BIOSCOPE_BENCH_NAME           matrix name (rows, log prefix)
#   BIOSCOPE_BENCH_JOBS           "RW:BS ..." fio rw=/bs= pairs, e.g. "randwrite:4k write:1M"
#   BIOSCOPE_BENCH_DIRECTS        "0 1" fio direct= values
#   BIOSCOPE_BENCH_PRESSURES      "none 64M" memcg memory.max per cell
#   BIOSCOPE_BENCH_REPS           repetitions of the whole cell list (interleaved)
#   BIOSCOPE_BENCH_RUNTIME/_RAMP  fio runtime and ramp_time, seconds
#   BIOSCOPE_BENCH_SIZE           fio file size
#   BIOSCOPE_BENCH_CELL_TIMEOUT   seconds a cell may take beyond runtime+ramp before it is
#                                 declared stuck (then the run stops: the stack is wedged)
#   BIOSCOPE_BENCH_NOPROGRESS     ... or once past runtime+ramp, no block IO completed on any
#                                 device for this many seconds (default 60)
#   BIOSCOPE_HUNG_TIMEOUT         hung_task_timeout_secs (default 60)
#   BIOSCOPE_DIRTY_BYTES          vm.dirty_bytes (rc's set_dirty_limits; default: the kernel's)
#
# Output in $BIOSCOPE_OUT: rows.jsonl (one "vm" row, "stack" rows, one "cell" row per
# cell and repetition, failed or not), cells/*.json|*.stderr (fio), STACK.log.
# Progress lines on the console start with "[bench ". Each cell has two: "cell i/n LABEL: start"
# (the host adds the bench-wide count and ETA) and "cell i/n LABEL: MB/s IOPS status [secs]"
# (i/n counts the cells of the stack).
set -u
top=${BIOSCOPE_TOP:?}
RIG=bench
. "$top/tests/stacked/rc"

NAME=${BIOSCOPE_BENCH_NAME:-matrix}
JOBS=${BIOSCOPE_BENCH_JOBS:-randwrite:4k write:1M}
DIRECTS=${BIOSCOPE_BENCH_DIRECTS:-0}
PRESSURES=${BIOSCOPE_BENCH_PRESSURES:-none 64M}
REPS=${BIOSCOPE_BENCH_REPS:-1}
RT=${BIOSCOPE_BENCH_RUNTIME:-8}
RAMP=${BIOSCOPE_BENCH_RAMP:-2}
SIZE=${BIOSCOPE_BENCH_SIZE:-32M}
CELL_TIMEOUT=${BIOSCOPE_BENCH_CELL_TIMEOUT:-180}
NOPROGRESS=${BIOSCOPE_BENCH_NOPROGRESS:-60}
ROWS=$OUT/rows.jsonl
# Every stack runs in the bench memcg; cells set its memory.max (rc's in_memcg needs this
# non-empty, setup_memcg writes it as the initial limit).
export BIOSCOPE_PRESSURE=max

T0=$(date +%s)
progress() { printf '[bench %s %s %s +%ss] %s\n' "$NAME" "$MODE" "$(date +%T)" "$(( $(date +%s) - T0 ))" "$*"; }

# JSON string escaping for the few free-text fields.
jstr() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
adopter_stats() {
	python3 -c '
import glob, json, os
d = {}
for p in sorted(glob.glob("/sys/kernel/debug/bioscope/adopters/*/stats")):
    try:
        d[os.path.basename(os.path.dirname(p))] = {l.split()[0]: int(l.split()[1]) for l in open(p) if l.strip()}
    except OSError:
        pass
print(json.dumps(d))'
}

# HUNG_RE and LOCKDEP_RE come from scripts/lib/kernel-reports (through tests/stacked/rc)
WARN_RE='WARNING: |BUG: |Oops: |general protection fault'
# KILL a process and its descendants (in_memcg's shell, fio, fio's job processes), by pid
kill_tree() {
	local c
	for c in $(pgrep -P "$1"); do kill_tree "$c"; done
	kill -KILL "$1" 2>/dev/null
}
# completed IOs and sectors over all block devices: unchanged = no IO progress anywhere
io_progress() { awk '{s += $4 + $6 + $8 + $10} END {print s}' /proc/diskstats; }
cg_oom() { awk '$1 == "oom_kill" {print $2}' "$CG/memory.events" 2>/dev/null || echo 0; }

# --- stacks -----------------------------------------------------------------------------
# load_stack STACK: define requires/setup/teardown, TARGET (the fio file) and alive().
load_stack() {
	case "$1" in
	ceiling)
		requires() { require_cmd mkfs.ext4 fio; }
		setup() { set_dirty_limits; setup_backing_ext4; mkdir -p /mnt/backing/ceiling; }
		teardown() { umount /mnt/backing 2>/dev/null; true; }
		TARGET=/mnt/backing/ceiling/bench.dat
		alive() { true; }
		;;
	loop|ublk|tcmu-zbc)
		[ -f "$top/tests/stacked/$1" ] || fail "no rig tests/stacked/$1"
		. "$top/tests/stacked/$1"
		TARGET=/mnt/upper/bench.dat
		alive() { [ -z "${SRV_PID:-}" ] || kill -0 "$SRV_PID" 2>/dev/null; }
		if [ "$1" = ublk ]; then
			# UBLK_JOB can be the in_memcg shell rather than ublk-scope: stop the server
			# itself (after the upper umount) and wait until it has exited, before the
			# rig's teardown unmounts the backing ext4 the server's file lives on.
			eval "rig_$(declare -f teardown)"
			teardown() {
				umount /mnt/upper 2>/dev/null
				if [ -n "${SRV_PID:-}" ] && kill -TERM "$SRV_PID" 2>/dev/null; then
					for _ in $(seq 60); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.5; done
				fi
				rig_teardown
			}
		fi
		;;
	*) fail "unknown stack $1 (loop, ublk, tcmu-zbc, ceiling)" ;;
	esac
}

# --- one cell ---------------------------------------------------------------------------
# run_cell STACK RW BS DIRECT PRESSURE REP INDEX TOTAL
# Returns 0 (cell done, pass or fail) or 3 (stack wedged: stop everything).
run_cell() {
	local stack=$1 rw=$2 bs=$3 direct=$4 pressure=$5 rep=$6 idx=$7 total=$8
	local id="$stack-d$direct-$rw-$bs-$pressure-r$rep" json stderr eng qd fsync
	json=$OUT/cells/$id.json stderr=$OUT/cells/$id.stderr
	local h0 l0 w0 o0 h1 l1 w1 o1 t0 t1 pid rc=0 waited=0 stuck=0 status=pass reason=""
	local limit=$((RT + RAMP + CELL_TIMEOUT)) label
	label="$stack $( [ "$direct" = 1 ] && echo direct || echo buffered) $rw $bs pressure=$pressure rep=$rep"

	# The host (bench/lib/matrix-host.sh, m_follow) turns this line into "cell i/n LABEL
	# (VM j/m, ETA ...)" with i/n and the ETA over the whole bench: keep its form.
	progress "cell $idx/$total $label: start"
	sync
	echo 3 > /proc/sys/vm/drop_caches
	if [ "$pressure" = none ]; then echo max > "$CG/memory.max"; else echo "$pressure" > "$CG/memory.max"; fi
	# buffered: psync QD1 (page cache absorbs it anyway); direct: libaio QD8
	if [ "$direct" = 1 ]; then eng=libaio qd=8; else eng=psync qd=1; fi
	case "$rw" in *write*|*rw*|trim*) fsync=1 ;; *) fsync=0 ;; esac

	h0=$(dmesg_count "$HUNG_RE") l0=$(dmesg_count "$LOCKDEP_RE") w0=$(dmesg_count "$WARN_RE") o0=$(cg_oom)
	t0=$(date +%s)
	in_memcg fio --name="$stack" --filename="$TARGET" --size="$SIZE" --rw="$rw" --bs="$bs" \
		--direct="$direct" --ioengine="$eng" --iodepth="$qd" --time_based --runtime="$RT" \
		--ramp_time="$RAMP" --end_fsync="$fsync" --randrepeat=0 --norandommap \
		--invalidate=1 --output-format=json --output="$json" --eta=never \
		>/dev/null 2>"$stderr" &
	pid=$!
	local io_last="" io_now still=0
	while kill -0 "$pid" 2>/dev/null; do
		# stuck: past the cell's limit; or, once past the runtime, a hung-task report or
		# no block IO completed anywhere for NOPROGRESS s (checked every 10 s)
		if [ "$waited" -ge $((RT + RAMP)) ] && [ $((waited % 10)) = 0 ]; then
			io_now=$(io_progress)
			if [ "$io_now" = "$io_last" ]; then still=$((still + 10)); else still=0; fi
			io_last=$io_now
		fi
		if [ "$waited" -ge "$limit" ] || { [ "$waited" -ge $((RT + RAMP + 30)) ] &&
			[ $((waited % 10)) = 0 ] && [ "$(dmesg_count "$HUNG_RE")" != "$h0" ]; } ||
			[ "$still" -ge "$NOPROGRESS" ]; then
			stuck=1
			kill_tree "$pid"
			sleep 5
			break
		fi
		sleep 1
		waited=$((waited + 1))
	done
	if [ $stuck = 1 ] && kill -0 "$pid" 2>/dev/null; then
		rc=137
	else
		wait "$pid"; rc=$?
	fi
	t1=$(date +%s)
	h1=$(dmesg_count "$HUNG_RE") l1=$(dmesg_count "$LOCKDEP_RE") w1=$(dmesg_count "$WARN_RE") o1=$(cg_oom)

	local res
	res=$(python3 - "$json" <<-'EOF'
	import json, sys
	try:
	    j = json.load(open(sys.argv[1]))["jobs"][0]
	    bw = j["read"]["bw_bytes"] + j["write"]["bw_bytes"]
	    iops = j["read"]["iops"] + j["write"]["iops"]
	    n = sum(1 for d in ("read", "write") if j[d]["io_bytes"])
	    lat = sum(j[d]["clat_ns"]["mean"] for d in ("read", "write") if j[d]["io_bytes"]) / max(n, 1)
	    print("%.3f %.1f %.1f %d" % (bw / 1e6, iops, lat / 1e3, j.get("error", 0)))
	except Exception:
	    print("null null null -1")
	EOF
	)
	local mbps iops clat ferr
	read -r mbps iops clat ferr <<< "$res"

	local hung=$((h1 - h0)) lockdep=$((l1 - l0)) warn=$((w1 - w0)) oom=$((o1 - o0))
	if [ $stuck = 1 ]; then
		status=fail reason="stuck: fio not done after ${waited} s"
		[ "$still" -ge "$NOPROGRESS" ] && reason="$reason, no block IO completed for ${still} s"
	elif [ "$rc" != 0 ]; then
		status=fail reason="fio exit $rc: $(grep -v '^$' "$stderr" | tail -1)"
	elif [ "$ferr" != 0 ] || [ "$mbps" = null ]; then
		status=fail reason="fio error $ferr (no result)"
	fi
	[ "$hung" = 0 ] || { status=fail; reason="${reason:+$reason; }$hung hung-task report(s)"; }
	[ "$lockdep" = 0 ] || { status=fail; reason="${reason:+$reason; }lockdep report"; }
	[ "$warn" = 0 ] || { status=fail; reason="${reason:+$reason; }kernel WARNING/BUG"; }
	[ "$oom" = 0 ] || { status=fail; reason="${reason:+$reason; }$oom OOM kill(s) in the bench memcg"; }
	alive || { status=fail; reason="${reason:+$reason; }servicer died"; }
	printf '{"type":"cell","matrix":"%s","mode":"%s","stack":"%s","direct":%s,"rw":"%s","bs":"%s","pressure":"%s","rep":%s,"status":"%s","reason":%s,"MBps":%s,"iops":%s,"clat_us":%s,"fio_rc":%s,"fio_error":%s,"hung_tasks":%s,"lockdep":%s,"kernel_warn":%s,"oom_kill":%s,"secs":%s,"size":"%s","runtime":%s,"ramp":%s,"ioengine":"%s","iodepth":%s}\n' \
		"$NAME" "$MODE" "$stack" "$direct" "$rw" "$bs" "$pressure" "$rep" "$status" "$(jstr "$reason")" \
		"$mbps" "$iops" "$clat" "$rc" "$ferr" "$hung" "$lockdep" "$warn" "$oom" "$((t1 - t0))" \
		"$SIZE" "$RT" "$RAMP" "$eng" "$qd" >> "$ROWS"
	progress "cell $idx/$total $label:" \
		"$mbps MB/s $iops IOPS $status${reason:+ ($reason)} [$((t1 - t0)) s]"
	if [ $stuck = 1 ]; then
		echo w > /proc/sysrq-trigger 2>/dev/null
		sleep 1
		dmesg > "$OUT/dmesg-stuck-$id.txt"
		progress "blocked tasks (sysrq-w) and dmesg in dmesg-stuck-$id.txt"
		return 3
	fi
	if ! alive; then return 3; fi
	return 0
}

# --- one stack, in a subshell (rig setup relies on set -e and exits on failure) ---------
run_stack() {
	local stack=$1
	(
		set -eu
		RIG=$stack
		load_stack "$stack"
		trap 'set +e; progress "$RIG: teardown"; teardown' EXIT
		requires
		setup_memcg
		progress "$stack: setup"
		setup
		# the servicer process, for the liveness check after each cell
		case "$stack" in
		ublk) SRV_PID=$(pgrep -x -P "$UBLK_JOB" ublk-scope || echo "$UBLK_JOB") ;;
		tcmu-zbc) SRV_PID=${TCMU_PID:-} ;;
		*) SRV_PID= ;;
		esac
		progress "$stack: prepare $SIZE fio file $TARGET"
		fio --name=prep --filename="$TARGET" --size="$SIZE" --rw=write --bs=1M --ioengine=psync \
			--end_fsync=1 --eta=never --output=/dev/null || fail "could not write the fio file"
		set +e
		local n=0 total rep p d job rc
		total=$(( $(wc -w <<< "$JOBS") * $(wc -w <<< "$DIRECTS") * $(wc -w <<< "$PRESSURES") * REPS ))
		# pressure outermost: a stack that wedges under pressure loses only pressure cells
		for p in $PRESSURES; do
			for rep in $(seq "$REPS"); do
				for d in $DIRECTS; do
					for job in $JOBS; do
						n=$((n + 1))
						run_cell "$stack" "${job%%:*}" "${job#*:}" "$d" "$p" "$rep" "$n" "$total"
						rc=$?
						if [ $rc = 3 ]; then
							trap - EXIT   # teardown would block on the wedged stack
							exit 3
						fi
					done
				done
			done
		done
		# What the servicer says about scopes (summarized next to the adopter counters)
		case "$stack" in
		ublk)
			kill -USR1 "$SRV_PID" 2>/dev/null; sleep 1
			grep -a 'ios=' /var/log/ublk-scope.out | tail -1 > "$OUT/$stack.servicer" ;;
		tcmu-zbc)
			{ grep -a -m1 'kernel passes memory allocation scopes' /var/log/tcmu-runner.log ||
			  echo "tcmu-runner declared no scopes ($(grep -a "^memalloc_scope" /etc/tcmu/tcmu.conf 2>/dev/null || echo "memalloc_scope unset"))"; } > "$OUT/$stack.servicer" ;;
		esac
		[ -s "$OUT/$stack.servicer" ] && progress "$stack servicer: $(cat "$OUT/$stack.servicer")"
		exit 0
	)
}

# --- main -------------------------------------------------------------------------------
dmesg -n 4
cd /tmp || exit 1
echo "${BIOSCOPE_HUNG_TIMEOUT:-60}" > /proc/sys/kernel/hung_task_timeout_secs
mkdir -p "$OUT/cells"
: > "$ROWS"
set_kernel_mode
kmode=$(cat /sys/kernel/debug/bioscope/mode 2>/dev/null | tr '\n' ' ')
printf '{"type":"vm","matrix":"%s","mode":"%s","kernel":%s,"kernel_mode":%s,"cpus":%s,"mem_kb":%s,"dirty_ratio":%s,"dirty_background_ratio":%s,"dirty_bytes":%s,"fio":%s}\n' \
	"$NAME" "$MODE" "$(jstr "$(uname -r) $(uname -v)")" "$(jstr "$kmode")" "$(nproc)" \
	"$(awk '/MemTotal/{print $2}' /proc/meminfo)" "$(cat /proc/sys/vm/dirty_ratio)" \
	"$(cat /proc/sys/vm/dirty_background_ratio)" "$(jstr "${BIOSCOPE_DIRTY_BYTES:-default}")" \
	"$(jstr "$(fio --version)")" >> "$ROWS"
progress "kernel $(uname -r), bioscope mode: $kmode; stacks: $*; jobs: $JOBS; direct: $DIRECTS;" \
	"pressure: $PRESSURES; reps $REPS; runtime ${RT}+${RAMP} s; size $SIZE"

final=0
for stack in "$@"; do
	before=$(adopter_stats)
	printf '{"type":"stack-start","matrix":"%s","mode":"%s","stack":"%s"}\n' "$NAME" "$MODE" "$stack" >> "$ROWS"
	progress "=== $stack"
	run_stack "$stack" > >(tee "$OUT/$stack.log") 2>&1
	rc=$?
	sleep 0.2
	after=$(adopter_stats)
	# The next stack mkfs's /dev/vda again. A rig teardown's umount can fail while a
	# servicer's file references are still being released (io_uring closes its files
	# asynchronously after the server exits): retry here.
	if [ $rc != 3 ]; then
		for m in /mnt/upper /mnt/backing; do
			for _ in $(seq 30); do
				mountpoint -q "$m" || break
				umount "$m" 2>/dev/null || sleep 1
			done
			mountpoint -q "$m" && progress "warning: $m still mounted after $stack teardown: $(fuser -vm "$m" 2>&1 | tail -2 | tr '\n' ' ')"
		done
	fi
	case $rc in
	0) st=ok reason="" ;;
	77) st=skipped reason=$(grep -a '^SKIP ' "$OUT/$stack.log" | tail -1) ;;
	3) st=aborted reason="a cell wedged the stack or its servicer died; run stopped" ;;
	*) st=failed reason=$(grep -a '^FAIL ' "$OUT/$stack.log" | tail -1)
	   reason=${reason:-"exit $rc: $(grep -av '^\[' "$OUT/$stack.log" | tail -1)"} ;;
	esac
	servicer=""
	[ -s "$OUT/$stack.servicer" ] && servicer=$(tail -1 "$OUT/$stack.servicer")
	printf '{"type":"stack","matrix":"%s","mode":"%s","stack":"%s","status":"%s","reason":%s,"servicer":%s,"adopters_before":%s,"adopters_after":%s}\n' \
		"$NAME" "$MODE" "$stack" "$st" "$(jstr "$reason")" "$(jstr "$servicer")" "$before" "$after" >> "$ROWS"
	progress "=== $stack: $st${reason:+ ($reason)}"
	[ $rc = 0 ] || final=1
	if [ $rc = 3 ]; then
		# The stack is wedged: guest-init's final sync would block until the VM timeout.
		# Report the status the way guest-init does and power off now (results on /mnt/out
		# are already on the host: 9p without cache).
		dmesg > "$OUT/dmesg.txt"
		progress "wedged stack $stack: powering off; the host runs the remaining stacks in a new VM"
		echo "BIOSCOPE-GUEST-EXIT=3"
		sleep 1
		echo o > /proc/sysrq-trigger
		sleep 600
		break
	fi
done
progress "done"
exit $final
