// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for block/bio_stack.c, which includes this file: the masks
 * of a stack graph, and the reclaim side (the generation test, which
 * shrinkers a serving task skips).
 */
#include <kunit/test.h>

#define T_NODES	40

struct bio_stack_test {
	struct bio_stack_graph g;
	unsigned long tags[T_NODES + 1];	/* disk "addresses": keys only */
};

static struct bio_stack_graph *t_graph(struct kunit *test, unsigned int nr,
				       unsigned int max_edges)
{
	struct bio_stack_test *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	struct bio_stack_graph *g;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, t);
	g = &t->g;
	g->nr = nr;
	g->max_edges = max_edges;
	g->disks = kunit_kcalloc(test, nr, sizeof(*g->disks), GFP_KERNEL);
	g->bits = kunit_kcalloc(test, nr + 1, sizeof(*g->bits), GFP_KERNEL);
	g->state = kunit_kcalloc(test, nr + 1, sizeof(*g->state), GFP_KERNEL);
	g->start = kunit_kcalloc(test, nr + 1, sizeof(*g->start), GFP_KERNEL);
	g->pos = kunit_kcalloc(test, nr + 1, sizeof(*g->pos), GFP_KERNEL);
	g->edges = kunit_kcalloc(test, max_edges, sizeof(*g->edges), GFP_KERNEL);
	g->to = kunit_kcalloc(test, max_edges, sizeof(*g->to), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, g->disks && g->bits && g->state && g->start &&
			  g->pos && g->edges && g->to);
	for (i = 0; i < nr; i++)
		g->disks[i] = (struct gendisk *)&t->tags[i];
	return g;
}

/* Edge from node @from to node @to, as a resolver reports it. */
static void t_edge(struct bio_stack_graph *g, unsigned int from,
		   unsigned int to)
{
	struct bio_stack_visit v = { .g = g, .from = from };

	bio_stack_visit_disk(&v, g->disks[to]);
}

static void t_run(struct bio_stack_graph *g)
{
	bio_stack_index_edges(g);
	bio_stack_compute(g);
}

static void bio_stack_test_sid_bits(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, bio_stack_sid_bit(-1), 0ULL);
	KUNIT_EXPECT_EQ(test, bio_stack_sid_bit(0), BIT_ULL(0));
	KUNIT_EXPECT_EQ(test, bio_stack_sid_bit(61), BIT_ULL(61));
	KUNIT_EXPECT_EQ(test, bio_stack_sid_bit(BIO_STACK_SIDS),
			BIO_STACK_OVERFLOW);
	KUNIT_EXPECT_EQ(test, bio_stack_sid_bit(1000), BIO_STACK_OVERFLOW);
}

/*
 * The nested stack of the design: ext4 (A) on loop1 on XFS (B) on
 * dm-zoned (dm-0) on sdb (tcm_loop) -> tcmu zbc0 -> a file on ext4 (C) on
 * vda.  Nodes: vda 0, sdb 1, dm-0 2, loop1 3.  Sids: loop1 0, dm-0 1,
 * zbc0 2 (sdb's resolver reports it).  C's backing file is in userspace:
 * nothing links tcmu to vda.
 */
static void bio_stack_test_nested(struct kunit *test)
{
	struct bio_stack_graph *g = t_graph(test, 4, 16);

	g->bits[1] = BIT_ULL(2);
	g->bits[2] = BIT_ULL(1);
	t_edge(g, 2, 1);	/* dm-0 holds sdb */
	g->bits[3] = BIT_ULL(0);
	t_edge(g, 3, 2);	/* loop1's file is on XFS on dm-0 */
	t_run(g);
	KUNIT_EXPECT_EQ(test, g->bits[0], 0ULL);
	KUNIT_EXPECT_EQ(test, g->bits[1], BIT_ULL(2));
	KUNIT_EXPECT_EQ(test, g->bits[2], BIT_ULL(1) | BIT_ULL(2));
	KUNIT_EXPECT_EQ(test, g->bits[3], BIT_ULL(0) | BIT_ULL(1) | BIT_ULL(2));
}

/* A diamond (raid1 of two served disks) and a node reached twice. */
static void bio_stack_test_diamond(struct kunit *test)
{
	struct bio_stack_graph *g = t_graph(test, 5, 16);

	g->bits[1] = BIT_ULL(4);
	g->bits[2] = BIT_ULL(5);
	g->bits[3] = BIT_ULL(6);
	t_edge(g, 0, 1);
	t_edge(g, 0, 2);
	t_edge(g, 1, 3);
	t_edge(g, 2, 3);
	t_edge(g, 4, 0);
	t_run(g);
	KUNIT_EXPECT_EQ(test, g->bits[0], BIT_ULL(4) | BIT_ULL(5) | BIT_ULL(6));
	KUNIT_EXPECT_EQ(test, g->bits[4], g->bits[0]);
	KUNIT_EXPECT_EQ(test, g->bits[3], BIT_ULL(6));
}

/* A cycle cannot be resolved: UNKNOWN, above everything. */
static void bio_stack_test_cycle(struct kunit *test)
{
	struct bio_stack_graph *g = t_graph(test, 4, 16);

	t_edge(g, 0, 1);
	t_edge(g, 1, 2);
	t_edge(g, 2, 0);
	g->bits[3] = BIT_ULL(3);
	t_run(g);
	KUNIT_EXPECT_TRUE(test, g->bits[0] & BIO_STACK_UNKNOWN);
	KUNIT_EXPECT_TRUE(test, g->bits[1] & BIO_STACK_UNKNOWN);
	KUNIT_EXPECT_TRUE(test, g->bits[2] & BIO_STACK_UNKNOWN);
	KUNIT_EXPECT_EQ(test, g->bits[3], BIT_ULL(3));
}

/* Deeper than BIO_STACK_DEPTH: UNKNOWN at the top, exact at the bottom. */
static void bio_stack_test_depth(struct kunit *test)
{
	struct bio_stack_graph *g = t_graph(test, T_NODES, 64);
	unsigned int i;

	for (i = 0; i + 1 < T_NODES; i++)
		t_edge(g, i, i + 1);
	g->bits[T_NODES - 1] = BIT_ULL(7);
	t_run(g);
	KUNIT_EXPECT_TRUE(test, g->bits[0] & BIO_STACK_UNKNOWN);
	KUNIT_EXPECT_EQ(test, g->bits[T_NODES - 2], BIT_ULL(7));
}

/*
 * An edge to a disk the worker did not see (added meanwhile), and more
 * edges than room: the node is UNKNOWN, and the next round is bigger.
 */
static void bio_stack_test_missing_and_full(struct kunit *test)
{
	struct bio_stack_graph *g = t_graph(test, 3, 2);
	struct bio_stack_visit v = { .g = g, .from = 1 };

	/* the tag after the last node's: a disk not in the graph */
	g->bits[2] = BIT_ULL(9);
	bio_stack_visit_disk(&v, (struct gendisk *)((unsigned long *)g->disks[2] + 1));
	t_edge(g, 0, 2);
	t_edge(g, 2, 0);	/* no room */
	t_run(g);
	KUNIT_EXPECT_TRUE(test, g->bits[1] & BIO_STACK_UNKNOWN);
	KUNIT_EXPECT_TRUE(test, g->bits[2] & BIO_STACK_UNKNOWN);
	KUNIT_EXPECT_TRUE(test, g->full);
	KUNIT_EXPECT_FALSE(test, g->bits[0] & ~(BIT_ULL(9) | BIO_STACK_UNKNOWN));
}

/* A served disk, a filesystem on it and one on another disk. */
struct t_fs {
	struct file_system_type type;
	struct block_device bdev;
	struct super_block sb;
	struct shrinker shrinker;
};

static struct t_fs *t_fs(struct kunit *test, struct gendisk *disk)
{
	struct t_fs *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, f);
	f->type.name = "t_fs";
	f->bdev.bd_disk = disk;
	f->sb.s_type = &f->type;
	f->sb.s_bdev = disk ? &f->bdev : NULL;
	f->sb.s_bdi = &noop_backing_dev_info;
	strscpy(f->sb.s_id, "t");
	f->shrinker.bio_stack_sb = &f->sb;
	return f;
}

static void bio_stack_test_shrinker_skip(struct kunit *test)
{
	struct gendisk *upper = kunit_kzalloc(test, sizeof(*upper), GFP_KERNEL);
	struct gendisk *other = kunit_kzalloc(test, sizeof(*other), GFP_KERNEL);
	struct t_fs *above, *beside, *nodisk;
	struct backing_dev_info *bdi = kunit_kzalloc(test, sizeof(*bdi), GFP_KERNEL);
	struct shrinker unowned = { };
	long skips = atomic_long_read(&bio_stack_cnt[BIO_STACK_CNT_SKIP]);
	gfp_t gfp;

	KUNIT_ASSERT_TRUE(test, upper && other && bdi);
	upper->bio_stack_below = BIT_ULL(3) | BIT_ULL(5);
	other->bio_stack_below = BIT_ULL(5);
	above = t_fs(test, upper);
	beside = t_fs(test, other);
	nodisk = t_fs(test, NULL);

	gfp = GFP_KERNEL;	/* serving sid 3: skip the fs above it */
	KUNIT_EXPECT_TRUE(test, bio_stack_shrinker_skip(&above->shrinker, &gfp,
							BIT_ULL(3)));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&bio_stack_cnt[BIO_STACK_CNT_SKIP]),
			skips + 1);
	gfp = GFP_KERNEL;	/* ... and run the other with __GFP_FS */
	KUNIT_EXPECT_FALSE(test, bio_stack_shrinker_skip(&beside->shrinker, &gfp,
							 BIT_ULL(3)));
	KUNIT_EXPECT_TRUE(test, gfp & __GFP_FS);
	gfp = GFP_KERNEL;	/* tmpfs-like: above nothing */
	KUNIT_EXPECT_FALSE(test, bio_stack_shrinker_skip(&nodisk->shrinker, &gfp,
							 BIT_ULL(3)));
	KUNIT_EXPECT_TRUE(test, gfp & __GFP_FS);
	gfp = GFP_KERNEL;	/* a bdi of its own (nfs, 9p): UNKNOWN */
	nodisk->sb.s_bdi = bdi;
	KUNIT_EXPECT_TRUE(test, bio_stack_shrinker_skip(&nodisk->shrinker, &gfp,
							BIT_ULL(3)));
	gfp = GFP_KERNEL;	/* a disk not yet seen: UNKNOWN */
	other->bio_stack_below = BIO_STACK_UNKNOWN;
	KUNIT_EXPECT_TRUE(test, bio_stack_shrinker_skip(&beside->shrinker, &gfp,
							BIT_ULL(3)));
	gfp = GFP_KERNEL;	/* an unowned shrinker runs without __GFP_FS */
	KUNIT_EXPECT_FALSE(test, bio_stack_shrinker_skip(&unowned, &gfp,
							 BIT_ULL(3)));
	KUNIT_EXPECT_FALSE(test, gfp & __GFP_FS);
	gfp = GFP_NOFS;		/* a NOFS command: nothing to decide */
	KUNIT_EXPECT_FALSE(test, bio_stack_shrinker_skip(&above->shrinker, &gfp,
							 BIT_ULL(3)));
	gfp = GFP_KERNEL;	/* stack unknown: the caller cleared __GFP_FS */
	KUNIT_EXPECT_FALSE(test, bio_stack_shrinker_skip(&above->shrinker, &gfp,
							 BIO_STACK_ALL));
}

/*
 * The ids a serving task gets: its disk's, or BIO_STACK_ALL for a disk
 * without one; and BIO_STACK_ALL while targeting is off (the default, which
 * no test changes: servicers may be running).
 */
static void bio_stack_test_reclaim_bits(struct kunit *test)
{
	struct gendisk *disk = kunit_kzalloc(test, sizeof(*disk), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, disk);
	disk->bio_stack_sid = 4 + 1;
	KUNIT_EXPECT_EQ(test, bio_stack_task_bits(disk), BIT_ULL(4));
	disk->bio_stack_sid = BIO_STACK_SIDS + 1;
	KUNIT_EXPECT_EQ(test, bio_stack_task_bits(disk), BIO_STACK_OVERFLOW);
	disk->bio_stack_sid = 0;
	KUNIT_EXPECT_EQ(test, bio_stack_task_bits(disk), BIO_STACK_ALL);
	if (!READ_ONCE(bio_stack_on))
		KUNIT_EXPECT_EQ(test, bio_stack_reclaim_bits(), BIO_STACK_ALL);
}

static struct kunit_case bio_stack_test_cases[] = {
	KUNIT_CASE(bio_stack_test_sid_bits),
	KUNIT_CASE(bio_stack_test_nested),
	KUNIT_CASE(bio_stack_test_diamond),
	KUNIT_CASE(bio_stack_test_cycle),
	KUNIT_CASE(bio_stack_test_depth),
	KUNIT_CASE(bio_stack_test_missing_and_full),
	KUNIT_CASE(bio_stack_test_shrinker_skip),
	KUNIT_CASE(bio_stack_test_reclaim_bits),
	{}
};

static struct kunit_suite bio_stack_test_suite = {
	.name = "bio_scope_stack",
	.test_cases = bio_stack_test_cases,
};

kunit_test_suite(bio_stack_test_suite);
