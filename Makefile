# bioscope: the memalloc scope travels with the IO.
#
#   make demo    main job: deps, kernel, userspace, boot, run the stacked demo, verdict
#   make test    the test command (.ci/run): unit tests, kernel, KUnit, stacked rigs
#   make repro   the 2019 deadlock repro (not in CI; long)
#   make kernel | userspace | deps | check-host | checkpatch | clean
#   make export        the kernel and tcmu-runner series as git format-patch mails (build/export)
#   make bisect-check  build every step of the exported kernel series, then KUnit (about 70 min)

.PHONY: demo test repro kernel userspace deps check-host checkpatch export bisect-check clean

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

export: kernel
	@bash scripts/export-series

bisect-check: kernel
	@bash scripts/bisect-check

clean:
	rm -rf build results
	$(MAKE) -C userspace/dmz-format clean
