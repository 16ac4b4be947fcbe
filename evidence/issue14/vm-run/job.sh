export BIOSCOPE_TOP=/work/wt-dmz BIOSCOPE_BUILD=/work/main/build BIOSCOPE_OUT=/mnt/out
exec bash /work/wt-dmz/tests/vm/dmz-format.guest
