# shellcheck shell=bash
# Host half of bench/loop-matrix and bench/stack-matrix, sourced by them.
#
# The caller sets the matrix defaults, then calls matrix_main "$@":
#   M_NAME M_DESC M_USAGE          name, one-line description, usage text (for --help)
#   M_STACKS                       stacks run in each boot (see lib/matrix-guest.sh)
#   M_JOBS M_JOBS_QUICK            "RW:BS ..." full and --quick job lists
#   M_DIRECTS M_DIRECTS_QUICK      fio direct= values
#   M_SIZE M_SIZE_QUICK            fio file size
#   M_PRESSURE                     memcg memory.max of the pressure cells
#   M_DISK M_MEM                   scratch disk (NAME:SIZE) and guest RAM
#   M_CELL_TIMEOUT                 seconds a cell may take beyond runtime+ramp in the guest
#   M_STACK_OPT                    1: --stacks is accepted
#
# One VM per mode (scripts/vm; it serialises VMs and kernel builds through its lock), each
# running every cell of the matrix. The per-VM results (console.log, rows.jsonl, fio JSON)
# stay in results/NAME-TIME/MODE/; the summary goes to bench/results/NAME.{json,png}
# (--quick: into the run directory, so a quick run never replaces the published numbers).
#
# Progress: "VM i/n: ...; bench: D/T cells done, ETA ~Nm" before each VM, and the guest's
# "[bench ..." console lines, each cell's start as "cell I/T LABEL (VM i/n, ETA ~Nm)" (m_follow):
# I/T and the ETA over the whole bench (all VMs), from the VM time per cell done so far, or
# "(est.)" before a cell is done: runtime + ramp + 45 s per cell.

M_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/progress
. "$M_TOP/scripts/lib/progress"

m_stamp() { printf '[%s %s] %s\n' "$M_NAME" "$(date +%T)" "$*"; }
m_die() { printf '%s: error: %s\n' "$M_NAME" "$*" >&2; exit 2; }

m_size_ok() { [[ "$1" =~ ^[0-9]+[KMG]?$ ]]; }

# Other VMs or compilers on this 2-core host skew the numbers (a lead's kernel build may
# use its own lock). Count them (read-only pgrep, our own VM excluded by its pid).
m_busy() {
	{ pgrep -f '^(qemu-system|/usr/lib/gcc/[^ ]*/cc1 |ld )' || true; } | { grep -vx "${1:-0}" || true; } | wc -l
}
# m_wait_quiet MAX: wait up to MAX s until the host has been quiet for 60 s in a row (a
# test run boots VMs back to back: a gap of a few seconds between two is not quiet).
m_wait_quiet() {
	local max=$1 waited=0 quiet_for=0 n
	n=$(m_busy)
	[ "$max" = 0 ] && { [ "$n" = 0 ] || m_stamp "warning: host busy ($n other qemu/compiler processes); not waiting (--wait-quiet 0)"; return 0; }
	[ "$n" = 0 ] || m_stamp "host busy ($n other qemu/compiler processes, load $(cut -d' ' -f1 /proc/loadavg)): waiting up to $max s for 60 s of quiet"
	while [ "$waited" -lt "$max" ]; do
		if [ "$(m_busy)" = 0 ]; then quiet_for=$((quiet_for + 10)); else quiet_for=0; fi
		if [ "$quiet_for" -ge 60 ]; then
			[ "$waited" -lt 60 ] || m_stamp "host quiet after $waited s"
			return 0
		fi
		sleep 10; waited=$((waited + 10))
	done
	m_stamp "warning: host still busy after $max s ($(m_busy) processes); running anyway, numbers may be skewed"
}

# m_follow DONE TOTAL WORK T0 VM EACH: print the guest's "[bench ..." lines (stdin, from the
# console log) indented; a cell's start line "[bench ...] cell i/n LABEL: start" (i/n: within
# its stack) becomes "[bench ...] cell I/TOTAL LABEL (VM j/m, ETA ...)", I counting the cells
# of the whole bench (DONE before this VM) and the ETA the whole bench's: the time per cell
# so far (WORK s in earlier VMs, plus the time since this VM started at T0, over the cells
# done), or before any cell is done EACH s per cell (est.). The other lines pass unchanged.
m_follow() {
	local base=$1 total=$2 work=$3 t0=$4 vm=$5 each=$6 seen=0 line idx
	local re='^(\[bench [^]]*\]) cell [0-9]+/[0-9]+ (.*): start$'
	while IFS= read -r line; do
		line=${line%$'\r'}
		if [[ $line =~ $re ]]; then
			seen=$((seen + 1)) idx=$((base + seen))
			[ "$idx" -le "$total" ] || total=$idx
			line="${BASH_REMATCH[1]} cell $idx/$total ${BASH_REMATCH[2]} (VM $vm, $(progress_eta \
				$((idx - 1)) "$total" $((work + $(_progress_now) - t0)) "$each"))"
		fi
		printf '    %s\n' "$line"
	done
}

# TERM a process and its descendants, by pid (leaves first).
m_kill_tree() {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do m_kill_tree "$c"; done
	kill -TERM "$1" 2>/dev/null || true
}

# INT/TERM: stop our VM, record it, summarize what there is. M_* globals set by matrix_main.
M_VMPID="" M_OUT="" M_JSON="" M_MODE="" M_VMOUT="" M_REMAINING="" M_T0=0
m_on_signal() {
	trap - INT TERM
	m_stamp "interrupted: stopping the VM and summarizing what ran (resume with --resume $M_OUT)"
	[ -n "$M_VMPID" ] && m_kill_tree "$M_VMPID"
	if [ -n "$M_VMOUT" ]; then
		python3 -c 'import json,sys; print(json.dumps({"mode": sys.argv[1], "exit": 130, "secs": int(sys.argv[2]), "verdict": "interrupted (INT/TERM to the bench script)", "dir": sys.argv[3], "stacks": sys.argv[4].split()}))' \
			"$M_MODE" "$(( $(date +%s) - M_T0 ))" "$M_VMOUT" "$M_REMAINING" >> "$M_OUT/vms.jsonl"
	fi
	[ -n "$M_OUT" ] && [ -f "$M_OUT/config.json" ] && python3 "$M_TOP/bench/lib/matrix.py" "$M_OUT" "$M_JSON"
	exit 130
}

matrix_main() {
	local quick=0 reps=1 rt=8 ramp=2 modes="off blanket scoped" out="" json="" summarize_only=""
	local jobs="" directs="" size="" pressures="" stacks=$M_STACKS vm_timeout="" cell_timeout=$M_CELL_TIMEOUT
	local mem=$M_MEM hung=60 dry=0 dirty=${BIOSCOPE_DIRTY_BYTES:-} quiet="" stall=60
	local rt_set=0 ramp_set=0 resume=""
	while [ $# -gt 0 ]; do
		case "$1" in
		-h|--help) printf '%s\n' "$M_USAGE"; exit 0 ;;
		--quick) quick=1; shift ;;
		--reps) reps=${2:-}; shift 2 || m_die "--reps needs a value" ;;
		--runtime) rt=${2:-}; rt_set=1; shift 2 || m_die "--runtime needs a value" ;;
		--ramp) ramp=${2:-}; ramp_set=1; shift 2 || m_die "--ramp needs a value" ;;
		--modes) modes=${2:-}; shift 2 || m_die "--modes needs a value" ;;
		--jobs) jobs=${2:-}; shift 2 || m_die "--jobs needs a value" ;;
		--direct) directs=${2:-}; shift 2 || m_die "--direct needs a value" ;;
		--size) size=${2:-}; shift 2 || m_die "--size needs a value" ;;
		--pressure) pressures=${2:-}; shift 2 || m_die "--pressure needs a value" ;;
		--stacks)
			[ "${M_STACK_OPT:-0}" = 1 ] || m_die "--stacks is not an option of $M_NAME"
			stacks=${2:-}; shift 2 || m_die "--stacks needs a value" ;;
		--mem) mem=${2:-}; shift 2 || m_die "--mem needs a value" ;;
		--cell-timeout) cell_timeout=${2:-}; shift 2 || m_die "--cell-timeout needs a value" ;;
		--vm-timeout) vm_timeout=${2:-}; shift 2 || m_die "--vm-timeout needs a value" ;;
		--hung-timeout) hung=${2:-}; shift 2 || m_die "--hung-timeout needs a value" ;;
		--dirty-bytes) dirty=${2:-}; shift 2 || m_die "--dirty-bytes needs a value" ;;
		--wait-quiet) quiet=${2:-}; shift 2 || m_die "--wait-quiet needs seconds" ;;
		--stall) stall=${2:-}; shift 2 || m_die "--stall needs seconds" ;;
		--out) out=${2:-}; shift 2 || m_die "--out needs a value" ;;
		--json) json=${2:-}; shift 2 || m_die "--json needs a value" ;;
		--summarize) summarize_only=${2:-}; shift 2 || m_die "--summarize needs a run directory" ;;
		--resume) resume=${2:-}; shift 2 || m_die "--resume needs a run directory" ;;
		--dry-run) dry=1; shift ;;
		*) m_die "unknown option '$1' (see --help)" ;;
		esac
	done

	if [ -n "$summarize_only" ]; then
		[ -f "$summarize_only/config.json" ] || m_die "$summarize_only has no config.json (not a $M_NAME run directory)"
		[ -n "$json" ] || json=$summarize_only/$M_NAME.json
		python3 "$M_TOP/bench/lib/matrix.py" "$summarize_only" "$json"
		exit $?
	fi

	if [ -n "$resume" ]; then
		[ -f "$resume/config.json" ] || m_die "$resume has no config.json (not a $M_NAME run directory)"
		grep -q "\"name\": \"$M_NAME\"" "$resume/config.json" || m_die "$resume is not a $M_NAME run"
		# the run's own matrix; only --wait-quiet, --vm-timeout and --json apply
		eval "$(python3 "$M_TOP/bench/lib/matrix.py" --config-sh "$resume")"
		out=$resume rt_set=1 ramp_set=1
	fi
	if [ $quick = 1 ]; then
		[ $rt_set = 1 ] || rt=3
		[ $ramp_set = 1 ] || ramp=1
		: "${jobs:=$M_JOBS_QUICK}" "${directs:=$M_DIRECTS_QUICK}" "${size:=$M_SIZE_QUICK}"
	fi
	: "${jobs:=$M_JOBS}" "${directs:=$M_DIRECTS}" "${size:=$M_SIZE}" "${pressures:=none $M_PRESSURE}"

	# --- validate ---
	[[ "$reps" =~ ^[1-9][0-9]*$ ]] || m_die "--reps wants a positive integer, got '$reps'"
	[[ "$rt" =~ ^[1-9][0-9]*$ ]] || m_die "--runtime wants whole seconds > 0, got '$rt'"
	[[ "$ramp" =~ ^[0-9]+$ ]] || m_die "--ramp wants whole seconds, got '$ramp'"
	[[ "$cell_timeout" =~ ^[1-9][0-9]*$ ]] || m_die "--cell-timeout wants seconds, got '$cell_timeout'"
	[[ "$hung" =~ ^[1-9][0-9]*$ ]] || m_die "--hung-timeout wants seconds, got '$hung'"
	[[ "$stall" =~ ^[1-9][0-9]*$ ]] || m_die "--stall wants seconds, got '$stall'"
	m_size_ok "$size" || m_die "--size wants e.g. 32M, got '$size'"
	[ -z "$dirty" ] || m_size_ok "$dirty" || m_die "--dirty-bytes wants e.g. 2M, got '$dirty'"
	if [ -z "$quiet" ]; then if [ $quick = 1 ]; then quiet=0; else quiet=1800; fi; fi
	[[ "$quiet" =~ ^[0-9]+$ ]] || m_die "--wait-quiet wants seconds, got '$quiet'"
	local m j d p s
	[ -n "$modes" ] || m_die "--modes is empty"
	for m in $modes; do
		case "$m" in off|blanket|scoped) ;; *) m_die "unknown mode '$m' (off, blanket, scoped)" ;; esac
	done
	[ "$(tr ' ' '\n' <<< "$modes" | grep -v '^$' | sort | uniq -d)" = "" ] || m_die "--modes lists a mode twice"
	for j in $jobs; do
		[[ "$j" =~ ^(read|write|randread|randwrite|rw|randrw):[0-9]+[kKmM]?$ ]] ||
			m_die "bad job '$j': want RW:BS, RW one of read write randread randwrite rw randrw, e.g. randwrite:4k"
	done
	for d in $directs; do [[ "$d" =~ ^[01]$ ]] || m_die "--direct wants '0', '1' or '0 1', got '$directs'"; done
	for p in $pressures; do
		[ "$p" = none ] || m_size_ok "$p" || m_die "--pressure wants memcg sizes or 'none' (e.g. 'none 64M'), got '$p'"
	done
	for s in $stacks; do
		case "$s" in ceiling) ;; loop|ublk|tcmu-zbc) [ -f "$M_TOP/tests/stacked/$s" ] || m_die "no rig tests/stacked/$s" ;;
		*) m_die "unknown stack '$s' (loop, ublk, tcmu-zbc, ceiling)" ;; esac
	done
	[ -n "$vm_timeout" ] && { [[ "$vm_timeout" =~ ^[1-9][0-9]*$ ]] || m_die "--vm-timeout wants seconds"; }

	local kernel=${BIOSCOPE_KERNEL:-${BIOSCOPE_BUILD:-$M_TOP/build}/kbuild/arch/x86/boot/bzImage}
	[ -f "$kernel" ] || m_die "no kernel at $kernel: run scripts/build-kernel (or set BIOSCOPE_KERNEL)"
	command -v qemu-system-x86_64 >/dev/null || m_die "qemu-system-x86_64 missing: run scripts/install-deps"
	command -v python3 >/dev/null || m_die "python3 missing"
	command -v gnuplot >/dev/null || m_stamp "warning: gnuplot missing, no PNG (apt-get install gnuplot-nox)"

	local nj nd np ns ncell
	nj=$(wc -w <<< "$jobs") nd=$(wc -w <<< "$directs") np=$(wc -w <<< "$pressures") ns=$(wc -w <<< "$stacks")
	ncell=$((nj * nd * np * reps))
	# boot + per-stack setup + cells (fio, end_fsync, sync, drop_caches) with TCG slack
	local vm_timeout_set=$vm_timeout
	[ -n "$vm_timeout" ] || vm_timeout=$((300 + ns * 180 + ns * ncell * (rt + ramp + 45)))

	local stamp_t
	stamp_t=$(date +%Y%m%d-%H%M%S)
	[ -n "$out" ] || out=$M_TOP/results/$M_NAME-$stamp_t
	if [ -z "$json" ]; then
		if [ $quick = 1 ]; then json=$out/$M_NAME.json; else json=$M_TOP/bench/results/$M_NAME.json; fi
	fi
	local nmodes
	nmodes=$(wc -w <<< "$modes")
	m_stamp "$M_DESC"
	m_stamp "modes: $modes | stacks: $stacks | jobs: $jobs | direct: $directs | pressure: $pressures"
	m_stamp "$((ncell * ns)) cells per VM x $nmodes VMs, runtime ${rt}+${ramp} s ramp, size $size, reps $reps, dirty limits ${dirty:-kernel default}$( [ $quick = 1 ] && echo ', QUICK')"
	m_stamp "kernel $kernel (build dir ${BIOSCOPE_BUILD:-$M_TOP/build}); VM timeout $vm_timeout s; run dir $out"
	[ $dry = 1 ] && { m_stamp "dry run: nothing booted"; exit 0; }

	mkdir -p "$out" || m_die "cannot create $out"
	out=$(cd "$out" && pwd)
	M_OUT=$out M_JSON=$json
	trap m_on_signal INT TERM
	# what each mode still has to run: everything, or (--resume) the stacks without an end row
	local plan
	if [ -n "$resume" ]; then
		plan=$(python3 "$M_TOP/bench/lib/matrix.py" --status "$out")
		m_stamp "resuming $out:"
		while read -r m p st; do
			if [ -n "$st" ]; then echo "    $m: run $st (VM part $p)"; else echo "    $m: complete"; fi
		done <<< "$plan"
	else
	plan=$(for m in $modes; do echo "$m 1 $stacks"; done)
	: > "$out/vms.jsonl"
	python3 - "$out/config.json" <<-EOF
	import json, sys
	json.dump({"name": "$M_NAME", "description": "$M_DESC", "quick": bool($quick),
	           "modes": "$modes".split(), "stacks": "$stacks".split(), "jobs": "$jobs".split(),
	           "directs": [int(x) for x in "$directs".split()], "pressures": "$pressures".split(),
	           "reps": $reps, "runtime": $rt, "ramp": $ramp, "size": "$size", "mem": "$mem",
	           "disk": "$M_DISK", "dirty_bytes": "${dirty:-default}", "cell_timeout": $cell_timeout, "stall": $stall, "hung_timeout": $hung,
	           "kernel": "$kernel", "build": "${BIOSCOPE_BUILD:-$M_TOP/build}",
	           "git": "$(git -C "$M_TOP" describe --always --dirty 2>/dev/null || echo unknown)",
	           "started": "$stamp_t",
	           "fio_engines": {"buffered": "psync iodepth 1", "direct": "libaio iodepth 8"},
	           "notes": "time_based; end_fsync=1 on writes (its time counts); sync + drop_caches before each cell; "
	                    "servicer and fio in one memcg, memory.max per cell"}, open(sys.argv[1], "w"), indent=1)
	EOF
	fi

	local others load t_all i=0 mode vmout t0 rc verdict vmpid part plabel remaining started left n_left tmo
	# For the bench-wide ETA: cells done, cells of the stacks not yet run (in all modes), VM
	# time so far (host quiet waits excluded), and the guess per cell before one is done.
	local cells_done=0 cells_todo=0 work=0 each=$((rt + ramp + 45)) ran
	for mode in $modes; do
		read -r _ part remaining <<< "$(grep "^$mode " <<< "$plan")"
		cells_todo=$((cells_todo + ncell * $(wc -w <<< "$remaining")))
	done
	t_all=$(date +%s)
	for mode in $modes; do
		i=$((i + 1))
		read -r _ part remaining <<< "$(grep "^$mode " <<< "$plan")"
		[ -n "$remaining" ] || continue
		# One VM per mode; if a stack wedges the guest (it powers off, or the VM dies), the
		# stacks it did not start get a fresh VM ("MODE.2", ...), so one wedged stack does
		# not cost the others their numbers.
		while [ -n "$remaining" ]; do
			vmout=$out/$mode
			[ "$part" = 1 ] || vmout=$out/$mode.$part
			mkdir -p "$vmout"
			plabel=""
			[ "$part" = 1 ] || plabel=" part $part"
			n_left=$(wc -w <<< "$remaining")
			tmo=$vm_timeout
			[ -n "$vm_timeout_set" ] || tmo=$((300 + n_left * 180 + n_left * ncell * (rt + ramp + 45)))
			m_stamp "VM $i/$nmodes$plabel: mode=$mode, stacks: $remaining, $((ncell * n_left)) cells, timeout $tmo s (log $vmout/console.log); bench: $cells_done/$((cells_done + cells_todo)) cells done, $(progress_eta "$cells_done" $((cells_done + cells_todo)) "$work" "$each")"
			m_wait_quiet "$quiet"
			t0=$(date +%s)
			BIOSCOPE_MODE=$mode BIOSCOPE_BENCH_NAME=$M_NAME BIOSCOPE_BENCH_JOBS=$jobs \
			BIOSCOPE_BENCH_DIRECTS=$directs BIOSCOPE_BENCH_PRESSURES=$pressures \
			BIOSCOPE_BENCH_REPS=$reps BIOSCOPE_BENCH_RUNTIME=$rt BIOSCOPE_BENCH_RAMP=$ramp \
			BIOSCOPE_BENCH_SIZE=$size BIOSCOPE_BENCH_CELL_TIMEOUT=$cell_timeout BIOSCOPE_HUNG_TIMEOUT=$hung \
			BIOSCOPE_DIRTY_BYTES=$dirty BIOSCOPE_BENCH_NOPROGRESS=$stall \
				"$M_TOP/scripts/vm" --mem "$mem" --disk "$M_DISK" --timeout "$tmo" --out "$vmout" \
				-- "$M_TOP/bench/lib/matrix-guest.sh" $remaining 2>"$vmout/vm.stderr" &
			vmpid=$!
			M_VMPID=$vmpid M_MODE=$mode M_VMOUT=$vmout M_REMAINING=$remaining M_T0=$t0
			# sample host contention while the VM runs (max over 15 s samples)
			( busy_max=0
			  while kill -0 "$vmpid" 2>/dev/null; do
				n=$(m_busy "$(pgrep -f "^qemu-system.*$vmout/console.log" | head -1)")
				[ "$n" -gt "$busy_max" ] && busy_max=$n && echo "$busy_max" > "$vmout/host-busy-max"
				sleep 15
			  done ) &
			# live progress: the guest's "[bench ..." lines from the console log, cell starts
			# with the bench-wide count and ETA (m_follow)
			# (tail exits 1 when the log did not exist yet at its start: VMs wait for the lock)
			# (in the background: a trapped INT/TERM interrupts "wait", not a foreground pipe)
			{ tail --pid="$vmpid" -n +1 -F "$vmout/console.log" 2>/dev/null |
				grep -a --line-buffered '^\[bench ' |
				m_follow "$cells_done" $((cells_done + cells_todo)) "$work" "$t0" "$i/$nmodes" "$each" || true; } &
			rc=0
			wait "$vmpid" || rc=$?
			wait $! 2>/dev/null || true
			M_VMPID="" M_VMOUT=""
			# Another VM or build running at the same time skews the numbers: say so.
			others=$(cat "$vmout/host-busy-max" 2>/dev/null || echo 0)
			load=$(cut -d' ' -f1-3 /proc/loadavg)
			verdict=$(grep -a '^vm: ' "$vmout/vm.stderr" | tail -1 | sed 's/^vm: //')
			grep -a -E '^vm: FAIL' "$vmout/vm.stderr" | sed 's/^/    /' || true
			python3 -c 'import json,sys; print(json.dumps({"mode": sys.argv[1], "exit": int(sys.argv[2]), "secs": int(sys.argv[3]), "verdict": sys.argv[4], "dir": sys.argv[5], "stacks": sys.argv[6].split(), "host_loadavg_at_end": sys.argv[7], "host_busy_max": int(sys.argv[8] or 0)}))' \
				"$mode" "$rc" "$(( $(date +%s) - t0 ))" "$verdict" "$vmout" "$remaining" "$load" "${others:-0}" >> "$out/vms.jsonl"
			[ "${others:-0}" = 0 ] || m_stamp "warning: up to $others other qemu/compiler processes ran during this VM (load now $load): numbers skewed"
			m_stamp "VM $i/$nmodes$plabel: mode=$mode done in $(( $(date +%s) - t0 )) s, exit $rc ($verdict)"
			ran=$(grep -c '"type":"cell"' "$vmout/rows.jsonl" 2>/dev/null) || true
			cells_done=$((cells_done + ${ran:-0})) work=$((work + $(date +%s) - t0))
			cells_todo=$((cells_todo - ncell * n_left))
			# stacks this VM started (a "stack-start" row); the rest need another VM
			started=$(sed -n 's/.*"type":"stack-start".*"stack":"\([^"]*\)".*/\1/p' "$vmout/rows.jsonl" 2>/dev/null | tr '\n' ' ')
			left=""
			for s in $remaining; do
				case " $started " in *" $s "*) ;; *) left+="${left:+ }$s" ;; esac
			done
			if [ -z "$started" ] || [ "$left" = "$remaining" ]; then
				[ -z "$left" ] || m_stamp "VM for mode=$mode started no stack; not retrying ($left missing)"
				break
			fi
			[ -z "$left" ] || m_stamp "mode=$mode: stacks not started in that VM: $left; booting another"
			remaining=$left part=$((part + 1))
			cells_todo=$((cells_todo + ncell * $(wc -w <<< "$left")))
		done
	done
	m_stamp "all VMs done in $(( $(date +%s) - t_all )) s; summary:"
	python3 "$M_TOP/bench/lib/matrix.py" "$out" "$json"
	rc=$?
	[ $quick = 1 ] && [ "$json" = "$out/$M_NAME.json" ] && m_stamp "quick run: summary left in the run directory, bench/results untouched"
	exit $rc
}
