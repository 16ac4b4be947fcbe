// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmz-format - format a zoned block device for the Linux dm-zoned target
 * (single device mode, metadata version 2, as in Linux 6.12).
 *
 * Usage: dmz-format [--force] [--label NAME] [--reserved N] [--dry-run] DEVICE
 */
#include "dmz_format.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#include <linux/blkzoned.h>
#include <linux/fs.h>

#define PROG "dmz-format"

/* The library uses its own copies of the uapi zone constants. */
typedef char check_conv[((int)DMZ_ZONE_TYPE_CONVENTIONAL == (int)BLK_ZONE_TYPE_CONVENTIONAL) ? 1 : -1];
typedef char check_seqr[((int)DMZ_ZONE_TYPE_SEQWRITE_REQ == (int)BLK_ZONE_TYPE_SEQWRITE_REQ) ? 1 : -1];
typedef char check_seqp[((int)DMZ_ZONE_TYPE_SEQWRITE_PREF == (int)BLK_ZONE_TYPE_SEQWRITE_PREF) ? 1 : -1];
typedef char check_empty[((int)DMZ_ZONE_COND_EMPTY == (int)BLK_ZONE_COND_EMPTY) ? 1 : -1];
typedef char check_ro[((int)DMZ_ZONE_COND_READONLY == (int)BLK_ZONE_COND_READONLY) ? 1 : -1];
typedef char check_off[((int)DMZ_ZONE_COND_OFFLINE == (int)BLK_ZONE_COND_OFFLINE) ? 1 : -1];

#define REPORT_BATCH	4096u

struct bdev {
	int fd;
	const char *path;
};

/* Full-length pread/pwrite, retrying short transfers and EINTR. */
static int bdev_xfer(struct bdev *d, void *buf, size_t len, uint64_t off, int write)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = write ? pwrite(d->fd, p, len, (off_t)off) : pread(d->fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int bdev_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	return bdev_xfer(ctx, buf, len, off, 0);
}

static int bdev_write(void *ctx, const void *buf, size_t len, uint64_t off)
{
	return bdev_xfer(ctx, (void *)buf, len, off, 1);
}

static int bdev_reset(void *ctx, uint64_t sector, uint64_t nr_sectors)
{
	struct bdev *d = ctx;
	struct blk_zone_range range = { .sector = sector, .nr_sectors = nr_sectors };

	if (ioctl(d->fd, BLKRESETZONE, &range) < 0)
		return -errno;
	return 0;
}

static int bdev_flush(void *ctx)
{
	struct bdev *d = ctx;

	if (fsync(d->fd) < 0)
		return -errno;
	return 0;
}

static const struct dmz_zdev_ops bdev_ops = {
	.read = bdev_read,
	.write = bdev_write,
	.reset_zones = bdev_reset,
	.flush = bdev_flush,
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [--force] [--label NAME] [--reserved N] [--dry-run] DEVICE\n"
		"Format a zoned block device for the dm-zoned target (metadata v2).\n\n"
		"  -f, --force        overwrite an existing dm-zoned super block\n"
		"  -l, --label NAME   dm-zoned label (max %u characters, default: device name)\n"
		"  -r, --reserved N   sequential zones reserved for reclaim (default %u; more than\n"
		"                     the conventional zones becomes conventional zones - 1)\n"
		"  -n, --dry-run      compute and print the layout, write nothing\n"
		"  -h, --help         this help\n",
		DMZ_LABEL_LEN - 1, DMZ_DEFAULT_RESERVED_SEQ);
}

/* Zoned model from sysfs: "host-managed", "host-aware", "none", or "" */
static void sysfs_zoned_model(dev_t rdev, char *model, size_t len)
{
	char path[128];
	FILE *f;
	const char *fmt[2] = { "/sys/dev/block/%u:%u/queue/zoned",
			       "/sys/dev/block/%u:%u/../queue/zoned" };
	int i;

	model[0] = 0;
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), fmt[i], major(rdev), minor(rdev));
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(model, (int)len, f))
			model[strcspn(model, "\n")] = 0;
		else
			model[0] = 0;
		fclose(f);
		return;
	}
}

static int report_zones(int fd, uint32_t nr_zones, struct dmz_zone *zones)
{
	struct blk_zone_report *rep;
	uint64_t sector = 0;
	uint32_t got = 0, i;
	size_t sz = sizeof(*rep) + REPORT_BATCH * sizeof(struct blk_zone);

	rep = calloc(1, sz);
	if (!rep)
		return -ENOMEM;
	while (got < nr_zones) {
		memset(rep, 0, sz);
		rep->sector = sector;
		rep->nr_zones = REPORT_BATCH;
		if (ioctl(fd, BLKREPORTZONE, rep) < 0) {
			int e = -errno;

			free(rep);
			return e;
		}
		if (!rep->nr_zones)
			break;
		for (i = 0; i < rep->nr_zones && got < nr_zones; i++) {
			const struct blk_zone *b = &rep->zones[i];
			struct dmz_zone *z = &zones[got++];

			z->start = b->start;
			z->len = b->len;
			z->wp = b->wp;
			z->type = b->type;
			z->cond = b->cond;
			z->capacity = (rep->flags & BLK_ZONE_REP_CAPACITY) ?
				b->capacity : b->len;
			sector = b->start + b->len;
		}
	}
	free(rep);
	return got == nr_zones ? 0 : -EIO;
}

static int gen_uuid(uint8_t u[DMZ_UUID_LEN])
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, u, DMZ_UUID_LEN);
	close(fd);
	if (n != DMZ_UUID_LEN)
		return -EIO;
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);	/* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	return 0;
}

static void uuid_str(const uint8_t u[DMZ_UUID_LEN], char s[37])
{
	unsigned int i;
	int o = 0;

	for (i = 0; i < DMZ_UUID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			s[o++] = '-';
		o += sprintf(s + o, "%02x", u[i]);
	}
	s[o] = 0;
}

static void print_progress(void *arg, const char *msg)
{
	(void)arg;
	printf("  %s\n", msg);
	fflush(stdout);
}

static int label_ok(const char *l)
{
	size_t i, n = strlen(l);

	if (!n || n > DMZ_LABEL_LEN - 1)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)l[i] <= ' ' || (unsigned char)l[i] >= 0x7f ||
		    l[i] == '/')
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "label", required_argument, NULL, 'l' },
		{ "reserved", required_argument, NULL, 'r' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int force = 0, dry_run = 0, c, ret, fd;
	unsigned long reserved = 0;
	const char *label = NULL, *path;
	char model[64], err[256], devlabel[DMZ_LABEL_LEN], us[2][37], *tmp, *end;
	struct stat st;
	struct bdev bd;
	struct dmz_zdev zdev = { .ops = &bdev_ops, .ctx = &bd };
	struct dmz_zone *zones;
	struct dmz_geom g;
	struct dmz_layout l;
	struct dmz_sb_info old;
	struct dmz_format_params p;
	struct dmz_verify_report rep;
	uint32_t zone_sectors = 0, nr_zones = 0, nr_reset = 0;
	uint64_t size = 0;

	while ((c = getopt_long(argc, argv, "fl:r:nh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = 1;
			break;
		case 'l':
			label = optarg;
			break;
		case 'r':
			errno = 0;
			reserved = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || reserved < 1 ||
			    reserved > UINT32_MAX || optarg[0] == '-') {
				fprintf(stderr, PROG ": invalid --reserved value '%s' (must be >= 1)\n",
					optarg);
				return 2;
			}
			break;
		case 'n':
			dry_run = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	path = argv[optind];

	if (label && !label_ok(label)) {
		fprintf(stderr, PROG ": invalid label '%s' (1 to %u printable characters, no spaces or '/')\n",
			label, DMZ_LABEL_LEN - 1);
		return 2;
	}

	if (stat(path, &st) < 0) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!S_ISBLK(st.st_mode)) {
		fprintf(stderr, PROG ": %s is not a block device\n", path);
		return 1;
	}

	sysfs_zoned_model(st.st_rdev, model, sizeof(model));
	if (!strcmp(model, "none")) {
		fprintf(stderr, PROG ": %s is not a zoned block device\n", path);
		return 1;
	}

	fd = open(path, dry_run ? O_RDONLY : (O_RDWR | O_EXCL | O_DIRECT));
	if (fd < 0) {
		if (errno == EBUSY)
			fprintf(stderr, PROG ": %s is busy (mounted or in use)\n", path);
		else
			fprintf(stderr, PROG ": open %s: %s\n", path, strerror(errno));
		return 1;
	}
	bd.fd = fd;
	bd.path = path;

	if (ioctl(fd, BLKGETZONESZ, &zone_sectors) < 0 || !zone_sectors ||
	    ioctl(fd, BLKGETNRZONES, &nr_zones) < 0 || !nr_zones) {
		fprintf(stderr, PROG ": %s is not a zoned block device\n", path);
		close(fd);
		return 1;
	}
	if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
		fprintf(stderr, PROG ": %s: BLKGETSIZE64: %s\n", path, strerror(errno));
		close(fd);
		return 1;
	}

	zones = calloc(nr_zones, sizeof(*zones));
	if (!zones) {
		fprintf(stderr, PROG ": out of memory\n");
		close(fd);
		return 1;
	}
	ret = report_zones(fd, nr_zones, zones);
	if (ret) {
		fprintf(stderr, PROG ": %s: zone report failed: %s\n", path, strerror(-ret));
		goto fail;
	}

	ret = dmz_scan_zones(zones, nr_zones, zone_sectors, size >> 9, &g,
			     err, sizeof(err));
	if (ret) {
		fprintf(stderr, PROG ": %s: unsupported zone configuration: %s\n", path, err);
		goto fail;
	}
	ret = dmz_compute_layout(&g, (uint32_t)reserved, &l, err, sizeof(err));
	if (ret) {
		fprintf(stderr, PROG ": %s: %s\n", path, err);
		goto fail;
	}

	if (!label) {
		tmp = strdup(path);
		if (!tmp) {
			fprintf(stderr, PROG ": out of memory\n");
			goto fail;
		}
		snprintf(devlabel, sizeof(devlabel), "%s", basename(tmp));
		free(tmp);
		label = devlabel;
	}

	memset(&p, 0, sizeof(p));
	p.gen = 1;
	p.label = label;
	p.progress = print_progress;
	if (gen_uuid(p.uuid) || gen_uuid(p.dev_uuid)) {
		fprintf(stderr, PROG ": cannot generate uuid\n");
		goto fail;
	}
	uuid_str(p.uuid, us[0]);
	uuid_str(p.dev_uuid, us[1]);

	printf("%s: %s zoned block device\n", path, model[0] ? model : "unknown model");
	printf("  capacity          : %" PRIu64 " sectors (%" PRIu64 " MiB)\n",
	       size >> 9, size >> 20);
	printf("  zone size         : %u sectors (%u MiB, %" PRIu64 " blocks of 4 KiB)\n",
	       zone_sectors, zone_sectors >> 11, g.zone_nr_blocks);
	printf("  zones             : %u (%u conventional, %u sequential, %u unusable)\n",
	       g.nr_zones, g.nr_rnd_zones, g.nr_seq_zones, g.nr_unusable_zones);
	printf("  metadata          : %u blocks per set (%u map + %u bitmap + 1 super block)\n",
	       l.nr_meta_blocks, l.nr_map_blocks, l.nr_bitmap_blocks);
	printf("  metadata zones    : 2 x %u (primary zone %u, secondary zone %u)\n",
	       l.nr_meta_zones, l.sb_zone[0], l.sb_zone[1]);
	printf("  reserved zones    : %u sequential zones for reclaim", l.nr_reserved_seq);
	if (l.nr_reserved_seq != (reserved ? reserved : dmz_default_reserved_seq(&g)))
		printf(" (%lu asked, cut to %u conventional zones - 1)",
		       reserved ? reserved : (unsigned long)dmz_default_reserved_seq(&g),
		       g.nr_cache_zones);
	printf("\n");
	printf("  chunks            : %u (%" PRIu64 " sectors, %" PRIu64 " MiB, %" PRIu64 " bytes usable)\n",
	       l.nr_chunks, (uint64_t)l.nr_chunks * zone_sectors,
	       ((uint64_t)l.nr_chunks * zone_sectors) >> 11,
	       ((uint64_t)l.nr_chunks * zone_sectors) << 9);
	if (l.est_meta_zones != l.nr_meta_zones)
		printf("  note              : dmzadm --format writes this same layout and dmzadm --check\n"
		       "                      rejects it (it expects %u chunks); the kernel accepts it\n",
		       l.nr_chunks + 2 * (l.est_meta_zones - l.nr_meta_zones));
	printf("  label             : %s\n", label);
	printf("  uuid              : %s\n", us[0]);
	printf("  device uuid       : %s\n", us[1]);

	ret = dmz_find_existing_sb(&zdev, &g, &l, &old);
	if (ret < 0) {
		fprintf(stderr, PROG ": %s: read failed: %s\n", path, strerror(-ret));
		goto fail;
	}
	if (ret > 0) {
		char ol[DMZ_LABEL_LEN + 1];

		memcpy(ol, old.label, DMZ_LABEL_LEN);
		ol[DMZ_LABEL_LEN] = 0;
		if (!force) {
			fprintf(stderr, PROG ": %s already contains a dm-zoned super block "
				"(version %u, gen %" PRIu64 ", label '%s'); use --force to overwrite\n",
				path, old.version, old.gen, ol);
			goto fail;
		}
		printf("  overwriting existing dm-zoned metadata (label '%s')\n", ol);
	}

	if (dry_run) {
		printf("Dry run: nothing written.\n");
		goto done;
	}

	ret = dmz_reset_seq_zones(&zdev, zones, &g, &nr_reset, err, sizeof(err));
	if (ret) {
		fprintf(stderr, PROG ": %s: %s\n", path, err);
		goto fail;
	}
	printf("  reset %u sequential zones\n", nr_reset);

	ret = dmz_write_metadata(&zdev, &g, &l, &p, err, sizeof(err));
	if (ret) {
		fprintf(stderr, PROG ": %s: %s\n", path, err);
		goto fail;
	}

	/* Read everything back the way the kernel will */
	ret = report_zones(fd, nr_zones, zones);
	if (ret) {
		fprintf(stderr, PROG ": %s: zone report failed: %s\n", path, strerror(-ret));
		goto fail;
	}
	ret = dmz_verify(&zdev, zones, nr_zones, zone_sectors, size >> 9, &rep,
			 err, sizeof(err));
	if (ret) {
		fprintf(stderr, PROG ": %s: verification failed: %s\n", path, err);
		goto fail;
	}
	printf("  verified: both metadata sets valid (kernel rules)%s\n",
	       rep.ref_checked ? ", dmzadm --check super block rules pass" :
	       "; dmzadm --check rules not applied (runt, unusable conventional zones, or see note)");
	printf("Done. To start the target:\n"
	       "  echo \"0 %" PRIu64 " zoned %s\" | dmsetup create %s\n",
	       (uint64_t)l.nr_chunks * zone_sectors, path, label);
done:
	free(zones);
	close(fd);
	return 0;
fail:
	free(zones);
	close(fd);
	return 1;
}
