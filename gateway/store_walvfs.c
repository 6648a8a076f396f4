/*
 * store_walvfs.c -- the store's files opened through a VFS stacked on the
 * platform's, which hands the write-ahead log's frames to the kernel a
 * commit at a time.
 *
 * SQLite writes each frame of the log as two write()s, its 24-byte header
 * and then its page, and a commit of the keeper's is 15 to 60 frames: one
 * pwrite() each for the tails of the tables every commit rewrites and for
 * each new page. On this machine two pwrite()s a frame cost 2.5 us and
 * one write of a commit's frames end to end 0.4 us a frame
 * (tests/bench/results/profile.md, round 11), on the keeper's thread, the
 * one every exchange passes through.
 *
 * So the log's writes are gathered while they follow one another in the
 * file, and go out in one write as soon as the page of a commit frame
 * (whose header names the database's size after the commit) is written:
 * before SQLite publishes the commit in the shared index, so that another
 * connection (the checkpointer, a reader) never sees a frame the file
 * does not hold yet. They also go out before any other call on the file
 * (read, sync, truncate, size, lock, close), before a write elsewhere in
 * it, and when the gathered bytes would pass RG_WALVFS_GATHER; an error
 * of that write is the error of the write SQLite made then, exactly as if
 * it had failed itself, and the transaction fails. Every other file, and
 * everything but writes, passes straight to the platform's VFS. Nothing
 * durable changes: the log is synced by whoever synced it before
 * (store.c), after its commit's write has returned.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "gateway/store.h"
#include "gateway/store_int.h"

#define RG_WALVFS_NAME "recgate-wal"
/* The most a log's file gathers before writing: a large commit goes out
 * in writes of up to this size. Under 128 KiB, because the platform's
 * VFS writes at most 17 bits' worth of bytes a call (SQLite's
 * seekAndWrite masks the length) and takes a shorter write for a full
 * disk. */
#define RG_WALVFS_GATHER (124u * 1024)
/* SQLite's WAL frame header (https://sqlite.org/fileformat2.html#walformat):
 * the page number, then the database's size in pages after a commit,
 * nonzero only in a commit's last frame. */
#define RG_WAL_FRAME_HDR 24

struct rg_wfile {
	sqlite3_file base;      /* pMethods: ours, or NULL when open failed */
	sqlite3_file *real;     /* the platform's file, stored after this */
	int wal;                /* a write-ahead log: writes are gathered */
	int commit_hdr;         /* the last frame header gathered was a commit's */
	sqlite3_int64 start;    /* the file offset of buf[0] */
	size_t len;
	unsigned char *buf;     /* RG_WALVFS_GATHER bytes, or NULL */
};

static sqlite3_vfs rg_walvfs;
static sqlite3_vfs *rg_walvfs_real;
static pthread_once_t rg_walvfs_once = PTHREAD_ONCE_INIT;
static int rg_walvfs_ok;
static unsigned long long rg_walvfs_frames, rg_walvfs_writes;

#define RG_WFILE_REAL_OFFSET \
	((sizeof(struct rg_wfile) + 15) & ~(size_t)15)

/* Write what is gathered, in one write. */
static int
rg_wfile_flush(struct rg_wfile *f)
{
	int rc;

	if (f->len == 0)
		return SQLITE_OK;
	rc = f->real->pMethods->xWrite(f->real, f->buf, (int)f->len, f->start);
	f->len = 0;
	f->commit_hdr = 0;
	if (rc == SQLITE_OK)
		__atomic_add_fetch(&rg_walvfs_writes, 1, __ATOMIC_RELAXED);
	return rc;
}

/* 1 when n is a page size SQLite allows: a power of two, 512 to 65536. */
static int
rg_walvfs_page_size(size_t n)
{
	return n >= 512 && n <= 65536 && (n & (n - 1)) == 0;
}

static uint32_t
rg_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int
rg_wfile_write(sqlite3_file *file, const void *data, int amt,
               sqlite3_int64 off)
{
	struct rg_wfile *f = (struct rg_wfile *)file;
	size_t n = (size_t)amt;
	int rc, commit = 0;

	if (!f->wal || amt <= 0)
		return f->real->pMethods->xWrite(f->real, data, amt, off);
	if (f->len > 0 && (off != f->start + (sqlite3_int64)f->len ||
	                   f->len + n > RG_WALVFS_GATHER)) {
		if ((rc = rg_wfile_flush(f)) != SQLITE_OK)
			return rc;
	}
	if (n > RG_WALVFS_GATHER)
		return f->real->pMethods->xWrite(f->real, data, amt, off);
	/* The buffer is taken at the first write and kept: a run never
	 * outgrows it. Without memory, what is gathered (nothing, then) and
	 * this write go as SQLite wrote them. */
	if (f->buf == NULL && (f->buf = malloc(RG_WALVFS_GATHER)) == NULL)
		return f->real->pMethods->xWrite(f->real, data, amt, off);
	if (f->len == 0)
		f->start = off;
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	/* A frame header alone, or a header and its page in one write, as a
	 * later SQLite might make it; else a page, or the log's header. */
	if (n == RG_WAL_FRAME_HDR) {
		f->commit_hdr = rg_be32((const unsigned char *)data + 4) != 0;
		__atomic_add_fetch(&rg_walvfs_frames, 1, __ATOMIC_RELAXED);
	} else if (n > RG_WAL_FRAME_HDR &&
	           rg_walvfs_page_size(n - RG_WAL_FRAME_HDR)) {
		commit = rg_be32((const unsigned char *)data + 4) != 0;
		__atomic_add_fetch(&rg_walvfs_frames, 1, __ATOMIC_RELAXED);
	} else if (f->commit_hdr)
		commit = 1;
	return commit ? rg_wfile_flush(f) : SQLITE_OK;
}

static int
rg_wfile_close(sqlite3_file *file)
{
	struct rg_wfile *f = (struct rg_wfile *)file;
	int rc = rg_wfile_flush(f), rc2;

	rc2 = f->real->pMethods->xClose(f->real);
	free(f->buf);
	f->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

/* Every other method: what is gathered first, then the platform's. */
#define RG_WFILE_FLUSHED(f)                                                  \
	do {                                                                 \
		int rc_ = rg_wfile_flush(f);                                 \
		if (rc_ != SQLITE_OK)                                        \
			return rc_;                                          \
	} while (0)

static int
rg_wfile_read(sqlite3_file *file, void *data, int amt, sqlite3_int64 off)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	RG_WFILE_FLUSHED(f);
	return f->real->pMethods->xRead(f->real, data, amt, off);
}

static int
rg_wfile_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	RG_WFILE_FLUSHED(f);
	return f->real->pMethods->xTruncate(f->real, size);
}

static int
rg_wfile_sync(sqlite3_file *file, int flags)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	RG_WFILE_FLUSHED(f);
	return f->real->pMethods->xSync(f->real, flags);
}

static int
rg_wfile_size(sqlite3_file *file, sqlite3_int64 *size)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	RG_WFILE_FLUSHED(f);
	return f->real->pMethods->xFileSize(f->real, size);
}

static int
rg_wfile_lock(sqlite3_file *file, int level)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	RG_WFILE_FLUSHED(f);
	return f->real->pMethods->xLock(f->real, level);
}

static int
rg_wfile_unlock(sqlite3_file *file, int level)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	RG_WFILE_FLUSHED(f);
	return f->real->pMethods->xUnlock(f->real, level);
}

static int
rg_wfile_reserved(sqlite3_file *file, int *out)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	RG_WFILE_FLUSHED(f);
	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int
rg_wfile_control(sqlite3_file *file, int op, void *arg)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	RG_WFILE_FLUSHED(f);
	return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int
rg_wfile_sector(sqlite3_file *file)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	return f->real->pMethods->xSectorSize(f->real);
}

static int
rg_wfile_caps(sqlite3_file *file)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int
rg_wfile_shm_map(sqlite3_file *file, int pg, int pgsz, int extend,
                 void volatile **p)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	RG_WFILE_FLUSHED(f);
	return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, p);
}

static int
rg_wfile_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	RG_WFILE_FLUSHED(f);
	return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void
rg_wfile_shm_barrier(sqlite3_file *file)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	/* Never reached with frames gathered (SQLite's own log file has
	 * no shared memory); the platform's barrier as it is. */
	f->real->pMethods->xShmBarrier(f->real);
}

static int
rg_wfile_shm_unmap(sqlite3_file *file, int del)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	RG_WFILE_FLUSHED(f);
	return f->real->pMethods->xShmUnmap(f->real, del);
}

static int
rg_wfile_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **p)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	RG_WFILE_FLUSHED(f);
	return f->real->pMethods->xFetch(f->real, off, amt, p);
}

static int
rg_wfile_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
	struct rg_wfile *f = (struct rg_wfile *)file;

	return f->real->pMethods->xUnfetch(f->real, off, p);
}

static sqlite3_io_methods rg_wfile_methods[4];

static const sqlite3_io_methods rg_wfile_methods_v3 = {
	3,
	rg_wfile_close,
	rg_wfile_read,
	rg_wfile_write,
	rg_wfile_truncate,
	rg_wfile_sync,
	rg_wfile_size,
	rg_wfile_lock,
	rg_wfile_unlock,
	rg_wfile_reserved,
	rg_wfile_control,
	rg_wfile_sector,
	rg_wfile_caps,
	rg_wfile_shm_map,
	rg_wfile_shm_lock,
	rg_wfile_shm_barrier,
	rg_wfile_shm_unmap,
	rg_wfile_fetch,
	rg_wfile_unfetch,
};

static int
rg_walvfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file,
               int flags, int *out_flags)
{
	struct rg_wfile *f = (struct rg_wfile *)file;
	int rc;

	(void)vfs;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)((char *)f + RG_WFILE_REAL_OFFSET);
	rc = rg_walvfs_real->xOpen(rg_walvfs_real, name, f->real, flags,
	                           out_flags);
	if (rc != SQLITE_OK) {
		/* SQLite calls no method of a file that failed to open. */
		if (f->real->pMethods != NULL)
			f->real->pMethods->xClose(f->real);
		f->base.pMethods = NULL;
		return rc;
	}
	f->wal = (flags & SQLITE_OPEN_WAL) != 0;
	/* The platform file's interface version is kept: SQLite then calls
	 * none of the methods it lacks. */
	f->base.pMethods = &rg_wfile_methods[f->real->pMethods->iVersion < 3 ?
	                                     f->real->pMethods->iVersion : 3];
	return SQLITE_OK;
}

/* The rest of the VFS is the platform's, called with its own object. */
static int
rg_walvfs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	return rg_walvfs_real->xDelete(rg_walvfs_real, name, sync_dir);
}

static int
rg_walvfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return rg_walvfs_real->xAccess(rg_walvfs_real, name, flags, out);
}

static int
rg_walvfs_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return rg_walvfs_real->xFullPathname(rg_walvfs_real, name, n, out);
}

static void *
rg_walvfs_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return rg_walvfs_real->xDlOpen(rg_walvfs_real, name);
}

static void
rg_walvfs_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	rg_walvfs_real->xDlError(rg_walvfs_real, n, msg);
}

static void (*rg_walvfs_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return rg_walvfs_real->xDlSym(rg_walvfs_real, h, sym);
}

static void
rg_walvfs_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	rg_walvfs_real->xDlClose(rg_walvfs_real, h);
}

static int
rg_walvfs_random(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return rg_walvfs_real->xRandomness(rg_walvfs_real, n, out);
}

static int
rg_walvfs_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return rg_walvfs_real->xSleep(rg_walvfs_real, us);
}

static int
rg_walvfs_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return rg_walvfs_real->xCurrentTime(rg_walvfs_real, out);
}

static int
rg_walvfs_lasterr(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return rg_walvfs_real->xGetLastError(rg_walvfs_real, n, out);
}

static int
rg_walvfs_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return rg_walvfs_real->xCurrentTimeInt64(rg_walvfs_real, out);
}

static void
rg_walvfs_register(void)
{
	sqlite3_vfs *real = sqlite3_vfs_find(NULL);

	/* Version 2 at least (xCurrentTimeInt64): every SQLite recgate
	 * builds with has it. The system-call hooks are left out: they are
	 * for tests of SQLite itself. */
	if (real == NULL || real->iVersion < 2 || real->szOsFile <= 0)
		return;
	rg_walvfs_real = real;
	for (int v = 0; v <= 3; v++) {
		rg_wfile_methods[v] = rg_wfile_methods_v3;
		rg_wfile_methods[v].iVersion = v;
	}
	rg_walvfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)(RG_WFILE_REAL_OFFSET + (size_t)real->szOsFile),
		.mxPathname = real->mxPathname,
		.zName = RG_WALVFS_NAME,
		.xOpen = rg_walvfs_open,
		.xDelete = rg_walvfs_delete,
		.xAccess = rg_walvfs_access,
		.xFullPathname = rg_walvfs_fullpath,
		.xDlOpen = rg_walvfs_dlopen,
		.xDlError = rg_walvfs_dlerror,
		.xDlSym = rg_walvfs_dlsym,
		.xDlClose = rg_walvfs_dlclose,
		.xRandomness = rg_walvfs_random,
		.xSleep = rg_walvfs_sleep,
		.xCurrentTime = rg_walvfs_time,
		.xGetLastError = rg_walvfs_lasterr,
		.xCurrentTimeInt64 = rg_walvfs_time64,
	};
	rg_walvfs_ok = sqlite3_vfs_register(&rg_walvfs, 0) == SQLITE_OK;
}

const char *
rg_walvfs_name(void)
{
	(void)pthread_once(&rg_walvfs_once, rg_walvfs_register);
	return rg_walvfs_ok ? RG_WALVFS_NAME : NULL;
}

void
rg_walvfs_counts(unsigned long long *frames, unsigned long long *writes)
{
	*frames = __atomic_load_n(&rg_walvfs_frames, __ATOMIC_RELAXED);
	*writes = __atomic_load_n(&rg_walvfs_writes, __ATOMIC_RELAXED);
}
