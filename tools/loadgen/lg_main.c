/* ftps-loadgen: options, the epoll loop and the CPU accounting. */
#include "loadgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

static int setup(struct lg_run *run)
{
	if (lg_setup_common(run) != 0)
		return -1;
	if (run->opt.bind != NULL) {
		run->bind_addr.sin_family = AF_INET;
		if (inet_pton(AF_INET, run->opt.bind, &run->bind_addr.sin_addr) != 1) {
			fprintf(stderr, "ftps-loadgen: --bind must be an IPv4 address\n");
			return -1;
		}
	}
	run->epfd = epoll_create1(EPOLL_CLOEXEC);
	return run->epfd < 0 ? -1 : 0;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

int main(int argc, char **argv)
{
	struct lg_run run;
	memset(&run, 0, sizeof(run));
	run.epfd = -1;
	if (lg_parse_options(argc, argv, &run.opt) != 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (setup(&run) != 0) {
		ERR_print_errors_fp(stderr);
		return 2;
	}
	struct lg_session **sessions = calloc((size_t)run.opt.sessions, sizeof(*sessions));
	if (sessions == NULL)
		return 2;
	double cpu0 = cpu_seconds();
	run.t_start = lg_now();
	for (int i = 0; i < run.opt.sessions; i++) {
		sessions[i] = lg_session_start(&run, i);
		if (sessions[i] == NULL) {
			run.errors[LG_ERR_CONNECT]++;
			continue;
		}
		lg_session_drive(sessions[i]);
	}
	double last_check = run.t_start;
	struct epoll_event evs[256];
	while (run.live_sessions > 0) {
		int n = epoll_wait(run.epfd, evs, 256, 100);
		if (n < 0 && errno != EINTR) {
			perror("epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++) {
			struct lg_conn *c = evs[i].data.ptr;
			lg_session_drive(c->s);
		}
		if (run.kick) {
			run.kick = 0;
			for (int i = 0; i < run.opt.sessions; i++)
				if (sessions[i] != NULL)
					lg_session_drive(sessions[i]);
		}
		double now = lg_now();
		if (now - last_check >= 0.5) {
			last_check = now;
			for (int i = 0; i < run.opt.sessions; i++)
				if (sessions[i] != NULL)
					lg_session_check_timeout(sessions[i], now);
		}
	}
	double seconds = lg_now() - run.t_start;
	double cpu = cpu_seconds() - cpu0;
	for (int i = 0; i < run.opt.sessions; i++)
		lg_session_free(sessions[i]);
	free(sessions);
	int write_failed = 0;
	if (run.manifest != NULL && fclose(run.manifest) != 0) {
		perror(run.opt.manifest);
		write_failed = 1;
	}
	lg_report(&run, seconds,
	          run.t_last_op > run.t_first_op ? run.t_last_op - run.t_first_op : 0, cpu);
	uint64_t errors = 0;
	for (int e = 0; e < LG_ERR_COUNT; e++)
		errors += run.errors[e];
	lg_hist_free(&run.lat_connect);
	lg_hist_free(&run.lat_handshake);
	lg_hist_free(&run.lat_first_byte);
	lg_hist_free(&run.lat_transfer);
	SSL_CTX_free(run.ctx);
	close(run.epfd);
	if (fflush(stdout) != 0)
		return 1;
	return errors || write_failed ? 1 : 0;
}
