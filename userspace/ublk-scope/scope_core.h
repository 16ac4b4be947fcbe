/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scope_core.h - the pure (no io_uring, no device) logic of ublk-scope, kept
 * apart so that the host unit tests can exercise it:
 *
 *   - mapping of the IO descriptor's scope bits to per-IO RWF flags;
 *   - the run-wide fallback state machine for kernels that lack RWF scope
 *     flags or refuse RWF_LOCAL_THROTTLE;
 *   - ADD_DEV negotiation (ioctl vs legacy encoding, UBLK_F_MEMALLOC_SCOPE);
 *   - IO descriptor -> backing file range;
 *   - ublk_params from the backing file size;
 *   - "add" option parsing;
 *   - IO buffer sizing, allocation (prefaulted, locked) and the memcg check;
 *   - the unprivileged control-command buffer (char device path + payload).
 *
 * The state is shared by all queue threads; counters and flags are updated
 * with __atomic builtins.
 */
#ifndef UBLK_SCOPE_CORE_H
#define UBLK_SCOPE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ublk_uapi.h"
#include "bioscope_uapi.h"

#ifndef RWF_DSYNC
#define RWF_DSYNC 0x00000002
#endif

enum scope_mode {
	SCOPE_OFF = 0,
	SCOPE_AUTO = 1,
};

struct scope_stats {
	uint64_t ios;		/* every descriptor fetched */
	uint64_t reads, writes, flushes, discards, write_zeroes, other;
	uint64_t errors;	/* IOs committed with a negative result */
	uint64_t scope_nofs;	/* descriptors carrying UBLK_IO_F_SCOPE_NOFS */
	uint64_t scope_noio;	/* ... UBLK_IO_F_SCOPE_NOIO */
	uint64_t scope_wb;	/* ... UBLK_IO_F_SCOPE_WB */
	uint64_t rwf_scoped;	/* backing IOs submitted with scope RWF bits */
	uint64_t fallback_retries; /* backing IOs resubmitted with fewer bits */
	uint64_t short_retries;	/* short reads/writes continued */
};

typedef void (*scope_log_fn)(const char *msg);

struct scope_state {
	int mode;		/* enum scope_mode */
	bool feature;		/* UBLK_F_MEMALLOC_SCOPE negotiated */
	bool rwf_ok;		/* scope RWF bits still used on backing IO */
	bool throttle_ok;	/* RWF_LOCAL_THROTTLE still used */
	bool logged_rwf;	/* "kernel lacks RWF scope flags" printed */
	bool logged_throttle;	/* "RWF_LOCAL_THROTTLE refused" printed */
	uint32_t force_op_flags; /* testing: OR'ed into every READ/WRITE desc */
	scope_log_fn log;	/* NULL: stderr */
	struct scope_stats st;
};

/* Messages, exported so that tests and scripts can match them. */
#define MSG_NO_FEATURE	"kernel lacks UBLK_F_MEMALLOC_SCOPE; scopes off"
#define MSG_NO_RWF	"kernel lacks RWF scope flags; continuing without"
#define MSG_NO_THROTTLE	"RWF_LOCAL_THROTTLE refused (EPERM, needs CAP_SYS_RESOURCE); dropping only that flag"

void scope_init(struct scope_state *s, int mode, scope_log_fn log);
void scope_log(const struct scope_state *s, const char *msg);

/* op_flags with the testing-only forced scope bits OR'ed in (READ/WRITE). */
uint32_t scope_effective_op_flags(const struct scope_state *s, uint32_t op_flags);

/* Pure bit mapping: UBLK_IO_F_SCOPE_* in op_flags -> RWF_* scope bits. */
int scope_map_op_flags(uint32_t op_flags);

/*
 * The rw_flags for the backing read/write of a descriptor: the scope bits
 * (if mode is auto and the fallback has not disabled them) plus RWF_DSYNC
 * for a FUA write.
 */
int scope_rw_flags(struct scope_state *s, uint32_t op_flags);

/* Count one fetched descriptor in the statistics. */
void scope_account(struct scope_state *s, uint32_t op_flags);

enum scope_verdict {
	SCOPE_DONE = 0,		/* the result stands: commit it */
	SCOPE_RETRY = 1,	/* resubmit the IO with *rw_flags (now fewer bits) */
};

/*
 * Feed a backing read/write completion.  res is the CQE result, *rw_flags
 * the flags the IO was submitted with.  On -EINVAL/-EOPNOTSUPP with scope
 * bits: scope RWF is disabled for the rest of the run.  On -EPERM with
 * RWF_LOCAL_THROTTLE: only that bit is dropped for the rest of the run.
 * Either way the caller resubmits with the updated *rw_flags.
 */
enum scope_verdict scope_on_result(struct scope_state *s, int *rw_flags, int res);

/* Add-time negotiation of the feature flag and command encoding. */
struct add_plan {
	bool legacy;		/* legacy (non-ioctl) command opcodes */
	bool want_scope;	/* --scope auto */
	bool scope;		/* UBLK_F_MEMALLOC_SCOPE requested this attempt */
	bool unprivileged;	/* UBLK_F_UNPRIVILEGED_DEV requested */
};

void add_plan_init(struct add_plan *p, int mode, bool unprivileged);
/*
 * After an ADD_DEV attempt failed with res (< 0): true to retry with *p.
 * Order: ioctl+flag, ioctl, legacy+flag, legacy; only -EINVAL and
 * -EOPNOTSUPP (unknown flag or unknown opcode) lead to a retry.
 * Unprivileged: ioctl encoding only, and an -EPERM with the scope flag also
 * retries without it (a kernel may refuse the scope to unprivileged devices).
 */
bool add_plan_next(struct add_plan *p, int res);
/*
 * After ADD_DEV succeeded: was the scope feature negotiated?  The kernel
 * silently clears flags it does not know (6.12 masks with UBLK_F_ALL), so
 * the returned flags are the authority.
 */
bool add_plan_feature(const struct add_plan *p, uint64_t returned_flags);

/*
 * IO descriptor -> backing file byte range.  dev_bytes is the exported
 * size, buf_bytes the per-tag buffer (READ/WRITE must fit).  Returns 0 or
 * -EIO (beyond the device) / -EINVAL (empty or larger than the buffer).
 */
int iod_file_range(const struct ublksrv_io_desc *iod, uint64_t dev_bytes,
		   uint32_t buf_bytes, uint64_t *off, uint64_t *len);

/*
 * ublk_params for a backing file of file_size bytes: logical block lbs
 * (512..4096, power of two), physical 4096, io_min = lbs, io_opt = 4096,
 * max_sectors from max_io_bytes, volatile cache + FUA, discard and
 * write-zeroes when discard is true.  Returns 0 or -EINVAL.
 */
int compute_params(uint64_t file_size, uint32_t max_io_bytes, uint32_t lbs,
		   bool discard, struct ublk_params *p);

/* "nofs,noio,wb" -> UBLK_IO_F_SCOPE_* bits; -1 on a bad word. */
int64_t parse_scope_list(const char *s);

/* ------------------------------------------------------- add options */

/*
 * Defaults: 1 queue x depth 8 x 512 KiB = 4 MiB of IO buffers.  A 1 MiB IO
 * is served as two 512 KiB requests, both in flight at once.  (64 x 512 KiB
 * = 32 MiB, the old default, was half of a 64M memcg.)
 */
#define DEF_QUEUES	1
#define DEF_DEPTH	8
#define DEF_MAX_IO	(512 * 1024)
#define MAX_MAX_IO	(32U << 20)
/* IO buffers are never larger than this, whatever the options say */
#define MAX_IO_BUF_TOTAL (1ULL << 30)

struct add_opts {
	const char *file;
	unsigned queues, depth;
	uint32_t max_io;
	bool direct;
	int scope_mode;		/* enum scope_mode */
	uint32_t dev_id;	/* UINT32_MAX: the kernel picks */
	uint32_t force;		/* --debug-force-scope bits */
	bool unprivileged;	/* --unprivileged: UBLK_F_UNPRIVILEGED_DEV */
	int verbose;
	bool help;
};

void add_opts_init(struct add_opts *o);
/*
 * Parse "add"'s options (argv[0] is the subcommand name and is skipped).
 * Returns 0, or -EINVAL with a one-line reason in err.  Resets getopt.
 */
int parse_add_opts(struct add_opts *o, int argc, char **argv, char *err, size_t errlen);
/* "4096", "512K", "512k", "1M", "1MiB", "2G" -> bytes; -EINVAL on garbage or overflow. */
int parse_size(const char *s, uint64_t *out);

/* ---------------------------------------------------------- IO buffers */

/*
 * Total IO buffer bytes: queues x depth x max_io.  -EINVAL if a factor is 0,
 * -E2BIG above MAX_IO_BUF_TOTAL (no overflow for any 32-bit inputs).
 */
int io_buf_total(unsigned queues, unsigned depth, uint32_t max_io, uint64_t *total);

struct io_bufs {
	char *base;
	size_t len;
	bool locked;		/* mlock() succeeded */
	int lock_err;		/* errno of the refused mlock(), else 0 */
};

typedef int (*lock_fn)(const void *addr, size_t len);
/*
 * mmap(MAP_POPULATE) len bytes of anonymous memory and pin it: mlock() (lock
 * is NULL) or the given function; if that fails with EPERM, ENOMEM or EAGAIN
 * (RLIMIT_MEMLOCK), touch every page instead and record lock_err.  Returns 0
 * or -errno (mmap failed, or the lock failed otherwise); nothing stays
 * mapped on failure.
 */
int io_bufs_alloc(struct io_bufs *b, size_t len, lock_fn lock);
void io_bufs_free(struct io_bufs *b);

/* "4 MiB", "512 KiB", "1536 B": exact when it divides, else one decimal. */
void fmt_bytes(char *buf, size_t len, uint64_t bytes);
/* "1 queue x depth 8 x max IO 512 KiB" */
void fmt_buf_geometry(char *buf, size_t len, unsigned queues, unsigned depth, uint32_t max_io);

/* -------------------------------------------------------------- memcg */

/*
 * The cgroup v2 path ("/a/b") from the text of /proc/self/cgroup (its
 * "0::PATH" line).  Returns 0, or -ENOENT without a v2 line.
 */
int cgroup_v2_path(const char *text, char *out, size_t outlen);
/*
 * The tightest memory.max of cgroup PATH under the v2 mount CGROOT and its
 * ancestors (a level without memory.max has no limit).  *limit is UINT64_MAX
 * when nothing limits; *where gets the memory.max file that set the limit.
 */
int memcg_limit(const char *cgroot, const char *path, uint64_t *limit,
		char *where, size_t wherelen);
/* IO buffers must stay below half of the memcg: the rest is for page cache. */
bool io_buf_fits_memcg(uint64_t total, uint64_t limit);

/* ----------------------------------------------------- unprivileged */

/*
 * For a UBLK_F_UNPRIVILEGED_DEV device every control command after ADD_DEV
 * carries the char device path in front of its payload: addr points to
 * "path\0" followed by the payload, len = dev_path_len + payload length,
 * dev_path_len = strlen(path) + 1 (drivers/block/ublk_drv.c:
 * ublk_ctrl_uring_cmd_permission(), which checks the path's permission and
 * then strips it).  The same holds for GET_DEV_INFO2 on any device.
 *
 * Build that buffer in out (outlen bytes); returns its total length or
 * -EINVAL (path empty, does not fit, or total above 65535).
 */
int ctrl_path_buf(char *out, size_t outlen, const char *path,
		  const void *payload, uint16_t payload_len, uint16_t *dev_path_len);

#endif /* UBLK_SCOPE_CORE_H */
