// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests for ublk-scope's pure logic (scope_core.c): no ublk device
 * and no io_uring needed.  Last line: "N passed, M failed"; exit status 1 on
 * any failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scope_core.h"

#include "../../include/check.h"

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
	CHECK_EQ(scope_map_op_flags(UBLK_IO_F_SCOPE_NOFS), RWF_MEMALLOC_NOFS);
	CHECK_EQ(scope_map_op_flags(UBLK_IO_F_SCOPE_NOIO), RWF_MEMALLOC_NOIO);
	CHECK_EQ(scope_map_op_flags(UBLK_IO_F_SCOPE_WB), RWF_LOCAL_THROTTLE);
	CHECK_EQ(scope_map_op_flags(UBLK_IO_F_SCOPE_NOFS | UBLK_IO_F_SCOPE_NOIO),
		 RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO);
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
	CHECK_EQ(scope_rw_flags(&s, RD(UBLK_IO_F_SCOPE_NOIO)), RWF_MEMALLOC_NOIO);
	CHECK_EQ(scope_rw_flags(&s, WR(UBLK_IO_F_SCOPE_NOFS | UBLK_IO_F_SCOPE_WB)),
		 RWF_MEMALLOC_NOFS | RWF_LOCAL_THROTTLE);
	CHECK_EQ(s.st.rwf_scoped, 2);
	/* FUA write -> RWF_DSYNC; FUA on a read is ignored */
	CHECK_EQ(scope_rw_flags(&s, WR(UBLK_IO_F_FUA)), RWF_DSYNC);
	CHECK_EQ(scope_rw_flags(&s, RD(UBLK_IO_F_FUA)), 0);
	CHECK_EQ(scope_rw_flags(&s, WR(UBLK_IO_F_FUA | UBLK_IO_F_SCOPE_NOFS)),
		 RWF_DSYNC | RWF_MEMALLOC_NOFS);
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
	CHECK_EQ(rwf, RWF_MEMALLOC_NOFS | RWF_DSYNC);

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
	CHECK_EQ(rwf, RWF_MEMALLOC_NOFS);		/* only LOCAL_THROTTLE dropped */
	CHECK(s.rwf_ok);
	CHECK(!s.throttle_ok);
	CHECK_EQ(nlog, 1);
	CHECK(!strcmp(logbuf[0], MSG_NO_THROTTLE));

	/* later IOs: still NOFS/NOIO, never LOCAL_THROTTLE */
	CHECK_EQ(scope_rw_flags(&s, WR(UBLK_IO_F_SCOPE_MASK)), RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO);
	/* EPERM without the throttle bit is a real error */
	rwf = RWF_MEMALLOC_NOFS;
	CHECK_EQ(scope_on_result(&s, &rwf, -EPERM), SCOPE_DONE);
	CHECK_EQ(rwf, RWF_MEMALLOC_NOFS);
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
	rwf = RWF_MEMALLOC_NOFS;
	CHECK_EQ(scope_on_result(&s, &rwf, 4096), SCOPE_DONE);
	CHECK_EQ(scope_on_result(&s, &rwf, 0), SCOPE_DONE);
	CHECK_EQ(scope_on_result(&s, &rwf, -EIO), SCOPE_DONE);
	CHECK_EQ(scope_on_result(&s, &rwf, -ENOSPC), SCOPE_DONE);
	CHECK_EQ(scope_on_result(&s, &rwf, -EAGAIN), SCOPE_DONE);
	CHECK_EQ(rwf, RWF_MEMALLOC_NOFS);
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
	add_plan_init(&p, SCOPE_AUTO, false);
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
	add_plan_init(&p, SCOPE_AUTO, false);
	CHECK(!add_plan_next(&p, -EPERM));
	CHECK(!add_plan_next(&p, -EEXIST));
	CHECK(!add_plan_next(&p, -ENOMEM));

	/* off: never requests the flag; ioctl then legacy */
	add_plan_init(&p, SCOPE_OFF, false);
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

/* ------------------------------------------------------- unprivileged */

static void test_add_plan_unpriv(void)
{
	struct add_plan p;

	cur = "add_plan_unpriv";
	add_plan_init(&p, SCOPE_AUTO, true);
	CHECK(p.unprivileged);
	CHECK(!p.legacy);
	CHECK(p.scope);
	/* a kernel that refuses the scope to unprivileged devices: retry without */
	CHECK(add_plan_next(&p, -EPERM));
	CHECK(!p.legacy);
	CHECK(!p.scope);
	/* EPERM without the flag is final (not allowed to create at all) */
	CHECK(!add_plan_next(&p, -EPERM));
	/* never the legacy encoding */
	add_plan_init(&p, SCOPE_AUTO, true);
	CHECK(add_plan_next(&p, -EINVAL));
	CHECK(!p.scope);
	CHECK(!add_plan_next(&p, -EOPNOTSUPP));
	CHECK(!p.legacy);
	add_plan_init(&p, SCOPE_OFF, true);
	CHECK(!p.scope);
	CHECK(!add_plan_next(&p, -EOPNOTSUPP));
	CHECK(!add_plan_next(&p, -EPERM));
	/* privileged: EPERM is final, even with the flag */
	add_plan_init(&p, SCOPE_AUTO, false);
	CHECK(!add_plan_next(&p, -EPERM));
	/* the flag values used on the wire */
	CHECK_EQ(UBLK_F_UNPRIVILEGED_DEV, 1ULL << 5);
	CHECK_EQ(UBLK_F_CMD_IOCTL_ENCODE, 1ULL << 6);
	CHECK_EQ(UBLK_F_UNPRIVILEGED_DEV & UBLK_F_MEMALLOC_SCOPE, 0);
}

static void test_ctrl_path_buf(void)
{
	struct ublk_params params;
	char out[256];
	uint16_t pl = 0;
	int n;

	cur = "ctrl_path_buf";
	memset(&params, 0xab, sizeof(params));
	n = ctrl_path_buf(out, sizeof(out), "/dev/ublkc12", &params, sizeof(params), &pl);
	/* dev_path_len counts the NUL; len = path + payload; path first */
	CHECK_EQ(pl, strlen("/dev/ublkc12") + 1);
	CHECK_EQ(n, pl + sizeof(params));
	CHECK(!strcmp(out, "/dev/ublkc12"));
	CHECK_EQ(out[pl - 1], 0);
	CHECK(!memcmp(out + pl, &params, sizeof(params)));
	/* no payload (START/STOP/DEL_DEV): the buffer is the path only */
	n = ctrl_path_buf(out, sizeof(out), "/dev/ublkc0", NULL, 0, &pl);
	CHECK_EQ(n, 12);
	CHECK_EQ(pl, 12);
	/* the kernel requires len >= dev_path_len > 0: never build otherwise */
	CHECK_EQ(ctrl_path_buf(out, sizeof(out), "", NULL, 0, &pl), -EINVAL);
	CHECK_EQ(ctrl_path_buf(out, sizeof(out), NULL, NULL, 0, &pl), -EINVAL);
	CHECK_EQ(ctrl_path_buf(out, 12, "/dev/ublkc0", &params, 1, &pl), -EINVAL);
	CHECK_EQ(ctrl_path_buf(out, 13, "/dev/ublkc0", &params, 1, &pl), 13);
	/* the header layout the kernel reads */
	CHECK_EQ(sizeof(struct ublksrv_ctrl_cmd), 32);
	CHECK_EQ(__builtin_offsetof(struct ublksrv_ctrl_cmd, addr), 8);
	CHECK_EQ(__builtin_offsetof(struct ublksrv_ctrl_cmd, dev_path_len), 24);
}

/* ------------------------------------------------------- add options */

#define ARGV(...) ((char *[]){ "add", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "add", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(o, ...) parse_add_opts((o), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), err, sizeof(err))

static void test_parse_size(void)
{
	uint64_t v = 0;

	cur = "parse_size";
	CHECK_EQ(parse_size("4096", &v), 0);
	CHECK_EQ(v, 4096);
	CHECK_EQ(parse_size("512K", &v), 0);
	CHECK_EQ(v, 512 * 1024);
	CHECK_EQ(parse_size("512k", &v), 0);
	CHECK_EQ(v, 512 * 1024);
	CHECK_EQ(parse_size("1M", &v), 0);
	CHECK_EQ(v, 1 << 20);
	CHECK_EQ(parse_size("1MiB", &v), 0);
	CHECK_EQ(v, 1 << 20);
	CHECK_EQ(parse_size("2g", &v), 0);
	CHECK_EQ(v, 2ULL << 30);
	CHECK_EQ(parse_size("", &v), -EINVAL);
	CHECK_EQ(parse_size("M", &v), -EINVAL);
	CHECK_EQ(parse_size("-1", &v), -EINVAL);
	CHECK_EQ(parse_size("1T", &v), -EINVAL);
	CHECK_EQ(parse_size("1Mx", &v), -EINVAL);
	CHECK_EQ(parse_size("1iB", &v), -EINVAL);
	CHECK_EQ(parse_size("0x10", &v), -EINVAL);
	CHECK_EQ(parse_size("99999999999999999999", &v), -EINVAL);
	CHECK_EQ(parse_size("18014398509481984G", &v), -EINVAL);	/* 2^54 G */
}

static void test_parse_add_opts(void)
{
	struct add_opts o;
	char err[256];

	cur = "parse_add_opts";
	/* defaults */
	CHECK_EQ(PARSE(&o, "--file", "/x"), 0);
	CHECK(!strcmp(o.file, "/x"));
	CHECK_EQ(o.queues, 1);
	CHECK_EQ(o.depth, 8);
	CHECK_EQ(o.max_io, 512 * 1024);
	CHECK(!o.direct);
	CHECK(!o.unprivileged);
	CHECK_EQ(o.scope_mode, SCOPE_AUTO);
	CHECK_EQ(o.dev_id, UINT32_MAX);
	CHECK_EQ(o.force, 0);
	CHECK(!o.help);

	/* every option */
	CHECK_EQ(PARSE(&o, "--file", "/y", "--queues", "2", "--depth", "16", "--max-io", "1M",
		       "--direct", "--scope", "off", "-n", "7", "--unprivileged",
		       "--debug-force-scope", "nofs,wb", "-v", "-v"), 0);
	CHECK(!strcmp(o.file, "/y"));
	CHECK_EQ(o.queues, 2);
	CHECK_EQ(o.depth, 16);
	CHECK_EQ(o.max_io, 1 << 20);
	CHECK(o.direct);
	CHECK_EQ(o.scope_mode, SCOPE_OFF);
	CHECK_EQ(o.dev_id, 7);
	CHECK(o.unprivileged);
	CHECK_EQ(o.force, UBLK_IO_F_SCOPE_NOFS | UBLK_IO_F_SCOPE_WB);
	CHECK_EQ(o.verbose, 2);
	/* parsing again starts from the defaults (getopt reset) */
	CHECK_EQ(PARSE(&o, "-f", "/z", "--buffered", "--max-io=262144", "--depth=4"), 0);
	CHECK(!strcmp(o.file, "/z"));
	CHECK(!o.unprivileged);
	CHECK(!o.direct);
	CHECK_EQ(o.max_io, 256 * 1024);
	CHECK_EQ(o.depth, 4);
	CHECK_EQ(o.verbose, 0);
	CHECK_EQ(PARSE(&o, "--help"), 0);
	CHECK(o.help);

	/* refused, with a reason */
	CHECK_EQ(PARSE(&o, "--depth", "4"), -EINVAL);
	CHECK(strstr(err, "--file") != NULL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--depth", "0"), -EINVAL);
	CHECK(strstr(err, "--depth") != NULL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--depth", "4097"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--depth", "8x"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--depth", "-1"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--depth", "4096", "--max-io", "64K"), 0);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--queues", "0"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--queues", "4097"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--max-io", "3000"), -EINVAL);
	CHECK(strstr(err, "--max-io") != NULL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--max-io", "6K"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--max-io", "33M"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--max-io", "32M"), 0);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--max-io", "4K"), 0);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--scope", "on"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--debug-force-scope", "nofs,x"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--bogus"), -EINVAL);
	CHECK(strstr(err, "--bogus") != NULL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "-Z"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--depth"), -EINVAL);
	CHECK(strstr(err, "argument") != NULL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "extra"), -EINVAL);
	CHECK(strstr(err, "extra") != NULL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--unprivileged=1"), -EINVAL);
	/* buffers above MAX_IO_BUF_TOTAL (1 GiB) are refused at parse time */
	CHECK_EQ(PARSE(&o, "--file", "/x", "--depth", "4096", "--max-io", "32M"), -EINVAL);
	CHECK(strstr(err, "IO buffers") != NULL);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--depth", "1024", "--max-io", "1M"), 0);
	CHECK_EQ(PARSE(&o, "--file", "/x", "--queues", "2", "--depth", "1024", "--max-io", "1M"),
		 -EINVAL);
}

/* ---------------------------------------------------------- IO buffers */

static void test_io_buf_total(void)
{
	uint64_t t = 0;

	cur = "io_buf_total";
	CHECK_EQ(io_buf_total(DEF_QUEUES, DEF_DEPTH, DEF_MAX_IO, &t), 0);
	CHECK_EQ(t, 4 << 20);			/* the default: 4 MiB */
	CHECK_EQ(io_buf_total(1, 64, 512 * 1024, &t), 0);
	CHECK_EQ(t, 32 << 20);			/* the old default */
	CHECK_EQ(io_buf_total(4, 8, 1 << 20, &t), 0);
	CHECK_EQ(t, 32 << 20);
	CHECK_EQ(io_buf_total(1, 1024, 1 << 20, &t), 0);
	CHECK_EQ(t, MAX_IO_BUF_TOTAL);
	CHECK_EQ(io_buf_total(1, 1025, 1 << 20, &t), -E2BIG);
	CHECK_EQ(io_buf_total(4096, 4096, 32 << 20, &t), -E2BIG);
	CHECK_EQ(io_buf_total(0xffffffffu, 0xffffffffu, 0xffffffffu, &t), -E2BIG);
	CHECK_EQ(io_buf_total(0, 8, 4096, &t), -EINVAL);
	CHECK_EQ(io_buf_total(1, 0, 4096, &t), -EINVAL);
	CHECK_EQ(io_buf_total(1, 8, 0, &t), -EINVAL);
}

static int lock_errno;
static int fake_lock(const void *addr, size_t len)
{
	(void)addr;
	(void)len;
	errno = lock_errno;
	return -1;
}

static size_t resident_pages(void *p, size_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t n = (len + pg - 1) / pg, i, r = 0;
	unsigned char *v = malloc(n);

	if (!v || mincore(p, len, v)) {
		free(v);
		return 0;
	}
	for (i = 0; i < n; i++)
		r += v[i] & 1;
	free(v);
	return r;
}

static void test_io_bufs_alloc(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct io_bufs b;
	size_t len = 64 * pg;

	cur = "io_bufs_alloc";
	/* real mlock (RLIMIT_MEMLOCK permitting): every page resident */
	CHECK_EQ(io_bufs_alloc(&b, len, NULL), 0);
	CHECK(b.base != NULL);
	CHECK_EQ(b.len, len);
	CHECK(b.locked || b.lock_err == EPERM || b.lock_err == ENOMEM || b.lock_err == EAGAIN);
	CHECK_EQ(resident_pages(b.base, len), 64);
	b.base[len - 1] = 1;		/* writable */
	io_bufs_free(&b);
	CHECK(b.base == NULL);

	/* mlock refused (RLIMIT_MEMLOCK): not locked, still every page resident */
	for (int i = 0; i < 3; i++) {
		static const int errs[] = { EPERM, ENOMEM, EAGAIN };

		lock_errno = errs[i];
		CHECK_EQ(io_bufs_alloc(&b, len, fake_lock), 0);
		CHECK(!b.locked);
		CHECK_EQ(b.lock_err, errs[i]);
		CHECK_EQ(resident_pages(b.base, len), 64);
		io_bufs_free(&b);
	}
	/* any other lock error is a failure, and nothing stays mapped */
	lock_errno = EINVAL;
	CHECK_EQ(io_bufs_alloc(&b, len, fake_lock), -EINVAL);
	CHECK(b.base == NULL);
	/* more than the address space: a clean -ENOMEM, not a crash */
	CHECK_EQ(io_bufs_alloc(&b, (size_t)1 << 62, NULL), -ENOMEM);
	CHECK(b.base == NULL);
	CHECK_EQ(io_bufs_alloc(&b, 0, NULL), -EINVAL);
}

static void test_fmt(void)
{
	char b[96];

	cur = "fmt";
	fmt_bytes(b, sizeof(b), 4 << 20);
	CHECK(!strcmp(b, "4 MiB"));
	fmt_bytes(b, sizeof(b), 512 * 1024);
	CHECK(!strcmp(b, "512 KiB"));
	fmt_bytes(b, sizeof(b), 1536);
	CHECK(!strcmp(b, "1.5 KiB"));
	fmt_bytes(b, sizeof(b), 100);
	CHECK(!strcmp(b, "100 B"));
	fmt_bytes(b, sizeof(b), 1ULL << 30);
	CHECK(!strcmp(b, "1 GiB"));
	fmt_bytes(b, sizeof(b), 64ULL << 20);
	CHECK(!strcmp(b, "64 MiB"));
	fmt_buf_geometry(b, sizeof(b), 1, 8, 512 * 1024);
	CHECK(!strcmp(b, "1 queue x depth 8 x max IO 512 KiB"));
	fmt_buf_geometry(b, sizeof(b), 2, 4, 1 << 20);
	CHECK(!strcmp(b, "2 queues x depth 4 x max IO 1 MiB"));
}

/* -------------------------------------------------------------- memcg */

static void test_cgroup_path(void)
{
	char p[256];

	cur = "cgroup_path";
	CHECK_EQ(cgroup_v2_path("0::/bioscope\n", p, sizeof(p)), 0);
	CHECK(!strcmp(p, "/bioscope"));
	CHECK_EQ(cgroup_v2_path("0::/\n", p, sizeof(p)), 0);
	CHECK(!strcmp(p, "/"));
	/* hybrid v1+v2: the v2 line is the last one, and has no newline */
	CHECK_EQ(cgroup_v2_path("4:memory:/a\n1:cpu:/\n0::/user.slice/x.scope", p, sizeof(p)), 0);
	CHECK(!strcmp(p, "/user.slice/x.scope"));
	/* v1 only: no v2 line, no limit we can read */
	CHECK_EQ(cgroup_v2_path("4:memory:/a\n1:cpu:/\n", p, sizeof(p)), -ENOENT);
	CHECK_EQ(cgroup_v2_path("", p, sizeof(p)), -ENOENT);
	CHECK_EQ(cgroup_v2_path("0::/long/path\n", p, 5), -EINVAL);
}

static void put(const char *dir, const char *sub, const char *val)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	mkdir(path, 0755);
	if (!val)
		return;
	strcat(path, "/memory.max");
	f = fopen(path, "w");
	if (f) {
		fputs(val, f);
		fclose(f);
	}
}

static void test_memcg(void)
{
	char root[] = "/tmp/ublk-scope-test-XXXXXX", where[512], cmd[600];
	uint64_t lim = 0, t;

	cur = "memcg";
	if (!mkdtemp(root)) {
		CHECK(!"mkdtemp");
		return;
	}
	/* root/a (64M) / b (max) / c (no memory.max: controller off there) */
	put(root, "a", "67108864\n");
	put(root, "a/b", "max\n");
	put(root, "a/b/c", NULL);
	CHECK_EQ(memcg_limit(root, "/a/b/c", &lim, where, sizeof(where)), 0);
	CHECK_EQ(lim, 64 << 20);
	CHECK(strstr(where, "/a/memory.max") != NULL);
	CHECK(strstr(where, "/a/b/") == NULL);
	CHECK_EQ(memcg_limit(root, "/a/b/c/", &lim, where, sizeof(where)), 0);
	CHECK_EQ(lim, 64 << 20);
	/* a tighter child wins */
	put(root, "a/b", "16777216\n");
	CHECK_EQ(memcg_limit(root, "/a/b/c", &lim, where, sizeof(where)), 0);
	CHECK_EQ(lim, 16 << 20);
	CHECK(strstr(where, "/a/b/memory.max") != NULL);
	/* the root cgroup and unlimited groups: no limit */
	CHECK_EQ(memcg_limit(root, "/", &lim, where, sizeof(where)), 0);
	CHECK_EQ(lim, UINT64_MAX);
	CHECK_EQ(where[0], 0);
	put(root, "u", "max\n");
	CHECK_EQ(memcg_limit(root, "/u", &lim, where, sizeof(where)), 0);
	CHECK_EQ(lim, UINT64_MAX);
	CHECK_EQ(memcg_limit(root, "/nonexistent/x", &lim, where, sizeof(where)), 0);
	CHECK_EQ(lim, UINT64_MAX);
	/* garbage is an error, not "no limit" */
	put(root, "g", "lots\n");
	CHECK_EQ(memcg_limit(root, "/g", &lim, where, sizeof(where)), -EINVAL);

	/* the rule: buffers must stay below half of memory.max */
	CHECK_EQ(io_buf_total(DEF_QUEUES, DEF_DEPTH, DEF_MAX_IO, &t), 0);
	CHECK(io_buf_fits_memcg(t, 64 << 20));		/* default under 64M */
	CHECK(!io_buf_fits_memcg(32 << 20, 64 << 20));	/* the OOM-killed setup */
	CHECK(io_buf_fits_memcg((32 << 20) - 4096, 64 << 20));
	CHECK(!io_buf_fits_memcg(t, 8 << 20));
	CHECK(io_buf_fits_memcg(t, UINT64_MAX));
	CHECK(io_buf_fits_memcg(1ULL << 30, UINT64_MAX));
	CHECK(!io_buf_fits_memcg(1, 0));

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		printf("warning: could not remove %s\n", root);
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
	test_add_plan_unpriv();
	test_ctrl_path_buf();
	test_parse_size();
	test_parse_add_opts();
	test_io_buf_total();
	test_io_bufs_alloc();
	test_fmt();
	test_cgroup_path();
	test_memcg();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
