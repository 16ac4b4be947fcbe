/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CHECK harness of bioscope's host unit tests: count passes and
 * failures, print each failure with the test case it happened in (cur).
 * Include it once, in the test program's main file.
 */
#ifndef BIOSCOPE_CHECK_H
#define BIOSCOPE_CHECK_H

#include <stdio.h>
#include <string.h>

static int passed, failed;
static const char *cur;

#define CHECK(cond) do {						\
	if (cond) {							\
		passed++;						\
	} else {							\
		failed++;						\
		printf("FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__, cur, #cond); \
	}								\
} while (0)

#define CHECK_EQ(a, b) do {						\
	long long _a = (long long)(a), _b = (long long)(b);		\
	if (_a == _b) {							\
		passed++;						\
	} else {							\
		failed++;						\
		printf("FAIL %s:%d [%s]: %s == %s (%lld != %lld)\n",	\
		       __FILE__, __LINE__, cur, #a, #b, _a, _b);	\
	}								\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *_a = (a), *_b = (b);				\
	if (_a && _b && !strcmp(_a, _b)) {				\
		passed++;						\
	} else {							\
		failed++;						\
		printf("FAIL %s:%d [%s]: %s == \"%s\" (got \"%s\")\n",	\
		       __FILE__, __LINE__, cur, #a, _b ? _b : "(null)",	\
		       _a ? _a : "(null)");				\
	}								\
} while (0)

#endif
