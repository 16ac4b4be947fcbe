// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit test of file_zbc's zone metadata path (../patches): every zone
 * state change made while serving a command reaches the backstore file
 * through pwritev2() with that command's RWF_* scope flags, and never
 * through a store into a mapping of the file.
 *
 * file_zbc.c of the patched tree is included here, with libtcmu and
 * tcmu-runner stubbed, and drives a real backstore file in a temporary
 * directory.  libtcmu_scope.c is compiled in too (scope-impl.h), its
 * preadv2()/pwritev2() faked: each call is recorded, then done without the
 * scope flags, which the host kernel does not know.  Last line: "N passed, M failed"; exit status 1 on
 * any failure.
 */
#include "file_zbc.c"

#include <limits.h>
#include <stdarg.h>

#include "scope-impl.h"

#include "../../include/check.h"

/* ------------------------------------------ libtcmu, tcmu-runner stubs */

static char dev_storage;
#define DEV ((struct tcmu_device *)&dev_storage)

static void *dev_private;
static char cfgstring[PATH_MAX + 64];
static uint64_t dev_size;
static int nerr;
static char last_err[256];

static void log_msg(bool err, const char *fmt, va_list args)
{
	if (!err)
		return;
	nerr++;
	vsnprintf(last_err, sizeof(last_err), fmt, args);
}

#define LOG_STUB(name, err)						\
void name(struct tcmu_device *dev, const char *funcname, int linenr,	\
	  const char *fmt, ...)						\
{									\
	va_list args;							\
									\
	(void)dev; (void)funcname; (void)linenr;			\
	va_start(args, fmt);						\
	log_msg(err, fmt, args);					\
	va_end(args);							\
}

LOG_STUB(tcmu_crit_message, true)
LOG_STUB(tcmu_err_message, true)
LOG_STUB(tcmu_warn_message, false)
LOG_STUB(tcmu_info_message, false)
LOG_STUB(tcmu_dbg_message, false)

void tcmur_dev_set_private(struct tcmu_device *dev, void *private)
{
	(void)dev;
	dev_private = private;
}

void *tcmur_dev_get_private(struct tcmu_device *dev)
{
	(void)dev;
	return dev_private;
}

char *tcmu_dev_get_cfgstring(struct tcmu_device *dev)
{
	(void)dev;
	return cfgstring;
}

uint64_t tcmu_cfgfs_dev_get_info_u64(struct tcmu_device *dev,
				     const char *name, int *fn_ret)
{
	(void)dev; (void)name;
	*fn_ret = 0;
	return dev_size;
}

void tcmu_dev_set_block_size(struct tcmu_device *dev, uint32_t block_size)
{
	(void)dev; (void)block_size;
}

void tcmu_dev_set_num_lbas(struct tcmu_device *dev, uint64_t num_lbas)
{
	(void)dev; (void)num_lbas;
}

uint32_t tcmu_dev_get_max_xfer_len(struct tcmu_device *dev)
{
	(void)dev;
	return 0;
}

int tcmu_cfgfs_dev_get_attr_int(struct tcmu_device *dev, const char *name)
{
	(void)dev; (void)name;
	return -1;
}

char *tcmu_cfgfs_dev_get_wwn(struct tcmu_device *dev)
{
	(void)dev;
	return NULL;
}

bool char_to_hex(unsigned char *val, char c)
{
	(void)val; (void)c;
	return false;
}

int tcmu_emulate_test_unit_ready(uint8_t *cdb, struct iovec *iovec,
				 size_t iov_cnt)
{
	(void)cdb; (void)iovec; (void)iov_cnt;
	return TCMU_STS_OK;
}

int tcmu_emulate_mode_select(struct tcmu_device *dev, uint8_t *cdb,
			     struct iovec *iovec, size_t iov_cnt)
{
	(void)dev; (void)cdb; (void)iovec; (void)iov_cnt;
	return TCMU_STS_OK;
}

int tcmur_register_handler(struct tcmur_handler *handler)
{
	(void)handler;
	return 0;
}

/* The test sends 16 byte CDBs only. */
uint64_t tcmu_cdb_get_lba(uint8_t *cdb)
{
	uint64_t val;

	memcpy(&val, &cdb[2], 8);
	return be64toh(val);
}

uint32_t tcmu_cdb_get_xfer_length(uint8_t *cdb)
{
	uint32_t val;

	memcpy(&val, &cdb[10], 4);
	return be32toh(val);
}

size_t tcmu_iovec_length(struct iovec *iovec, size_t iov_cnt)
{
	size_t len = 0;

	while (iov_cnt--)
		len += (iovec++)->iov_len;
	return len;
}

size_t tcmu_iovec_seek(struct iovec *iovec, size_t count)
{
	size_t consumed = 0;

	while (count) {
		if (count >= iovec->iov_len) {
			count -= iovec->iov_len;
			iovec->iov_len = 0;
			iovec++;
			consumed++;
		} else {
			iovec->iov_base = (char *)iovec->iov_base + count;
			iovec->iov_len -= count;
			count = 0;
		}
	}
	return consumed;
}

size_t tcmu_memcpy_into_iovec(struct iovec *iovec, size_t iov_cnt,
			      void *src, size_t len)
{
	size_t copied = 0, n;

	while (len && iov_cnt) {
		n = iovec->iov_len < len ? iovec->iov_len : len;
		memcpy(iovec->iov_base, (char *)src + copied, n);
		iovec->iov_base = (char *)iovec->iov_base + n;
		iovec->iov_len -= n;
		copied += n;
		len -= n;
		iovec++;
		iov_cnt--;
	}
	return copied;
}

int tcmu_sense_set_data(uint8_t *sense_buf, uint8_t key, uint16_t asc_ascq)
{
	memset(sense_buf, 0, SENSE_BUFFERSIZE);
	sense_buf[0] = 0x70;
	sense_buf[2] = key;
	sense_buf[12] = asc_ascq >> 8;
	sense_buf[13] = asc_ascq & 0xff;
	return TCMU_STS_PASSTHROUGH_ERR;
}

/* ------------------------------------------------------ fake syscalls */

/*
 * Each call is recorded and then done for real without flags.  Writes
 * into the metadata (offset below meta_size) fail with fail_meta if set,
 * or with swallow_meta succeed without reaching the file.  fail_rwf: any
 * call with flags fails with it (a kernel without the scope flags).
 */
struct io_rec {
	bool write;
	off_t ofst;
	size_t len;
	int flags;
};

static struct {
	struct io_rec rec[32];
	int n;
	int fail_meta;
	bool swallow_meta;
	int fail_rwf;
} fk;

static size_t meta_size(void)
{
	struct zbc_dev *zdev = dev_private;

	return zdev ? zdev->meta_size : SIZE_MAX;
}

static ssize_t fake_rw(bool write, int fd, const struct iovec *iov,
		       int iovcnt, off_t ofst, int flags)
{
	size_t len = 0;
	int i;

	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (fk.n < (int)ARRAY_SIZE(fk.rec))
		fk.rec[fk.n] = (struct io_rec){ write, ofst, len, flags };
	fk.n++;

	if (fk.fail_rwf && flags) {
		errno = fk.fail_rwf;
		return -1;
	}
	if (write && (size_t)ofst < meta_size()) {
		if (fk.fail_meta) {
			errno = fk.fail_meta;
			return -1;
		}
		if (fk.swallow_meta)
			return len;
	}
	return write ? pwritev(fd, iov, iovcnt, ofst) :
		       preadv(fd, iov, iovcnt, ofst);
}

static ssize_t fake_preadv2(int fd, const struct iovec *iov, int iovcnt,
			    off_t ofst, int flags)
{
	return fake_rw(false, fd, iov, iovcnt, ofst, flags);
}

static ssize_t fake_pwritev2(int fd, const struct iovec *iov, int iovcnt,
			     off_t ofst, int flags)
{
	return fake_rw(true, fd, iov, iovcnt, ofst, flags);
}

static void setup(const char *name)
{
	cur = name;
	memset(&fk, 0, sizeof(fk));
	nerr = 0;
	last_err[0] = 0;
}

/* ------------------------------------------------------------ device */

#define NOFS		TCMU_KFLAG_SCOPE_NOFS
#define NOIO		(TCMU_KFLAG_SCOPE_NOFS | TCMU_KFLAG_SCOPE_NOIO)
#define WB		TCMU_KFLAG_SCOPE_WB
#define ZONE_LBAS	2048		/* zsize-1: 1 MiB of 512 B LBAs */
#define NR_ZONES	8
#define LBAS		8		/* per write */

static char path[PATH_MAX + 16];
static char path_ha[PATH_MAX + 16];
static int rfd = -1;			/* the test's own view of the file */
static uint8_t sense_key;
static uint16_t sense_asc;
static char data[LBAS * 512];

static struct zbc_dev *zdev(void)
{
	return dev_private;
}

static int zopen(const char *opts, const char *file)
{
	int ret;

	snprintf(cfgstring, sizeof(cfgstring), "zbc/%s%s", opts, file);
	dev_private = NULL;
	ret = zbc_handler.open(DEV, false);
	if (rfd >= 0)
		close(rfd);
	rfd = open(file, O_RDONLY);
	return ret;
}

static void zclose(void)
{
	zbc_handler.close(DEV);
	dev_private = NULL;
}

static int run(uint8_t *cdb, void *buf, size_t len, uint8_t kflags)
{
	struct tcmulib_cmd cmd;
	struct tcmur_cmd tcmur_cmd;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	int ret;

	memset(&cmd, 0, sizeof(cmd));
	memset(&tcmur_cmd, 0, sizeof(tcmur_cmd));
	cmd.cdb = cdb;
	cmd.iovec = &iov;
	cmd.iov_cnt = buf ? 1 : 0;
	cmd.kflags = kflags;
	tcmur_cmd.lib_cmd = &cmd;
	cmd.hm_private = &tcmur_cmd;
	ret = zbc_handler.handle_cmd(DEV, &tcmur_cmd);
	sense_key = cmd.sense_buf[2];
	sense_asc = cmd.sense_buf[12] << 8 | cmd.sense_buf[13];
	return ret;
}

static void cdb16(uint8_t *cdb, uint8_t op, uint8_t sa, uint64_t lba,
		  uint32_t len)
{
	uint64_t lba_be = htobe64(lba);
	uint32_t len_be = htobe32(len);

	memset(cdb, 0, 16);
	cdb[0] = op;
	cdb[1] = sa;
	memcpy(&cdb[2], &lba_be, 8);
	memcpy(&cdb[10], &len_be, 4);
}

static int zwrite(uint64_t lba, uint8_t kflags)
{
	uint8_t cdb[16];

	cdb16(cdb, WRITE_16, 0, lba, LBAS);
	return run(cdb, data, sizeof(data), kflags);
}

static int zread(uint64_t lba, void *buf, uint8_t kflags)
{
	uint8_t cdb[16];

	cdb16(cdb, READ_16, 0, lba, LBAS);
	return run(cdb, buf, LBAS * 512, kflags);
}

/* ZBC OUT: open, close, finish, reset write pointer; all: every zone */
static int zout(uint8_t sa, uint64_t lba, bool all, uint8_t kflags)
{
	uint8_t cdb[16];

	cdb16(cdb, ZBC_OUT, sa, lba, 0);
	cdb[14] = all;
	return run(cdb, NULL, 0, kflags);
}

static int zflush(uint8_t kflags)
{
	uint8_t cdb[16];

	cdb16(cdb, SYNCHRONIZE_CACHE_16, 0, 0, 0);
	return run(cdb, NULL, 0, kflags);
}

static off_t zoff(unsigned int zno)
{
	return sizeof(struct zbc_meta) + zno * sizeof(struct zbc_zone);
}

/* Zone descriptor zno as the backstore file has it. */
static struct zbc_zone fzone(unsigned int zno)
{
	struct zbc_zone z;

	memset(&z, 0xff, sizeof(z));
	if (pread(rfd, &z, sizeof(z), zoff(zno)) != sizeof(z))
		printf("FAIL [%s]: pread zone %u\n", cur, zno);
	return z;
}

static uint64_t zstart(unsigned int zno)
{
	return (uint64_t)zno * ZONE_LBAS;
}

/* The RWF_* flags a command's kflags must give, worked out here. */
static int want_rwf(uint8_t kflags)
{
	return (kflags & TCMU_KFLAG_SCOPE_NOFS ? RWF_MEMALLOC_NOFS : 0) |
	       (kflags & TCMU_KFLAG_SCOPE_NOIO ? RWF_MEMALLOC_NOIO : 0);
}

/* Recorded writes into the metadata, and their number. */
static int meta_writes(struct io_rec **out, int max)
{
	int i, n = 0;

	for (i = 0; i < fk.n && i < (int)ARRAY_SIZE(fk.rec); i++) {
		if (!fk.rec[i].write || (size_t)fk.rec[i].ofst >= meta_size())
			continue;
		if (n < max)
			out[n] = &fk.rec[i];
		n++;
	}
	return n;
}

/* Check that the recorded metadata writes are exactly these. */
static void check_meta_writes(const char *what, int n, const off_t *ofst,
			      const size_t *len, int flags)
{
	struct io_rec *w[8];
	int got = meta_writes(w, 8), i;

	if (got != n) {
		failed++;
		printf("FAIL [%s] %s: %d metadata writes, want %d\n",
		       cur, what, got, n);
		return;
	}
	passed++;
	for (i = 0; i < n; i++) {
		CHECK_EQ(w[i]->ofst, ofst[i]);
		CHECK_EQ(w[i]->len, len[i]);
		CHECK_EQ(w[i]->flags, flags);
	}
}

static void check_one_zone_write(const char *what, unsigned int zno, int flags)
{
	off_t o = zoff(zno);
	size_t l = sizeof(struct zbc_zone);

	check_meta_writes(what, 1, &o, &l, flags);
}

/*
 * Mappings of the backstore file in this process: all of them, and the
 * writable shared ones (a store there is a write fault on a shared mapping).
 */
static void file_maps(const char *file, int *all, int *wshared)
{
	char line[PATH_MAX + 128], perms[8], *p;
	FILE *f = fopen("/proc/self/maps", "r");

	*all = *wshared = 0;
	if (!f) {
		*all = *wshared = -1;
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		p = strchr(line, '/');
		if (!p || sscanf(line, "%*s %7s", perms) != 1)
			continue;
		p[strcspn(p, "\n")] = 0;
		if (strcmp(p, file))
			continue;
		(*all)++;
		if (perms[1] == 'w' && perms[3] == 's')
			(*wshared)++;
	}
	fclose(f);
}

static void check_no_mapping(const char *file)
{
	int all, wshared;

	file_maps(file, &all, &wshared);
	CHECK_EQ(wshared, 0);
	CHECK_EQ(all, 0);
}

/* ------------------------------------------------------------ tests */

static void test_format(void)
{
	struct zbc_meta m;

	setup("format");
	CHECK_EQ(zopen("model-HM/lba-512/zsize-1/conv-1@", path), 0);
	if (!zdev()) {
		printf("FAIL [%s]: open failed (%s)\n", cur, last_err);
		exit(1);
	}
	CHECK_EQ(zdev()->nr_zones, NR_ZONES);
	CHECK_EQ(zdev()->nr_open_zones, 3);
	check_no_mapping(path);

	/* written whole, not serving a command: no scope flags */
	{
		off_t o = 0;
		size_t l = zdev()->meta_size;

		check_meta_writes("format", 1, &o, &l, 0);
	}
	CHECK_EQ(pread(rfd, &m, sizeof(m), 0), sizeof(m));
	CHECK_EQ(m.magic, ZBC_MAGIC);
	CHECK_EQ(m.nr_zones, NR_ZONES);
	CHECK_EQ(fzone(1).wp, zstart(1));
	CHECK_EQ(fzone(1).cond, ZBC_ZONE_COND_EMPTY);
	CHECK_EQ(fzone(0).cond, ZBC_ZONE_COND_NOT_WP);
	CHECK_EQ(nerr, 0);
}

/* A WRITE: data, then the write pointer, both in the command's scope. */
static void test_write_wp(void)
{
	off_t data_ofst = zdev()->meta_size + zstart(1) * 512;

	setup("write_wp");
	CHECK_EQ(zwrite(zstart(1), NOIO), TCMU_STS_OK);
	CHECK_EQ(fk.n, 2);
	CHECK(fk.rec[0].write);
	CHECK_EQ(fk.rec[0].ofst, data_ofst);
	CHECK_EQ(fk.rec[0].flags, RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO);
	check_one_zone_write("wp", 1, RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO);
	CHECK_EQ(fzone(1).wp, zstart(1) + LBAS);
	CHECK_EQ(fzone(1).cond, ZBC_ZONE_COND_IMP_OPEN);
	check_no_mapping(path);
	CHECK_EQ(nerr, 0);
}

/* Every kflags combination: the metadata write has the data's flags. */
static void test_kflags(void)
{
	uint8_t k;

	for (k = 0; k < 8; k++) {
		uint64_t wp = zdev()->zones[1].wp;

		setup("kflags");
		CHECK_EQ(zwrite(wp, k), TCMU_STS_OK);
		CHECK_EQ(fk.n, 2);
		CHECK_EQ(fk.rec[0].flags, want_rwf(k));
		check_one_zone_write("wp", 1, want_rwf(k));
		CHECK_EQ(fzone(1).wp, wp + LBAS);
	}
	/* WB is information only: nothing but NOFS/NOIO ever reaches rw_flags */
	setup("kflags_wb");
	CHECK_EQ(zwrite(zdev()->zones[1].wp, WB | NOIO), TCMU_STS_OK);
	CHECK_EQ(fk.rec[1].flags & ~(RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO), 0);
	CHECK_EQ(fk.rec[1].flags & 0x200, 0);	/* RWF_LOCAL_THROTTLE: never passed */
}

/*
 * The zone state reaches the file through the scoped pwritev2() and no
 * other way: when that write is swallowed, the file keeps the old state.
 */
static void test_no_other_path(void)
{
	uint64_t wp = zdev()->zones[1].wp;

	setup("no_other_path");
	fk.swallow_meta = true;
	CHECK_EQ(zwrite(wp, NOFS), TCMU_STS_OK);
	CHECK_EQ(zdev()->zones[1].wp, wp + LBAS);
	CHECK_EQ(fzone(1).wp, wp);		/* no store reached the file */
	check_one_zone_write("wp", 1, RWF_MEMALLOC_NOFS);
	check_no_mapping(path);

	/* the next write puts the whole descriptor */
	setup("no_other_path_next");
	CHECK_EQ(zwrite(wp + LBAS, NOFS), TCMU_STS_OK);
	CHECK_EQ(fzone(1).wp, wp + 2 * LBAS);
}

/* Commands that change no zone write no metadata. */
static void test_read_only(void)
{
	char buf[LBAS * 512], rep[64 * (NR_ZONES + 1)];
	uint8_t cdb[16];

	setup("read_only");
	memset(data, 0x5a, sizeof(data));
	CHECK_EQ(zwrite(zdev()->zones[1].wp, NOFS), TCMU_STS_OK);
	setup("read_only");
	CHECK_EQ(zread(zstart(1), buf, NOIO), TCMU_STS_OK);
	cdb16(cdb, ZBC_IN, ZBC_SA_REPORT_ZONES, 0, sizeof(rep));
	CHECK_EQ(run(cdb, rep, sizeof(rep), NOIO), TCMU_STS_OK);
	CHECK_EQ(zflush(NOIO), TCMU_STS_OK);
	CHECK_EQ(meta_writes(NULL, 0), 0);
	CHECK_EQ(fk.n, 1);		/* the data read */
	CHECK_EQ(fk.rec[0].flags, RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO);
	CHECK_EQ(nerr, 0);
}

/* OPEN, CLOSE, FINISH, RESET WP: one zone, and all zones in one write. */
static void test_zone_ops(void)
{
	setup("reset");
	CHECK_EQ(zout(ZBC_SA_RESET_WP, zstart(1), false, NOIO), TCMU_STS_OK);
	check_one_zone_write("reset", 1, RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO);
	CHECK_EQ(fzone(1).wp, zstart(1));
	CHECK_EQ(fzone(1).cond, ZBC_ZONE_COND_EMPTY);

	setup("finish");
	CHECK_EQ(zout(ZBC_SA_FINISH_ZONE, zstart(2), false, NOFS), TCMU_STS_OK);
	check_one_zone_write("finish", 2, RWF_MEMALLOC_NOFS);
	CHECK_EQ(fzone(2).wp, zstart(2) + ZONE_LBAS);
	CHECK_EQ(fzone(2).cond, ZBC_ZONE_COND_FULL);

	setup("open");
	CHECK_EQ(zout(ZBC_SA_OPEN_ZONE, zstart(3), false, 0), TCMU_STS_OK);
	check_one_zone_write("open", 3, 0);
	CHECK_EQ(fzone(3).cond, ZBC_ZONE_COND_EXP_OPEN);

	setup("close");
	CHECK_EQ(zout(ZBC_SA_CLOSE_ZONE, zstart(3), false, NOFS), TCMU_STS_OK);
	check_one_zone_write("close", 3, RWF_MEMALLOC_NOFS);
	CHECK_EQ(fzone(3).cond, ZBC_ZONE_COND_EMPTY);

	/* all sequential zones (1..7) are adjacent: a single write */
	setup("reset_all");
	CHECK_EQ(zout(ZBC_SA_RESET_WP, 0, true, NOIO), TCMU_STS_OK);
	{
		off_t o = zoff(1);
		size_t l = (NR_ZONES - 1) * sizeof(struct zbc_zone);

		check_meta_writes("reset all", 1, &o, &l, RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO);
	}
	CHECK_EQ(fzone(2).wp, zstart(2));
	CHECK_EQ(fzone(2).cond, ZBC_ZONE_COND_EMPTY);
	check_no_mapping(path);
	CHECK_EQ(nerr, 0);
}

/*
 * A WRITE that implicitly closes a zone far away (3 open zones at most):
 * both descriptors, each in its own write, both in the command's scope.
 */
static void test_implicit_close(void)
{
	static const off_t o[2] = {
		sizeof(struct zbc_meta) + 1 * sizeof(struct zbc_zone),
		sizeof(struct zbc_meta) + 6 * sizeof(struct zbc_zone),
	};
	static const size_t l[2] = {
		sizeof(struct zbc_zone), sizeof(struct zbc_zone),
	};

	setup("implicit_close");
	CHECK_EQ(zwrite(zstart(1), 0), TCMU_STS_OK);
	CHECK_EQ(zwrite(zstart(2), 0), TCMU_STS_OK);
	CHECK_EQ(zwrite(zstart(3), 0), TCMU_STS_OK);
	setup("implicit_close");
	CHECK_EQ(zwrite(zstart(6), NOFS), TCMU_STS_OK);
	check_meta_writes("close 1, open 6", 2, o, l, RWF_MEMALLOC_NOFS);
	CHECK_EQ(fzone(1).cond, ZBC_ZONE_COND_CLOSED);
	CHECK_EQ(fzone(6).cond, ZBC_ZONE_COND_IMP_OPEN);
	CHECK_EQ(fzone(6).wp, zstart(6) + LBAS);
}

/*
 * The metadata write fails: the command fails, the zone stays to be
 * written, and SYNCHRONIZE CACHE writes it in its own scope.
 */
static void test_meta_write_fails(void)
{
	setup("meta_write_fails");
	fk.fail_meta = EIO;
	CHECK_EQ(zwrite(zstart(6) + LBAS, NOFS), TCMU_STS_PASSTHROUGH_ERR);
	CHECK_EQ(sense_key, MEDIUM_ERROR);
	CHECK_EQ(sense_asc, ASC_WRITE_ERROR);
	CHECK(strstr(last_err, "metadata") != NULL);
	CHECK_EQ(fzone(6).wp, zstart(6) + LBAS);

	setup("meta_write_fails_flush");
	CHECK_EQ(zflush(NOIO), TCMU_STS_OK);
	check_one_zone_write("flush", 6, RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO);
	CHECK_EQ(fzone(6).wp, zstart(6) + 2 * LBAS);

	setup("meta_write_fails_flush_fails");
	CHECK_EQ(zwrite(zstart(6) + 2 * LBAS, 0), TCMU_STS_OK);
	fk.fail_meta = EIO;
	CHECK_EQ(zout(ZBC_SA_FINISH_ZONE, zstart(6), false, NOFS),
		 TCMU_STS_PASSTHROUGH_ERR);
	CHECK_EQ(zflush(NOFS), TCMU_STS_PASSTHROUGH_ERR);
	CHECK_EQ(sense_key, MEDIUM_ERROR);
	fk.fail_meta = 0;
	CHECK_EQ(zflush(NOFS), TCMU_STS_OK);
	CHECK_EQ(fzone(6).cond, ZBC_ZONE_COND_FULL);
}

/* A kernel without the scope flags: the metadata is written without. */
static void test_fallback(void)
{
	setup("fallback");
	scope_reset(true);
	CHECK_EQ(zout(ZBC_SA_RESET_WP, zstart(6), false, 0), TCMU_STS_OK);
	setup("fallback");
	fk.fail_rwf = EOPNOTSUPP;
	CHECK_EQ(zwrite(zstart(6), NOFS), TCMU_STS_OK);
	CHECK_EQ(fk.n, 3);		/* data tried with, data and wp without */
	CHECK_EQ(fk.rec[0].flags, RWF_MEMALLOC_NOFS);
	CHECK_EQ(fk.rec[1].flags, 0);
	check_one_zone_write("wp", 6, 0);
	CHECK_EQ(fzone(6).wp, zstart(6) + LBAS);
	scope_reset(true);

	/* memalloc_scope = 0: no flags at all */
	setup("scope_off");
	scope_reset(false);
	CHECK_EQ(zwrite(zstart(6) + LBAS, NOIO), TCMU_STS_OK);
	check_one_zone_write("wp", 6, 0);
	scope_reset(true);
}

/* Close and open again: the state is read back, open zones are closed. */
static void test_reopen(void)
{
	char buf[LBAS * 512];
	uint64_t wp6 = zdev()->zones[6].wp;

	setup("reopen");
	zclose();
	CHECK_EQ(zopen("", path), 0);
	if (!zdev()) {
		printf("FAIL [%s]: reopen failed (%s)\n", cur, last_err);
		return;
	}
	check_no_mapping(path);
	CHECK_EQ(zdev()->zones[6].wp, wp6);
	CHECK_EQ(zdev()->zones[6].cond, ZBC_ZONE_COND_CLOSED);
	CHECK_EQ(fzone(6).cond, ZBC_ZONE_COND_CLOSED);
	CHECK_EQ(fzone(2).cond, ZBC_ZONE_COND_CLOSED);
	CHECK_EQ(fzone(1).cond, ZBC_ZONE_COND_CLOSED);

	/* the data written before is there, the state serves commands */
	setup("reopen_io");
	memset(data, 0xa5, sizeof(data));
	CHECK_EQ(zwrite(wp6, NOFS), TCMU_STS_OK);
	check_one_zone_write("wp", 6, RWF_MEMALLOC_NOFS);
	CHECK_EQ(zread(wp6, buf, 0), TCMU_STS_OK);
	CHECK(!memcmp(buf, data, sizeof(buf)));
	CHECK_EQ(zwrite(wp6, NOFS), TCMU_STS_PASSTHROUGH_ERR);	/* not at wp */
	CHECK_EQ(sense_asc, ASC_UNALIGNED_WRITE_COMMAND);
	zclose();
}

/* Host aware: write pointer of a sequential write preferred zone. */
static void test_ha(void)
{
	setup("ha");
	CHECK_EQ(zopen("model-HA/lba-512/zsize-1/conv-1@", path_ha), 0);
	if (!zdev()) {
		printf("FAIL [%s]: open failed (%s)\n", cur, last_err);
		return;
	}
	setup("ha");
	CHECK_EQ(zwrite(zstart(2) + 64, NOIO), TCMU_STS_OK);
	check_one_zone_write("wp", 2, RWF_MEMALLOC_NOFS | RWF_MEMALLOC_NOIO);
	CHECK_EQ(fzone(2).wp, zstart(2) + 64 + LBAS);
	CHECK_EQ(fzone(2).type, ZBC_ZONE_TYPE_SEQWRITE_PREF);
	check_no_mapping(path_ha);
	zclose();
}

int main(void)
{
	char tmpl[] = "/tmp/zbc-test.XXXXXX", dir[PATH_MAX];

	setvbuf(stdout, NULL, _IOLBF, 0);
	scope_reset(true);
	if (!mkdtemp(tmpl) || !realpath(tmpl, dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/zbc.raw", dir);
	snprintf(path_ha, sizeof(path_ha), "%s/zbc-ha.raw", dir);
	dev_size = (uint64_t)NR_ZONES * ZONE_LBAS * 512;

	test_format();
	test_write_wp();
	test_kflags();
	test_no_other_path();
	test_read_only();
	test_zone_ops();
	test_implicit_close();
	test_meta_write_fails();
	test_fallback();
	test_reopen();
	test_ha();

	if (rfd >= 0)
		close(rfd);
	unlink(path);
	unlink(path_ha);
	rmdir(dir);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
