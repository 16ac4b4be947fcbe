/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ilog2() for bioscope's userspace (dmz-format, ublk-scope): the index of
 * the highest bit set, -1 for 0.  Callers check for a power of two first
 * where they need one.
 */
#ifndef BIOSCOPE_ILOG2_H
#define BIOSCOPE_ILOG2_H

#include <stdint.h>

static inline int ilog2_u64(uint64_t v)
{
	int r = -1;

	while (v) {
		v >>= 1;
		r++;
	}
	return r;
}

#endif
