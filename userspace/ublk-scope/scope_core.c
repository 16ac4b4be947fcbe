// SPDX-License-Identifier: GPL-2.0
/*
 * scope_core.c - pure logic of ublk-scope (see scope_core.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "scope_core.h"

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define XCHG(p, v)	__atomic_exchange_n((p), (v), __ATOMIC_RELAXED)
#define INC(p)		__atomic_fetch_add((p), 1, __ATOMIC_RELAXED)

void scope_init(struct scope_state *s, int mode, scope_log_fn log)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->rwf_ok = true;
	s->throttle_ok = true;
	s->log = log;
}

void scope_log(const struct scope_state *s, const char *msg)
{
	if (s->log)
		s->log(msg);
	else
		fprintf(stderr, "ublk-scope: %s\n", msg);
}

uint32_t scope_effective_op_flags(const struct scope_state *s, uint32_t op_flags)
{
	uint8_t op = op_flags & 0xff;

	if (op == UBLK_IO_OP_READ || op == UBLK_IO_OP_WRITE)
		return op_flags | s->force_op_flags;
	return op_flags;
}

int scope_map_op_flags(uint32_t op_flags)
{
	int rwf = 0;

	if (op_flags & UBLK_IO_F_SCOPE_NOIO)
		rwf |= RWF_NOIO;
	if (op_flags & UBLK_IO_F_SCOPE_NOFS)
		rwf |= RWF_NOFS;
	if (op_flags & UBLK_IO_F_SCOPE_WB)
		rwf |= RWF_LOCAL_THROTTLE;
	return rwf;
}

int scope_rw_flags(struct scope_state *s, uint32_t op_flags)
{
	uint8_t op = op_flags & 0xff;
	int rwf = 0;

	if (op != UBLK_IO_OP_READ && op != UBLK_IO_OP_WRITE)
		return 0;
	if (s->mode == SCOPE_AUTO && LOAD(&s->rwf_ok)) {
		rwf = scope_map_op_flags(op_flags);
		if (!LOAD(&s->throttle_ok))
			rwf &= ~RWF_LOCAL_THROTTLE;
	}
	if (rwf & RWF_SCOPE_MASK)
		INC(&s->st.rwf_scoped);
	if (op == UBLK_IO_OP_WRITE && (op_flags & UBLK_IO_F_FUA))
		rwf |= RWF_DSYNC;
	return rwf;
}

void scope_account(struct scope_state *s, uint32_t op_flags)
{
	INC(&s->st.ios);
	switch (op_flags & 0xff) {
	case UBLK_IO_OP_READ:		INC(&s->st.reads); break;
	case UBLK_IO_OP_WRITE:		INC(&s->st.writes); break;
	case UBLK_IO_OP_FLUSH:		INC(&s->st.flushes); break;
	case UBLK_IO_OP_DISCARD:	INC(&s->st.discards); break;
	case UBLK_IO_OP_WRITE_ZEROES:	INC(&s->st.write_zeroes); break;
	default:			INC(&s->st.other); break;
	}
	if (op_flags & UBLK_IO_F_SCOPE_NOFS)
		INC(&s->st.scope_nofs);
	if (op_flags & UBLK_IO_F_SCOPE_NOIO)
		INC(&s->st.scope_noio);
	if (op_flags & UBLK_IO_F_SCOPE_WB)
		INC(&s->st.scope_wb);
}

enum scope_verdict scope_on_result(struct scope_state *s, int *rw_flags, int res)
{
	if (res >= 0)
		return SCOPE_DONE;

	if ((res == -EINVAL || res == -EOPNOTSUPP) && (*rw_flags & RWF_SCOPE_MASK)) {
		STORE(&s->rwf_ok, false);
		if (!XCHG(&s->logged_rwf, true))
			scope_log(s, MSG_NO_RWF);
		*rw_flags &= ~RWF_SCOPE_MASK;
		INC(&s->st.fallback_retries);
		return SCOPE_RETRY;
	}
	if (res == -EPERM && (*rw_flags & RWF_LOCAL_THROTTLE)) {
		STORE(&s->throttle_ok, false);
		if (!XCHG(&s->logged_throttle, true))
			scope_log(s, MSG_NO_THROTTLE);
		*rw_flags &= ~RWF_LOCAL_THROTTLE;
		INC(&s->st.fallback_retries);
		return SCOPE_RETRY;
	}
	return SCOPE_DONE;
}

void add_plan_init(struct add_plan *p, int mode)
{
	p->legacy = false;
	p->want_scope = (mode == SCOPE_AUTO);
	p->scope = p->want_scope;
}

bool add_plan_next(struct add_plan *p, int res)
{
	/* only "unknown flag / unknown command" errors are worth a retry */
	if (res != -EINVAL && res != -EOPNOTSUPP)
		return false;
	if (p->scope) {			/* same encoding, without the flag */
		p->scope = false;
		return true;
	}
	if (!p->legacy) {		/* legacy encoding, flag again */
		p->legacy = true;
		p->scope = p->want_scope;
		return true;
	}
	return false;
}

bool add_plan_feature(const struct add_plan *p, uint64_t returned_flags)
{
	return p->scope && (returned_flags & UBLK_F_MEMALLOC_SCOPE);
}

int iod_file_range(const struct ublksrv_io_desc *iod, uint64_t dev_bytes,
		   uint32_t buf_bytes, uint64_t *off, uint64_t *len)
{
	uint64_t dev_sectors = dev_bytes >> 9;
	uint64_t start = iod->start_sector;
	uint32_t nr = iod->nr_sectors;
	uint8_t op = iod->op_flags & 0xff;

	if (nr == 0)
		return -EINVAL;
	if (start >= dev_sectors || nr > dev_sectors - start)
		return -EIO;
	*off = start << 9;
	*len = (uint64_t)nr << 9;
	if ((op == UBLK_IO_OP_READ || op == UBLK_IO_OP_WRITE) && *len > buf_bytes)
		return -EINVAL;
	return 0;
}

static int ilog2_u32(uint32_t v)
{
	int r = -1;

	while (v) {
		v >>= 1;
		r++;
	}
	return r;
}

int compute_params(uint64_t file_size, uint32_t max_io_bytes, uint32_t lbs,
		   bool discard, struct ublk_params *p)
{
	uint64_t size;
	int lshift;

	if (lbs < 512 || lbs > 4096 || (lbs & (lbs - 1)))
		return -EINVAL;
	if (max_io_bytes < 4096 || (max_io_bytes & 4095))
		return -EINVAL;
	size = file_size & ~(uint64_t)(lbs - 1);
	if (size == 0)
		return -EINVAL;
	lshift = ilog2_u32(lbs);

	memset(p, 0, sizeof(*p));
	p->len = sizeof(*p);
	p->types = UBLK_PARAM_TYPE_BASIC;
	p->basic.attrs = UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA;
	p->basic.logical_bs_shift = lshift;
	p->basic.physical_bs_shift = lshift > 12 ? lshift : 12;
	p->basic.io_min_shift = lshift;
	p->basic.io_opt_shift = lshift > 12 ? lshift : 12;
	p->basic.max_sectors = max_io_bytes >> 9;
	p->basic.dev_sectors = size >> 9;

	if (discard) {
		p->types |= UBLK_PARAM_TYPE_DISCARD;
		p->discard.discard_alignment = 0;
		p->discard.discard_granularity = lbs > 4096 ? lbs : 4096;
		p->discard.max_discard_sectors = UINT32_MAX >> 9;
		p->discard.max_write_zeroes_sectors = UINT32_MAX >> 9;
		p->discard.max_discard_segments = 1;
	}
	return 0;
}

int64_t parse_scope_list(const char *s)
{
	int64_t bits = 0;
	const char *p = s;

	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 4 && !strncmp(p, "nofs", 4))
			bits |= UBLK_IO_F_SCOPE_NOFS;
		else if (n == 4 && !strncmp(p, "noio", 4))
			bits |= UBLK_IO_F_SCOPE_NOIO;
		else if (n == 2 && !strncmp(p, "wb", 2))
			bits |= UBLK_IO_F_SCOPE_WB;
		else if (n == 4 && !strncmp(p, "none", 4))
			;
		else
			return -1;
		p += n;
		if (*p == ',')
			p++;
	}
	return bits;
}
