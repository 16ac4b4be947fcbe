/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmz_layout.h - pure (I/O free) logic of dmz-format.
 *
 * On-disk format of the Linux dm-zoned target, metadata version 2, as
 * read by drivers/md/dm-zoned-metadata.c in Linux 6.12 (single zoned
 * device mode).  Everything here is derived from that file; see README.md.
 */
#ifndef DMZ_LAYOUT_H
#define DMZ_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

/* dm-zoned.h: metadata blocks are 4 KiB */
#define DMZ_BLOCK_SHIFT		12
#define DMZ_BLOCK_SIZE		(1u << DMZ_BLOCK_SHIFT)
#define DMZ_BLOCK_SIZE_BITS	(DMZ_BLOCK_SIZE * 8u)
#define DMZ_BLOCK_SECTORS	(DMZ_BLOCK_SIZE >> 9)

/* dm-zoned-metadata.c */
#define DMZ_META_VER		2u
#define DMZ_MAGIC		((((uint32_t)'D') << 24) | (((uint32_t)'Z') << 16) | \
				 (((uint32_t)'B') << 8) | ((uint32_t)'D'))
#define DMZ_MAP_ENTRY_SIZE	8u	/* struct dmz_map: 2 x __le32 */
#define DMZ_MAP_ENTRIES		(DMZ_BLOCK_SIZE / DMZ_MAP_ENTRY_SIZE) /* 512 */
#define DMZ_MAP_UNMAPPED	0xffffffffu
#define DMZ_LABEL_LEN		32u	/* BDEVNAME_SIZE */
#define DMZ_UUID_LEN		16u

/*
 * Default number of sequential zones reserved for reclaim, as dmzadm
 * --format writes it before clamping it to the cache zones (see
 * dmz_clamp_reserved_seq()).
 */
#define DMZ_DEFAULT_RESERVED_SEQ	16u

/*
 * Cache zones dm-zoned needs on a single device: 2 for the two metadata
 * sets (one zone each at the least) and 1 to buffer random writes.
 */
#define DMZ_MIN_CACHE_ZONES		3u

/* Zone types and conditions: same values as <linux/blkzoned.h>. */
enum {
	DMZ_ZONE_TYPE_CONVENTIONAL	= 0x1,
	DMZ_ZONE_TYPE_SEQWRITE_REQ	= 0x2,
	DMZ_ZONE_TYPE_SEQWRITE_PREF	= 0x3,
};
enum {
	DMZ_ZONE_COND_NOT_WP	= 0x0,
	DMZ_ZONE_COND_EMPTY	= 0x1,
	DMZ_ZONE_COND_IMP_OPEN	= 0x2,
	DMZ_ZONE_COND_EXP_OPEN	= 0x3,
	DMZ_ZONE_COND_CLOSED	= 0x4,
	DMZ_ZONE_COND_READONLY	= 0xD,
	DMZ_ZONE_COND_FULL	= 0xE,
	DMZ_ZONE_COND_OFFLINE	= 0xF,
};

/* One zone, as returned by BLKREPORTZONE (all values in 512 B sectors). */
struct dmz_zone {
	uint64_t start;
	uint64_t len;
	uint64_t capacity;	/* == len when the report has no capacity */
	uint64_t wp;
	uint8_t type;
	uint8_t cond;
};

/* Error codes (returned negated). */
enum dmz_err {
	DMZ_OK = 0,
	DMZ_ERR_INVAL = 1,	/* bad argument */
	DMZ_ERR_GEOMETRY,	/* zone table not usable by dm-zoned */
	DMZ_ERR_NO_CONV,	/* fewer than DMZ_MIN_CACHE_ZONES conventional zones */
	DMZ_ERR_TOO_SMALL,	/* not enough zones for metadata/reserved/data */
	DMZ_ERR_BAD_SB,		/* super block rejected (dmz_check_sb) */
	DMZ_ERR_BAD_META,	/* other metadata inconsistency */
	DMZ_ERR_IO,		/* I/O callback failed */
};

/*
 * Device geometry as the kernel sees it after dmz_init_zones() /
 * dmz_init_zone() for a single zoned device.
 */
struct dmz_geom {
	uint64_t capacity;		/* device capacity, sectors */
	uint64_t zone_nr_sectors;
	unsigned int zone_nr_sectors_shift;
	uint64_t zone_nr_blocks;
	unsigned int zone_nr_blocks_shift;
	uint32_t zone_nr_bitmap_blocks;	/* max(1, (zone_nr_blocks/8) >> 12) */
	uint32_t nr_zones;		/* all zones, including a runt/offline */
	uint32_t nr_useable_zones;	/* kernel: nr_useable_zones */
	uint32_t nr_rnd_zones;		/* kernel: nr_rnd_zones (useable conv) */
	uint32_t nr_seq_zones;		/* useable sequential (req or pref) */
	uint32_t nr_unusable_zones;	/* offline, read-only or runt */
	/*
	 * dmzadm's view of the same zone table: "cache" zones are the random
	 * write zones (conventional or sequential-write-preferred) in any
	 * condition, and its usable zones are the kernel's plus the cache
	 * zones that are offline or read-only.  dmzadm --check compares
	 * nr_reserved_seq with nr_cache_zones and nr_chunks with
	 * nr_ref_useable_zones.
	 */
	uint32_t nr_cache_zones;
	uint32_t nr_ref_useable_zones;
	int32_t sb_zone;		/* first useable conventional zone, -1 if none */
	uint32_t nr_contig_rnd;		/* useable conv zones in a row from sb_zone */
	int has_runt;			/* last zone smaller than zone size */
};

/* Metadata layout computed by dmz-format. */
struct dmz_layout {
	uint32_t nr_meta_blocks;	/* per set, including the super block */
	uint32_t nr_meta_zones;		/* per set: DIV_ROUND_UP(nr_meta_blocks, zone_nr_blocks) */
	/*
	 * Per set, as estimated to size nr_chunks (step 4 of
	 * dmz_compute_layout()).  Rarely one more than nr_meta_zones: then
	 * dmzadm --check expects 2 more chunks than dmzadm --format writes.
	 */
	uint32_t est_meta_zones;
	uint32_t nr_reserved_seq;
	uint32_t nr_chunks;
	uint32_t nr_map_blocks;		/* DIV_ROUND_UP(nr_chunks, DMZ_MAP_ENTRIES) */
	uint32_t nr_bitmap_blocks;	/* nr_zones * zone_nr_bitmap_blocks */
	uint32_t sb_zone[2];		/* zone id of primary / secondary set */
	uint64_t sb_block[2];		/* absolute 4K block of each super block */
};

/* Decoded super block (CPU byte order). */
struct dmz_sb_info {
	uint32_t magic;
	uint32_t version;
	uint64_t gen;
	uint64_t sb_block;
	uint32_t nr_meta_blocks;
	uint32_t nr_reserved_seq;
	uint32_t nr_chunks;
	uint32_t nr_map_blocks;
	uint32_t nr_bitmap_blocks;
	uint32_t crc;
	uint8_t label[DMZ_LABEL_LEN];
	uint8_t uuid[DMZ_UUID_LEN];
	uint8_t dev_uuid[DMZ_UUID_LEN];
};

/*
 * Byte layout of struct dmz_super (dm-zoned-metadata.c).  Only used for
 * offsetof(); fields are always accessed through explicit little-endian
 * helpers so host endianness and padding never matter.
 */
struct dmz_super_disk {
	uint32_t magic;			/* __le32,   0 */
	uint32_t version;		/* __le32,   4 */
	uint64_t gen;			/* __le64,   8 */
	uint64_t sb_block;		/* __le64,  16 */
	uint32_t nr_meta_blocks;	/* __le32,  24 */
	uint32_t nr_reserved_seq;	/* __le32,  28 */
	uint32_t nr_chunks;		/* __le32,  32 */
	uint32_t nr_map_blocks;		/* __le32,  36 */
	uint32_t nr_bitmap_blocks;	/* __le32,  40 */
	uint32_t crc;			/* __le32,  44 */
	uint8_t dmz_label[32];		/*          48 */
	uint8_t dmz_uuid[16];		/*          80 */
	uint8_t dev_uuid[16];		/*          96 */
	uint8_t reserved[400];		/* 112 .. 511 */
} __attribute__((packed));

/* A zone dm-zoned can use: neither offline nor read-only. */
static inline int dmz_zone_useable(const struct dmz_zone *z)
{
	return z->cond != DMZ_ZONE_COND_OFFLINE &&
	       z->cond != DMZ_ZONE_COND_READONLY;
}

/* An all-zero uuid, which dm-zoned rejects. */
static inline int dmz_uuid_is_null(const uint8_t u[DMZ_UUID_LEN])
{
	unsigned int i;

	for (i = 0; i < DMZ_UUID_LEN; i++)
		if (u[i])
			return 0;
	return 1;
}

/* Little-endian helpers */
static inline void dmz_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void dmz_put_le64(uint8_t *p, uint64_t v)
{
	dmz_put_le32(p, (uint32_t)v);
	dmz_put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t dmz_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	       ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t dmz_get_le64(const uint8_t *p)
{
	return (uint64_t)dmz_get_le32(p) | ((uint64_t)dmz_get_le32(p + 4) << 32);
}

/*
 * Same semantics as the kernel's crc32_le(): reflected polynomial
 * 0xedb88320, the seed is used as-is and there is no final inversion.
 * The common "CRC-32" (zlib) equals ~dmz_crc32_le(~0, p, len).
 */
uint32_t dmz_crc32_le(uint32_t seed, const void *p, size_t len);

/*
 * Compute the kernel view of the zone table (dmz_init_zones()).
 * zones[] must be sorted by start and cover the device.
 */
int dmz_scan_zones(const struct dmz_zone *zones, uint32_t nr_zones,
		   uint64_t zone_nr_sectors, uint64_t capacity,
		   struct dmz_geom *g, char *err, size_t errlen);

/* Default number of reserved sequential zones (before clamping). */
uint32_t dmz_default_reserved_seq(const struct dmz_geom *g);

/*
 * The number of reserved sequential zones a format writes for a requested
 * value (0: the default): more reserved zones than cache zones make no
 * sense, so a request above the number of cache zones becomes that number
 * minus one.  A request equal to it is kept.
 */
uint32_t dmz_clamp_reserved_seq(const struct dmz_geom *g, uint32_t requested);

/*
 * Compute the metadata layout.  reserved_seq == 0 selects the default.
 * Returns 0 or -DMZ_ERR_*; err receives a human readable reason that says
 * what is missing and how much of it (the caller prefixes the device).
 */
int dmz_compute_layout(const struct dmz_geom *g, uint32_t reserved_seq,
		       struct dmz_layout *l, char *err, size_t errlen);

/* Fill a super block info for metadata set 0 or 1. */
void dmz_sb_fill(struct dmz_sb_info *sb, const struct dmz_layout *l, int set,
		 uint64_t gen, const char *label,
		 const uint8_t uuid[DMZ_UUID_LEN],
		 const uint8_t dev_uuid[DMZ_UUID_LEN]);

/*
 * Encode into a 4096 B block (zero padded).  The crc field is computed as
 * in dmz_write_sb(): crc32_le(gen, block with crc = 0, 4096).  The
 * computed crc is stored back into sb->crc.
 */
void dmz_sb_encode(struct dmz_sb_info *sb, uint8_t blk[DMZ_BLOCK_SIZE]);

/* Decode a 4096 B block.  Returns 1 if the stored crc is valid, else 0. */
int dmz_sb_decode(const uint8_t blk[DMZ_BLOCK_SIZE], struct dmz_sb_info *sb);

/*
 * Apply the checks of dmz_check_sb() (non tertiary, nr_devs == 1) to the
 * super block read from the start of zone zone_id.  If label_ref is non
 * NULL and non empty it must match (as for the second super block).
 * Returns 0 or -DMZ_ERR_BAD_SB.
 */
int dmz_kernel_check_sb(const uint8_t blk[DMZ_BLOCK_SIZE],
			const struct dmz_geom *g, uint32_t zone_id,
			const uint8_t *label_ref, const uint8_t *uuid_ref,
			struct dmz_sb_info *out, char *err, size_t errlen);

/*
 * Apply the super block checks of dmzadm --check (dm-zoned-tools) to the
 * block read at absolute 4K block sb_block.  Its rules: magic, crc
 * (crc32_le seeded with gen), version <= 2, for version 2 a non-null
 * dm-zoned uuid, a non-empty label and a non-null device uuid, then the
 * location, nr_meta_blocks == 1 + nr_map_blocks + nr_bitmap_blocks,
 * nr_reserved_seq <= cache zones, nr_chunks == usable zones -
 * (2 * metadata zones + nr_reserved_seq), nr_map_blocks ==
 * DIV_ROUND_UP(nr_chunks, 512) and nr_bitmap_blocks == nr_zones *
 * zone_nr_bitmap_blocks.  A device with a runt last zone is refused, as
 * dmzadm refuses a zone report that does not end at nr_zones * zone size.
 * Returns 0 or -DMZ_ERR_BAD_SB with dmzadm's wording in err.
 */
int dmz_ref_check_sb(const uint8_t blk[DMZ_BLOCK_SIZE], const struct dmz_geom *g,
		     uint64_t sb_block, struct dmz_sb_info *out,
		     char *err, size_t errlen);

/* Kernel's derived number of metadata zones for a super block. */
uint32_t dmz_sb_meta_zones(const struct dmz_geom *g, uint32_t nr_meta_blocks);

/*
 * Initialize mapping block number map_idx (0 based): every dmz_map entry
 * {dzone_id, bzone_id} = {DMZ_MAP_UNMAPPED, DMZ_MAP_UNMAPPED}.
 */
void dmz_map_block_init(uint8_t blk[DMZ_BLOCK_SIZE]);

/* Metadata block index (relative to a set) of the bitmap of a zone. */
uint64_t dmz_bitmap_block_of_zone(const struct dmz_layout *l,
				  const struct dmz_geom *g, uint32_t zone_id);

/* Format an error message into err (errlen bytes); no-op when err is NULL. */
void dmz_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* DMZ_LAYOUT_H */
