/* Mirroring; see mirror.h. The tree is walked on the first session; the
 * files are then shared out to cfg->parallel sessions (threads), each with
 * its own control connection, taking the next file from one queue. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mirror.h"
#include "progress.h"
#include "transfer.h"

#define PATH_CAP  4096
#define MAX_FILES 10000000u

struct job {
	char *remote;
	char *local;
	uint64_t size; /* SIZE_UNKNOWN when not known */
};

struct job_list {
	struct job *v;
	size_t n, cap;
	uint64_t bytes;
};

struct job_queue {
	struct job_list *jobs;
	size_t next;
	bool upload;
	struct client_config *cfg;
	struct progress *progress;
	pthread_mutex_t lock;
	int first_error;
};

static int join(char *out, const char *a, const char *b)
{
	size_t la = strlen(a);
	const char *sep = (la == 0 || a[la - 1] == '/') ? "" : "/";
	int n = snprintf(out, PATH_CAP, "%s%s%s", a, sep, b);
	return (n < 0 || n >= PATH_CAP) ? -1 : 0;
}

static int push_job(struct job_list *l, const char *remote, const char *local, uint64_t size)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		if (cap > MAX_FILES)
			return -1;
		struct job *nv = realloc(l->v, cap * sizeof(*nv));
		if (nv == NULL)
			return -1;
		l->v = nv;
		l->cap = cap;
	}
	struct job *j = &l->v[l->n];
	j->remote = strdup(remote);
	j->local = strdup(local);
	j->size = size;
	if (j->remote == NULL || j->local == NULL) {
		free(j->remote);
		free(j->local);
		return -1;
	}
	if (size != SIZE_UNKNOWN)
		l->bytes += size;
	l->n++;
	return 0;
}

static void free_jobs(struct job_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].remote);
		free(l->v[i].local);
	}
	free(l->v);
}

static void record_error(struct job_queue *q, int rc)
{
	pthread_mutex_lock(&q->lock);
	if (q->first_error == EXIT_OK)
		q->first_error = rc;
	pthread_mutex_unlock(&q->lock);
}

/* Take jobs until the queue is empty. A broken session is reopened once per
 * failure; if that fails the worker stops and the others finish the queue. */
static void work(struct job_queue *q, struct ftp_session *s, bool *open)
{
	for (;;) {
		if (!*open) {
			int rc = ftp_open(s, q->cfg, true);
			if (rc != EXIT_OK) {
				/* No job taken: the other sessions finish the queue. */
				fprintf(stderr, "ftps-client: parallel session: %s\n", s->err);
				record_error(q, rc);
				return;
			}
			*open = true;
		}
		pthread_mutex_lock(&q->lock);
		size_t i = q->next < q->jobs->n ? q->next++ : SIZE_MAX;
		pthread_mutex_unlock(&q->lock);
		if (i == SIZE_MAX)
			return;
		struct job *j = &q->jobs->v[i];
		int rc = q->upload ? xfer_put(s, j->local, j->remote, q->cfg->resume, q->progress)
		                   : xfer_get(s, j->remote, j->local, j->size, q->cfg->resume,
		                              q->progress);
		if (rc != EXIT_OK)
			record_error(q, rc);
		if (rc == EXIT_NETWORK) {
			ftp_close(s);
			*open = false;
		}
	}
}

struct worker {
	struct job_queue *q;
	struct ftp_session s;
	bool open;
	pthread_t thread;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	work(w->q, &w->s, &w->open);
	if (w->open)
		ftp_close(&w->s);
	return NULL;
}

static int run_jobs(struct ftp_session *first, struct job_list *jobs, bool upload)
{
	struct client_config *cfg = first->cfg;
	struct progress p;
	struct job_queue q = {.jobs = jobs, .upload = upload, .cfg = cfg, .progress = &p};
	pthread_mutex_init(&q.lock, NULL);
	progress_start(&p, cfg->output, (unsigned int)jobs->n, jobs->bytes);
	int extra = cfg->parallel - 1;
	if ((size_t)extra > jobs->n)
		extra = jobs->n > 0 ? (int)jobs->n - 1 : 0;
	struct worker *w = calloc((size_t)(extra > 0 ? extra : 1), sizeof(*w));
	int started = 0;
	for (int i = 0; w != NULL && i < extra; i++) {
		w[i].q = &q;
		w[i].s.ctl.fd = -1;
		if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0)
			break;
		started++;
	}
	bool open = true;
	work(&q, first, &open);
	for (int i = 0; i < started; i++)
		pthread_join(w[i].thread, NULL);
	free(w);
	/* Jobs left behind by workers whose sessions all failed. */
	if (q.next < jobs->n && q.first_error == EXIT_OK)
		q.first_error = EXIT_NETWORK;
	if (!open)
		first->ctl.fd = -1;
	progress_finish(&p, q.first_error);
	pthread_mutex_destroy(&q.lock);
	return q.first_error;
}

static int mkdir_p(const char *path)
{
	char copy[PATH_CAP];
	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return -1;
	for (char *p = copy + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return (mkdir(copy, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

/* Breadth-first walk of the remote tree. */
static int walk_remote(struct ftp_session *s, const char *remote, const char *local,
                       struct job_list *jobs)
{
	struct job_list dirs = {0};
	int rc = EXIT_OK;
	if (push_job(&dirs, remote, local, 0) != 0)
		return EXIT_LOCAL;
	for (size_t d = 0; d < dirs.n && rc == EXIT_OK; d++) {
		const char *rdir = dirs.v[d].remote, *ldir = dirs.v[d].local;
		if (mkdir_p(ldir) != 0) {
			fprintf(stderr, "ftps-client: cannot create %s: %s\n", ldir,
			        strerror(errno));
			rc = EXIT_LOCAL;
			break;
		}
		/* CWD then list ".": no listing option can be confused with a name. */
		int code = ftp_cmd(s, "CWD %s", rdir);
		if (code != 250) {
			fprintf(stderr, "ftps-client: cannot enter %s: %s\n", rdir,
			        code < 0 ? s->err : s->reply);
			rc = code < 0 ? EXIT_NETWORK : EXIT_REMOTE;
			break;
		}
		char *text = NULL;
		size_t len = 0;
		bool mlsd = false;
		rc = ftp_list(s, NULL, true, &text, &len, &mlsd);
		if (rc != EXIT_OK) {
			fprintf(stderr, "ftps-client: %s\n", s->err);
			break;
		}
		char *save = NULL;
		for (char *line = strtok_r(text, "\r\n", &save); line != NULL;
		     line = strtok_r(NULL, "\r\n", &save)) {
			struct ftp_entry e;
			int r =
			    mlsd ? ftp_parse_mlsd_line(line, &e) : ftp_parse_list_line(line, &e);
			if (r < 0) {
				fprintf(stderr,
				        "ftps-client: skipping an unreadable listing line "
				        "in %s\n",
				        rdir);
				continue;
			}
			if (r > 0)
				continue;
			char rp[PATH_CAP], lp[PATH_CAP];
			if (join(rp, rdir, e.name) != 0 || join(lp, ldir, e.name) != 0) {
				rc = EXIT_LOCAL;
				break;
			}
			int pr = e.type == FTP_ENTRY_DIR ? push_job(&dirs, rp, lp, 0)
			                                 : push_job(jobs, rp, lp, e.size);
			if (pr != 0) {
				rc = EXIT_LOCAL;
				break;
			}
		}
		free(text);
	}
	free_jobs(&dirs);
	return rc;
}

int mirror_download(struct ftp_session *s, const char *remote, const char *local)
{
	struct job_list jobs = {0};
	char pwd_abs[PATH_CAP];
	int rc = EXIT_OK;
	/* Relative remote paths are resolved against the login folder once, so
	 * the CWDs of the walk do not stack up. */
	if (remote[0] != '/') {
		int code = ftp_cmd(s, "PWD");
		const char *q1 = strchr(s->reply, '"');
		const char *q2 = q1 ? strchr(q1 + 1, '"') : NULL;
		if (code != 257 || q2 == NULL) {
			fprintf(stderr, "ftps-client: cannot learn the remote folder: %s\n",
			        code < 0 ? s->err : s->reply);
			return code < 0 ? EXIT_NETWORK : EXIT_REMOTE;
		}
		char base[PATH_CAP];
		snprintf(base, sizeof(base), "%.*s", (int)(q2 - q1 - 1), q1 + 1);
		if (strcmp(remote, ".") == 0)
			snprintf(pwd_abs, sizeof(pwd_abs), "%s", base);
		else if (join(pwd_abs, base, remote) != 0)
			return EXIT_USAGE;
		remote = pwd_abs;
	}
	rc = walk_remote(s, remote, local, &jobs);
	if (rc == EXIT_OK)
		rc = run_jobs(s, &jobs, false);
	free_jobs(&jobs);
	return rc;
}

static int walk_local(struct ftp_session *s, const char *local, const char *remote,
                      struct job_list *jobs)
{
	struct job_list dirs = {0};
	int rc = EXIT_OK;
	if (push_job(&dirs, remote, local, 0) != 0)
		return EXIT_LOCAL;
	for (size_t d = 0; d < dirs.n && rc == EXIT_OK; d++) {
		const char *rdir = dirs.v[d].remote, *ldir = dirs.v[d].local;
		int code = ftp_cmd(s, "MKD %s", rdir);
		/* 257 created; 550/521 usually "exists": a real failure shows up on STOR. */
		if (code < 0) {
			rc = EXIT_NETWORK;
			break;
		}
		DIR *dir = opendir(ldir);
		if (dir == NULL) {
			fprintf(stderr, "ftps-client: cannot read %s: %s\n", ldir, strerror(errno));
			rc = EXIT_LOCAL;
			break;
		}
		struct dirent *de;
		while ((de = readdir(dir)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			char rp[PATH_CAP], lp[PATH_CAP];
			struct stat st;
			if (join(rp, rdir, de->d_name) != 0 || join(lp, ldir, de->d_name) != 0 ||
			    !ftp_path_ok(rp)) {
				fprintf(stderr, "ftps-client: skipping unusable name in %s\n",
				        ldir);
				continue;
			}
			if (lstat(lp, &st) != 0)
				continue;
			int pr = 0;
			if (S_ISDIR(st.st_mode))
				pr = push_job(&dirs, rp, lp, 0);
			else if (S_ISREG(st.st_mode))
				pr = push_job(jobs, rp, lp, (uint64_t)st.st_size);
			else
				fprintf(stderr, "ftps-client: skipping %s (not a regular file)\n",
				        lp);
			if (pr != 0) {
				rc = EXIT_LOCAL;
				break;
			}
		}
		closedir(dir);
	}
	free_jobs(&dirs);
	return rc;
}

int mirror_upload(struct ftp_session *s, const char *local, const char *remote)
{
	struct job_list jobs = {0};
	int rc = walk_local(s, local, remote, &jobs);
	if (rc == EXIT_OK)
		rc = run_jobs(s, &jobs, true);
	free_jobs(&jobs);
	return rc;
}
