#!/bin/bash
# In-guest: the hot-path cost of bio scopes and of the recursion detector and vouch.
# Loads, each for RT seconds:
#   randread, randwrite  fio on null_blk, 4k, io_uring QD 32, O_DIRECT (IOPS): bio capture
#   drop_slab            a loop writing 2 to /proc/sys/vm/drop_caches (calls per second):
#                        every do_shrink_slab() call runs the detector's and the
#                        shrinker exclusion's checks (bio_scope_note_shrinker(),
#                        bio_scope_local_throttle()) in a task that serves nothing
# crossed with the bioscope mode (off, scoped) and with a userspace server attached or
# not (an idle ublk-scope on a tmpfs file: its attach enables the server slow paths for
# every task). Orders alternate per repetition (ABBA). Writes $BIOSCOPE_OUT/nullblk.jsonl.
set -eu
reps=${BIOSCOPE_BENCH_REPS:-5} rt=${BIOSCOPE_BENCH_RUNTIME:-5}
mode=/sys/kernel/debug/bioscope/mode
bin=${BIOSCOPE_BUILD:?}/bin
[ -w $mode ] || { echo "FAIL: no $mode (kernel without bioscope)"; exit 1; }
[ -b /dev/nullb0 ] || { echo "FAIL: no /dev/nullb0"; exit 1; }
[ -x "$bin/ublk-scope" ] || { echo "FAIL: no $bin/ublk-scope (build-userspace)"; exit 1; }
out=$BIOSCOPE_OUT/nullblk.jsonl
: > "$out"
srv_pid=""
server() {	# server attached|none
	if [ "$1" = attached ] && [ -z "$srv_pid" ]; then
		mkdir -p /run/nb && truncate -s 64M /run/nb/ublk.img
		"$bin/ublk-scope" add --file /run/nb/ublk.img > /run/nb/ublk.out 2>&1 &
		srv_pid=$!
		for _ in $(seq 100); do
			grep -q ' ready$' /run/nb/ublk.out && break
			kill -0 $srv_pid 2>/dev/null || { echo "FAIL: ublk-scope: $(tail -3 /run/nb/ublk.out)"; exit 1; }
			sleep 0.2
		done
		grep -q ' ready$' /run/nb/ublk.out || { echo "FAIL: ublk-scope not ready"; exit 1; }
		grep -q '^ublk ' /sys/kernel/debug/bioscope/servers ||
			{ echo "FAIL: ublk-scope is not an attached server"; cat /sys/kernel/debug/bioscope/servers; exit 1; }
	elif [ "$1" = none ] && [ -n "$srv_pid" ]; then
		kill -TERM $srv_pid; wait $srv_pid 2>/dev/null || true; srv_pid=""
		! grep -q '^ublk ' /sys/kernel/debug/bioscope/servers ||
			{ echo "FAIL: ublk server still attached"; exit 1; }
	fi
}
run_fio() {
	fio --name=nb --filename=/dev/nullb0 --rw="$1" --bs=4k --ioengine=io_uring \
		--iodepth=32 --direct=1 --time_based --runtime="$rt" --ramp_time=1 \
		--output-format=json --eta=never | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
print(round(j["read"]["iops"] + j["write"]["iops"]))'
}
run_drop_slab() {	# calls per second, bash builtins only (no fork per call)
	local n=0 t0 t1
	t0=$(date +%s%N)
	local end=$((SECONDS + rt))
	while [ $SECONDS -lt $end ]; do
		echo 2 > /proc/sys/vm/drop_caches
		n=$((n + 1))
	done
	t1=$(date +%s%N)
	python3 -c "print(round($n / (($t1 - $t0) / 1e9), 1))"
}
for rep in $(seq "$reps"); do
	sorder="none attached"; morder="off scoped"
	[ $((rep % 2)) = 0 ] && sorder="attached none" morder="scoped off"
	for s in $sorder; do
		server "$s"
		for load in randread randwrite drop_slab; do
			for m in $morder; do
				echo "$m" > $mode
				if [ $load = drop_slab ]; then v=$(run_drop_slab); else v=$(run_fio $load); fi
				echo "{\"rep\":$rep,\"server\":\"$s\",\"load\":\"$load\",\"mode\":\"$m\",\"rate\":$v}" |
					tee -a "$out"
			done
		done
	done
done
server none
echo scoped > $mode
