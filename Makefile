# bioscope: the memalloc scope travels with the IO.
#
#   make demo    main job: deps, kernel, userspace, boot, run the stacked demo, verdict
#   make test    the test command (.ci/run): unit tests, kernel, KUnit, stacked rigs
#   make repro   the 2019 deadlock repro (not in CI; long)
#   make kernel | userspace | deps | check-host | checkpatch | clean

.PHONY: demo test repro kernel userspace deps check-host checkpatch clean

demo:
	@bash scripts/demo

test:
	@bash tests/run

check-host:
	@bash tests/run --quick

repro:
	@bash scripts/repro $(REPRO_ARGS)

deps:
	@bash scripts/install-deps

kernel: deps
	@bash scripts/build-kernel

userspace: deps
	@bash scripts/build-userspace

checkpatch:
	@bash scripts/checkpatch

clean:
	rm -rf build results
	$(MAKE) -C userspace/dmz-format clean
