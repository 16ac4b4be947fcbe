/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libtcmu_scope.c of the patched tree, compiled into the test program
 * itself, so that libtcmu exports no test hook: its preadv2()/pwritev2()
 * calls go to the test's fake_preadv2()/fake_pwritev2(), and
 * scope_reset() gives each test case a fresh helper (no fallback latched,
 * memalloc_scope as given, nothing logged).  Include it once, after
 * <sys/uio.h> and before anything that redefines RWF_*.
 */
#ifndef BIOSCOPE_SCOPE_IMPL_H
#define BIOSCOPE_SCOPE_IMPL_H

#include <stdbool.h>
#include <sys/uio.h>

static ssize_t fake_preadv2(int fd, const struct iovec *iov, int iovcnt,
			    off_t offset, int flags);
static ssize_t fake_pwritev2(int fd, const struct iovec *iov, int iovcnt,
			     off_t offset, int flags);

#define preadv2 fake_preadv2
#define pwritev2 fake_pwritev2
#include "libtcmu_scope.c"
#undef preadv2
#undef pwritev2

static void scope_reset(bool enabled)
{
	scope_off = false;
	scope_enabled = enabled;
	scope_declared = false;
}

#endif
