// SPDX-License-Identifier: GPL-2.0
/*
 * ublk-scope - a small file-backed ublk server (like ublksrv's "loop"
 * target) that applies the memalloc scope the bioscope kernel puts in each
 * IO descriptor to the backing IO, per IO, through io_uring rw_flags.
 *
 *   ublk-scope add --file PATH [--queues N] [--depth N] [--buffered|--direct]
 *                  [--scope auto|off] [-n ID] [--max-io BYTES[K|M]]
 *                  [--unprivileged] [--debug-force-scope nofs,noio,wb]
 *   ublk-scope del -n ID
 *   ublk-scope list
 *
 * "add" stays in the foreground: it prints "ublk-scope: /dev/ublkbN ready"
 * on stdout once the disk is live, serves until SIGTERM/SIGINT (then STOP_DEV
 * + DEL_DEV) or until the device is stopped/deleted from elsewhere, prints
 * statistics on SIGUSR1 and on exit.
 *
 * Design: one control ring (SQE128) in the main thread; per queue one thread
 * with its own SQE128 ring that carries both the ublk uring_cmds
 * (FETCH_REQ / COMMIT_AND_FETCH_REQ) and the backing file IO.
 *
 * IO buffers: queues x depth x max IO bytes, allocated before ADD_DEV,
 * prefaulted (MAP_POPULATE) and mlock()ed, so that they are charged to the
 * memcg once, at start, and never faulted in under pressure.  A memcg whose
 * memory.max is less than twice the buffers is refused at start.
 *
 * --unprivileged: UBLK_F_UNPRIVILEGED_DEV.  A caller without CAP_SYS_ADMIN
 * can then add a device (if an admin opened /dev/ublk-control to it); every
 * later control command carries the char device path "/dev/ublkcN" in front
 * of its payload, and the kernel checks the caller's access to that path.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/magic.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "scope_core.h"

#define CTRL_DEV	"/dev/ublk-control"
/* unprivileged: how long an admin (udev rule) has to give us /dev/ublkcN */
#define CDEV_ACCESS_MS	30000

#define UD_CMD		1ULL
#define UD_BACKING	2ULL
#define UD(tag, kind)	((uint64_t)(tag) | ((kind) << 16))
#define UD_TAG(ud)	((unsigned)((ud) & 0xffff))
#define UD_KIND(ud)	((ud) >> 16)

static struct scope_state g_scope;
static int g_verbose;
/* for the statistics line */
static size_t g_buf_bytes;
static bool g_buf_locked, g_unpriv;

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ublk-scope: %s\n", buf);
}

struct tag_state {
	char *buf;
	uint32_t op_flags;	/* effective op_flags of the current IO */
	uint64_t off, len, done;
	int rwf;
};

struct dev;

struct queue {
	struct dev *d;
	int qid;
	unsigned depth;
	struct io_uring ring;
	struct ublksrv_io_desc *descs;
	size_t descs_len;
	char *bufs;
	size_t bufs_len;
	struct tag_state *tags;
	pthread_t th;
	bool started;
	int cmd_inflight;
	int backing_inflight;
	int fatal;
};

struct dev {
	int ctrl_fd;
	struct io_uring ctrl_ring;
	bool ctrl_ring_ok;
	bool legacy;		/* legacy control opcodes */
	bool legacy_io;		/* legacy IO opcodes */
	struct ublksrv_ctrl_dev_info info;
	bool added;
	bool unpriv;		/* UBLK_F_UNPRIVILEGED_DEV device: send cdev_path */
	char cdev_path[32];	/* /dev/ublkcN */
	struct io_bufs bufs;	/* all queues' IO buffers */
	uint32_t buf_stride;	/* bytes per tag in bufs */
	int cdev_fd;
	int file_fd;
	uint64_t dev_bytes;
	struct queue *queues;
	int nr_queues;
	int evfd;
	sem_t ready;
};

/* ---------------------------------------------------------------- control */

static int ctrl_open(struct dev *d)
{
	struct io_uring_params p;
	int ret;

	d->ctrl_fd = open(CTRL_DEV, O_RDWR | O_CLOEXEC);
	if (d->ctrl_fd < 0) {
		ret = -errno;
		logmsg("open %s: %s (is CONFIG_BLK_DEV_UBLK enabled / ublk_drv loaded?)",
		       CTRL_DEV, strerror(errno));
		return ret;
	}
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQE128;
	ret = io_uring_queue_init_params(4, &d->ctrl_ring, &p);
	if (ret < 0) {
		logmsg("control io_uring setup: %s", strerror(-ret));
		close(d->ctrl_fd);
		d->ctrl_fd = -1;
		return ret;
	}
	d->ctrl_ring_ok = true;
	return 0;
}

static void ctrl_close(struct dev *d)
{
	if (d->ctrl_ring_ok)
		io_uring_queue_exit(&d->ctrl_ring);
	d->ctrl_ring_ok = false;
	if (d->ctrl_fd >= 0)
		close(d->ctrl_fd);
	d->ctrl_fd = -1;
}

static void set_cdev_path(struct dev *d, uint32_t id)
{
	snprintf(d->cdev_path, sizeof(d->cdev_path), "/dev/ublkc%u", id);
}

/*
 * One control command.  With path (an unprivileged device after ADD_DEV, or
 * GET_DEV_INFO2), the char device path goes in front of the payload, and the
 * payload is copied back after the command (the kernel strips the path).
 */
static int ctrl_cmd_path(struct dev *d, uint32_t op_ioctl, uint32_t op_legacy,
			 uint32_t dev_id, void *buf, uint16_t len, uint64_t data0,
			 const char *path)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct ublksrv_ctrl_cmd *c;
	char *pbuf = NULL;
	void *ubuf = buf;
	uint16_t ulen = len, path_len = 0;
	int ret;

	if (path) {
		size_t cap = strlen(path) + 1 + len;

		pbuf = malloc(cap);
		if (!pbuf)
			return -ENOMEM;
		ret = ctrl_path_buf(pbuf, cap, path, buf, len, &path_len);
		if (ret < 0) {
			free(pbuf);
			return ret;
		}
		len = (uint16_t)ret;
		buf = pbuf;
	}
	sqe = io_uring_get_sqe(&d->ctrl_ring);
	if (!sqe) {
		free(pbuf);
		return -EBUSY;
	}
	memset((void *)sqe, 0, 2 * sizeof(*sqe));	/* SQE128 */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = d->ctrl_fd;
	sqe->cmd_op = d->legacy ? op_legacy : op_ioctl;
	c = (struct ublksrv_ctrl_cmd *)sqe->cmd;
	c->dev_id = dev_id;
	c->queue_id = (uint16_t)-1;
	c->addr = (uintptr_t)buf;
	c->len = len;
	c->data[0] = data0;
	c->dev_path_len = path_len;

	do {
		ret = io_uring_submit_and_wait(&d->ctrl_ring, 1);
	} while (ret == -EINTR);
	if (ret < 0) {
		free(pbuf);
		return ret;
	}
	do {
		ret = io_uring_wait_cqe(&d->ctrl_ring, &cqe);
	} while (ret == -EINTR);
	if (ret < 0)
		return ret;	/* pbuf may still be in the kernel's hands: leak it */
	ret = cqe->res;
	io_uring_cqe_seen(&d->ctrl_ring, cqe);
	if (pbuf) {
		if (ret >= 0 && ulen)
			memcpy(ubuf, pbuf + path_len, ulen);
		free(pbuf);
	}
	return ret;
}

static int ctrl_cmd(struct dev *d, uint32_t op_ioctl, uint32_t op_legacy,
		    uint32_t dev_id, void *buf, uint16_t len, uint64_t data0)
{
	return ctrl_cmd_path(d, op_ioctl, op_legacy, dev_id, buf, len, data0,
			     d->unpriv ? d->cdev_path : NULL);
}

#define UCTRL(d, NAME, id, buf, len, data0) \
	ctrl_cmd((d), UBLK_U_CMD_##NAME, UBLK_CMD_##NAME, (id), (buf), (len), (data0))

/*
 * GET_DEV_INFO for del/list: the ioctl encoding first, then legacy.  An
 * unprivileged device refuses a command without its char device path
 * (-EINVAL), and a caller without CAP_SYS_ADMIN gets -EPERM for a privileged
 * one: then GET_DEV_INFO2 with the path, which works for both kinds.  Sets
 * d->unpriv (and d->cdev_path) for the commands that follow.
 */
static int ctrl_get_info(struct dev *d, uint32_t id, struct ublksrv_ctrl_dev_info *info)
{
	int ret;

	d->legacy = false;
	d->unpriv = false;
	set_cdev_path(d, id);
	ret = UCTRL(d, GET_DEV_INFO, id, info, sizeof(*info), 0);
	if (ret == -EOPNOTSUPP) {
		d->legacy = true;
		ret = UCTRL(d, GET_DEV_INFO, id, info, sizeof(*info), 0);
		if (ret)
			d->legacy = false;
	}
	if (ret == -EINVAL || ret == -EPERM) {
		int ret2;

		d->legacy = false;
		ret2 = ctrl_cmd_path(d, UBLK_U_CMD_GET_DEV_INFO2, UBLK_CMD_GET_DEV_INFO2,
				     id, info, sizeof(*info), 0, d->cdev_path);
		if (ret2 == 0) {
			d->unpriv = !!(info->flags & UBLK_F_UNPRIVILEGED_DEV);
			ret = 0;
		} else if (ret2 != -EINVAL && ret2 != -EOPNOTSUPP) {
			ret = ret2;	/* e.g. -EACCES on the path: more telling */
		}
	}
	return ret;
}

/* ------------------------------------------------------------- IO path */

static struct io_uring_sqe *get_sqe(struct queue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe) {
		io_uring_submit(&q->ring);
		sqe = io_uring_get_sqe(&q->ring);
	}
	return sqe;
}

static int queue_cmd(struct queue *q, unsigned tag, bool fetch, int res)
{
	struct dev *d = q->d;
	struct io_uring_sqe *sqe = get_sqe(q);
	struct ublksrv_io_cmd *c;

	if (!sqe) {
		logmsg("queue %d: no SQE for tag %u", q->qid, tag);
		return -EBUSY;
	}
	memset((void *)sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = d->cdev_fd;
	if (fetch)
		sqe->cmd_op = d->legacy_io ? UBLK_IO_FETCH_REQ : UBLK_U_IO_FETCH_REQ;
	else
		sqe->cmd_op = d->legacy_io ? UBLK_IO_COMMIT_AND_FETCH_REQ :
					     UBLK_U_IO_COMMIT_AND_FETCH_REQ;
	c = (struct ublksrv_io_cmd *)sqe->cmd;
	c->q_id = q->qid;
	c->tag = tag;
	c->result = res;
	c->addr = (uintptr_t)q->tags[tag].buf;
	sqe->user_data = UD(tag, UD_CMD);
	q->cmd_inflight++;
	return 0;
}

static void commit(struct queue *q, unsigned tag, int res)
{
	if (res < 0) {
		__atomic_fetch_add(&g_scope.st.errors, 1, __ATOMIC_RELAXED);
		if (g_verbose)
			logmsg("queue %d tag %u op %u: error %s", q->qid, tag,
			       q->tags[tag].op_flags & 0xff, strerror(-res));
	}
	if (queue_cmd(q, tag, false, res))
		q->fatal = -EBUSY;
}

static void submit_rw(struct queue *q, unsigned tag)
{
	struct tag_state *t = &q->tags[tag];
	struct io_uring_sqe *sqe = get_sqe(q);
	uint8_t op = t->op_flags & 0xff;

	if (!sqe) {
		commit(q, tag, -EBUSY);
		return;
	}
	if (op == UBLK_IO_OP_READ)
		io_uring_prep_read(sqe, q->d->file_fd, t->buf + t->done,
				   (unsigned)(t->len - t->done), t->off + t->done);
	else
		io_uring_prep_write(sqe, q->d->file_fd, t->buf + t->done,
				    (unsigned)(t->len - t->done), t->off + t->done);
	sqe->rw_flags = t->rwf;
	sqe->user_data = UD(tag, UD_BACKING);
	q->backing_inflight++;
}

static void submit_other(struct queue *q, unsigned tag, uint8_t op)
{
	struct tag_state *t = &q->tags[tag];
	struct io_uring_sqe *sqe = get_sqe(q);

	if (!sqe) {
		commit(q, tag, -EBUSY);
		return;
	}
	switch (op) {
	case UBLK_IO_OP_FLUSH:
		io_uring_prep_fsync(sqe, q->d->file_fd, IORING_FSYNC_DATASYNC);
		break;
	case UBLK_IO_OP_DISCARD:
		io_uring_prep_fallocate(sqe, q->d->file_fd,
					FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					t->off, t->len);
		break;
	case UBLK_IO_OP_WRITE_ZEROES:
		io_uring_prep_fallocate(sqe, q->d->file_fd,
					FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					t->off, t->len);
		break;
	}
	sqe->user_data = UD(tag, UD_BACKING);
	q->backing_inflight++;
}

static void handle_io(struct queue *q, unsigned tag)
{
	struct tag_state *t = &q->tags[tag];
	struct ublksrv_io_desc desc;
	uint8_t op;
	int ret;

	memcpy(&desc, (const void *)&q->descs[tag], sizeof(desc));
	desc.op_flags = scope_effective_op_flags(&g_scope, desc.op_flags);
	scope_account(&g_scope, desc.op_flags);
	t->op_flags = desc.op_flags;
	op = desc.op_flags & 0xff;

	switch (op) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		ret = iod_file_range(&desc, q->d->dev_bytes, q->d->buf_stride,
				     &t->off, &t->len);
		if (ret) {
			commit(q, tag, ret);
			return;
		}
		t->done = 0;
		t->rwf = scope_rw_flags(&g_scope, desc.op_flags);
		submit_rw(q, tag);
		return;
	case UBLK_IO_OP_FLUSH:
		submit_other(q, tag, op);
		return;
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		ret = iod_file_range(&desc, q->d->dev_bytes, q->d->buf_stride,
				     &t->off, &t->len);
		if (ret) {
			commit(q, tag, ret);
			return;
		}
		submit_other(q, tag, op);
		return;
	default:
		commit(q, tag, -EOPNOTSUPP);
	}
}

static void backing_done(struct queue *q, unsigned tag, int res)
{
	struct tag_state *t = &q->tags[tag];
	uint8_t op = t->op_flags & 0xff;

	if (op != UBLK_IO_OP_READ && op != UBLK_IO_OP_WRITE) {
		commit(q, tag, res < 0 ? res : 0);
		return;
	}
	if (res < 0) {
		if (scope_on_result(&g_scope, &t->rwf, res) == SCOPE_RETRY) {
			submit_rw(q, tag);
			return;
		}
		commit(q, tag, res);
		return;
	}
	if (res == 0) {
		if (op == UBLK_IO_OP_WRITE) {
			commit(q, tag, -EIO);
			return;
		}
		/* read past the end of a shrunk file: zeroes */
		memset(t->buf + t->done, 0, t->len - t->done);
		t->done = t->len;
	} else {
		t->done += (unsigned)res;
	}
	if (t->done < t->len) {
		__atomic_fetch_add(&g_scope.st.short_retries, 1, __ATOMIC_RELAXED);
		submit_rw(q, tag);
		return;
	}
	commit(q, tag, (int)t->len);
}

static void handle_cqe(struct queue *q, const struct io_uring_cqe *cqe)
{
	unsigned tag = UD_TAG(cqe->user_data);
	uint64_t kind = UD_KIND(cqe->user_data);

	if (tag >= q->depth) {
		logmsg("queue %d: bogus CQE user_data %#llx", q->qid,
		       (unsigned long long)cqe->user_data);
		return;
	}
	if (kind == UD_CMD) {
		q->cmd_inflight--;
		if (cqe->res == UBLK_IO_RES_OK) {
			handle_io(q, tag);
		} else if (cqe->res == UBLK_IO_RES_ABORT) {
			/* device stopping: this tag is done */
		} else {
			logmsg("queue %d tag %u: ublk command failed: %s",
			       q->qid, tag, strerror(-cqe->res));
			q->fatal = cqe->res < 0 ? cqe->res : -EIO;
		}
	} else if (kind == UD_BACKING) {
		q->backing_inflight--;
		backing_done(q, tag, cqe->res);
	}
}

static int reap(struct queue *q)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&q->ring, head, cqe) {
		handle_cqe(q, cqe);
		n++;
	}
	io_uring_cq_advance(&q->ring, n);
	return n;
}

static void *queue_thread(void *arg)
{
	struct queue *q = arg;
	struct dev *d = q->d;
	struct io_uring_params p;
	char name[16];
	unsigned tag;
	int ret;

	snprintf(name, sizeof(name), "ublk-scope-q%d", q->qid);
	pthread_setname_np(pthread_self(), name);

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQE128;
	ret = io_uring_queue_init_params(2 * q->depth, &q->ring, &p);
	if (ret < 0) {
		logmsg("queue %d: io_uring setup: %s", q->qid, strerror(-ret));
		q->fatal = ret;
		sem_post(&d->ready);
		eventfd_write(d->evfd, 1);
		return NULL;
	}

	for (tag = 0; tag < q->depth; tag++)
		if (queue_cmd(q, tag, true, -1))
			break;
	ret = io_uring_submit(&q->ring);
	if (ret < 0) {
		logmsg("queue %d: submitting FETCH_REQ: %s", q->qid, strerror(-ret));
		q->fatal = ret;
	}
	/* FETCH_REQ validation errors complete inline: catch them before START */
	reap(q);
	sem_post(&d->ready);

	while (q->cmd_inflight + q->backing_inflight > 0) {
		ret = io_uring_submit_and_wait(&q->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			logmsg("queue %d: io_uring_submit_and_wait: %s", q->qid,
			       strerror(-ret));
			q->fatal = ret;
			break;
		}
		reap(q);
	}
	if (g_verbose)
		logmsg("queue %d: done", q->qid);
	io_uring_queue_exit(&q->ring);
	eventfd_write(d->evfd, 1);
	return NULL;
}

/* ----------------------------------------------------------- statistics */

static void print_stats(void)
{
	struct scope_stats s;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	s = g_scope.st;
	printf("ublk-scope: stats ios=%" PRIu64 " reads=%" PRIu64 " writes=%" PRIu64
	       " flushes=%" PRIu64 " discards=%" PRIu64 " write_zeroes=%" PRIu64
	       " other=%" PRIu64 " errors=%" PRIu64
	       " scope_nofs=%" PRIu64 " scope_noio=%" PRIu64 " scope_wb=%" PRIu64
	       " rwf_scoped=%" PRIu64 " fallback_retries=%" PRIu64
	       " short_retries=%" PRIu64
	       " feature=%s rwf_scope=%s local_throttle=%s"
	       " io_buf_bytes=%zu io_buf_locked=%s unprivileged=%s\n",
	       s.ios, s.reads, s.writes, s.flushes, s.discards, s.write_zeroes,
	       s.other, s.errors, s.scope_nofs, s.scope_noio, s.scope_wb,
	       s.rwf_scoped, s.fallback_retries, s.short_retries,
	       g_scope.feature ? "yes" : "no",
	       g_scope.mode == SCOPE_OFF ? "off" :
	       __atomic_load_n(&g_scope.rwf_ok, __ATOMIC_RELAXED) ? "on" : "fallback",
	       __atomic_load_n(&g_scope.throttle_ok, __ATOMIC_RELAXED) ? "on" : "dropped",
	       g_buf_bytes, g_buf_locked ? "yes" : "no", g_unpriv ? "yes" : "no");
	fflush(stdout);
}

/* ------------------------------------------------------------------ add */

static int open_backing(struct add_opts *o, struct dev *d, uint32_t *lbs, bool *discard)
{
	struct stat st;
	int fd;

	*lbs = 512;
	*discard = true;
	fd = open(o->file, O_RDWR | O_CLOEXEC | (o->direct ? O_DIRECT : 0));
	if (fd < 0 && o->direct && errno == EINVAL) {
		logmsg("%s: O_DIRECT not supported, using buffered IO", o->file);
		o->direct = false;
		fd = open(o->file, O_RDWR | O_CLOEXEC);
	}
	if (fd < 0) {
		logmsg("open %s: %s", o->file, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0)
		goto err;
	if (S_ISBLK(st.st_mode)) {
		uint64_t bytes;
		int ssz;

		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
			goto err;
		d->dev_bytes = bytes;
		if (o->direct && ioctl(fd, BLKSSZGET, &ssz) == 0 && ssz > 512)
			*lbs = ssz;
	} else if (S_ISREG(st.st_mode)) {
		d->dev_bytes = st.st_size;
#ifdef STATX_DIOALIGN
		if (o->direct) {
			struct statx stx;

			if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
			    (stx.stx_mask & STATX_DIOALIGN) &&
			    stx.stx_dio_offset_align > 512 &&
			    stx.stx_dio_offset_align <= 4096)
				*lbs = stx.stx_dio_offset_align;
		}
#endif
	} else {
		logmsg("%s: not a regular file or block device", o->file);
		close(fd);
		return -EINVAL;
	}
	d->file_fd = fd;
	return 0;
err:
	logmsg("%s: %s", o->file, strerror(errno));
	close(fd);
	return -errno;
}

static int do_add_dev(struct dev *d, const struct add_opts *o)
{
	struct add_plan plan;
	int ret;

	add_plan_init(&plan, o->scope_mode, o->unprivileged);
	d->unpriv = false;	/* ADD_DEV itself never carries the path */
	for (;;) {
		memset(&d->info, 0, sizeof(d->info));
		d->info.nr_hw_queues = o->queues;
		d->info.queue_depth = o->depth;
		d->info.max_io_buf_bytes = o->max_io;
		d->info.dev_id = o->dev_id;
		d->info.flags = UBLK_F_CMD_IOCTL_ENCODE;
		if (o->unprivileged)
			d->info.flags |= UBLK_F_UNPRIVILEGED_DEV;
		if (plan.scope)
			d->info.flags |= UBLK_F_MEMALLOC_SCOPE;
		d->legacy = plan.legacy;
		ret = UCTRL(d, ADD_DEV, o->dev_id, &d->info, sizeof(d->info), 0);
		if (ret == 0)
			break;
		if (!add_plan_next(&plan, ret)) {
			if (ret == -EPERM && !o->unprivileged)
				logmsg("ADD_DEV: %s (without CAP_SYS_ADMIN, use --unprivileged)",
				       strerror(-ret));
			else if (ret == -EACCES && o->unprivileged)
				logmsg("ADD_DEV: %s (too many unprivileged ublk devices: "
				       "ublk_drv's ublks_max parameter)", strerror(-ret));
			else
				logmsg("ADD_DEV: %s", strerror(-ret));
			return ret;
		}
		if (g_verbose)
			logmsg("ADD_DEV: %s; retrying (%s opcodes, scope flag %s)",
			       strerror(-ret), plan.legacy ? "legacy" : "ioctl",
			       plan.scope ? "on" : "off");
	}
	d->added = true;
	set_cdev_path(d, d->info.dev_id);
	/*
	 * The kernel clears UBLK_F_UNPRIVILEGED_DEV for a CAP_SYS_ADMIN caller:
	 * the returned flags say whether later commands must carry the path.
	 */
	d->unpriv = !!(d->info.flags & UBLK_F_UNPRIVILEGED_DEV);
	g_unpriv = d->unpriv;
	if (o->unprivileged && !d->unpriv)
		logmsg("--unprivileged: the caller has CAP_SYS_ADMIN, so the kernel "
		       "made dev %u a privileged device", d->info.dev_id);
	g_scope.feature = add_plan_feature(&plan, d->info.flags);
	if (plan.want_scope && !g_scope.feature)
		scope_log(&g_scope, MSG_NO_FEATURE);
	d->legacy_io = plan.legacy && !(d->info.flags & UBLK_F_CMD_IOCTL_ENCODE);
	return 0;
}

static int wait_path(const char *path, int ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (; ms > 0; ms -= 10) {
		if (access(path, F_OK) == 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	return access(path, F_OK) == 0 ? 0 : -ENOENT;
}

static int setup_queues(struct dev *d)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t max_desc = ((UBLK_MAX_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc)) + pg - 1) & ~(pg - 1);
	int i;

	d->nr_queues = d->info.nr_hw_queues;
	d->queues = calloc(d->nr_queues, sizeof(*d->queues));
	if (!d->queues)
		return -ENOMEM;
	for (i = 0; i < d->nr_queues; i++) {
		struct queue *q = &d->queues[i];
		unsigned t;

		q->d = d;
		q->qid = i;
		q->depth = d->info.queue_depth;
		q->descs_len = (q->depth * sizeof(struct ublksrv_io_desc) + pg - 1) & ~(pg - 1);
		q->descs = mmap(NULL, q->descs_len, PROT_READ, MAP_SHARED | MAP_POPULATE,
				d->cdev_fd, UBLKSRV_CMD_BUF_OFFSET + (off_t)i * max_desc);
		if (q->descs == MAP_FAILED) {
			q->descs = NULL;
			logmsg("queue %d: mmap IO descriptors: %s", i, strerror(errno));
			return -errno;
		}
		/* this queue's slice of the prefaulted buffers (allocated at start) */
		q->bufs_len = (size_t)q->depth * d->buf_stride;
		if ((size_t)(i + 1) * q->bufs_len > d->bufs.len) {
			logmsg("queue %d: IO buffers too small (%zu bytes)", i, d->bufs.len);
			return -ENOMEM;
		}
		q->bufs = d->bufs.base + (size_t)i * q->bufs_len;
		q->tags = calloc(q->depth, sizeof(*q->tags));
		if (!q->tags)
			return -ENOMEM;
		for (t = 0; t < q->depth; t++)
			q->tags[t].buf = q->bufs + (size_t)t * d->buf_stride;
	}
	return 0;
}

static void teardown_queues(struct dev *d)
{
	int i;

	for (i = 0; i < d->nr_queues; i++) {
		struct queue *q = &d->queues[i];

		if (q->started)
			pthread_join(q->th, NULL);
		if (q->descs)
			munmap(q->descs, q->descs_len);
		free(q->tags);	/* q->bufs is a slice of d->bufs */
	}
	free(d->queues);
	d->queues = NULL;
	d->nr_queues = 0;
}

static int queues_fatal(const struct dev *d)
{
	int i;

	for (i = 0; i < d->nr_queues; i++)
		if (d->queues[i].fatal)
			return d->queues[i].fatal;
	return 0;
}

static void usage(FILE *f)
{
	char bufs[32];
	uint64_t total = 0;

	io_buf_total(DEF_QUEUES, DEF_DEPTH, DEF_MAX_IO, &total);
	fmt_bytes(bufs, sizeof(bufs), total);
	fprintf(f,
"usage: ublk-scope add --file PATH [--queues N] [--depth N] [--buffered|--direct]\n"
"                      [--scope auto|off] [-n ID] [--max-io BYTES[K|M]] [-v]\n"
"                      [--unprivileged] [--debug-force-scope nofs,noio,wb]\n"
"       ublk-scope del -n ID\n"
"       ublk-scope list\n"
"\n"
"  add   export PATH as /dev/ublkbN; stays in the foreground, prints\n"
"        'ublk-scope: /dev/ublkbN ready' on stdout once live; SIGTERM/SIGINT\n"
"        stop and delete the device; SIGUSR1 prints statistics.\n"
"        Defaults: %d queue, depth %d, buffered IO, --scope auto, max IO %d KiB.\n"
"        IO buffers (queues x depth x max IO, %s by default) are allocated at\n"
"        start, prefaulted and mlock()ed; in a memory cgroup they must stay\n"
"        below half of memory.max, or the server refuses to start.\n"
"        --unprivileged creates a UBLK_F_UNPRIVILEGED_DEV device: works without\n"
"        CAP_SYS_ADMIN if /dev/ublk-control is open to the caller; an admin\n"
"        must then give the caller read/write access to /dev/ublkcN (udev rule)\n"
"        within %d s of its creation.\n"
"        --debug-force-scope ORs scope bits into every read/write descriptor\n"
"        (testing the RWF fallback on kernels that never send them).\n",
		DEF_QUEUES, DEF_DEPTH, DEF_MAX_IO / 1024, bufs, CDEV_ACCESS_MS / 1000);
}

/*
 * Refuse buffers that take half or more of this process's memory cgroup
 * (cgroup v2).  Returns 0 (fits, or no limit found) or -1 (message logged).
 */
static int check_memcg(uint64_t total, const char *geom)
{
	char text[4096], path[PATH_MAX], where[PATH_MAX + 32], b[32], l[32];
	uint64_t limit;
	size_t n;
	FILE *f;
	int ret;

	struct statfs sfs;

	/* only a cgroup v2 mount at /sys/fs/cgroup has the files we read */
	if (statfs("/sys/fs/cgroup", &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC)
		return 0;
	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return 0;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	if (cgroup_v2_path(text, path, sizeof(path)))
		return 0;
	ret = memcg_limit("/sys/fs/cgroup", path, &limit, where, sizeof(where));
	if (ret) {
		logmsg("warning: cannot read the memory cgroup limit of %s: %s",
		       path, strerror(-ret));
		return 0;
	}
	if (limit == UINT64_MAX)
		return 0;
	fmt_bytes(b, sizeof(b), total);
	fmt_bytes(l, sizeof(l), limit);
	if (!io_buf_fits_memcg(total, limit)) {
		logmsg("IO buffers of %s (%s) are half or more of the memory cgroup limit "
		       "(%s in %s): lower --depth or --max-io", b, geom, l, where);
		return -1;
	}
	if (g_verbose)
		logmsg("memory cgroup %s: limit %s, IO buffers %s", path, l, b);
	return 0;
}

/* Allocate, prefault and pin every queue's IO buffers, before ADD_DEV. */
static int alloc_io_bufs(struct dev *d, const struct add_opts *o)
{
	char geom[96], b[32];
	uint64_t total;
	int ret;

	ret = io_buf_total(o->queues, o->depth, o->max_io, &total);
	if (ret)
		return ret;	/* parse_add_opts already refused this */
	fmt_buf_geometry(geom, sizeof(geom), o->queues, o->depth, o->max_io);
	fmt_bytes(b, sizeof(b), total);
	if (check_memcg(total, geom))
		return -ENOMEM;
	ret = io_bufs_alloc(&d->bufs, total, NULL);
	if (ret) {
		logmsg("cannot allocate %s of IO buffers (%s): %s", b, geom, strerror(-ret));
		return ret;
	}
	d->buf_stride = o->max_io;
	g_buf_bytes = d->bufs.len;
	g_buf_locked = d->bufs.locked;
	if (d->bufs.locked)
		logmsg("IO buffers: %s (%s), prefaulted and locked", b, geom);
	else
		logmsg("IO buffers: %s (%s), prefaulted; warning: mlock: %s "
		       "(RLIMIT_MEMLOCK?), pages touched instead", b, geom,
		       strerror(d->bufs.lock_err));
	return 0;
}

/*
 * Unprivileged: the kernel checks every command against the caller's access
 * to /dev/ublkcN, which devtmpfs creates root-owned 0600.  Wait for an admin
 * (a udev rule) to open it to us.
 */
static int wait_cdev_access(const struct dev *d)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int ms;

	for (ms = 0; ms < CDEV_ACCESS_MS; ms += 50) {
		if (eaccess(d->cdev_path, R_OK | W_OK) == 0)
			return 0;
		if (ms == 0)
			logmsg("dev %u added (unprivileged, owner uid %u gid %u); waiting up to "
			       "%d s for read/write access to %s", d->info.dev_id,
			       d->info.owner_uid, d->info.owner_gid, CDEV_ACCESS_MS / 1000,
			       d->cdev_path);
		nanosleep(&ts, NULL);
	}
	logmsg("%s is not readable and writable by uid %u: an unprivileged ublk device "
	       "needs an admin to give its owner access (e.g. a udev rule that chowns "
	       "/dev/ublkc* to the owner_uid from GET_DEV_INFO2)", d->cdev_path,
	       (unsigned)geteuid());
	return -EACCES;
}

static int cmd_add(int argc, char **argv)
{
	struct add_opts o;
	struct dev d = { .ctrl_fd = -1, .cdev_fd = -1, .file_fd = -1, .evfd = -1 };
	struct ublk_params params;
	char path[64], err[256];
	sigset_t sigs;
	int sfd = -1, ret, i, started = 0, rc = 1;
	bool discard;
	uint32_t lbs;

	if (parse_add_opts(&o, argc, argv, err, sizeof(err))) {
		logmsg("%s (see 'ublk-scope add --help')", err);
		return 2;
	}
	if (o.help) {
		usage(stdout);
		return 0;
	}
	g_verbose = o.verbose;

	scope_init(&g_scope, o.scope_mode, NULL);
	g_scope.force_op_flags = o.force;

	/* Signals are taken synchronously through a signalfd in the main thread;
	 * the queue threads inherit the blocked mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	d.evfd = eventfd(0, EFD_CLOEXEC);
	if (sfd < 0 || d.evfd < 0 || sem_init(&d.ready, 0, 0)) {
		logmsg("signalfd/eventfd: %s", strerror(errno));
		goto out;
	}

	if (open_backing(&o, &d, &lbs, &discard))
		goto out;
	ret = compute_params(d.dev_bytes, o.max_io, lbs, discard, &params);
	if (ret) {
		logmsg("%s: size %" PRIu64 " is too small to export", o.file, d.dev_bytes);
		goto out;
	}
	/* before the device exists: a server that cannot fit never creates one */
	if (alloc_io_bufs(&d, &o))
		goto out;
	if (ctrl_open(&d))
		goto out;
	if (do_add_dev(&d, &o))
		goto out;
	if (d.info.max_io_buf_bytes > d.buf_stride) {
		logmsg("kernel raised max IO to %u bytes, above the %u-byte buffers",
		       d.info.max_io_buf_bytes, d.buf_stride);
		goto out;
	}
	/* the char device: unprivileged, every later command is checked against it */
	if (wait_path(d.cdev_path, 3000)) {
		logmsg("%s did not appear", d.cdev_path);
		goto out;
	}
	if (d.unpriv && wait_cdev_access(&d))
		goto out;
	/* the kernel may have lowered (page-aligned) the max IO size */
	if (d.info.max_io_buf_bytes < o.max_io) {
		ret = compute_params(d.dev_bytes, d.info.max_io_buf_bytes, lbs, discard, &params);
		if (ret) {
			logmsg("kernel max IO size %u unusable", d.info.max_io_buf_bytes);
			goto out;
		}
	}
	d.dev_bytes = params.basic.dev_sectors << 9;
	ret = UCTRL(&d, SET_PARAMS, d.info.dev_id, &params, sizeof(params), 0);
	if (ret) {
		logmsg("SET_PARAMS: %s", strerror(-ret));
		goto out;
	}

	d.cdev_fd = open(d.cdev_path, O_RDWR | O_CLOEXEC);
	if (d.cdev_fd < 0) {
		logmsg("open %s: %s", d.cdev_path, strerror(errno));
		goto out;
	}
	if (setup_queues(&d))
		goto out;
	for (i = 0; i < d.nr_queues; i++) {
		ret = pthread_create(&d.queues[i].th, NULL, queue_thread, &d.queues[i]);
		if (ret) {
			logmsg("pthread_create: %s", strerror(ret));
			break;
		}
		d.queues[i].started = true;
		started++;
	}
	for (i = 0; i < started; i++)
		sem_wait(&d.ready);
	if (started != d.nr_queues || queues_fatal(&d)) {
		logmsg("queue setup failed");
		goto stop;
	}

	ret = UCTRL(&d, START_DEV, d.info.dev_id, NULL, 0, (uint64_t)getpid());
	if (ret) {
		logmsg("START_DEV: %s", strerror(-ret));
		goto stop;
	}
	snprintf(path, sizeof(path), "/dev/ublkb%u", d.info.dev_id);
	if (wait_path(path, 5000))
		logmsg("warning: %s did not appear (no devtmpfs/udev?)", path);
	logmsg("dev %u: %s, %" PRIu64 " bytes, %u queue(s) x %u, max IO %u, lbs %u, %s IO, "
	       "flags %#llx, %s opcodes, scope %s, %s device",
	       d.info.dev_id, o.file, d.dev_bytes, d.info.nr_hw_queues,
	       d.info.queue_depth, d.info.max_io_buf_bytes, lbs,
	       o.direct ? "direct" : "buffered", (unsigned long long)d.info.flags,
	       d.legacy ? "legacy" : "ioctl",
	       o.scope_mode == SCOPE_OFF ? "off" :
	       g_scope.feature ? "negotiated" : "not negotiated",
	       d.unpriv ? "unprivileged" : "privileged");
	printf("ublk-scope: %s ready\n", path);
	fflush(stdout);

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = d.evfd, .events = POLLIN },
		};

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			logmsg("poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGUSR1) {
				print_stats();
				continue;
			}
			logmsg("signal %u: stopping dev %u", si.ssi_signo, d.info.dev_id);
			break;
		}
		if (pfd[1].revents & POLLIN) {
			logmsg("a queue ended: device %u stopped or deleted elsewhere",
			       d.info.dev_id);
			break;
		}
	}
	rc = 0;
stop:
	/* STOP_DEV removes the disk (the queue threads keep serving while it
	 * drains) and aborts the outstanding fetches, which ends the threads. */
	ret = UCTRL(&d, STOP_DEV, d.info.dev_id, NULL, 0, 0);
	if (ret && ret != -ENODEV)
		logmsg("STOP_DEV: %s", strerror(-ret));
out:
	if (d.queues) {
		teardown_queues(&d);
		if (rc == 0 && queues_fatal(&d))
			rc = 1;
	}
	if (d.cdev_fd >= 0)
		close(d.cdev_fd);
	if (d.added) {
		ret = UCTRL(&d, DEL_DEV, d.info.dev_id, NULL, 0, 0);
		if (ret && ret != -ENODEV) {
			logmsg("DEL_DEV: %s%s", strerror(-ret), d.unpriv ?
			       " (an admin can remove it with 'ublk-scope del -n ID')" : "");
			rc = 1;
		}
	}
	ctrl_close(&d);
	io_bufs_free(&d.bufs);
	if (d.file_fd >= 0)
		close(d.file_fd);
	if (d.added)
		print_stats();
	if (sfd >= 0)
		close(sfd);
	if (d.evfd >= 0)
		close(d.evfd);
	return rc;
}

/* ------------------------------------------------------------- del, list */

static int cmd_del(int argc, char **argv)
{
	struct dev d = { .ctrl_fd = -1 };
	struct ublksrv_ctrl_dev_info info;
	long id = -1;
	char *end;
	int c, ret;

	while ((c = getopt(argc, argv, "n:h")) != -1) {
		switch (c) {
		case 'n': id = strtol(optarg, &end, 0); if (*end || id < 0) goto bad; break;
		case 'h': usage(stdout); return 0;
		default: goto bad;
		}
	}
	if (id < 0 || optind != argc)
		goto bad;
	if (ctrl_open(&d))
		return 1;
	ret = ctrl_get_info(&d, id, &info);
	if (ret) {
		logmsg("dev %ld: %s", id, strerror(-ret));
		ctrl_close(&d);
		return 1;
	}
	ret = UCTRL(&d, STOP_DEV, id, NULL, 0, 0);
	if (ret)
		logmsg("STOP_DEV %ld: %s", id, strerror(-ret));
	ret = UCTRL(&d, DEL_DEV, id, NULL, 0, 0);
	if (ret && ret != -ENODEV)
		logmsg("DEL_DEV %ld: %s", id, strerror(-ret));
	ctrl_close(&d);
	return ret && ret != -ENODEV ? 1 : 0;
bad:
	usage(stderr);
	return 2;
}

static int cmd_list(void)
{
	struct dev d = { .ctrl_fd = -1 };
	struct dirent *de;
	DIR *dir;
	unsigned id;
	int n = 0;

	dir = opendir("/sys/class/ublk-char");
	if (!dir) {
		logmsg("/sys/class/ublk-char: %s", strerror(errno));
		return 1;
	}
	if (ctrl_open(&d)) {
		closedir(dir);
		return 1;
	}
	while ((de = readdir(dir))) {
		struct ublksrv_ctrl_dev_info info;
		static const char *states[] = { "DEAD", "LIVE", "QUIESCED" };
		int ret;

		if (sscanf(de->d_name, "ublkc%u", &id) != 1)
			continue;
		ret = ctrl_get_info(&d, id, &info);
		if (ret) {
			printf("dev_id=%u error=%s\n", id, strerror(-ret));
			continue;
		}
		printf("dev_id=%u state=%s queues=%u depth=%u max_io=%u flags=%#llx "
		       "scope=%s pid=%d block=/dev/ublkb%u unprivileged=%s owner=%u:%u\n",
		       info.dev_id, info.state < 3 ? states[info.state] : "?",
		       info.nr_hw_queues, info.queue_depth, info.max_io_buf_bytes,
		       (unsigned long long)info.flags,
		       info.flags & UBLK_F_MEMALLOC_SCOPE ? "yes" : "no",
		       info.ublksrv_pid, info.dev_id,
		       info.flags & UBLK_F_UNPRIVILEGED_DEV ? "yes" : "no",
		       info.owner_uid, info.owner_gid);
		n++;
	}
	closedir(dir);
	ctrl_close(&d);
	if (!n)
		printf("no ublk devices\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "add"))
		return cmd_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "del"))
		return cmd_del(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return cmd_list();
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
