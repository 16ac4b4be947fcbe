// SPDX-License-Identifier: GPL-2.0
/*
 * scope_core.c - pure logic of ublk-scope (see scope_core.h).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scope_core.h"
#include "../include/ilog2.h"

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define XCHG(p, v)	__atomic_exchange_n((p), (v), __ATOMIC_RELAXED)
#define INC(p)		__atomic_fetch_add((p), 1, __ATOMIC_RELAXED)

void scope_init(struct scope_state *s, int mode, scope_log_fn log)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->rwf_ok = true;
	s->throttle_ok = true;
	s->log = log;
}

void scope_log(const struct scope_state *s, const char *msg)
{
	if (s->log)
		s->log(msg);
	else
		fprintf(stderr, "ublk-scope: %s\n", msg);
}

uint32_t scope_effective_op_flags(const struct scope_state *s, uint32_t op_flags)
{
	uint8_t op = op_flags & 0xff;

	if (op == UBLK_IO_OP_READ || op == UBLK_IO_OP_WRITE)
		return op_flags | s->force_op_flags;
	return op_flags;
}

int scope_map_op_flags(uint32_t op_flags)
{
	int rwf = 0;

	if (op_flags & UBLK_IO_F_SCOPE_NOIO)
		rwf |= RWF_MEMALLOC_NOIO;
	if (op_flags & UBLK_IO_F_SCOPE_NOFS)
		rwf |= RWF_MEMALLOC_NOFS;
	if (op_flags & UBLK_IO_F_SCOPE_WB)
		rwf |= RWF_LOCAL_THROTTLE;
	return rwf;
}

int scope_rw_flags(struct scope_state *s, uint32_t op_flags)
{
	uint8_t op = op_flags & 0xff;
	int rwf = 0;

	if (op != UBLK_IO_OP_READ && op != UBLK_IO_OP_WRITE)
		return 0;
	if (s->mode == SCOPE_AUTO && LOAD(&s->rwf_ok)) {
		rwf = scope_map_op_flags(op_flags);
		if (!LOAD(&s->throttle_ok))
			rwf &= ~RWF_LOCAL_THROTTLE;
	}
	if (rwf & RWF_SCOPE_MASK)
		INC(&s->st.rwf_scoped);
	if (op == UBLK_IO_OP_WRITE && (op_flags & UBLK_IO_F_FUA))
		rwf |= RWF_DSYNC;
	return rwf;
}

void scope_account(struct scope_state *s, uint32_t op_flags)
{
	INC(&s->st.ios);
	switch (op_flags & 0xff) {
	case UBLK_IO_OP_READ:		INC(&s->st.reads); break;
	case UBLK_IO_OP_WRITE:		INC(&s->st.writes); break;
	case UBLK_IO_OP_FLUSH:		INC(&s->st.flushes); break;
	case UBLK_IO_OP_DISCARD:	INC(&s->st.discards); break;
	case UBLK_IO_OP_WRITE_ZEROES:	INC(&s->st.write_zeroes); break;
	default:			INC(&s->st.other); break;
	}
	if (op_flags & UBLK_IO_F_SCOPE_NOFS)
		INC(&s->st.scope_nofs);
	if (op_flags & UBLK_IO_F_SCOPE_NOIO)
		INC(&s->st.scope_noio);
	if (op_flags & UBLK_IO_F_SCOPE_WB)
		INC(&s->st.scope_wb);
}

enum scope_verdict scope_on_result(struct scope_state *s, int *rw_flags, int res)
{
	if (res >= 0)
		return SCOPE_DONE;

	if ((res == -EINVAL || res == -EOPNOTSUPP) && (*rw_flags & RWF_SCOPE_MASK)) {
		STORE(&s->rwf_ok, false);
		if (!XCHG(&s->logged_rwf, true))
			scope_log(s, MSG_NO_RWF);
		*rw_flags &= ~RWF_SCOPE_MASK;
		INC(&s->st.fallback_retries);
		return SCOPE_RETRY;
	}
	if (res == -EPERM && (*rw_flags & RWF_LOCAL_THROTTLE)) {
		STORE(&s->throttle_ok, false);
		if (!XCHG(&s->logged_throttle, true))
			scope_log(s, MSG_NO_THROTTLE);
		*rw_flags &= ~RWF_LOCAL_THROTTLE;
		INC(&s->st.fallback_retries);
		return SCOPE_RETRY;
	}
	return SCOPE_DONE;
}

void add_plan_init(struct add_plan *p, int mode, bool unprivileged)
{
	p->legacy = false;
	p->want_scope = (mode == SCOPE_AUTO);
	p->scope = p->want_scope;
	p->unprivileged = unprivileged;
}

bool add_plan_next(struct add_plan *p, int res)
{
	/* an unprivileged device may be refused the scope feature */
	if (p->unprivileged && res == -EPERM && p->scope) {
		p->scope = false;
		return true;
	}
	/* only "unknown flag / unknown command" errors are worth a retry */
	if (res != -EINVAL && res != -EOPNOTSUPP)
		return false;
	if (p->scope) {			/* same encoding, without the flag */
		p->scope = false;
		return true;
	}
	/* unprivileged control commands need the ioctl encoding */
	if (!p->legacy && !p->unprivileged) {	/* legacy encoding, flag again */
		p->legacy = true;
		p->scope = p->want_scope;
		return true;
	}
	return false;
}

bool add_plan_feature(const struct add_plan *p, uint64_t returned_flags)
{
	return p->scope && (returned_flags & UBLK_F_MEMALLOC_SCOPE);
}

int iod_file_range(const struct ublksrv_io_desc *iod, uint64_t dev_bytes,
		   uint32_t buf_bytes, uint64_t *off, uint64_t *len)
{
	uint64_t dev_sectors = dev_bytes >> 9;
	uint64_t start = iod->start_sector;
	uint32_t nr = iod->nr_sectors;
	uint8_t op = iod->op_flags & 0xff;

	if (nr == 0)
		return -EINVAL;
	if (start >= dev_sectors || nr > dev_sectors - start)
		return -EIO;
	*off = start << 9;
	*len = (uint64_t)nr << 9;
	if ((op == UBLK_IO_OP_READ || op == UBLK_IO_OP_WRITE) && *len > buf_bytes)
		return -EINVAL;
	return 0;
}

int compute_params(uint64_t file_size, uint32_t max_io_bytes, uint32_t lbs,
		   bool discard, struct ublk_params *p)
{
	uint64_t size;
	int lshift;

	if (lbs < 512 || lbs > 4096 || (lbs & (lbs - 1)))
		return -EINVAL;
	if (max_io_bytes < 4096 || (max_io_bytes & 4095))
		return -EINVAL;
	size = file_size & ~(uint64_t)(lbs - 1);
	if (size == 0)
		return -EINVAL;
	lshift = ilog2_u64(lbs);

	memset(p, 0, sizeof(*p));
	p->len = sizeof(*p);
	p->types = UBLK_PARAM_TYPE_BASIC;
	p->basic.attrs = UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA;
	p->basic.logical_bs_shift = lshift;
	p->basic.physical_bs_shift = lshift > 12 ? lshift : 12;
	p->basic.io_min_shift = lshift;
	p->basic.io_opt_shift = lshift > 12 ? lshift : 12;
	p->basic.max_sectors = max_io_bytes >> 9;
	p->basic.dev_sectors = size >> 9;

	if (discard) {
		p->types |= UBLK_PARAM_TYPE_DISCARD;
		p->discard.discard_alignment = 0;
		p->discard.discard_granularity = lbs > 4096 ? lbs : 4096;
		p->discard.max_discard_sectors = UINT32_MAX >> 9;
		p->discard.max_write_zeroes_sectors = UINT32_MAX >> 9;
		p->discard.max_discard_segments = 1;
	}
	return 0;
}

int64_t parse_scope_list(const char *s)
{
	int64_t bits = 0;
	const char *p = s;

	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 4 && !strncmp(p, "nofs", 4))
			bits |= UBLK_IO_F_SCOPE_NOFS;
		else if (n == 4 && !strncmp(p, "noio", 4))
			bits |= UBLK_IO_F_SCOPE_NOIO;
		else if (n == 2 && !strncmp(p, "wb", 2))
			bits |= UBLK_IO_F_SCOPE_WB;
		else if (n == 4 && !strncmp(p, "none", 4))
			;
		else
			return -1;
		p += n;
		if (*p == ',')
			p++;
	}
	return bits;
}

/* ------------------------------------------------------- add options */

void add_opts_init(struct add_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->queues = DEF_QUEUES;
	o->depth = DEF_DEPTH;
	o->max_io = DEF_MAX_IO;
	o->direct = false;
	o->scope_mode = SCOPE_AUTO;
	o->dev_id = UINT32_MAX;
}

int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	uint64_t mul = 1;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': mul = 1ULL << 10; end++; break;
	case 'm': case 'M': mul = 1ULL << 20; end++; break;
	case 'g': case 'G': mul = 1ULL << 30; end++; break;
	}
	if (mul > 1 && !strcmp(end, "iB"))
		end += 2;
	if (*end)
		return -EINVAL;
	if (v > UINT64_MAX / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

#define ERR(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)

int parse_add_opts(struct add_opts *o, int argc, char **argv, char *err, size_t errlen)
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
		{ "unprivileged", no_argument, NULL, 'U' },
		{ "debug-force-scope", required_argument, NULL, 'F' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	uint64_t sz, total;
	int64_t bits;
	int c, ret;

	add_opts_init(o);
	if (errlen)
		err[0] = 0;
	optind = 0;		/* GNU: full reinitialisation, so tests can call us again */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:q:d:s:n:m:F:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'f': o->file = optarg; break;
		case 'q':
			if (parse_uint(optarg, UBLK_MAX_NR_QUEUES, &v) || !v)
				ERR("--queues wants 1..%u, not '%s'", UBLK_MAX_NR_QUEUES, optarg);
			o->queues = v;
			break;
		case 'd':
			if (parse_uint(optarg, UBLK_MAX_QUEUE_DEPTH, &v) || !v)
				ERR("--depth wants 1..%u, not '%s'", UBLK_MAX_QUEUE_DEPTH, optarg);
			o->depth = v;
			break;
		case 'm':
			if (parse_size(optarg, &sz) || sz < 4096 || sz > MAX_MAX_IO || (sz & 4095))
				ERR("--max-io wants a multiple of 4 KiB from 4K to %uM, not '%s'",
				    MAX_MAX_IO >> 20, optarg);
			o->max_io = (uint32_t)sz;
			break;
		case 'n':
			if (parse_uint(optarg, UINT32_MAX - 1, &v))
				ERR("-n wants a device number, not '%s'", optarg);
			o->dev_id = v;
			break;
		case 'B': o->direct = false; break;
		case 'D': o->direct = true; break;
		case 's':
			if (!strcmp(optarg, "auto"))
				o->scope_mode = SCOPE_AUTO;
			else if (!strcmp(optarg, "off"))
				o->scope_mode = SCOPE_OFF;
			else
				ERR("--scope wants auto or off, not '%s'", optarg);
			break;
		case 'U': o->unprivileged = true; break;
		case 'F':
			bits = parse_scope_list(optarg);
			if (bits < 0)
				ERR("--debug-force-scope wants nofs,noio,wb, not '%s'", optarg);
			o->force = (uint32_t)bits;
			break;
		case 'v': o->verbose++; break;
		case 'h': o->help = true; return 0;
		case ':': ERR("%s needs an argument", argv[optind - 1]);
		default:
			if (!strncmp(argv[optind - 1], "--", 2))	/* unknown, or =ARG on a flag */
				ERR("bad option %s", argv[optind - 1]);
			ERR("unknown option -%c", optopt);
		}
	}
	if (optind != argc)
		ERR("unexpected argument '%s'", argv[optind]);
	if (!o->file)
		ERR("--file PATH is required");
	ret = io_buf_total(o->queues, o->depth, o->max_io, &total);
	if (ret)
		ERR("IO buffers of %u queue(s) x depth %u x max IO %u bytes exceed %llu MiB",
		    o->queues, o->depth, o->max_io, MAX_IO_BUF_TOTAL >> 20);
	return 0;
}

#undef ERR

/* ---------------------------------------------------------- IO buffers */

int io_buf_total(unsigned queues, unsigned depth, uint32_t max_io, uint64_t *total)
{
	uint64_t per_queue, t;

	if (!queues || !depth || !max_io)
		return -EINVAL;
	per_queue = (uint64_t)depth * max_io;		/* < 2^64: 32 x 32 bits */
	if (per_queue > MAX_IO_BUF_TOTAL || queues > MAX_IO_BUF_TOTAL / per_queue)
		return -E2BIG;
	t = per_queue * queues;
	if (t > MAX_IO_BUF_TOTAL)
		return -E2BIG;
	*total = t;
	return 0;
}

static int do_mlock(const void *addr, size_t len)
{
	return mlock(addr, len);
}

int io_bufs_alloc(struct io_bufs *b, size_t len, lock_fn lock)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *p;
	size_t off;

	memset(b, 0, sizeof(*b));
	if (!len)
		return -EINVAL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	if (!lock)
		lock = do_mlock;
	if (lock(p, len) == 0) {
		b->locked = true;
	} else {
		int e = errno;

		if (e != EPERM && e != ENOMEM && e != EAGAIN) {
			munmap(p, len);
			return -e;
		}
		b->lock_err = e;
		/* MAP_POPULATE is best effort: make sure every page is there */
		for (off = 0; off < len; off += pg)
			((volatile char *)p)[off] = 0;
	}
	b->base = p;
	b->len = len;
	return 0;
}

void io_bufs_free(struct io_bufs *b)
{
	if (b->base)
		munmap(b->base, b->len);	/* also unlocks */
	memset(b, 0, sizeof(*b));
}

void fmt_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (u < 4 && bytes >= (1ULL << (10 * (u + 1))))
		u++;
	if (u == 0 || !(bytes & ((1ULL << (10 * u)) - 1)))
		snprintf(buf, len, "%llu %s", (unsigned long long)(bytes >> (10 * u)), units[u]);
	else
		snprintf(buf, len, "%.1f %s", (double)bytes / (double)(1ULL << (10 * u)), units[u]);
}

void fmt_buf_geometry(char *buf, size_t len, unsigned queues, unsigned depth, uint32_t max_io)
{
	char m[32];

	fmt_bytes(m, sizeof(m), max_io);
	snprintf(buf, len, "%u queue%s x depth %u x max IO %s",
		 queues, queues == 1 ? "" : "s", depth, m);
}

/* -------------------------------------------------------------- memcg */

int cgroup_v2_path(const char *text, char *out, size_t outlen)
{
	const char *l = text;

	while (l && *l) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);

		if (n >= 3 && !strncmp(l, "0::", 3)) {
			if (n - 3 + 1 > outlen || n == 3)
				return -EINVAL;
			memcpy(out, l + 3, n - 3);
			out[n - 3] = 0;
			return 0;
		}
		l = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

/* memory.max: "max" -> UINT64_MAX; a number -> bytes; 1 if absent */
static int read_memory_max(const char *file, uint64_t *v)
{
	char buf[64];
	FILE *f = fopen(file, "re");
	char *end;
	size_t n;

	if (!f)
		return errno == ENOENT ? 1 : -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	if (!strcmp(buf, "max")) {
		*v = UINT64_MAX;
		return 0;
	}
	errno = 0;
	*v = strtoull(buf, &end, 10);
	if (errno || end == buf || *end)
		return -EINVAL;
	return 0;
}

int memcg_limit(const char *cgroot, const char *path, uint64_t *limit,
		char *where, size_t wherelen)
{
	char cur[PATH_MAX], file[PATH_MAX + 32];
	uint64_t v = UINT64_MAX;
	char *slash;
	int ret;

	*limit = UINT64_MAX;
	if (wherelen)
		where[0] = 0;
	if (snprintf(cur, sizeof(cur), "%s", path) >= (int)sizeof(cur))
		return -ENAMETOOLONG;
	/* drop trailing slashes ("/" itself becomes "") */
	while (*cur && cur[strlen(cur) - 1] == '/')
		cur[strlen(cur) - 1] = 0;
	while (*cur) {
		snprintf(file, sizeof(file), "%s%s%s/memory.max", cgroot,
			 cur[0] == '/' ? "" : "/", cur);
		ret = read_memory_max(file, &v);
		if (ret < 0)
			return ret;
		if (ret == 0 && v < *limit) {
			*limit = v;
			if (wherelen)
				snprintf(where, wherelen, "%s", file);
		}
		slash = strrchr(cur, '/');
		if (!slash)
			break;
		*slash = 0;
	}
	return 0;
}

bool io_buf_fits_memcg(uint64_t total, uint64_t limit)
{
	/*
	 * Strictly below half: 32 MiB of buffers in a 64M memcg (exactly half)
	 * is the setup that was OOM-killed.
	 */
	return limit == UINT64_MAX || total < limit / 2;
}

/* ----------------------------------------------------- unprivileged */

int ctrl_path_buf(char *out, size_t outlen, const char *path,
		  const void *payload, uint16_t payload_len, uint16_t *dev_path_len)
{
	size_t pl = path ? strlen(path) + 1 : 0;
	size_t total = pl + payload_len;

	if (pl < 2 || total > outlen || total > UINT16_MAX)
		return -EINVAL;
	memcpy(out, path, pl);
	if (payload_len)
		memcpy(out + pl, payload, payload_len);
	*dev_path_len = (uint16_t)pl;
	return (int)total;
}
