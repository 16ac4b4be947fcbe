// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host-side unit tests for dmz-format.  No zoned device needed: a fake
 * zone table backed by a sparse regular file stands in for the device.
 *
 * Usage: run_tests [substring]   (only run tests whose name matches)
 * The last line printed is "N passed, M failed"; exit status 1 on failure.
 */
#include "test.h"
#include "fake_zdev.h"
#include "../dmz_layout.h"
#include "../dmz_format.h"

#include <stdint.h>
#include <stdlib.h>

int t_failed;

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

/* offsetof checks against the kernel struct dmz_super comments */
typedef char t_off_crc[(offsetof(struct dmz_super_disk, crc) == 44) ? 1 : -1];
typedef char t_off_label[(offsetof(struct dmz_super_disk, dmz_label) == 48) ? 1 : -1];
typedef char t_off_dev_uuid[(offsetof(struct dmz_super_disk, dev_uuid) == 96) ? 1 : -1];
typedef char t_size[(sizeof(struct dmz_super_disk) == 512) ? 1 : -1];

static const uint8_t UUID_A[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t UUID_B[16] = { 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
				    0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20 };

/* Build a zone table: zones [conv_first, conv_first+nr_conv) conventional. */
static struct dmz_zone *mkzones(uint64_t capacity_bytes, uint64_t zone_bytes,
				uint32_t conv_first, uint32_t nr_conv, uint32_t *nr)
{
	uint64_t cap = capacity_bytes / 512, zs = zone_bytes / 512;
	uint32_t n = (uint32_t)((cap + zs - 1) / zs), i;
	struct dmz_zone *z = calloc(n, sizeof(*z));

	if (!z)
		abort();
	for (i = 0; i < n; i++) {
		z[i].start = (uint64_t)i * zs;
		z[i].len = z[i].start + zs > cap ? cap - z[i].start : zs;
		z[i].capacity = z[i].len;
		if (i >= conv_first && i < conv_first + nr_conv) {
			z[i].type = DMZ_ZONE_TYPE_CONVENTIONAL;
			z[i].cond = DMZ_ZONE_COND_NOT_WP;
		} else {
			z[i].type = DMZ_ZONE_TYPE_SEQWRITE_REQ;
			z[i].cond = DMZ_ZONE_COND_EMPTY;
			z[i].wp = z[i].start;
		}
	}
	*nr = n;
	return z;
}

static int geom_layout(uint64_t cap, uint64_t zbytes, uint32_t conv_first,
		       uint32_t nr_conv, uint32_t reserved, struct dmz_geom *g,
		       struct dmz_layout *l, char *err, size_t errlen)
{
	uint32_t nr;
	struct dmz_zone *z = mkzones(cap, zbytes, conv_first, nr_conv, &nr);
	int ret = dmz_scan_zones(z, nr, zbytes / 512, cap / 512, g, err, errlen);

	if (!ret)
		ret = dmz_compute_layout(g, reserved, l, err, errlen);
	free(z);
	return ret;
}

/* Encode both super blocks of a layout and run the kernel checks on them. */
static int kernel_accepts(const struct dmz_geom *g, const struct dmz_layout *l,
			  char *why, size_t len)
{
	struct dmz_sb_info sb, out0, out1;
	uint8_t blk[DMZ_BLOCK_SIZE];
	int ret;

	dmz_sb_fill(&sb, l, 0, 1, "t", UUID_A, UUID_B);
	dmz_sb_encode(&sb, blk);
	ret = dmz_kernel_check_sb(blk, g, l->sb_zone[0], NULL, NULL, &out0, why, len);
	if (ret)
		return ret;
	if (l->sb_zone[1] != l->sb_zone[0] + dmz_sb_meta_zones(g, out0.nr_meta_blocks))
		return -100;
	dmz_sb_fill(&sb, l, 1, 1, "t", UUID_A, UUID_B);
	dmz_sb_encode(&sb, blk);
	return dmz_kernel_check_sb(blk, g, l->sb_zone[1], out0.label, out0.uuid,
				   &out1, why, len);
}

/* ------------------------------------------------------------- crc32 */

static void test_crc32_standard_vector(void)
{
	/* standard CRC-32 = ~crc32_le(~0, ...) */
	CHECK_EQ(~dmz_crc32_le(0xffffffffu, "123456789", 9), 0xcbf43926u);
	CHECK_EQ(~dmz_crc32_le(0xffffffffu, "", 0), 0);
}

static void test_crc32_kernel_seed(void)
{
	/*
	 * Kernel crc32_le(seed, p, n): no pre/post inversion.  Reference
	 * values from zlib: crc32_le(s, d) == ~zlib.crc32(d, ~s).
	 */
	CHECK_EQ(dmz_crc32_le(0, "123456789", 9), 0x2dfd2d88u);
	CHECK_EQ(dmz_crc32_le(1, "123456789", 9), 0x3a8639cbu);
	CHECK_EQ(dmz_crc32_le(0x12345678u, "", 0), 0x12345678u);
	{
		static const uint8_t zero[4096];

		CHECK_EQ(dmz_crc32_le(1, zero, sizeof(zero)), 0x5ad8a92cu);
	}
	/* incremental use */
	CHECK_EQ(dmz_crc32_le(dmz_crc32_le(7, "1234", 4), "56789", 5),
		 dmz_crc32_le(7, "123456789", 9));
}

/* -------------------------------------------------------- super block */

static void fill_ref_sb(struct dmz_sb_info *sb, uint64_t gen, uint64_t sb_block)
{
	memset(sb, 0, sizeof(*sb));
	sb->magic = DMZ_MAGIC;
	sb->version = 2;
	sb->gen = gen;
	sb->sb_block = sb_block;
	sb->nr_meta_blocks = 130;
	sb->nr_reserved_seq = 16;
	sb->nr_chunks = 110;
	sb->nr_map_blocks = 1;
	sb->nr_bitmap_blocks = 128;
	memcpy(sb->label, "dmz-test", 8);
	memcpy(sb->uuid, UUID_A, 16);
	memcpy(sb->dev_uuid, UUID_B, 16);
}

static void test_sb_byte_layout(void)
{
	struct dmz_sb_info sb;
	uint8_t blk[DMZ_BLOCK_SIZE];
	unsigned int i;

	fill_ref_sb(&sb, 0x0102030405060708ull, 0x1112131415161718ull);
	dmz_sb_encode(&sb, blk);
	/* magic "DZBD" as little-endian 0x445a4244: bytes 'D','B','Z','D' */
	CHECK(blk[0] == 'D' && blk[1] == 'B' && blk[2] == 'Z' && blk[3] == 'D');
	CHECK_EQ(dmz_get_le32(blk + 4), 2);
	CHECK(blk[8] == 0x08 && blk[15] == 0x01);	/* gen, LE */
	CHECK(blk[16] == 0x18 && blk[23] == 0x11);	/* sb_block, LE */
	CHECK_EQ(dmz_get_le32(blk + 24), 130);
	CHECK_EQ(dmz_get_le32(blk + 28), 16);
	CHECK_EQ(dmz_get_le32(blk + 32), 110);
	CHECK_EQ(dmz_get_le32(blk + 36), 1);
	CHECK_EQ(dmz_get_le32(blk + 40), 128);
	CHECK_EQ(dmz_get_le32(blk + 44), sb.crc);
	CHECK(!memcmp(blk + 48, "dmz-test", 9));
	CHECK(!memcmp(blk + 80, UUID_A, 16));
	CHECK(!memcmp(blk + 96, UUID_B, 16));
	for (i = 112; i < DMZ_BLOCK_SIZE; i++)
		if (blk[i])
			break;
	CHECK_EQ(i, DMZ_BLOCK_SIZE);
}

static void test_sb_crc_reference(void)
{
	/*
	 * Expected values computed independently (Python struct.pack of
	 * '<IIQQIIIIII32s16s16s' padded to 4096 + zlib).
	 */
	struct dmz_sb_info sb;
	uint8_t blk[DMZ_BLOCK_SIZE];

	fill_ref_sb(&sb, 1, 0);
	dmz_sb_encode(&sb, blk);
	CHECK_EQ(sb.crc, 0x4c876668u);
	fill_ref_sb(&sb, 1, 4096);
	dmz_sb_encode(&sb, blk);
	CHECK_EQ(sb.crc, 0x9137101au);
	/* the 64-bit gen is truncated to the 32-bit crc seed */
	fill_ref_sb(&sb, 0x100000001ull, 0);
	dmz_sb_encode(&sb, blk);
	CHECK_EQ(sb.crc, 0xc99c5426u);
	/* crc == crc32_le(gen, block with crc zeroed) */
	dmz_put_le32(blk + 44, 0);
	CHECK_EQ(dmz_crc32_le(1, blk, DMZ_BLOCK_SIZE), 0xc99c5426u);
}

static void test_sb_roundtrip(void)
{
	struct dmz_sb_info a, b;
	uint8_t blk[DMZ_BLOCK_SIZE];

	fill_ref_sb(&a, 42, 8192);
	dmz_sb_encode(&a, blk);
	CHECK(dmz_sb_decode(blk, &b) == 1);
	CHECK(!memcmp(&a, &b, sizeof(a)));
	/* any flipped bit breaks the crc, including in the padding */
	blk[300] ^= 0x10;
	CHECK(dmz_sb_decode(blk, &b) == 0);
	blk[300] ^= 0x10;
	blk[4095] ^= 1;
	CHECK(dmz_sb_decode(blk, &b) == 0);
	blk[4095] ^= 1;
	CHECK(dmz_sb_decode(blk, &b) == 1);
	/* a different gen gives a different crc */
	fill_ref_sb(&b, 43, 8192);
	dmz_sb_encode(&b, blk);
	CHECK(a.crc != b.crc);
}

static void test_sb_label_truncated(void)
{
	struct dmz_layout l;
	struct dmz_sb_info sb;

	memset(&l, 0, sizeof(l));
	dmz_sb_fill(&sb, &l, 0, 1, "0123456789012345678901234567890123456789",
		    UUID_A, UUID_B);
	CHECK_EQ(strlen((char *)sb.label), 31);	/* NUL kept in 32 bytes */
}

/* ------------------------------------------------------------- layout */

static void test_layout_rig_2g_16m_24conv(void)
{
	struct dmz_geom g;
	struct dmz_layout l;
	char err[256] = "";
	int ret;

	ret = geom_layout(2 * GiB, 16 * MiB, 0, 24, 0, &g, &l, err, sizeof(err));
	if (ret)
		fprintf(stderr, "  err: %s\n", err);
	REQUIRE(ret == 0);
	CHECK_EQ(g.nr_zones, 128);
	CHECK_EQ(g.zone_nr_blocks, 4096);
	CHECK_EQ(g.zone_nr_blocks_shift, 12);
	CHECK_EQ(g.zone_nr_bitmap_blocks, 1);
	CHECK_EQ(g.nr_rnd_zones, 24);
	CHECK_EQ(g.nr_seq_zones, 104);
	CHECK_EQ(g.nr_useable_zones, 128);
	CHECK_EQ(g.sb_zone, 0);

	CHECK_EQ(l.nr_map_blocks, 1);
	CHECK_EQ(l.nr_bitmap_blocks, 128);
	CHECK_EQ(l.nr_meta_blocks, 130);
	CHECK_EQ(l.nr_meta_zones, 1);
	CHECK_EQ(l.nr_reserved_seq, 16);
	CHECK_EQ(l.nr_chunks, 110);
	CHECK_EQ(l.sb_zone[0], 0);
	CHECK_EQ(l.sb_zone[1], 1);
	CHECK_EQ(l.sb_block[0], 0);
	CHECK_EQ(l.sb_block[1], 4096);
	/* last bitmap block (zone 127) is the last metadata block */
	CHECK_EQ(dmz_bitmap_block_of_zone(&l, &g, 0), 2);
	CHECK_EQ(dmz_bitmap_block_of_zone(&l, &g, 127), l.nr_meta_blocks - 1);
	CHECK(kernel_accepts(&g, &l, err, sizeof(err)) == 0);
}

static void test_layout_reserved_option(void)
{
	struct dmz_geom g;
	struct dmz_layout l;
	char err[256] = "";

	REQUIRE(geom_layout(2 * GiB, 16 * MiB, 0, 24, 4, &g, &l, err, sizeof(err)) == 0);
	CHECK_EQ(l.nr_reserved_seq, 4);
	CHECK_EQ(l.nr_chunks, 122);
	CHECK(kernel_accepts(&g, &l, err, sizeof(err)) == 0);
	/* as many as the conventional zones: kept */
	REQUIRE(geom_layout(2 * GiB, 16 * MiB, 0, 24, 24, &g, &l, err, sizeof(err)) == 0);
	CHECK_EQ(l.nr_reserved_seq, 24);
	/* more than the conventional zones: cut to 24 - 1 */
	REQUIRE(geom_layout(2 * GiB, 16 * MiB, 0, 24, 105, &g, &l, err, sizeof(err)) == 0);
	CHECK_EQ(l.nr_reserved_seq, 23);
	CHECK_EQ(l.nr_chunks, 128 - 2 - 23);
	CHECK(kernel_accepts(&g, &l, err, sizeof(err)) == 0);
}

static void test_layout_default_reserved_small(void)
{
	struct dmz_geom g;
	struct dmz_layout l;
	char err[256] = "";

	/* 16 zones, 4 conventional: reserved = min(16, 4 - 1) = 3 */
	REQUIRE(geom_layout(256 * MiB, 16 * MiB, 0, 4, 0, &g, &l, err, sizeof(err)) == 0);
	CHECK_EQ(l.nr_reserved_seq, 3);
	CHECK_EQ(l.nr_chunks, 16 - 2 - 3);
	CHECK(kernel_accepts(&g, &l, err, sizeof(err)) == 0);
}

static void test_layout_no_conventional(void)
{
	struct dmz_geom g;
	struct dmz_layout l;
	char err[256] = "";

	CHECK_EQ(geom_layout(2 * GiB, 16 * MiB, 0, 0, 0, &g, &l, err, sizeof(err)),
		 -DMZ_ERR_NO_CONV);
	CHECK_STR_CONTAINS(err, "no conventional zones: dm-zoned needs at least 3 for its metadata");
}

static void test_layout_too_small(void)
{
	struct dmz_geom g;
	struct dmz_layout l;
	char err[256] = "";

	/* 2 conventional zones: metadata fits, but no random buffer zone */
	CHECK_EQ(geom_layout(2 * GiB, 16 * MiB, 0, 2, 0, &g, &l, err, sizeof(err)),
		 -DMZ_ERR_NO_CONV);
	CHECK_STR_CONTAINS(err, "only 2 conventional zones: dm-zoned needs at least 3");
	CHECK_STR_CONTAINS(err, "1 missing");
	/* 4 zones, 3 conventional: 2 metadata + 2 reserved leave no chunk */
	CHECK_EQ(geom_layout(64 * MiB, 16 * MiB, 0, 3, 0, &g, &l, err, sizeof(err)),
		 -DMZ_ERR_TOO_SMALL);
	CHECK_STR_CONTAINS(err, "no zone left for data: 4 usable zones - 2 metadata - 2 reserved = 0 chunks, at least 1 missing");
	/* the minimum: 5 zones, 3 conventional: 1 chunk */
	CHECK_EQ(geom_layout(80 * MiB, 16 * MiB, 0, 3, 0, &g, &l, err, sizeof(err)), 0);
	CHECK_EQ(l.nr_reserved_seq, 2);
	CHECK_EQ(l.nr_chunks, 1);
	CHECK(kernel_accepts(&g, &l, err, sizeof(err)) == 0);
	/* only conventional zones: dmzadm formats it, and so do we */
	CHECK_EQ(geom_layout(2 * GiB, 16 * MiB, 0, 128, 0, &g, &l, err, sizeof(err)), 0);
	CHECK_EQ(l.nr_chunks, 110);
	/* reserved zones as many as the usable zones */
	CHECK_EQ(geom_layout(64 * MiB, 16 * MiB, 0, 4, 4, &g, &l, err, sizeof(err)),
		 -DMZ_ERR_TOO_SMALL);
	CHECK_STR_CONTAINS(err, "only 4 usable zones: 4 reserved sequential zones need at least 5, 1 missing");
}

static void test_layout_multi_zone_metadata(void)
{
	struct dmz_geom g;
	struct dmz_layout l;
	char err[256] = "";

	/*
	 * 8 GiB with 1 MiB zones: 8192 zones, 256 blocks per zone, one
	 * bitmap block per zone: 1 + 16 + 8192 = 8209 blocks = 33 zones/set.
	 */
	CHECK_EQ(geom_layout(8 * GiB, 1 * MiB, 0, 65, 0, &g, &l, err, sizeof(err)),
		 -DMZ_ERR_TOO_SMALL);
	CHECK_STR_CONTAINS(err, "only 65 conventional zones: the 2 metadata sets of 33 zones each need 66, 1 missing");
	/* as dmzadm: both sets may take every conventional zone */
	CHECK_EQ(geom_layout(8 * GiB, 1 * MiB, 0, 66, 0, &g, &l, err, sizeof(err)), 0);
	CHECK_EQ(l.nr_chunks, 8192 - 66 - 16);
	REQUIRE(geom_layout(8 * GiB, 1 * MiB, 0, 100, 0, &g, &l, err, sizeof(err)) == 0);
	CHECK_EQ(l.nr_bitmap_blocks, 8192);
	CHECK_EQ(l.nr_chunks, 8192 - 66 - 16);
	CHECK_EQ(l.nr_map_blocks, (l.nr_chunks + 511) / 512);
	CHECK_EQ(l.nr_meta_blocks, 1 + l.nr_map_blocks + 8192);
	CHECK_EQ(l.nr_meta_zones, 33);
	CHECK_EQ(l.sb_zone[1], 33);
	CHECK(kernel_accepts(&g, &l, err, sizeof(err)) == 0);
}

static void test_layout_large_smr(void)
{
	struct dmz_geom g;
	struct dmz_layout l;
	char err[256] = "";
	uint64_t cap = 14000519643136ull + 100 * MiB;	/* ~14 TB + runt zone */

	/* 256 MiB zones: 65536 blocks, 8 KiB bitmap = 2 blocks per zone */
	REQUIRE(geom_layout(cap, 256 * MiB, 0, 524, 0, &g, &l, err, sizeof(err)) == 0);
	CHECK(g.has_runt);
	CHECK_EQ(g.zone_nr_bitmap_blocks, 2);
	CHECK_EQ(g.nr_zones, 52157);
	CHECK_EQ(g.nr_useable_zones, 52156);
	CHECK_EQ(l.nr_bitmap_blocks, 2 * 52157);
	CHECK_EQ(l.nr_meta_zones, 2);
	CHECK_EQ(l.nr_chunks, 52156 - 4 - 16);
	CHECK(kernel_accepts(&g, &l, err, sizeof(err)) == 0);
}

static void test_layout_conv_not_contiguous(void)
{
	struct dmz_geom g;
	struct dmz_layout l;
	char err[256] = "";
	uint32_t nr, i;
	struct dmz_zone *z = mkzones(2 * GiB, 16 * MiB, 0, 0, &nr);

	/* conventional zones 0, 2, 4, ... 46 */
	for (i = 0; i < 48; i += 2) {
		z[i].type = DMZ_ZONE_TYPE_CONVENTIONAL;
		z[i].cond = DMZ_ZONE_COND_NOT_WP;
	}
	REQUIRE(dmz_scan_zones(z, nr, 32768, 4194304, &g, err, sizeof(err)) == 0);
	CHECK_EQ(g.nr_contig_rnd, 1);
	CHECK_EQ(dmz_compute_layout(&g, 0, &l, err, sizeof(err)), -DMZ_ERR_TOO_SMALL);
	CHECK_STR_CONTAINS(err, "only 1 usable conventional zone in a row from zone 0: the 2 metadata sets of 1 zone each need 2, 1 missing");
	free(z);
}

static void test_scan_offline_first_conv(void)
{
	struct dmz_geom g;
	struct dmz_layout l;
	char err[256] = "";
	uint32_t nr;
	struct dmz_zone *z = mkzones(2 * GiB, 16 * MiB, 0, 24, &nr);

	/* first conventional zone offline: super block moves to zone 1 */
	z[0].cond = DMZ_ZONE_COND_OFFLINE;
	z[5].cond = DMZ_ZONE_COND_READONLY;	/* breaks the run at zone 5 */
	REQUIRE(dmz_scan_zones(z, nr, 32768, 4194304, &g, err, sizeof(err)) == 0);
	CHECK_EQ(g.sb_zone, 1);
	CHECK_EQ(g.nr_rnd_zones, 22);
	CHECK_EQ(g.nr_useable_zones, 126);
	CHECK_EQ(g.nr_contig_rnd, 4);
	REQUIRE(dmz_compute_layout(&g, 0, &l, err, sizeof(err)) == 0);
	CHECK_EQ(l.sb_block[0], 4096);
	CHECK_EQ(l.sb_block[1], 8192);
	CHECK_EQ(l.nr_bitmap_blocks, 128);	/* offline zones keep their ids */
	CHECK_EQ(l.nr_chunks, 126 - 2 - 16);
	CHECK(kernel_accepts(&g, &l, err, sizeof(err)) == 0);
	free(z);
}

static void test_scan_geometry_errors(void)
{
	struct dmz_geom g;
	char err[256] = "";
	uint32_t nr;
	struct dmz_zone *z = mkzones(2 * GiB, 16 * MiB, 0, 24, &nr);

	/* zone size not a power of two */
	CHECK_EQ(dmz_scan_zones(z, nr, 30000, 4194304, &g, err, sizeof(err)),
		 -DMZ_ERR_GEOMETRY);
	/* zone capacity < zone size (ZNS style) */
	z[50].capacity = z[50].len - 8;
	CHECK_EQ(dmz_scan_zones(z, nr, 32768, 4194304, &g, err, sizeof(err)),
		 -DMZ_ERR_GEOMETRY);
	CHECK_STR_CONTAINS(err, "capacity");
	z[50].capacity = z[50].len;
	/* a short zone that is not the last one */
	z[60].len -= 8;
	CHECK_EQ(dmz_scan_zones(z, nr, 32768, 4194304, &g, err, sizeof(err)),
		 -DMZ_ERR_GEOMETRY);
	z[60].len += 8;
	/* unknown zone type */
	z[70].type = 7;
	CHECK_EQ(dmz_scan_zones(z, nr, 32768, 4194304, &g, err, sizeof(err)),
		 -DMZ_ERR_GEOMETRY);
	z[70].type = DMZ_ZONE_TYPE_SEQWRITE_PREF;	/* host-aware zone: fine */
	CHECK_EQ(dmz_scan_zones(z, nr, 32768, 4194304, &g, err, sizeof(err)), 0);
	CHECK_EQ(g.nr_seq_zones, 104);
	free(z);
}

static void test_kernel_check_rejects(void)
{
	struct dmz_geom g;
	struct dmz_layout l;
	struct dmz_sb_info sb;
	uint8_t blk[DMZ_BLOCK_SIZE];
	char err[256] = "";
	uint8_t label[32] = "other";
	static const uint8_t zero16[16];

	REQUIRE(geom_layout(2 * GiB, 16 * MiB, 0, 24, 0, &g, &l, err, sizeof(err)) == 0);
#define EXPECT_REJECT(mod, zone, lref, msg) do {				\
		dmz_sb_fill(&sb, &l, 0, 1, "t", UUID_A, UUID_B);		\
		mod;								\
		dmz_sb_encode(&sb, blk);					\
		CHECK_EQ(dmz_kernel_check_sb(blk, &g, zone, lref, NULL, NULL,	\
					     err, sizeof(err)), -DMZ_ERR_BAD_SB); \
		CHECK_STR_CONTAINS(err, msg);					\
	} while (0)
	EXPECT_REJECT(sb.magic = 0x12345678, 0, NULL, "magic");
	EXPECT_REJECT(sb.version = 3, 0, NULL, "version");
	EXPECT_REJECT((void)0, 1, NULL, "superblock position");
	EXPECT_REJECT(memcpy(sb.uuid, zero16, 16), 0, NULL, "NULL DM-Zoned uuid");
	EXPECT_REJECT(memcpy(sb.dev_uuid, zero16, 16), 0, NULL, "NULL device uuid");
	EXPECT_REJECT((void)0, 0, label, "label");
	EXPECT_REJECT(sb.nr_meta_blocks = 0, 0, NULL, "metadata blocks");
	EXPECT_REJECT(sb.nr_meta_blocks = 24 * 4096, 0, NULL, "metadata blocks");
	EXPECT_REJECT(sb.nr_reserved_seq = 0, 0, NULL, "reserved");
	EXPECT_REJECT(sb.nr_reserved_seq = 127, 0, NULL, "reserved");
	EXPECT_REJECT(sb.nr_chunks = 111, 0, NULL, "chunks");
#undef EXPECT_REJECT
	/* corrupt crc */
	dmz_sb_fill(&sb, &l, 0, 1, "t", UUID_A, UUID_B);
	dmz_sb_encode(&sb, blk);
	blk[200] = 1;
	CHECK_EQ(dmz_kernel_check_sb(blk, &g, 0, NULL, NULL, NULL, err, sizeof(err)),
		 -DMZ_ERR_BAD_SB);
	CHECK_STR_CONTAINS(err, "checksum");
	/* version 1 super block without uuids is still accepted by 6.12 */
	dmz_sb_fill(&sb, &l, 0, 1, "", zero16, zero16);
	sb.version = 1;
	dmz_sb_encode(&sb, blk);
	CHECK_EQ(dmz_kernel_check_sb(blk, &g, 0, NULL, NULL, NULL, err, sizeof(err)), 0);
}

/* -------------------------------------------------------- mapping init */

static void test_map_block_init(void)
{
	uint8_t blk[DMZ_BLOCK_SIZE];
	unsigned int e;

	memset(blk, 0x5a, sizeof(blk));
	dmz_map_block_init(blk);
	for (e = 0; e < DMZ_MAP_ENTRIES; e++) {
		CHECK_EQ(dmz_get_le32(blk + e * 8), DMZ_MAP_UNMAPPED);
		CHECK_EQ(dmz_get_le32(blk + e * 8 + 4), DMZ_MAP_UNMAPPED);
	}
	CHECK_EQ(DMZ_MAP_ENTRIES, 512);
}

/* --------------------------------------------------- image formatting */

struct fmt_ctx {
	struct fake_zdev *f;
	struct dmz_geom g;
	struct dmz_layout l;
	struct dmz_format_params p;
};

static int format_fake(struct fmt_ctx *c, uint64_t cap, uint64_t zbytes,
		       uint32_t conv_first, uint32_t nr_conv, int dirty)
{
	char err[256] = "";
	uint32_t nr_reset = 0;
	int ret;

	memset(c, 0, sizeof(*c));
	c->f = fake_zdev_create(cap, zbytes, conv_first, nr_conv, dirty);
	if (!c->f)
		return -1;
	ret = dmz_scan_zones(c->f->zones, c->f->nr_zones, c->f->zone_sectors,
			     c->f->capacity, &c->g, err, sizeof(err));
	if (!ret)
		ret = dmz_compute_layout(&c->g, 0, &c->l, err, sizeof(err));
	if (!ret)
		ret = dmz_reset_seq_zones(&c->f->zdev, c->f->zones, &c->g, &nr_reset,
					  err, sizeof(err));
	c->p.gen = 1;
	c->p.label = "rig";
	memcpy(c->p.uuid, UUID_A, 16);
	memcpy(c->p.dev_uuid, UUID_B, 16);
	if (!ret)
		ret = dmz_write_metadata(&c->f->zdev, &c->g, &c->l, &c->p, err, sizeof(err));
	if (ret)
		fprintf(stderr, "  format failed: %s\n", err);
	if (c->f->violations)
		fprintf(stderr, "  zoned violation: %s\n", c->f->last_violation);
	return ret;
}

static int verify_fake(struct fmt_ctx *c, struct dmz_verify_report *rep,
		       char *err, size_t errlen)
{
	return dmz_verify(&c->f->zdev, c->f->zones, c->f->nr_zones,
			  c->f->zone_sectors, c->f->capacity, rep, err, errlen);
}

static void test_format_image_rig(void)
{
	struct fmt_ctx c;
	struct dmz_verify_report rep;
	struct dmz_sb_info sb;
	uint8_t blk[DMZ_BLOCK_SIZE], blk2[DMZ_BLOCK_SIZE], map[DMZ_BLOCK_SIZE];
	char err[256] = "";
	uint32_t i;
	size_t k, last_sb0 = 0, last_sb1 = 0;
	int ret, seen_reset = 0;

	ret = format_fake(&c, 2 * GiB, 16 * MiB, 0, 24, 1);
	REQUIRE(c.f);
	CHECK_EQ(ret, 0);
	CHECK_EQ(c.f->violations, 0);

	/* every sequential zone is empty again */
	for (i = 24; i < c.f->nr_zones; i++) {
		CHECK_EQ(c.f->zones[i].wp, c.f->zones[i].start);
		CHECK_EQ(c.f->zones[i].cond, DMZ_ZONE_COND_EMPTY);
	}

	/* I/O ordering: resets first, primary super block written last */
	for (k = 0; k < c.f->nr_log; k++) {
		const struct fake_io *io = &c.f->log[k];

		if (io->op == FAKE_RESET) {
			seen_reset = 1;
			CHECK_EQ(last_sb0 + last_sb1, 0);
		}
		if (io->op == FAKE_WRITE && io->off == 0)
			last_sb0 = k;
		if (io->op == FAKE_WRITE && io->off == 16 * MiB)
			last_sb1 = k;
		/* metadata writes stay inside the 2 metadata zones */
		if (io->op == FAKE_WRITE)
			CHECK(io->off + io->len <= 2 * 16 * MiB);
	}
	CHECK(seen_reset);
	CHECK(last_sb1 < last_sb0);
	REQUIRE(c.f->nr_log >= 2);
	CHECK(c.f->log[c.f->nr_log - 1].op == FAKE_FLUSH);
	CHECK(c.f->log[c.f->nr_log - 2].op == FAKE_WRITE &&
	      c.f->log[c.f->nr_log - 2].off == 0 &&
	      c.f->log[c.f->nr_log - 2].len == DMZ_BLOCK_SIZE);

	/* independent re-parse of both super blocks */
	REQUIRE(fake_zdev_pread(c.f, blk, sizeof(blk), 0) == 0);
	CHECK(dmz_sb_decode(blk, &sb) == 1);
	CHECK_EQ(sb.magic, DMZ_MAGIC);
	CHECK_EQ(sb.version, 2);
	CHECK_EQ(sb.gen, 1);
	CHECK_EQ(sb.sb_block, 0);
	CHECK_EQ(sb.nr_meta_blocks, 130);
	CHECK_EQ(sb.nr_reserved_seq, 16);
	CHECK_EQ(sb.nr_chunks, 110);
	CHECK_EQ(sb.nr_map_blocks, 1);
	CHECK_EQ(sb.nr_bitmap_blocks, 128);
	CHECK(!strcmp((char *)sb.label, "rig"));
	memcpy(blk2, blk, sizeof(blk));
	dmz_put_le32(blk2 + 44, 0);
	CHECK_EQ(dmz_crc32_le(1, blk2, sizeof(blk2)), sb.crc);

	REQUIRE(fake_zdev_pread(c.f, blk, sizeof(blk), 16 * MiB) == 0);
	CHECK(dmz_sb_decode(blk, &sb) == 1);
	CHECK_EQ(sb.sb_block, 4096);	/* absolute 4K block of zone 1 */

	/* map block: all unmapped in both sets (checked byte-wise); bitmaps zero */
	REQUIRE(fake_zdev_pread(c.f, blk, sizeof(blk), 1 * 4096) == 0);
	for (k = 0; k < sizeof(blk); k++)
		if (blk[k] != 0xff)
			break;
	CHECK_EQ(k, sizeof(blk));
	dmz_map_block_init(map);
	REQUIRE(fake_zdev_pread(c.f, blk, sizeof(blk), 16 * MiB + 4096) == 0);
	CHECK(!memcmp(blk, map, sizeof(map)));
	memset(map, 0, sizeof(map));
	REQUIRE(fake_zdev_pread(c.f, blk, sizeof(blk), 129 * 4096) == 0);
	CHECK(!memcmp(blk, map, sizeof(map)));

	/* the kernel-equivalent loader accepts it */
	ret = verify_fake(&c, &rep, err, sizeof(err));
	if (ret)
		fprintf(stderr, "  verify: %s\n", err);
	CHECK_EQ(ret, 0);
	CHECK_EQ(rep.nr_meta_zones, 1);
	CHECK_EQ(rep.nr_data_zones, 110);
	fake_zdev_destroy(c.f);
}

static void test_format_verify_detects_corruption(void)
{
	struct fmt_ctx c;
	uint8_t b[DMZ_BLOCK_SIZE], save[DMZ_BLOCK_SIZE];
	char err[256] = "";

	REQUIRE(format_fake(&c, 2 * GiB, 16 * MiB, 0, 24, 0) == 0);
	REQUIRE(verify_fake(&c, NULL, err, sizeof(err)) == 0);

#define CORRUPT_AND_EXPECT(off, byte, msg) do {					\
		REQUIRE(fake_zdev_pread(c.f, save, sizeof(save), off) == 0);	\
		memcpy(b, save, sizeof(b));					\
		b[byte] ^= 0x01;						\
		REQUIRE(fake_zdev_pwrite(c.f, b, sizeof(b), off) == 0);	\
		CHECK(verify_fake(&c, NULL, err, sizeof(err)) != 0);		\
		CHECK_STR_CONTAINS(err, msg);					\
		REQUIRE(fake_zdev_pwrite(c.f, save, sizeof(save), off) == 0);	\
		CHECK(verify_fake(&c, NULL, err, sizeof(err)) == 0);		\
	} while (0)
	CORRUPT_AND_EXPECT(0, 0, "primary super block");		/* magic */
	CORRUPT_AND_EXPECT(0, 44, "checksum");				/* crc */
	CORRUPT_AND_EXPECT(16 * MiB, 100, "secondary super block");	/* dev uuid */
	CORRUPT_AND_EXPECT(4096, 8 * 7, "chunk 7 is mapped");		/* map */
	CORRUPT_AND_EXPECT(16 * MiB + 4096, 8, "differs");		/* map set 1 */
	CORRUPT_AND_EXPECT(100 * 4096, 5, "bitmap block 100");		/* bitmap set 0 */
#undef CORRUPT_AND_EXPECT

	/* a written sequential zone is reported */
	c.f->zones[64].wp += 8;
	CHECK(verify_fake(&c, NULL, err, sizeof(err)) != 0);
	CHECK_STR_CONTAINS(err, "sequential zone 64");
	c.f->zones[64].wp -= 8;
	CHECK(verify_fake(&c, NULL, err, sizeof(err)) == 0);
	fake_zdev_destroy(c.f);
}

static void test_format_conv_not_first(void)
{
	struct fmt_ctx c;
	struct dmz_verify_report rep;
	struct dmz_sb_info sb;
	uint8_t blk[DMZ_BLOCK_SIZE];
	char err[256] = "";

	/* 1 GiB, 4 MiB zones, conventional zones 10..29: super block in zone 10 */
	REQUIRE(format_fake(&c, 1 * GiB, 4 * MiB, 10, 20, 1) == 0);
	CHECK_EQ(c.f->violations, 0);
	CHECK_EQ(c.l.sb_zone[0], 10);
	CHECK_EQ(c.l.sb_zone[1], 11);
	REQUIRE(fake_zdev_pread(c.f, blk, sizeof(blk), 10 * 4 * MiB) == 0);
	CHECK(dmz_sb_decode(blk, &sb) == 1);
	CHECK_EQ(sb.sb_block, 10 * 1024);
	CHECK_EQ(verify_fake(&c, &rep, err, sizeof(err)), 0);
	CHECK_EQ(rep.sb[1].sb_block, 11 * 1024);
	fake_zdev_destroy(c.f);
}

static void test_format_runt_last_zone(void)
{
	struct fmt_ctx c;
	struct dmz_verify_report rep;
	char err[256] = "";
	int ret;

	/* 2 GiB + 5 MiB: 128 full zones and a 5 MiB runt */
	REQUIRE(format_fake(&c, 2 * GiB + 5 * MiB, 16 * MiB, 0, 24, 1) == 0);
	CHECK_EQ(c.f->violations, 0);
	CHECK_EQ(c.g.nr_zones, 129);
	CHECK(c.g.has_runt);
	CHECK_EQ(c.l.nr_bitmap_blocks, 129);
	CHECK_EQ(c.l.nr_chunks, 110);
	ret = verify_fake(&c, &rep, err, sizeof(err));
	if (ret)
		fprintf(stderr, "  verify: %s\n", err);
	CHECK_EQ(ret, 0);
	fake_zdev_destroy(c.f);
}

static void test_find_existing_sb(void)
{
	struct fmt_ctx c;
	struct dmz_sb_info sb;
	uint8_t zero[DMZ_BLOCK_SIZE];

	REQUIRE(format_fake(&c, 2 * GiB, 16 * MiB, 0, 24, 0) == 0);
	CHECK_EQ(dmz_find_existing_sb(&c.f->zdev, &c.g, &c.l, &sb), 1);
	CHECK_EQ(sb.gen, 1);
	/* only the secondary left */
	memset(zero, 0, sizeof(zero));
	REQUIRE(fake_zdev_pwrite(c.f, zero, sizeof(zero), 0) == 0);
	CHECK_EQ(dmz_find_existing_sb(&c.f->zdev, &c.g, &c.l, &sb), 1);
	REQUIRE(fake_zdev_pwrite(c.f, zero, sizeof(zero), 16 * MiB) == 0);
	CHECK_EQ(dmz_find_existing_sb(&c.f->zdev, &c.g, &c.l, &sb), 0);
	fake_zdev_destroy(c.f);
}

static void test_write_rejects_null_uuid(void)
{
	struct fmt_ctx c;
	char err[256] = "";

	REQUIRE(format_fake(&c, 256 * MiB, 16 * MiB, 0, 4, 0) == 0);
	memset(c.p.uuid, 0, 16);
	CHECK_EQ(dmz_write_metadata(&c.f->zdev, &c.g, &c.l, &c.p, err, sizeof(err)),
		 -DMZ_ERR_INVAL);
	fake_zdev_destroy(c.f);
}

/* ------------------------------------------------- geometry table */

/*
 * Geometries with the layout dmzadm --format decides for them, worked out
 * by hand from its rules (see dmz_compute_layout()):
 *   reserved = 16, or conventional - 1 when 16 > conventional;
 *   bitmap blocks = zones * max(1, zone blocks / 32768);
 *   est. chunks = usable - ceil(bitmap / zone blocks) - reserved;
 *   mz = ceil((1 + ceil(est. chunks / 512) + bitmap) / zone blocks);
 *   chunks = usable - 2 * mz - reserved;  capacity = chunks * zone size.
 * ref: what dmzadm --check says of that format (1: accepts).
 */
struct geom_row {
	const char *name;
	uint64_t cap, zone;
	uint32_t conv;
	int ret;		/* 0 or -DMZ_ERR_* */
	uint32_t reserved, chunks;
	uint64_t bytes;
	int ref;		/* dmzadm --check accepts the format */
	const char *msg;	/* error, or dmzadm --check's rejection */
};

static const struct geom_row geom_rows[] = {
	/* issue 14's three devices */
	{ "2 GiB, 16 MiB zones, 24 conv", 2 * GiB, 16 * MiB, 24, 0,
	  16, 110, 1845493760ull, 1, NULL },		/* 128 - 2 - 16 */
	{ "1 GiB, 8 MiB zones, 12 conv", 1 * GiB, 8 * MiB, 12, 0,
	  11, 115, 964689920ull, 1, NULL },		/* 128 - 2 - 11 */
	{ "4 GiB, 32 MiB zones, 4 conv", 4 * GiB, 32 * MiB, 4, 0,
	  3, 123, 4127195136ull, 1, NULL },		/* 128 - 2 - 3 */
	/* few conventional zones */
	{ "2 GiB, 16 MiB zones, 0 conv", 2 * GiB, 16 * MiB, 0, -DMZ_ERR_NO_CONV,
	  0, 0, 0, 0, "no conventional zones: dm-zoned needs at least 3 for its metadata" },
	{ "2 GiB, 16 MiB zones, 1 conv", 2 * GiB, 16 * MiB, 1, -DMZ_ERR_NO_CONV,
	  0, 0, 0, 0, "only 1 conventional zone: dm-zoned needs at least 3 for its metadata (2 metadata sets + 1 to buffer random writes), 2 missing" },
	{ "2 GiB, 16 MiB zones, 2 conv", 2 * GiB, 16 * MiB, 2, -DMZ_ERR_NO_CONV,
	  0, 0, 0, 0, "only 2 conventional zones: dm-zoned needs at least 3 for its metadata (2 metadata sets + 1 to buffer random writes), 1 missing" },
	{ "2 GiB, 16 MiB zones, 3 conv", 2 * GiB, 16 * MiB, 3, 0,
	  2, 124, 2080374784ull, 1, NULL },		/* 128 - 2 - 2 */
	{ "256 MiB, 16 MiB zones, 4 conv", 256 * MiB, 16 * MiB, 4, 0,
	  3, 11, 184549376ull, 1, NULL },		/* 16 - 2 - 3 */
	{ "2 GiB, 16 MiB zones, 12 conv", 2 * GiB, 16 * MiB, 12, 0,
	  11, 115, 1929379840ull, 1, NULL },		/* 128 - 2 - 11 */
	{ "2 GiB, 16 MiB zones, 16 conv (16 reserved kept)", 2 * GiB, 16 * MiB, 16, 0,
	  16, 110, 1845493760ull, 1, NULL },
	{ "2 GiB, 16 MiB zones, 17 conv", 2 * GiB, 16 * MiB, 17, 0,
	  16, 110, 1845493760ull, 1, NULL },
	/* the smallest devices */
	{ "64 MiB, 16 MiB zones, 3 conv (below the minimum)", 64 * MiB, 16 * MiB, 3,
	  -DMZ_ERR_TOO_SMALL, 0, 0, 0, 0,
	  "no zone left for data: 4 usable zones - 2 metadata - 2 reserved = 0 chunks, at least 1 missing" },
	{ "80 MiB, 16 MiB zones, 3 conv (the minimum)", 80 * MiB, 16 * MiB, 3, 0,
	  2, 1, 16777216ull, 1, NULL },			/* 5 - 2 - 2 */
	{ "96 MiB, 16 MiB zones, 3 conv (just above the minimum)", 96 * MiB, 16 * MiB, 3, 0,
	  2, 2, 33554432ull, 1, NULL },			/* 6 - 2 - 2 */
	/* a runt last zone: not usable (kernel); dmzadm refuses the device */
	{ "2 GiB + 5 MiB, 16 MiB zones, 24 conv (runt)", 2 * GiB + 5 * MiB, 16 * MiB, 24, 0,
	  16, 110, 1845493760ull, 0, "Invalid zones (last sector reported is 4204544, expected 4227072)" },
	{ "1 GiB + 4 MiB, 8 MiB zones, 12 conv (runt)", 1 * GiB + 4 * MiB, 8 * MiB, 12, 0,
	  11, 115, 964689920ull, 0, "Invalid zones (last sector reported is 2105344, expected 2113536)" },
	/* 256 MiB zones: 2 bitmap blocks per zone */
	{ "16 GiB, 256 MiB zones, 4 conv", 16 * GiB, 256 * MiB, 4, 0,
	  3, 59, 15837691904ull, 1, NULL },		/* 64 - 2 - 3 */
	{ "14 TiB, 256 MiB zones, 524 conv", 14336 * GiB, 256 * MiB, 524, 0,
	  16, 57324, 15387794079744ull, 1, NULL },	/* 57344 - 2 x 2 - 16 */
	{ "14 TB + 100 MiB, 256 MiB zones, 524 conv (runt)", 14000519643136ull + 100 * MiB,
	  256 * MiB, 524, 0, 16, 52136, 13995150934016ull, 0, "Invalid zones" },
	/* several metadata zones per set: 1 + 16 + 8192 blocks = 33 zones */
	{ "8 GiB, 1 MiB zones, 100 conv", 8 * GiB, 1 * MiB, 100, 0,
	  16, 8110, 8503951360ull, 1, NULL },		/* 8192 - 66 - 16 */
	/*
	 * The estimate overshoots: 24272 - 1 - 16 chunks need 48 map blocks
	 * (97 zones of 256 blocks per set? no: 1 + 48 + 24272 = 24321 = 95
	 * zones + 1 block, so 96), 24272 - 192 - 16 = 24064 chunks need 47:
	 * 1 + 47 + 24272 = 24320 = exactly 95 zones.  dmzadm --check then
	 * expects 24272 - 190 - 16 = 24066 chunks.
	 */
	{ "23.7 GiB, 1 MiB zones, 200 conv (estimate overshoots)", 24272 * MiB, 1 * MiB, 200, 0,
	  16, 24064, 25232932864ull, 0, "invalid number of chunks (expected 24066, read 24064)" },
};

static void test_geometry_table(void)
{
	unsigned int i;

	for (i = 0; i < sizeof(geom_rows) / sizeof(geom_rows[0]); i++) {
		const struct geom_row *r = &geom_rows[i];
		struct dmz_sb_info sb;
		struct dmz_geom g;
		struct dmz_layout l;
		uint8_t blk[DMZ_BLOCK_SIZE];
		char err[256] = "", why[256] = "";
		int ret, set, failed = t_failed;

		t_failed = 0;
		ret = geom_layout(r->cap, r->zone, 0, r->conv, 0, &g, &l, err, sizeof(err));
		CHECK_EQ(ret, r->ret);
		if (ret)
			printf("  table: %s: refused: %s\n", r->name, err);
		if (r->ret) {
			CHECK_STR_CONTAINS(err, r->msg);
			goto next;
		}
		if (ret) {
			fprintf(stderr, "  err: %s\n", err);
			goto next;
		}
		printf("  table: %s: %u zones, nr_reserved_seq %u, nr_chunks %u, %u+%u metadata zones, capacity %llu bytes\n",
		       r->name, g.nr_zones, l.nr_reserved_seq, l.nr_chunks,
		       l.nr_meta_zones, l.nr_meta_zones,
		       (unsigned long long)l.nr_chunks * r->zone);
		CHECK_EQ(l.nr_reserved_seq, r->reserved);
		CHECK_EQ(l.nr_chunks, r->chunks);
		CHECK_EQ((uint64_t)l.nr_chunks * r->zone, r->bytes);
		CHECK_EQ(l.nr_map_blocks, (l.nr_chunks + 511) / 512);
		CHECK_EQ(l.nr_meta_blocks, 1 + l.nr_map_blocks + l.nr_bitmap_blocks);
		CHECK(kernel_accepts(&g, &l, why, sizeof(why)) == 0);
		for (set = 0; set < 2; set++) {
			dmz_sb_fill(&sb, &l, set, 1, "t", UUID_A, UUID_B);
			dmz_sb_encode(&sb, blk);
			ret = dmz_ref_check_sb(blk, &g, l.sb_block[set], NULL, why, sizeof(why));
			if (!set)
				printf("  table: %s: dmzadm --check: %s\n", r->name,
				       ret ? why : "super blocks accepted");
			if (r->ref) {
				CHECK_EQ(ret, 0);
			} else {
				CHECK_EQ(ret, -DMZ_ERR_BAD_SB);
				CHECK_STR_CONTAINS(why, r->msg);
			}
		}
next:
		if (t_failed)
			fprintf(stderr, "  row: %s\n", r->name);
		t_failed |= failed;
	}
}

/*
 * Format the devices and a few more on the fake device, verify
 * (rows 0-2, 12 and 15 are also formatted on null_blk by tests/vm/dmz-format,
 * which checks the refusals of rows 3, 5 and 11 there).
 */
static void test_geometry_table_format(void)
{
	static const unsigned int rows[] = { 0, 1, 2, 6, 7, 12, 13, 14, 15, 16 };
	struct dmz_verify_report rep;
	unsigned int i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct geom_row *r = &geom_rows[rows[i]];
		struct fmt_ctx c;
		char err[256] = "";
		int ret;

		if (format_fake(&c, r->cap, r->zone, 0, r->conv, 1)) {
			fprintf(stderr, "  row: %s\n", r->name);
			t_failed = 1;
			if (c.f)
				fake_zdev_destroy(c.f);
			continue;
		}
		CHECK_EQ(c.f->violations, 0);
		CHECK_EQ(c.l.nr_chunks, r->chunks);
		ret = verify_fake(&c, &rep, err, sizeof(err));
		if (ret)
			fprintf(stderr, "  row %s: verify: %s\n", r->name, err);
		CHECK_EQ(ret, 0);
		CHECK_EQ(rep.ref_checked, r->ref);
		CHECK_EQ(rep.sb[0].nr_reserved_seq, r->reserved);
		CHECK_EQ(rep.nr_data_zones, c.g.nr_useable_zones - 2 * rep.nr_meta_zones - r->reserved);
		fake_zdev_destroy(c.f);
	}
}

/* dmzadm --check's super block rules reject what it rejects */
static void test_ref_check_rejects(void)
{
	struct dmz_geom g;
	struct dmz_layout l;
	struct dmz_sb_info sb;
	uint8_t blk[DMZ_BLOCK_SIZE];
	char err[256] = "";
	static const uint8_t zero16[16];

	/* 1 GiB, 8 MiB zones, 12 conventional: dmzadm writes 11 reserved */
	REQUIRE(geom_layout(1 * GiB, 8 * MiB, 0, 12, 0, &g, &l, err, sizeof(err)) == 0);
	CHECK_EQ(g.nr_cache_zones, 12);
	CHECK_EQ(g.nr_ref_useable_zones, 128);
#define EXPECT_REF(mod, where, want, msg) do {					\
		dmz_sb_fill(&sb, &l, 0, 1, "t", UUID_A, UUID_B);		\
		mod;								\
		dmz_sb_encode(&sb, blk);					\
		err[0] = 0;							\
		CHECK_EQ(dmz_ref_check_sb(blk, &g, where, NULL, err, sizeof(err)), want); \
		if (*(msg))							\
			CHECK_STR_CONTAINS(err, msg);				\
	} while (0)
	EXPECT_REF((void)0, 0, 0, "");
	/* the old dmz-format super block: 16 reserved, 110 chunks */
	EXPECT_REF((sb.nr_reserved_seq = 16, sb.nr_chunks = 110), 0, -DMZ_ERR_BAD_SB,
		   "invalid number of reserved sequential zones (expected less than 12, read 16)");
	/* one more than the cache zones is refused, as many passes the test */
	EXPECT_REF((sb.nr_reserved_seq = 13, sb.nr_chunks = 128 - 2 - 13), 0, -DMZ_ERR_BAD_SB,
		   "expected less than 12, read 13");
	EXPECT_REF((sb.nr_reserved_seq = 12, sb.nr_chunks = 128 - 2 - 12), 0, 0, "");
	EXPECT_REF(sb.nr_chunks = 114, 0, -DMZ_ERR_BAD_SB,
		   "invalid number of chunks (expected 115, read 114)");
	EXPECT_REF(sb.magic = 1, 0, -DMZ_ERR_BAD_SB, "invalid magic");
	EXPECT_REF(sb.version = 3, 0, -DMZ_ERR_BAD_SB, "invalid version");
	EXPECT_REF(memcpy(sb.uuid, zero16, 16), 0, -DMZ_ERR_BAD_SB, "DM-Zoned UUID is null");
	EXPECT_REF(memset(sb.label, 0, sizeof(sb.label)), 0, -DMZ_ERR_BAD_SB,
		   "DM-Zoned label is null");
	EXPECT_REF(memcpy(sb.dev_uuid, zero16, 16), 0, -DMZ_ERR_BAD_SB, "Device UUID is null");
	EXPECT_REF((void)0, 2048, -DMZ_ERR_BAD_SB, "invalid location (expected 2048, read 0)");
	EXPECT_REF(sb.nr_meta_blocks = 131, 0, -DMZ_ERR_BAD_SB,
		   "invalid number of metadata blocks (expected 130, read 131)");
	EXPECT_REF((sb.nr_map_blocks = 2, sb.nr_meta_blocks = 131), 0, -DMZ_ERR_BAD_SB,
		   "invalid number of map blocks (expected 1, read 2)");
	EXPECT_REF((sb.nr_bitmap_blocks = 127, sb.nr_meta_blocks = 129), 0, -DMZ_ERR_BAD_SB,
		   "invalid number of zone bitmap blocks (expected 128, read 127)");
#undef EXPECT_REF
	/* a bad crc */
	dmz_sb_fill(&sb, &l, 0, 1, "t", UUID_A, UUID_B);
	dmz_sb_encode(&sb, blk);
	blk[300] ^= 1;
	CHECK_EQ(dmz_ref_check_sb(blk, &g, 0, NULL, err, sizeof(err)), -DMZ_ERR_BAD_SB);
	CHECK_STR_CONTAINS(err, "invalid crc");
	/* too few cache zones to locate the metadata */
	REQUIRE(dmz_scan_zones((struct dmz_zone[]){ { 0, 2048, 2048, 0,
			DMZ_ZONE_TYPE_SEQWRITE_REQ, DMZ_ZONE_COND_EMPTY } },
			1, 2048, 2048, &g, err, sizeof(err)) == 0);
	CHECK_EQ(dmz_ref_check_sb(blk, &g, 0, NULL, err, sizeof(err)), -DMZ_ERR_BAD_SB);
	CHECK_STR_CONTAINS(err, "Not enough random zones found");
}

/* ------------------------------------------------------------- runner */

struct test {
	const char *name;
	void (*fn)(void);
};

#define T(f) { #f, f }
static const struct test tests[] = {
	T(test_crc32_standard_vector),
	T(test_crc32_kernel_seed),
	T(test_sb_byte_layout),
	T(test_sb_crc_reference),
	T(test_sb_roundtrip),
	T(test_sb_label_truncated),
	T(test_layout_rig_2g_16m_24conv),
	T(test_layout_reserved_option),
	T(test_layout_default_reserved_small),
	T(test_layout_no_conventional),
	T(test_layout_too_small),
	T(test_layout_multi_zone_metadata),
	T(test_layout_large_smr),
	T(test_layout_conv_not_contiguous),
	T(test_scan_offline_first_conv),
	T(test_scan_geometry_errors),
	T(test_kernel_check_rejects),
	T(test_map_block_init),
	T(test_format_image_rig),
	T(test_format_verify_detects_corruption),
	T(test_format_conv_not_first),
	T(test_format_runt_last_zone),
	T(test_find_existing_sb),
	T(test_write_rejects_null_uuid),
	T(test_geometry_table),
	T(test_geometry_table_format),
	T(test_ref_check_rejects),
};

int main(int argc, char **argv)
{
	unsigned int i, passed = 0, failed = 0;

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (argc > 1 && !strstr(tests[i].name, argv[1]))
			continue;
		t_failed = 0;
		tests[i].fn();
		printf("%s %s\n", t_failed ? "FAIL" : "ok  ", tests[i].name);
		fflush(stdout);
		if (t_failed)
			failed++;
		else
			passed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
