// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit test of tcmu-runner's memory allocation scope helper
 * (libtcmu_scope.c, added by ../patches): kflags -> RWF mapping (WB is
 * information only: never RWF_LOCAL_THROTTLE, the kernel exempts the
 * server itself), the declaration and each device's log line, memalloc_scope in tcmu.conf
 * (parsed by libtcmu_config.c, the shipped tcmu.conf included), the
 * EOPNOTSUPP/EINVAL/ENOSYS fallback with its log-once message, and EPERM,
 * which is no fallback.  libtcmu_scope.c and libtcmu_config.c are compiled
 * into this program (scope-impl.h): the system calls are faked and
 * libtcmu's log functions are stubbed here, so no kernel support and no
 * test hook in libtcmu are needed.  Last line: "N passed, M failed"; exit
 * status 1 on any failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "scope-impl.h"
#include "libtcmu_config.c"
#include "target_core_user_local.h"	/* TCMU_ATTR_* as libtcmu sends them */

/*
 * The RWF values of the helper against bioscope_uapi.h, where the values
 * of the bioscope kernel patches live: take the helper's, then let the
 * uapi header define its own.
 */
static const int helper_rwf[2] = { RWF_MEMALLOC_NOFS, RWF_MEMALLOC_NOIO };
static const int helper_mask = TCMU_SCOPE_RWF_MASK;
#undef RWF_MEMALLOC_NOFS
#undef RWF_MEMALLOC_NOIO
#include "bioscope_uapi.h"
/* The bit the bioscope kernel gave RWF_LOCAL_THROTTLE, if its header lost it */
#ifndef RWF_LOCAL_THROTTLE
#define RWF_LOCAL_THROTTLE	0x00000200
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

/*
 * Fresh helper state, memalloc_scope on or off, fake syscalls that fail
 * with err for mask.
 */
static void setup(const char *name, bool on, int mask, int err)
{
	cur = name;
	scope_reset(on);
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
	/* the daemon's declaration, next after TCMU_ATTR_SUPP_KERN_CMD_REPLY */
	CHECK_EQ(TCMU_ATTR_SUPP_MEMALLOC_SCOPE, TCMU_ATTR_SUPP_KERN_CMD_REPLY + 1);
	CHECK_EQ(TCMU_ATTR_SUPP_MEMALLOC_SCOPE, 10);
	CHECK_EQ(TCMU_KFLAG_SCOPE_NOFS, 0x1);
	CHECK_EQ(TCMU_KFLAG_SCOPE_NOIO, 0x2);
	CHECK_EQ(TCMU_KFLAG_SCOPE_WB, 0x4);
	/* linux/patches/0015 via userspace/ublk-scope/bioscope_uapi.h */
	CHECK_EQ(helper_rwf[0], RWF_MEMALLOC_NOFS);
	CHECK_EQ(helper_rwf[1], RWF_MEMALLOC_NOIO);
	CHECK_EQ(helper_mask, RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO);
	CHECK_EQ(helper_mask & RWF_LOCAL_THROTTLE, 0);
	/* the next free bits after 6.12's RWF_HIPRI..RWF_ATOMIC (0x1..0x40) */
	CHECK_EQ(__builtin_popcount(helper_mask), 2);
	CHECK_EQ(helper_mask & 0x7f, 0);
	CHECK_EQ(helper_mask, 0x80 | 0x100);
	CHECK_EQ(RWF_LOCAL_THROTTLE, 0x200);
}

/*
 * All 8 kflags combinations, pure and through the syscall.  WB (0x4) is
 * information only: it adds nothing, RWF_LOCAL_THROTTLE least of all.
 */
static void test_map(void)
{
	static const int want[8] = {
		0,
		RWF_MEMALLOC_NOFS,
		RWF_MEMALLOC_NOIO,
		RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO,
		0,
		RWF_MEMALLOC_NOFS,
		RWF_MEMALLOC_NOIO,
		RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO,
	};
	uint8_t k;

	setup("map", true, 0, 0);
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
		CHECK_EQ(fake.flags[0], RWF_MEMALLOC_NOFS);
	}
}

/* memalloc_scope = 0: no flags at all, for reads or writes */
static void test_off(void)
{
	uint8_t k;

	setup("off", false, 0, 0);
	CHECK(!tcmu_scope_enabled());
	for (k = 0; k < 8; k++) {
		CHECK_EQ(tcmu_scope_rwf(k), 0);
		fake.calls = 0;
		CHECK_EQ(wr(k), sizeof(buf));
		CHECK_EQ(fake.flags[0], 0);
		fake.calls = 0;
		CHECK_EQ(rd(k), sizeof(buf));
		CHECK_EQ(fake.flags[0], 0);
	}
	/* the pure mapping does not care */
	CHECK_EQ(tcmu_scope_kflags_to_rwf(ALL), TCMU_SCOPE_RWF_MASK);
	CHECK_EQ(nlog, 0);

	/* a change is logged once, and seen by the next IO */
	setup("set_enabled", true, 0, 0);
	tcmu_scope_set_enabled(true);
	CHECK_EQ(nlog, 0);
	tcmu_scope_set_enabled(false);
	tcmu_scope_set_enabled(false);
	CHECK_EQ(nlog, 1);
	CHECK(strstr(logbuf[0], "memalloc_scope now is off") != NULL);
	CHECK(!tcmu_scope_enabled());
	CHECK_EQ(wr(ALL), sizeof(buf));
	CHECK_EQ(fake.flags[0], 0);
	tcmu_scope_set_enabled(true);
	CHECK_EQ(nlog, 2);
	CHECK(strstr(logbuf[1], "memalloc_scope now is on") != NULL);
	CHECK_EQ(wr(ALL), sizeof(buf));
	CHECK_EQ(fake.flags[1], TCMU_SCOPE_RWF_MASK);
}

/* ------------------------------------------- libtcmu_config.c stubs */

void tcmu_set_log_level(int level)
{
	(void)level;
}

int tcmu_resetup_log_file(struct tcmu_config *cfg, char *log_dir)
{
	(void)cfg; (void)log_dir;
	return 0;
}

void tcmu_set_thread_name(const char *prefix, struct tcmu_device *dev)
{
	(void)prefix; (void)dev;
}

void tcmu_thread_cancel(pthread_t thread)
{
	(void)thread;
}

/* Parse text as tcmu_load_config() parses /etc/tcmu/tcmu.conf. */
static void parse_conf(struct tcmu_config *cfg, const char *text)
{
	size_t len = strlen(text);
	char *b = malloc(len + 1);

	if (!b)
		abort();
	memcpy(b, text, len + 1);
	tcmu_parse_options(cfg, b, len);
	free(b);
}

/*
 * memalloc_scope in tcmu.conf, through libtcmu_config.c: on by default and
 * in the shipped file, where it is documented; 0 turns it off, 1 on; when
 * it is commented out again on a reload, the default comes back.
 */
static void test_conf(void)
{
	struct tcmu_config *cfg;
	char shipped[8192];
	size_t n;
	FILE *f;

	setup("conf_shipped", false, 0, 0);
	cfg = tcmu_initialize_config();
	if (!cfg) {
		CHECK(cfg != NULL);
		return;
	}
	f = fopen(TCMU_CONF, "r");
	CHECK(f != NULL);
	n = f ? fread(shipped, 1, sizeof(shipped) - 1, f) : 0;
	if (f)
		fclose(f);
	shipped[n] = 0;
	CHECK(strstr(shipped, "\n# memalloc_scope = 1\n") != NULL);
	parse_conf(cfg, shipped);
	CHECK_EQ(cfg->memalloc_scope, 1);
	CHECK(tcmu_scope_enabled());
	CHECK_EQ(tcmu_scope_rwf(ALL), TCMU_SCOPE_RWF_MASK);

	setup("conf_off", true, 0, 0);
	parse_conf(cfg, "log_level = 3\nmemalloc_scope = 0\n");
	CHECK_EQ(cfg->memalloc_scope, 0);
	CHECK(!tcmu_scope_enabled());
	CHECK_EQ(tcmu_scope_rwf(ALL), 0);
	CHECK_EQ(nlog, 1);
	CHECK(strstr(logbuf[0], "memalloc_scope now is off") != NULL);

	/* a reload with the option commented out: back to the default */
	setup("conf_reload_default", false, 0, 0);
	parse_conf(cfg, "# memalloc_scope = 0\nlog_level = 3\n");
	CHECK_EQ(cfg->memalloc_scope, 1);
	CHECK(tcmu_scope_enabled());

	setup("conf_on", false, 0, 0);
	parse_conf(cfg, "memalloc_scope = 1");	/* at file end, no newline */
	CHECK_EQ(cfg->memalloc_scope, 1);
	CHECK(tcmu_scope_enabled());

	/* the environment does not turn it off */
	setup("conf_env_ignored", true, 0, 0);
	setenv("TCMU_SCOPE", "0", 1);
	parse_conf(cfg, "log_level = 3\n");
	CHECK(tcmu_scope_enabled());
	CHECK_EQ(tcmu_scope_rwf(ALL), TCMU_SCOPE_RWF_MASK);
	unsetenv("TCMU_SCOPE");

	tcmu_free_config(cfg);
	scope_reset(true);
}

/*
 * The declaration (libtcmu records it with tcmu_scope_set_declared() once
 * set_genl_features() was sent; set directly here); each device's log line
 * follows from it, memalloc_scope and the kernel's CAP_SCOPE.
 */
static void test_declared(void)
{
	setup("declared", true, 0, 0);
	CHECK(!tcmu_scope_declared());		/* until SET_FEATURES went out */
	CHECK_STR(tcmu_scope_device_state(0x1),	/* CAP_OOOC only: old kernel */
		  "kernel does not pass memory allocation scopes");
	CHECK_STR(tcmu_scope_device_state(0xf | TCMU_MAILBOX_FLAG_CAP_SCOPE),
		  "kernel passes memory allocation scopes, not used (not declared at start)");
	tcmu_scope_set_declared(true);
	CHECK(tcmu_scope_declared());
	CHECK_STR(tcmu_scope_device_state(0xf | TCMU_MAILBOX_FLAG_CAP_SCOPE),
		  "kernel passes memory allocation scopes");
	CHECK_STR(tcmu_scope_device_state(0xf),
		  "kernel does not pass memory allocation scopes");
	/* reloaded with memalloc_scope = 0: still declared, not applied */
	tcmu_scope_set_enabled(false);
	CHECK(tcmu_scope_declared());
	CHECK_STR(tcmu_scope_device_state(0xf | TCMU_MAILBOX_FLAG_CAP_SCOPE),
		  "kernel passes memory allocation scopes, not used (memalloc_scope = 0 in tcmu.conf)");

	/* memalloc_scope = 0 at start: declared 0, and the log says why */
	setup("declared_off", false, 0, 0);
	CHECK(!tcmu_scope_declared());
	CHECK_STR(tcmu_scope_device_state(TCMU_MAILBOX_FLAG_CAP_SCOPE),
		  "kernel passes memory allocation scopes, not used (memalloc_scope = 0 in tcmu.conf)");
	CHECK_EQ(nlog, 0);
}

/* A kernel without the RWF scope flags fails them with err. */
static void test_no_rwf(const char *name, int err)
{
	setup(name, true, TCMU_SCOPE_RWF_MASK, err);

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
	setup(name, true, TCMU_SCOPE_RWF_MASK, err);
	fake.nest = true;
	CHECK_EQ(wr(ALL), sizeof(buf));
	CHECK_EQ(fake.nested_ret, sizeof(buf));
	CHECK_EQ(fake.calls, 4);
	CHECK_EQ(nlog, 1);		/* logged once */
}

/* EINVAL/EPERM the flags did not cause: the IO fails, the flags stay. */
static void test_not_the_flags(void)
{
	setup("einval_not_flags", true, 0, EINVAL);
	fake.fail_always = true;
	errno = 0;
	CHECK_EQ(rd(TCMU_KFLAG_SCOPE_NOFS), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(fake.calls, 2);
	CHECK_EQ(fake.flags[1], 0);
	CHECK_EQ(nlog, 0);
	CHECK_EQ(tcmu_scope_rwf(ALL), TCMU_SCOPE_RWF_MASK);

	/* EPERM (a sealed file): the IO's own error, no retry */
	setup("eperm_not_flags", true, 0, EPERM);
	fake.fail_always = true;
	CHECK_EQ(wr(ALL), -1);
	CHECK_EQ(errno, EPERM);
	CHECK_EQ(fake.calls, 1);
	CHECK_EQ(nlog, 0);
	CHECK_EQ(tcmu_scope_rwf(ALL), TCMU_SCOPE_RWF_MASK);

	/* other errors: no retry, errno kept */
	setup("eio", true, TCMU_SCOPE_RWF_MASK, EIO);
	CHECK_EQ(wr(ALL), -1);
	CHECK_EQ(errno, EIO);
	CHECK_EQ(fake.calls, 1);
	CHECK_EQ(nlog, 0);
	CHECK_EQ(tcmu_scope_rwf(ALL), TCMU_SCOPE_RWF_MASK);

	/* no scope flags: no retry even on EOPNOTSUPP */
	setup("no_flags", true, 0, EOPNOTSUPP);
	fake.fail_always = true;
	CHECK_EQ(rd(0), -1);
	CHECK_EQ(errno, EOPNOTSUPP);
	CHECK_EQ(fake.calls, 1);
	CHECK_EQ(nlog, 0);
}

/* The retry fails otherwise: flags off, the retry's errno survives the log. */
static void test_retry_fails(void)
{
	setup("retry_fails", true, TCMU_SCOPE_RWF_MASK, EOPNOTSUPP);
	fake.retry_errno = EIO;
	errno = 0;
	CHECK_EQ(wr(TCMU_KFLAG_SCOPE_NOFS | TCMU_KFLAG_SCOPE_NOIO), -1);
	CHECK_EQ(errno, EIO);
	CHECK_EQ(fake.calls, 2);
	CHECK_EQ(nlog, 1);
	CHECK_EQ(tcmu_scope_rwf(ALL), 0);
}

/*
 * EPERM is no fallback: RWF_MEMALLOC_NOFS and RWF_MEMALLOC_NOIO need no privilege, so a
 * kernel that refuses them with EPERM has another reason.  The IO fails,
 * no retry, nothing logged, the flags stay on.
 */
static void test_eperm(void)
{
	setup("eperm", true, TCMU_SCOPE_RWF_MASK, EPERM);
	CHECK_EQ(wr(ALL), -1);
	CHECK_EQ(errno, EPERM);
	CHECK_EQ(fake.calls, 1);
	CHECK_EQ(fake.flags[0], RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO);
	CHECK_EQ(nlog, 0);
	CHECK_EQ(tcmu_scope_rwf(ALL), RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO);

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

	setup("no_local_throttle", true, 0, 0);
	setenv("TCMU_SCOPE_THROTTLE", "role", 1);
	for (k = 0; k < 256; k++) {
		fake.calls = 0;
		CHECK_EQ(wr(k), sizeof(buf));
		CHECK_EQ(fake.flags[0], tcmu_scope_kflags_to_rwf(k));
		CHECK_EQ(fake.flags[0] & ~(RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO), 0);
		fake.calls = 0;
		CHECK_EQ(rd(k), sizeof(buf));
		CHECK_EQ(fake.flags[0] & ~(RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO), 0);
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

	setup(err == EINVAL ? "threads_einval" : "threads_eopnotsupp", true,
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
	test_off();
	test_conf();
	test_declared();
	test_no_rwf("no_rwf_eopnotsupp", EOPNOTSUPP);
	test_no_rwf("no_rwf_einval", EINVAL);
	test_no_rwf("no_rwf_enosys", ENOSYS);
	test_not_the_flags();
	test_retry_fails();
	test_eperm();
	test_no_local_throttle();
	test_threads(TCMU_SCOPE_RWF_MASK, EOPNOTSUPP, "kernel does not take");
	test_threads(RWF_MEMALLOC_NOIO, EINVAL, "EINVAL");
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
