// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit test of the loop driver's use of bio memory allocation scopes.
 * Included at the end of loop.c, for its static functions, with
 * CONFIG_BIO_SCOPE_KUNIT_TEST.
 */
#include <kunit/test.h>

/* The backing file's mapping keeps its mask in the scoped mode only. */
static void loop_scope_test_backing_gfp(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, loop_backing_gfp(GFP_KERNEL, BIO_SCOPE_SCOPED),
			GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, loop_backing_gfp(GFP_HIGHUSER_MOVABLE,
					       BIO_SCOPE_BLANKET),
			GFP_HIGHUSER_MOVABLE & ~(__GFP_IO | __GFP_FS));
	KUNIT_EXPECT_EQ(test, loop_backing_gfp(GFP_KERNEL, BIO_SCOPE_OFF),
			GFP_NOIO);
	/* A mapping that is already NOFS stays so in every mode. */
	KUNIT_EXPECT_EQ(test, loop_backing_gfp(GFP_NOFS, BIO_SCOPE_SCOPED),
			GFP_NOFS);
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
