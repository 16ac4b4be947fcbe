// SPDX-License-Identifier: GPL-2.0-only
#include "fake_zdev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void violation(struct fake_zdev *f, const char *what, uint64_t a)
{
	f->violations++;
	snprintf(f->last_violation, sizeof(f->last_violation), "%s (%llu)", what,
		 (unsigned long long)a);
}

static void log_io(struct fake_zdev *f, enum fake_op op, uint64_t off, uint64_t len)
{
	if (f->nr_log == f->log_cap) {
		size_t cap = f->log_cap ? f->log_cap * 2 : 64;
		struct fake_io *n = realloc(f->log, cap * sizeof(*n));

		if (!n) {
			violation(f, "log allocation failed", 0);
			return;
		}
		f->log = n;
		f->log_cap = cap;
	}
	f->log[f->nr_log].op = op;
	f->log[f->nr_log].off = off;
	f->log[f->nr_log].len = len;
	f->nr_log++;
}

int fake_zdev_pread(struct fake_zdev *f, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pread(f->fd, buf, len, (off_t)off);

	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

int fake_zdev_pwrite(struct fake_zdev *f, const void *buf, size_t len, uint64_t off)
{
	ssize_t n = pwrite(f->fd, buf, len, (off_t)off);

	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

static int op_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct fake_zdev *f = ctx;

	if (off % 512 || len % 512 || off + len > f->capacity * 512)
		return -EINVAL;
	return fake_zdev_pread(f, buf, len, off);
}

static int op_write(void *ctx, const void *buf, size_t len, uint64_t off)
{
	struct fake_zdev *f = ctx;
	uint64_t sect = off / 512, nr = len / 512, s;

	log_io(f, FAKE_WRITE, off, len);
	if (off % 512 || len % 512 || !len || sect + nr > f->capacity) {
		violation(f, "unaligned or out of range write", off);
		return -EINVAL;
	}
	/* walk the zones touched by the write */
	s = sect;
	while (s < sect + nr) {
		struct dmz_zone *z = &f->zones[s / f->zone_sectors];
		uint64_t end = z->start + z->len, n = sect + nr - s;

		if (n > end - s)
			n = end - s;
		if (z->cond == DMZ_ZONE_COND_OFFLINE || z->cond == DMZ_ZONE_COND_READONLY) {
			violation(f, "write to offline/read-only zone", z->start);
			return -EIO;
		}
		if (z->type != DMZ_ZONE_TYPE_CONVENTIONAL) {
			if (s != z->wp) {
				violation(f, "unaligned write in sequential zone", s);
				return -EIO;
			}
			z->wp += n;
			z->cond = z->wp == end ? DMZ_ZONE_COND_FULL :
						 DMZ_ZONE_COND_IMP_OPEN;
		}
		s += n;
	}
	return fake_zdev_pwrite(f, buf, len, off);
}

/* Make a reset zone read back as zeroes (best effort: sparse file). */
static int fallocate_zero(struct fake_zdev *f, uint64_t off, uint64_t len)
{
	if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) && errno != EOPNOTSUPP)
		return -errno;
	return 0;
}

static int op_reset(void *ctx, uint64_t sector, uint64_t nr_sectors)
{
	struct fake_zdev *f = ctx;
	uint64_t s;

	log_io(f, FAKE_RESET, sector, nr_sectors);
	if (sector % f->zone_sectors || nr_sectors % f->zone_sectors || !nr_sectors ||
	    sector + nr_sectors > (uint64_t)f->nr_zones * f->zone_sectors) {
		violation(f, "unaligned zone reset", sector);
		return -EINVAL;
	}
	for (s = sector; s < sector + nr_sectors; s += f->zone_sectors) {
		struct dmz_zone *z = &f->zones[s / f->zone_sectors];

		if (z->type == DMZ_ZONE_TYPE_CONVENTIONAL) {
			violation(f, "reset of a conventional zone", s);
			return -EINVAL;
		}
	}
	for (s = sector; s < sector + nr_sectors; s += f->zone_sectors) {
		struct dmz_zone *z = &f->zones[s / f->zone_sectors];

		z->wp = z->start;
		z->cond = DMZ_ZONE_COND_EMPTY;
		if (fallocate_zero(f, z->start * 512, z->len * 512))
			return -EIO;
	}
	return 0;
}

static int op_flush(void *ctx)
{
	struct fake_zdev *f = ctx;

	log_io(f, FAKE_FLUSH, 0, 0);
	return fsync(f->fd) ? -errno : 0;
}

static const struct dmz_zdev_ops fake_ops = {
	.read = op_read,
	.write = op_write,
	.reset_zones = op_reset,
	.flush = op_flush,
};

struct fake_zdev *fake_zdev_create(uint64_t capacity, uint64_t zone_bytes,
				   uint32_t conv_first, uint32_t nr_conv, int dirty)
{
	struct fake_zdev *f = calloc(1, sizeof(*f));
	const char *dir = getenv("TMPDIR");
	uint32_t i;

	if (!f)
		return NULL;
	snprintf(f->path, sizeof(f->path), "%s/dmz-fake-XXXXXX", dir && *dir ? dir : "/tmp");
	f->fd = mkstemp(f->path);
	if (f->fd < 0) {
		free(f);
		return NULL;
	}
	unlink(f->path);
	if (ftruncate(f->fd, (off_t)capacity)) {
		close(f->fd);
		free(f);
		return NULL;
	}
	f->capacity = capacity / 512;
	f->zone_sectors = zone_bytes / 512;
	f->nr_zones = (uint32_t)((f->capacity + f->zone_sectors - 1) / f->zone_sectors);
	f->zones = calloc(f->nr_zones, sizeof(*f->zones));
	if (!f->zones) {
		close(f->fd);
		free(f);
		return NULL;
	}
	for (i = 0; i < f->nr_zones; i++) {
		struct dmz_zone *z = &f->zones[i];

		z->start = (uint64_t)i * f->zone_sectors;
		z->len = f->zone_sectors;
		if (z->start + z->len > f->capacity)
			z->len = f->capacity - z->start;	/* runt */
		z->capacity = z->len;
		if (i >= conv_first && i < conv_first + nr_conv) {
			z->type = DMZ_ZONE_TYPE_CONVENTIONAL;
			z->cond = DMZ_ZONE_COND_NOT_WP;
			z->wp = UINT64_MAX;
		} else {
			z->type = DMZ_ZONE_TYPE_SEQWRITE_REQ;
			z->cond = DMZ_ZONE_COND_EMPTY;
			z->wp = z->start;
			if (dirty && (i % 3) == 1) {
				z->wp = z->start + z->len / 2;
				z->cond = DMZ_ZONE_COND_CLOSED;
			} else if (dirty && (i % 3) == 2) {
				z->wp = z->start + z->len;
				z->cond = DMZ_ZONE_COND_FULL;
			}
		}
	}
	f->zdev.ops = &fake_ops;
	f->zdev.ctx = f;
	return f;
}

void fake_zdev_destroy(struct fake_zdev *f)
{
	if (!f)
		return;
	close(f->fd);
	free(f->zones);
	free(f->log);
	free(f);
}
