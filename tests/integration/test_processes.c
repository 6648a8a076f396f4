/*
 * test_processes.c -- recgated as three processes: both children confined
 * (seccomp mode 2, no_new_privs), privileges dropped, a front killed under
 * load restarted without losing an acknowledged exchange, a keeper that
 * dies taking the gateway down, and a keeper that drops a front sending
 * malformed frames without its stored state changing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "gateway/config.h"
#include "gateway/procs.h"
#include "gateway/wire.h"
#include "tests/integration/gw.h"
#include "tests/test.h"

#define HAZARD "/v1/resources/hazard-declaration/records"
#define RECORD                                                                 \
	"{\"employer\": \"甲公司\", \"employer_credit_code\": \"9111\","          \
	" \"hazard_categories\": \"噪声\", \"worker_count\": 10,"                   \
	" \"exposed_worker_count\": 3, \"declaration_type\": \"首次申报\","         \
	" \"declaration_date\": \"2026-02-01\"}"

static int
sandbox_off(void)
{
	const char *sb = getenv("RG_SANDBOX");
	return sb != NULL && strcmp(sb, "off") == 0;
}

/* The children of pid, from /proc. */
static int
children_of(pid_t pid, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	CHECK(d != NULL);
	while ((e = readdir(d)) != NULL && n < max) {
		char path[300], buf[512], *close_paren;
		FILE *f;
		int ppid;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (close_paren = strrchr(buf, ')')) != NULL &&
		    sscanf(close_paren + 2, "%*c %d", &ppid) == 1 && ppid == pid)
			out[n++] = (pid_t)atoi(e->d_name);
		fclose(f);
	}
	closedir(d);
	return n;
}

/* A line of /proc/PID/status, e.g. "Seccomp" -> "2". */
static void
proc_status(pid_t pid, const char *key, char *val, size_t vlen)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	CHECK(f != NULL);
	val[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			char *v = line + klen + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			v[strcspn(v, "\n")] = '\0';
			snprintf(val, vlen, "%s", v);
		}
	fclose(f);
}

TEST(gateway_runs_as_monitor_front_and_keeper_each_confined)
{
	struct rg_gw gw;
	pid_t kids[8];
	char val[64];
	int n;

	if (sandbox_off()) {
		fprintf(stderr, "  (sandbox off in this run: checked in the plain run)\n");
		return;
	}
	rg_gw_start(&gw, NULL);
	n = children_of(gw.pid, kids, 8);
	CHECK_EQ_INT(n, 2);
	for (int i = 0; i < n; i++) {
		proc_status(kids[i], "Seccomp", val, sizeof(val));
		CHECK_EQ_STR(val, "2");
		proc_status(kids[i], "NoNewPrivs", val, sizeof(val));
		CHECK_EQ_STR(val, "1");
	}
	/* The monitor itself holds no key and parses no network byte. */
	proc_status(gw.pid, "Seccomp", val, sizeof(val));
	CHECK_EQ_STR(val, "0");
	rg_gw_stop(&gw);
}

TEST(children_drop_to_the_configured_user)
{
	struct rg_gw gw;
	pid_t kids[8];
	char val[128], cmd[1200];
	json_t *r;
	int n;

	if (geteuid() != 0) {
		fprintf(stderr, "  (not root: nothing to drop)\n");
		return;
	}
	rg_gw_prepare(&gw, "user = nobody\n");
	/* As systemd's StateDirectory= would: the data belong to the user. */
	snprintf(cmd, sizeof(cmd), "chown -R nobody %s && chmod 711 %s", gw.dir,
	         rg_test_tmpdir());
	CHECK(system(cmd) == 0);
	rg_gw_restart(&gw);
	n = children_of(gw.pid, kids, 8);
	CHECK_EQ_INT(n, 2);
	for (int i = 0; i < n; i++) {
		proc_status(kids[i], "Uid", val, sizeof(val));
		CHECKF(strncmp(val, "65534\t65534\t65534\t65534", 23) == 0, "Uid: %s", val);
		proc_status(kids[i], "Gid", val, sizeof(val));
		CHECKF(strncmp(val, "65534", 5) == 0, "Gid: %s", val);
	}
	CHECK_EQ_INT(rg_gw_call(&gw, "health", "POST", HAZARD, NULL, RECORD, NULL, &r), 200);
	json_decref(r);
	rg_gw_stop(&gw);
}

/* ---- a front killed under load ----------------------------------------- */

struct loader {
	struct rg_gw *gw;
	int stop;
	int acked;
	char ids[400][40];
	int failures;
};

static void *
loader_run(void *arg)
{
	struct loader *l = arg;

	while (!__atomic_load_n(&l->stop, __ATOMIC_SEQ_CST) && l->acked < 400) {
		struct rg_client_resp resp;
		char err[256], *raw;
		size_t len;
		json_t *r;

		raw = rg_gw_build(l->gw, "health", "POST", HAZARD, NULL, RECORD, NULL, &len);
		/* A refused connection or a cut answer is what a client sees
		 * while the front restarts: it retries with a new request. */
		if (rg_client_send(l->gw->host, l->gw->port, raw, len, &resp, err,
		                   sizeof(err)) != 0) {
			l->failures++;
			free(raw);
			usleep(20000);
			continue;
		}
		free(raw);
		if (resp.status == 200) {
			r = json_loadb(resp.body, resp.body_len, 0, NULL);
			const char *id = json_string_value(json_object_get(json_array_get(
			    json_object_get(json_object_get(r, "result"), "records"), 0), "id"));
			CHECK(id != NULL);
			snprintf(l->ids[l->acked++], sizeof(l->ids[0]), "%s", id);
			json_decref(r);
		} else {
			l->failures++;
		}
		free(resp.body);
	}
	return NULL;
}

SLOW_TEST(killed_front_is_restarted_and_no_acknowledged_exchange_is_lost, 120)
{
	struct rg_gw gw;
	struct loader l[3];
	pthread_t th[3];
	pid_t kids[8], front = 0;
	char val[64];
	int n, total = 0;

	rg_gw_start(&gw, NULL);
	memset(l, 0, sizeof(l));
	for (int i = 0; i < 3; i++) {
		l[i].gw = &gw;
		CHECK(pthread_create(&th[i], NULL, loader_run, &l[i]) == 0);
	}
	usleep(300000);
	/* The front is the child without the keys: the one not holding
	 * the database open. Tell them apart by their open files. */
	n = children_of(gw.pid, kids, 8);
	CHECK_EQ_INT(n, 2);
	for (int i = 0; i < n; i++) {
		char path[64], target[512];
		DIR *d;
		struct dirent *e;
		int has_db = 0;

		snprintf(path, sizeof(path), "/proc/%d/fd", (int)kids[i]);
		d = opendir(path);
		CHECK(d != NULL);
		while ((e = readdir(d)) != NULL) {
			char fdp[400];
			ssize_t k;

			snprintf(fdp, sizeof(fdp), "%s/%s", path, e->d_name);
			k = readlink(fdp, target, sizeof(target) - 1);
			if (k > 0) {
				target[k] = '\0';
				if (strstr(target, "recgate.db") != NULL)
					has_db = 1;
			}
		}
		closedir(d);
		if (!has_db)
			front = kids[i];
	}
	CHECK(front > 0);
	CHECK(kill(front, SIGKILL) == 0);
	usleep(700000);
	for (int i = 0; i < 3; i++)
		__atomic_store_n(&l[i].stop, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		total += l[i].acked;
	}
	/* A new front answers. */
	n = children_of(gw.pid, kids, 8);
	CHECK_EQ_INT(n, 2);
	CHECK(kids[0] != front && kids[1] != front);
	proc_status(kids[0], "State", val, sizeof(val));
	CHECK(total > 0);
	/* Every acknowledged record is there, readable by its owner. */
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < l[i].acked; k++) {
			char path[256];
			json_t *r;

			snprintf(path, sizeof(path), "%s/%s", HAZARD, l[i].ids[k]);
			CHECKF(rg_gw_call(&gw, "health", "GET", path, NULL, NULL, NULL,
			                  &r) == 200, "acknowledged record %s lost",
			       l[i].ids[k]);
			json_decref(r);
		}
	/* And the log, exported by an officer, verifies offline. */
	{
		char cmd[2048], exp[600];

		snprintf(exp, sizeof(exp), "%s/export", rg_test_tmpdir());
		snprintf(cmd, sizeof(cmd), "%s/recgatectl audit export '%s' --url %s "
		         "--key %s/clients/officer.key > /dev/null", rg_test_build(),
		         exp, gw.url, gw.dir);
		CHECK(system(cmd) == 0);
		snprintf(cmd, sizeof(cmd), "%s/recgatectl audit verify '%s' > /dev/null",
		         rg_test_build(), exp);
		CHECKF(system(cmd) == 0, "the log does not verify after the front died");
	}
	rg_gw_stop(&gw);
}

TEST(keeper_death_stops_the_whole_gateway)
{
	struct rg_gw gw;
	pid_t kids[8];
	int n, status;

	rg_gw_start(&gw, NULL);
	n = children_of(gw.pid, kids, 8);
	CHECK_EQ_INT(n, 2);
	/* Kill both candidates' keeper: the one with the database open is
	 * the keeper, but killing either child's sibling works the same:
	 * find the keeper by its lower pid (it is started first). */
	CHECK(kill(kids[0] < kids[1] ? kids[0] : kids[1], SIGKILL) == 0);
	CHECK(waitpid(gw.pid, &status, 0) == gw.pid);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status 0x%x", status);
	CHECK_EQ_INT(children_of(gw.pid, kids, 8), 0);
}

/* ---- the keeper against a hostile front -------------------------------- */

static void
send_fd(int sock, int fd)
{
	char byte = 'F', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&byte, 1};
	struct msghdr msg = {0};
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	CHECK(sendmsg(sock, &msg, 0) == 1);
}

/* Read until EOF or timeout; returns bytes read, -1 on timeout. */
static ssize_t
read_until_eof(int fd, uint8_t *buf, size_t cap, int timeout_ms)
{
	size_t got = 0;

	for (int waited = 0; waited < timeout_ms; waited += 10) {
		ssize_t r = recv(fd, buf + got, cap - got, MSG_DONTWAIT);
		if (r == 0)
			return (ssize_t)got;
		if (r > 0) {
			got += (size_t)r;
			if (got == cap)
				return (ssize_t)got;
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return (ssize_t)got;
		usleep(10000);
	}
	return -1;
}

SLOW_TEST(keeper_drops_a_front_sending_malformed_frames_and_keeps_its_state, 120)
{
	struct rg_gw gw;
	struct rg_config cfg;
	struct rg_identity id = {0};
	struct rg_request req = {0};
	struct rg_header hosth = {"host", "x"};
	uint8_t buf[65536], *frame;
	char err[512], ready;
	int ctl[2], status;
	long long before;
	size_t len;
	uint64_t seed = 12345;
	pid_t keeper;

	/* A demo directory and its audit size, from a real gateway. */
	rg_gw_start(&gw, NULL);
	before = rg_gw_audit_size(&gw);
	rg_gw_stop(&gw);
	rg_config_defaults(&cfg);
	CHECKF(rg_config_load(gw.conf, &cfg, err, sizeof(err)) == 0, "%s", err);

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ctl) == 0);
	keeper = fork();
	CHECK(keeper >= 0);
	if (keeper == 0) {
		close(ctl[0]);
		_exit(rg_keeper_main(&cfg, &id, ctl[1]));
	}
	close(ctl[1]);
	CHECK(read(ctl[0], &ready, 1) == 1 && ready == RG_KEEPER_READY);

	for (int round = 0; round < 40; round++) {
		int ch[2];
		size_t n = 16 + (size_t)(seed % 512);

		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, ch) == 0);
		send_fd(ctl[0], ch[1]);
		close(ch[1]);
		/* Random bytes behind a plausible length, or a well-formed
		 * header with a broken body, or a response where a request
		 * belongs. */
		for (size_t i = 0; i < n; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			buf[i] = (uint8_t)(seed >> 33);
		}
		if (round % 3 == 0) {
			buf[0] = 0;
			buf[1] = 0;
			buf[2] = (uint8_t)((n - 4) >> 8);
			buf[3] = (uint8_t)(n - 4);
		} else if (round % 3 == 1) {
			buf[0] = 0;
			buf[1] = 0;
			buf[2] = (uint8_t)((n - 4) >> 8);
			buf[3] = (uint8_t)(n - 4);
			buf[4] = RG_WIRE_REQUEST;
		} else {
			struct rg_response resp = {200, "{}", 2};
			uint8_t *f = rg_wire_encode_response(1, &resp, &len);
			CHECK(f != NULL);
			memcpy(buf, f, len);
			n = len;
			free(f);
		}
		CHECK(write(ch[0], buf, n) == (ssize_t)n);
		/* The keeper hangs up on this front. */
		CHECKF(read_until_eof(ch[0], buf, sizeof(buf), 5000) == 0,
		       "round %d: the keeper kept a hostile front", round);
		close(ch[0]);
		CHECK(waitpid(keeper, &status, WNOHANG) == 0); /* still alive */
	}
	/* A well-behaved front still gets answers. */
	{
		int ch[2];
		uint64_t rid;
		struct rg_response resp;
		ssize_t got;

		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, ch) == 0);
		send_fd(ctl[0], ch[1]);
		close(ch[1]);
		snprintf(req.method, sizeof(req.method), "GET");
		req.target = "/healthz";
		req.headers = &hosth;
		req.nheaders = 1;
		snprintf(req.peer, sizeof(req.peer), "127.0.0.1:1");
		frame = rg_wire_encode_request(77, &req, &len);
		CHECK(frame != NULL);
		CHECK(write(ch[0], frame, len) == (ssize_t)len);
		free(frame);
		shutdown(ch[0], SHUT_WR);
		got = read_until_eof(ch[0], buf, sizeof(buf), 5000);
		CHECK(got > 0);
		CHECK(rg_wire_decode_response(buf, (size_t)got, &rid, &resp) == 0);
		CHECK_EQ_INT(rid, 77);
		CHECK_EQ_INT(resp.status, 200);
		{
			json_t *h = json_loads(resp.body, 0, NULL);
			CHECK(h != NULL);
			/* Nothing any hostile frame carried was stored or logged. */
			CHECK_EQ_INT(json_integer_value(json_object_get(h, "audit_size")),
			             before);
			json_decref(h);
		}
		rg_response_clear(&resp);
		close(ch[0]);
	}
	CHECK(kill(keeper, SIGTERM) == 0);
	CHECK(waitpid(keeper, &status, 0) == keeper);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
	close(ctl[0]);
}
