/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What is stacked above a served block device (block/bio_stack.c).
 *
 * A driver that serves a device (loop, dm-zoned, tcmu) gives it a stack
 * id (bio_stack_disk_serve(), or bio_stack_sid_get() without a gendisk).
 * Every gendisk has a mask of the stack ids its IO reaches, its own
 * included; a filesystem is above a served device if the mask of the disk
 * it sits on has that device's id.  While a task serves a device, reclaim
 * skips the shrinkers of the filesystems above it and may enter all others.
 */
#ifndef _LINUX_BIO_STACK_H
#define _LINUX_BIO_STACK_H

#include <linux/bits.h>
#include <linux/list.h>
#include <linux/types.h>

struct file;
struct gendisk;
struct shrinker;
struct super_block;

#define BIO_STACK_SIDS		62
#define BIO_STACK_OVERFLOW	BIT_ULL(62)	/* shared by ids past 61 */
#define BIO_STACK_UNKNOWN	BIT_ULL(63)	/* above every served device */
#define BIO_STACK_ALL		(~0ULL)

struct bio_stack_visit;

/**
 * struct bio_stack_resolver - tells what a driver's disk sends its IO to
 * @lower: called for every disk; returns false if @disk is not the
 *	driver's.  Otherwise it reports what is below @disk with
 *	bio_stack_visit_disk(), bio_stack_visit_file() and
 *	bio_stack_visit_bits(), and returns true.  Called by the worker
 *	under a mutex: it may sleep, but must not wait for IO, or for a lock
 *	that a task waiting for IO may hold (use a trylock and
 *	bio_stack_visit_busy()).
 * @list: on the list of resolvers
 */
struct bio_stack_resolver {
	bool (*lower)(struct gendisk *disk, struct bio_stack_visit *v);
	struct list_head list;
};

#ifdef CONFIG_BIO_SCOPE_STACK
int bio_stack_sid_get(void);
void bio_stack_sid_put(int sid);
u64 bio_stack_sid_bit(int sid);
void bio_stack_disk_serve(struct gendisk *disk, struct file *file);
void bio_stack_disk_unserve(struct gendisk *disk);
void bio_stack_disk_init(struct gendisk *disk);
void bio_stack_changed(void);
void bio_stack_resolver_register(struct bio_stack_resolver *r);
void bio_stack_resolver_unregister(struct bio_stack_resolver *r);
void bio_stack_visit_disk(struct bio_stack_visit *v, struct gendisk *lower);
void bio_stack_visit_file(struct bio_stack_visit *v, struct file *file);
void bio_stack_visit_bits(struct bio_stack_visit *v, u64 bits);
void bio_stack_visit_busy(struct bio_stack_visit *v);
u64 bio_stack_reclaim_bits(void);
bool bio_stack_shrinker_skip(struct shrinker *shrinker, gfp_t *gfp_mask,
			     u64 bits);
#else
static inline int bio_stack_sid_get(void) { return -1; }
static inline void bio_stack_sid_put(int sid) { }
static inline u64 bio_stack_sid_bit(int sid) { return 0; }
static inline void bio_stack_disk_serve(struct gendisk *disk,
					struct file *file) { }
static inline void bio_stack_disk_unserve(struct gendisk *disk) { }
static inline void bio_stack_disk_init(struct gendisk *disk) { }
static inline void bio_stack_changed(void) { }
static inline void bio_stack_resolver_register(struct bio_stack_resolver *r)
{
}

static inline void bio_stack_resolver_unregister(struct bio_stack_resolver *r)
{
}

static inline void bio_stack_visit_disk(struct bio_stack_visit *v,
					struct gendisk *lower) { }
static inline void bio_stack_visit_file(struct bio_stack_visit *v,
					struct file *file) { }
static inline void bio_stack_visit_bits(struct bio_stack_visit *v, u64 bits)
{
}

static inline void bio_stack_visit_busy(struct bio_stack_visit *v) { }

static inline u64 bio_stack_reclaim_bits(void) { return BIO_STACK_ALL; }
static inline bool bio_stack_shrinker_skip(struct shrinker *shrinker,
					   gfp_t *gfp_mask, u64 bits)
{
	return false;
}
#endif /* CONFIG_BIO_SCOPE_STACK */

#endif /* _LINUX_BIO_STACK_H */
