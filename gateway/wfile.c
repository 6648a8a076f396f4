/*
 * wfile.c -- files written once and whole (wfile.h). It owns nothing past
 * the call: the descriptor is closed on every path.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gateway/wfile.h"

int
rg_wfile_new(const char *path, const void *bytes, size_t len, mode_t mode,
             char *err, size_t errlen)
{
	const unsigned char *p = bytes;
	size_t off = 0;
	int fd, why = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	          mode);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (off < len && why == 0) {
		ssize_t w = write(fd, p + off, len - off);

		if (w > 0)
			off += (size_t)w;
		else if (w == 0)
			why = EIO;
		else if (errno != EINTR)
			why = errno;
	}
	if (why == 0 && fsync(fd) != 0)
		why = errno;
	if (close(fd) != 0 && why == 0)
		why = errno;
	if (why == 0)
		return 0;
	(void)unlink(path);
	snprintf(err, errlen, "%s: %s", path, strerror(why));
	return -1;
}

int
rg_wfile_sync_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd, rc;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	if (close(fd) != 0)
		rc = -1;
	return rc;
}
