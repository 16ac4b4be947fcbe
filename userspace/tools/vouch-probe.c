// SPDX-License-Identifier: GPL-2.0
/*
 * vouch-probe: try to get a relaxation of the global dirty limit, the way an
 * unprivileged user would, and report what the kernel gave.
 *
 *   vouch-probe write FILE MB SECS
 *	Buffered pwrite() of MB MiB to FILE from a thread; report how much was
 *	written after SECS seconds.  Under an exceeded global dirty limit that
 *	nothing can bring down, a globally throttled writer stalls, a locally
 *	throttled one (PR_SET_IO_FLUSHER, a server the kernel vouches for)
 *	completes.
 *   vouch-probe ublk FILE MB SECS
 *	Become a ublk server first: create a ublk device (unprivileged if the
 *	caller lacks CAP_SYS_ADMIN), wait until its char device can be opened
 *	(an administrator's udev rule would chown it) and open it.  Then try
 *	pwritev2(RWF_LOCAL_THROTTLE) and the write probe above, from the same
 *	process.
 *
 * Prints one line: PROBE mode=M uid=U rwf_local_throttle=OK|E<errno> dev=N
 *   written_kib=K of_kib=T seconds=S outcome=completed|stalled
 * and exits 0 when the probe ran (whatever the outcome), 1 on a setup error.
 * The stalled writer is killed with the process (exit_group).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../ublk-scope/bioscope_uapi.h"
#include "../ublk-scope/ublk_uapi.h"

static const char *path;
static long total;
static volatile long written;
static volatile int done;

static void *writer(void *arg)
{
	static char buf[64 << 10];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	(void)arg;
	if (fd < 0) {
		fprintf(stderr, "vouch-probe: open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	memset(buf, 0x5a, sizeof(buf));
	while (written < total) {
		ssize_t n = pwrite(fd, buf, sizeof(buf), written);

		if (n <= 0) {
			fprintf(stderr, "vouch-probe: pwrite: %s\n", strerror(errno));
			exit(1);
		}
		written += n;
	}
	done = 1;
	return NULL;
}

/* pwritev2(RWF_LOCAL_THROTTLE) of one page: "OK" or the errno name. */
static const char *try_rwf(void)
{
	static char res[32];
	char page[4096] = { 0 };
	struct iovec iov = { page, sizeof(page) };
	char tmp[4096];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.rwf", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return "open-failed";
	if (pwritev2(fd, &iov, 1, 0, RWF_LOCAL_THROTTLE) == (ssize_t)sizeof(page))
		strcpy(res, "OK");
	else
		snprintf(res, sizeof(res), "%s", errno == EPERM ? "EPERM" :
			 errno == EOPNOTSUPP ? "EOPNOTSUPP" : strerror(errno));
	close(fd);
	unlink(tmp);
	return res;
}

/* ADD_DEV on /dev/ublk-control; returns the device id or -errno. */
static int ublk_add(int *ctrl_fd)
{
	struct ublksrv_ctrl_dev_info info = {
		.nr_hw_queues = 1,
		.queue_depth = 4,
		.max_io_buf_bytes = 64 << 10,
		.dev_id = (uint32_t)-1,
		.flags = UBLK_F_UNPRIVILEGED_DEV,
	};
	struct io_uring_params p = { .flags = IORING_SETUP_SQE128 };
	struct ublksrv_ctrl_cmd *c;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	int ret;

	*ctrl_fd = open("/dev/ublk-control", O_RDWR);
	if (*ctrl_fd < 0)
		return -errno;
	ret = io_uring_queue_init_params(4, &ring, &p);
	if (ret < 0)
		return ret;
	sqe = io_uring_get_sqe(&ring);
	if (!sqe)
		return -EBUSY;
	memset((void *)sqe, 0, 2 * sizeof(*sqe));	/* SQE128 */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = *ctrl_fd;
	sqe->cmd_op = UBLK_U_CMD_ADD_DEV;
	c = (struct ublksrv_ctrl_cmd *)sqe->cmd;
	c->dev_id = (uint32_t)-1;
	c->queue_id = (uint16_t)-1;
	c->addr = (uintptr_t)&info;
	c->len = sizeof(info);
	ret = io_uring_submit_and_wait(&ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe(&ring, &cqe);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	return ret < 0 ? ret : (int)info.dev_id;
}

int main(int argc, char **argv)
{
	const char *rwf = "untried";
	struct timespec t0, t1;
	int dev = -1, secs, i;
	pthread_t th;

	if (argc != 5 || (strcmp(argv[1], "write") && strcmp(argv[1], "ublk"))) {
		fprintf(stderr, "usage: vouch-probe write|ublk FILE MB SECS\n");
		return 1;
	}
	path = argv[2];
	total = atol(argv[3]) << 20;
	secs = atoi(argv[4]);
	if (total <= 0 || secs <= 0) {
		fprintf(stderr, "vouch-probe: MB and SECS must be positive\n");
		return 1;
	}
	if (!strcmp(argv[1], "ublk")) {
		char cdev[64];
		int ctrl_fd, fd = -1, ret = ublk_add(&ctrl_fd);

		if (ret < 0) {
			fprintf(stderr, "vouch-probe: ublk ADD_DEV: %s\n", strerror(-ret));
			return 1;
		}
		dev = ret;
		snprintf(cdev, sizeof(cdev), "/dev/ublkc%d", dev);
		printf("PROBE-DEV %d %s\n", dev, cdev);
		fflush(stdout);
		/* Wait for the administrator's rule to make it ours. */
		for (i = 0; i < 300 && fd < 0; i++) {
			fd = open(cdev, O_RDWR);
			if (fd < 0)
				usleep(100000);
		}
		if (fd < 0) {
			fprintf(stderr, "vouch-probe: open %s: %s\n", cdev, strerror(errno));
			return 1;
		}
		/* fd stays open: this process is now the device's server. */
	}
	rwf = try_rwf();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (pthread_create(&th, NULL, writer, NULL)) {
		fprintf(stderr, "vouch-probe: pthread_create failed\n");
		return 1;
	}
	for (i = 0; i < secs * 10 && !done; i++)
		usleep(100000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("PROBE mode=%s uid=%d rwf_local_throttle=%s dev=%d written_kib=%ld of_kib=%ld seconds=%.1f outcome=%s\n",
	       argv[1], (int)getuid(), rwf, dev, written >> 10, total >> 10,
	       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	       done ? "completed" : "stalled");
	fflush(stdout);
	_exit(0);
}
