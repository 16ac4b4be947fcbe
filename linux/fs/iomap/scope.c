// SPDX-License-Identifier: GPL-2.0
/*
 * Memory allocation scope of iomap direct IO bios, see
 * Documentation/block/bio-scope.rst.  (Writeback ioend bios get the
 * writeback scope from wbc_init_bio(), like other wbc_init_bio() users.)
 *
 * Direct IO bios get the scope of the task that called iomap_dio_rw(): the
 * bios may be submitted later, or from another context, by a filesystem's
 * ->submit_io, and each of them must still carry the caller's scope.
 */
#include <linux/bio.h>
#include <linux/bio_scope.h>
#include <linux/fs.h>
#include <linux/sched.h>

/**
 * iomap_dio_scope - the scope of a direct IO, captured at submission
 * @iocb: the IO control block of the direct IO
 *
 * Called by __iomap_dio_rw() in the caller's context.
 *
 * Return: the REQ_SCOPE_* bits to stamp on each bio of the direct IO.
 */
blk_opf_t iomap_dio_scope(const struct kiocb *iocb)
{
	blk_opf_t scope;

	if (!bio_scope_enabled())
		return BIO_SCOPE_NONE;
	scope = bio_scope_from_task(current->flags);
	/*
	 * RWF_MEMALLOC_NOFS and friends: usually the caller entered the scope already
	 * (kiocb_scope_enter()), but a kiocb copied by a stacking filesystem
	 * (backing files, cachefiles) reaches here without it.
	 */
	if (iocb->ki_flags & IOCB_MEMALLOC_NOIO)
		scope |= BIO_SCOPE_NOIO;
	else if (iocb->ki_flags & IOCB_MEMALLOC_NOFS)
		scope |= BIO_SCOPE_NOFS;
	if (iocb->ki_flags & IOCB_LOCAL_THROTTLE)
		scope |= BIO_SCOPE_WB;
	return scope;
}

/**
 * iomap_dio_scope_bio - stamp a direct IO's scope on one of its bios
 * @bio: bio about to be submitted
 * @scope: the value iomap_dio_scope() returned for the direct IO
 */
void iomap_dio_scope_bio(struct bio *bio, blk_opf_t scope)
{
	if (scope)
		bio_scope_stamp(bio, scope, BIO_SCOPE_SRC_IOMAP);
}
