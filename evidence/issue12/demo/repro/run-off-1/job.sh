export BIOSCOPE_TOP=/work/demo-run BIOSCOPE_BUILD=/work/demo-run/build BIOSCOPE_OUT=/mnt/out
export BIOSCOPE_DURATION=60
export BIOSCOPE_FIO_CAP=20
export BIOSCOPE_HOL=0
export BIOSCOPE_MODE=off
export BIOSCOPE_PRESSURE=64M
export BIOSCOPE_STACK=zbc
export BIOSCOPE_STALL=30
export BIOSCOPE_SYNC_CAP=60
exec bash /work/demo-run/tests/repro/tcmu-hang
