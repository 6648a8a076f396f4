/*
 * client.h -- the department side: load a client key file, sign a request
 * (RFC 9421), send it over a plain TCP connection and read the response.
 * Used by `recgatectl client` and by the integration tests. Blocking and
 * simple on purpose: one request per connection.
 */
#ifndef RG_CLIENT_H
#define RG_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/sig.h"

struct rg_client_key {
	char department[64];
	char keyid[128];
	rg_sigkey *key; /* owned; rg_client_key_clear frees */
};

/* Read DIR/clients/<dept>.key ({"department","keyid","seed"}). */
int rg_client_key_load(const char *path, struct rg_client_key *out, char *err,
                       size_t errlen);
void rg_client_key_clear(struct rg_client_key *k);
/* A fresh key pair for dept, key id "<name>-<8 hex of SHA-256 of the
 * public key>". 0, or -1 (out of memory, names too long). */
int rg_client_key_new(const char *dept, const char *name,
                      struct rg_client_key *out);
/* Write k as a key file at path, created exclusively, mode 0600, synced
 * (removed again when a write fails). 0, or -1 with err. */
int rg_client_key_save(const struct rg_client_key *k, const char *path,
                       char *err, size_t errlen);

/* Knobs; all-zero means a normal, well-formed request. */
struct rg_client_opts {
	const char *purpose;  /* recgate-purpose header, covered */
	int64_t created;      /* 0 = now */
	int64_t expires;      /* 0 = none */
	const char *nonce;    /* NULL = 16 random bytes, hex */
	const char *alg;      /* NULL = "ed25519" */
};

/*
 * Build the bytes of a signed request (key NULL = unsigned). query NULL or
 * "" means none. Returns malloc'd bytes (caller frees), *len set, or NULL.
 */
char *rg_client_build(const char *authority, const struct rg_client_key *key,
                      const char *method, const char *path, const char *query,
                      const uint8_t *body, size_t bodylen,
                      const struct rg_client_opts *opts, size_t *len);

struct rg_client_resp {
	int status;
	char *body; /* malloc'd, NUL-terminated; caller frees */
	size_t body_len;
};

/* Send raw bytes to host:port and read one response (the connection is
 * closed by the request's "Connection: close"). 0, or -1 with err. */
int rg_client_send(const char *host, int port, const char *raw, size_t len,
                   struct rg_client_resp *out, char *err, size_t errlen);

/* "http://HOST:PORT" -> host, port. 0 or -1. */
int rg_client_parse_url(const char *url, char *host, size_t hostlen, int *port);

#endif
