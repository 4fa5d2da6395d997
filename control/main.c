/* ftps-control: the FTP/FTPS control plane (issue 5).
 *
 *   ftps-control -c /etc/ftps/control.ini [-t]
 *
 * Loads the config, certificates and users as root (if started as root),
 * then drops to [server] run_as and connects to the dataplane's socket(s)
 * (ipc/ftps_ipc.h). SIGHUP reloads certificates, users and logs without
 * dropping sessions; SIGTERM/SIGINT end it. -t checks the config and exits. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "dp_link.h"
#include "evloop.h"
#include "kdf_worker.h"
#include "log.h"
#include "session.h"

struct ftps_config *g_cfg;
struct user_db g_users;

static const char *config_path;
static bool stop;
static struct ev_handler sig_ev, tick_ev;

static void reload(void)
{
	char err[512];
	struct ftps_config *cfg = malloc(sizeof(*cfg));
	struct user_db db = {0};

	if (cfg == NULL)
		return;
	if (config_load(config_path, cfg, err, sizeof(err)) != 0) {
		log_msg(LOG_ERR, "reload refused: %s", err);
		free(cfg);
		return;
	}
	if (cfg->users_file[0] && users_load(cfg->users_file, &db, err, sizeof(err)) != 0) {
		log_msg(LOG_ERR, "reload refused: %s", err);
		free(cfg);
		return;
	}
	if (tls_reload(cfg, err, sizeof(err)) != 0) {
		log_msg(LOG_ERR, "reload refused: %s", err);
		users_free(&db);
		free(cfg);
		return;
	}
	if (log_open(cfg->session_log, cfg->xferlog) != 0)
		log_msg(LOG_WARN, "reload: cannot reopen log files; keeping the old ones");
	users_free(&g_users);
	g_users = db;
	free(g_cfg);
	g_cfg = cfg;
	log_set_level((enum log_level)cfg->log_level);
	auth_configure(cfg->max_failures, cfg->lockout_seconds);
	log_msg(LOG_INFO, "reloaded %s (%zu users)", config_path, g_users.count);
}

static void on_signal(struct ev_handler *h, uint32_t events)
{
	struct signalfd_siginfo si;
	(void)events;
	while (read(h->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reload();
		else
			stop = true;
	}
}

static void on_tick(struct ev_handler *h, uint32_t events)
{
	uint64_t expirations;
	(void)events;
	if (read(h->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_msg(LOG_WARN, "timerfd read: %s", strerror(errno));
	uint64_t now = ev_now_ms();
	dp_tick(now);
	sessions_tick(now);
}

static int drop_privileges(const char *name)
{
	if (geteuid() != 0) {
		if (name[0])
			log_msg(LOG_WARN, "not root: run_as=%s ignored", name);
		return 0;
	}
	if (name[0] == '\0') {
		log_msg(LOG_WARN, "running as root: set [server] run_as to drop privileges");
		return 0;
	}
	struct passwd *pw = getpwnam(name);
	if (pw == NULL) {
		log_msg(LOG_ERR, "run_as: no user %s", name);
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		log_msg(LOG_ERR, "cannot drop privileges to %s: %s", name, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		log_msg(LOG_ERR, "privileges were not dropped");
		return -1;
	}
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	log_msg(LOG_INFO, "running as %s (uid %u)", name, (unsigned)pw->pw_uid);
	return 0;
}

/* The event loop answers every command and relays every handshake, each
 * step a wake-up; next to busy-polling dataplane lcores on the same CPUs a
 * normal-priority wake-up waits out the poller's time slice (milliseconds a
 * step).  SCHED_FIFO preempts the poller at once; the kernel's RT throttling
 * still leaves the other tasks of a CPU 5%.  Threads started later (the
 * password hashing worker) go back to normal scheduling. */
static int set_realtime_priority(uint32_t priority)
{
	if (priority == 0)
		return 0;
	struct sched_param param = {.sched_priority = (int)priority};
	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &param) != 0) {
		log_msg(LOG_ERR, "realtime_priority=%u: cannot use SCHED_FIFO: %s%s",
		        (unsigned)priority, strerror(errno),
		        errno == EPERM ? " (needs root or CAP_SYS_NICE; set 0 to run without)"
		                       : "");
		return -1;
	}
	log_msg(LOG_INFO, "event loop scheduled SCHED_FIFO, priority %u", (unsigned)priority);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: ftps-control -c CONFIG [-t]\n");
}

int main(int argc, char **argv)
{
	char err[512];
	bool test_only = false;
	int opt;

	while ((opt = getopt(argc, argv, "c:th")) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 't':
			test_only = true;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (config_path == NULL) {
		usage();
		return 2;
	}
	g_cfg = malloc(sizeof(*g_cfg));
	if (g_cfg == NULL)
		return 1;
	if (config_load(config_path, g_cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "ftps-control: %s\n", err);
		return 1;
	}
	if (g_cfg->users_file[0] &&
	    users_load(g_cfg->users_file, &g_users, err, sizeof(err)) != 0) {
		fprintf(stderr, "ftps-control: %s\n", err);
		return 1;
	}
	if (tls_global_init(g_cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "ftps-control: %s\n", err);
		return 1;
	}
	if (test_only) {
		printf("ftps-control: %s OK (%zu users)\n", config_path, g_users.count);
		return 0;
	}
	log_set_level((enum log_level)g_cfg->log_level);
	auth_configure(g_cfg->max_failures, g_cfg->lockout_seconds);
	if (log_open(g_cfg->session_log, g_cfg->xferlog) != 0) {
		fprintf(stderr, "ftps-control: cannot open log files: %s\n", strerror(errno));
		return 1;
	}
	if (set_realtime_priority(g_cfg->realtime_priority) != 0 ||
	    drop_privileges(g_cfg->run_as) != 0)
		return 1;

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0 || signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		log_msg(LOG_ERR, "signal setup failed");
		return 1;
	}
	if (ev_init() != 0) {
		log_msg(LOG_ERR, "epoll: %s", strerror(errno));
		return 1;
	}
	sig_ev.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	sig_ev.cb = on_signal;
	tick_ev.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	tick_ev.cb = on_tick;
	struct itimerspec its = {.it_interval = {.tv_nsec = 100000000},
	                         .it_value = {.tv_nsec = 1000000}};
	if (sig_ev.fd < 0 || tick_ev.fd < 0 || timerfd_settime(tick_ev.fd, 0, &its, NULL) != 0 ||
	    ev_add(&sig_ev, EPOLLIN) != 0 || ev_add(&tick_ev, EPOLLIN) != 0) {
		log_msg(LOG_ERR, "event setup: %s", strerror(errno));
		return 1;
	}
	if (kdf_worker_start(command_auth_result) != 0) {
		log_msg(LOG_ERR, "cannot start the password-check worker: %s", strerror(errno));
		return 1;
	}
	if (dp_init(g_cfg->dataplane_socket) != 0) {
		log_msg(LOG_ERR, "dataplane_socket path too long");
		return 1;
	}
	log_msg(LOG_INFO, "started; dataplane socket %s", g_cfg->dataplane_socket);
	while (!stop) {
		if (ev_run_once(1000) < 0) {
			log_msg(LOG_ERR, "epoll_wait: %s", strerror(errno));
			break;
		}
		sessions_reap();
	}
	log_msg(LOG_INFO, "stopping");
	sessions_close_all("server stopping");
	dp_shutdown();
	sessions_reap();
	kdf_worker_stop();
	tls_global_fini();
	users_free(&g_users);
	log_close();
	close(sig_ev.fd);
	close(tick_ev.fd);
	ev_fini();
	free(g_cfg);
	return 0;
}
