// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests for ublk-scope's pure logic (scope_core.c): no ublk device
 * and no io_uring needed.  Last line: "N passed, M failed"; exit status 1 on
 * any failure.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "scope_core.h"

static int passed, failed;
static const char *cur;

#define CHECK(cond) do {						\
	if (cond) {							\
		passed++;						\
	} else {							\
		failed++;						\
		printf("FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__, cur, #cond); \
	}								\
} while (0)

#define CHECK_EQ(a, b) do {						\
	long long _a = (long long)(a), _b = (long long)(b);		\
	if (_a == _b) {							\
		passed++;						\
	} else {							\
		failed++;						\
		printf("FAIL %s:%d [%s]: %s == %s (%lld != %lld)\n",	\
		       __FILE__, __LINE__, cur, #a, #b, _a, _b);	\
	}								\
} while (0)

/* captured log lines */
static char logbuf[8][160];
static int nlog;

static void cap_log(const char *msg)
{
	if (nlog < 8)
		snprintf(logbuf[nlog], sizeof(logbuf[0]), "%s", msg);
	nlog++;
}

static void reset_log(void)
{
	nlog = 0;
	memset(logbuf, 0, sizeof(logbuf));
}

#define RD(flags)	(UBLK_IO_OP_READ | (flags))
#define WR(flags)	(UBLK_IO_OP_WRITE | (flags))

/* ------------------------------------------------------------ mapping */

static void test_map_bits(void)
{
	cur = "map_bits";
	CHECK_EQ(scope_map_op_flags(0), 0);
	CHECK_EQ(scope_map_op_flags(UBLK_IO_F_SCOPE_NOFS), RWF_NOFS);
	CHECK_EQ(scope_map_op_flags(UBLK_IO_F_SCOPE_NOIO), RWF_NOIO);
	CHECK_EQ(scope_map_op_flags(UBLK_IO_F_SCOPE_WB), RWF_LOCAL_THROTTLE);
	CHECK_EQ(scope_map_op_flags(UBLK_IO_F_SCOPE_NOFS | UBLK_IO_F_SCOPE_NOIO),
		 RWF_NOFS | RWF_NOIO);
	CHECK_EQ(scope_map_op_flags(UBLK_IO_F_SCOPE_MASK), RWF_SCOPE_MASK);
	/* non-scope flags and the op byte never leak into rw_flags */
	CHECK_EQ(scope_map_op_flags(UBLK_IO_OP_WRITE | UBLK_IO_F_FUA | UBLK_IO_F_META |
				    UBLK_IO_F_FAILFAST_DEV | UBLK_IO_F_NOUNMAP |
				    UBLK_IO_F_SWAP), 0);
	CHECK_EQ(scope_map_op_flags(0xffffffffu & ~UBLK_IO_F_SCOPE_MASK), 0);
	/* the provisional values: distinct bits, outside the 6.12 flag range */
	CHECK_EQ(UBLK_IO_F_SCOPE_MASK & 0x1ffff, 0);
	CHECK_EQ(RWF_SCOPE_MASK & (RWF_DSYNC | 0x7f), 0);
	CHECK_EQ(__builtin_popcount(UBLK_IO_F_SCOPE_MASK), 3);
	CHECK_EQ(__builtin_popcount(RWF_SCOPE_MASK), 3);
}

static void test_rw_flags(void)
{
	struct scope_state s;

	cur = "rw_flags";
	scope_init(&s, SCOPE_AUTO, cap_log);
	CHECK_EQ(scope_rw_flags(&s, RD(UBLK_IO_F_SCOPE_NOIO)), RWF_NOIO);
	CHECK_EQ(scope_rw_flags(&s, WR(UBLK_IO_F_SCOPE_NOFS | UBLK_IO_F_SCOPE_WB)),
		 RWF_NOFS | RWF_LOCAL_THROTTLE);
	CHECK_EQ(s.st.rwf_scoped, 2);
	/* FUA write -> RWF_DSYNC; FUA on a read is ignored */
	CHECK_EQ(scope_rw_flags(&s, WR(UBLK_IO_F_FUA)), RWF_DSYNC);
	CHECK_EQ(scope_rw_flags(&s, RD(UBLK_IO_F_FUA)), 0);
	CHECK_EQ(scope_rw_flags(&s, WR(UBLK_IO_F_FUA | UBLK_IO_F_SCOPE_NOFS)),
		 RWF_DSYNC | RWF_NOFS);
	CHECK_EQ(s.st.rwf_scoped, 3);
	/* not a read/write: no rw_flags at all */
	CHECK_EQ(scope_rw_flags(&s, UBLK_IO_OP_FLUSH | UBLK_IO_F_SCOPE_NOFS), 0);
	CHECK_EQ(scope_rw_flags(&s, UBLK_IO_OP_DISCARD | UBLK_IO_F_SCOPE_NOIO), 0);

	/* --scope off: never a scope bit, FUA still honoured */
	scope_init(&s, SCOPE_OFF, cap_log);
	CHECK_EQ(scope_rw_flags(&s, RD(UBLK_IO_F_SCOPE_MASK)), 0);
	CHECK_EQ(scope_rw_flags(&s, WR(UBLK_IO_F_SCOPE_MASK | UBLK_IO_F_FUA)), RWF_DSYNC);
	CHECK_EQ(s.st.rwf_scoped, 0);
}

static void test_effective_and_account(void)
{
	struct scope_state s;
	uint32_t f;

	cur = "effective_account";
	scope_init(&s, SCOPE_AUTO, cap_log);
	CHECK_EQ(scope_effective_op_flags(&s, WR(0)), WR(0));
	s.force_op_flags = UBLK_IO_F_SCOPE_NOFS | UBLK_IO_F_SCOPE_WB;
	f = scope_effective_op_flags(&s, WR(UBLK_IO_F_FUA));
	CHECK_EQ(f, WR(UBLK_IO_F_FUA | UBLK_IO_F_SCOPE_NOFS | UBLK_IO_F_SCOPE_WB));
	/* forcing only touches reads and writes */
	CHECK_EQ(scope_effective_op_flags(&s, UBLK_IO_OP_FLUSH), UBLK_IO_OP_FLUSH);

	scope_account(&s, f);
	scope_account(&s, RD(UBLK_IO_F_SCOPE_NOIO | UBLK_IO_F_SCOPE_NOFS));
	scope_account(&s, UBLK_IO_OP_FLUSH);
	scope_account(&s, UBLK_IO_OP_DISCARD);
	scope_account(&s, UBLK_IO_OP_WRITE_ZEROES);
	scope_account(&s, UBLK_IO_OP_WRITE_SAME);
	CHECK_EQ(s.st.ios, 6);
	CHECK_EQ(s.st.writes, 1);
	CHECK_EQ(s.st.reads, 1);
	CHECK_EQ(s.st.flushes, 1);
	CHECK_EQ(s.st.discards, 1);
	CHECK_EQ(s.st.write_zeroes, 1);
	CHECK_EQ(s.st.other, 1);
	CHECK_EQ(s.st.scope_nofs, 2);
	CHECK_EQ(s.st.scope_noio, 1);
	CHECK_EQ(s.st.scope_wb, 1);
}

/* ------------------------------------------------------- fallback FSM */

static void test_fallback_einval(int err)
{
	struct scope_state s;
	int rwf, rwf2;

	cur = err == -EINVAL ? "fallback_einval" : "fallback_eopnotsupp";
	reset_log();
	scope_init(&s, SCOPE_AUTO, cap_log);

	rwf = scope_rw_flags(&s, WR(UBLK_IO_F_SCOPE_NOFS | UBLK_IO_F_FUA));
	rwf2 = scope_rw_flags(&s, RD(UBLK_IO_F_SCOPE_NOIO));	/* in flight too */
	CHECK_EQ(rwf, RWF_NOFS | RWF_DSYNC);

	/* first failure: retry without scope bits, keep DSYNC, log once */
	CHECK_EQ(scope_on_result(&s, &rwf, err), SCOPE_RETRY);
	CHECK_EQ(rwf, RWF_DSYNC);
	CHECK(!s.rwf_ok);
	CHECK_EQ(nlog, 1);
	CHECK(!strcmp(logbuf[0], MSG_NO_RWF));
	CHECK(!strcmp(MSG_NO_RWF, "kernel lacks RWF scope flags; continuing without"));

	/* the retried IO fails with the same error: no flags left, it stands */
	CHECK_EQ(scope_on_result(&s, &rwf, err), SCOPE_DONE);

	/* a second IO submitted before the fallback also retries, no new log */
	CHECK_EQ(scope_on_result(&s, &rwf2, err), SCOPE_RETRY);
	CHECK_EQ(rwf2, 0);
	CHECK_EQ(nlog, 1);
	CHECK_EQ(s.st.fallback_retries, 2);

	/* for the rest of the run: no scope bits, FUA still maps */
	CHECK_EQ(scope_rw_flags(&s, RD(UBLK_IO_F_SCOPE_MASK)), 0);
	CHECK_EQ(scope_rw_flags(&s, WR(UBLK_IO_F_SCOPE_NOFS | UBLK_IO_F_FUA)), RWF_DSYNC);
	CHECK_EQ(s.st.rwf_scoped, 2);	/* only the two before the fallback */
}

static void test_fallback_eperm(void)
{
	struct scope_state s;
	int rwf;

	cur = "fallback_eperm";
	reset_log();
	scope_init(&s, SCOPE_AUTO, cap_log);

	rwf = scope_rw_flags(&s, WR(UBLK_IO_F_SCOPE_NOFS | UBLK_IO_F_SCOPE_WB));
	CHECK_EQ(scope_on_result(&s, &rwf, -EPERM), SCOPE_RETRY);
	CHECK_EQ(rwf, RWF_NOFS);		/* only LOCAL_THROTTLE dropped */
	CHECK(s.rwf_ok);
	CHECK(!s.throttle_ok);
	CHECK_EQ(nlog, 1);
	CHECK(!strcmp(logbuf[0], MSG_NO_THROTTLE));

	/* later IOs: still NOFS/NOIO, never LOCAL_THROTTLE */
	CHECK_EQ(scope_rw_flags(&s, WR(UBLK_IO_F_SCOPE_MASK)), RWF_NOFS | RWF_NOIO);
	/* EPERM without the throttle bit is a real error */
	rwf = RWF_NOFS;
	CHECK_EQ(scope_on_result(&s, &rwf, -EPERM), SCOPE_DONE);
	CHECK_EQ(rwf, RWF_NOFS);
	/* a second EPERM-with-throttle (in flight earlier) retries silently */
	rwf = RWF_LOCAL_THROTTLE;
	CHECK_EQ(scope_on_result(&s, &rwf, -EPERM), SCOPE_RETRY);
	CHECK_EQ(rwf, 0);
	CHECK_EQ(nlog, 1);

	/* then the kernel turns out to lack the RWF flags altogether */
	rwf = scope_rw_flags(&s, RD(UBLK_IO_F_SCOPE_NOFS));
	CHECK_EQ(scope_on_result(&s, &rwf, -EOPNOTSUPP), SCOPE_RETRY);
	CHECK_EQ(rwf, 0);
	CHECK_EQ(nlog, 2);
	CHECK(!strcmp(logbuf[1], MSG_NO_RWF));
	CHECK_EQ(s.st.fallback_retries, 3);
}

static void test_fallback_other(void)
{
	struct scope_state s;
	int rwf;

	cur = "fallback_other";
	reset_log();
	scope_init(&s, SCOPE_AUTO, cap_log);

	/* success, and errors unrelated to flags, stand */
	rwf = RWF_NOFS;
	CHECK_EQ(scope_on_result(&s, &rwf, 4096), SCOPE_DONE);
	CHECK_EQ(scope_on_result(&s, &rwf, 0), SCOPE_DONE);
	CHECK_EQ(scope_on_result(&s, &rwf, -EIO), SCOPE_DONE);
	CHECK_EQ(scope_on_result(&s, &rwf, -ENOSPC), SCOPE_DONE);
	CHECK_EQ(scope_on_result(&s, &rwf, -EAGAIN), SCOPE_DONE);
	CHECK_EQ(rwf, RWF_NOFS);
	/* EINVAL without scope bits (e.g. misaligned O_DIRECT) stands */
	rwf = RWF_DSYNC;
	CHECK_EQ(scope_on_result(&s, &rwf, -EINVAL), SCOPE_DONE);
	rwf = 0;
	CHECK_EQ(scope_on_result(&s, &rwf, -EOPNOTSUPP), SCOPE_DONE);
	CHECK(s.rwf_ok);
	CHECK(s.throttle_ok);
	CHECK_EQ(nlog, 0);
	CHECK_EQ(s.st.fallback_retries, 0);
}

/* ------------------------------------------------------ ADD negotiation */

static void test_add_plan(void)
{
	struct add_plan p;

	cur = "add_plan";
	/* auto: ioctl+flag first */
	add_plan_init(&p, SCOPE_AUTO);
	CHECK(!p.legacy);
	CHECK(p.scope);
	/* accepted and echoed back: negotiated */
	CHECK(add_plan_feature(&p, UBLK_F_MEMALLOC_SCOPE | UBLK_F_CMD_IOCTL_ENCODE));
	/* accepted but silently masked (6.12 behaviour): not negotiated */
	CHECK(!add_plan_feature(&p, UBLK_F_CMD_IOCTL_ENCODE | UBLK_F_URING_CMD_COMP_IN_TASK));

	/* rejected with EINVAL: same encoding without the flag */
	CHECK(add_plan_next(&p, -EINVAL));
	CHECK(!p.legacy);
	CHECK(!p.scope);
	CHECK(!add_plan_feature(&p, UBLK_F_MEMALLOC_SCOPE));
	/* still failing: legacy encoding, flag again */
	CHECK(add_plan_next(&p, -EOPNOTSUPP));
	CHECK(p.legacy);
	CHECK(p.scope);
	CHECK(add_plan_next(&p, -EOPNOTSUPP));
	CHECK(p.legacy);
	CHECK(!p.scope);
	/* out of options */
	CHECK(!add_plan_next(&p, -EINVAL));

	/* other errors never retry */
	add_plan_init(&p, SCOPE_AUTO);
	CHECK(!add_plan_next(&p, -EPERM));
	CHECK(!add_plan_next(&p, -EEXIST));
	CHECK(!add_plan_next(&p, -ENOMEM));

	/* off: never requests the flag; ioctl then legacy */
	add_plan_init(&p, SCOPE_OFF);
	CHECK(!p.scope);
	CHECK(!add_plan_feature(&p, UBLK_F_MEMALLOC_SCOPE));
	CHECK(add_plan_next(&p, -EOPNOTSUPP));
	CHECK(p.legacy);
	CHECK(!p.scope);
	CHECK(!add_plan_next(&p, -EOPNOTSUPP));
}

/* ------------------------------------------------------- offset math */

static void test_iod_range(void)
{
	struct ublksrv_io_desc iod;
	uint64_t off, len;
	const uint64_t dev = 1ULL << 30;	/* 1 GiB */
	const uint32_t buf = 512 * 1024;

	cur = "iod_range";
	memset(&iod, 0, sizeof(iod));
	iod.op_flags = UBLK_IO_OP_READ;
	iod.start_sector = 0;
	iod.nr_sectors = 8;
	CHECK_EQ(iod_file_range(&iod, dev, buf, &off, &len), 0);
	CHECK_EQ(off, 0);
	CHECK_EQ(len, 4096);

	iod.op_flags = UBLK_IO_OP_WRITE | UBLK_IO_F_FUA | UBLK_IO_F_SCOPE_NOFS;
	iod.start_sector = 12345;
	iod.nr_sectors = 3;
	CHECK_EQ(iod_file_range(&iod, dev, buf, &off, &len), 0);
	CHECK_EQ(off, 12345ULL * 512);
	CHECK_EQ(len, 1536);

	/* the last sector */
	iod.start_sector = (dev >> 9) - 1;
	iod.nr_sectors = 1;
	CHECK_EQ(iod_file_range(&iod, dev, buf, &off, &len), 0);
	CHECK_EQ(off, dev - 512);
	/* one past the end, straddling the end, far beyond (no overflow) */
	iod.start_sector = dev >> 9;
	CHECK_EQ(iod_file_range(&iod, dev, buf, &off, &len), -EIO);
	iod.start_sector = (dev >> 9) - 1;
	iod.nr_sectors = 2;
	CHECK_EQ(iod_file_range(&iod, dev, buf, &off, &len), -EIO);
	iod.start_sector = ~0ULL >> 1;
	iod.nr_sectors = 8;
	CHECK_EQ(iod_file_range(&iod, dev, buf, &off, &len), -EIO);
	iod.start_sector = 8;
	iod.nr_sectors = 0xffffffffu;
	CHECK_EQ(iod_file_range(&iod, dev, buf, &off, &len), -EIO);

	/* exactly the buffer, and one sector more */
	iod.op_flags = UBLK_IO_OP_READ;
	iod.start_sector = 0;
	iod.nr_sectors = buf >> 9;
	CHECK_EQ(iod_file_range(&iod, dev, buf, &off, &len), 0);
	CHECK_EQ(len, buf);
	iod.nr_sectors = (buf >> 9) + 1;
	CHECK_EQ(iod_file_range(&iod, dev, buf, &off, &len), -EINVAL);
	/* discard is not bounded by the buffer; 64-bit length */
	iod.op_flags = UBLK_IO_OP_DISCARD;
	iod.start_sector = 0;
	iod.nr_sectors = (uint32_t)(dev >> 9);
	CHECK_EQ(iod_file_range(&iod, dev, buf, &off, &len), 0);
	CHECK_EQ(len, dev);
	iod.op_flags = UBLK_IO_OP_WRITE_ZEROES;
	iod.start_sector = 1ULL << 40;
	iod.nr_sectors = 0xffffffffu;
	CHECK_EQ(iod_file_range(&iod, 1ULL << 52, buf, &off, &len), 0);
	CHECK_EQ(off, 1ULL << 49);
	CHECK_EQ(len, 0xffffffffULL << 9);
	/* empty */
	iod.nr_sectors = 0;
	CHECK_EQ(iod_file_range(&iod, dev, buf, &off, &len), -EINVAL);
}

/* ------------------------------------------------------------ params */

static void test_params(void)
{
	struct ublk_params p;

	cur = "params";
	CHECK_EQ(compute_params(1ULL << 30, 512 * 1024, 512, true, &p), 0);
	CHECK_EQ(p.len, sizeof(p));
	CHECK_EQ(p.types, UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DISCARD);
	CHECK_EQ(p.basic.dev_sectors, 2097152);
	CHECK_EQ(p.basic.logical_bs_shift, 9);
	CHECK_EQ(p.basic.physical_bs_shift, 12);
	CHECK_EQ(p.basic.io_min_shift, 9);
	CHECK_EQ(p.basic.io_opt_shift, 12);
	CHECK_EQ(p.basic.max_sectors, 1024);
	CHECK_EQ(p.basic.chunk_sectors, 0);
	CHECK_EQ(p.basic.attrs, UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA);
	CHECK_EQ(p.discard.discard_granularity, 4096);
	CHECK_EQ(p.discard.max_discard_segments, 1);
	CHECK_EQ(p.discard.max_discard_sectors, 0xffffffffu >> 9);
	CHECK_EQ(p.discard.max_write_zeroes_sectors, 0xffffffffu >> 9);
	CHECK_EQ(p.devt.disk_major, 0);		/* read-only type not sent */

	/* sizes not a multiple of the logical block are rounded down */
	CHECK_EQ(compute_params((1ULL << 30) + 100, 512 * 1024, 512, false, &p), 0);
	CHECK_EQ(p.basic.dev_sectors, 2097152);
	CHECK_EQ(p.types, UBLK_PARAM_TYPE_BASIC);
	CHECK_EQ(compute_params(1000, 4096, 512, false, &p), 0);
	CHECK_EQ(p.basic.dev_sectors, 1);
	CHECK_EQ(p.basic.max_sectors, 8);

	/* 4 KiB logical blocks (O_DIRECT on a 4Kn backing device) */
	CHECK_EQ(compute_params(10 * 4096 + 512, 1 << 20, 4096, true, &p), 0);
	CHECK_EQ(p.basic.logical_bs_shift, 12);
	CHECK_EQ(p.basic.physical_bs_shift, 12);
	CHECK_EQ(p.basic.io_min_shift, 12);
	CHECK_EQ(p.basic.dev_sectors, 80);
	CHECK_EQ(p.basic.max_sectors, 2048);
	CHECK_EQ(compute_params(2048, 4096, 1024, false, &p), 0);
	CHECK_EQ(p.basic.logical_bs_shift, 10);
	CHECK_EQ(p.basic.dev_sectors, 4);

	/* huge file */
	CHECK_EQ(compute_params(1ULL << 50, 512 * 1024, 512, false, &p), 0);
	CHECK_EQ(p.basic.dev_sectors, 1ULL << 41);

	/* refused */
	CHECK_EQ(compute_params(0, 512 * 1024, 512, false, &p), -EINVAL);
	CHECK_EQ(compute_params(511, 512 * 1024, 512, false, &p), -EINVAL);
	CHECK_EQ(compute_params(4095, 512 * 1024, 4096, false, &p), -EINVAL);
	CHECK_EQ(compute_params(1 << 20, 2048, 512, false, &p), -EINVAL);
	CHECK_EQ(compute_params(1 << 20, 4096 + 512, 512, false, &p), -EINVAL);
	CHECK_EQ(compute_params(1 << 20, 4096, 1000, false, &p), -EINVAL);
	CHECK_EQ(compute_params(1 << 20, 4096, 256, false, &p), -EINVAL);
	CHECK_EQ(compute_params(1 << 20, 1 << 20, 8192, false, &p), -EINVAL);
}

static void test_parse_scope_list(void)
{
	cur = "parse_scope_list";
	CHECK_EQ(parse_scope_list("nofs"), UBLK_IO_F_SCOPE_NOFS);
	CHECK_EQ(parse_scope_list("noio,wb"), UBLK_IO_F_SCOPE_NOIO | UBLK_IO_F_SCOPE_WB);
	CHECK_EQ(parse_scope_list("nofs,noio,wb"), UBLK_IO_F_SCOPE_MASK);
	CHECK_EQ(parse_scope_list("none"), 0);
	CHECK_EQ(parse_scope_list(""), 0);
	CHECK_EQ(parse_scope_list("nofs,bogus"), -1);
	CHECK_EQ(parse_scope_list("nof"), -1);
	CHECK_EQ(parse_scope_list("nofsx"), -1);
}

int main(void)
{
	test_map_bits();
	test_rw_flags();
	test_effective_and_account();
	test_fallback_einval(-EINVAL);
	test_fallback_einval(-EOPNOTSUPP);
	test_fallback_eperm();
	test_fallback_other();
	test_add_plan();
	test_iod_range();
	test_params();
	test_parse_scope_list();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
