/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory allocation scope carried by bios.
 *
 * A bio records the memalloc scope of the context that issued it in three
 * bi_opf bits (REQ_SCOPE_NOFS, REQ_SCOPE_NOIO, REQ_SCOPE_WB, defined in
 * <linux/blk_types.h>).  A servicer that executes the IO in another context
 * (loop worker, dm-zoned worker, tcmu/ublk server) adopts that scope for the
 * duration of the command with bio_scope_adopt()/bio_scope_restore() instead
 * of running every command under a blanket PF_MEMALLOC_NOIO.
 *
 * Encoding: the levels are ordered, none < NOFS < NOIO, and NOIO implies NOFS,
 * so the NOIO level is REQ_SCOPE_NOFS | REQ_SCOPE_NOIO.  The union of two
 * scopes (bitwise OR) is therefore their maximum, which is what a merge,
 * chain or stacking needs.  REQ_SCOPE_WB is orthogonal: the IO is writeback
 * or reclaim critical and others wait on it.  It follows the IO's origin
 * (writeback, swap, reclaim) like NOFS/NOIO.
 *
 * Throttling is different: it follows the servicer's role, not the IO.  A
 * servicer must never wait on the global dirty limit while it serves a
 * device, whatever command it serves (a plain read at the head of a queue
 * holds up the writeback behind it) and whatever path dirties the page
 * (write(), a write fault on a shared mapping, an io-wq worker).  So an
 * adopter serves every command with PF_LOCAL_THROTTLE, and the tasks of a
 * userspace server the kernel vouches for are throttled locally while
 * their device has commands outstanding (bio_scope_local_throttle()).
 *
 * See Documentation/block/bio-scope.rst.
 */
#ifndef _LINUX_BIO_SCOPE_H
#define _LINUX_BIO_SCOPE_H

#include <linux/blk_types.h>
#include <linux/gfp_types.h>
#include <linux/jump_label.h>
#include <linux/sched.h>

struct gendisk;
struct request;
struct dentry;

/* The scope levels, as bi_opf bits. */
#define BIO_SCOPE_NONE		((__force blk_opf_t)0)
#define BIO_SCOPE_NOFS		REQ_SCOPE_NOFS
#define BIO_SCOPE_NOIO		(REQ_SCOPE_NOFS | REQ_SCOPE_NOIO)
#define BIO_SCOPE_WB		REQ_SCOPE_WB

/*
 * Task flags that carry a scope: the capture fast path tests only these.
 * PF_LOCAL_THROTTLE is a servicer's role, not an origin: it is not captured.
 */
#define BIO_SCOPE_PF_MASK	(PF_MEMALLOC_NOFS | PF_MEMALLOC_NOIO | \
				 PF_MEMALLOC | PF_KSWAPD)
/* Task flags an adopter may set (and restore). */
#define BIO_SCOPE_PF_ADOPT	(PF_MEMALLOC_NOFS | PF_MEMALLOC_NOIO | \
				 PF_LOCAL_THROTTLE)

/**
 * enum bio_scope_mode - how servicers apply a carried scope
 * @BIO_SCOPE_OFF: no scope is captured (global) or applied (adopter).
 * @BIO_SCOPE_BLANKET: every command is served under PF_MEMALLOC_NOIO |
 *	PF_LOCAL_THROTTLE, whatever its scope (the loop driver's behaviour
 *	before bio scopes).
 * @BIO_SCOPE_SCOPED: every command is served under its own NOFS/NOIO scope,
 *	and with PF_LOCAL_THROTTLE: throttling follows the servicer's role.
 * @BIO_SCOPE_NR_MODES: number of modes.
 * @BIO_SCOPE_INHERIT: adopter override only: use the global mode.
 */
enum bio_scope_mode {
	BIO_SCOPE_OFF,
	BIO_SCOPE_BLANKET,
	BIO_SCOPE_SCOPED,
	BIO_SCOPE_NR_MODES,
	BIO_SCOPE_INHERIT = BIO_SCOPE_NR_MODES,
};

/**
 * enum bio_scope_source - where a bio's scope was stamped (for tracing)
 * @BIO_SCOPE_SRC_TASK: submit_bio() from a task in a NOFS/NOIO section.
 * @BIO_SCOPE_SRC_RECLAIM: submit_bio() from reclaim (PF_MEMALLOC, kswapd).
 * @BIO_SCOPE_SRC_SWAP: swap writeout.
 * @BIO_SCOPE_SRC_WRITEBACK: writeback bio (wbc_init_bio()).
 * @BIO_SCOPE_SRC_IOMAP: iomap direct IO bio.
 * @BIO_SCOPE_SRC_CHAIN: inherited from a parent by bio_chain().
 */
enum bio_scope_source {
	BIO_SCOPE_SRC_TASK,
	BIO_SCOPE_SRC_RECLAIM,
	BIO_SCOPE_SRC_SWAP,
	BIO_SCOPE_SRC_WRITEBACK,
	BIO_SCOPE_SRC_IOMAP,
	BIO_SCOPE_SRC_CHAIN,
};

/**
 * enum bio_scope_recursion - what the recursion detector counts
 * @BIO_SCOPE_REC_SHRINKER: a serving task entered a shrinker with __GFP_FS.
 * @BIO_SCOPE_REC_WRITEBACK_WAIT: a serving task waited in reclaim for a
 *	folio under writeback.
 * @BIO_SCOPE_REC_RECLAIM_THROTTLE: a serving task slept in reclaim_throttle().
 * @BIO_SCOPE_REC_DIRTY_THROTTLE: a serving task slept in
 *	balance_dirty_pages() while not throttled locally, i.e. against the
 *	global dirty limit.
 * @BIO_SCOPE_REC_NR: number of kinds.
 */
enum bio_scope_recursion {
	BIO_SCOPE_REC_SHRINKER,
	BIO_SCOPE_REC_WRITEBACK_WAIT,
	BIO_SCOPE_REC_RECLAIM_THROTTLE,
	BIO_SCOPE_REC_DIRTY_THROTTLE,
	BIO_SCOPE_REC_NR,
};

/**
 * enum bio_scope_stat - per-adopter counters
 * @BIO_SCOPE_STAT_SERVED: commands served (bio_scope_adopt() calls).
 * @BIO_SCOPE_STAT_NOFS: commands served under an adopted NOFS scope.
 * @BIO_SCOPE_STAT_NOIO: commands served under an adopted NOIO scope.
 * @BIO_SCOPE_STAT_WB: commands served under an adopted WB scope.
 * @BIO_SCOPE_STAT_BLANKET: commands served under the blanket mode.
 * @BIO_SCOPE_STAT_REC_FIRST: first recursion counter, one per
 *	enum bio_scope_recursion.
 * @BIO_SCOPE_STAT_NR: number of counters.
 */
enum bio_scope_stat {
	BIO_SCOPE_STAT_SERVED,
	BIO_SCOPE_STAT_NOFS,
	BIO_SCOPE_STAT_NOIO,
	BIO_SCOPE_STAT_WB,
	BIO_SCOPE_STAT_BLANKET,
	BIO_SCOPE_STAT_REC_FIRST,
	BIO_SCOPE_STAT_NR = BIO_SCOPE_STAT_REC_FIRST + BIO_SCOPE_REC_NR,
};

struct bio_scope_stats {
	u64 count[BIO_SCOPE_STAT_NR];
};

/**
 * struct bio_scope_adopter - a servicer that adopts bio scopes
 * @name: unique name, also the debugfs directory name.
 * @mode: per-adopter mode override (enum bio_scope_mode), BIO_SCOPE_INHERIT
 *	to follow the global mode.  Set before registration or via debugfs.
 * @stats: per-cpu counters, allocated by bio_scope_adopter_register().
 * @list: on the list of registered adopters.
 * @debugfs: the adopter's debugfs directory.
 * @declared: the thread group that declared with bio_scope_declare(), or NULL
 * @declared_exec_id: the self_exec_id of the task that declared
 *
 * Only @name (and optionally @mode) are set by the owner; a statically
 * allocated instance may be initialised with BIO_SCOPE_ADOPTER_INIT().
 */
struct bio_scope_adopter {
	const char *name;
	int mode;
	struct bio_scope_stats __percpu *stats;
	struct list_head list;
	struct dentry *debugfs;
	struct pid *declared;
	u64 declared_exec_id;
};

#define BIO_SCOPE_ADOPTER_INIT(_name) {			\
	.name = (_name),					\
	.mode = BIO_SCOPE_INHERIT,				\
}

/**
 * bio_scope_from_task - the bio scope implied by task flags
 * @flags: task flags (current->flags)
 *
 * PF_MEMALLOC_NOIO gives NOIO, PF_MEMALLOC_NOFS gives NOFS, reclaim
 * (PF_MEMALLOC, PF_KSWAPD) gives NOIO and WB.  PF_LOCAL_THROTTLE gives
 * nothing: it is the role of the task, not the origin of its IO.
 *
 * Return: the union of the scopes implied by @flags.
 */
static inline blk_opf_t bio_scope_from_task(unsigned int flags)
{
	blk_opf_t scope = BIO_SCOPE_NONE;

	if (flags & PF_MEMALLOC_NOFS)
		scope |= BIO_SCOPE_NOFS;
	if (flags & PF_MEMALLOC_NOIO)
		scope |= BIO_SCOPE_NOIO;
	if (flags & (PF_MEMALLOC | PF_KSWAPD))
		scope |= BIO_SCOPE_NOIO | BIO_SCOPE_WB;
	return scope;
}

/**
 * bio_scope_to_pflags - the task flags that apply a bio scope
 * @scope: bi_opf or cmd_flags; only the REQ_SCOPE_* bits are looked at
 *
 * REQ_SCOPE_WB maps to nothing: a servicer's exemption from global dirty
 * throttling comes with its role (bio_scope_adopt()), not with the IO.
 *
 * Return: PF_MEMALLOC_NOIO for the NOIO level, PF_MEMALLOC_NOFS for the
 * NOFS level, 0 otherwise.
 */
static inline unsigned int bio_scope_to_pflags(blk_opf_t scope)
{
	if (scope & REQ_SCOPE_NOIO)
		return PF_MEMALLOC_NOIO;
	if (scope & REQ_SCOPE_NOFS)
		return PF_MEMALLOC_NOFS;
	return 0;
}

/**
 * bio_scope_encode - encode a scope in a servicer's own three flag bits
 * @scope: bi_opf or cmd_flags; only the REQ_SCOPE_* bits are looked at
 * @nofs: the servicer's NOFS bit
 * @noio: the servicer's NOIO bit
 * @wb: the servicer's WB bit
 *
 * For the places a scope is handed on in another format (SCSI target
 * commands, the tcmu ring, ublk's io descriptors).  The encoding keeps the
 * order of the levels: the NOIO level sets @nofs too, so whoever only knows
 * NOFS still does the safe thing.
 *
 * Return: the union of @nofs, @noio and @wb that encodes @scope.
 */
static inline u32 bio_scope_encode(blk_opf_t scope, u32 nofs, u32 noio, u32 wb)
{
	u32 v = 0;

	if (scope & (REQ_SCOPE_NOFS | REQ_SCOPE_NOIO))
		v |= nofs;
	if (scope & REQ_SCOPE_NOIO)
		v |= noio;
	if (scope & REQ_SCOPE_WB)
		v |= wb;
	return v;
}

/**
 * bio_scope_decode - decode a scope encoded by bio_scope_encode()
 * @v: the encoded flags
 * @nofs: the servicer's NOFS bit
 * @noio: the servicer's NOIO bit
 * @wb: the servicer's WB bit
 *
 * Return: the REQ_SCOPE_* bits; @noio alone decodes to the NOIO level.
 */
static inline blk_opf_t bio_scope_decode(u32 v, u32 nofs, u32 noio, u32 wb)
{
	blk_opf_t scope = BIO_SCOPE_NONE;

	if (v & noio)
		scope |= BIO_SCOPE_NOIO;
	else if (v & nofs)
		scope |= BIO_SCOPE_NOFS;
	if (v & wb)
		scope |= BIO_SCOPE_WB;
	return scope;
}

#ifdef CONFIG_BIO_SCOPE

DECLARE_STATIC_KEY_TRUE(bio_scope_capture_key);

void __bio_scope_capture(struct bio *bio, unsigned int flags);
void __bio_scope_stamp(struct bio *bio, blk_opf_t scope,
		       enum bio_scope_source src);

/* Is scope capture globally enabled (mode not "off")? */
static __always_inline bool bio_scope_enabled(void)
{
	return static_branch_likely(&bio_scope_capture_key);
}

/**
 * bio_scope_capture - record the submitting task's scope in a bio
 * @bio: bio being submitted
 *
 * Called by submit_bio().  The common path, a task in no scope, costs one
 * static branch and one test of current->flags.
 */
static __always_inline void bio_scope_capture(struct bio *bio)
{
	if (bio_scope_enabled() &&
	    unlikely(current->flags & BIO_SCOPE_PF_MASK))
		__bio_scope_capture(bio, current->flags);
}

/**
 * bio_scope_stamp - add a scope to a bio at a known capture point
 * @bio: bio
 * @scope: REQ_SCOPE_* bits to add
 * @src: capture point, for the bio_scope_capture tracepoint
 */
static inline void bio_scope_stamp(struct bio *bio, blk_opf_t scope,
				   enum bio_scope_source src)
{
	if (bio_scope_enabled())
		__bio_scope_stamp(bio, scope, src);
}

/**
 * bio_scope_current - the scope of the current task, for deferred IO
 *
 * For IO that the current task asks another context to submit later (e.g.
 * a dm-kcopyd job): the scope submit_bio() would have captured here.
 *
 * Return: the REQ_SCOPE_* bits, none when capture is globally off.
 */
static inline blk_opf_t bio_scope_current(void)
{
	if (bio_scope_enabled() &&
	    unlikely(current->flags & BIO_SCOPE_PF_MASK))
		return bio_scope_from_task(current->flags);
	return BIO_SCOPE_NONE;
}

/* Swap writeout: reclaim waits on it. */
static inline void bio_scope_swap(struct bio *bio)
{
	bio_scope_stamp(bio, BIO_SCOPE_NOIO | BIO_SCOPE_WB, BIO_SCOPE_SRC_SWAP);
}

/*
 * Writeback of file pages, bio_scope_writeback(), is declared in
 * linux/writeback.h, so that wbc_init_bio() does not pull this header into
 * most of the kernel.
 */

/*
 * bio_chain(): the child is part of the parent's IO, so it carries at least
 * the parent's scope.
 */
static inline void bio_scope_chain(struct bio *bio, const struct bio *parent)
{
	blk_opf_t add = parent->bi_opf & REQ_SCOPE_MASK & ~bio->bi_opf;

	if (unlikely(add))
		__bio_scope_stamp(bio, add, BIO_SCOPE_SRC_CHAIN);
}

/* The scope of a request or bio, as the union over everything merged in. */
static inline blk_opf_t blk_scope_merge(blk_opf_t dst, blk_opf_t src)
{
	return dst | (src & REQ_SCOPE_MASK);
}

enum bio_scope_mode bio_scope_get_mode(void);
int bio_scope_set_mode(enum bio_scope_mode mode);
enum bio_scope_mode bio_scope_effective_mode(const struct bio_scope_adopter *a);
int bio_scope_adopter_set_mode(struct bio_scope_adopter *a, int mode);
int bio_scope_mode_parse(const char *buf, bool allow_inherit);
int bio_scope_mode_format(char *buf, size_t size, int mode,
			  bool allow_inherit);
void bio_scope_adopter_read_stats(const struct bio_scope_adopter *a,
				  struct bio_scope_stats *sum);

int bio_scope_adopter_register(struct bio_scope_adopter *a);
void bio_scope_adopter_unregister(struct bio_scope_adopter *a);
unsigned int bio_scope_adopt(struct bio_scope_adopter *a,
			     struct gendisk *disk, blk_opf_t scope);
unsigned int bio_scope_adopt_rq(struct bio_scope_adopter *a,
				const struct request *rq);
void bio_scope_restore(struct bio_scope_adopter *a, unsigned int saved);
blk_opf_t bio_scope_pass(struct bio_scope_adopter *a, blk_opf_t scope);

#else /* CONFIG_BIO_SCOPE */

static inline enum bio_scope_mode bio_scope_get_mode(void)
{
	return BIO_SCOPE_OFF;
}

static inline enum bio_scope_mode
bio_scope_effective_mode(const struct bio_scope_adopter *a)
{
	return BIO_SCOPE_OFF;
}

static inline bool bio_scope_enabled(void) { return false; }
static inline blk_opf_t bio_scope_current(void) { return BIO_SCOPE_NONE; }
static inline void bio_scope_capture(struct bio *bio) { }
static inline void bio_scope_stamp(struct bio *bio, blk_opf_t scope,
				   enum bio_scope_source src) { }
static inline void bio_scope_swap(struct bio *bio) { }
static inline void bio_scope_chain(struct bio *bio,
				   const struct bio *parent) { }
static inline blk_opf_t blk_scope_merge(blk_opf_t dst, blk_opf_t src)
{
	return dst;
}

static inline int bio_scope_adopter_register(struct bio_scope_adopter *a)
{
	return 0;
}

static inline void bio_scope_adopter_unregister(struct bio_scope_adopter *a)
{
}

static inline unsigned int bio_scope_adopt(struct bio_scope_adopter *a,
					   struct gendisk *disk,
					   blk_opf_t scope)
{
	return 0;
}

static inline unsigned int bio_scope_adopt_rq(struct bio_scope_adopter *a,
					      const struct request *rq)
{
	return 0;
}

static inline void bio_scope_restore(struct bio_scope_adopter *a,
				     unsigned int saved)
{
}

static inline blk_opf_t bio_scope_pass(struct bio_scope_adopter *a,
				       blk_opf_t scope)
{
	return BIO_SCOPE_NONE;
}

#endif /* CONFIG_BIO_SCOPE */

/* iomap direct IO capture points (fs/iomap/scope.c). */
struct kiocb;
#if IS_ENABLED(CONFIG_BIO_SCOPE) && IS_ENABLED(CONFIG_FS_IOMAP)
blk_opf_t iomap_dio_scope(const struct kiocb *iocb);
void iomap_dio_scope_bio(struct bio *bio, blk_opf_t scope);
#else
static inline blk_opf_t iomap_dio_scope(const struct kiocb *iocb)
{
	return BIO_SCOPE_NONE;
}

static inline void iomap_dio_scope_bio(struct bio *bio, blk_opf_t scope) { }
#endif

struct pid;

/**
 * struct bio_scope_server - a userspace process that serves an adopter
 * @adopter: the adopter its recursion events are charged to
 * @name: the device it serves, for the log and debugfs (set before attach)
 * @tgid: the server's thread group
 * @exec_id: the self_exec_id of the attaching task: the program image that
 *	attached (execve() starts a new one)
 * @busy: whether the server has commands outstanding
 * @list: on the list of attached servers (RCU)
 * @attached: on the list
 * @declared: the server said it applies the scopes the driver passes
 *	(set by the driver before attach, or by attach for the process that
 *	declared with bio_scope_declare(); cleared by detach)
 * @stack_bits: the stack id bit of the device it serves
 *	(bio_stack_sid_bit()), set by the driver before attach
 *
 * A userspace servicer (tcmu-runner, a ublk server) never calls
 * bio_scope_adopt(): it does not know about scopes, or applies them itself.
 * The kernel still knows which process serves a device.  While @busy says
 * the device has commands outstanding, the threads of that process (same
 * thread group, same program image) serve it, and the recursion detector
 * counts their events.
 * The kernel vouches for them (bio_scope_server_vouch()): they are
 * dirty-throttled only against their own bdi (bio_scope_local_throttle()).
 * The vouch does not grant RWF_LOCAL_THROTTLE, which needs
 * CAP_SYS_RESOURCE.
 * Attach with bio_scope_server_attach(), only for a device that a
 * privileged user set up.
 */
struct bio_scope_server {
	struct bio_scope_adopter *adopter;
	const char *name;
	struct pid *tgid;
	u64 exec_id;
	bool (*busy)(struct bio_scope_server *s);
	struct list_head list;
	bool attached;
	bool declared;
	u64 stack_bits;
};

#ifdef CONFIG_BIO_SCOPE
DECLARE_STATIC_KEY_FALSE(bio_scope_server_key);

void bio_scope_server_attach(struct bio_scope_server *s,
			     struct bio_scope_adopter *a,
			     bool (*busy)(struct bio_scope_server *s));
void bio_scope_server_detach(struct bio_scope_server *s);
void bio_scope_declare(struct bio_scope_adopter *a, bool on);
bool __bio_scope_server_serving(void);
u64 bio_scope_server_stack_bits(char *name, size_t size);

/*
 * Might the current task be a server's thread?  bio_scope_server_attach()
 * marks the threads of the server's process, and a thread it creates later
 * is marked too (bio_scope_task_fork()).  A filter, never cleared: the slow
 * path decides.  A task that serves nothing pays one static branch, and one
 * test of its own task_struct while a server is attached anywhere.
 */
static inline bool bio_scope_server_thread(void)
{
	return static_branch_unlikely(&bio_scope_server_key) &&
	       unlikely(READ_ONCE(current->bio_scope_server));
}

/**
 * bio_scope_server_vouch - is the current task serving a device?
 *
 * True while the current task belongs to the program image of a userspace
 * server attached with bio_scope_server_attach(), its device has commands
 * outstanding, and bio scopes are not off for it.
 * A task that no server process ever created pays one static branch and
 * one test.
 *
 * Return: true if the kernel vouches for the current task.
 */
static inline bool bio_scope_server_vouch(void)
{
	return bio_scope_server_thread() && __bio_scope_server_serving();
}

/**
 * bio_scope_task_fork - a thread a server creates is a thread of the server
 * @p: the new task
 * @clone_flags: its clone flags
 *
 * Called by copy_process() under the parent's siglock, which
 * bio_scope_server_attach() holds while it marks the thread group.
 */
static inline void bio_scope_task_fork(struct task_struct *p, u64 clone_flags)
{
	p->bio_scope_server = (clone_flags & CLONE_THREAD) &&
			      READ_ONCE(current->bio_scope_server);
}
#else
static inline void bio_scope_server_attach(struct bio_scope_server *s,
					   struct bio_scope_adopter *a,
					   bool (*busy)(struct bio_scope_server *s))
{
}

static inline void bio_scope_server_detach(struct bio_scope_server *s) { }
static inline void bio_scope_declare(struct bio_scope_adopter *a, bool on) { }
static inline bool bio_scope_server_vouch(void) { return false; }
static inline void bio_scope_task_fork(struct task_struct *p,
				       u64 clone_flags) { }
#endif /* CONFIG_BIO_SCOPE */

/**
 * bio_scope_local_throttle - is the current task dirty-throttled locally?
 *
 * PF_LOCAL_THROTTLE (an adopter serving a command, PR_SET_IO_FLUSHER), or
 * a userspace server while it serves its device (bio_scope_server_vouch()).
 * Such a task is throttled only against the dirty state of the bdi it
 * writes to, never against the global dirty limit, which the stack above
 * the device it serves may have exceeded.  Called by the dirty throttling
 * and reclaim throttling code.
 *
 * Return: true if the current task must not be throttled globally.
 */
static inline bool bio_scope_local_throttle(void)
{
	return (current->flags & PF_LOCAL_THROTTLE) || bio_scope_server_vouch();
}

/*
 * Recursion detector hooks, called from mm.  They compile away without
 * CONFIG_BIO_SCOPE_DETECTOR; with it, bio_scope_serving() is their fast
 * path.
 */
#ifdef CONFIG_BIO_SCOPE_DETECTOR
void __bio_scope_note_recursion(enum bio_scope_recursion kind);

/*
 * Is the current task serving an adopter?  In-kernel servicers mark the
 * task in bio_scope_adopt().
 * For a thread of a userspace server, the slow path looks the task's
 * program image up.
 */
static inline bool bio_scope_serving(void)
{
	return unlikely(current->bio_scope_serving) ||
	       bio_scope_server_thread();
}

static inline void bio_scope_note_shrinker(gfp_t gfp_mask)
{
	if (bio_scope_serving() && (gfp_mask & __GFP_FS))
		__bio_scope_note_recursion(BIO_SCOPE_REC_SHRINKER);
}

static inline void bio_scope_note_writeback_wait(void)
{
	if (bio_scope_serving())
		__bio_scope_note_recursion(BIO_SCOPE_REC_WRITEBACK_WAIT);
}

static inline void bio_scope_note_reclaim_throttle(void)
{
	if (bio_scope_serving())
		__bio_scope_note_recursion(BIO_SCOPE_REC_RECLAIM_THROTTLE);
}

static inline void bio_scope_note_dirty_throttle(void)
{
	if (bio_scope_serving() && !bio_scope_local_throttle())
		__bio_scope_note_recursion(BIO_SCOPE_REC_DIRTY_THROTTLE);
}

static inline void bio_scope_task_init(struct task_struct *p)
{
	p->bio_scope_serving = NULL;
	p->bio_scope_disk = NULL;
}
#else
static inline bool bio_scope_serving(void) { return false; }
static inline void bio_scope_note_shrinker(gfp_t gfp_mask) { }
static inline void bio_scope_note_writeback_wait(void) { }
static inline void bio_scope_note_reclaim_throttle(void) { }
static inline void bio_scope_note_dirty_throttle(void) { }
static inline void bio_scope_task_init(struct task_struct *p) { }
#endif /* CONFIG_BIO_SCOPE_DETECTOR */

#endif /* _LINUX_BIO_SCOPE_H */
