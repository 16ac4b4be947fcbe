/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM bio_stack

#if !defined(_TRACE_BIO_STACK_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_BIO_STACK_H

#include <linux/fs.h>
#include <linux/tracepoint.h>

/*
 * A serving task's reclaim met the shrinker of a filesystem: skipped, the
 * filesystem is stacked above a device the task serves (@below has one of
 * its @bits), or allowed with __GFP_FS (block/bio_stack.c).
 */
TRACE_EVENT(bio_stack_reclaim,
	    TP_PROTO(const char *servicer, struct super_block *sb, u64 below,
		     u64 bits, bool skipped),
	    TP_ARGS(servicer, sb, below, bits, skipped),
	    TP_STRUCT__entry(__string(servicer, servicer)
			     __string(fstype, sb->s_type->name)
			     __array(char, s_id, 32)
			     __field(dev_t, dev)
			     __field(u64, below)
			     __field(u64, bits)
			     __field(bool, skipped)),
	    TP_fast_assign(__assign_str(servicer);
			   __assign_str(fstype);
			   strscpy(__entry->s_id, sb->s_id,
				   sizeof(__entry->s_id));
			   __entry->dev = sb->s_dev;
			   __entry->below = below;
			   __entry->bits = bits;
			   __entry->skipped = skipped;),
	    TP_printk("%s %s %s %s (%d:%d) below=%#llx serves=%#llx",
		      __get_str(servicer),
		      __entry->skipped ? "skipped" : "allowed",
		      __get_str(fstype), __entry->s_id,
		      MAJOR(__entry->dev), MINOR(__entry->dev),
		      __entry->below, __entry->bits)
);

#endif /* _TRACE_BIO_STACK_H */

#include <trace/define_trace.h>
