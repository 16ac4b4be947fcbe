/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A fake host-managed zoned device: an in-memory zone table plus a sparse
 * regular file holding the data.  Enforces zoned semantics: writes into a
 * sequential zone must be at its write pointer, resets must be zone
 * aligned and target sequential zones only.  Every I/O is logged.
 */
#ifndef FAKE_ZDEV_H
#define FAKE_ZDEV_H

#include "../dmz_format.h"

enum fake_op { FAKE_WRITE, FAKE_FLUSH, FAKE_RESET };

struct fake_io {
	enum fake_op op;
	uint64_t off;	/* bytes (write) or sector (reset) */
	uint64_t len;	/* bytes (write) or sectors (reset) */
};

struct fake_zdev {
	int fd;
	char path[256];
	uint64_t capacity;	/* sectors */
	uint64_t zone_sectors;
	uint32_t nr_zones;
	struct dmz_zone *zones;
	unsigned int violations;	/* zoned rule violations */
	char last_violation[200];
	struct fake_io *log;
	size_t nr_log, log_cap;
	struct dmz_zdev zdev;
};

/*
 * Create a device of capacity bytes with zones of zone_bytes.  Zones
 * [conv_first, conv_first + nr_conv) are conventional, the rest
 * sequential-write-required.  A last partial zone becomes a runt.  If
 * dirty, sequential zones get a non-zero write pointer (some full).
 */
struct fake_zdev *fake_zdev_create(uint64_t capacity, uint64_t zone_bytes,
				   uint32_t conv_first, uint32_t nr_conv, int dirty);
void fake_zdev_destroy(struct fake_zdev *f);

/* Raw access for tests (no zoned rules, not logged). */
int fake_zdev_pread(struct fake_zdev *f, void *buf, size_t len, uint64_t off);
int fake_zdev_pwrite(struct fake_zdev *f, const void *buf, size_t len, uint64_t off);

#endif
