#include "kdf_worker.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"
#include "users.h"

#define QUEUE_MAX 512 /* pending checks: ~30 s of scrypt at worst, then 421 */

struct kdf_job {
	uint64_t sid;
	bool has_hash;
	bool ok;
	char hash[256];
	char password[1024];
};

/* Guarded by lock: pending jobs (ring) and finished results (ring). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct kdf_job jobs[QUEUE_MAX];
static unsigned job_head, job_count;
static struct {
	uint64_t sid;
	bool ok;
} results[QUEUE_MAX];
static unsigned res_head, res_count;
static bool stopping;

static pthread_t thread;
static bool started;
static struct ev_handler done_ev = {.fd = -1};
static kdf_result_fn result_fn;

static void *worker_main(void *arg)
{
	static struct kdf_job job; /* only this thread touches it */

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&lock);
		while (job_count == 0 && !stopping)
			pthread_cond_wait(&wake, &lock);
		if (stopping) {
			pthread_mutex_unlock(&lock);
			break;
		}
		job = jobs[job_head];
		OPENSSL_cleanse(&jobs[job_head], sizeof(jobs[job_head]));
		job_head = (job_head + 1) % QUEUE_MAX;
		job_count--;
		pthread_mutex_unlock(&lock);

		bool ok = users_check_password(job.has_hash ? job.hash : NULL, job.password);
		uint64_t sid = job.sid;
		OPENSSL_cleanse(&job, sizeof(job));

		pthread_mutex_lock(&lock);
		/* results never overflow: each comes from one queued job */
		unsigned slot = (res_head + res_count) % QUEUE_MAX;
		results[slot].sid = sid;
		results[slot].ok = ok;
		res_count++;
		pthread_mutex_unlock(&lock);
		uint64_t one = 1;
		if (write(done_ev.fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
			log_msg(LOG_ERR, "kdf worker: eventfd write failed");
	}
	return NULL;
}

static void on_done(struct ev_handler *h, uint32_t events)
{
	uint64_t n;
	(void)events;
	if (read(h->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_msg(LOG_WARN, "kdf eventfd read: %s", strerror(errno));
	for (;;) {
		pthread_mutex_lock(&lock);
		if (res_count == 0) {
			pthread_mutex_unlock(&lock);
			break;
		}
		uint64_t sid = results[res_head].sid;
		bool ok = results[res_head].ok;
		res_head = (res_head + 1) % QUEUE_MAX;
		res_count--;
		pthread_mutex_unlock(&lock);
		result_fn(sid, ok);
	}
}

int kdf_worker_start(kdf_result_fn fn)
{
	result_fn = fn;
	done_ev.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	done_ev.cb = on_done;
	if (done_ev.fd < 0 || ev_add(&done_ev, EPOLLIN) != 0)
		return -1;
	if (pthread_create(&thread, NULL, worker_main, NULL) != 0)
		return -1;
	started = true;
	return 0;
}

void kdf_worker_stop(void)
{
	if (started) {
		pthread_mutex_lock(&lock);
		stopping = true;
		pthread_cond_signal(&wake);
		pthread_mutex_unlock(&lock);
		pthread_join(thread, NULL);
		started = false;
	}
	if (done_ev.fd >= 0) {
		ev_del(&done_ev);
		close(done_ev.fd);
		done_ev.fd = -1;
	}
	OPENSSL_cleanse(jobs, sizeof(jobs));
}

int kdf_submit(uint64_t sid, const char *hash, const char *password)
{
	int rc = -1;

	if (strlen(password) >= sizeof(jobs[0].password) ||
	    (hash && strlen(hash) >= sizeof(jobs[0].hash)))
		password = ""; /* cannot match a real hash: still costs the same */
	pthread_mutex_lock(&lock);
	if (job_count + res_count < QUEUE_MAX) {
		struct kdf_job *j = &jobs[(job_head + job_count) % QUEUE_MAX];
		j->sid = sid;
		j->has_hash = hash != NULL && strlen(hash) < sizeof(j->hash);
		snprintf(j->hash, sizeof(j->hash), "%s", j->has_hash ? hash : "");
		snprintf(j->password, sizeof(j->password), "%s", password);
		job_count++;
		pthread_cond_signal(&wake);
		rc = 0;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}
