/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM bio_scope

#if !defined(_TRACE_BIO_SCOPE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_BIO_SCOPE_H

#include <linux/bio.h>
#include <linux/bio_scope.h>
#include <linux/tracepoint.h>

/*
 * Export the enum values that the formats below print, so that perf and
 * trace-cmd can decode them: the req_flag_bits behind REQ_SCOPE_*, and
 * enum bio_scope_source, bio_scope_mode and bio_scope_recursion.
 */
TRACE_DEFINE_ENUM(__REQ_SCOPE_NOFS);
TRACE_DEFINE_ENUM(__REQ_SCOPE_NOIO);
TRACE_DEFINE_ENUM(__REQ_SCOPE_WB);

TRACE_DEFINE_ENUM(BIO_SCOPE_SRC_TASK);
TRACE_DEFINE_ENUM(BIO_SCOPE_SRC_RECLAIM);
TRACE_DEFINE_ENUM(BIO_SCOPE_SRC_SWAP);
TRACE_DEFINE_ENUM(BIO_SCOPE_SRC_WRITEBACK);
TRACE_DEFINE_ENUM(BIO_SCOPE_SRC_IOMAP);
TRACE_DEFINE_ENUM(BIO_SCOPE_SRC_CHAIN);

TRACE_DEFINE_ENUM(BIO_SCOPE_OFF);
TRACE_DEFINE_ENUM(BIO_SCOPE_BLANKET);
TRACE_DEFINE_ENUM(BIO_SCOPE_SCOPED);

TRACE_DEFINE_ENUM(BIO_SCOPE_REC_SHRINKER);
TRACE_DEFINE_ENUM(BIO_SCOPE_REC_WRITEBACK_WAIT);
TRACE_DEFINE_ENUM(BIO_SCOPE_REC_RECLAIM_THROTTLE);
TRACE_DEFINE_ENUM(BIO_SCOPE_REC_DIRTY_THROTTLE);

#define show_bio_scope(scope)						\
	__print_flags((__force u32)(scope), "|",			\
		{ (__force u32)REQ_SCOPE_NOFS, "NOFS" },		\
		{ (__force u32)REQ_SCOPE_NOIO, "NOIO" },		\
		{ (__force u32)REQ_SCOPE_WB, "WB" })

#define show_bio_scope_source(src)					\
	__print_symbolic(src,						\
		{ BIO_SCOPE_SRC_TASK, "task" },				\
		{ BIO_SCOPE_SRC_RECLAIM, "reclaim" },			\
		{ BIO_SCOPE_SRC_SWAP, "swap" },				\
		{ BIO_SCOPE_SRC_WRITEBACK, "writeback" },		\
		{ BIO_SCOPE_SRC_IOMAP, "iomap" },			\
		{ BIO_SCOPE_SRC_CHAIN, "chain" })

#define show_bio_scope_mode(mode)					\
	__print_symbolic(mode,						\
		{ BIO_SCOPE_OFF, "off" },				\
		{ BIO_SCOPE_BLANKET, "blanket" },			\
		{ BIO_SCOPE_SCOPED, "scoped" })

#define show_bio_scope_recursion(kind)					\
	__print_symbolic(kind,						\
		{ BIO_SCOPE_REC_SHRINKER, "shrinker" },			\
		{ BIO_SCOPE_REC_WRITEBACK_WAIT, "writeback_wait" },	\
		{ BIO_SCOPE_REC_RECLAIM_THROTTLE, "reclaim_throttle" },	\
		{ BIO_SCOPE_REC_DIRTY_THROTTLE, "dirty_throttle" })

#define show_bio_scope_pflags(pflags)					\
	__print_flags(pflags, "|",					\
		{ PF_MEMALLOC_NOFS, "MEMALLOC_NOFS" },			\
		{ PF_MEMALLOC_NOIO, "MEMALLOC_NOIO" },			\
		{ PF_LOCAL_THROTTLE, "LOCAL_THROTTLE" })

/*
 * A capture point added scope bits to a bio: @added by @src; the event
 * shows the bio's whole scope.  The sector is the one set at that point
 * (writeback, swap and iomap bios have it set already).
 */
TRACE_EVENT(bio_scope_capture,
	    TP_PROTO(struct bio *bio, blk_opf_t added,
		     enum bio_scope_source src),
	    TP_ARGS(bio, added, src),
	    TP_STRUCT__entry(__field(dev_t, dev)
			     __field(sector_t, sector)
			     __field(u32, opf)
			     __field(u32, scope)
			     __field(u32, added)
			     __field(int, src)),
	    TP_fast_assign(__entry->dev = bio->bi_bdev ? bio_dev(bio) : 0;
			   __entry->sector = bio->bi_iter.bi_sector;
			   __entry->opf = (__force u32)bio->bi_opf;
			   __entry->scope = (__force u32)(bio->bi_opf &
							  REQ_SCOPE_MASK);
			   __entry->added = (__force u32)added;
			   __entry->src = src;),
	    TP_printk("%d,%d sector=%llu op=%u scope=%s added=%s source=%s",
		      MAJOR(__entry->dev), MINOR(__entry->dev),
		      (unsigned long long)__entry->sector,
		      __entry->opf & (__force u32)REQ_OP_MASK,
		      show_bio_scope(__entry->scope),
		      show_bio_scope(__entry->added),
		      show_bio_scope_source(__entry->src))
);

/* A servicer adopted a command's scope, applying @pflags. */
TRACE_EVENT(bio_scope_adopt,
	    TP_PROTO(struct bio_scope_adopter *a, blk_opf_t scope,
		     enum bio_scope_mode mode, unsigned int pflags),
	    TP_ARGS(a, scope, mode, pflags),
	    TP_STRUCT__entry(__string(name, a->name)
			     __field(u32, scope)
			     __field(int, mode)
			     __field(unsigned int, pflags)),
	    TP_fast_assign(__assign_str(name);
			   __entry->scope = (__force u32)scope;
			   __entry->mode = mode;
			   __entry->pflags = pflags;),
	    TP_printk("adopter=%s scope=%s mode=%s pflags=%s",
		      __get_str(name), show_bio_scope(__entry->scope),
		      show_bio_scope_mode(__entry->mode),
		      show_bio_scope_pflags(__entry->pflags))
);

/* A task serving a command was about to recurse into the stack above. */
TRACE_EVENT(bio_scope_recursion,
	    TP_PROTO(struct bio_scope_adopter *a,
		     enum bio_scope_recursion kind),
	    TP_ARGS(a, kind),
	    TP_STRUCT__entry(__string(name, a->name)
			     __field(int, kind)
			     __field(unsigned int, pflags)),
	    TP_fast_assign(__assign_str(name);
			   __entry->kind = kind;
			   __entry->pflags = current->flags &
					     BIO_SCOPE_PF_ADOPT;),
	    TP_printk("adopter=%s kind=%s pflags=%s",
		      __get_str(name),
		      show_bio_scope_recursion(__entry->kind),
		      show_bio_scope_pflags(__entry->pflags))
);

#endif /* _TRACE_BIO_SCOPE_H */

#include <trace/define_trace.h>
