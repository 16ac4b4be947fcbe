// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmz_format.c - write and verify dm-zoned metadata sets through the
 * abstract zoned device interface of dmz_format.h.
 */
#include "dmz_format.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Metadata blocks written / read per I/O */
#define IO_BLOCKS	256u

static void progress(const struct dmz_format_params *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void progress(const struct dmz_format_params *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!p || !p->progress)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->progress(p->progress_arg, msg);
}

static uint8_t *alloc_blocks(unsigned int nr)
{
	void *buf = NULL;

	/* aligned for O_DIRECT */
	if (posix_memalign(&buf, DMZ_BLOCK_SIZE, (size_t)nr * DMZ_BLOCK_SIZE))
		return NULL;
	return buf;
}

static int zone_is_seq(const struct dmz_zone *z)
{
	return z->type == DMZ_ZONE_TYPE_SEQWRITE_REQ ||
	       z->type == DMZ_ZONE_TYPE_SEQWRITE_PREF;
}

int dmz_reset_seq_zones(const struct dmz_zdev *dev, const struct dmz_zone *zones,
			const struct dmz_geom *g, uint32_t *nr_reset,
			char *err, size_t errlen)
{
	uint32_t i = 0, first, n = 0;
	int ret;

	while (i < g->nr_zones) {
		const struct dmz_zone *z = &zones[i];

		if (!zone_is_seq(z) || !dmz_zone_useable(z) ||
		    z->len != g->zone_nr_sectors ||
		    z->cond == DMZ_ZONE_COND_EMPTY) {
			i++;
			continue;
		}
		first = i;
		while (i < g->nr_zones && zone_is_seq(&zones[i]) &&
		       dmz_zone_useable(&zones[i]) &&
		       zones[i].len == g->zone_nr_sectors &&
		       zones[i].cond != DMZ_ZONE_COND_EMPTY)
			i++;
		ret = dev->ops->reset_zones(dev->ctx, zones[first].start,
					    (uint64_t)(i - first) * g->zone_nr_sectors);
		if (ret) {
			dmz_seterr(err, errlen, "reset of zones %u..%u failed: %s",
			       first, i - 1, strerror(-ret));
			return -DMZ_ERR_IO;
		}
		n += i - first;
	}
	if (nr_reset)
		*nr_reset = n;
	return 0;
}

enum fill { FILL_ZERO, FILL_MAP };

static int write_fill(const struct dmz_zdev *dev, uint8_t *buf, uint64_t block,
		      uint64_t nr, enum fill fill, char *err, size_t errlen)
{
	unsigned int i, n;
	int ret;

	for (i = 0; i < IO_BLOCKS; i++) {
		if (fill == FILL_MAP)
			dmz_map_block_init(buf + (size_t)i * DMZ_BLOCK_SIZE);
		else
			memset(buf + (size_t)i * DMZ_BLOCK_SIZE, 0, DMZ_BLOCK_SIZE);
	}
	while (nr) {
		n = nr > IO_BLOCKS ? IO_BLOCKS : (unsigned int)nr;
		ret = dev->ops->write(dev->ctx, buf, (size_t)n * DMZ_BLOCK_SIZE,
				      block * DMZ_BLOCK_SIZE);
		if (ret) {
			dmz_seterr(err, errlen, "write of %u blocks at block %llu failed: %s",
			       n, (unsigned long long)block, strerror(-ret));
			return -DMZ_ERR_IO;
		}
		block += n;
		nr -= n;
	}
	return 0;
}

static int do_flush(const struct dmz_zdev *dev, char *err, size_t errlen)
{
	int ret = dev->ops->flush(dev->ctx);

	if (ret) {
		dmz_seterr(err, errlen, "flush failed: %s", strerror(-ret));
		return -DMZ_ERR_IO;
	}
	return 0;
}

static int write_sb(const struct dmz_zdev *dev, uint8_t *buf,
		    const struct dmz_layout *l, const struct dmz_format_params *p,
		    int set, char *err, size_t errlen)
{
	struct dmz_sb_info sb;
	int ret;

	dmz_sb_fill(&sb, l, set, p->gen, p->label, p->uuid, p->dev_uuid);
	dmz_sb_encode(&sb, buf);
	ret = dev->ops->write(dev->ctx, buf, DMZ_BLOCK_SIZE,
			      l->sb_block[set] * DMZ_BLOCK_SIZE);
	if (ret) {
		dmz_seterr(err, errlen, "write of super block %d failed: %s", set,
		       strerror(-ret));
		return -DMZ_ERR_IO;
	}
	return do_flush(dev, err, errlen);
}

int dmz_write_metadata(const struct dmz_zdev *dev, const struct dmz_geom *g,
		       const struct dmz_layout *l,
		       const struct dmz_format_params *p,
		       char *err, size_t errlen)
{
	uint8_t *buf;
	int set, ret;

	(void)g;
	if (dmz_uuid_is_null(p->uuid) || dmz_uuid_is_null(p->dev_uuid)) {
		dmz_seterr(err, errlen, "null uuid (rejected by dmz_check_sb)");
		return -DMZ_ERR_INVAL;
	}
	if (p->label && strlen(p->label) > DMZ_LABEL_LEN - 1) {
		dmz_seterr(err, errlen, "label longer than %u characters", DMZ_LABEL_LEN - 1);
		return -DMZ_ERR_INVAL;
	}
	buf = alloc_blocks(IO_BLOCKS);
	if (!buf) {
		dmz_seterr(err, errlen, "out of memory");
		return -DMZ_ERR_IO;
	}

	/* 1) Invalidate any previous super block of both sets */
	for (set = 0; set < 2; set++) {
		ret = write_fill(dev, buf, l->sb_block[set], 1, FILL_ZERO, err, errlen);
		if (ret)
			goto out;
	}
	ret = do_flush(dev, err, errlen);
	if (ret)
		goto out;

	/* 2) Mapping table (all unmapped) and bitmaps (all zero), set 1 first */
	for (set = 1; set >= 0; set--) {
		progress(p, "writing metadata set %d (%u map + %u bitmap blocks at block %llu)",
			 set, l->nr_map_blocks, l->nr_bitmap_blocks,
			 (unsigned long long)l->sb_block[set] + 1);
		ret = write_fill(dev, buf, l->sb_block[set] + 1, l->nr_map_blocks,
				 FILL_MAP, err, errlen);
		if (ret)
			goto out;
		ret = write_fill(dev, buf, l->sb_block[set] + 1 + l->nr_map_blocks,
				 l->nr_bitmap_blocks, FILL_ZERO, err, errlen);
		if (ret)
			goto out;
	}
	ret = do_flush(dev, err, errlen);
	if (ret)
		goto out;

	/* 3) Super blocks: secondary, then primary last */
	progress(p, "writing secondary super block at block %llu",
		 (unsigned long long)l->sb_block[1]);
	ret = write_sb(dev, buf, l, p, 1, err, errlen);
	if (ret)
		goto out;
	progress(p, "writing primary super block at block %llu",
		 (unsigned long long)l->sb_block[0]);
	ret = write_sb(dev, buf, l, p, 0, err, errlen);
out:
	free(buf);
	return ret;
}

static int read_blocks(const struct dmz_zdev *dev, uint8_t *buf, uint64_t block,
		       unsigned int nr, char *err, size_t errlen)
{
	int ret = dev->ops->read(dev->ctx, buf, (size_t)nr * DMZ_BLOCK_SIZE,
				 block * DMZ_BLOCK_SIZE);

	if (ret) {
		dmz_seterr(err, errlen, "read of %u blocks at block %llu failed: %s",
		       nr, (unsigned long long)block, strerror(-ret));
		return -DMZ_ERR_IO;
	}
	return 0;
}

static int check_meta_blocks(const struct dmz_zdev *dev, const struct dmz_sb_info *sb,
			     char *err, size_t errlen)
{
	uint8_t *b0 = NULL, *b1 = NULL, map[DMZ_BLOCK_SIZE];
	uint64_t blk = 1, nr_meta = sb[0].nr_meta_blocks;
	unsigned int n, i, j;
	int ret = 0;

	b0 = alloc_blocks(IO_BLOCKS);
	b1 = alloc_blocks(IO_BLOCKS);
	if (!b0 || !b1) {
		dmz_seterr(err, errlen, "out of memory");
		ret = -DMZ_ERR_IO;
		goto out;
	}
	dmz_map_block_init(map);

	while (blk < nr_meta) {
		n = nr_meta - blk > IO_BLOCKS ? IO_BLOCKS : (unsigned int)(nr_meta - blk);
		ret = read_blocks(dev, b0, sb[0].sb_block + blk, n, err, errlen);
		if (!ret)
			ret = read_blocks(dev, b1, sb[1].sb_block + blk, n, err, errlen);
		if (ret)
			goto out;
		for (i = 0; i < n; i++) {
			uint64_t mb = blk + i;
			const uint8_t *p0 = b0 + (size_t)i * DMZ_BLOCK_SIZE;
			const uint8_t *p1 = b1 + (size_t)i * DMZ_BLOCK_SIZE;

			if (mb <= sb[0].nr_map_blocks) {
				/* dmz_load_mapping(): fresh format, all unmapped */
				for (j = 0; j < DMZ_MAP_ENTRIES; j++) {
					if (memcmp(p0 + j * DMZ_MAP_ENTRY_SIZE,
						   map + j * DMZ_MAP_ENTRY_SIZE,
						   DMZ_MAP_ENTRY_SIZE)) {
						dmz_seterr(err, errlen,
						       "chunk %llu is mapped (dzone %u bzone %u)",
						       (unsigned long long)(mb - 1) * DMZ_MAP_ENTRIES + j,
						       dmz_get_le32(p0 + j * DMZ_MAP_ENTRY_SIZE),
						       dmz_get_le32(p0 + j * DMZ_MAP_ENTRY_SIZE + 4));
						ret = -DMZ_ERR_BAD_META;
						goto out;
					}
				}
			} else {
				for (j = 0; j < DMZ_BLOCK_SIZE; j++) {
					if (p0[j]) {
						dmz_seterr(err, errlen,
						       "bitmap block %llu is not zeroed",
						       (unsigned long long)mb);
						ret = -DMZ_ERR_BAD_META;
						goto out;
					}
				}
			}
			if (memcmp(p0, p1, DMZ_BLOCK_SIZE)) {
				dmz_seterr(err, errlen,
				       "metadata block %llu differs between the two sets",
				       (unsigned long long)mb);
				ret = -DMZ_ERR_BAD_META;
				goto out;
			}
		}
		blk += n;
	}
out:
	free(b0);
	free(b1);
	return ret;
}

/* The estimate of the metadata zones overshoots (see dmz_compute_layout()) */
static int ref_layout_overshoots(const struct dmz_geom *g, uint32_t reserved)
{
	struct dmz_layout l;

	if (dmz_compute_layout(g, reserved, &l, NULL, 0))
		return 0;
	return l.est_meta_zones != l.nr_meta_zones;
}

int dmz_verify(const struct dmz_zdev *dev, const struct dmz_zone *zones,
	       uint32_t nr_zones, uint64_t zone_nr_sectors, uint64_t capacity,
	       struct dmz_verify_report *rep, char *err, size_t errlen)
{
	struct dmz_verify_report local;
	struct dmz_geom *g;
	uint8_t *blk;
	uint32_t mz, zid, i;
	char why[200];
	int ret;

	if (!rep)
		rep = &local;
	memset(rep, 0, sizeof(*rep));
	g = &rep->geom;

	/* dmz_init_zones() */
	ret = dmz_scan_zones(zones, nr_zones, zone_nr_sectors, capacity, g,
			     err, errlen);
	if (ret)
		return ret;
	if (g->sb_zone < 0) {
		dmz_seterr(err, errlen, "Primary super block zone not set (no conventional zone)");
		return -DMZ_ERR_BAD_SB;
	}

	blk = alloc_blocks(1);
	if (!blk) {
		dmz_seterr(err, errlen, "out of memory");
		return -DMZ_ERR_IO;
	}

	/* dmz_load_sb(): primary at the start of the first random zone */
	zid = (uint32_t)g->sb_zone;
	ret = read_blocks(dev, blk, (uint64_t)zid << g->zone_nr_blocks_shift, 1,
			  err, errlen);
	if (ret)
		goto out;
	ret = dmz_kernel_check_sb(blk, g, zid, NULL, NULL, &rep->sb[0], why, sizeof(why));
	if (ret) {
		dmz_seterr(err, errlen, "primary super block (zone %u): %s", zid, why);
		goto out;
	}
	mz = dmz_sb_meta_zones(g, rep->sb[0].nr_meta_blocks);
	rep->nr_meta_zones = mz;

	/* secondary at sb[0].zone->id + nr_meta_zones */
	zid = (uint32_t)g->sb_zone + mz;
	if (zid >= g->nr_zones) {
		dmz_seterr(err, errlen, "secondary super block zone %u beyond the last zone", zid);
		ret = -DMZ_ERR_BAD_SB;
		goto out;
	}
	ret = read_blocks(dev, blk, (uint64_t)zid << g->zone_nr_blocks_shift, 1,
			  err, errlen);
	if (ret)
		goto out;
	ret = dmz_kernel_check_sb(blk, g, zid, rep->sb[0].label, rep->sb[0].uuid,
				  &rep->sb[1], why, sizeof(why));
	if (ret) {
		dmz_seterr(err, errlen, "secondary super block (zone %u): %s", zid, why);
		goto out;
	}

	/* dmz_ctr_metadata(): 2 * nr_meta_zones random zones from sb zone */
	for (i = 0; i < 2 * mz; i++) {
		const struct dmz_zone *z;

		zid = (uint32_t)g->sb_zone + i;
		if (zid >= g->nr_zones) {
			dmz_seterr(err, errlen, "metadata zone %u not present", i);
			ret = -DMZ_ERR_BAD_META;
			goto out;
		}
		z = &zones[zid];
		if (z->type != DMZ_ZONE_TYPE_CONVENTIONAL || !dmz_zone_useable(z) ||
		    z->len != g->zone_nr_sectors) {
			dmz_seterr(err, errlen, "metadata zone %u (zone %u) is not a usable random zone",
			       i, zid);
			ret = -DMZ_ERR_BAD_META;
			goto out;
		}
	}

	/* dmz-format invariants beyond what dmz_check_sb() looks at */
	if (rep->sb[0].version != DMZ_META_VER || rep->sb[1].version != DMZ_META_VER) {
		dmz_seterr(err, errlen, "metadata version %u/%u, expected %u",
		       rep->sb[0].version, rep->sb[1].version, DMZ_META_VER);
		ret = -DMZ_ERR_BAD_META;
		goto out;
	}
	if (rep->sb[0].gen != rep->sb[1].gen ||
	    rep->sb[0].nr_meta_blocks != rep->sb[1].nr_meta_blocks ||
	    rep->sb[0].nr_reserved_seq != rep->sb[1].nr_reserved_seq ||
	    rep->sb[0].nr_chunks != rep->sb[1].nr_chunks ||
	    rep->sb[0].nr_map_blocks != rep->sb[1].nr_map_blocks ||
	    rep->sb[0].nr_bitmap_blocks != rep->sb[1].nr_bitmap_blocks ||
	    memcmp(rep->sb[0].dev_uuid, rep->sb[1].dev_uuid, DMZ_UUID_LEN)) {
		dmz_seterr(err, errlen, "the two super blocks disagree");
		ret = -DMZ_ERR_BAD_META;
		goto out;
	}
	if (!rep->sb[0].nr_chunks) {
		dmz_seterr(err, errlen, "no chunks");
		ret = -DMZ_ERR_BAD_META;
		goto out;
	}
	if (rep->sb[0].nr_map_blocks !=
	    (rep->sb[0].nr_chunks + DMZ_MAP_ENTRIES - 1) / DMZ_MAP_ENTRIES) {
		dmz_seterr(err, errlen, "nr_map_blocks %u does not match %u chunks",
		       rep->sb[0].nr_map_blocks, rep->sb[0].nr_chunks);
		ret = -DMZ_ERR_BAD_META;
		goto out;
	}
	if ((uint64_t)rep->sb[0].nr_bitmap_blocks !=
	    (uint64_t)g->nr_zones * g->zone_nr_bitmap_blocks) {
		dmz_seterr(err, errlen, "nr_bitmap_blocks %u does not cover %u zones",
		       rep->sb[0].nr_bitmap_blocks, g->nr_zones);
		ret = -DMZ_ERR_BAD_META;
		goto out;
	}
	if ((uint64_t)rep->sb[0].nr_meta_blocks !=
	    1ull + rep->sb[0].nr_map_blocks + rep->sb[0].nr_bitmap_blocks) {
		dmz_seterr(err, errlen, "nr_meta_blocks %u != 1 + %u + %u",
		       rep->sb[0].nr_meta_blocks, rep->sb[0].nr_map_blocks,
		       rep->sb[0].nr_bitmap_blocks);
		ret = -DMZ_ERR_BAD_META;
		goto out;
	}
	/* What dmzadm --check says of both super blocks */
	rep->ref_checked = !g->has_runt && g->nr_cache_zones == g->nr_rnd_zones &&
			   !ref_layout_overshoots(g, rep->sb[0].nr_reserved_seq);
	for (i = 0; rep->ref_checked && i < 2; i++) {
		ret = read_blocks(dev, blk, rep->sb[i].sb_block, 1, err, errlen);
		if (ret)
			goto out;
		ret = dmz_ref_check_sb(blk, g, rep->sb[i].sb_block, NULL, why,
				       sizeof(why));
		if (ret) {
			dmz_seterr(err, errlen, "%s super block: dmzadm --check would say: %s",
				   i ? "secondary" : "primary", why);
			goto out;
		}
	}
	rep->nr_data_zones = g->nr_useable_zones - (2 * mz + rep->sb[0].nr_reserved_seq);

	/* Sequential zones must be empty for the chunk mapping to start clean */
	for (i = 0; i < g->nr_zones; i++) {
		const struct dmz_zone *z = &zones[i];

		if (zone_is_seq(z) && dmz_zone_useable(z) &&
		    z->len == g->zone_nr_sectors && z->wp != z->start) {
			dmz_seterr(err, errlen, "sequential zone %u is not empty (wp %llu)",
			       i, (unsigned long long)(z->wp - z->start));
			ret = -DMZ_ERR_BAD_META;
			goto out;
		}
	}

	/* dmz_load_mapping() + bitmaps, and identical sets */
	ret = check_meta_blocks(dev, rep->sb, err, errlen);
out:
	free(blk);
	return ret;
}

int dmz_find_existing_sb(const struct dmz_zdev *dev, const struct dmz_geom *g,
			 const struct dmz_layout *l, struct dmz_sb_info *sb)
{
	uint64_t where[3];
	uint8_t *blk;
	unsigned int i;
	int ret, found = 0;

	where[0] = l->sb_block[0];
	where[1] = l->sb_block[1];
	/* the old secondary of a 1-zone set, if the layout changed */
	where[2] = ((uint64_t)g->sb_zone + 1) << g->zone_nr_blocks_shift;

	blk = alloc_blocks(1);
	if (!blk)
		return -ENOMEM;
	for (i = 0; i < 3 && !found; i++) {
		ret = dev->ops->read(dev->ctx, blk, DMZ_BLOCK_SIZE,
				     where[i] * DMZ_BLOCK_SIZE);
		if (ret) {
			free(blk);
			return ret;
		}
		if (dmz_get_le32(blk) == DMZ_MAGIC) {
			dmz_sb_decode(blk, sb);
			found = 1;
		}
	}
	free(blk);
	return found;
}
