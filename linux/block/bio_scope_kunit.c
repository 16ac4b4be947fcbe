// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for memory allocation scopes carried by bios.
 */
#include <kunit/test.h>
#include <linux/bio.h>
#include <linux/bio_scope.h>
#include <linux/blk-mq.h>
#include <linux/cred.h>
#include <linux/gfp.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/writeback.h>
#include <target/target_core_fabric.h>
#include <uapi/linux/target_core_user.h>
#include <uapi/linux/ublk_cmd.h>

#include "blk.h"

#define NOFS	BIO_SCOPE_NOFS
#define NOIO	BIO_SCOPE_NOIO
#define WB	BIO_SCOPE_WB
#define ADOPT_PF	BIO_SCOPE_PF_ADOPT

struct bio_scope_test_ctx {
	struct bio_set bs;
	struct page *page;
	struct bio_scope_adopter a;
	struct bio_scope_adopter b;
	enum bio_scope_mode saved_mode;
	bool bs_ready;
};

static int bio_scope_test_init(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ctx);
	test->priv = ctx;
	ctx->saved_mode = bio_scope_get_mode();
	KUNIT_ASSERT_EQ(test, bioset_init(&ctx->bs, 4, 0, BIOSET_NEED_BVECS), 0);
	ctx->bs_ready = true;
	ctx->page = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ctx->page);
	ctx->a = (struct bio_scope_adopter)BIO_SCOPE_ADOPTER_INIT("kunit-a");
	ctx->b = (struct bio_scope_adopter)BIO_SCOPE_ADOPTER_INIT("kunit-b");
	KUNIT_ASSERT_EQ(test, bio_scope_adopter_register(&ctx->a), 0);
	KUNIT_ASSERT_EQ(test, bio_scope_adopter_register(&ctx->b), 0);
	/* Tests start from scoped mode and a task in no scope. */
	KUNIT_ASSERT_EQ(test, bio_scope_set_mode(BIO_SCOPE_SCOPED), 0);
	KUNIT_ASSERT_EQ(test, current->flags &
			(BIO_SCOPE_PF_MASK | BIO_SCOPE_PF_ADOPT), 0);
	return 0;
}

static void bio_scope_test_exit(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;

	if (!ctx)
		return;
	bio_scope_set_mode(ctx->saved_mode);
	if (ctx->b.stats)
		bio_scope_adopter_unregister(&ctx->b);
	if (ctx->a.stats)
		bio_scope_adopter_unregister(&ctx->a);
	if (ctx->page)
		__free_page(ctx->page);
	if (ctx->bs_ready)
		bioset_exit(&ctx->bs);
}

/* A bio with one page (8 sectors) of data and no bdev. */
static struct bio *test_bio(struct kunit *test, blk_opf_t opf)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	struct bio *bio;

	bio = bio_alloc_bioset(NULL, 1, opf, GFP_KERNEL, &ctx->bs);
	KUNIT_ASSERT_NOT_NULL(test, bio);
	__bio_add_page(bio, ctx->page, PAGE_SIZE, 0);
	return bio;
}

static blk_opf_t scope_of(const struct bio *bio)
{
	return bio->bi_opf & REQ_SCOPE_MASK;
}

/* Encoding: NOIO implies NOFS, union is max, bits fit and are distinct. */
static void bio_scope_test_encoding(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, hweight32((__force u32)REQ_SCOPE_MASK), 3);
	KUNIT_EXPECT_EQ(test, REQ_SCOPE_MASK & REQ_OP_MASK, 0);
	KUNIT_EXPECT_TRUE(test, NOIO & NOFS);
	KUNIT_EXPECT_EQ(test, NOFS | NOIO, NOIO);
	KUNIT_EXPECT_EQ(test, BIO_SCOPE_NONE | NOFS, NOFS);
	/* A lone NOIO bit is the NOIO level; WB is no level. */
	KUNIT_EXPECT_EQ(test, bio_scope_to_pflags(REQ_SCOPE_NOIO),
			PF_MEMALLOC_NOIO);
	KUNIT_EXPECT_EQ(test, bio_scope_to_pflags(NOFS | WB), PF_MEMALLOC_NOFS);
	KUNIT_EXPECT_EQ(test, bio_scope_to_pflags(WB), 0);
	KUNIT_EXPECT_LE(test, __REQ_NR_BITS, 32);
}

static void bio_scope_test_from_task_levels(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, bio_scope_from_task(0), BIO_SCOPE_NONE);
	KUNIT_EXPECT_EQ(test, bio_scope_from_task(PF_MEMALLOC_NOFS), NOFS);
	KUNIT_EXPECT_EQ(test, bio_scope_from_task(PF_MEMALLOC_NOIO), NOIO);
	KUNIT_EXPECT_EQ(test,
			bio_scope_from_task(PF_MEMALLOC_NOFS | PF_MEMALLOC_NOIO),
			NOIO);
	/* Unrelated flags carry nothing. */
	KUNIT_EXPECT_EQ(test, bio_scope_from_task(PF_KTHREAD | PF_WQ_WORKER |
						  PF_MEMALLOC_PIN),
			BIO_SCOPE_NONE);
}

static void bio_scope_test_from_task_reclaim(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, bio_scope_from_task(PF_MEMALLOC), NOIO | WB);
	KUNIT_EXPECT_EQ(test, bio_scope_from_task(PF_KSWAPD), NOIO | WB);
	KUNIT_EXPECT_EQ(test, bio_scope_from_task(PF_KSWAPD | PF_MEMALLOC |
						  PF_MEMALLOC_NOFS), NOIO | WB);
	/* A servicer's role is not an origin: LOCAL_THROTTLE carries nothing. */
	KUNIT_EXPECT_EQ(test, bio_scope_from_task(PF_LOCAL_THROTTLE),
			BIO_SCOPE_NONE);
	KUNIT_EXPECT_EQ(test,
			bio_scope_from_task(PF_LOCAL_THROTTLE | PF_MEMALLOC_NOFS),
			NOFS);
	/* PR_SET_IO_FLUSHER: its NOIO is captured, not its throttling. */
	KUNIT_EXPECT_EQ(test,
			bio_scope_from_task(PF_LOCAL_THROTTLE | PF_MEMALLOC_NOIO),
			NOIO);
}

static void bio_scope_test_to_pflags(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, bio_scope_to_pflags(BIO_SCOPE_NONE), 0);
	KUNIT_EXPECT_EQ(test, bio_scope_to_pflags(NOFS), PF_MEMALLOC_NOFS);
	KUNIT_EXPECT_EQ(test, bio_scope_to_pflags(NOIO), PF_MEMALLOC_NOIO);
	/* WB is not a task flag: throttling follows the servicer's role. */
	KUNIT_EXPECT_EQ(test, bio_scope_to_pflags(WB), 0);
	KUNIT_EXPECT_EQ(test, bio_scope_to_pflags(NOIO | WB), PF_MEMALLOC_NOIO);
	/* Other bits of bi_opf are ignored. */
	KUNIT_EXPECT_EQ(test, bio_scope_to_pflags(REQ_OP_WRITE | REQ_SYNC |
						  REQ_FUA | NOFS),
			PF_MEMALLOC_NOFS);
	/* Round trip through the task flags. */
	KUNIT_EXPECT_EQ(test, bio_scope_from_task(bio_scope_to_pflags(NOIO)),
			NOIO);
	KUNIT_EXPECT_EQ(test,
			bio_scope_from_task(bio_scope_to_pflags(NOFS | WB)),
			NOFS);
}

/* The helper submit_bio() calls, in each scope of the current task. */
static void bio_scope_test_capture_none(struct kunit *test)
{
	struct bio *bio = test_bio(test, REQ_OP_WRITE | REQ_SYNC);

	bio_scope_capture(bio);
	KUNIT_EXPECT_EQ(test, bio->bi_opf, REQ_OP_WRITE | REQ_SYNC);
	bio_put(bio);
}

static void bio_scope_test_capture_nofs(struct kunit *test)
{
	struct bio *bio = test_bio(test, REQ_OP_WRITE | REQ_SYNC);
	unsigned int f = memalloc_nofs_save();

	bio_scope_capture(bio);
	memalloc_nofs_restore(f);
	KUNIT_EXPECT_EQ(test, scope_of(bio), NOFS);
	KUNIT_EXPECT_EQ(test, bio->bi_opf & ~REQ_SCOPE_MASK,
			REQ_OP_WRITE | REQ_SYNC);
	bio_put(bio);
}

static void bio_scope_test_capture_noio(struct kunit *test)
{
	struct bio *bio = test_bio(test, REQ_OP_READ);
	unsigned int f = memalloc_noio_save();

	bio_scope_capture(bio);
	memalloc_noio_restore(f);
	KUNIT_EXPECT_EQ(test, scope_of(bio), NOIO);
	KUNIT_EXPECT_EQ(test, bio_op(bio), REQ_OP_READ);
	bio_put(bio);
}

static void bio_scope_test_capture_reclaim(struct kunit *test)
{
	struct bio *bio = test_bio(test, REQ_OP_WRITE);
	unsigned int f = memalloc_noreclaim_save();

	bio_scope_capture(bio);
	memalloc_noreclaim_restore(f);
	KUNIT_EXPECT_EQ(test, scope_of(bio), NOIO | WB);
	bio_put(bio);
}

static void bio_scope_test_capture_flusher(struct kunit *test)
{
	struct bio *bio = test_bio(test, REQ_OP_WRITE);
	unsigned int f = memalloc_flags_save(PF_LOCAL_THROTTLE |
					     PF_MEMALLOC_NOFS);

	bio_scope_capture(bio);
	memalloc_flags_restore(f);
	/* The flusher's NOFS is its origin; its local throttling is a role. */
	KUNIT_EXPECT_EQ(test, scope_of(bio), NOFS);
	bio_put(bio);
}

/* Capture only adds: a bio stamped NOIO stays NOIO from a NOFS task. */
static void bio_scope_test_capture_keeps_existing(struct kunit *test)
{
	struct bio *bio = test_bio(test, REQ_OP_WRITE | NOIO);
	unsigned int f = memalloc_nofs_save();

	bio_scope_capture(bio);
	memalloc_nofs_restore(f);
	KUNIT_EXPECT_EQ(test, scope_of(bio), NOIO);
	bio_put(bio);
}

/* Global mode "off" patches capture out (static key) and back in. */
static void bio_scope_test_capture_mode_off(struct kunit *test)
{
	struct bio *bio = test_bio(test, REQ_OP_WRITE);
	struct writeback_control wbc = { .sync_mode = WB_SYNC_NONE };
	unsigned int f;

	KUNIT_ASSERT_EQ(test, bio_scope_set_mode(BIO_SCOPE_OFF), 0);
	KUNIT_EXPECT_FALSE(test, bio_scope_enabled());
	KUNIT_EXPECT_FALSE(test, static_key_enabled(&bio_scope_capture_key));
	f = memalloc_noio_save();
	bio_scope_capture(bio);
	memalloc_noio_restore(f);
	wbc_init_bio(&wbc, bio);
	bio_scope_swap(bio);
	KUNIT_EXPECT_EQ(test, scope_of(bio), BIO_SCOPE_NONE);

	KUNIT_ASSERT_EQ(test, bio_scope_set_mode(BIO_SCOPE_BLANKET), 0);
	KUNIT_EXPECT_TRUE(test, bio_scope_enabled());
	f = memalloc_noio_save();
	bio_scope_capture(bio);
	memalloc_noio_restore(f);
	KUNIT_EXPECT_EQ(test, scope_of(bio), NOIO);
	bio_put(bio);
}

static void bio_scope_test_swap(struct kunit *test)
{
	struct bio *bio = test_bio(test, REQ_OP_WRITE | REQ_SWAP);

	bio_scope_swap(bio);
	KUNIT_EXPECT_EQ(test, scope_of(bio), NOIO | WB);
	KUNIT_EXPECT_TRUE(test, bio->bi_opf & REQ_SWAP);
	bio_put(bio);
}

static void bio_scope_test_writeback(struct kunit *test)
{
	struct writeback_control wbc = { .sync_mode = WB_SYNC_ALL };
	struct bio *bio = test_bio(test, REQ_OP_WRITE | wbc_to_write_flags(&wbc));

	wbc_init_bio(&wbc, bio);
	KUNIT_EXPECT_EQ(test, scope_of(bio), NOFS | WB);
	KUNIT_EXPECT_TRUE(test, bio->bi_opf & REQ_SYNC);
	bio_put(bio);
}

/* Writeback from reclaim: union of writeback (NOFS|WB) and reclaim (NOIO). */
static void bio_scope_test_writeback_from_reclaim(struct kunit *test)
{
	struct writeback_control wbc = { .sync_mode = WB_SYNC_NONE };
	struct bio *bio = test_bio(test, REQ_OP_WRITE);
	unsigned int f;

	wbc_init_bio(&wbc, bio);
	f = memalloc_noreclaim_save();
	bio_scope_capture(bio);
	memalloc_noreclaim_restore(f);
	KUNIT_EXPECT_EQ(test, scope_of(bio), NOIO | WB);
	bio_put(bio);
}

static void bio_scope_test_iomap(struct kunit *test)
{
	struct kiocb iocb = {};
	struct bio *bio;
	blk_opf_t scope;
	unsigned int f;

	if (!IS_ENABLED(CONFIG_FS_IOMAP))
		kunit_skip(test, "CONFIG_FS_IOMAP is off");

	/* Direct IO: the caller's scope, captured at iomap_dio_rw() time... */
	KUNIT_EXPECT_EQ(test, iomap_dio_scope(&iocb), BIO_SCOPE_NONE);
	f = memalloc_noio_save();
	scope = iomap_dio_scope(&iocb);
	memalloc_noio_restore(f);
	KUNIT_EXPECT_EQ(test, scope, NOIO);
	/* The kiocb's own RWF scope, when the caller did not enter it. */
	iocb.ki_flags = IOCB_MEMALLOC_NOFS | IOCB_LOCAL_THROTTLE;
	KUNIT_EXPECT_EQ(test, iomap_dio_scope(&iocb), NOFS | WB);
	iocb.ki_flags = IOCB_MEMALLOC_NOFS | IOCB_MEMALLOC_NOIO;
	KUNIT_EXPECT_EQ(test, iomap_dio_scope(&iocb), NOIO);
	iocb.ki_flags = 0;
	/* ...stamped on a bio later, from a context in no scope. */
	bio = test_bio(test, REQ_OP_WRITE | REQ_SYNC | REQ_IDLE);
	iomap_dio_scope_bio(bio, scope);
	KUNIT_EXPECT_EQ(test, scope_of(bio), NOIO);
	bio_put(bio);
	/* Writeback ioend bios go through wbc_init_bio(): see above. */
}

static void bio_scope_test_clone(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	struct bio *bio = test_bio(test, REQ_OP_WRITE | REQ_FUA | NOFS | WB);
	struct bio *plain = test_bio(test, REQ_OP_WRITE);
	struct bio *clone, *clone2;

	clone = bio_alloc_clone(NULL, bio, GFP_KERNEL, &ctx->bs);
	KUNIT_ASSERT_NOT_NULL(test, clone);
	KUNIT_EXPECT_EQ(test, scope_of(clone), NOFS | WB);
	KUNIT_EXPECT_EQ(test, clone->bi_opf, bio->bi_opf);
	KUNIT_EXPECT_TRUE(test, bio_flagged(clone, BIO_CLONED));

	clone2 = bio_alloc_clone(NULL, plain, GFP_KERNEL, &ctx->bs);
	KUNIT_ASSERT_NOT_NULL(test, clone2);
	KUNIT_EXPECT_EQ(test, scope_of(clone2), BIO_SCOPE_NONE);

	bio_put(clone2);
	bio_put(clone);
	bio_put(plain);
	bio_put(bio);
}

static void bio_scope_test_split(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	struct bio *bio = test_bio(test, REQ_OP_READ | NOIO);
	struct bio *split;

	KUNIT_ASSERT_EQ(test, bio_sectors(bio), PAGE_SIZE >> SECTOR_SHIFT);
	split = bio_split(bio, 4, GFP_KERNEL, &ctx->bs);
	KUNIT_ASSERT_NOT_NULL(test, split);
	KUNIT_EXPECT_EQ(test, bio_sectors(split), 4);
	KUNIT_EXPECT_EQ(test, scope_of(split), NOIO);
	KUNIT_EXPECT_EQ(test, scope_of(bio), NOIO);
	bio_put(split);
	bio_put(bio);
}

static void bio_scope_test_chain(struct kunit *test)
{
	struct bio *parent = test_bio(test, REQ_OP_WRITE | NOIO);
	struct bio *child = test_bio(test, REQ_OP_WRITE | WB);
	struct bio *parent2 = test_bio(test, REQ_OP_WRITE);
	struct bio *child2 = test_bio(test, REQ_OP_WRITE | NOFS);

	bio_chain(child, parent);
	KUNIT_EXPECT_EQ(test, scope_of(child), NOIO | WB);
	KUNIT_EXPECT_EQ(test, scope_of(parent), NOIO);
	KUNIT_EXPECT_PTR_EQ(test, child->bi_private, (void *)parent);

	/* An unscoped parent takes nothing away from the child. */
	bio_chain(child2, parent2);
	KUNIT_EXPECT_EQ(test, scope_of(child2), NOFS);
	KUNIT_EXPECT_EQ(test, scope_of(parent2), BIO_SCOPE_NONE);

	child->bi_end_io = NULL;
	child2->bi_end_io = NULL;
	bio_put(child2);
	bio_put(parent2);
	bio_put(child);
	bio_put(parent);
}

static void bio_scope_test_merge_union(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, blk_scope_merge(REQ_OP_WRITE, REQ_OP_WRITE),
			REQ_OP_WRITE);
	KUNIT_EXPECT_EQ(test, blk_scope_merge(REQ_OP_WRITE | NOFS,
					      REQ_OP_WRITE | NOIO),
			REQ_OP_WRITE | NOIO);
	KUNIT_EXPECT_EQ(test, blk_scope_merge(REQ_OP_WRITE | NOIO,
					      REQ_OP_WRITE | NOFS),
			REQ_OP_WRITE | NOIO);
	KUNIT_EXPECT_EQ(test, blk_scope_merge(REQ_OP_WRITE | NOFS,
					      REQ_OP_WRITE | WB),
			REQ_OP_WRITE | NOFS | WB);
	/* Only scope bits cross: not FUA, not SYNC, not the op. */
	KUNIT_EXPECT_EQ(test, blk_scope_merge(REQ_OP_WRITE,
					      REQ_OP_READ | REQ_FUA | REQ_SYNC |
					      NOFS),
			REQ_OP_WRITE | NOFS);
}

static blk_status_t bio_scope_test_queue_rq(struct blk_mq_hw_ctx *hctx,
					    const struct blk_mq_queue_data *bd)
{
	return BLK_STS_IOERR;
}

static const struct blk_mq_ops bio_scope_test_mq_ops = {
	.queue_rq = bio_scope_test_queue_rq,
};

/* A bio of one page (8 sectors) at @sector of @disk. */
static struct bio *test_disk_bio(struct kunit *test, struct gendisk *disk,
				 blk_opf_t opf, sector_t sector)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	struct bio *bio;

	bio = bio_alloc_bioset(disk->part0, 1, opf, GFP_KERNEL, &ctx->bs);
	KUNIT_ASSERT_NOT_NULL(test, bio);
	__bio_add_page(bio, ctx->page, PAGE_SIZE, 0);
	bio->bi_iter.bi_sector = sector;
	return bio;
}

/*
 * The block layer's own bio merges, on a request of a blk-mq queue that is
 * never started: the request is allocated with the first bio's bi_opf as
 * cmd_flags and built from it, as blk_mq_submit_bio() does, and
 * blk_bio_list_merge() merges the others at its back and at its front
 * (bio_attempt_back_merge(), bio_attempt_front_merge()).  A merge of two
 * requests, attempt_merge(), is only reached through an I/O scheduler; the
 * blk_scope_merge() it calls is tested above.
 */
static void bio_scope_test_request_merge(struct kunit *test)
{
	struct blk_mq_tag_set *set;
	struct gendisk *disk;
	struct request *rq;
	struct bio *b1, *b2, *b3;
	LIST_HEAD(list);

	set = kunit_kzalloc(test, sizeof(*set), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, set);
	KUNIT_ASSERT_EQ(test, blk_mq_alloc_sq_tag_set(set, &bio_scope_test_mq_ops,
						      1, 0), 0);
	disk = blk_mq_alloc_disk(set, NULL, NULL);
	if (IS_ERR(disk)) {
		blk_mq_free_tag_set(set);
		KUNIT_FAIL(test, "blk_mq_alloc_disk: %ld", PTR_ERR(disk));
		return;
	}

	b1 = test_disk_bio(test, disk, REQ_OP_WRITE | REQ_SYNC, 8);
	b2 = test_disk_bio(test, disk, REQ_OP_WRITE | REQ_SYNC | NOFS, 16);
	b3 = test_disk_bio(test, disk, REQ_OP_WRITE | REQ_SYNC | NOIO | WB, 0);

	rq = blk_mq_alloc_request(disk->queue, b1->bi_opf, 0);
	if (IS_ERR(rq)) {
		KUNIT_FAIL(test, "blk_mq_alloc_request: %ld", PTR_ERR(rq));
		goto out_bios;
	}
	/* Never issued: no IO accounting. */
	rq->rq_flags &= ~RQF_IO_STAT;
	rq->__sector = b1->bi_iter.bi_sector;
	blk_rq_bio_prep(rq, b1, 1);
	list_add(&rq->queuelist, &list);
	KUNIT_EXPECT_EQ(test, blk_rq_scope(rq), BIO_SCOPE_NONE);

	/* Back merge. */
	KUNIT_EXPECT_TRUE(test, blk_bio_list_merge(disk->queue, &list, b2, 1));
	KUNIT_EXPECT_PTR_EQ(test, rq->biotail, b2);
	KUNIT_EXPECT_EQ(test, blk_rq_scope(rq), NOFS);
	KUNIT_EXPECT_EQ(test, req_op(rq), REQ_OP_WRITE);
	KUNIT_EXPECT_TRUE(test, rq->cmd_flags & REQ_SYNC);

	/* Front merge. */
	KUNIT_EXPECT_TRUE(test, blk_bio_list_merge(disk->queue, &list, b3, 1));
	KUNIT_EXPECT_PTR_EQ(test, rq->bio, b3);
	KUNIT_EXPECT_EQ(test, blk_rq_scope(rq), NOIO | WB);
	KUNIT_EXPECT_EQ(test, blk_rq_bytes(rq), 3 * PAGE_SIZE);

	list_del_init(&rq->queuelist);
	rq->bio = NULL;
	rq->biotail = NULL;
	blk_mq_free_request(rq);
out_bios:
	b1->bi_next = NULL;
	b2->bi_next = NULL;
	b3->bi_next = NULL;
	bio_put(b3);
	bio_put(b2);
	bio_put(b1);
	put_disk(disk);
	blk_mq_free_tag_set(set);
}

/* Adoption applies exactly what the scope asks, and restore undoes it. */
static void bio_scope_test_adopt_scoped(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	unsigned int before = current->flags, s;

	/* NOFS/NOIO follow the command; LOCAL_THROTTLE is the role. */
	s = bio_scope_adopt(&ctx->a, NULL, REQ_OP_WRITE | NOFS);
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF,
			PF_MEMALLOC_NOFS | PF_LOCAL_THROTTLE);
	KUNIT_EXPECT_EQ(test, current_gfp_context(GFP_KERNEL),
			GFP_KERNEL & ~__GFP_FS);
	bio_scope_restore(&ctx->a, s);
	KUNIT_EXPECT_EQ(test, current->flags, before);

	s = bio_scope_adopt(&ctx->a, NULL, NOIO | WB);
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF,
			PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE);
	KUNIT_EXPECT_EQ(test, current_gfp_context(GFP_KERNEL), GFP_NOIO);
	bio_scope_restore(&ctx->a, s);
	KUNIT_EXPECT_EQ(test, current->flags, before);

	/* An unscoped command: full reclaim, but never global throttling. */
	s = bio_scope_adopt(&ctx->a, NULL, BIO_SCOPE_NONE);
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF, PF_LOCAL_THROTTLE);
	KUNIT_EXPECT_EQ(test, current_gfp_context(GFP_KERNEL), GFP_KERNEL);
	bio_scope_restore(&ctx->a, s);
	KUNIT_EXPECT_EQ(test, current->flags, before);
}

static void bio_scope_test_adopt_nofs_in_noio(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	unsigned int before = current->flags, outer, inner;

	outer = bio_scope_adopt(&ctx->a, NULL, NOIO);
	inner = bio_scope_adopt(&ctx->b, NULL, NOFS);
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF,
			PF_MEMALLOC_NOIO | PF_MEMALLOC_NOFS |
			PF_LOCAL_THROTTLE);
	/* NOIO still wins inside. */
	KUNIT_EXPECT_EQ(test, current_gfp_context(GFP_KERNEL), GFP_NOIO);
	bio_scope_restore(&ctx->b, inner);
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF,
			PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE);
	bio_scope_restore(&ctx->a, outer);
	KUNIT_EXPECT_EQ(test, current->flags, before);
}

static void bio_scope_test_adopt_noio_in_nofs(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	unsigned int before = current->flags, outer, inner;

	outer = bio_scope_adopt(&ctx->a, NULL, NOFS);
	inner = bio_scope_adopt(&ctx->a, NULL, NOIO | WB);
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF,
			PF_MEMALLOC_NOFS | PF_MEMALLOC_NOIO |
			PF_LOCAL_THROTTLE);
	bio_scope_restore(&ctx->a, inner);
	/* The inner level only clears what it set. */
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF,
			PF_MEMALLOC_NOFS | PF_LOCAL_THROTTLE);
	KUNIT_EXPECT_EQ(test, current_gfp_context(GFP_KERNEL),
			GFP_KERNEL & ~__GFP_FS);
	bio_scope_restore(&ctx->a, outer);
	KUNIT_EXPECT_EQ(test, current->flags, before);
}

/* Flags the task had before adoption survive the restore. */
static void bio_scope_test_adopt_preexisting(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	unsigned int nofs, s;

	nofs = memalloc_nofs_save();
	s = bio_scope_adopt(&ctx->a, NULL, NOFS | WB);
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF,
			PF_MEMALLOC_NOFS | PF_LOCAL_THROTTLE);
	bio_scope_restore(&ctx->a, s);
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF, PF_MEMALLOC_NOFS);
	memalloc_nofs_restore(nofs);
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF, 0);
}

static void bio_scope_test_adopt_blanket(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	unsigned int before = current->flags, s;

	KUNIT_ASSERT_EQ(test, bio_scope_set_mode(BIO_SCOPE_BLANKET), 0);
	s = bio_scope_adopt(&ctx->a, NULL, BIO_SCOPE_NONE);
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF,
			PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE);
	bio_scope_restore(&ctx->a, s);
	KUNIT_EXPECT_EQ(test, current->flags, before);
}

static void bio_scope_test_adopt_off(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	unsigned int before = current->flags, s;

	KUNIT_ASSERT_EQ(test, bio_scope_set_mode(BIO_SCOPE_OFF), 0);
	s = bio_scope_adopt(&ctx->a, NULL, NOIO | WB);
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF, 0);
#ifdef CONFIG_BIO_SCOPE_DETECTOR
	/* Still serving, for the detector. */
	KUNIT_EXPECT_PTR_EQ(test, current->bio_scope_serving, &ctx->a);
#endif
	bio_scope_restore(&ctx->a, s);
	KUNIT_EXPECT_EQ(test, current->flags, before);
}

/* A per-adopter override beats the global mode; "inherit" follows it. */
static void bio_scope_test_adopter_override(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	unsigned int s;

	KUNIT_EXPECT_EQ(test, bio_scope_effective_mode(&ctx->a),
			BIO_SCOPE_SCOPED);
	KUNIT_ASSERT_EQ(test, bio_scope_adopter_set_mode(&ctx->a,
							 BIO_SCOPE_BLANKET), 0);
	KUNIT_EXPECT_EQ(test, bio_scope_effective_mode(&ctx->a),
			BIO_SCOPE_BLANKET);
	KUNIT_EXPECT_EQ(test, bio_scope_effective_mode(&ctx->b),
			BIO_SCOPE_SCOPED);

	s = bio_scope_adopt(&ctx->a, NULL, NOFS);
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF,
			PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE);
	bio_scope_restore(&ctx->a, s);
	s = bio_scope_adopt(&ctx->b, NULL, NOFS);
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF,
			PF_MEMALLOC_NOFS | PF_LOCAL_THROTTLE);
	bio_scope_restore(&ctx->b, s);

	KUNIT_ASSERT_EQ(test, bio_scope_adopter_set_mode(&ctx->a,
							 BIO_SCOPE_INHERIT), 0);
	KUNIT_ASSERT_EQ(test, bio_scope_set_mode(BIO_SCOPE_OFF), 0);
	KUNIT_EXPECT_EQ(test, bio_scope_effective_mode(&ctx->a), BIO_SCOPE_OFF);
	KUNIT_EXPECT_EQ(test, bio_scope_adopter_set_mode(&ctx->a, 7), -EINVAL);
	KUNIT_EXPECT_EQ(test, bio_scope_set_mode(BIO_SCOPE_INHERIT), -EINVAL);
}

/* A fake disk: bio_scope_adopt() only records it, the log names it. */
static struct gendisk *bio_scope_test_disk(struct kunit *test,
					   const char *name)
{
	struct gendisk *disk = kunit_kzalloc(test, sizeof(*disk), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, disk);
	strscpy(disk->disk_name, name, sizeof(disk->disk_name));
	return disk;
}

static void bio_scope_test_adopt_rq(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	unsigned int before = current->flags, s;
	struct request_queue *q;
	struct request *rq;

	q = kunit_kzalloc(test, sizeof(*q), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, q);
	q->disk = bio_scope_test_disk(test, "kunit0");
	rq = kunit_kzalloc(test, sizeof(*rq), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, rq);
	rq->q = q;
	rq->cmd_flags = REQ_OP_WRITE | REQ_SYNC | NOFS | WB;
	s = bio_scope_adopt_rq(&ctx->a, rq);
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF,
			PF_MEMALLOC_NOFS | PF_LOCAL_THROTTLE);
#ifdef CONFIG_BIO_SCOPE_DETECTOR
	/* The task serves the request's disk. */
	KUNIT_EXPECT_PTR_EQ(test, current->bio_scope_disk, q->disk);
#endif
	bio_scope_restore(&ctx->a, s);
	KUNIT_EXPECT_EQ(test, current->flags, before);
}

static void bio_scope_test_stats(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	struct bio_scope_stats st;

	bio_scope_restore(&ctx->a, bio_scope_adopt(&ctx->a, NULL, NOFS));
	bio_scope_restore(&ctx->a, bio_scope_adopt(&ctx->a, NULL, NOIO | WB));
	bio_scope_restore(&ctx->a, bio_scope_adopt(&ctx->a, NULL, WB));
	bio_scope_restore(&ctx->a, bio_scope_adopt(&ctx->a, NULL, 0));
	KUNIT_ASSERT_EQ(test, bio_scope_set_mode(BIO_SCOPE_BLANKET), 0);
	bio_scope_restore(&ctx->a, bio_scope_adopt(&ctx->a, NULL, NOFS));

	bio_scope_adopter_read_stats(&ctx->a, &st);
	KUNIT_EXPECT_EQ(test, st.count[BIO_SCOPE_STAT_SERVED], 5);
	KUNIT_EXPECT_EQ(test, st.count[BIO_SCOPE_STAT_NOFS], 1);
	KUNIT_EXPECT_EQ(test, st.count[BIO_SCOPE_STAT_NOIO], 1);
	KUNIT_EXPECT_EQ(test, st.count[BIO_SCOPE_STAT_WB], 2);
	KUNIT_EXPECT_EQ(test, st.count[BIO_SCOPE_STAT_BLANKET], 1);
	bio_scope_adopter_read_stats(&ctx->b, &st);
	KUNIT_EXPECT_EQ(test, st.count[BIO_SCOPE_STAT_SERVED], 0);
}

static void bio_scope_test_register(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	struct bio_scope_adopter dup = BIO_SCOPE_ADOPTER_INIT("kunit-a");
	struct bio_scope_adopter bad = BIO_SCOPE_ADOPTER_INIT("a/b");
	struct bio_scope_adopter anon = BIO_SCOPE_ADOPTER_INIT(NULL);
	struct bio_scope_stats __percpu *stats;

	KUNIT_EXPECT_EQ(test, bio_scope_adopter_register(&dup), -EEXIST);
	KUNIT_EXPECT_EQ(test, bio_scope_adopter_register(&bad), -EINVAL);
	KUNIT_EXPECT_EQ(test, bio_scope_adopter_register(&anon), -EINVAL);
	KUNIT_EXPECT_EQ(test, ctx->a.mode, BIO_SCOPE_INHERIT);
	KUNIT_EXPECT_NOT_NULL(test, ctx->a.stats);

	/* Registering an adopter twice changes nothing. */
	stats = ctx->a.stats;
	KUNIT_EXPECT_EQ(test, bio_scope_adopter_register(&ctx->a), -EBUSY);
	KUNIT_EXPECT_PTR_EQ(test, ctx->a.stats, stats);

	/* One that failed to register works uncounted, and unregisters. */
	KUNIT_EXPECT_NULL(test, dup.stats);
	bio_scope_pass(&dup, REQ_SCOPE_NOFS);
	bio_scope_restore(&dup, bio_scope_adopt(&dup, NULL, REQ_SCOPE_NOIO));
	bio_scope_adopter_unregister(&dup);
	KUNIT_EXPECT_NULL(test, dup.stats);
}

static void bio_scope_test_mode_strings(struct kunit *test)
{
	char buf[64];

	bio_scope_mode_format(buf, sizeof(buf), BIO_SCOPE_SCOPED, false);
	KUNIT_EXPECT_STREQ(test, buf, "off blanket [scoped]\n");
	bio_scope_mode_format(buf, sizeof(buf), BIO_SCOPE_OFF, false);
	KUNIT_EXPECT_STREQ(test, buf, "[off] blanket scoped\n");
	bio_scope_mode_format(buf, sizeof(buf), BIO_SCOPE_INHERIT, true);
	KUNIT_EXPECT_STREQ(test, buf, "off blanket scoped [inherit]\n");

	KUNIT_EXPECT_EQ(test, bio_scope_mode_parse("off\n", false),
			BIO_SCOPE_OFF);
	KUNIT_EXPECT_EQ(test, bio_scope_mode_parse("blanket", false),
			BIO_SCOPE_BLANKET);
	KUNIT_EXPECT_EQ(test, bio_scope_mode_parse("scoped\n", true),
			BIO_SCOPE_SCOPED);
	KUNIT_EXPECT_EQ(test, bio_scope_mode_parse("inherit", true),
			BIO_SCOPE_INHERIT);
	KUNIT_EXPECT_EQ(test, bio_scope_mode_parse("inherit", false), -EINVAL);
	KUNIT_EXPECT_EQ(test, bio_scope_mode_parse("noio", true), -EINVAL);
}

/* A userspace server's busy() callback, driven by the tests. */
static bool test_server_busy_flag;

static bool test_server_busy(struct bio_scope_server *s)
{
	return test_server_busy_flag;
}

/* Attach a server of @a in the current task: was it marked declared? */
static bool test_attach_declared(struct bio_scope_adopter *a, bool mark)
{
	struct bio_scope_server srv = { .declared = mark };
	bool declared;

	bio_scope_server_attach(&srv, a, test_server_busy);
	declared = srv.declared;
	bio_scope_server_detach(&srv);
	return declared;
}

/* A process declares once for the servers it attaches (tcmu's SET_FEATURES). */
static void bio_scope_test_declare(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	struct pid *init = find_get_pid(1);

	KUNIT_EXPECT_FALSE(test, test_attach_declared(&ctx->a, false));
	bio_scope_declare(&ctx->a, true);
	KUNIT_EXPECT_PTR_EQ(test, ctx->a.declared, task_tgid(current));
	KUNIT_EXPECT_TRUE(test, test_attach_declared(&ctx->a, false));
	KUNIT_EXPECT_FALSE(test, test_attach_declared(&ctx->b, false));
	/* Another program image (after execve()) did not declare ... */
	WRITE_ONCE(current->self_exec_id, current->self_exec_id + 1);
	KUNIT_EXPECT_FALSE(test, test_attach_declared(&ctx->a, false));
	/* ... and cannot withdraw the declaration. */
	bio_scope_declare(&ctx->a, false);
	WRITE_ONCE(current->self_exec_id, current->self_exec_id - 1);
	KUNIT_EXPECT_TRUE(test, test_attach_declared(&ctx->a, false));
	/* Declaring again changes nothing; the declaring image withdraws. */
	bio_scope_declare(&ctx->a, true);
	KUNIT_EXPECT_TRUE(test, test_attach_declared(&ctx->a, false));
	bio_scope_declare(&ctx->a, false);
	KUNIT_EXPECT_NULL(test, ctx->a.declared);
	KUNIT_EXPECT_FALSE(test, test_attach_declared(&ctx->a, false));
	/* A driver's own per-device mark (ublk's feature flag) stays. */
	KUNIT_EXPECT_TRUE(test, test_attach_declared(&ctx->a, true));

	/* Another process declared: its withdrawal is not ours to make. */
	KUNIT_ASSERT_NOT_NULL(test, init);
	bio_scope_declare(&ctx->a, true);
	put_pid(ctx->a.declared);
	ctx->a.declared = init;		/* the reference of find_get_pid() */
	bio_scope_declare(&ctx->a, false);
	KUNIT_EXPECT_PTR_EQ(test, ctx->a.declared, init);
	KUNIT_EXPECT_FALSE(test, test_attach_declared(&ctx->a, false));
	/* A new declaration replaces it (and drops its reference). */
	bio_scope_declare(&ctx->a, true);
	KUNIT_EXPECT_TRUE(test, test_attach_declared(&ctx->a, false));
	/* Left declared: bio_scope_adopter_unregister() drops it. */
}

#ifdef CONFIG_BIO_SCOPE_DETECTOR
static u64 rec_count(struct bio_scope_adopter *a, enum bio_scope_recursion k)
{
	struct bio_scope_stats st;

	bio_scope_adopter_read_stats(a, &st);
	return st.count[BIO_SCOPE_STAT_REC_FIRST + k];
}

static void bio_scope_test_detector_serving(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	struct gendisk *d0 = bio_scope_test_disk(test, "kunit0");
	struct gendisk *d1 = bio_scope_test_disk(test, "kunit1");
	unsigned int outer, inner;

	KUNIT_EXPECT_NULL(test, current->bio_scope_serving);
	KUNIT_EXPECT_NULL(test, current->bio_scope_disk);
	outer = bio_scope_adopt(&ctx->a, d0, NOFS);
	KUNIT_EXPECT_PTR_EQ(test, current->bio_scope_serving, &ctx->a);
	KUNIT_EXPECT_PTR_EQ(test, current->bio_scope_disk, d0);
	/* Nested: the outermost adopter and its device stay charged. */
	inner = bio_scope_adopt(&ctx->b, d1, NOIO);
	KUNIT_EXPECT_PTR_EQ(test, current->bio_scope_serving, &ctx->a);
	KUNIT_EXPECT_PTR_EQ(test, current->bio_scope_disk, d0);
	bio_scope_restore(&ctx->b, inner);
	KUNIT_EXPECT_PTR_EQ(test, current->bio_scope_serving, &ctx->a);
	KUNIT_EXPECT_PTR_EQ(test, current->bio_scope_disk, d0);
	bio_scope_restore(&ctx->a, outer);
	KUNIT_EXPECT_NULL(test, current->bio_scope_serving);
	KUNIT_EXPECT_NULL(test, current->bio_scope_disk);
}

static void bio_scope_test_detector_counts(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	unsigned int s;

	/* Not serving: nothing counted. */
	bio_scope_note_shrinker(GFP_KERNEL);
	bio_scope_note_dirty_throttle();
	KUNIT_EXPECT_EQ(test, rec_count(&ctx->a, BIO_SCOPE_REC_SHRINKER), 0);

	/*
	 * Serving an unscoped command: reclaim may recurse, but the role
	 * keeps the task off the global dirty limit.
	 */
	s = bio_scope_adopt(&ctx->a, NULL, BIO_SCOPE_NONE);
	bio_scope_note_shrinker(GFP_KERNEL);
	bio_scope_note_shrinker(GFP_NOFS);
	bio_scope_note_writeback_wait();
	bio_scope_note_reclaim_throttle();
	bio_scope_note_dirty_throttle();
	bio_scope_restore(&ctx->a, s);
	KUNIT_EXPECT_EQ(test, rec_count(&ctx->a, BIO_SCOPE_REC_SHRINKER), 1);
	KUNIT_EXPECT_EQ(test,
			rec_count(&ctx->a, BIO_SCOPE_REC_WRITEBACK_WAIT), 1);
	KUNIT_EXPECT_EQ(test,
			rec_count(&ctx->a, BIO_SCOPE_REC_RECLAIM_THROTTLE), 1);
	KUNIT_EXPECT_EQ(test,
			rec_count(&ctx->a, BIO_SCOPE_REC_DIRTY_THROTTLE), 0);

	/* With scopes off, the same command is throttled globally. */
	KUNIT_ASSERT_EQ(test, bio_scope_set_mode(BIO_SCOPE_OFF), 0);
	s = bio_scope_adopt(&ctx->a, NULL, BIO_SCOPE_NONE);
	KUNIT_EXPECT_FALSE(test, bio_scope_local_throttle());
	bio_scope_note_dirty_throttle();
	bio_scope_restore(&ctx->a, s);
	KUNIT_EXPECT_EQ(test,
			rec_count(&ctx->a, BIO_SCOPE_REC_DIRTY_THROTTLE), 1);
	KUNIT_ASSERT_EQ(test, bio_scope_set_mode(BIO_SCOPE_SCOPED), 0);

	/* Serving a WB command: local throttling is no recursion. */
	s = bio_scope_adopt(&ctx->a, NULL, NOFS | WB);
	bio_scope_note_dirty_throttle();
	bio_scope_restore(&ctx->a, s);
	KUNIT_EXPECT_EQ(test,
			rec_count(&ctx->a, BIO_SCOPE_REC_DIRTY_THROTTLE), 1);
	KUNIT_EXPECT_EQ(test, rec_count(&ctx->b, BIO_SCOPE_REC_SHRINKER), 0);
}

/* A userspace server: events of its thread group, while busy. */
static void bio_scope_test_detector_server(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	struct bio_scope_server srv = {};
	unsigned int s;

	/* Not attached: no serving task, nothing counted. */
	KUNIT_EXPECT_FALSE(test, bio_scope_serving());
	KUNIT_EXPECT_FALSE(test, bio_scope_server_vouch());
	bio_scope_note_shrinker(GFP_KERNEL);

	/* The KUnit thread is the "server" of a; idle, then busy. */
	srv.declared = true;		/* as the driver sets it */
	bio_scope_server_attach(&srv, &ctx->a, test_server_busy);
	bio_scope_server_attach(&srv, &ctx->b, test_server_busy); /* no-op */
	KUNIT_EXPECT_PTR_EQ(test, srv.adopter, &ctx->a);
	test_server_busy_flag = false;
	/* Idle: no vouch, no local throttling, nothing counted. */
	KUNIT_EXPECT_FALSE(test, bio_scope_server_vouch());
	KUNIT_EXPECT_FALSE(test, bio_scope_local_throttle());
	bio_scope_note_shrinker(GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, rec_count(&ctx->a, BIO_SCOPE_REC_SHRINKER), 0);
	test_server_busy_flag = true;
	/* Serving: throttled locally, so a dirty throttle is no recursion. */
	KUNIT_EXPECT_TRUE(test, bio_scope_server_vouch());
	KUNIT_EXPECT_TRUE(test, bio_scope_local_throttle());
	bio_scope_note_shrinker(GFP_KERNEL);
	bio_scope_note_shrinker(GFP_NOFS);		/* not a recursion */
	bio_scope_note_dirty_throttle();
	KUNIT_EXPECT_EQ(test, rec_count(&ctx->a, BIO_SCOPE_REC_SHRINKER), 1);
	KUNIT_EXPECT_EQ(test,
			rec_count(&ctx->a, BIO_SCOPE_REC_DIRTY_THROTTLE), 0);

	/* Its threads are marked; a thread it creates too, a child not. */
	KUNIT_EXPECT_TRUE(test, READ_ONCE(current->bio_scope_server));
	{
		struct task_struct *p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, p);
		bio_scope_task_fork(p, CLONE_VM | CLONE_THREAD | CLONE_SIGHAND);
		KUNIT_EXPECT_TRUE(test, p->bio_scope_server);
		bio_scope_task_fork(p, SIGCHLD);
		KUNIT_EXPECT_FALSE(test, p->bio_scope_server);
	}
	/* An unmarked task of the same program image takes the fast path. */
	WRITE_ONCE(current->bio_scope_server, false);
	KUNIT_EXPECT_FALSE(test, bio_scope_server_vouch());
	KUNIT_EXPECT_FALSE(test, bio_scope_serving());
	WRITE_ONCE(current->bio_scope_server, true);
	KUNIT_EXPECT_TRUE(test, bio_scope_server_vouch());

	/* Another program image (after execve()) is not the server. */
	WRITE_ONCE(current->self_exec_id, current->self_exec_id + 1);
	KUNIT_EXPECT_FALSE(test, bio_scope_server_vouch());
	KUNIT_EXPECT_FALSE(test, bio_scope_local_throttle());
	WRITE_ONCE(current->self_exec_id, current->self_exec_id - 1);
	KUNIT_EXPECT_TRUE(test, bio_scope_server_vouch());

	/* Scopes off for its adopter: no relaxation, recursion counted. */
	KUNIT_EXPECT_EQ(test, bio_scope_set_mode(BIO_SCOPE_OFF), 0);
	KUNIT_EXPECT_FALSE(test, bio_scope_server_vouch());
	bio_scope_note_dirty_throttle();
	KUNIT_EXPECT_EQ(test,
			rec_count(&ctx->a, BIO_SCOPE_REC_DIRTY_THROTTLE), 1);
	KUNIT_EXPECT_EQ(test, bio_scope_set_mode(BIO_SCOPE_SCOPED), 0);

	/* An in-kernel adoption in the same task is charged first. */
	s = bio_scope_adopt(&ctx->b, NULL, BIO_SCOPE_NONE);
	bio_scope_note_shrinker(GFP_KERNEL);
	bio_scope_restore(&ctx->b, s);
	KUNIT_EXPECT_EQ(test, rec_count(&ctx->b, BIO_SCOPE_REC_SHRINKER), 1);
	KUNIT_EXPECT_EQ(test, rec_count(&ctx->a, BIO_SCOPE_REC_SHRINKER), 1);

	KUNIT_EXPECT_TRUE(test, srv.declared);
	bio_scope_server_detach(&srv);
	bio_scope_server_detach(&srv);			/* idempotent */
	bio_scope_note_shrinker(GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, rec_count(&ctx->a, BIO_SCOPE_REC_SHRINKER), 1);
	KUNIT_EXPECT_FALSE(test, srv.attached);
	/* The next opener declares for itself (tcmu: an old daemon does not). */
	KUNIT_EXPECT_FALSE(test, srv.declared);
	KUNIT_EXPECT_FALSE(test, bio_scope_server_vouch());
}
#endif

/* RWF_MEMALLOC_NOFS, RWF_MEMALLOC_NOIO, RWF_LOCAL_THROTTLE: kiocb flags and task scope. */
static void bio_scope_test_rwf(struct kunit *test)
{
	const unsigned int pf = PF_MEMALLOC_NOFS | PF_MEMALLOC_NOIO |
				PF_LOCAL_THROTTLE;
	struct kiocb k = {};
	unsigned int saved, nofs;

	KUNIT_EXPECT_EQ(test, kiocb_set_rw_flags(&k, RWF_MEMALLOC_NOFS, WRITE), 0);
	KUNIT_EXPECT_EQ(test, k.ki_flags, IOCB_MEMALLOC_NOFS);
	saved = kiocb_scope_enter(&k);
	KUNIT_EXPECT_EQ(test, current->flags & pf, PF_MEMALLOC_NOFS);
	KUNIT_EXPECT_EQ(test, current_gfp_context(GFP_KERNEL), GFP_NOFS);
	kiocb_scope_exit(saved);
	KUNIT_EXPECT_EQ(test, current->flags & pf, 0);

	/* NOIO wins over NOFS; LOCAL_THROTTLE is allowed with the capability. */
	k.ki_flags = 0;
	KUNIT_EXPECT_EQ(test, kiocb_set_rw_flags(&k, RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO |
						 RWF_LOCAL_THROTTLE, READ), 0);
	saved = kiocb_scope_enter(&k);
	KUNIT_EXPECT_EQ(test, current->flags & pf,
			PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE);
	KUNIT_EXPECT_EQ(test, current_gfp_context(GFP_KERNEL), GFP_NOIO);
	kiocb_scope_exit(saved);
	KUNIT_EXPECT_EQ(test, current->flags & pf, 0);

	/* Nested in a caller's own NOFS section: that one is left alone. */
	k.ki_flags = IOCB_MEMALLOC_NOFS;
	nofs = memalloc_nofs_save();
	saved = kiocb_scope_enter(&k);
	KUNIT_EXPECT_EQ(test, saved, 0);
	kiocb_scope_exit(saved);
	KUNIT_EXPECT_EQ(test, current->flags & pf, PF_MEMALLOC_NOFS);
	memalloc_nofs_restore(nofs);

	/* No scope asked: nothing changes. */
	k.ki_flags = IOCB_DIRECT;
	KUNIT_EXPECT_EQ(test, kiocb_scope_enter(&k), 0);
	KUNIT_EXPECT_EQ(test, current->flags & pf, 0);

	/* Without CAP_SYS_RESOURCE, local throttling is refused... */
	{
		struct bio_scope_test_ctx *ctx = test->priv;
		struct bio_scope_server srv = {};
		const struct cred *old;
		struct cred *cred;

		cred = prepare_creds();
		KUNIT_ASSERT_NOT_NULL(test, cred);
		cap_lower(cred->cap_effective, CAP_SYS_RESOURCE);
		old = override_creds(cred);
		k.ki_flags = 0;
		KUNIT_EXPECT_EQ(test, kiocb_set_rw_flags(&k, RWF_LOCAL_THROTTLE,
							 WRITE), -EPERM);
		KUNIT_EXPECT_EQ(test, kiocb_set_rw_flags(&k, RWF_MEMALLOC_NOIO, WRITE),
				0);
		/*
		 * ...even for a busy server the kernel knows: it is throttled
		 * locally by its role and needs no flag.
		 */
		test_server_busy_flag = true;
		bio_scope_server_attach(&srv, &ctx->a, test_server_busy);
		KUNIT_EXPECT_TRUE(test, bio_scope_local_throttle());
		KUNIT_EXPECT_EQ(test, kiocb_set_rw_flags(&k, RWF_LOCAL_THROTTLE,
							 WRITE), -EPERM);
		bio_scope_server_detach(&srv);
		KUNIT_EXPECT_FALSE(test, bio_scope_local_throttle());
		revert_creds(old);
		put_cred(cred);
	}

	/* Bits this kernel does not know keep failing as they always did. */
	k.ki_flags = 0;
	KUNIT_EXPECT_EQ(test, kiocb_set_rw_flags(&k, (__force rwf_t)0x400,
						 WRITE), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, k.ki_flags, 0);
}

/* tcmu's declaration: the netlink attribute after the last one upstream. */
static_assert(TCMU_ATTR_SUPP_MEMALLOC_SCOPE ==
	      TCMU_ATTR_SUPP_KERN_CMD_REPLY + 1);

/* Servicer encodings: tcmu kflags, ublk op_flags, se_cmd flags. */
static void bio_scope_test_encode_servicers(struct kunit *test)
{
	static const blk_opf_t scopes[] = {
		BIO_SCOPE_NONE, NOFS, NOIO, WB, NOFS | WB, NOIO | WB,
	};
	struct se_cmd cmd = { .se_cmd_flags = SCF_BIDI | SCF_FUA };
	int i;

#define TCMU(s) bio_scope_encode(s, TCMU_KFLAG_SCOPE_NOFS, \
				 TCMU_KFLAG_SCOPE_NOIO, TCMU_KFLAG_SCOPE_WB)
#define UBLK(s) bio_scope_encode(s, UBLK_IO_F_SCOPE_NOFS, \
				 UBLK_IO_F_SCOPE_NOIO, UBLK_IO_F_SCOPE_WB)
	KUNIT_EXPECT_EQ(test, TCMU(BIO_SCOPE_NONE), 0);
	KUNIT_EXPECT_EQ(test, TCMU(NOFS), TCMU_KFLAG_SCOPE_NOFS);
	/* NOIO keeps NOFS set: a NOFS-only server does the safe thing. */
	KUNIT_EXPECT_EQ(test, TCMU(NOIO),
			TCMU_KFLAG_SCOPE_NOFS | TCMU_KFLAG_SCOPE_NOIO);
	KUNIT_EXPECT_EQ(test, TCMU(NOFS | WB),
			TCMU_KFLAG_SCOPE_NOFS | TCMU_KFLAG_SCOPE_WB);
	/* Other bi_opf bits are not looked at. */
	KUNIT_EXPECT_EQ(test, TCMU(REQ_OP_WRITE | REQ_SYNC | REQ_FUA | WB),
			TCMU_KFLAG_SCOPE_WB);
	KUNIT_EXPECT_LE(test, TCMU(NOIO | WB), 0xff);
	KUNIT_EXPECT_EQ(test, UBLK(NOIO | WB), UBLK_IO_F_SCOPE_NOFS |
			UBLK_IO_F_SCOPE_NOIO | UBLK_IO_F_SCOPE_WB);
	/* ublk: the scope bits are flags (>= bit 8) not used by anything else */
	KUNIT_EXPECT_EQ(test, UBLK(NOIO | WB) & 0xff, 0);
	KUNIT_EXPECT_EQ(test, UBLK(NOIO | WB) &
			(UBLK_IO_F_FAILFAST_DEV | UBLK_IO_F_FAILFAST_TRANSPORT |
			 UBLK_IO_F_FAILFAST_DRIVER | UBLK_IO_F_META |
			 UBLK_IO_F_FUA | UBLK_IO_F_NOUNMAP | UBLK_IO_F_SWAP), 0);
	/* Only the feature bit and where it lives. */
	KUNIT_EXPECT_EQ(test, UBLK_F_MEMALLOC_SCOPE & ~0xffffffffULL, 0);
	KUNIT_EXPECT_EQ(test, TCMU_MAILBOX_FLAG_CAP_SCOPE &
			(TCMU_MAILBOX_FLAG_CAP_OOOC | TCMU_MAILBOX_FLAG_CAP_READ_LEN |
			 TCMU_MAILBOX_FLAG_CAP_TMR | TCMU_MAILBOX_FLAG_CAP_KEEP_BUF),
			0);
#undef TCMU
#undef UBLK

	/* Round trips, and the se_cmd keeps its other flags. */
	for (i = 0; i < ARRAY_SIZE(scopes); i++) {
		u32 v = bio_scope_encode(scopes[i], 1, 2, 4);

		KUNIT_EXPECT_EQ(test, bio_scope_decode(v, 1, 2, 4), scopes[i]);
		target_cmd_set_scope(&cmd, scopes[i] | REQ_OP_WRITE | REQ_META);
		KUNIT_EXPECT_EQ(test, target_cmd_scope(&cmd), scopes[i]);
		KUNIT_EXPECT_EQ(test, cmd.se_cmd_flags & ~SCF_SCOPE_MASK,
				SCF_BIDI | SCF_FUA);
	}
	/* A lone NOIO bit decodes to the NOIO level. */
	KUNIT_EXPECT_EQ(test, bio_scope_decode(2, 1, 2, 4), NOIO);
}

/* bio_scope_pass(): what a userspace server is told, and the stats. */
static void bio_scope_test_pass(struct kunit *test)
{
	struct bio_scope_test_ctx *ctx = test->priv;
	struct bio_scope_stats st;

	KUNIT_EXPECT_EQ(test, bio_scope_pass(&ctx->a, REQ_OP_WRITE | NOFS | WB),
			NOFS | WB);
	KUNIT_EXPECT_EQ(test, bio_scope_pass(&ctx->a, REQ_OP_READ),
			BIO_SCOPE_NONE);
	/* Passing does not touch the task. */
	KUNIT_EXPECT_EQ(test, current->flags & ADOPT_PF, 0);
	bio_scope_adopter_set_mode(&ctx->a, BIO_SCOPE_BLANKET);
	KUNIT_EXPECT_EQ(test, bio_scope_pass(&ctx->a, BIO_SCOPE_NONE),
			NOIO | WB);
	bio_scope_adopter_set_mode(&ctx->a, BIO_SCOPE_OFF);
	KUNIT_EXPECT_EQ(test, bio_scope_pass(&ctx->a, NOIO | WB),
			BIO_SCOPE_NONE);
	bio_scope_adopter_read_stats(&ctx->a, &st);
	KUNIT_EXPECT_EQ(test, st.count[BIO_SCOPE_STAT_SERVED], 4);
	KUNIT_EXPECT_EQ(test, st.count[BIO_SCOPE_STAT_NOFS], 1);
	KUNIT_EXPECT_EQ(test, st.count[BIO_SCOPE_STAT_NOIO], 0);
	KUNIT_EXPECT_EQ(test, st.count[BIO_SCOPE_STAT_WB], 1);
	KUNIT_EXPECT_EQ(test, st.count[BIO_SCOPE_STAT_BLANKET], 1);
}

static struct kunit_case bio_scope_test_cases[] = {
	KUNIT_CASE(bio_scope_test_encoding),
	KUNIT_CASE(bio_scope_test_from_task_levels),
	KUNIT_CASE(bio_scope_test_from_task_reclaim),
	KUNIT_CASE(bio_scope_test_to_pflags),
	KUNIT_CASE(bio_scope_test_capture_none),
	KUNIT_CASE(bio_scope_test_capture_nofs),
	KUNIT_CASE(bio_scope_test_capture_noio),
	KUNIT_CASE(bio_scope_test_capture_reclaim),
	KUNIT_CASE(bio_scope_test_capture_flusher),
	KUNIT_CASE(bio_scope_test_capture_keeps_existing),
	KUNIT_CASE(bio_scope_test_capture_mode_off),
	KUNIT_CASE(bio_scope_test_swap),
	KUNIT_CASE(bio_scope_test_writeback),
	KUNIT_CASE(bio_scope_test_writeback_from_reclaim),
	KUNIT_CASE(bio_scope_test_iomap),
	KUNIT_CASE(bio_scope_test_clone),
	KUNIT_CASE(bio_scope_test_split),
	KUNIT_CASE(bio_scope_test_chain),
	KUNIT_CASE(bio_scope_test_merge_union),
	KUNIT_CASE(bio_scope_test_request_merge),
	KUNIT_CASE(bio_scope_test_adopt_scoped),
	KUNIT_CASE(bio_scope_test_adopt_nofs_in_noio),
	KUNIT_CASE(bio_scope_test_adopt_noio_in_nofs),
	KUNIT_CASE(bio_scope_test_adopt_preexisting),
	KUNIT_CASE(bio_scope_test_adopt_blanket),
	KUNIT_CASE(bio_scope_test_adopt_off),
	KUNIT_CASE(bio_scope_test_adopter_override),
	KUNIT_CASE(bio_scope_test_adopt_rq),
	KUNIT_CASE(bio_scope_test_stats),
	KUNIT_CASE(bio_scope_test_register),
	KUNIT_CASE(bio_scope_test_mode_strings),
	KUNIT_CASE(bio_scope_test_encode_servicers),
	KUNIT_CASE(bio_scope_test_pass),
	KUNIT_CASE(bio_scope_test_rwf),
	KUNIT_CASE(bio_scope_test_declare),
#ifdef CONFIG_BIO_SCOPE_DETECTOR
	KUNIT_CASE(bio_scope_test_detector_serving),
	KUNIT_CASE(bio_scope_test_detector_counts),
	KUNIT_CASE(bio_scope_test_detector_server),
#endif
	{}
};

static struct kunit_suite bio_scope_test_suite = {
	.name = "bio_scope",
	.init = bio_scope_test_init,
	.exit = bio_scope_test_exit,
	.test_cases = bio_scope_test_cases,
};

kunit_test_suite(bio_scope_test_suite);

MODULE_DESCRIPTION("KUnit tests for bio memory allocation scopes");
MODULE_LICENSE("GPL");
