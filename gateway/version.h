/*
 * version.h -- recgate's version, the one its Debian package carries
 * (packaging/debian/changelog; the suite checks that they agree), and the
 * line both programs print for --version, with the libraries they run on.
 */
#ifndef RG_VERSION_H
#define RG_VERSION_H

#define RG_VERSION "0.1.0"

/* "PROGRAM 0.1.0" and the versions of the libraries linked in, on stdout. */
void rg_version_print(const char *program);

#endif
