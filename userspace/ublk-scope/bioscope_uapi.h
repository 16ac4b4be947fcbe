/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * bioscope_uapi.h - uapi values of the bioscope kernel patches (0014 ublk,
 * 0015 RWF_*), until system headers carry them.
 *
 * Every value the bioscope kernel side has not merged yet lives here and
 * only here, so that changing one is a one-line edit.  Each definition is
 * guarded: once the real uapi headers carry it, theirs wins (and the
 * compiler will complain if the two disagree only when both are visible).
 *
 * ublk side (include/uapi/linux/ublk_cmd.h):
 *   UBLK_F_MEMALLOC_SCOPE   device feature flag requested at ADD_DEV time;
 *                           when negotiated, the driver copies the request's
 *                           memalloc scope into ublksrv_io_desc.op_flags.
 *   UBLK_IO_F_SCOPE_*       op_flags bits in the IO descriptor.
 *
 * VFS side (include/uapi/linux/fs.h), for preadv2/pwritev2 and io_uring
 * sqe->rw_flags:
 *   RWF_MEMALLOC_NOFS / RWF_MEMALLOC_NOIO     run this one IO under memalloc_nofs/noio scope
 *   RWF_LOCAL_THROTTLE      throttle this IO locally (PF_LOCAL_THROTTLE-like);
 *                           needs CAP_SYS_RESOURCE, else -EPERM.
 */
#ifndef BIOSCOPE_UAPI_H
#define BIOSCOPE_UAPI_H

#ifndef UBLK_F_MEMALLOC_SCOPE
#define UBLK_F_MEMALLOC_SCOPE		(1ULL << 9)	/* provisional */
#endif

#ifndef UBLK_IO_F_SCOPE_NOFS
#define UBLK_IO_F_SCOPE_NOFS		(1U << 17)	/* provisional */
#endif
#ifndef UBLK_IO_F_SCOPE_NOIO
#define UBLK_IO_F_SCOPE_NOIO		(1U << 18)	/* provisional */
#endif
#ifndef UBLK_IO_F_SCOPE_WB
#define UBLK_IO_F_SCOPE_WB		(1U << 19)	/* provisional */
#endif

#ifndef RWF_MEMALLOC_NOFS
#define RWF_MEMALLOC_NOFS		0x00000080
#endif
#ifndef RWF_MEMALLOC_NOIO
#define RWF_MEMALLOC_NOIO		0x00000100
#endif
#ifndef RWF_LOCAL_THROTTLE
#define RWF_LOCAL_THROTTLE		0x00000200
#endif

#define UBLK_IO_F_SCOPE_MASK \
	(UBLK_IO_F_SCOPE_NOFS | UBLK_IO_F_SCOPE_NOIO | UBLK_IO_F_SCOPE_WB)
#define RWF_SCOPE_MASK (RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO | RWF_LOCAL_THROTTLE)

#endif /* BIOSCOPE_UAPI_H */
