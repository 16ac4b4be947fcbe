// SPDX-License-Identifier: GPL-2.0
/*
 * ublk-scope - a small file-backed ublk server (like ublksrv's "loop"
 * target) that applies the memalloc scope the bioscope kernel puts in each
 * IO descriptor to the backing IO, per IO, through io_uring rw_flags.
 *
 *   ublk-scope add --file PATH [--queues N] [--depth N] [--buffered|--direct]
 *                  [--scope auto|off] [-n ID] [--max-io BYTES]
 *                  [--debug-force-scope nofs,noio,wb]
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
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "scope_core.h"

#define CTRL_DEV	"/dev/ublk-control"
#define DEF_DEPTH	64
#define DEF_MAX_IO	(512 * 1024)

#define UD_CMD		1ULL
#define UD_BACKING	2ULL
#define UD(tag, kind)	((uint64_t)(tag) | ((kind) << 16))
#define UD_TAG(ud)	((unsigned)((ud) & 0xffff))
#define UD_KIND(ud)	((ud) >> 16)

static struct scope_state g_scope;
static int g_verbose;

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

static int ctrl_cmd(struct dev *d, uint32_t op_ioctl, uint32_t op_legacy,
		    uint32_t dev_id, void *buf, uint16_t len, uint64_t data0)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ctrl_ring);
	struct io_uring_cqe *cqe;
	struct ublksrv_ctrl_cmd *c;
	int ret;

	if (!sqe)
		return -EBUSY;
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

	do {
		ret = io_uring_submit_and_wait(&d->ctrl_ring, 1);
	} while (ret == -EINTR);
	if (ret < 0)
		return ret;
	do {
		ret = io_uring_wait_cqe(&d->ctrl_ring, &cqe);
	} while (ret == -EINTR);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&d->ctrl_ring, cqe);
	return ret;
}

#define UCTRL(d, NAME, id, buf, len, data0) \
	ctrl_cmd((d), UBLK_U_CMD_##NAME, UBLK_CMD_##NAME, (id), (buf), (len), (data0))

/* GET_DEV_INFO, trying the ioctl encoding first (for del/list). */
static int ctrl_get_info(struct dev *d, uint32_t id, struct ublksrv_ctrl_dev_info *info)
{
	int ret;

	d->legacy = false;
	ret = UCTRL(d, GET_DEV_INFO, id, info, sizeof(*info), 0);
	if (ret == -EOPNOTSUPP) {
		d->legacy = true;
		ret = UCTRL(d, GET_DEV_INFO, id, info, sizeof(*info), 0);
		if (ret)
			d->legacy = false;
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
		ret = iod_file_range(&desc, q->d->dev_bytes, q->d->info.max_io_buf_bytes,
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
		ret = iod_file_range(&desc, q->d->dev_bytes, q->d->info.max_io_buf_bytes,
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
	       " feature=%s rwf_scope=%s local_throttle=%s\n",
	       s.ios, s.reads, s.writes, s.flushes, s.discards, s.write_zeroes,
	       s.other, s.errors, s.scope_nofs, s.scope_noio, s.scope_wb,
	       s.rwf_scoped, s.fallback_retries, s.short_retries,
	       g_scope.feature ? "yes" : "no",
	       g_scope.mode == SCOPE_OFF ? "off" :
	       __atomic_load_n(&g_scope.rwf_ok, __ATOMIC_RELAXED) ? "on" : "fallback",
	       __atomic_load_n(&g_scope.throttle_ok, __ATOMIC_RELAXED) ? "on" : "dropped");
	fflush(stdout);
}

/* ------------------------------------------------------------------ add */

struct add_opts {
	const char *file;
	unsigned queues, depth, max_io;
	bool direct;
	int scope_mode;
	uint32_t dev_id;
	uint32_t force;
};

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

	add_plan_init(&plan, o->scope_mode);
	for (;;) {
		memset(&d->info, 0, sizeof(d->info));
		d->info.nr_hw_queues = o->queues;
		d->info.queue_depth = o->depth;
		d->info.max_io_buf_bytes = o->max_io;
		d->info.dev_id = o->dev_id;
		d->info.flags = UBLK_F_CMD_IOCTL_ENCODE;
		if (plan.scope)
			d->info.flags |= UBLK_F_MEMALLOC_SCOPE;
		d->legacy = plan.legacy;
		ret = UCTRL(d, ADD_DEV, o->dev_id, &d->info, sizeof(d->info), 0);
		if (ret == 0)
			break;
		if (!add_plan_next(&plan, ret)) {
			logmsg("ADD_DEV: %s", strerror(-ret));
			return ret;
		}
		if (g_verbose)
			logmsg("ADD_DEV: %s; retrying (%s opcodes, scope flag %s)",
			       strerror(-ret), plan.legacy ? "legacy" : "ioctl",
			       plan.scope ? "on" : "off");
	}
	d->added = true;
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
		q->bufs_len = (size_t)q->depth * d->info.max_io_buf_bytes;
		q->bufs = mmap(NULL, q->bufs_len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q->bufs == MAP_FAILED) {
			q->bufs = NULL;
			logmsg("queue %d: IO buffers: %s", i, strerror(errno));
			return -ENOMEM;
		}
		q->tags = calloc(q->depth, sizeof(*q->tags));
		if (!q->tags)
			return -ENOMEM;
		for (t = 0; t < q->depth; t++)
			q->tags[t].buf = q->bufs + (size_t)t * d->info.max_io_buf_bytes;
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
		if (q->bufs)
			munmap(q->bufs, q->bufs_len);
		free(q->tags);
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
	fprintf(f,
"usage: ublk-scope add --file PATH [--queues N] [--depth N] [--buffered|--direct]\n"
"                      [--scope auto|off] [-n ID] [--max-io BYTES] [-v]\n"
"                      [--debug-force-scope nofs,noio,wb]\n"
"       ublk-scope del -n ID\n"
"       ublk-scope list\n"
"\n"
"  add   export PATH as /dev/ublkbN; stays in the foreground, prints\n"
"        'ublk-scope: /dev/ublkbN ready' on stdout once live; SIGTERM/SIGINT\n"
"        stop and delete the device; SIGUSR1 prints statistics.\n"
"        Defaults: 1 queue, depth %d, buffered IO, --scope auto, max IO %d KiB.\n"
"        --debug-force-scope ORs scope bits into every read/write descriptor\n"
"        (testing the RWF fallback on kernels that never send them).\n",
		DEF_DEPTH, DEF_MAX_IO / 1024);
}

static int cmd_add(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "queues", required_argument, NULL, 'q' },
		{ "depth", required_argument, NULL, 'd' },
		{ "buffered", no_argument, NULL, 'B' },
		{ "direct", no_argument, NULL, 'D' },
		{ "scope", required_argument, NULL, 's' },
		{ "number", required_argument, NULL, 'n' },
		{ "max-io", required_argument, NULL, 'm' },
		{ "debug-force-scope", required_argument, NULL, 'F' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct add_opts o = {
		.queues = 1, .depth = DEF_DEPTH, .max_io = DEF_MAX_IO,
		.direct = false, .scope_mode = SCOPE_AUTO, .dev_id = UINT32_MAX,
	};
	struct dev d = { .ctrl_fd = -1, .cdev_fd = -1, .file_fd = -1, .evfd = -1 };
	struct ublk_params params;
	char path[64];
	sigset_t sigs;
	int sfd = -1, ret, c, i, started = 0, rc = 1;
	bool discard;
	uint32_t lbs;
	int64_t bits;
	char *end;

	while ((c = getopt_long(argc, argv, "f:q:d:s:n:m:F:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'f': o.file = optarg; break;
		case 'q': o.queues = strtoul(optarg, &end, 0); if (*end) goto bad; break;
		case 'd': o.depth = strtoul(optarg, &end, 0); if (*end) goto bad; break;
		case 'm': o.max_io = strtoul(optarg, &end, 0); if (*end) goto bad; break;
		case 'n': o.dev_id = strtoul(optarg, &end, 0); if (*end) goto bad; break;
		case 'B': o.direct = false; break;
		case 'D': o.direct = true; break;
		case 's':
			if (!strcmp(optarg, "auto"))
				o.scope_mode = SCOPE_AUTO;
			else if (!strcmp(optarg, "off"))
				o.scope_mode = SCOPE_OFF;
			else
				goto bad;
			break;
		case 'F':
			bits = parse_scope_list(optarg);
			if (bits < 0)
				goto bad;
			o.force = (uint32_t)bits;
			break;
		case 'v': g_verbose++; break;
		case 'h': usage(stdout); return 0;
		default: goto bad;
		}
	}
	if (!o.file || optind != argc || !o.queues || o.queues > UBLK_MAX_NR_QUEUES ||
	    !o.depth || o.depth > UBLK_MAX_QUEUE_DEPTH ||
	    o.max_io < 4096 || o.max_io > (32U << 20) || (o.max_io & 4095))
		goto bad;

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
	if (ctrl_open(&d))
		goto out;
	if (do_add_dev(&d, &o))
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

	snprintf(path, sizeof(path), "/dev/ublkc%u", d.info.dev_id);
	if (wait_path(path, 3000)) {
		logmsg("%s did not appear", path);
		goto out;
	}
	d.cdev_fd = open(path, O_RDWR | O_CLOEXEC);
	if (d.cdev_fd < 0) {
		logmsg("open %s: %s", path, strerror(errno));
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
	       "flags %#llx, %s opcodes, scope %s",
	       d.info.dev_id, o.file, d.dev_bytes, d.info.nr_hw_queues,
	       d.info.queue_depth, d.info.max_io_buf_bytes, lbs,
	       o.direct ? "direct" : "buffered", (unsigned long long)d.info.flags,
	       d.legacy ? "legacy" : "ioctl",
	       o.scope_mode == SCOPE_OFF ? "off" :
	       g_scope.feature ? "negotiated" : "not negotiated");
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
			logmsg("DEL_DEV: %s", strerror(-ret));
			rc = 1;
		}
	}
	ctrl_close(&d);
	if (d.file_fd >= 0)
		close(d.file_fd);
	if (d.added)
		print_stats();
	if (sfd >= 0)
		close(sfd);
	if (d.evfd >= 0)
		close(d.evfd);
	return rc;
bad:
	usage(stderr);
	return 2;
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
		       "scope=%s pid=%d block=/dev/ublkb%u\n",
		       info.dev_id, info.state < 3 ? states[info.state] : "?",
		       info.nr_hw_queues, info.queue_depth, info.max_io_buf_bytes,
		       (unsigned long long)info.flags,
		       info.flags & UBLK_F_MEMALLOC_SCOPE ? "yes" : "no",
		       info.ublksrv_pid, info.dev_id);
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
