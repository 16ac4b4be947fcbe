// SPDX-License-Identifier: GPL-2.0
/*
 * Memory allocation scope carried by bios: capture, modes, adopters and the
 * recursion detector.  See Documentation/block/bio-scope.rst.
 */
#include <linux/bio.h>
#include <linux/bio_scope.h>
#include <linux/blk-mq.h>
#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/pid.h>
#include <linux/rculist.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/stringhash.h>
#include <linux/uaccess.h>
#include <linux/writeback.h>

#define CREATE_TRACE_POINTS
#include <trace/events/bio_scope.h>

/*
 * The saved value returned by bio_scope_adopt() is the set of task flags
 * this level added, plus BIO_SCOPE_SAVED_SERVING if this level made the task
 * "serving" for the detector.  Bit 0 (PF_VCPU) is never adopted.
 */
#define BIO_SCOPE_SAVED_SERVING	0x1U
static_assert(!(BIO_SCOPE_SAVED_SERVING & BIO_SCOPE_PF_ADOPT));

/* The scope bits ride in bi_opf/cmd_flags: no field is added anywhere. */
static_assert(__REQ_NR_BITS <= 8 * sizeof(blk_opf_t));
static_assert((REQ_SCOPE_MASK & REQ_OP_MASK) == 0);

/* Tested inline by modules: bio_scope_current() in dm-kcopyd. */
DEFINE_STATIC_KEY_TRUE(bio_scope_capture_key);
EXPORT_SYMBOL_GPL(bio_scope_capture_key);

static int bio_scope_mode = BIO_SCOPE_SCOPED;
static DEFINE_MUTEX(bio_scope_lock);	/* mode changes, adopter list */
static LIST_HEAD(bio_scope_adopters);
static struct dentry *bio_scope_debugfs_root;
static struct dentry *bio_scope_debugfs_adopters;

static const char *const bio_scope_mode_names[] = {
	[BIO_SCOPE_OFF]		= "off",
	[BIO_SCOPE_BLANKET]	= "blanket",
	[BIO_SCOPE_SCOPED]	= "scoped",
	[BIO_SCOPE_INHERIT]	= "inherit",
};

/**
 * __bio_scope_stamp - add a scope to a bio (slow path of bio_scope_stamp())
 * @bio: bio
 * @scope: REQ_SCOPE_* bits to add
 * @src: capture point, reported by the bio_scope_capture tracepoint
 *
 * Use bio_scope_stamp(), which skips this when capture is globally off.
 * The tracepoint fires only when @scope adds bits to @bio.
 */
void __bio_scope_stamp(struct bio *bio, blk_opf_t scope,
		       enum bio_scope_source src)
{
	scope &= REQ_SCOPE_MASK & ~bio->bi_opf;
	if (!scope)
		return;
	bio->bi_opf |= scope;
	trace_bio_scope_capture(bio, scope, src);
}

/**
 * __bio_scope_capture - capture the scope of task flags into a bio
 * @bio: bio being submitted
 * @flags: the submitting task's flags
 *
 * Slow path of bio_scope_capture(), taken only when @flags hold a scope.
 */
void __bio_scope_capture(struct bio *bio, unsigned int flags)
{
	enum bio_scope_source src = BIO_SCOPE_SRC_TASK;

	if (flags & (PF_MEMALLOC | PF_KSWAPD))
		src = BIO_SCOPE_SRC_RECLAIM;
	__bio_scope_stamp(bio, bio_scope_from_task(flags), src);
}

/**
 * bio_scope_writeback - stamp the scope of a writeback bio
 * @bio: a bio of file folios under writeback, from wbc_init_bio()
 *
 * Reclaim and dirty throttling wait on writeback: NOFS, because reclaim
 * only recurses into the filesystem for file folios (may_enter_fs()), and
 * WB.  Out of line, so that linux/writeback.h does not include
 * linux/bio_scope.h.
 */
void bio_scope_writeback(struct bio *bio)
{
	bio_scope_stamp(bio, BIO_SCOPE_NOFS | BIO_SCOPE_WB,
			BIO_SCOPE_SRC_WRITEBACK);
}
EXPORT_SYMBOL_GPL(bio_scope_writeback);

/**
 * bio_scope_get_mode - the global bio scope mode
 *
 * Return: the global enum bio_scope_mode.
 */
enum bio_scope_mode bio_scope_get_mode(void)
{
	return READ_ONCE(bio_scope_mode);
}

/**
 * bio_scope_set_mode - set the global bio scope mode
 * @mode: BIO_SCOPE_OFF, BIO_SCOPE_BLANKET or BIO_SCOPE_SCOPED
 *
 * "off" also turns capture off (a static branch in submit_bio()).  Off and
 * blanket are for comparison, with CONFIG_BIO_SCOPE_MODES only.
 *
 * Context: process context, may sleep.
 * Return: 0 on success, -EINVAL for an unknown mode.
 * -EOPNOTSUPP for a comparison mode without CONFIG_BIO_SCOPE_MODES.
 */
int bio_scope_set_mode(enum bio_scope_mode mode)
{
	if (mode >= BIO_SCOPE_NR_MODES)
		return -EINVAL;
	if (!IS_ENABLED(CONFIG_BIO_SCOPE_MODES) && mode != BIO_SCOPE_SCOPED)
		return -EOPNOTSUPP;
	mutex_lock(&bio_scope_lock);
	WRITE_ONCE(bio_scope_mode, mode);
	if (mode == BIO_SCOPE_OFF)
		static_branch_disable(&bio_scope_capture_key);
	else
		static_branch_enable(&bio_scope_capture_key);
	mutex_unlock(&bio_scope_lock);
	return 0;
}

/**
 * bio_scope_effective_mode - the mode an adopter applies
 * @a: adopter
 *
 * Return: @a's override, or the global mode if @a inherits it.
 */
enum bio_scope_mode bio_scope_effective_mode(const struct bio_scope_adopter *a)
{
	int mode = READ_ONCE(a->mode);

	if (!IS_ENABLED(CONFIG_BIO_SCOPE_MODES))
		return BIO_SCOPE_SCOPED;
	if (mode < 0 || mode >= BIO_SCOPE_NR_MODES)
		return bio_scope_get_mode();
	return mode;
}
EXPORT_SYMBOL_GPL(bio_scope_effective_mode);

/**
 * bio_scope_adopter_set_mode - set an adopter's mode override
 * @a: adopter
 * @mode: an enum bio_scope_mode, or BIO_SCOPE_INHERIT
 *
 * Return: 0 on success, -EINVAL for an invalid @mode.
 * -EOPNOTSUPP as bio_scope_set_mode().
 */
int bio_scope_adopter_set_mode(struct bio_scope_adopter *a, int mode)
{
	if (mode < 0 || mode > BIO_SCOPE_INHERIT)
		return -EINVAL;
	if (!IS_ENABLED(CONFIG_BIO_SCOPE_MODES) && mode != BIO_SCOPE_INHERIT &&
	    mode != BIO_SCOPE_SCOPED)
		return -EOPNOTSUPP;
	WRITE_ONCE(a->mode, mode);
	return 0;
}

/**
 * bio_scope_mode_parse - parse a mode name
 * @buf: "off", "blanket", "scoped" or "inherit", optionally with a newline
 * @allow_inherit: whether "inherit" is accepted
 *
 * Return: the mode, or -EINVAL.
 */
int bio_scope_mode_parse(const char *buf, bool allow_inherit)
{
	int n = allow_inherit ? BIO_SCOPE_INHERIT + 1 : BIO_SCOPE_NR_MODES;
	int i = __sysfs_match_string(bio_scope_mode_names, n, buf);

	return i < 0 ? -EINVAL : i;
}

/**
 * bio_scope_mode_format - list the modes, the current one in brackets
 * @buf: output buffer
 * @size: size of @buf
 * @mode: the current mode
 * @allow_inherit: whether to list "inherit"
 *
 * Produces e.g. "off blanket [scoped]\n".
 *
 * Return: the number of characters written.
 */
int bio_scope_mode_format(char *buf, size_t size, int mode, bool allow_inherit)
{
	int n = allow_inherit ? BIO_SCOPE_INHERIT + 1 : BIO_SCOPE_NR_MODES;
	int i, len = 0;

	for (i = 0; i < n; i++)
		len += scnprintf(buf + len, size - len, i == mode ? "%s[%s]" :
				 "%s%s", i ? " " : "", bio_scope_mode_names[i]);
	len += scnprintf(buf + len, size - len, "\n");
	return len;
}

/**
 * bio_scope_adopter_read_stats - sum an adopter's per-cpu counters
 * @a: adopter (no counters unless registered)
 * @sum: filled with the counters, indexed by enum bio_scope_stat
 */
void bio_scope_adopter_read_stats(const struct bio_scope_adopter *a,
				  struct bio_scope_stats *sum)
{
	int cpu, i;

	memset(sum, 0, sizeof(*sum));
	if (!a->stats)
		return;
	for_each_possible_cpu(cpu) {
		const struct bio_scope_stats *s = per_cpu_ptr(a->stats, cpu);

		for (i = 0; i < BIO_SCOPE_STAT_NR; i++)
			sum->count[i] += READ_ONCE(s->count[i]);
	}
}

static inline void bio_scope_count(struct bio_scope_adopter *a,
				   enum bio_scope_stat stat)
{
	struct bio_scope_stats __percpu *s = READ_ONCE(a->stats);

	if (s)	/* NULL until registered */
		this_cpu_inc(s->count[stat]);
}

/*
 * Count a served command and work out what @mode applies to it: the
 * REQ_SCOPE_* bits (blanket: NOIO | WB, scoped: the command's own, off:
 * none).
 */
static blk_opf_t bio_scope_account(struct bio_scope_adopter *a,
				   enum bio_scope_mode mode, blk_opf_t scope)
{
	bio_scope_count(a, BIO_SCOPE_STAT_SERVED);
	switch (mode) {
	case BIO_SCOPE_BLANKET:
		bio_scope_count(a, BIO_SCOPE_STAT_BLANKET);
		return BIO_SCOPE_NOIO | BIO_SCOPE_WB;
	case BIO_SCOPE_SCOPED:
		if (scope & REQ_SCOPE_NOIO)
			bio_scope_count(a, BIO_SCOPE_STAT_NOIO);
		else if (scope & REQ_SCOPE_NOFS)
			bio_scope_count(a, BIO_SCOPE_STAT_NOFS);
		if (scope & REQ_SCOPE_WB)
			bio_scope_count(a, BIO_SCOPE_STAT_WB);
		return scope;
	default:
		return BIO_SCOPE_NONE;
	}
}

/**
 * bio_scope_adopt - serve a command under its bio scope
 * @a: the servicer's adopter
 * @disk: the device the command was queued to, or %NULL
 * @scope: the command's scope: bi_opf, cmd_flags or REQ_SCOPE_* bits
 *
 * Applies, to the current task, what @a's effective mode asks for: nothing
 * ("off"), PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE ("blanket"), or
 * bio_scope_to_pflags(@scope) | PF_LOCAL_THROTTLE ("scoped").  NOFS/NOIO
 * follow the command's origin; the exemption from global dirty throttling
 * follows the role of the task, which serves a device whatever the command
 * is.  Must be paired with bio_scope_restore() in the same task.  Nests:
 * each level restores only the flags it added itself.
 * The task is marked as serving @a and @disk for the recursion detector,
 * in every mode; when adopters nest in one task, the outermost is charged.
 * @disk must stay valid until bio_scope_restore(); it only names the
 * device in the log.
 *
 * Context: task context.
 * Return: an opaque value for bio_scope_restore().
 */
unsigned int bio_scope_adopt(struct bio_scope_adopter *a,
			     struct gendisk *disk, blk_opf_t scope)
{
	enum bio_scope_mode mode = bio_scope_effective_mode(a);
	unsigned int pflags, saved;

	scope &= REQ_SCOPE_MASK;
	pflags = bio_scope_to_pflags(bio_scope_account(a, mode, scope));
	if (mode != BIO_SCOPE_OFF)
		pflags |= PF_LOCAL_THROTTLE;	/* the servicer's role */
	saved = memalloc_flags_save(pflags);
#ifdef CONFIG_BIO_SCOPE_DETECTOR
	if (!current->bio_scope_serving) {
		current->bio_scope_serving = a;
		current->bio_scope_disk = disk;
		saved |= BIO_SCOPE_SAVED_SERVING;
	}
#endif
	trace_bio_scope_adopt(a, scope, mode, pflags);
	return saved;
}
EXPORT_SYMBOL_GPL(bio_scope_adopt);

/**
 * bio_scope_adopt_rq - serve a request under its scope
 * @a: the servicer's adopter
 * @rq: the request being served
 *
 * bio_scope_adopt() with @rq's disk and blk_rq_scope(@rq).
 *
 * Context: task context.
 * Return: an opaque value for bio_scope_restore().
 */
unsigned int bio_scope_adopt_rq(struct bio_scope_adopter *a,
				const struct request *rq)
{
	return bio_scope_adopt(a, rq->q->disk, blk_rq_scope(rq));
}
EXPORT_SYMBOL_GPL(bio_scope_adopt_rq);

/**
 * bio_scope_pass - account a command whose scope a userspace server applies
 * @a: the servicer's adopter
 * @scope: the command's scope: bi_opf, cmd_flags or REQ_SCOPE_* bits
 *
 * For drivers that hand commands to a userspace server (tcmu, ublk): the
 * kernel does not adopt the scope itself, it tells the server which scope to
 * apply.  Counts the command in @a's statistics as bio_scope_adopt() does,
 * and fires the bio_scope_adopt tracepoint with the task flags the server
 * is asked to apply.
 *
 * Context: any.
 * Return: the REQ_SCOPE_* bits the server should apply: @scope's in the
 * scoped mode, NOIO | WB in the blanket mode, none when off.
 */
blk_opf_t bio_scope_pass(struct bio_scope_adopter *a, blk_opf_t scope)
{
	enum bio_scope_mode mode = bio_scope_effective_mode(a);
	blk_opf_t pass;

	scope &= REQ_SCOPE_MASK;
	pass = bio_scope_account(a, mode, scope);
	trace_bio_scope_adopt(a, scope, mode, bio_scope_to_pflags(pass));
	return pass;
}
EXPORT_SYMBOL_GPL(bio_scope_pass);

/**
 * bio_scope_restore - end serving a command
 * @a: the adopter passed to bio_scope_adopt()
 * @saved: the value bio_scope_adopt() returned
 *
 * Clears exactly the task flags the matching bio_scope_adopt() added.
 *
 * Context: the task that called bio_scope_adopt().
 */
void bio_scope_restore(struct bio_scope_adopter *a, unsigned int saved)
{
#ifdef CONFIG_BIO_SCOPE_DETECTOR
	if (saved & BIO_SCOPE_SAVED_SERVING) {
		WARN_ON_ONCE(current->bio_scope_serving != a);
		current->bio_scope_serving = NULL;
		current->bio_scope_disk = NULL;
	}
#endif
	memalloc_flags_restore(saved & BIO_SCOPE_PF_ADOPT);
}
EXPORT_SYMBOL_GPL(bio_scope_restore);

DEFINE_STATIC_KEY_FALSE(bio_scope_server_key);
static LIST_HEAD(bio_scope_servers);

/**
 * bio_scope_server_attach - record the userspace server of an adopter
 * @s: server, embedded in the driver's device
 * @a: the driver's adopter
 * @busy: whether the server has commands outstanding (not NULL)
 *
 * Records the current task's thread group and program image as the server
 * of @a.  A fork()ed child or an execve()d image is not the server.  While
 * @busy(@s) is true, its threads serve the device: with
 * CONFIG_BIO_SCOPE_DETECTOR, their recursion events are counted for @a in
 * every mode, whether or not the server applies scopes.
 * While they serve and @a's mode is not off, the kernel also vouches for
 * them (bio_scope_server_vouch()): they are dirty-throttled locally
 * (bio_scope_local_throttle()).
 *
 * If the attaching program image declared with bio_scope_declare(), @s is
 * marked declared.
 *
 * Call it in the server's context, when it opens the device it serves.
 * Does nothing if @s is already attached.  Attach only the server of a
 * device that a privileged user set up.
 * The vouch relaxes a global limit.
 *
 * Context: process context, may sleep.
 */
void bio_scope_server_attach(struct bio_scope_server *s,
			     struct bio_scope_adopter *a,
			     bool (*busy)(struct bio_scope_server *s))
{
	struct task_struct *t;

	if (WARN_ON_ONCE(!busy))
		return;
	mutex_lock(&bio_scope_lock);
	if (!s->attached) {
		s->adopter = a;
		s->busy = busy;
		s->tgid = get_task_pid(current, PIDTYPE_TGID);
		s->exec_id = READ_ONCE(current->self_exec_id);
		if (a->declared && a->declared == s->tgid &&
		    a->declared_exec_id == s->exec_id)
			WRITE_ONCE(s->declared, true);
		s->attached = true;
		list_add_tail_rcu(&s->list, &bio_scope_servers);
		static_branch_inc(&bio_scope_server_key);
	}
	mutex_unlock(&bio_scope_lock);
	/*
	 * Mark the thread group, so that only its threads take the slow
	 * path; copy_process() copies the mark to a new thread under the
	 * same lock (bio_scope_task_fork()).
	 */
	spin_lock_irq(&current->sighand->siglock);
	for_each_thread(current, t)
		WRITE_ONCE(t->bio_scope_server, true);
	spin_unlock_irq(&current->sighand->siglock);
}
EXPORT_SYMBOL_GPL(bio_scope_server_attach);

/**
 * bio_scope_server_detach - forget the userspace server of an adopter
 * @s: server attached with bio_scope_server_attach(), or not attached
 *
 * Waits for lookups of @s to finish: @s may be freed or attached again
 * when this returns.
 *
 * Context: process context, may sleep.
 */
void bio_scope_server_detach(struct bio_scope_server *s)
{
	struct pid *tgid;

	/*
	 * The grace period is waited for under the lock, so that a
	 * concurrent second detach of @s returns only after it too.
	 */
	mutex_lock(&bio_scope_lock);
	if (s->attached) {
		list_del_rcu(&s->list);
		static_branch_dec(&bio_scope_server_key);
		s->attached = false;
		WRITE_ONCE(s->declared, false);
		tgid = s->tgid;
		synchronize_rcu();
		put_pid(tgid);
	}
	mutex_unlock(&bio_scope_lock);
}
EXPORT_SYMBOL_GPL(bio_scope_server_detach);

/**
 * bio_scope_declare - a server process says whether it applies the scopes
 * @a: the adopter whose devices it serves
 * @on: it applies them from now on (true), or no longer (false)
 *
 * For a driver whose servers declare once per process, not per device
 * (tcmu: TCMU_CMD_SET_FEATURES).  bio_scope_server_attach() marks a server
 * declared when the current task's program image attaches it later.  A
 * declaration replaces another process's; a withdrawal counts only from
 * the program image that declared, so another program (an old one that
 * knows nothing of scopes) cannot withdraw it.  Servers already attached
 * keep their mark.  A change is logged.
 *
 * Context: process context, in the declaring process; may sleep.
 */
void bio_scope_declare(struct bio_scope_adopter *a, bool on)
{
	u64 exec_id = READ_ONCE(current->self_exec_id);
	struct pid *tgid = task_tgid(current), *old = NULL;
	bool mine;

	mutex_lock(&bio_scope_lock);
	mine = a->declared == tgid && a->declared_exec_id == exec_id;
	if (on != mine) {
		old = a->declared;
		a->declared = on ? get_pid(tgid) : NULL;
		a->declared_exec_id = exec_id;
	}
	mutex_unlock(&bio_scope_lock);
	if (on != mine)
		pr_info("%s: %s[%d] %s memory allocation scopes\n", a->name,
			current->comm, pid_nr(tgid),
			on ? "declares that it applies" : "no longer applies");
	put_pid(old);
}
EXPORT_SYMBOL_GPL(bio_scope_declare);

/*
 * A busy server whose program image the current task runs;
 * with @relax, only one whose adopter's mode is not off (a process may
 * serve several devices).  Called under rcu_read_lock().
 */
static struct bio_scope_server *bio_scope_server_find(bool relax)
{
	u64 exec_id = READ_ONCE(current->self_exec_id);
	struct pid *tgid = task_tgid(current);
	struct bio_scope_server *s;

	list_for_each_entry_rcu(s, &bio_scope_servers, list) {
		if (s->tgid != tgid || s->exec_id != exec_id)
			continue;
		if (relax && bio_scope_effective_mode(s->adopter) ==
			     BIO_SCOPE_OFF)
			continue;
		if (s->busy(s))
			return s;
	}
	return NULL;
}

/**
 * __bio_scope_server_serving - slow path of bio_scope_server_vouch()
 *
 * Context: any context that may take rcu_read_lock().
 * Return: true if the current task serves a busy device whose adopter's
 * mode is not off.
 */
bool __bio_scope_server_serving(void)
{
	bool ret;

	rcu_read_lock();
	ret = !!bio_scope_server_find(true);
	rcu_read_unlock();
	return ret;
}

#ifdef CONFIG_BIO_SCOPE_STACK
/*
 * The stack ids of every server in current's program image, busy or not:
 * a thread may pick up a command of any of them while it reclaims.  0 if
 * one of them has none (block/bio_stack.c).  With @name, the adopter of
 * the first one is copied there.
 */
u64 bio_scope_server_stack_bits(char *name, size_t size)
{
	u64 exec_id = READ_ONCE(current->self_exec_id);
	struct pid *tgid = task_tgid(current);
	struct bio_scope_server *s;
	u64 bits = 0;

	rcu_read_lock();
	list_for_each_entry_rcu(s, &bio_scope_servers, list) {
		if (s->tgid != tgid || s->exec_id != exec_id)
			continue;
		if (name && !bits)
			strscpy(name, s->adopter->name, size);
		if (!s->stack_bits) {
			bits = 0;
			break;
		}
		bits |= s->stack_bits;
	}
	rcu_read_unlock();
	return bits;
}
#endif

#ifdef CONFIG_BIO_SCOPE_DETECTOR
/*
 * The adopter a busy userspace server in current's program image serves.
 * Called under rcu_read_lock(), which the caller holds while it charges
 * the adopter: a driver detaches its server, which waits for a grace
 * period, before it frees the server or unregisters the adopter.
 */
static struct bio_scope_adopter *
bio_scope_server_lookup(char *dev, size_t size)
{
	struct bio_scope_adopter *a = NULL;
	struct bio_scope_server *s;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(),
			 "a server lookup needs rcu_read_lock()");
	s = bio_scope_server_find(false);
	if (s) {
		a = s->adopter;
		strscpy(dev, s->name ?: "?", size);
	}
	return a;
}

static const char *const bio_scope_rec_what[] = {
	[BIO_SCOPE_REC_SHRINKER]	 = "entered a filesystem shrinker (__GFP_FS)",
	[BIO_SCOPE_REC_WRITEBACK_WAIT]	 = "waited in reclaim for a folio under writeback",
	[BIO_SCOPE_REC_RECLAIM_THROTTLE] = "was throttled in reclaim",
	[BIO_SCOPE_REC_DIRTY_THROTTLE]	 = "was dirty-throttled against the global limit",
};

static_assert(ARRAY_SIZE(bio_scope_rec_what) == BIO_SCOPE_REC_NR);

/*
 * The servicers (adopter and device) that have already left their line in
 * the log, per kind.  A few devices are served at once; past the table,
 * the log is only rate limited.
 */
#define BIO_SCOPE_REPORTED_MAX	32
static struct {
	const struct bio_scope_adopter *a;
	u32 dev;
	unsigned long kinds;
} bio_scope_reported[BIO_SCOPE_REPORTED_MAX];
static DEFINE_SPINLOCK(bio_scope_reported_lock);

/* Has @a, serving the device @dev, already reported @kind?  Records it. */
static bool bio_scope_reported_before(const struct bio_scope_adopter *a,
				      const char *dev,
				      enum bio_scope_recursion kind)
{
	u32 h = full_name_hash(NULL, dev, strlen(dev));
	bool before = false;
	int i;

	spin_lock(&bio_scope_reported_lock);
	for (i = 0; i < BIO_SCOPE_REPORTED_MAX; i++) {
		if (bio_scope_reported[i].a &&
		    (bio_scope_reported[i].a != a ||
		     bio_scope_reported[i].dev != h))
			continue;
		bio_scope_reported[i].a = a;
		bio_scope_reported[i].dev = h;
		before = test_and_set_bit(kind, &bio_scope_reported[i].kinds);
		break;
	}
	spin_unlock(&bio_scope_reported_lock);
	return before;
}

/* Forget @a, which is being unregistered. */
static void bio_scope_reported_forget(const struct bio_scope_adopter *a)
{
	int i;

	spin_lock(&bio_scope_reported_lock);
	for (i = 0; i < BIO_SCOPE_REPORTED_MAX; i++) {
		if (bio_scope_reported[i].a == a) {
			bio_scope_reported[i].a = NULL;
			bio_scope_reported[i].dev = 0;
			bio_scope_reported[i].kinds = 0;
		}
	}
	spin_unlock(&bio_scope_reported_lock);
}

/**
 * __bio_scope_note_recursion - count a recursion event of a serving task
 * @kind: what the task is about to do
 *
 * Called through the bio_scope_note_*() hooks while the task serves: the
 * adopter it serves in the kernel (current->bio_scope_serving) is charged.
 * Otherwise, in a thread of a userspace server, the adopter of a busy
 * server in the task's program image is charged.
 */
void __bio_scope_note_recursion(enum bio_scope_recursion kind)
{
	struct bio_scope_adopter *a = current->bio_scope_serving;
	char dev[32];

	if (kind >= BIO_SCOPE_REC_NR)
		return;
	/*
	 * An in-kernel worker serves the device of the command it adopted.
	 * A userspace server serves the device it attached to.
	 */
	dev[0] = '\0';
	guard(rcu)();		/* a userspace server's adopter: see lookup */
	if (a && current->bio_scope_disk)
		strscpy(dev, current->bio_scope_disk->disk_name, sizeof(dev));
	else if (!a && bio_scope_server_thread())
		a = bio_scope_server_lookup(dev, sizeof(dev));
	if (!a)
		return;
	bio_scope_count(a, BIO_SCOPE_STAT_REC_FIRST + kind);
	trace_bio_scope_recursion(a, kind);
	/*
	 * These hangs leave nothing in the log: the first event of each kind
	 * per servicer and device leaves one line, so that a hang that
	 * follows has a cause.
	 */
	if (!bio_scope_reported_before(a, dev, kind))
		pr_warn_ratelimited("bioscope: %s[%d], serving %s%s%s, %s: it would deadlock if the stack above waits on it (%s mode)\n",
				    current->comm, task_pid_nr(current), a->name,
				    dev[0] ? " " : "", dev, bio_scope_rec_what[kind],
				    bio_scope_mode_names[bio_scope_effective_mode(a)]);
}
#endif

/* debugfs: /sys/kernel/debug/bioscope/{mode,servers,adopters/<name>/{mode,stats}} */

static ssize_t bio_scope_mode_read(struct file *file, char __user *ubuf,
				   size_t count, loff_t *ppos)
{
	struct bio_scope_adopter *a = file->private_data;
	char buf[64];
	int len;

	if (a)
		len = bio_scope_mode_format(buf, sizeof(buf), READ_ONCE(a->mode),
					    true);
	else
		len = bio_scope_mode_format(buf, sizeof(buf),
					    bio_scope_get_mode(), false);
	return simple_read_from_buffer(ubuf, count, ppos, buf, len);
}

static ssize_t bio_scope_mode_write(struct file *file, const char __user *ubuf,
				    size_t count, loff_t *ppos)
{
	struct bio_scope_adopter *a = file->private_data;
	char buf[16];
	int mode, ret;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	mode = bio_scope_mode_parse(buf, a);
	if (mode < 0)
		return mode;
	if (a)
		ret = bio_scope_adopter_set_mode(a, mode);
	else
		ret = bio_scope_set_mode(mode);
	return ret ? ret : count;
}

static const struct file_operations bio_scope_mode_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.read	= bio_scope_mode_read,
	.write	= bio_scope_mode_write,
	.llseek	= default_llseek,
};

static const char *const bio_scope_stat_names[] = {
	[BIO_SCOPE_STAT_SERVED]	= "served",
	[BIO_SCOPE_STAT_NOFS]	= "adopted_nofs",
	[BIO_SCOPE_STAT_NOIO]	= "adopted_noio",
	[BIO_SCOPE_STAT_WB]	= "adopted_wb",
	[BIO_SCOPE_STAT_BLANKET] = "blanket",
	[BIO_SCOPE_STAT_REC_FIRST + BIO_SCOPE_REC_SHRINKER] =
		"recursion_shrinker",
	[BIO_SCOPE_STAT_REC_FIRST + BIO_SCOPE_REC_WRITEBACK_WAIT] =
		"recursion_writeback_wait",
	[BIO_SCOPE_STAT_REC_FIRST + BIO_SCOPE_REC_RECLAIM_THROTTLE] =
		"recursion_reclaim_throttle",
	[BIO_SCOPE_STAT_REC_FIRST + BIO_SCOPE_REC_DIRTY_THROTTLE] =
		"recursion_dirty_throttle",
};

static_assert(ARRAY_SIZE(bio_scope_stat_names) == BIO_SCOPE_STAT_NR);

static int bio_scope_stats_show(struct seq_file *m, void *v)
{
	struct bio_scope_adopter *a = m->private;
	struct bio_scope_stats sum;
	int i;

	bio_scope_adopter_read_stats(a, &sum);
	for (i = 0; i < BIO_SCOPE_STAT_NR; i++) {
		/* Without the detector, recursion is not observed: say so. */
		if (!IS_ENABLED(CONFIG_BIO_SCOPE_DETECTOR) &&
		    i >= BIO_SCOPE_STAT_REC_FIRST)
			break;
		seq_printf(m, "%s %llu\n", bio_scope_stat_names[i],
			   sum.count[i]);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bio_scope_stats);

/*
 * The userspace servers the kernel knows, one line each: adopter, device,
 * thread group (in the reader's pid namespace), whether it has commands
 * outstanding, its adopter's effective mode and whether it declared that
 * it applies scopes.  The vouch holds for a busy server whose mode is not
 * off, in the program image that attached.
 */
static int bio_scope_servers_show(struct seq_file *m, void *v)
{
	struct bio_scope_server *s;

	rcu_read_lock();
	list_for_each_entry_rcu(s, &bio_scope_servers, list)
		seq_printf(m, "%s %s tgid=%d busy=%d mode=%s declared=%d\n",
			   s->adopter->name, s->name ?: "?", pid_vnr(s->tgid),
			   s->busy(s),
			   bio_scope_mode_names[bio_scope_effective_mode(s->adopter)],
			   READ_ONCE(s->declared));
	rcu_read_unlock();
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bio_scope_servers);

/* Called with bio_scope_lock held. */
static void bio_scope_adopter_debugfs(struct bio_scope_adopter *a)
{
	if (!bio_scope_debugfs_adopters)
		return;
	a->debugfs = debugfs_create_dir(a->name, bio_scope_debugfs_adopters);
	if (IS_ENABLED(CONFIG_BIO_SCOPE_MODES))
		debugfs_create_file("mode", 0644, a->debugfs, a,
				    &bio_scope_mode_fops);
	debugfs_create_file("stats", 0444, a->debugfs, a,
			    &bio_scope_stats_fops);
}

/**
 * bio_scope_adopter_register - register a servicer that adopts bio scopes
 * @a: adopter with ->name (unique) and ->mode set, e.g. with
 *	BIO_SCOPE_ADOPTER_INIT()
 *
 * Allocates the counters and creates the adopter's debugfs directory.  May
 * be called from an initcall of built-in code, before or after bioscope's
 * own initcall.  A driver may register last in its init and ignore a
 * failure: an adopter that is not registered still works, without
 * counters and debugfs directory.
 *
 * Context: process context, may sleep.
 * Return: 0, -EINVAL, -EBUSY if @a is registered already, -EEXIST if
 * another adopter has the name, or -ENOMEM.
 */
int bio_scope_adopter_register(struct bio_scope_adopter *a)
{
	struct bio_scope_stats __percpu *stats;
	struct bio_scope_adopter *o;
	int ret = 0;

	if (!a->name || !a->name[0] || strchr(a->name, '/'))
		return -EINVAL;
	if (a->mode < 0 || a->mode > BIO_SCOPE_INHERIT)
		return -EINVAL;
	stats = alloc_percpu(struct bio_scope_stats);
	if (!stats)
		return -ENOMEM;

	mutex_lock(&bio_scope_lock);
	list_for_each_entry(o, &bio_scope_adopters, list) {
		if (o == a || !strcmp(o->name, a->name)) {
			ret = o == a ? -EBUSY : -EEXIST;
			goto out;
		}
	}
	/* Commands may be counted already: publish zeroed counters */
	smp_store_release(&a->stats, stats);
	list_add_tail(&a->list, &bio_scope_adopters);
	bio_scope_adopter_debugfs(a);
out:
	mutex_unlock(&bio_scope_lock);
	if (ret)
		free_percpu(stats);
	return ret;
}
EXPORT_SYMBOL_GPL(bio_scope_adopter_register);

/**
 * bio_scope_adopter_unregister - unregister a servicer
 * @a: adopter passed to bio_scope_adopter_register(), registered or not
 *
 * The caller must ensure no task is still between bio_scope_adopt() and
 * bio_scope_restore() on @a.
 * Drops the declaration of bio_scope_declare(): call it only once nothing
 * can declare on @a any more.
 *
 * Context: process context, may sleep.
 */
void bio_scope_adopter_unregister(struct bio_scope_adopter *a)
{
	put_pid(a->declared);
	a->declared = NULL;
#ifdef CONFIG_BIO_SCOPE_DETECTOR
	bio_scope_reported_forget(a);
#endif
	if (!a->stats)
		return;
	mutex_lock(&bio_scope_lock);
	list_del(&a->list);
	debugfs_remove_recursive(a->debugfs);
	a->debugfs = NULL;
	mutex_unlock(&bio_scope_lock);
	free_percpu(a->stats);
	a->stats = NULL;
}
EXPORT_SYMBOL_GPL(bio_scope_adopter_unregister);

static int __init bio_scope_init(void)
{
	struct bio_scope_adopter *a;

	mutex_lock(&bio_scope_lock);
	bio_scope_debugfs_root = debugfs_create_dir("bioscope", NULL);
	if (IS_ENABLED(CONFIG_BIO_SCOPE_MODES))
		debugfs_create_file("mode", 0644, bio_scope_debugfs_root, NULL,
				    &bio_scope_mode_fops);
	debugfs_create_file("servers", 0444, bio_scope_debugfs_root, NULL,
			    &bio_scope_servers_fops);
	bio_scope_debugfs_adopters = debugfs_create_dir("adopters",
							bio_scope_debugfs_root);
	/* Adopters registered by earlier initcalls. */
	list_for_each_entry(a, &bio_scope_adopters, list)
		bio_scope_adopter_debugfs(a);
	mutex_unlock(&bio_scope_lock);
	return 0;
}
subsys_initcall(bio_scope_init);
