/* SPDX-License-Identifier: GPL-2.0-only */
/* Minimal test harness: no external framework. */
#ifndef DMZ_TEST_H
#define DMZ_TEST_H

#include <stdio.h>
#include <string.h>

extern int t_failed;	/* set when an assertion of the current test fails */

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "  %s:%d: CHECK failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		t_failed = 1;						\
	}								\
} while (0)

/* Abort the current test on failure. */
#define REQUIRE(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "  %s:%d: REQUIRE failed: %s\n",	\
			__FILE__, __LINE__, #cond);			\
		t_failed = 1;						\
		return;							\
	}								\
} while (0)

#define CHECK_EQ(a, b) do {						\
	unsigned long long a_ = (unsigned long long)(a);		\
	unsigned long long b_ = (unsigned long long)(b);		\
	if (a_ != b_) {							\
		fprintf(stderr, "  %s:%d: CHECK_EQ failed: %s == %s "	\
			"(0x%llx / %llu vs 0x%llx / %llu)\n",		\
			__FILE__, __LINE__, #a, #b, a_, a_, b_, b_);	\
		t_failed = 1;						\
	}								\
} while (0)

#define CHECK_STR_CONTAINS(s, sub) do {					\
	if (!strstr((s), (sub))) {					\
		fprintf(stderr, "  %s:%d: '%s' does not contain '%s'\n", \
			__FILE__, __LINE__, (s), (sub));		\
		t_failed = 1;						\
	}								\
} while (0)

#endif
