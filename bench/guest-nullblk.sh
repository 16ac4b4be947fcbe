#!/bin/bash
# In-guest: fio on null_blk, 4k randread and randwrite, io_uring QD 32, alternating the
# bioscope mode (off/scoped, ABBA order) in one boot. Writes $BIOSCOPE_OUT/nullblk.jsonl.
set -eu
reps=${BIOSCOPE_BENCH_REPS:-5} rt=${BIOSCOPE_BENCH_RUNTIME:-5}
mode=/sys/kernel/debug/bioscope/mode
[ -w $mode ] || { echo "FAIL: no $mode (kernel without bioscope)"; exit 1; }
[ -b /dev/nullb0 ] || { echo "FAIL: no /dev/nullb0"; exit 1; }
out=$BIOSCOPE_OUT/nullblk.jsonl
: > "$out"
for rep in $(seq "$reps"); do
	order="off scoped"; [ $((rep % 2)) = 0 ] && order="scoped off"
	for rw in randread randwrite; do
		for m in $order; do
			echo "$m" > $mode
			iops=$(fio --name=nb --filename=/dev/nullb0 --rw=$rw --bs=4k --ioengine=io_uring \
				--iodepth=32 --direct=1 --time_based --runtime="$rt" --ramp_time=1 \
				--output-format=json --eta=never | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
print(round(j["read"]["iops"] + j["write"]["iops"]))')
			echo "{\"rep\":$rep,\"rw\":\"$rw\",\"mode\":\"$m\",\"iops\":$iops}" | tee -a "$out"
		done
	done
done
echo scoped > $mode
