/*
 * config.c -- reads recgate.conf into struct rg_config. Every value is
 * range-checked; an unknown name or a bad value is refused with its line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/config.h"

void
rg_config_defaults(struct rg_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->listen_host, sizeof(cfg->listen_host), "127.0.0.1");
	cfg->listen_port = 8443;
	cfg->passphrase_fd = -1;
	cfg->max_body = 1024 * 1024;
	cfg->max_header = 16 * 1024;
	cfg->idle_timeout_ms = 60000;
	cfg->request_timeout_ms = 30000;
	cfg->max_connections = 1024;
	cfg->clock_skew_s = 300;
	cfg->auth_log_per_minute = 60;
	cfg->sandbox = 1;
	cfg->auth_audit_per_minute = 600;
	cfg->checkpoint_every_entries = 1000;
	cfg->checkpoint_every_ms = 10000;
	cfg->grant_reply_days = 5;
}

int
rg_config_parse_listen(const char *text, char *host, size_t hostlen, int *port)
{
	const char *colon, *h = text;
	size_t hlen;
	char *end;
	long p;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		h = text + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL)
			return -1;
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= hostlen)
		return -1;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || p < 0 || p > 65535)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (int)p;
	return 0;
}

/* Resolve value against dir unless it is absolute. */
static int
rg_config_path(char *out, size_t outlen, const char *dir, const char *value)
{
	int n;

	if (value[0] == '/')
		n = snprintf(out, outlen, "%s", value);
	else
		n = snprintf(out, outlen, "%s/%s", dir, value);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int
rg_config_number(const char *value, unsigned long long min,
                 unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (value[0] < '0' || value[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static char *
rg_config_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	                 e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Apply one setting; returns NULL or a message. */
static const char *
rg_config_set(struct rg_config *cfg, const char *dir, const char *name,
              const char *value)
{
	unsigned long long n;

	if (strcmp(name, "data_dir") == 0)
		return rg_config_path(cfg->data_dir, sizeof(cfg->data_dir), dir,
		                      value) ? "path too long" : NULL;
	if (strcmp(name, "database") == 0)
		return rg_config_path(cfg->database, sizeof(cfg->database), dir,
		                      value) ? "path too long" : NULL;
	if (strcmp(name, "keystore") == 0)
		return rg_config_path(cfg->keystore, sizeof(cfg->keystore), dir,
		                      value) ? "path too long" : NULL;
	if (strcmp(name, "master_key_file") == 0)
		return rg_config_path(cfg->master_key_file,
		                      sizeof(cfg->master_key_file), dir, value)
		    ? "path too long" : NULL;
	if (strcmp(name, "passphrase_fd") == 0) {
		/* A descriptor the service manager opened for us, never the
		 * passphrase itself: config files end up in backups. */
		if (rg_config_number(value, 0, 1023, &n))
			return "expected a file descriptor between 0 and 1023";
		cfg->passphrase_fd = (int)n;
		return NULL;
	}
	if (strcmp(name, "listen") == 0)
		return rg_config_parse_listen(value, cfg->listen_host,
		                              sizeof(cfg->listen_host),
		                              &cfg->listen_port)
		    ? "expected HOST:PORT" : NULL;
	if (strcmp(name, "max_body") == 0) {
		if (rg_config_number(value, 1024, 64ULL << 20, &n))
			return "expected bytes between 1024 and 67108864";
		cfg->max_body = (size_t)n;
		return NULL;
	}
	if (strcmp(name, "max_header") == 0) {
		if (rg_config_number(value, 1024, 1024 * 1024, &n))
			return "expected bytes between 1024 and 1048576";
		cfg->max_header = (size_t)n;
		return NULL;
	}
	if (strcmp(name, "idle_timeout_ms") == 0) {
		if (rg_config_number(value, 10, 3600000, &n))
			return "expected milliseconds between 10 and 3600000";
		cfg->idle_timeout_ms = (unsigned)n;
		return NULL;
	}
	if (strcmp(name, "request_timeout_ms") == 0) {
		if (rg_config_number(value, 10, 3600000, &n))
			return "expected milliseconds between 10 and 3600000";
		cfg->request_timeout_ms = (unsigned)n;
		return NULL;
	}
	if (strcmp(name, "max_connections") == 0) {
		if (rg_config_number(value, 1, 1000000, &n))
			return "expected a count between 1 and 1000000";
		cfg->max_connections = (size_t)n;
		return NULL;
	}
	if (strcmp(name, "clock_skew_s") == 0) {
		if (rg_config_number(value, 1, 3600, &n))
			return "expected seconds between 1 and 3600";
		cfg->clock_skew_s = (unsigned)n;
		return NULL;
	}
	if (strcmp(name, "auth_log_per_minute") == 0) {
		if (rg_config_number(value, 0, 100000, &n))
			return "expected a count between 0 and 100000";
		cfg->auth_log_per_minute = (unsigned)n;
		return NULL;
	}
	if (strcmp(name, "auth_audit_per_minute") == 0) {
		if (rg_config_number(value, 0, 1000000, &n))
			return "expected a count between 0 and 1000000";
		cfg->auth_audit_per_minute = (unsigned)n;
		return NULL;
	}
	if (strcmp(name, "checkpoint_every_entries") == 0) {
		if (rg_config_number(value, 1, 100000000, &n))
			return "expected a count between 1 and 100000000";
		cfg->checkpoint_every_entries = (unsigned)n;
		return NULL;
	}
	if (strcmp(name, "checkpoint_every_ms") == 0) {
		if (rg_config_number(value, 10, 86400000, &n))
			return "expected milliseconds between 10 and 86400000";
		cfg->checkpoint_every_ms = (unsigned)n;
		return NULL;
	}
	if (strcmp(name, "grant_reply_days") == 0) {
		if (rg_config_number(value, 0, 60, &n))
			return "expected working days between 0 and 60";
		cfg->grant_reply_days = (unsigned)n;
		return NULL;
	}
	if (strcmp(name, "clock_offset_ms") == 0) {
		int neg = value[0] == '-';

		/* About ten years either way is all a drill needs. */
		if (rg_config_number(value + neg, 0, 315360000000ULL, &n))
			return "expected milliseconds within ten years";
		cfg->clock_offset_ms = neg ? -(long long)n : (long long)n;
		return NULL;
	}
	if (strcmp(name, "crash_at") == 0) {
		int len = snprintf(cfg->crash_at, sizeof(cfg->crash_at), "%s",
		                   value);
		return len <= 0 || (size_t)len >= sizeof(cfg->crash_at)
		    ? "expected a crash point name" : NULL;
	}
	if (strcmp(name, "sandbox") == 0) {
		if (strcmp(value, "on") == 0)
			cfg->sandbox = 1;
		else if (strcmp(value, "off") == 0)
			cfg->sandbox = 0;
		else
			return "expected on or off";
		return NULL;
	}
	if (strcmp(name, "user") == 0) {
		int len = snprintf(cfg->user, sizeof(cfg->user), "%s", value);
		return len <= 0 || (size_t)len >= sizeof(cfg->user)
		    ? "expected a user name" : NULL;
	}
	return "unknown setting";
}

int
rg_config_load(const char *path, struct rg_config *cfg, char *err,
               size_t errlen)
{
	char dir[PATH_MAX], line[2 * PATH_MAX];
	const char *slash;
	FILE *f;
	int lineno = 0, rc = 0;

	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)(slash - path) >= sizeof(dir)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	} else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);

	f = fopen(path, "re");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s, *eq, *name, *value;
		const char *msg;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			rc = -1;
			break;
		}
		s = rg_config_trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "%s:%d: expected name = value", path,
			         lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		name = rg_config_trim(s);
		value = rg_config_trim(eq + 1);
		if ((msg = rg_config_set(cfg, dir, name, value)) != NULL) {
			snprintf(err, errlen, "%s:%d: %s: %s", path, lineno, name,
			         msg);
			rc = -1;
			break;
		}
	}
	fclose(f);
	if (rc != 0)
		return rc;
	if (cfg->data_dir[0] == '\0' &&
	    rg_config_path(cfg->data_dir, sizeof(cfg->data_dir), dir, ".") != 0)
		goto toolong;
	if (cfg->database[0] == '\0' &&
	    rg_config_path(cfg->database, sizeof(cfg->database), cfg->data_dir,
	                   "recgate.db") != 0)
		goto toolong;
	if (cfg->keystore[0] == '\0' &&
	    rg_config_path(cfg->keystore, sizeof(cfg->keystore), cfg->data_dir,
	                   "keystore") != 0)
		goto toolong;
	if ((cfg->master_key_file[0] == '\0') == (cfg->passphrase_fd < 0)) {
		snprintf(err, errlen, "%s: set exactly one of master_key_file "
		         "and passphrase_fd", path);
		return -1;
	}
	return 0;
toolong:
	snprintf(err, errlen, "%s: path too long", path);
	return -1;
}
