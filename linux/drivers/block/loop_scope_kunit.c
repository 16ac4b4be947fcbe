// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit test of the loop driver's use of bio memory allocation scopes.
 * Included at the end of loop.c, for its static functions, with
 * CONFIG_BIO_SCOPE_KUNIT_TEST.
 */
#include <kunit/test.h>

/*
 * loop_assign_backing_file(): the backing file's mapping keeps its gfp mask
 * in the scoped mode only, and loses __GFP_IO | __GFP_FS in the others.
 */
static void loop_scope_test_backing_gfp(struct kunit *test)
{
	static const struct {
		int mode;
		gfp_t gfp, want;
	} cases[] = {
		{ BIO_SCOPE_SCOPED, GFP_KERNEL, GFP_KERNEL },
		{ BIO_SCOPE_BLANKET, GFP_HIGHUSER_MOVABLE,
		  GFP_HIGHUSER_MOVABLE & ~(__GFP_IO | __GFP_FS) },
		{ BIO_SCOPE_OFF, GFP_KERNEL, GFP_NOIO },
		/* A mapping that is already NOFS keeps that mask. */
		{ BIO_SCOPE_SCOPED, GFP_NOFS, GFP_NOFS },
	};
	int i, saved = READ_ONCE(loop_adopter.mode);
	struct address_space *mapping;
	struct loop_device *lo;
	struct file *file;

	mapping = kunit_kzalloc(test, sizeof(*mapping), GFP_KERNEL);
	file = kunit_kzalloc(test, sizeof(*file), GFP_KERNEL);
	lo = kunit_kzalloc(test, sizeof(*lo), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, mapping);
	KUNIT_ASSERT_NOT_NULL(test, file);
	KUNIT_ASSERT_NOT_NULL(test, lo);
	file->f_mapping = mapping;
	lo->lo_disk = kunit_kzalloc(test, sizeof(*lo->lo_disk), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, lo->lo_disk);

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (bio_scope_adopter_set_mode(&loop_adopter, cases[i].mode)) {
			KUNIT_FAIL(test, "case %d: cannot set mode %d", i,
				   cases[i].mode);
			continue;
		}
		mapping_set_gfp_mask(mapping, cases[i].gfp);
		loop_assign_backing_file(lo, file);
		KUNIT_EXPECT_EQ_MSG(test, mapping_gfp_mask(mapping),
				    cases[i].want, "case %d", i);
		KUNIT_EXPECT_EQ(test, lo->old_gfp_mask, cases[i].gfp);
		KUNIT_EXPECT_PTR_EQ(test, lo->lo_backing_file, file);
	}
	bio_scope_adopter_set_mode(&loop_adopter, saved);
	bio_stack_disk_unserve(lo->lo_disk);
}

static struct kunit_case loop_scope_test_cases[] = {
	KUNIT_CASE(loop_scope_test_backing_gfp),
	{}
};

static struct kunit_suite loop_scope_test_suite = {
	.name = "bio_scope_loop",
	.test_cases = loop_scope_test_cases,
};

kunit_test_suite(loop_scope_test_suite);
