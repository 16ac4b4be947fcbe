// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmz_layout.c - layout computation, super block encoding and the
 * kernel-side validation rules of dm-zoned (Linux 6.12,
 * drivers/md/dm-zoned-metadata.c), without any I/O.
 */
#include "dmz_layout.h"
#include "../include/ilog2.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* C99 compile time assertion */
#define DMZ_STATIC_ASSERT(cond, name) \
	typedef char dmz_static_assert_##name[(cond) ? 1 : -1]

/* struct dmz_super byte offsets (see the kernel struct comments). */
DMZ_STATIC_ASSERT(offsetof(struct dmz_super_disk, magic) == 0, off_magic);
DMZ_STATIC_ASSERT(offsetof(struct dmz_super_disk, version) == 4, off_version);
DMZ_STATIC_ASSERT(offsetof(struct dmz_super_disk, gen) == 8, off_gen);
DMZ_STATIC_ASSERT(offsetof(struct dmz_super_disk, sb_block) == 16, off_sb_block);
DMZ_STATIC_ASSERT(offsetof(struct dmz_super_disk, nr_meta_blocks) == 24, off_nr_meta);
DMZ_STATIC_ASSERT(offsetof(struct dmz_super_disk, nr_reserved_seq) == 28, off_nr_res);
DMZ_STATIC_ASSERT(offsetof(struct dmz_super_disk, nr_chunks) == 32, off_nr_chunks);
DMZ_STATIC_ASSERT(offsetof(struct dmz_super_disk, nr_map_blocks) == 36, off_nr_map);
DMZ_STATIC_ASSERT(offsetof(struct dmz_super_disk, nr_bitmap_blocks) == 40, off_nr_bitmap);
DMZ_STATIC_ASSERT(offsetof(struct dmz_super_disk, crc) == 44, off_crc);
DMZ_STATIC_ASSERT(offsetof(struct dmz_super_disk, dmz_label) == 48, off_label);
DMZ_STATIC_ASSERT(offsetof(struct dmz_super_disk, dmz_uuid) == 80, off_uuid);
DMZ_STATIC_ASSERT(offsetof(struct dmz_super_disk, dev_uuid) == 96, off_dev_uuid);
DMZ_STATIC_ASSERT(offsetof(struct dmz_super_disk, reserved) == 112, off_reserved);
DMZ_STATIC_ASSERT(sizeof(struct dmz_super_disk) == 512, size_super);
DMZ_STATIC_ASSERT(DMZ_MAP_ENTRIES == 512, map_entries);
DMZ_STATIC_ASSERT(DMZ_MAGIC == 0x445a4244u, magic);

#define SB_OFF(f) offsetof(struct dmz_super_disk, f)

void dmz_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- crc32 */

static uint32_t crc_table[256];
static int crc_table_ready;

static void crc_table_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c >> 1) ^ ((c & 1) ? 0xedb88320u : 0);
		crc_table[i] = c;
	}
	crc_table_ready = 1;
}

uint32_t dmz_crc32_le(uint32_t crc, const void *p, size_t len)
{
	const uint8_t *b = p;

	if (!crc_table_ready)
		crc_table_init();
	while (len--)
		crc = (crc >> 8) ^ crc_table[(crc ^ *b++) & 0xff];
	return crc;
}

/* --------------------------------------------------------------- zones */

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int dmz_scan_zones(const struct dmz_zone *zones, uint32_t nr_zones,
		   uint64_t zone_nr_sectors, uint64_t capacity,
		   struct dmz_geom *g, char *err, size_t errlen)
{
	uint32_t i;

	memset(g, 0, sizeof(*g));
	g->sb_zone = -1;

	if (!is_pow2(zone_nr_sectors) || zone_nr_sectors < DMZ_BLOCK_SECTORS) {
		dmz_seterr(err, errlen,
		       "zone size of %llu sectors is not a power of 2 multiple of 4 KiB",
		       (unsigned long long)zone_nr_sectors);
		return -DMZ_ERR_GEOMETRY;
	}
	if (!nr_zones) {
		dmz_seterr(err, errlen, "no zones reported");
		return -DMZ_ERR_GEOMETRY;
	}

	/* dmz_init_zones() */
	g->capacity = capacity;
	g->zone_nr_sectors = zone_nr_sectors;
	g->zone_nr_sectors_shift = (unsigned int)ilog2_u64(zone_nr_sectors);
	g->zone_nr_blocks = zone_nr_sectors / DMZ_BLOCK_SECTORS;
	g->zone_nr_blocks_shift = (unsigned int)ilog2_u64(g->zone_nr_blocks);
	g->zone_nr_bitmap_blocks = (uint32_t)((g->zone_nr_blocks >> 3) >> DMZ_BLOCK_SHIFT);
	if (!g->zone_nr_bitmap_blocks)
		g->zone_nr_bitmap_blocks = 1;
	g->nr_zones = nr_zones;

	if ((uint64_t)nr_zones * zone_nr_sectors < capacity) {
		dmz_seterr(err, errlen, "%u zones of %llu sectors do not cover %llu sectors",
		       nr_zones, (unsigned long long)zone_nr_sectors,
		       (unsigned long long)capacity);
		return -DMZ_ERR_GEOMETRY;
	}

	/* dmz_init_zone() */
	for (i = 0; i < nr_zones; i++) {
		const struct dmz_zone *z = &zones[i];

		if (z->start != (uint64_t)i * zone_nr_sectors) {
			dmz_seterr(err, errlen, "zone %u starts at sector %llu, expected %llu",
			       i, (unsigned long long)z->start,
			       (unsigned long long)i * zone_nr_sectors);
			return -DMZ_ERR_GEOMETRY;
		}
		if (z->len != zone_nr_sectors) {
			/*
			 * The metadata version is not known yet when zones are
			 * initialized, so only a last runt zone is tolerated.
			 */
			if (i == nr_zones - 1 && z->start + z->len == capacity) {
				g->has_runt = 1;
				g->nr_unusable_zones++;
				continue;
			}
			dmz_seterr(err, errlen,
			       "zone %u has %llu sectors instead of %llu (only the last zone may be smaller)",
			       i, (unsigned long long)z->len,
			       (unsigned long long)zone_nr_sectors);
			return -DMZ_ERR_GEOMETRY;
		}
		if (z->capacity != z->len) {
			dmz_seterr(err, errlen,
			       "zone %u capacity (%llu sectors) is smaller than its size; not supported by dm-zoned",
			       i, (unsigned long long)z->capacity);
			return -DMZ_ERR_GEOMETRY;
		}
		if (z->type != DMZ_ZONE_TYPE_CONVENTIONAL &&
		    z->type != DMZ_ZONE_TYPE_SEQWRITE_REQ &&
		    z->type != DMZ_ZONE_TYPE_SEQWRITE_PREF) {
			dmz_seterr(err, errlen, "zone %u has unknown type 0x%x", i, z->type);
			return -DMZ_ERR_GEOMETRY;
		}
		/*
		 * dmzadm counts every random write zone as a cache zone, and as
		 * usable whatever its condition; other zones are usable unless
		 * offline or read-only.
		 */
		if (z->type != DMZ_ZONE_TYPE_SEQWRITE_REQ) {
			g->nr_cache_zones++;
			g->nr_ref_useable_zones++;
		} else if (dmz_zone_useable(z)) {
			g->nr_ref_useable_zones++;
		}
		if (!dmz_zone_useable(z)) {
			g->nr_unusable_zones++;
			continue;
		}
		g->nr_useable_zones++;
		if (z->type == DMZ_ZONE_TYPE_CONVENTIONAL) {
			g->nr_rnd_zones++;
			if (g->sb_zone < 0)
				g->sb_zone = (int32_t)i;	/* primary super block zone */
		} else {
			g->nr_seq_zones++;
		}
	}

	if (g->sb_zone >= 0) {
		for (i = (uint32_t)g->sb_zone; i < nr_zones; i++) {
			if (zones[i].len != zone_nr_sectors ||
			    zones[i].type != DMZ_ZONE_TYPE_CONVENTIONAL ||
			    !dmz_zone_useable(&zones[i]))
				break;
			g->nr_contig_rnd++;
		}
	}
	return 0;
}

/* -------------------------------------------------------------- layout */

uint32_t dmz_default_reserved_seq(const struct dmz_geom *g)
{
	(void)g;
	return DMZ_DEFAULT_RESERVED_SEQ;
}

uint32_t dmz_clamp_reserved_seq(const struct dmz_geom *g, uint32_t requested)
{
	uint32_t r = requested ? requested : dmz_default_reserved_seq(g);

	/*
	 * Reserved sequential zones receive what reclaim moves out of the
	 * cache zones: more of them than cache zones is useless, so the
	 * count is cut to one less than the cache zones.
	 */
	if (r > g->nr_cache_zones)
		r = g->nr_cache_zones ? g->nr_cache_zones - 1 : 0;
	return r;
}

static uint64_t div_round_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

uint32_t dmz_sb_meta_zones(const struct dmz_geom *g, uint32_t nr_meta_blocks)
{
	/* dmz_check_sb(): (nr_meta_blocks + zone_nr_blocks - 1) >> shift */
	return (uint32_t)(((uint64_t)nr_meta_blocks + g->zone_nr_blocks - 1) >>
			  g->zone_nr_blocks_shift);
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/*
 * The layout of a dm-zoned single device, decided as dmzadm --format
 * decides it:
 *
 * 1. at least DMZ_MIN_CACHE_ZONES cache zones (2 metadata + 1 buffer);
 * 2. nr_reserved_seq = dmz_clamp_reserved_seq(), and fewer reserved zones
 *    than usable zones;
 * 3. one bitmap per zone id, nr_zones * zone_nr_bitmap_blocks blocks; the
 *    zones these bitmaps fill plus the reserved zones fit in the usable
 *    zones;
 * 4. the number of metadata zones per set is estimated with the largest
 *    chunk count that the bitmaps and reserved zones leave, i.e. usable -
 *    bitmap zones - reserved, whose map blocks are then an upper bound;
 *    both sets must fit in the cache zones;
 * 5. nr_chunks = usable - (2 * estimated metadata zones + reserved), and
 *    nr_map_blocks and nr_meta_blocks follow from it; the secondary set
 *    starts right after the primary's zones as the kernel derives them
 *    from nr_meta_blocks.  When the estimate overshoots (the map blocks
 *    of the smaller chunk count end exactly on a zone boundary), those
 *    zones are one fewer than the estimate: dmzadm --format still writes
 *    this nr_chunks, the kernel accepts it (fewer chunks than it allows)
 *    and dmzadm --check rejects it; no nr_chunks passes that check then.
 *
 * On top of that, what the kernel needs (dmz_init_zone(), dmz_check_sb(),
 * dmz_ctr_metadata()) and the reference does not look at: the super block
 * sits in the first usable conventional zone, both metadata sets are on
 * consecutive usable conventional zones from there, and at least one
 * chunk is left for data (a dm target cannot be empty).
 */
int dmz_compute_layout(const struct dmz_geom *g, uint32_t reserved_seq,
		       struct dmz_layout *l, char *err, size_t errlen)
{
	uint64_t bitmap, bitmap_zones, est_chunks, meta, chunks, map, used;
	uint32_t mz, kmz;

	memset(l, 0, sizeof(*l));

	/* 1. cache zones */
	if (!g->nr_cache_zones) {
		dmz_seterr(err, errlen,
			   "no conventional zones: dm-zoned needs at least %u for its metadata (2 metadata sets + 1 to buffer random writes)",
			   DMZ_MIN_CACHE_ZONES);
		return -DMZ_ERR_NO_CONV;
	}
	if (g->sb_zone < 0) {
		dmz_seterr(err, errlen,
			   "no usable conventional zones (%u random write zone%s, all offline, read-only or sequential-write-preferred): dm-zoned needs at least %u usable conventional zones for its metadata",
			   g->nr_cache_zones, plural(g->nr_cache_zones),
			   DMZ_MIN_CACHE_ZONES);
		return -DMZ_ERR_NO_CONV;
	}
	if (g->nr_cache_zones < DMZ_MIN_CACHE_ZONES) {
		dmz_seterr(err, errlen,
			   "only %u conventional zone%s: dm-zoned needs at least %u for its metadata (2 metadata sets + 1 to buffer random writes), %u missing",
			   g->nr_cache_zones, plural(g->nr_cache_zones),
			   DMZ_MIN_CACHE_ZONES,
			   DMZ_MIN_CACHE_ZONES - g->nr_cache_zones);
		return -DMZ_ERR_NO_CONV;
	}

	/* 2. reserved sequential zones */
	reserved_seq = dmz_clamp_reserved_seq(g, reserved_seq);
	if (reserved_seq >= g->nr_useable_zones) {
		dmz_seterr(err, errlen,
			   "only %u usable zones: %u reserved sequential zones need at least %u, %u missing",
			   g->nr_useable_zones, reserved_seq, reserved_seq + 1,
			   reserved_seq + 1 - g->nr_useable_zones);
		return -DMZ_ERR_TOO_SMALL;
	}

	/* 3. bitmaps, indexed by zone id (dmz_get_bitmap()): all zones */
	bitmap = (uint64_t)g->nr_zones * g->zone_nr_bitmap_blocks;
	bitmap_zones = div_round_up(bitmap, g->zone_nr_blocks);
	if (bitmap_zones + reserved_seq > g->nr_useable_zones) {
		dmz_seterr(err, errlen,
			   "only %u usable zones: %llu bitmap zone%s + %u reserved need %llu, %llu missing",
			   g->nr_useable_zones, (unsigned long long)bitmap_zones,
			   plural(bitmap_zones), reserved_seq,
			   (unsigned long long)(bitmap_zones + reserved_seq),
			   (unsigned long long)(bitmap_zones + reserved_seq -
						g->nr_useable_zones));
		return -DMZ_ERR_TOO_SMALL;
	}

	/* 4. metadata zones per set, estimated with the most chunks */
	est_chunks = g->nr_useable_zones - bitmap_zones - reserved_seq;
	meta = 1 + div_round_up(est_chunks, DMZ_MAP_ENTRIES) + bitmap;
	if (meta > UINT32_MAX) {
		dmz_seterr(err, errlen, "metadata too large (%llu blocks)",
			   (unsigned long long)meta);
		return -DMZ_ERR_GEOMETRY;
	}
	mz = (uint32_t)div_round_up(meta, g->zone_nr_blocks);
	if (2ull * mz > g->nr_cache_zones) {
		dmz_seterr(err, errlen,
			   "only %u conventional zones: the 2 metadata sets of %u zone%s each need %llu, %llu missing",
			   g->nr_cache_zones, mz, plural(mz), 2ull * mz,
			   2ull * mz - g->nr_cache_zones);
		return -DMZ_ERR_TOO_SMALL;
	}
	if (g->nr_contig_rnd < 2ull * mz) {
		dmz_seterr(err, errlen,
			   "only %u usable conventional zone%s in a row from zone %d: the 2 metadata sets of %u zone%s each need %llu, %llu missing",
			   g->nr_contig_rnd, plural(g->nr_contig_rnd), g->sb_zone,
			   mz, plural(mz), 2ull * mz,
			   2ull * mz - g->nr_contig_rnd);
		return -DMZ_ERR_TOO_SMALL;
	}

	/* 5. chunks */
	used = 2ull * mz + reserved_seq;
	if (g->nr_useable_zones <= used) {
		dmz_seterr(err, errlen,
			   "no zone left for data: %u usable zones - %llu metadata - %u reserved = 0 chunks, at least %llu missing",
			   g->nr_useable_zones, 2ull * mz, reserved_seq,
			   (unsigned long long)(used + 1 - g->nr_useable_zones));
		return -DMZ_ERR_TOO_SMALL;
	}
	chunks = g->nr_useable_zones - used;
	map = div_round_up(chunks, DMZ_MAP_ENTRIES);
	meta = 1 + map + bitmap;

	l->nr_meta_blocks = (uint32_t)meta;
	l->nr_reserved_seq = reserved_seq;
	l->nr_chunks = (uint32_t)chunks;
	l->nr_map_blocks = (uint32_t)map;
	l->nr_bitmap_blocks = (uint32_t)bitmap;
	/* What the kernel derives from nr_meta_blocks (<= mz) */
	kmz = dmz_sb_meta_zones(g, l->nr_meta_blocks);
	l->nr_meta_zones = kmz;
	l->est_meta_zones = mz;
	l->sb_zone[0] = (uint32_t)g->sb_zone;
	l->sb_zone[1] = (uint32_t)g->sb_zone + kmz;
	l->sb_block[0] = (uint64_t)l->sb_zone[0] << g->zone_nr_blocks_shift;
	l->sb_block[1] = (uint64_t)l->sb_zone[1] << g->zone_nr_blocks_shift;
	return 0;
}

/* --------------------------------------------------------- super block */

void dmz_sb_fill(struct dmz_sb_info *sb, const struct dmz_layout *l, int set,
		 uint64_t gen, const char *label,
		 const uint8_t uuid[DMZ_UUID_LEN],
		 const uint8_t dev_uuid[DMZ_UUID_LEN])
{
	size_t n = label ? strlen(label) : 0;

	memset(sb, 0, sizeof(*sb));
	sb->magic = DMZ_MAGIC;
	sb->version = DMZ_META_VER;
	sb->gen = gen;
	sb->sb_block = l->sb_block[set ? 1 : 0];
	sb->nr_meta_blocks = l->nr_meta_blocks;
	sb->nr_reserved_seq = l->nr_reserved_seq;
	sb->nr_chunks = l->nr_chunks;
	sb->nr_map_blocks = l->nr_map_blocks;
	sb->nr_bitmap_blocks = l->nr_bitmap_blocks;
	/* keep a terminating NUL: the kernel uses strlen() on the label */
	if (n > DMZ_LABEL_LEN - 1)
		n = DMZ_LABEL_LEN - 1;
	if (n)
		memcpy(sb->label, label, n);
	memcpy(sb->uuid, uuid, DMZ_UUID_LEN);
	memcpy(sb->dev_uuid, dev_uuid, DMZ_UUID_LEN);
}

static uint32_t sb_block_crc(const uint8_t blk[DMZ_BLOCK_SIZE], uint64_t gen)
{
	uint8_t tmp[DMZ_BLOCK_SIZE];

	memcpy(tmp, blk, DMZ_BLOCK_SIZE);
	dmz_put_le32(tmp + SB_OFF(crc), 0);
	/* crc32_le(gen, ...): the u64 gen is truncated to the u32 seed */
	return dmz_crc32_le((uint32_t)gen, tmp, DMZ_BLOCK_SIZE);
}

void dmz_sb_encode(struct dmz_sb_info *sb, uint8_t blk[DMZ_BLOCK_SIZE])
{
	memset(blk, 0, DMZ_BLOCK_SIZE);
	dmz_put_le32(blk + SB_OFF(magic), sb->magic);
	dmz_put_le32(blk + SB_OFF(version), sb->version);
	dmz_put_le64(blk + SB_OFF(gen), sb->gen);
	dmz_put_le64(blk + SB_OFF(sb_block), sb->sb_block);
	dmz_put_le32(blk + SB_OFF(nr_meta_blocks), sb->nr_meta_blocks);
	dmz_put_le32(blk + SB_OFF(nr_reserved_seq), sb->nr_reserved_seq);
	dmz_put_le32(blk + SB_OFF(nr_chunks), sb->nr_chunks);
	dmz_put_le32(blk + SB_OFF(nr_map_blocks), sb->nr_map_blocks);
	dmz_put_le32(blk + SB_OFF(nr_bitmap_blocks), sb->nr_bitmap_blocks);
	memcpy(blk + SB_OFF(dmz_label), sb->label, DMZ_LABEL_LEN);
	memcpy(blk + SB_OFF(dmz_uuid), sb->uuid, DMZ_UUID_LEN);
	memcpy(blk + SB_OFF(dev_uuid), sb->dev_uuid, DMZ_UUID_LEN);
	/* dmz_write_sb(): crc over the whole 4K block with crc = 0 */
	sb->crc = sb_block_crc(blk, sb->gen);
	dmz_put_le32(blk + SB_OFF(crc), sb->crc);
}

int dmz_sb_decode(const uint8_t blk[DMZ_BLOCK_SIZE], struct dmz_sb_info *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->magic = dmz_get_le32(blk + SB_OFF(magic));
	sb->version = dmz_get_le32(blk + SB_OFF(version));
	sb->gen = dmz_get_le64(blk + SB_OFF(gen));
	sb->sb_block = dmz_get_le64(blk + SB_OFF(sb_block));
	sb->nr_meta_blocks = dmz_get_le32(blk + SB_OFF(nr_meta_blocks));
	sb->nr_reserved_seq = dmz_get_le32(blk + SB_OFF(nr_reserved_seq));
	sb->nr_chunks = dmz_get_le32(blk + SB_OFF(nr_chunks));
	sb->nr_map_blocks = dmz_get_le32(blk + SB_OFF(nr_map_blocks));
	sb->nr_bitmap_blocks = dmz_get_le32(blk + SB_OFF(nr_bitmap_blocks));
	sb->crc = dmz_get_le32(blk + SB_OFF(crc));
	memcpy(sb->label, blk + SB_OFF(dmz_label), DMZ_LABEL_LEN);
	memcpy(sb->uuid, blk + SB_OFF(dmz_uuid), DMZ_UUID_LEN);
	memcpy(sb->dev_uuid, blk + SB_OFF(dev_uuid), DMZ_UUID_LEN);
	return sb_block_crc(blk, sb->gen) == sb->crc;
}

int dmz_kernel_check_sb(const uint8_t blk[DMZ_BLOCK_SIZE],
			const struct dmz_geom *g, uint32_t zone_id,
			const uint8_t *label_ref, const uint8_t *uuid_ref,
			struct dmz_sb_info *out, char *err, size_t errlen)
{
	struct dmz_sb_info sb;
	uint32_t crc, nr_meta_zones;
	uint64_t expected_block, used;
	int crc_ok;

	crc_ok = dmz_sb_decode(blk, &sb);
	if (out)
		*out = sb;

	if (sb.magic != DMZ_MAGIC) {
		dmz_seterr(err, errlen, "Invalid meta magic (needed 0x%08x, got 0x%08x)",
		       DMZ_MAGIC, sb.magic);
		return -DMZ_ERR_BAD_SB;
	}
	if (sb.version > DMZ_META_VER) {
		dmz_seterr(err, errlen, "Invalid meta version (needed %u, got %u)",
		       DMZ_META_VER, sb.version);
		return -DMZ_ERR_BAD_SB;
	}
	if (!crc_ok) {
		crc = sb_block_crc(blk, sb.gen);
		dmz_seterr(err, errlen, "Invalid checksum (needed 0x%08x, got 0x%08x)",
		       crc, sb.crc);
		return -DMZ_ERR_BAD_SB;
	}
	expected_block = (uint64_t)zone_id << g->zone_nr_blocks_shift;
	if (sb.sb_block != expected_block) {
		dmz_seterr(err, errlen, "Invalid superblock position (is %llu expected %llu)",
		       (unsigned long long)sb.sb_block,
		       (unsigned long long)expected_block);
		return -DMZ_ERR_BAD_SB;
	}
	if (sb.version > 1) {
		if (dmz_uuid_is_null(sb.uuid)) {
			dmz_seterr(err, errlen, "NULL DM-Zoned uuid");
			return -DMZ_ERR_BAD_SB;
		}
		if (uuid_ref && !dmz_uuid_is_null(uuid_ref) &&
		    memcmp(uuid_ref, sb.uuid, DMZ_UUID_LEN)) {
			dmz_seterr(err, errlen, "mismatching DM-Zoned uuid");
			return -DMZ_ERR_BAD_SB;
		}
		if (label_ref && label_ref[0] &&
		    memcmp(label_ref, sb.label, DMZ_LABEL_LEN)) {
			dmz_seterr(err, errlen, "mismatching DM-Zoned label");
			return -DMZ_ERR_BAD_SB;
		}
		if (dmz_uuid_is_null(sb.dev_uuid)) {
			dmz_seterr(err, errlen, "NULL device uuid");
			return -DMZ_ERR_BAD_SB;
		}
	}

	nr_meta_zones = dmz_sb_meta_zones(g, sb.nr_meta_blocks);
	if (!nr_meta_zones || nr_meta_zones >= g->nr_rnd_zones) {
		dmz_seterr(err, errlen, "Invalid number of metadata blocks (%u blocks, %u zones, %u random zones)",
		       sb.nr_meta_blocks, nr_meta_zones, g->nr_rnd_zones);
		return -DMZ_ERR_BAD_SB;
	}
	if (!sb.nr_reserved_seq ||
	    sb.nr_reserved_seq >= g->nr_useable_zones - nr_meta_zones) {
		dmz_seterr(err, errlen, "Invalid number of reserved sequential zones (%u)",
		       sb.nr_reserved_seq);
		return -DMZ_ERR_BAD_SB;
	}
	/* nr_data_zones is unsigned in the kernel: refuse a wrap-around */
	used = 2ull * nr_meta_zones + sb.nr_reserved_seq;
	if (used > g->nr_useable_zones ||
	    sb.nr_chunks > g->nr_useable_zones - used) {
		dmz_seterr(err, errlen, "Invalid number of chunks %u / %lld", sb.nr_chunks,
		       (long long)g->nr_useable_zones - (long long)used);
		return -DMZ_ERR_BAD_SB;
	}
	return 0;
}

int dmz_ref_check_sb(const uint8_t blk[DMZ_BLOCK_SIZE], const struct dmz_geom *g,
		     uint64_t sb_block, struct dmz_sb_info *out,
		     char *err, size_t errlen)
{
	struct dmz_sb_info sb;
	uint32_t nr_meta_zones;
	int64_t nr_chunks;
	uint64_t expected;
	int crc_ok;

	/* The zone report must end at nr_zones * zone size (no runt). */
	if (g->has_runt) {
		dmz_seterr(err, errlen,
			   "Invalid zones (last sector reported is %llu, expected %llu)",
			   (unsigned long long)g->capacity,
			   (unsigned long long)g->nr_zones * g->zone_nr_sectors);
		return -DMZ_ERR_BAD_SB;
	}
	/* Locating the metadata needs the minimum of cache zones. */
	if (g->nr_cache_zones < DMZ_MIN_CACHE_ZONES) {
		dmz_seterr(err, errlen, "Not enough random zones found");
		return -DMZ_ERR_BAD_SB;
	}

	crc_ok = dmz_sb_decode(blk, &sb);
	if (out)
		*out = sb;
	if (sb.magic != DMZ_MAGIC) {
		dmz_seterr(err, errlen, "invalid magic (expected 0x%08x read 0x%08x)",
			   DMZ_MAGIC, sb.magic);
		return -DMZ_ERR_BAD_SB;
	}
	if (!crc_ok) {
		dmz_seterr(err, errlen, "invalid crc (expected 0x%08x, read 0x%08x)",
			   sb_block_crc(blk, sb.gen), sb.crc);
		return -DMZ_ERR_BAD_SB;
	}
	if (sb.version > DMZ_META_VER) {
		dmz_seterr(err, errlen, "invalid version (expected 0x%x, read 0x%x)",
			   DMZ_META_VER, sb.version);
		return -DMZ_ERR_BAD_SB;
	}
	if (sb.version > 1) {
		if (dmz_uuid_is_null(sb.uuid)) {
			dmz_seterr(err, errlen, "DM-Zoned UUID is null");
			return -DMZ_ERR_BAD_SB;
		}
		if (!sb.label[0]) {
			dmz_seterr(err, errlen, "DM-Zoned label is null");
			return -DMZ_ERR_BAD_SB;
		}
		if (dmz_uuid_is_null(sb.dev_uuid)) {
			dmz_seterr(err, errlen, "Device UUID is null");
			return -DMZ_ERR_BAD_SB;
		}
	}
	if (sb.sb_block != sb_block) {
		dmz_seterr(err, errlen, "invalid location (expected %llu, read %llu)",
			   (unsigned long long)sb_block,
			   (unsigned long long)sb.sb_block);
		return -DMZ_ERR_BAD_SB;
	}
	expected = 1ull + sb.nr_map_blocks + sb.nr_bitmap_blocks;
	if (sb.nr_meta_blocks != expected) {
		dmz_seterr(err, errlen,
			   "invalid number of metadata blocks (expected %llu, read %u)",
			   (unsigned long long)expected, sb.nr_meta_blocks);
		return -DMZ_ERR_BAD_SB;
	}
	/* Strictly more than the cache zones is refused; as many passes. */
	if (sb.nr_reserved_seq > g->nr_cache_zones) {
		dmz_seterr(err, errlen,
			   "invalid number of reserved sequential zones (expected less than %u, read %u)",
			   g->nr_cache_zones, sb.nr_reserved_seq);
		return -DMZ_ERR_BAD_SB;
	}
	nr_meta_zones = dmz_sb_meta_zones(g, sb.nr_meta_blocks);
	nr_chunks = (int64_t)g->nr_ref_useable_zones -
		    (2ll * nr_meta_zones + sb.nr_reserved_seq);
	if ((int64_t)sb.nr_chunks != nr_chunks) {
		dmz_seterr(err, errlen, "invalid number of chunks (expected %lld, read %u)",
			   (long long)nr_chunks, sb.nr_chunks);
		return -DMZ_ERR_BAD_SB;
	}
	expected = div_round_up(sb.nr_chunks, DMZ_MAP_ENTRIES);
	if (sb.nr_map_blocks != expected) {
		dmz_seterr(err, errlen, "invalid number of map blocks (expected %llu, read %u)",
			   (unsigned long long)expected, sb.nr_map_blocks);
		return -DMZ_ERR_BAD_SB;
	}
	expected = (uint64_t)g->nr_zones * g->zone_nr_bitmap_blocks;
	if (sb.nr_bitmap_blocks != expected) {
		dmz_seterr(err, errlen,
			   "invalid number of zone bitmap blocks (expected %llu, read %u)",
			   (unsigned long long)expected, sb.nr_bitmap_blocks);
		return -DMZ_ERR_BAD_SB;
	}
	return 0;
}

/* ------------------------------------------------------- map / bitmaps */

void dmz_map_block_init(uint8_t blk[DMZ_BLOCK_SIZE])
{
	unsigned int e;

	for (e = 0; e < DMZ_MAP_ENTRIES; e++) {
		dmz_put_le32(blk + e * DMZ_MAP_ENTRY_SIZE, DMZ_MAP_UNMAPPED);	  /* dzone_id */
		dmz_put_le32(blk + e * DMZ_MAP_ENTRY_SIZE + 4, DMZ_MAP_UNMAPPED); /* bzone_id */
	}
}

uint64_t dmz_bitmap_block_of_zone(const struct dmz_layout *l,
				  const struct dmz_geom *g, uint32_t zone_id)
{
	/* dmz_get_bitmap() */
	return 1 + (uint64_t)l->nr_map_blocks +
	       (uint64_t)zone_id * g->zone_nr_bitmap_blocks;
}
