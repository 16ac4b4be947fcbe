// SPDX-License-Identifier: GPL-2.0
/*
 * What is stacked above a served block device.
 *
 * A device that loop, dm-zoned or tcmu serves gets a stack id (sid) from
 * its driver.  Every gendisk carries a mask, bio_stack_below: the sids of
 * the served devices its IO reaches, its own included.  A filesystem sits
 * above a served device D if the mask of the disk it is mounted on has
 * D's bit.  While a task serves D, reclaim skips the shrinkers of those
 * filesystems only (bio_stack_shrinker_skip()), and may enter every other
 * filesystem's shrinker with its normal gfp mask.
 *
 * The masks are computed out of line.  Every change of a relation between
 * devices (a dm/md holder link, an fs claim, a disk added or removed, a
 * loop backing file, a tcm_loop LUN) bumps bio_stack_req and queues one
 * work item.  The worker walks the relations downward, from each disk to
 * what its IO goes to, with the locks of the subsystems, publishes every
 * mask, then publishes the value of bio_stack_req it started from as
 * bio_stack_done.  Reclaim takes no lock: while bio_stack_req differs from
 * bio_stack_done, a serving task skips every filesystem shrinker, as it did
 * without stack masks.  Nobody waits for the worker.
 *
 * Wrong answers can only make reclaim skip more: a sid past 61 shares
 * BIO_STACK_OVERFLOW, and a relation the worker cannot resolve (a busy
 * lock, a cycle, a stacked or network filesystem, a virtual disk nobody
 * resolved) gives BIO_STACK_UNKNOWN, which is above every served device.
 * A relation that is retargeted under a mounted filesystem
 * (loop_change_fd(), a dm table swap) is not seen by a reclaimer already
 * inside one shrinker call: the generation is tested again before each
 * shrinker, not during one.  Documented in Documentation/block/bio-scope.rst.
 */
#include <linux/backing-dev.h>
#include <linux/bio_scope.h>
#include <linux/bio_stack.h>
#include <linux/blkdev.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/seq_file.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include "blk.h"

#define CREATE_TRACE_POINTS
#include <trace/events/bio_stack.h>

/* Depth of the deepest stack the worker follows; deeper is UNKNOWN. */
#define BIO_STACK_DEPTH		32
/* Lower devices of a dm/md disk the worker follows; more is UNKNOWN. */
#define BIO_STACK_SLAVES	32

static DEFINE_IDA(bio_stack_ida);
static atomic_long_t bio_stack_req;
static unsigned long bio_stack_done;
/* reclaim_exclusion: false "all" (every fs shrinker), true "stack". */
static bool bio_stack_on;
/* bio_stack_file of every disk, the resolvers */
static DEFINE_MUTEX(bio_stack_lock);
static LIST_HEAD(bio_stack_resolvers);
static unsigned int bio_stack_edges_hint = 64;

static void bio_stack_recompute(struct work_struct *work);
static DECLARE_DELAYED_WORK(bio_stack_work, bio_stack_recompute);

/**
 * bio_stack_sid_get - allocate a stack id for a device a driver serves
 *
 * Context: may sleep.
 * Return: a sid for bio_stack_sid_bit() (servicers without a gendisk), to
 * be freed with bio_stack_sid_put().  Past 61 ids, all share the overflow
 * id, which is safe: its servicers skip each other's stacks too.
 */
int bio_stack_sid_get(void)
{
	int sid = ida_alloc_max(&bio_stack_ida, BIO_STACK_SIDS - 1, GFP_KERNEL);

	return sid < 0 ? BIO_STACK_SIDS : sid;
}
EXPORT_SYMBOL_GPL(bio_stack_sid_get);

/**
 * bio_stack_sid_put - free a stack id
 * @sid: from bio_stack_sid_get(), or a negative number for none
 */
void bio_stack_sid_put(int sid)
{
	if (sid >= 0 && sid < BIO_STACK_SIDS)
		ida_free(&bio_stack_ida, sid);
}
EXPORT_SYMBOL_GPL(bio_stack_sid_put);

/**
 * bio_stack_sid_bit - the mask bit of a stack id
 * @sid: from bio_stack_sid_get(), or a negative number for none
 *
 * Return: the bit, BIO_STACK_OVERFLOW for a shared id, 0 for none.
 */
u64 bio_stack_sid_bit(int sid)
{
	if (sid < 0)
		return 0;
	return sid < BIO_STACK_SIDS ? BIT_ULL(sid) : BIO_STACK_OVERFLOW;
}
EXPORT_SYMBOL_GPL(bio_stack_sid_bit);

static int bio_stack_disk_sid(const struct gendisk *disk)
{
	return (int)READ_ONCE(disk->bio_stack_sid) - 1;
}

/**
 * bio_stack_disk_serve - a driver serves @disk, and sends its IO to @file
 * @disk: the disk the driver serves
 * @file: the file the driver sends the disk's IO to (a loop backing file),
 *	or NULL if the disk's holder links (dm, md) already say where it goes
 *
 * Gives @disk a stack id if it has none.  Call it before IO flows to the
 * driver, and again when @file changes.  The caller keeps @file valid until
 * it calls bio_stack_disk_serve() again or bio_stack_disk_unserve().
 *
 * Context: may sleep.
 */
void bio_stack_disk_serve(struct gendisk *disk, struct file *file)
{
	int sid = READ_ONCE(disk->bio_stack_sid) ? -1 : bio_stack_sid_get();

	/* Nothing is allocated under bio_stack_lock. */
	mutex_lock(&bio_stack_lock);
	if (sid >= 0 && !disk->bio_stack_sid) {
		WRITE_ONCE(disk->bio_stack_sid, sid + 1);
		sid = -1;
	}
	disk->bio_stack_file = file;
	mutex_unlock(&bio_stack_lock);
	bio_stack_sid_put(sid);
	bio_stack_changed();
}
EXPORT_SYMBOL_GPL(bio_stack_disk_serve);

/**
 * bio_stack_disk_unserve - the driver no longer serves @disk
 * @disk: a disk given to bio_stack_disk_serve()
 *
 * Frees the disk's stack id, and forgets its file.
 *
 * Context: may sleep.
 */
void bio_stack_disk_unserve(struct gendisk *disk)
{
	int sid;

	mutex_lock(&bio_stack_lock);
	sid = bio_stack_disk_sid(disk);
	WRITE_ONCE(disk->bio_stack_sid, 0);
	disk->bio_stack_file = NULL;
	mutex_unlock(&bio_stack_lock);
	bio_stack_changed();
	bio_stack_sid_put(sid);
}
EXPORT_SYMBOL_GPL(bio_stack_disk_unserve);

/* A new disk is above everything until the worker has seen it. */
void bio_stack_disk_init(struct gendisk *disk)
{
	disk->bio_stack_below = BIO_STACK_UNKNOWN;
}

/**
 * bio_stack_changed - a relation between devices changed
 *
 * Called after the new relation is visible and before IO flows over it.
 * Until the worker has recomputed the masks, serving tasks skip every
 * filesystem shrinker.
 *
 * Context: any context that may queue work.
 */
void bio_stack_changed(void)
{
	atomic_long_inc_return_release(&bio_stack_req);
	mod_delayed_work(system_unbound_wq, &bio_stack_work, 0);
}
EXPORT_SYMBOL_GPL(bio_stack_changed);

/**
 * bio_stack_resolver_register - add a driver's resolver
 * @r: the resolver, with @r->lower set
 */
void bio_stack_resolver_register(struct bio_stack_resolver *r)
{
	mutex_lock(&bio_stack_lock);
	list_add_tail(&r->list, &bio_stack_resolvers);
	mutex_unlock(&bio_stack_lock);
	bio_stack_changed();
}
EXPORT_SYMBOL_GPL(bio_stack_resolver_register);

/**
 * bio_stack_resolver_unregister - remove a driver's resolver
 * @r: the resolver
 */
void bio_stack_resolver_unregister(struct bio_stack_resolver *r)
{
	mutex_lock(&bio_stack_lock);
	list_del(&r->list);
	mutex_unlock(&bio_stack_lock);
	bio_stack_changed();
}
EXPORT_SYMBOL_GPL(bio_stack_resolver_unregister);

/*
 * The graph: one node per disk, in @bits its own sid bit and what its
 * resolvers reported, and edges to the disks its IO goes to.  The worker
 * fills it; bio_stack_compute() turns @bits into the masks.
 */
struct bio_stack_edge {
	unsigned int from;
	int index;		/* of @to in the graph */
	struct gendisk *to;
};

struct bio_stack_graph {
	unsigned int nr, nr_edges, max_edges;
	struct gendisk **disks;
	u64 *bits;
	u8 *state;
	unsigned int *start;	/* nr + 1: edges of node i are [start[i], start[i + 1]) */
	unsigned int *to;
	unsigned int *pos;
	struct bio_stack_edge *edges;
	bool busy;		/* a lock was busy: do not publish, retry */
	bool full;		/* the edge array overflowed */
};

struct bio_stack_visit {
	struct bio_stack_graph *g;
	unsigned int from;
};

enum { BIO_STACK_NEW, BIO_STACK_ACTIVE, BIO_STACK_DONE };

/*
 * below(i) = bits(i) | below(j) for every edge i -> j.  A cycle, or a chain
 * deeper than BIO_STACK_DEPTH, gives UNKNOWN.
 */
static u64 bio_stack_dfs(struct bio_stack_graph *g, unsigned int i, int depth)
{
	unsigned int e;
	u64 m;

	if (g->state[i] == BIO_STACK_DONE)
		return g->bits[i];
	if (g->state[i] == BIO_STACK_ACTIVE || depth >= BIO_STACK_DEPTH)
		return BIO_STACK_UNKNOWN;
	g->state[i] = BIO_STACK_ACTIVE;
	m = g->bits[i];
	for (e = g->start[i]; e < g->start[i + 1]; e++)
		m |= bio_stack_dfs(g, g->to[e], depth + 1);
	g->bits[i] = m;
	g->state[i] = BIO_STACK_DONE;
	return m;
}

/*
 * The masks of a graph whose @start and @to are set: a pure function, for
 * the worker and for KUnit.
 */
static void bio_stack_compute(struct bio_stack_graph *g)
{
	unsigned int i;

	memset(g->state, BIO_STACK_NEW, g->nr);
	for (i = 0; i < g->nr; i++)
		bio_stack_dfs(g, i, 0);
}

static int bio_stack_index(struct bio_stack_graph *g, struct gendisk *disk)
{
	unsigned int i;

	for (i = 0; i < g->nr; i++)
		if (g->disks[i] == disk)
			return i;
	return -1;
}

static void bio_stack_edge(struct bio_stack_graph *g, unsigned int from,
			   struct gendisk *to)
{
	if (g->nr_edges == g->max_edges) {
		g->bits[from] |= BIO_STACK_UNKNOWN;
		g->full = true;		/* more room next time */
		return;
	}
	g->edges[g->nr_edges].from = from;
	g->edges[g->nr_edges].to = to;
	g->nr_edges++;
}

/**
 * bio_stack_visit_disk - the disk being resolved sends IO to @lower
 * @v: the visit
 * @lower: the disk
 */
void bio_stack_visit_disk(struct bio_stack_visit *v, struct gendisk *lower)
{
	bio_stack_edge(v->g, v->from, lower);
}
EXPORT_SYMBOL_GPL(bio_stack_visit_disk);

/**
 * bio_stack_visit_bits - the disk being resolved reaches these stack ids
 * @v: the visit
 * @bits: sid bits (bio_stack_sid_bit()), or BIO_STACK_UNKNOWN
 */
void bio_stack_visit_bits(struct bio_stack_visit *v, u64 bits)
{
	v->g->bits[v->from] |= bits;
}
EXPORT_SYMBOL_GPL(bio_stack_visit_bits);

/**
 * bio_stack_visit_busy - the disk could not be resolved now
 * @v: the visit
 *
 * For a resolver whose trylock failed: the disk is UNKNOWN, and the worker
 * tries again shortly.
 */
void bio_stack_visit_busy(struct bio_stack_visit *v)
{
	v->g->bits[v->from] |= BIO_STACK_UNKNOWN;
	v->g->busy = true;
}
EXPORT_SYMBOL_GPL(bio_stack_visit_busy);

/*
 * A filesystem with no block device of its own is above nothing served if
 * it has no backing store (tmpfs, proc), and UNKNOWN if it is stacked or
 * has a bdi of its own (overlayfs, nfs, fuse, 9p, btrfs).
 */
static u64 bio_stack_sb_nodisk(const struct super_block *sb)
{
	if (sb->s_stack_depth || sb->s_bdi != &noop_backing_dev_info)
		return BIO_STACK_UNKNOWN;
	return 0;
}

/**
 * bio_stack_visit_file - the disk being resolved sends IO to @file
 * @v: the visit
 * @file: a block device file, or a file on a filesystem
 */
void bio_stack_visit_file(struct bio_stack_visit *v, struct file *file)
{
	struct inode *inode = file->f_mapping->host;
	struct super_block *sb;

	if (S_ISBLK(inode->i_mode)) {
		bio_stack_visit_disk(v, I_BDEV(inode)->bd_disk);
		return;
	}
	sb = file_inode(file)->i_sb;
	if (sb->s_bdev)
		bio_stack_visit_disk(v, sb->s_bdev->bd_disk);
	else
		bio_stack_visit_bits(v, bio_stack_sb_nodisk(sb));
}
EXPORT_SYMBOL_GPL(bio_stack_visit_file);

/*
 * A filesystem that claims more than its s_bdev (an XFS log or realtime
 * device, an ext4 journal device) writes to those too: the disk it is
 * mounted on gets an edge to each of them.  The holder of a claim with
 * fs_holder_ops is its super_block, valid under bd_holder_lock.
 */
static void bio_stack_fs_devices(struct bio_stack_graph *g, unsigned int i)
{
	struct gendisk *disk = g->disks[i];
	struct block_device *part;
	unsigned long idx;

	rcu_read_lock();
	xa_for_each(&disk->part_tbl, idx, part) {
		struct super_block *sb;
		int from;

		if (!mutex_trylock(&part->bd_holder_lock)) {
			g->bits[i] |= BIO_STACK_UNKNOWN;
			g->busy = true;
			continue;
		}
		sb = part->bd_holder_ops == &fs_holder_ops ? part->bd_holder : NULL;
		if (sb && sb->s_bdev && sb->s_bdev != part &&
		    sb->s_bdev->bd_disk != disk) {
			from = bio_stack_index(g, sb->s_bdev->bd_disk);
			if (from >= 0)
				bio_stack_edge(g, from, disk);
			else	/* its disk appeared meanwhile */
				g->busy = true;
		}
		mutex_unlock(&part->bd_holder_lock);
	}
	rcu_read_unlock();
}

static void bio_stack_resolve(struct bio_stack_graph *g, unsigned int i)
{
	struct bio_stack_visit v = { .g = g, .from = i };
	struct gendisk *disk = g->disks[i];
	struct gendisk *slaves[BIO_STACK_SLAVES];
	struct bio_stack_resolver *r;
	bool known;
	int n, k;

	n = bd_slave_disks(disk, slaves, BIO_STACK_SLAVES);
	if (n > BIO_STACK_SLAVES)
		g->bits[i] |= BIO_STACK_UNKNOWN;
	for (k = 0; k < min(n, BIO_STACK_SLAVES); k++)
		bio_stack_visit_disk(&v, slaves[k]);
	known = n > 0;
	mutex_lock(&bio_stack_lock);
	if (disk->bio_stack_file) {
		bio_stack_visit_file(&v, disk->bio_stack_file);
		known = true;
	}
	list_for_each_entry(r, &bio_stack_resolvers, list) {
		if (r->lower(disk, &v)) {
			known = true;
			break;
		}
	}
	mutex_unlock(&bio_stack_lock);
	/*
	 * A disk on a bus (virtio, PCI, a SCSI host) is hardware.  A virtual
	 * disk nobody resolved (nbd, zram, md without holders, an unbound
	 * loop) may send its IO anywhere: UNKNOWN.
	 */
	if (!known && !disk_to_dev(disk)->parent)
		g->bits[i] |= BIO_STACK_UNKNOWN;
	bio_stack_fs_devices(g, i);
}

/* Sort the edges by node (counting sort) into @start and @to. */
static void bio_stack_index_edges(struct bio_stack_graph *g)
{
	unsigned int e, i, f;
	int to;

	memset(g->start, 0, (g->nr + 1) * sizeof(*g->start));
	for (e = 0; e < g->nr_edges; e++) {
		to = bio_stack_index(g, g->edges[e].to);
		g->edges[e].index = to;
		if (to < 0)	/* not in the snapshot: changed meanwhile */
			g->bits[g->edges[e].from] |= BIO_STACK_UNKNOWN;
		else
			g->start[g->edges[e].from + 1]++;
	}
	for (i = 0; i < g->nr; i++)
		g->start[i + 1] += g->start[i];
	memcpy(g->pos, g->start, g->nr * sizeof(*g->pos));
	for (e = 0; e < g->nr_edges; e++) {
		f = g->edges[e].from;
		if (g->edges[e].index >= 0)
			g->to[g->pos[f]++] = g->edges[e].index;
	}
}

static void bio_stack_free(struct bio_stack_graph *g)
{
	unsigned int i;

	for (i = 0; i < g->nr; i++)
		put_device(disk_to_dev(g->disks[i]));
	kvfree(g->disks);
	kvfree(g->bits);
	kvfree(g->state);
	kvfree(g->start);
	kvfree(g->to);
	kvfree(g->pos);
	kvfree(g->edges);
}

static void bio_stack_recompute(struct work_struct *work)
{
	unsigned long start = atomic_long_read_acquire(&bio_stack_req);
	struct bio_stack_graph g = { };
	struct class_dev_iter iter;
	unsigned int i, cap = 0;
	struct device *dev;

	class_dev_iter_init(&iter, &block_class, NULL, &disk_type);
	while ((dev = class_dev_iter_next(&iter))) {
		if (g.nr == cap) {
			struct gendisk **d;

			cap = cap ? 2 * cap : 32;
			d = kvrealloc(g.disks, cap * sizeof(*d), GFP_KERNEL);
			if (!d)
				break;
			g.disks = d;
		}
		get_device(dev);
		g.disks[g.nr++] = dev_to_disk(dev);
	}
	class_dev_iter_exit(&iter);
	if (dev)
		goto retry;	/* out of memory: try again later */

	g.max_edges = max(bio_stack_edges_hint, 4 * g.nr);
	g.bits = kvcalloc(g.nr + 1, sizeof(*g.bits), GFP_KERNEL);
	g.state = kvcalloc(g.nr + 1, sizeof(*g.state), GFP_KERNEL);
	g.start = kvcalloc(g.nr + 1, sizeof(*g.start), GFP_KERNEL);
	g.pos = kvcalloc(g.nr + 1, sizeof(*g.pos), GFP_KERNEL);
	g.edges = kvcalloc(g.max_edges, sizeof(*g.edges), GFP_KERNEL);
	g.to = kvcalloc(g.max_edges, sizeof(*g.to), GFP_KERNEL);
	if (!g.bits || !g.state || !g.start || !g.pos || !g.edges || !g.to)
		goto retry;

	/* Own ids first: resolving a disk may mark another one UNKNOWN. */
	for (i = 0; i < g.nr; i++)
		g.bits[i] = bio_stack_sid_bit(bio_stack_disk_sid(g.disks[i]));
	for (i = 0; i < g.nr; i++)
		bio_stack_resolve(&g, i);
	bio_stack_index_edges(&g);
	bio_stack_compute(&g);
	for (i = 0; i < g.nr; i++)
		WRITE_ONCE(g.disks[i]->bio_stack_below, g.bits[i]);
	if (g.full)
		bio_stack_edges_hint = min(2 * g.max_edges, 1U << 16);
	/*
	 * Pairs with bio_stack_stale(): the masks, then the generation.  A run
	 * that met a busy lock publishes conservative masks but not the
	 * generation: readers keep skipping every filesystem until a run
	 * resolves everything.
	 */
	if (!g.busy) {
		/* release: the masks above before the generation */
		smp_store_release(&bio_stack_done, start);
		goto out;
	}
retry:
	/* Masks are conservative meanwhile; be precise soon. */
	mod_delayed_work(system_unbound_wq, &bio_stack_work, HZ / 10);
out:
	bio_stack_free(&g);
}

/* ---- reclaim ---- */

/* Counters and the table of skips, per servicer and filesystem. */
enum {
	BIO_STACK_CNT_SKIP,	/* an above fs's shrinker skipped */
	BIO_STACK_CNT_ALLOWED,	/* a not-above fs's shrinker ran with __GFP_FS */
	BIO_STACK_CNT_STALE,	/* masks being recomputed: every fs skipped */
	BIO_STACK_CNT_NR,
};

static atomic_long_t bio_stack_cnt[BIO_STACK_CNT_NR];

#define BIO_STACK_TABLE_MAX	32
static struct bio_stack_row {
	char servicer[16];
	char fs[32];
	dev_t dev;
	bool skipped;
	unsigned long count;
} bio_stack_table[BIO_STACK_TABLE_MAX + 1];	/* + "other" */
static DEFINE_SPINLOCK(bio_stack_table_lock);

/* The current task's servicer, for the table and the trace. */
static void bio_stack_servicer(char *name, size_t size)
{
	struct bio_scope_adopter *a = current->bio_scope_serving;

	strscpy(name, "server", size);
	if (a)
		strscpy(name, a->name, size);
	else
		bio_scope_server_stack_bits(name, size);
}

static void bio_stack_note(struct super_block *sb, u64 below, u64 bits,
			   bool skipped)
{
	struct bio_stack_row *row;
	char who[16];
	int i;

	bio_stack_servicer(who, sizeof(who));
	atomic_long_inc(&bio_stack_cnt[skipped ? BIO_STACK_CNT_SKIP :
					BIO_STACK_CNT_ALLOWED]);
	trace_bio_stack_reclaim(who, sb, below, bits, skipped);

	spin_lock(&bio_stack_table_lock);
	for (i = 0; i < BIO_STACK_TABLE_MAX; i++) {
		row = &bio_stack_table[i];
		if (!row->count) {
			strscpy(row->servicer, who);
			snprintf(row->fs, sizeof(row->fs), "%s:%s",
				 sb->s_type->name, sb->s_id);
			row->dev = sb->s_dev;
			row->skipped = skipped;
			break;
		}
		if (row->dev == sb->s_dev && row->skipped == skipped &&
		    !strcmp(row->servicer, who))
			break;
	}
	bio_stack_table[i].count++;
	spin_unlock(&bio_stack_table_lock);
}

/* Are the published masks older than the last change? */
static bool bio_stack_stale(void)
{
	/* Pairs with the worker's release: masks at least as new as done. */
	return smp_load_acquire(&bio_stack_done) !=
	       (unsigned long)atomic_long_read(&bio_stack_req);
}

/* The ids a task serving @disk (or, without one, a server) serves. */
static u64 bio_stack_task_bits(struct gendisk *disk)
{
	u64 bits;

	if (disk)
		bits = bio_stack_sid_bit(bio_stack_disk_sid(disk));
	else
		bits = bio_scope_server_stack_bits(NULL, 0);
	return bits ?: BIO_STACK_ALL;
}

/**
 * bio_stack_reclaim_bits - the stack ids the current task serves
 *
 * Called by reclaim for a serving task (bio_scope_local_throttle()).
 *
 * Return: the sid bits of the devices the current task serves, or
 * BIO_STACK_ALL when targeting is off, the masks are being recomputed, or
 * the task serves a device without a sid: then it skips every filesystem
 * shrinker.
 */
u64 bio_stack_reclaim_bits(void)
{
	struct gendisk *disk = current->bio_scope_disk;

	if (!READ_ONCE(bio_stack_on))
		return BIO_STACK_ALL;
	if (bio_stack_stale()) {
		atomic_long_inc(&bio_stack_cnt[BIO_STACK_CNT_STALE]);
		return BIO_STACK_ALL;
	}
	return bio_stack_task_bits(disk);
}

/**
 * bio_stack_shrinker_skip - may a serving task run this shrinker?
 * @shrinker: the shrinker
 * @gfp_mask: the reclaim gfp mask for it; __GFP_FS is cleared for a
 *	shrinker that belongs to no filesystem
 * @bits: bio_stack_reclaim_bits(), not 0
 *
 * Return: true to skip @shrinker: it belongs to a filesystem stacked above
 * a device the task serves.
 */
bool bio_stack_shrinker_skip(struct shrinker *shrinker, gfp_t *gfp_mask,
			     u64 bits)
{
	struct super_block *sb = shrinker->bio_stack_sb;
	u64 below;

	if (bits == BIO_STACK_ALL || !(*gfp_mask & __GFP_FS))
		return false;		/* __GFP_FS already clear */
	/* A change since shrink_slab() took @bits: skip every filesystem. */
	if (!sb || bio_stack_stale()) {
		*gfp_mask &= ~__GFP_FS;
		return false;
	}
	below = sb->s_bdev ? READ_ONCE(sb->s_bdev->bd_disk->bio_stack_below) :
			     bio_stack_sb_nodisk(sb);
	if (below & (bits | BIO_STACK_UNKNOWN)) {
		bio_stack_note(sb, below, bits, true);
		return true;
	}
	bio_stack_note(sb, below, bits, false);
	return false;
}

/* ---- debugfs: bioscope/stack, bioscope/reclaim_exclusion ---- */

static void bio_stack_show_sb(struct super_block *sb, void *arg)
{
	struct seq_file *m = arg;
	u64 below = sb->s_bdev ?
		READ_ONCE(sb->s_bdev->bd_disk->bio_stack_below) :
		bio_stack_sb_nodisk(sb);

	if (below)
		seq_printf(m, "sb %s %s below=%#llx\n", sb->s_type->name,
			   sb->s_id, below);
}

static int bio_stack_show(struct seq_file *m, void *v)
{
	struct class_dev_iter iter;
	struct device *dev;
	int i;

	seq_printf(m, "reclaim_exclusion %s\n",
		   READ_ONCE(bio_stack_on) ? "stack" : "all");
	seq_printf(m, "gen req=%lu done=%lu\n",
		   (unsigned long)atomic_long_read(&bio_stack_req),
		   READ_ONCE(bio_stack_done));
	seq_printf(m, "count skip=%ld allowed=%ld stale=%ld\n",
		   atomic_long_read(&bio_stack_cnt[BIO_STACK_CNT_SKIP]),
		   atomic_long_read(&bio_stack_cnt[BIO_STACK_CNT_ALLOWED]),
		   atomic_long_read(&bio_stack_cnt[BIO_STACK_CNT_STALE]));
	class_dev_iter_init(&iter, &block_class, NULL, &disk_type);
	while ((dev = class_dev_iter_next(&iter))) {
		struct gendisk *disk = dev_to_disk(dev);
		u64 below = READ_ONCE(disk->bio_stack_below);
		int sid = bio_stack_disk_sid(disk);

		if (!below && sid < 0)
			continue;
		seq_printf(m, "disk %s", disk->disk_name);
		if (sid >= 0)
			seq_printf(m, " sid=%d", sid);
		seq_printf(m, " below=%#llx\n", below);
	}
	class_dev_iter_exit(&iter);
	iterate_supers(bio_stack_show_sb, m);
	spin_lock(&bio_stack_table_lock);
	for (i = 0; i <= BIO_STACK_TABLE_MAX && bio_stack_table[i].count; i++)
		seq_printf(m, "%s %s %s %u:%u %lu\n",
			   bio_stack_table[i].skipped ? "skip" : "allowed",
			   i < BIO_STACK_TABLE_MAX ?
			   bio_stack_table[i].servicer : "other",
			   i < BIO_STACK_TABLE_MAX ? bio_stack_table[i].fs : "-",
			   MAJOR(bio_stack_table[i].dev),
			   MINOR(bio_stack_table[i].dev),
			   bio_stack_table[i].count);
	spin_unlock(&bio_stack_table_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bio_stack);

static ssize_t bio_stack_knob_read(struct file *file, char __user *ubuf,
				   size_t count, loff_t *ppos)
{
	const char *s = READ_ONCE(bio_stack_on) ? "all [stack]\n" :
						  "[all] stack\n";

	return simple_read_from_buffer(ubuf, count, ppos, s, strlen(s));
}

static ssize_t bio_stack_knob_write(struct file *file, const char __user *ubuf,
				    size_t count, loff_t *ppos)
{
	char buf[8];

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	if (sysfs_streq(buf, "all"))
		WRITE_ONCE(bio_stack_on, false);
	else if (sysfs_streq(buf, "stack"))
		WRITE_ONCE(bio_stack_on, true);
	else
		return -EINVAL;
	return count;
}

static const struct file_operations bio_stack_knob_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = bio_stack_knob_read,
	.write = bio_stack_knob_write,
	.llseek = default_llseek,
};

static int __init bio_stack_init(void)
{
	struct dentry *root = debugfs_lookup("bioscope", NULL);

	if (IS_ERR_OR_NULL(root))
		return 0;
	debugfs_create_file("stack", 0400, root, NULL, &bio_stack_fops);
	debugfs_create_file("reclaim_exclusion", 0600, root, NULL,
			    &bio_stack_knob_fops);
	dput(root);
	return 0;
}
late_initcall(bio_stack_init);

#ifdef CONFIG_BIO_SCOPE_KUNIT_TEST
#include "bio_stack_kunit.c"
#endif
