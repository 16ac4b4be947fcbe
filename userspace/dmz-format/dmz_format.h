/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmz_format.h - writing and verifying dm-zoned metadata through an
 * abstract zoned device (a real block device in dmz-format.c, a fake
 * zone table backed by a regular file in the tests).
 */
#ifndef DMZ_FORMAT_H
#define DMZ_FORMAT_H

#include "dmz_layout.h"

/* All callbacks return 0 or a negative errno. Offsets are in bytes. */
struct dmz_zdev_ops {
	int (*read)(void *ctx, void *buf, size_t len, uint64_t off);
	int (*write)(void *ctx, const void *buf, size_t len, uint64_t off);
	/* BLKRESETZONE semantics: zone aligned range, in 512 B sectors */
	int (*reset_zones)(void *ctx, uint64_t sector, uint64_t nr_sectors);
	int (*flush)(void *ctx);
};

struct dmz_zdev {
	const struct dmz_zdev_ops *ops;
	void *ctx;
};

struct dmz_format_params {
	uint64_t gen;				/* generation of both super blocks */
	const char *label;			/* at most 31 characters */
	uint8_t uuid[DMZ_UUID_LEN];		/* dm-zoned uuid, must not be null */
	uint8_t dev_uuid[DMZ_UUID_LEN];		/* device uuid, must not be null */
	void (*progress)(void *arg, const char *msg);
	void *progress_arg;
};

/*
 * Reset the write pointer of every usable sequential zone that is not
 * empty (contiguous zones are reset with a single range).
 * *nr_reset receives the number of zones reset.
 */
int dmz_reset_seq_zones(const struct dmz_zdev *dev, const struct dmz_zone *zones,
			const struct dmz_geom *g, uint32_t *nr_reset,
			char *err, size_t errlen);

/*
 * Write both metadata sets.  Order: invalidate both super blocks, write
 * the map and bitmap blocks of the secondary then primary set, flush,
 * write the secondary super block, flush, write the primary super block,
 * flush.  The primary super block is always the last block written.
 */
int dmz_write_metadata(const struct dmz_zdev *dev, const struct dmz_geom *g,
		       const struct dmz_layout *l,
		       const struct dmz_format_params *p,
		       char *err, size_t errlen);

struct dmz_verify_report {
	struct dmz_geom geom;
	struct dmz_sb_info sb[2];
	uint32_t nr_meta_zones;
	uint32_t nr_data_zones;
	int ref_checked;	/* dmzadm --check super block rules applied */
};

/*
 * Re-read a formatted device the way dm-zoned does when the target is
 * constructed (dmz_init_zones, dmz_load_sb/dmz_check_sb for both sets,
 * the metadata zone checks of dmz_ctr_metadata, dmz_load_mapping) and
 * additionally check that the metadata is a freshly formatted one:
 * identical sets, all chunks unmapped, zeroed bitmaps, empty sequential
 * zones.  Where dmzadm sees the zones as the kernel does (no runt, every
 * random write zone a usable conventional zone) both super blocks must
 * also pass dmz_ref_check_sb(); rep->ref_checked says whether they were
 * checked.  Returns 0 or -DMZ_ERR_*.
 */
int dmz_verify(const struct dmz_zdev *dev, const struct dmz_zone *zones,
	       uint32_t nr_zones, uint64_t zone_nr_sectors, uint64_t capacity,
	       struct dmz_verify_report *rep, char *err, size_t errlen);

/*
 * Look for an existing dm-zoned super block (valid magic) at the places
 * a format of this geometry would use.  Returns 1 if found (and fills
 * *sb), 0 if not, negative on I/O error.
 */
int dmz_find_existing_sb(const struct dmz_zdev *dev, const struct dmz_geom *g,
			 const struct dmz_layout *l, struct dmz_sb_info *sb);

#endif /* DMZ_FORMAT_H */
