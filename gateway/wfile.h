/*
 * wfile.h -- files written once and whole: created exclusively (an
 * existing file is never replaced), with their mode, every byte written,
 * synced before success is reported, and removed again when any of that
 * fails. Key files, configs, backups; and the directory entries that make
 * such changes durable.
 */
#ifndef RG_WFILE_H
#define RG_WFILE_H

#include <stddef.h>
#include <sys/types.h>

/* 0, or -1 with err ("path: reason") and no file left at path. */
int rg_wfile_new(const char *path, const void *bytes, size_t len, mode_t mode,
                 char *err, size_t errlen);
/* fsync the directory holding path, so that a file made, renamed, linked
 * or removed there stays so. 0, or -1 with errno. */
int rg_wfile_sync_dir(const char *path);

#endif
