// SPDX-License-Identifier: GPL-2.0
/*
 * rwf-scope-test: the user ABI of RWF_MEMALLOC_NOFS, RWF_MEMALLOC_NOIO and RWF_LOCAL_THROTTLE,
 * on a real kernel (run it in the bioscope VM, as root).
 *
 *   rwf-scope-test abi FILE
 *	preadv2/pwritev2 and io_uring (inline and punted to io-wq with
 *	IOSQE_ASYNC) accept the scope flags; unknown bits fail with
 *	EOPNOTSUPP; RWF_LOCAL_THROTTLE fails with EPERM for a process without
 *	CAP_SYS_RESOURCE while RWF_MEMALLOC_NOFS/RWF_MEMALLOC_NOIO still work for it.
 *   rwf-scope-test io BLOCKDEV
 *	O_DIRECT writes, one MiB apart, for a tracepoint check done by the
 *	caller (tests/vm/rwf-scope): 0 MiB pwritev2 RWF_MEMALLOC_NOFS, 1 MiB io_uring
 *	IOSQE_ASYNC RWF_MEMALLOC_NOIO, 2 MiB plain pwritev2, 3 MiB io_uring IOSQE_ASYNC
 *	plain (the io-wq worker's scope must have been restored).
 *
 * Prints PASS/FAIL lines and "N passed, N failed"; exit 1 on any failure,
 * 77 if the kernel lacks the flags (EOPNOTSUPP for all of them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../ublk-scope/bioscope_uapi.h"

#define RWF_UNKNOWN		0x00001000

/* Shared with the unprivileged child, so one summary counts both. */
static int *counts;
#define passed counts[0]
#define failed counts[1]

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", ok ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

static const char *err_name(int err)
{
	switch (err) {
	case 0:		return "ok";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EPERM:	return "EPERM";
	case EINVAL:	return "EINVAL";
	default:	return strerror(err);
	}
}

/* One sync IO: 0 or the errno. */
static int sync_io(int fd, int write, void *buf, size_t len, off_t off, int flags)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	ssize_t n;

	n = write ? pwritev2(fd, &iov, 1, off, flags) : preadv2(fd, &iov, 1, off, flags);
	if (n < 0)
		return errno;
	return n == (ssize_t)len ? 0 : EIO;
}

/* One io_uring IO: 0 or the errno from the CQE. */
static int uring_io(struct io_uring *ring, int fd, int write, void *buf, size_t len,
		    off_t off, int flags, int async)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int res;

	if (write)
		io_uring_prep_write(sqe, fd, buf, len, off);
	else
		io_uring_prep_read(sqe, fd, buf, len, off);
	sqe->rw_flags = flags;
	if (async)
		sqe->flags |= IOSQE_ASYNC;
	if (io_uring_submit(ring) != 1)
		return EIO;
	if (io_uring_wait_cqe(ring, &cqe))
		return EIO;
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	if (res < 0)
		return -res;
	return res == (int)len ? 0 : EIO;
}

static const struct {
	const char *name;
	int flags;
} scopes[] = {
	{ "RWF_MEMALLOC_NOFS", RWF_MEMALLOC_NOFS },
	{ "RWF_MEMALLOC_NOIO", RWF_MEMALLOC_NOIO },
	{ "RWF_MEMALLOC_NOFS|RWF_MEMALLOC_NOIO", RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO },
	{ "RWF_MEMALLOC_NOIO|RWF_LOCAL_THROTTLE", RWF_MEMALLOC_NOIO | RWF_LOCAL_THROTTLE },
};

/* The checks an unprivileged process makes, in a child; returns its failures. */
static int unprivileged(const char *path)
{
	struct io_uring ring;
	static char buf[4096];
	int fd, e;

	fd = open(path, O_RDWR);
	if (fd < 0 || setgid(65534) || setuid(65534)) {
		check(0, "unprivileged: open and drop to nobody: %s", strerror(errno));
		return 1;
	}
	e = sync_io(fd, 1, buf, sizeof(buf), 0, RWF_MEMALLOC_NOFS);
	check(e == 0, "unprivileged pwritev2 RWF_MEMALLOC_NOFS: %s (want ok)", err_name(e));
	e = sync_io(fd, 0, buf, sizeof(buf), 0, RWF_MEMALLOC_NOIO);
	check(e == 0, "unprivileged preadv2 RWF_MEMALLOC_NOIO: %s (want ok)", err_name(e));
	e = sync_io(fd, 1, buf, sizeof(buf), 0, RWF_LOCAL_THROTTLE);
	check(e == EPERM, "unprivileged pwritev2 RWF_LOCAL_THROTTLE: %s (want EPERM)",
	      err_name(e));
	e = sync_io(fd, 1, buf, sizeof(buf), 0, RWF_MEMALLOC_NOIO | RWF_LOCAL_THROTTLE);
	check(e == EPERM, "unprivileged pwritev2 RWF_MEMALLOC_NOIO|RWF_LOCAL_THROTTLE: %s (want EPERM)",
	      err_name(e));
	if (io_uring_queue_init(4, &ring, 0)) {
		check(0, "unprivileged io_uring_queue_init");
		return 1;
	}
	e = uring_io(&ring, fd, 1, buf, sizeof(buf), 0, RWF_MEMALLOC_NOFS, 1);
	check(e == 0, "unprivileged io_uring async write RWF_MEMALLOC_NOFS: %s (want ok)", err_name(e));
	e = uring_io(&ring, fd, 1, buf, sizeof(buf), 0, RWF_LOCAL_THROTTLE, 0);
	check(e == EPERM, "unprivileged io_uring write RWF_LOCAL_THROTTLE: %s (want EPERM)",
	      err_name(e));
	e = uring_io(&ring, fd, 1, buf, sizeof(buf), 0, RWF_LOCAL_THROTTLE, 1);
	check(e == EPERM, "unprivileged io_uring async write RWF_LOCAL_THROTTLE: %s (want EPERM)",
	      err_name(e));
	io_uring_queue_exit(&ring);
	close(fd);
	return failed;
}

static int test_abi(const char *path)
{
	static char buf[4096];
	struct io_uring ring;
	unsigned int i;
	int fd, e, st;
	pid_t pid;

	memset(buf, 0x5a, sizeof(buf));
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0666);
	if (fd < 0 || fchmod(fd, 0666)) {
		fprintf(stderr, "rwf-scope-test: %s: %s\n", path, strerror(errno));
		return 2;
	}
	e = sync_io(fd, 1, buf, sizeof(buf), 0, RWF_MEMALLOC_NOFS);
	if (e == EOPNOTSUPP) {
		printf("SKIP: kernel does not know RWF_MEMALLOC_NOFS (EOPNOTSUPP): not a bioscope kernel\n");
		return 77;
	}
	for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		e = sync_io(fd, 1, buf, sizeof(buf), 4096 * i, scopes[i].flags);
		check(e == 0, "pwritev2 %s: %s (want ok)", scopes[i].name, err_name(e));
		e = sync_io(fd, 0, buf, sizeof(buf), 4096 * i, scopes[i].flags);
		check(e == 0, "preadv2 %s: %s (want ok)", scopes[i].name, err_name(e));
	}
	e = sync_io(fd, 1, buf, sizeof(buf), 0, RWF_UNKNOWN);
	check(e == EOPNOTSUPP, "pwritev2 unknown bit 0x%x: %s (want EOPNOTSUPP)", RWF_UNKNOWN,
	      err_name(e));
	e = sync_io(fd, 1, buf, sizeof(buf), 0, RWF_MEMALLOC_NOFS | RWF_UNKNOWN);
	check(e == EOPNOTSUPP, "pwritev2 RWF_MEMALLOC_NOFS with unknown bit: %s (want EOPNOTSUPP)",
	      err_name(e));

	if (io_uring_queue_init(4, &ring, 0)) {
		check(0, "io_uring_queue_init");
		return 1;
	}
	for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		for (int async = 0; async < 2; async++) {
			const char *how = async ? "io-wq (IOSQE_ASYNC)" : "inline";

			e = uring_io(&ring, fd, 1, buf, sizeof(buf), 4096 * i, scopes[i].flags, async);
			check(e == 0, "io_uring write %s %s: %s (want ok)", scopes[i].name, how,
			      err_name(e));
			e = uring_io(&ring, fd, 0, buf, sizeof(buf), 4096 * i, scopes[i].flags, async);
			check(e == 0, "io_uring read %s %s: %s (want ok)", scopes[i].name, how,
			      err_name(e));
		}
	}
	e = uring_io(&ring, fd, 1, buf, sizeof(buf), 0, RWF_UNKNOWN, 1);
	check(e == EOPNOTSUPP, "io_uring async write unknown bit: %s (want EOPNOTSUPP)",
	      err_name(e));
	io_uring_queue_exit(&ring);
	close(fd);

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		exit(unprivileged(path) ? 1 : 0);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		check(0, "unprivileged child did not finish");
	return 0;
}

static int test_io(const char *dev)
{
	const size_t mib = 1 << 20;
	struct io_uring ring;
	void *buf;
	int fd, e;

	if (posix_memalign(&buf, 4096, 65536))
		return 2;
	memset(buf, 0xa5, 65536);
	fd = open(dev, O_RDWR | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "rwf-scope-test: %s: %s\n", dev, strerror(errno));
		return 2;
	}
	if (io_uring_queue_init(4, &ring, 0))
		return 2;
	e = sync_io(fd, 1, buf, 65536, 0 * mib, RWF_MEMALLOC_NOFS);
	check(e == 0, "O_DIRECT pwritev2 RWF_MEMALLOC_NOFS at 0 MiB: %s", err_name(e));
	e = uring_io(&ring, fd, 1, buf, 65536, 1 * mib, RWF_MEMALLOC_NOIO, 1);
	check(e == 0, "O_DIRECT io_uring io-wq write RWF_MEMALLOC_NOIO at 1 MiB: %s", err_name(e));
	e = sync_io(fd, 1, buf, 65536, 2 * mib, 0);
	check(e == 0, "O_DIRECT pwritev2 plain at 2 MiB: %s", err_name(e));
	e = uring_io(&ring, fd, 1, buf, 65536, 3 * mib, 0, 1);
	check(e == 0, "O_DIRECT io_uring io-wq write plain at 3 MiB: %s", err_name(e));
	io_uring_queue_exit(&ring);
	close(fd);
	free(buf);
	return 0;
}

/*
 * One O_DIRECT write with RWF_MEMALLOC_NOFS | RWF_DSYNC: on a device without FUA the
 * block layer sends the data, then a flush built by blk_kick_flush().  Both
 * must reach the servicer under the writer's NOFS scope.
 */
static int test_flush(const char *dev)
{
	void *buf;
	int fd, e;

	if (posix_memalign(&buf, 4096, 65536))
		return 2;
	memset(buf, 0x3c, 65536);
	fd = open(dev, O_RDWR | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "rwf-scope-test: %s: %s\n", dev, strerror(errno));
		return 2;
	}
	e = sync_io(fd, 1, buf, 65536, 0, RWF_MEMALLOC_NOFS | RWF_DSYNC);
	check(e == 0, "O_DIRECT pwritev2 RWF_MEMALLOC_NOFS|RWF_DSYNC: %s", err_name(e));
	close(fd);
	free(buf);
	return 0;
}

/*
 * One buffered write with RWF_MEMALLOC_NOFS | RWF_DSYNC to a block device:
 * the sync writes the page back (wbc_init_bio(): NOFS|WB), then
 * blkdev_issue_flush() submits an empty REQ_PREFLUSH bio in the writer's
 * NOFS scope.  On a bio-based dm device, dm sends its targets an empty
 * flush of its own (__send_empty_flush()), which must keep that scope.
 */
static int test_dsync(const char *dev)
{
	char buf[4096];
	int fd, e;

	memset(buf, 0x5a, sizeof(buf));
	fd = open(dev, O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "rwf-scope-test: %s: %s\n", dev, strerror(errno));
		return 2;
	}
	e = sync_io(fd, 1, buf, sizeof(buf), 0, RWF_MEMALLOC_NOFS | RWF_DSYNC);
	check(e == 0, "buffered pwritev2 RWF_MEMALLOC_NOFS|RWF_DSYNC: %s", err_name(e));
	close(fd);
	return 0;
}

/*
 * Three 4 KiB O_DIRECT writes in one io_uring submission (one plug): plain
 * at 0, RWF_MEMALLOC_NOFS at 8 KiB, plain at 4 KiB.  The third bio merges into one of
 * the first two requests in the plug; when the plug is flushed into the
 * scheduler, attempt_merge() joins the two requests.  The one command the
 * servicer gets must carry NOFS, whichever request survived the merge.
 */
static int test_merge(const char *dev)
{
	static const struct { off_t off; int flags; } w[] = {
		{ 0, 0 }, { 8192, RWF_MEMALLOC_NOFS }, { 4096, 0 },
	};
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	void *buf;
	int fd, i, e = 0;

	if (posix_memalign(&buf, 4096, 3 * 4096))
		return 2;
	memset(buf, 0x7e, 3 * 4096);
	fd = open(dev, O_RDWR | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "rwf-scope-test: %s: %s\n", dev, strerror(errno));
		return 2;
	}
	if (io_uring_queue_init(8, &ring, 0))
		return 2;
	for (i = 0; i < 3; i++) {
		sqe = io_uring_get_sqe(&ring);
		if (!sqe)
			return 2;
		io_uring_prep_write(sqe, fd, (char *)buf + i * 4096, 4096, w[i].off);
		sqe->rw_flags = w[i].flags;
	}
	check(io_uring_submit(&ring) == 3, "io_uring: 3 writes submitted at once");
	for (i = 0; i < 3; i++) {
		if (io_uring_wait_cqe(&ring, &cqe))
			return 2;
		if (cqe->res != 4096)
			e = cqe->res < 0 ? -cqe->res : EIO;
		io_uring_cqe_seen(&ring, cqe);
	}
	check(e == 0, "3 O_DIRECT writes (plain, RWF_MEMALLOC_NOFS, plain): %s", err_name(e));
	io_uring_queue_exit(&ring);
	close(fd);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc != 3 || (strcmp(argv[1], "abi") && strcmp(argv[1], "io") &&
			  strcmp(argv[1], "flush") && strcmp(argv[1], "dsync") &&
			  strcmp(argv[1], "merge"))) {
		fprintf(stderr, "usage: rwf-scope-test abi FILE | io|flush|dsync|merge BLOCKDEV\n");
		return 2;
	}
	counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (counts == MAP_FAILED)
		return 2;
	if (!strcmp(argv[1], "abi"))
		rc = test_abi(argv[2]);
	else if (!strcmp(argv[1], "io"))
		rc = test_io(argv[2]);
	else if (!strcmp(argv[1], "flush"))
		rc = test_flush(argv[2]);
	else if (!strcmp(argv[1], "dsync"))
		rc = test_dsync(argv[2]);
	else
		rc = test_merge(argv[2]);
	if (rc)
		return rc;
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
