/*
 * recgated.c -- the monitor. It binds the listening socket, starts the
 * keeper (keys, database) and the front (HTTP), hands the keeper each
 * front's channel, restarts a front that dies and stops everything when
 * the keeper dies or a signal says so. It never holds a key or parses a
 * byte from the network.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "gateway/version.h"
#include "gateway/config.h"
#include "gateway/procs.h"

#define RG_FRONT_RESTARTS 20     /* at most this many ... */
#define RG_FRONT_WINDOW_S 60     /* ... within this many seconds */
#define RG_KEEPER_START_S 120    /* keystore unlock and database open */
#define RG_STOP_GRACE_S 30

struct rg_monitor {
	struct rg_config cfg;
	struct rg_identity id;
	int listen_fd;
	int control_fd;          /* monitor's end of the keeper's control */
	pid_t keeper, front;
	time_t restarts[RG_FRONT_RESTARTS];
	unsigned nrestarts;
};

static void
usage(void)
{
	fprintf(stderr, "usage: recgated -c CONFIG [--listen HOST:PORT]\n"
	                "       recgated --version\n");
	exit(2);
}

/* Bind and listen; writes the bound "host:port". */
static int
rg_monitor_listen(const char *host, int port, char *bound, size_t boundlen)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	char addr[INET6_ADDRSTRLEN];
	int fd, one = 1, family;

	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host,
	                     &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "recgated: listen: %s is not an IP address\n", host);
		return -1;
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 511) != 0) {
		fprintf(stderr, "recgated: listen on %s:%d: %s\n", host, port,
		        strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		close(fd);
		return -1;
	}
	if (family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr,
		          sizeof(addr));
		snprintf(bound, boundlen, "%s:%d", addr,
		         ntohs(((struct sockaddr_in *)&ss)->sin_port));
	} else {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr,
		          sizeof(addr));
		snprintf(bound, boundlen, "[%s]:%d", addr,
		         ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	}
	return fd;
}

/* In a child: back to default signal handling, unblocked. */
static void
rg_monitor_child_signals(void)
{
	sigset_t none;

	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int
rg_monitor_start_keeper(struct rg_monitor *m)
{
	int sp[2];
	char ready = 0;
	struct pollfd pfd;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
		fprintf(stderr, "recgated: socketpair: %s\n", strerror(errno));
		return -1;
	}
	m->keeper = fork();
	if (m->keeper < 0) {
		fprintf(stderr, "recgated: fork: %s\n", strerror(errno));
		return -1;
	}
	if (m->keeper == 0) {
		rg_monitor_child_signals();
		close(sp[0]);
		close(m->listen_fd);
		_exit(rg_keeper_main(&m->cfg, &m->id, sp[1]));
	}
	close(sp[1]);
	/* The passphrase is the keeper's alone: the front, forked later,
	 * must not inherit the descriptor it came through. */
	if (m->cfg.master_key_file[0] == '\0' && m->cfg.passphrase_fd >= 0)
		close(m->cfg.passphrase_fd);
	m->control_fd = sp[0];
	/* Wait until the keeper has unlocked its keys and opened the
	 * database: only then is the gateway up. */
	pfd.fd = m->control_fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, RG_KEEPER_START_S * 1000) != 1 ||
	    read(m->control_fd, &ready, 1) != 1 || ready != RG_KEEPER_READY) {
		fprintf(stderr, "recgated: the keeper did not start\n");
		return -1;
	}
	return 0;
}

/* A new front with a new channel, its other end passed to the keeper. */
static int
rg_monitor_start_front(struct rg_monitor *m)
{
	char byte = 'F', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&byte, 1};
	struct msghdr msg = {0};
	struct cmsghdr *c;
	struct pollfd pfd;
	char ready = 0;
	int ch[2], rp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch) != 0) {
		fprintf(stderr, "recgated: socketpair: %s\n", strerror(errno));
		return -1;
	}
	if (pipe2(rp, O_CLOEXEC) != 0) {
		fprintf(stderr, "recgated: pipe: %s\n", strerror(errno));
		close(ch[0]);
		close(ch[1]);
		return -1;
	}
	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &ch[1], sizeof(int));
	if (sendmsg(m->control_fd, &msg, MSG_NOSIGNAL) != 1) {
		fprintf(stderr, "recgated: cannot reach the keeper: %s\n",
		        strerror(errno));
		close(ch[0]);
		close(ch[1]);
		close(rp[0]);
		close(rp[1]);
		return -1;
	}
	close(ch[1]);
	m->front = fork();
	if (m->front < 0) {
		fprintf(stderr, "recgated: fork: %s\n", strerror(errno));
		close(ch[0]);
		close(rp[0]);
		close(rp[1]);
		return -1;
	}
	if (m->front == 0) {
		rg_monitor_child_signals();
		close(m->control_fd);
		close(rp[0]);
		_exit(rg_front_main(&m->cfg, &m->id, m->listen_fd, ch[0], rp[1]));
	}
	close(ch[0]);
	close(rp[1]);
	/* Up only once it serves: a signal before then would find it
	 * without its handlers. */
	pfd.fd = rp[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, RG_KEEPER_START_S * 1000) != 1 ||
	    read(rp[0], &ready, 1) != 1 || ready != RG_FRONT_READY) {
		fprintf(stderr, "recgated: the front did not start\n");
		close(rp[0]);
		return -1;
	}
	close(rp[0]);
	return 0;
}

/* May another front be started, or is it dying in a loop? */
static int
rg_monitor_may_restart(struct rg_monitor *m)
{
	time_t now = time(NULL);
	unsigned recent = 0;

	for (unsigned i = 0; i < RG_FRONT_RESTARTS; i++)
		if (m->restarts[i] != 0 && now - m->restarts[i] < RG_FRONT_WINDOW_S)
			recent++;
	if (recent >= RG_FRONT_RESTARTS)
		return 0;
	m->restarts[m->nrestarts++ % RG_FRONT_RESTARTS] = now;
	return 1;
}

static void
rg_monitor_describe(const char *who, int status)
{
	if (WIFSIGNALED(status))
		fprintf(stderr, "recgated: the %s was killed by signal %d%s\n", who,
		        WTERMSIG(status),
		        WTERMSIG(status) == SIGSYS ? " (a forbidden system call)" : "");
	else
		fprintf(stderr, "recgated: the %s exited with status %d\n", who,
		        WEXITSTATUS(status));
}

/* Wait for pid with a deadline; SIGKILL it when the deadline passes. */
static int
rg_monitor_reap(pid_t pid, int grace_s)
{
	int status = 0;

	for (int i = 0; i < grace_s * 10; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0)
			return 0;
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return status;
}

/* Stop in order: the front first (it lets the keeper answer what is in
 * flight), then the keeper (it commits and wipes its keys). */
static int
rg_monitor_stop(struct rg_monitor *m, int rc)
{
	if (m->front > 0) {
		int status;

		kill(m->front, SIGTERM);
		status = rg_monitor_reap(m->front, RG_STOP_GRACE_S);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			rg_monitor_describe("front", status);
			rc = 1;
		}
		m->front = 0;
	}
	if (m->keeper > 0) {
		int status;

		kill(m->keeper, SIGTERM);
		status = rg_monitor_reap(m->keeper, RG_STOP_GRACE_S);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			rg_monitor_describe("keeper", status);
			rc = 1;
		}
		m->keeper = 0;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	const char *conf = NULL, *listen_at = NULL;
	struct rg_monitor m;
	sigset_t set;
	char err[1024], bound[128];

	memset(&m, 0, sizeof(m));
	m.listen_fd = m.control_fd = -1;
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		rg_version_print("recgated");
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen_at = argv[++i];
		else
			usage();
	}
	if (conf == NULL)
		usage();
	/* Everything recgate writes is for its own user only. */
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	rg_config_defaults(&m.cfg);
	if (rg_config_load(conf, &m.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgated: %s\n", err);
		return 1;
	}
	if (listen_at != NULL &&
	    rg_config_parse_listen(listen_at, m.cfg.listen_host,
	                           sizeof(m.cfg.listen_host), &m.cfg.listen_port) != 0) {
		fprintf(stderr, "recgated: --listen %s: expected HOST:PORT\n", listen_at);
		return 1;
	}
	if (rg_sandbox_identity(m.cfg.user, &m.id, err, sizeof(err)) != 0) {
		fprintf(stderr, "recgated: %s\n", err);
		return 1;
	}
	if (geteuid() == 0 && !m.id.set)
		fprintf(stderr, "recgated: WARNING: running as root with no `user` "
		        "in the config: the front and the keeper keep root\n");
	/* Signals are taken synchronously below; children restore them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);

	m.listen_fd = rg_monitor_listen(m.cfg.listen_host, m.cfg.listen_port,
	                                bound, sizeof(bound));
	if (m.listen_fd < 0)
		return 1;
	if (rg_monitor_start_keeper(&m) != 0)
		return rg_monitor_stop(&m, 1);
	if (rg_monitor_start_front(&m) != 0)
		return rg_monitor_stop(&m, 1);
	printf("recgated: listening on http://%s\n", bound);
	fflush(stdout);

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si), status;
		pid_t pid;

		if (sig == SIGTERM || sig == SIGINT) {
			fprintf(stderr, "recgated: signal %d, stopping\n", sig);
			status = rg_monitor_stop(&m, 0);
			fprintf(stderr, "recgated: stopped\n");
			return status;
		}
		if (sig != SIGCHLD)
			continue;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid == m.keeper) {
				m.keeper = 0;
				rg_monitor_describe("keeper", status);
				return rg_monitor_stop(&m, 1);
			}
			if (pid != m.front)
				continue;
			m.front = 0;
			rg_monitor_describe("front", status);
			if (!rg_monitor_may_restart(&m)) {
				fprintf(stderr, "recgated: the front keeps dying; "
				                "stopping\n");
				return rg_monitor_stop(&m, 1);
			}
			if (rg_monitor_start_front(&m) != 0)
				return rg_monitor_stop(&m, 1);
			fprintf(stderr, "recgated: front restarted\n");
		}
	}
}
