// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit test of tcmu-runner's memory allocation scope helper
 * (libtcmu_scope.c, added by ../patches): kflags -> RWF mapping (WB is
 * information only: never RWF_LOCAL_THROTTLE, the kernel exempts the
 * server itself), the mailbox declaration, TCMU_SCOPE=0, the
 * EOPNOTSUPP/EINVAL/ENOSYS fallback with its log-once message, and EPERM,
 * which is no fallback.  The system calls are faked (tcmu_scope_reset())
 * and libtcmu's log functions are stubbed here, so no kernel support is
 * needed.  Last line: "N passed, M failed"; exit status 1 on any failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libtcmu_log.h"
#include "libtcmu_scope.h"

/*
 * The RWF values of the helper against bioscope_uapi.h, where the values
 * of the bioscope kernel patches live: take the helper's, then let the
 * uapi header define its own.
 */
static const int helper_rwf[2] = { RWF_NOFS, RWF_NOIO };
static const int helper_mask = TCMU_SCOPE_RWF_MASK;
#undef RWF_NOFS
#undef RWF_NOIO
#include "bioscope_uapi.h"
/* The bit the bioscope kernel gave RWF_LOCAL_THROTTLE, if its header lost it */
#ifndef RWF_LOCAL_THROTTLE
#define RWF_LOCAL_THROTTLE	0x00008000
#endif

#include "../../include/check.h"

/* ---------------------------------------------------- libtcmu log stubs */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char logbuf[8][256];
static int nlog;

static void cap_log(const char *fmt, va_list args)
{
	pthread_mutex_lock(&log_lock);
	if (nlog < 8)
		vsnprintf(logbuf[nlog], sizeof(logbuf[0]), fmt, args);
	nlog++;
	pthread_mutex_unlock(&log_lock);
	errno = EBADMSG;	/* logging may clobber errno: the helper must not care */
}

#define LOG_STUB(name)							\
void name(struct tcmu_device *dev, const char *funcname, int linenr,	\
	  const char *fmt, ...)						\
{									\
	va_list args;							\
									\
	(void)dev; (void)funcname; (void)linenr;			\
	va_start(args, fmt);						\
	cap_log(fmt, args);						\
	va_end(args);							\
}

LOG_STUB(tcmu_crit_message)
LOG_STUB(tcmu_err_message)
LOG_STUB(tcmu_warn_message)
LOG_STUB(tcmu_info_message)
LOG_STUB(tcmu_dbg_message)

static void reset_log(void)
{
	nlog = 0;
	memset(logbuf, 0, sizeof(logbuf));
}

/* ------------------------------------------------------ fake syscalls */

/*
 * fail_mask: flags that make the call fail with fail_errno; fail_always:
 * fail with fail_errno whatever the flags; retry_errno: if set, the call
 * without any failing flag fails with it instead of succeeding; nest: the
 * first failing write starts another write first, one that another thread
 * would have started with the same flags (nested_ret: its result).
 */
static struct {
	int fail_mask;
	int fail_errno;
	bool fail_always;
	int retry_errno;
	bool nest;
	ssize_t nested_ret;
	int calls;
	int flags[4];		/* flags of the first calls */
	int writes;
} fake;

static ssize_t wr(uint8_t kflags);

static ssize_t fake_rw(const struct iovec *iov, int iovcnt, int flags)
{
	int n = __atomic_fetch_add(&fake.calls, 1, __ATOMIC_RELAXED);
	ssize_t len = 0;
	int i;

	if (n < 4)
		fake.flags[n] = flags;
	if (fake.fail_always || (flags & fake.fail_mask)) {
		if (fake.nest) {
			fake.nest = false;
			fake.nested_ret = wr(TCMU_KFLAG_SCOPE_MASK);
		}
		errno = fake.fail_errno;
		return -1;
	}
	if (fake.retry_errno) {
		errno = fake.retry_errno;
		return -1;
	}
	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	return len;
}

static ssize_t fake_preadv2(int fd, const struct iovec *iov, int iovcnt,
			    off_t offset, int flags)
{
	(void)fd; (void)offset;
	return fake_rw(iov, iovcnt, flags);
}

static ssize_t fake_pwritev2(int fd, const struct iovec *iov, int iovcnt,
			     off_t offset, int flags)
{
	(void)fd; (void)offset;
	__atomic_fetch_add(&fake.writes, 1, __ATOMIC_RELAXED);
	return fake_rw(iov, iovcnt, flags);
}

static const struct tcmu_scope_ops fake_ops = {
	.sys_preadv2 = fake_preadv2,
	.sys_pwritev2 = fake_pwritev2,
};

/* Fresh helper state, fake syscalls that fail with err for mask. */
static void setup(const char *name, const char *env, int mask, int err)
{
	cur = name;
	if (env)
		setenv("TCMU_SCOPE", env, 1);
	else
		unsetenv("TCMU_SCOPE");
	tcmu_scope_reset(&fake_ops);
	memset(&fake, 0, sizeof(fake));
	fake.fail_mask = mask;
	fake.fail_errno = err;
	reset_log();
}

static char buf[4096];

static ssize_t rd(uint8_t kflags)
{
	return tcmu_scope_pread(3, buf, sizeof(buf), 0, kflags);
}

static ssize_t wr(uint8_t kflags)
{
	return tcmu_scope_pwrite(3, buf, sizeof(buf), 0, kflags);
}

#define ALL	(TCMU_KFLAG_SCOPE_NOFS | TCMU_KFLAG_SCOPE_NOIO | TCMU_KFLAG_SCOPE_WB)

/* ------------------------------------------------------------ tests */

static void test_uapi_values(void)
{
	cur = "uapi_values";
	/* linux/patches/0011 (include/uapi/linux/target_core_user.h) */
	CHECK_EQ(TCMU_MAILBOX_FLAG_CAP_SCOPE, 1 << 4);
	CHECK_EQ(TCMU_MAILBOX_FLAG_USER_SCOPE, 1 << 15);
	CHECK_EQ(TCMU_KFLAG_SCOPE_NOFS, 0x1);
	CHECK_EQ(TCMU_KFLAG_SCOPE_NOIO, 0x2);
	CHECK_EQ(TCMU_KFLAG_SCOPE_WB, 0x4);
	/* linux/patches/0015 via userspace/ublk-scope/bioscope_uapi.h */
	CHECK_EQ(helper_rwf[0], RWF_NOFS);
	CHECK_EQ(helper_rwf[1], RWF_NOIO);
	CHECK_EQ(helper_mask, RWF_NOFS | RWF_NOIO);
	CHECK_EQ(helper_mask & RWF_LOCAL_THROTTLE, 0);
	/* distinct bits, clear of RWF_HIPRI..RWF_NOSIGNAL (0x1..0x100) */
	CHECK_EQ(__builtin_popcount(helper_mask), 2);
	CHECK_EQ(helper_mask & 0x1ff, 0);
}

/*
 * All 8 kflags combinations, pure and through the syscall.  WB (0x4) is
 * information only: it adds nothing, RWF_LOCAL_THROTTLE least of all.
 */
static void test_map(void)
{
	static const int want[8] = {
		0,
		RWF_NOFS,
		RWF_NOIO,
		RWF_NOFS | RWF_NOIO,
		0,
		RWF_NOFS,
		RWF_NOIO,
		RWF_NOFS | RWF_NOIO,
	};
	uint8_t k;

	setup("map", NULL, 0, 0);
	for (k = 0; k < 8; k++) {
		CHECK_EQ(tcmu_scope_kflags_to_rwf(k), want[k]);
		CHECK_EQ(tcmu_scope_rwf(k), want[k]);
		/* bits beyond the scope bits never reach rw_flags */
		CHECK_EQ(tcmu_scope_kflags_to_rwf(k | 0xf8), want[k]);

		fake.calls = 0;
		CHECK_EQ(rd(k), sizeof(buf));
		CHECK_EQ(fake.calls, 1);
		CHECK_EQ(fake.flags[0], want[k]);

		fake.calls = 0;
		CHECK_EQ(wr(k), sizeof(buf));
		CHECK_EQ(fake.calls, 1);
		CHECK_EQ(fake.flags[0], want[k]);
	}
	CHECK_EQ(fake.writes, 8);
	CHECK_EQ(nlog, 0);
	CHECK_EQ(tcmu_scope_kflags_to_rwf(TCMU_KFLAG_SCOPE_WB), 0);
	CHECK_EQ(tcmu_scope_rwf(0xff) & RWF_LOCAL_THROTTLE, 0);

	/* preadv with several iovecs: passed through as is */
	{
		struct iovec iov[2] = {
			{ .iov_base = buf, .iov_len = 512 },
			{ .iov_base = buf + 512, .iov_len = 1024 },
		};

		fake.calls = 0;
		CHECK_EQ(tcmu_scope_preadv(3, iov, 2, 4096, TCMU_KFLAG_SCOPE_NOFS), 1536);
		CHECK_EQ(fake.flags[0], RWF_NOFS);
	}
}

static void test_env(void)
{
	uint8_t k;

	setup("env_off", "0", 0, 0);
	CHECK(!tcmu_scope_enabled());
	for (k = 0; k < 8; k++) {
		CHECK_EQ(tcmu_scope_rwf(k), 0);
		fake.calls = 0;
		CHECK_EQ(wr(k), sizeof(buf));
		CHECK_EQ(fake.flags[0], 0);
	}
	/* the pure mapping does not care */
	CHECK_EQ(tcmu_scope_kflags_to_rwf(ALL), TCMU_SCOPE_RWF_MASK);
	CHECK_EQ(nlog, 0);

	setup("env_on", "1", 0, 0);
	CHECK(tcmu_scope_enabled());
	CHECK_EQ(tcmu_scope_rwf(ALL), TCMU_SCOPE_RWF_MASK);
	setup("env_unset", NULL, 0, 0);
	CHECK(tcmu_scope_enabled());
	setup("env_empty", "", 0, 0);
	CHECK(tcmu_scope_enabled());

	/* read once: a later change of the environment is not seen */
	setup("env_once", NULL, 0, 0);
	CHECK(tcmu_scope_enabled());
	setenv("TCMU_SCOPE", "0", 1);
	CHECK(tcmu_scope_enabled());
	unsetenv("TCMU_SCOPE");
}

static void test_mailbox(void)
{
	uint16_t f;

	setup("mailbox", NULL, 0, 0);
	f = 0x1;			/* CAP_OOOC, no CAP_SCOPE: old kernel */
	CHECK(!tcmu_scope_mailbox_setup(&f));
	CHECK_EQ(f, 0x1);

	f = 0xf | TCMU_MAILBOX_FLAG_CAP_SCOPE;
	CHECK(tcmu_scope_mailbox_setup(&f));
	CHECK_EQ(f, 0xf | TCMU_MAILBOX_FLAG_CAP_SCOPE | TCMU_MAILBOX_FLAG_USER_SCOPE);
	tcmu_scope_mailbox_release(&f);
	CHECK_EQ(f, 0xf | TCMU_MAILBOX_FLAG_CAP_SCOPE);

	/* a declaration left by an earlier server is withdrawn */
	f = 0x1 | TCMU_MAILBOX_FLAG_USER_SCOPE;
	CHECK(!tcmu_scope_mailbox_setup(&f));
	CHECK_EQ(f, 0x1);

	/* TCMU_SCOPE=0: never declared, stale declaration withdrawn */
	setup("mailbox_env_off", "0", 0, 0);
	f = TCMU_MAILBOX_FLAG_CAP_SCOPE;
	CHECK(!tcmu_scope_mailbox_setup(&f));
	CHECK_EQ(f, TCMU_MAILBOX_FLAG_CAP_SCOPE);
	f = TCMU_MAILBOX_FLAG_CAP_SCOPE | TCMU_MAILBOX_FLAG_USER_SCOPE;
	CHECK(!tcmu_scope_mailbox_setup(&f));
	CHECK_EQ(f, TCMU_MAILBOX_FLAG_CAP_SCOPE);
	CHECK_EQ(nlog, 0);
	unsetenv("TCMU_SCOPE");
}

/* A kernel without the RWF scope flags fails them with err. */
static void test_no_rwf(const char *name, int err)
{
	setup(name, NULL, TCMU_SCOPE_RWF_MASK, err);

	/* first IO: tried with the flags, retried without, succeeds */
	CHECK_EQ(wr(ALL), sizeof(buf));
	CHECK_EQ(fake.calls, 2);
	CHECK_EQ(fake.flags[0], TCMU_SCOPE_RWF_MASK);
	CHECK_EQ(fake.flags[1], 0);
	CHECK_EQ(nlog, 1);
	CHECK(strstr(logbuf[0], "kernel does not take memory allocation scopes") != NULL);
	CHECK(strstr(logbuf[0], err == EOPNOTSUPP ? "EOPNOTSUPP" :
				err == EINVAL ? "EINVAL" : "ENOSYS") != NULL);

	/* off for good: one call without flags, whatever kflags say */
	CHECK_EQ(tcmu_scope_rwf(ALL), 0);
	CHECK_EQ(rd(TCMU_KFLAG_SCOPE_NOFS), sizeof(buf));
	CHECK_EQ(wr(ALL), sizeof(buf));
	CHECK_EQ(fake.calls, 4);
	CHECK_EQ(fake.flags[2], 0);
	CHECK_EQ(fake.flags[3], 0);
	CHECK_EQ(nlog, 1);		/* logged once */

	/* an IO in flight with the flags when another hits the fallback */
	setup(name, NULL, TCMU_SCOPE_RWF_MASK, err);
	fake.nest = true;
	CHECK_EQ(wr(ALL), sizeof(buf));
	CHECK_EQ(fake.nested_ret, sizeof(buf));
	CHECK_EQ(fake.calls, 4);
	CHECK_EQ(nlog, 1);		/* logged once */
}

/* EINVAL/EPERM the flags did not cause: the IO fails, the flags stay. */
static void test_not_the_flags(void)
{
	setup("einval_not_flags", NULL, 0, EINVAL);
	fake.fail_always = true;
	errno = 0;
	CHECK_EQ(rd(TCMU_KFLAG_SCOPE_NOFS), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(fake.calls, 2);
	CHECK_EQ(fake.flags[1], 0);
	CHECK_EQ(nlog, 0);
	CHECK_EQ(tcmu_scope_rwf(ALL), TCMU_SCOPE_RWF_MASK);

	/* EPERM (a sealed file): the IO's own error, no retry */
	setup("eperm_not_flags", NULL, 0, EPERM);
	fake.fail_always = true;
	CHECK_EQ(wr(ALL), -1);
	CHECK_EQ(errno, EPERM);
	CHECK_EQ(fake.calls, 1);
	CHECK_EQ(nlog, 0);
	CHECK_EQ(tcmu_scope_rwf(ALL), TCMU_SCOPE_RWF_MASK);

	/* other errors: no retry, errno kept */
	setup("eio", NULL, TCMU_SCOPE_RWF_MASK, EIO);
	CHECK_EQ(wr(ALL), -1);
	CHECK_EQ(errno, EIO);
	CHECK_EQ(fake.calls, 1);
	CHECK_EQ(nlog, 0);
	CHECK_EQ(tcmu_scope_rwf(ALL), TCMU_SCOPE_RWF_MASK);

	/* no scope flags: no retry even on EOPNOTSUPP */
	setup("no_flags", NULL, 0, EOPNOTSUPP);
	fake.fail_always = true;
	CHECK_EQ(rd(0), -1);
	CHECK_EQ(errno, EOPNOTSUPP);
	CHECK_EQ(fake.calls, 1);
	CHECK_EQ(nlog, 0);
}

/* The retry fails otherwise: flags off, the retry's errno survives the log. */
static void test_retry_fails(void)
{
	setup("retry_fails", NULL, TCMU_SCOPE_RWF_MASK, EOPNOTSUPP);
	fake.retry_errno = EIO;
	errno = 0;
	CHECK_EQ(wr(TCMU_KFLAG_SCOPE_NOFS | TCMU_KFLAG_SCOPE_NOIO), -1);
	CHECK_EQ(errno, EIO);
	CHECK_EQ(fake.calls, 2);
	CHECK_EQ(nlog, 1);
	CHECK_EQ(tcmu_scope_rwf(ALL), 0);
}

/*
 * EPERM is no fallback: RWF_NOFS and RWF_NOIO need no privilege, so a
 * kernel that refuses them with EPERM has another reason.  The IO fails,
 * no retry, nothing logged, the flags stay on.
 */
static void test_eperm(void)
{
	setup("eperm", NULL, TCMU_SCOPE_RWF_MASK, EPERM);
	CHECK_EQ(wr(ALL), -1);
	CHECK_EQ(errno, EPERM);
	CHECK_EQ(fake.calls, 1);
	CHECK_EQ(fake.flags[0], RWF_NOFS | RWF_NOIO);
	CHECK_EQ(nlog, 0);
	CHECK_EQ(tcmu_scope_rwf(ALL), RWF_NOFS | RWF_NOIO);

	/* IO without a scope is not affected */
	CHECK_EQ(wr(TCMU_KFLAG_SCOPE_WB), sizeof(buf));
	CHECK_EQ(fake.calls, 2);
	CHECK_EQ(fake.flags[1], 0);

	/* then the kernel turns out to lack the flags altogether */
	fake.fail_mask = TCMU_SCOPE_RWF_MASK;
	fake.fail_errno = EOPNOTSUPP;
	CHECK_EQ(rd(TCMU_KFLAG_SCOPE_NOFS), sizeof(buf));
	CHECK_EQ(nlog, 1);
	CHECK(strstr(logbuf[0], "kernel does not take") != NULL);
	CHECK_EQ(tcmu_scope_rwf(ALL), 0);
	CHECK_EQ(rd(ALL), sizeof(buf));
	CHECK_EQ(nlog, 1);
}

/*
 * The kernel exempts the server from global dirty throttling by its role:
 * no environment variable brings RWF_LOCAL_THROTTLE back (the former
 * TCMU_SCOPE_THROTTLE=role), for reads or writes, whatever kflags say.
 */
static void test_no_local_throttle(void)
{
	unsigned int k;

	setup("no_local_throttle", NULL, 0, 0);
	setenv("TCMU_SCOPE_THROTTLE", "role", 1);
	for (k = 0; k < 256; k++) {
		fake.calls = 0;
		CHECK_EQ(wr(k), sizeof(buf));
		CHECK_EQ(fake.flags[0], tcmu_scope_kflags_to_rwf(k));
		CHECK_EQ(fake.flags[0] & ~(RWF_NOFS | RWF_NOIO), 0);
		fake.calls = 0;
		CHECK_EQ(rd(k), sizeof(buf));
		CHECK_EQ(fake.flags[0] & ~(RWF_NOFS | RWF_NOIO), 0);
	}
	CHECK_EQ(fake.writes, 256);
	CHECK_EQ(nlog, 0);
	unsetenv("TCMU_SCOPE_THROTTLE");
}

/* Many handler threads hit the fallback at once: one log line, no failed IO. */
#define NTHREADS	8
#define NIOS		200

static void *io_thread(void *arg)
{
	long bad = 0;
	int i;

	(void)arg;
	for (i = 0; i < NIOS; i++) {
		char b[64];

		if (tcmu_scope_pwrite(3, b, sizeof(b), 0, ALL) != sizeof(b))
			bad++;
	}
	return (void *)bad;
}

static void test_threads(int mask, int err, const char *msg)
{
	pthread_t t[NTHREADS];
	long bad = 0;
	void *r;
	int i;

	setup(err == EINVAL ? "threads_einval" : "threads_eopnotsupp", NULL,
	      mask, err);
	for (i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, io_thread, NULL), 0);
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(nlog, 1);
	CHECK(strstr(logbuf[0], msg) != NULL);
	/* at most one failed try per thread before it saw the fallback */
	CHECK(fake.calls >= NTHREADS * NIOS + 1);
	CHECK(fake.calls <= NTHREADS * NIOS + NTHREADS);
}

int main(void)
{
	test_uapi_values();
	test_map();
	test_env();
	test_mailbox();
	test_no_rwf("no_rwf_eopnotsupp", EOPNOTSUPP);
	test_no_rwf("no_rwf_einval", EINVAL);
	test_no_rwf("no_rwf_enosys", ENOSYS);
	test_not_the_flags();
	test_retry_fails();
	test_eperm();
	test_no_local_throttle();
	test_threads(TCMU_SCOPE_RWF_MASK, EOPNOTSUPP, "kernel does not take");
	test_threads(RWF_NOIO, EINVAL, "EINVAL");
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
