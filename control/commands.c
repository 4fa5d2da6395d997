/* FTP command handlers, dispatched from the command table (ftp_cmd.c). Each
 * handler checks sequence and permissions, then acts; paths always go
 * through paths.c beneath the user's root. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"
#include "kdf_worker.h"
#include "session.h"

typedef void (*cmd_fn)(struct session *s, const char *arg);

static const char *errno_text(int e)
{
	switch (e) {
	case ENOENT:
		return "No such file or directory";
	case EEXIST:
		return "File exists";
	case ENOTDIR:
		return "Not a directory";
	case EISDIR:
		return "Is a directory";
	case ENOTEMPTY:
		return "Directory not empty";
	case EACCES:
	case EPERM:
		return "Permission denied";
	case EXDEV:
	case ELOOP:
		return "Path leaves the user's root";
	case ENAMETOOLONG:
		return "Path too long";
	default:
		return "Action not taken";
	}
}

/* Resolve arg against cwd; on failure reply and return -1. */
static int vpath_of(struct session *s, const char *arg, char *out)
{
	if (path_join(s->cwd, arg, out, VPATH_MAX) != 0) {
		session_refuse(s, 553, "path", "Path too long");
		return -1;
	}
	return 0;
}

static void refuse_path(struct session *s, const char *cmd, const char *vpath, int err)
{
	char what[64];
	snprintf(what, sizeof(what), "%s %s", cmd,
	         err == EXDEV || err == ELOOP ? "escape" : "path");
	session_refuse(s, 550, what, "%s: %s", vpath, errno_text(err));
}

static bool need_perm(struct session *s, unsigned perm, const char *cmd)
{
	if (s->user.perms & perm)
		return true;
	session_refuse(s, 550, cmd, "Permission denied");
	return false;
}

/* "..." with embedded quotes doubled (RFC 959 appendix II). */
static void quote_path(const char *p, char *out, size_t cap)
{
	size_t o = 0;
	for (; *p && o + 3 < cap; p++) {
		if (*p == '"')
			out[o++] = '"';
		out[o++] = *p;
	}
	out[o] = '\0';
}

static void login_complete(struct session *s, const struct user *u, int code, const char *how);

/* A verified client certificate mapped to this user, if any. */
static bool client_cert_matches(struct session *s, const struct user *u)
{
	char hex[80], subject[512];
	if (u == NULL || u->cert[0] == '\0' || !s->tls_on ||
	    tls_stream_peer_cert(&s->tls, hex, sizeof(hex), subject, sizeof(subject)) != 0)
		return false;
	return users_cert_matches(u, hex, subject);
}

static void cmd_user(struct session *s, const char *arg)
{
	if (s->logged_in) {
		session_refuse(s, 503, "USER", "Already logged in");
		return;
	}
	if (g_cfg->require_tls && !s->tls_on) {
		session_refuse(s, 530, "USER before AUTH TLS",
		               "Login refused: use AUTH TLS first (TLS is required)");
		return;
	}
	snprintf(s->user_name, sizeof(s->user_name), "%s", arg);
	s->user_given = true;
	s->anonymous = g_cfg->anonymous && (!strcmp(arg, "anonymous") || !strcmp(arg, "ftp"));
	const struct user *u = s->anonymous ? NULL : users_find(&g_users, s->user_name);
	if (u != NULL && u->cert_nopass && client_cert_matches(s, u) &&
	    !auth_locked(s->user_name, s->peer_str, ev_now_ms())) {
		/* RFC 2228: 232 = logged in, authorized by security data */
		login_complete(s, u, 232, "client certificate");
		return;
	}
	session_reply(s, 331, "Password required for %s", s->user_name);
}

static void login_fail(struct session *s, const char *why)
{
	uint64_t now = ev_now_ms();
	auth_record_failure(s->user_name, s->peer_str, now);
	log_session(s->sid, s->peer_str, s->user_name, "refused login: %s", why);
	s->user_given = false;
	/* The reply comes after the delay; commands wait behind it. */
	s->delay_until_ms = now + (g_cfg->login_delay_ms ? g_cfg->login_delay_ms : 1);
	s->delayed_code = 530;
	snprintf(s->delayed_text, sizeof(s->delayed_text), "Login incorrect");
}

static void login_complete(struct session *s, const struct user *u, int code, const char *how)
{
	uint32_t limit = u->max_sessions ? u->max_sessions : g_cfg->max_per_user;
	if (sessions_count_user(u->name) >= limit) {
		session_refuse(s, 421, "login", "Too many sessions for this user");
		session_close(s, "per-user session limit");
		return;
	}
	int fd = open(u->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		log_msg(LOG_ERR, "user %s: root %s: %s", u->name, u->root, strerror(errno));
		session_refuse(s, 530, "login", "Login incorrect (home directory unavailable)");
		return;
	}
	s->user = *u;
	s->user.hash[0] = '\0';
	snprintf(s->user_name, sizeof(s->user_name), "%s", u->name);
	s->root_fd = fd;
	s->logged_in = true;
	auth_record_success(s->user_name, s->peer_str);
	tls_bind_token(s->tinfo.token, s->user_name, &s->peer_addr);
	if (s->tls_on)
		tls_stream_issue_tickets(&s->tls, 2);
	log_session(s->sid, s->peer_str, s->user_name, "logged in (%s)", how);
	session_reply(s, code, "User %s logged in", s->user_name);
}

static void cmd_pass(struct session *s, const char *arg)
{
	const struct user *u = NULL;
	struct user anon = {0};

	if (s->logged_in) {
		session_refuse(s, 503, "PASS", "Already logged in");
		return;
	}
	if (!s->user_given) {
		session_refuse(s, 503, "PASS", "Login with USER first");
		return;
	}
	if (s->anonymous) {
		snprintf(anon.name, sizeof(anon.name), "anonymous");
		snprintf(anon.root, sizeof(anon.root), "%s", g_cfg->anonymous_root);
		anon.perms = PERM_READ;
		login_complete(s, &anon, 230, "anonymous");
		return;
	}
	/* The KDF runs in the worker thread; this session waits (its later
	 * commands stay queued), every other session goes on. A locked-out
	 * login still costs the same work, so it looks like any other. */
	u = users_find(&g_users, s->user_name);
	s->auth_locked = auth_locked(s->user_name, s->peer_str, ev_now_ms());
	if (kdf_submit(s->sid, u && !s->auth_locked ? u->hash : NULL, arg) != 0) {
		session_refuse(s, 421, "login", "Too many logins in progress, try again");
		session_close(s, "password-check queue full");
		return;
	}
	s->auth_pending = true;
}

void command_auth_result(uint64_t sid, bool ok)
{
	struct session *s = session_find(sid);
	if (s == NULL || s->closing || !s->auth_pending)
		return; /* the session ended meanwhile */
	s->auth_pending = false;
	const struct user *u = users_find(&g_users, s->user_name);
	if (s->auth_locked)
		login_fail(s, "locked out after repeated failures");
	else if (!ok || u == NULL)
		login_fail(s, u ? "wrong password" : "unknown user");
	else if (u->cert[0] != '\0' && !client_cert_matches(s, u))
		login_fail(s, "client certificate required and not presented or not matching");
	else
		login_complete(s, u, 230,
		               u->cert[0] ? "password and client certificate" : "password");
	if (!s->closing)
		session_process_input(s);
}

static void cmd_quit(struct session *s, const char *arg)
{
	(void)arg;
	session_reply(s, 221, "Goodbye");
	session_close(s, "QUIT");
}

static void cmd_noop(struct session *s, const char *arg)
{
	(void)arg;
	session_reply(s, 200, "NOOP ok");
}

static void cmd_syst(struct session *s, const char *arg)
{
	(void)arg;
	session_reply(s, 215, "UNIX Type: L8");
}

static void cmd_feat(struct session *s, const char *arg)
{
	(void)arg;
	session_reply(s, 211,
	              "Features:\nAUTH TLS\nAUTH SSL\nPBSZ\nPROT\nUTF8\nEPSV\nEPRT\nMDTM\nMFMT\n"
	              "SIZE\nREST STREAM\nTVFS\n"
	              "MLST type*;size*;modify*;perm*;unique*;\n"
	              "HASH SHA-256%s;SHA-1%s;MD5%s\nEnd",
	              strcmp(s->hash_algo, "SHA-256") ? "" : "*",
	              strcmp(s->hash_algo, "SHA-1") ? "" : "*",
	              strcmp(s->hash_algo, "MD5") ? "" : "*");
}

static void cmd_opts(struct session *s, const char *arg)
{
	if (!strcasecmp(arg, "UTF8 ON") || !strcasecmp(arg, "UTF8")) {
		session_reply(s, 200, "UTF8 always on");
	} else if (!strncasecmp(arg, "HASH", 4) && (arg[4] == '\0' || arg[4] == ' ')) {
		const char *a = arg[4] ? arg + 5 : "";
		if (a[0] == '\0') {
			session_reply(s, 200, "%s", s->hash_algo);
		} else if (!strcasecmp(a, "SHA-256") || !strcasecmp(a, "SHA-1") ||
		           !strcasecmp(a, "MD5")) {
			snprintf(s->hash_algo, sizeof(s->hash_algo), "%s", a);
			for (char *p = s->hash_algo; *p; p++)
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 'a' + 'A');
			session_reply(s, 200, "%s", s->hash_algo);
		} else {
			session_refuse(s, 501, "OPTS HASH", "Unknown algorithm");
		}
	} else if (!strncasecmp(arg, "MLST", 4)) {
		session_reply(s, 200, "MLST OPTS type;size;modify;perm;unique;");
	} else {
		session_refuse(s, 501, "OPTS", "Option not understood");
	}
}

static void cmd_help(struct session *s, const char *arg)
{
	char text[1024];
	size_t n, o = 0;
	const struct ftp_cmd_def *t = ftp_cmd_table(&n);

	(void)arg;
	o += (size_t)snprintf(text, sizeof(text), "Commands recognized:");
	for (size_t i = 0; i < n && o + 8 < sizeof(text); i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s", i % 10 ? " " : "\n",
		                      t[i].name);
	snprintf(text + o, sizeof(text) - o, "\nHelp OK");
	session_reply(s, 214, "%s", text);
}

static void cmd_auth(struct session *s, const char *arg)
{
	if (s->tls_on) {
		session_refuse(s, 503, "AUTH", "Already using TLS");
		return;
	}
	if (strcasecmp(arg, "TLS") && strcasecmp(arg, "SSL") && strcasecmp(arg, "TLS-C") &&
	    strcasecmp(arg, "TLS-P")) {
		session_refuse(s, 504, "AUTH", "Only AUTH TLS (or SSL) is supported");
		return;
	}
	if (tls_stream_open(&s->tls, &s->tinfo) != 0) {
		session_reply(s, 431, "TLS unavailable");
		return;
	}
	tls_stream_defer_tickets(&s->tls);
	session_reply(s, 234, "AUTH %s ok, start TLS", arg);
	s->tls_on = true;
}

static void cmd_pbsz(struct session *s, const char *arg)
{
	if (!s->tls_on) {
		session_refuse(s, 503, "PBSZ", "PBSZ needs AUTH TLS first");
		return;
	}
	for (const char *p = arg; *p; p++)
		if (*p < '0' || *p > '9') {
			session_refuse(s, 501, "PBSZ", "PBSZ needs a number");
			return;
		}
	s->pbsz = true;
	session_reply(s, 200, "PBSZ=0");
}

static void cmd_prot(struct session *s, const char *arg)
{
	if (!s->pbsz) {
		session_refuse(s, 503, "PROT", "PROT needs PBSZ first");
		return;
	}
	if (!strcasecmp(arg, "P")) {
		s->prot_p = true;
		session_reply(s, 200, "Protection level set to P");
	} else if (!strcasecmp(arg, "C")) {
		if (g_cfg->require_prot_p) {
			session_refuse(s, 534, "PROT C",
			               "PROT C refused: this server requires PROT P");
			return;
		}
		s->prot_p = false;
		session_reply(s, 200, "Protection level set to C");
	} else if (!strcasecmp(arg, "S") || !strcasecmp(arg, "E")) {
		session_refuse(s, 536, "PROT", "Protection level not supported");
	} else {
		session_refuse(s, 504, "PROT", "Unknown protection level");
	}
}

static void cmd_ccc(struct session *s, const char *arg)
{
	(void)arg;
	session_refuse(s, 534, "CCC", "CCC refused by policy");
}

static void cmd_type(struct session *s, const char *arg)
{
	/* Bytes are never converted (as vsftpd by default): A and I both
	 * transfer the file as stored. */
	if (!strcasecmp(arg, "I") || !strcasecmp(arg, "L 8"))
		session_reply(s, 200, "Type set to I");
	else if (!strcasecmp(arg, "A") || !strcasecmp(arg, "A N"))
		session_reply(s, 200, "Type set to A");
	else
		session_refuse(s, 504, "TYPE", "Type not supported");
}

static void cmd_mode(struct session *s, const char *arg)
{
	if (!strcasecmp(arg, "S"))
		session_reply(s, 200, "Mode S");
	else
		session_refuse(s, 504, "MODE", "Only MODE S is supported");
}

static void cmd_stru(struct session *s, const char *arg)
{
	if (!strcasecmp(arg, "F"))
		session_reply(s, 200, "Structure F");
	else
		session_refuse(s, 504, "STRU", "Only STRU F is supported");
}

static void cmd_pwd(struct session *s, const char *arg)
{
	char q[2 * VPATH_MAX];
	(void)arg;
	quote_path(s->cwd, q, sizeof(q));
	session_reply(s, 257, "\"%s\" is the current directory", q);
}

static void change_dir(struct session *s, const char *arg, const char *cmd)
{
	char vp[VPATH_MAX];
	if (vpath_of(s, arg, vp))
		return;
	int fd = path_open(s->root_fd, vp, O_PATH | O_DIRECTORY, 0);
	if (fd < 0) {
		refuse_path(s, cmd, vp, errno);
		return;
	}
	close(fd);
	snprintf(s->cwd, sizeof(s->cwd), "%s", vp);
	session_reply(s, 250, "Directory changed to %s", s->cwd);
}

static void cmd_cwd(struct session *s, const char *arg)
{
	change_dir(s, arg, "CWD");
}

static void cmd_cdup(struct session *s, const char *arg)
{
	(void)arg;
	change_dir(s, "..", "CDUP");
}

/* Open the parent of arg; on failure reply. */
static int parent_of(struct session *s, const char *arg, const char *cmd, char *vp, char *name)
{
	if (vpath_of(s, arg, vp))
		return -1;
	if (strcmp(vp, "/") == 0) {
		session_refuse(s, 550, cmd, "Not allowed on the root directory");
		return -1;
	}
	int fd = path_open_parent(s->root_fd, vp, name, 256);
	if (fd < 0)
		refuse_path(s, cmd, vp, errno);
	return fd;
}

static void cmd_mkd(struct session *s, const char *arg)
{
	char vp[VPATH_MAX], name[256], q[2 * VPATH_MAX];
	if (!need_perm(s, PERM_MKDIR, "MKD"))
		return;
	int dfd = parent_of(s, arg, "MKD", vp, name);
	if (dfd < 0)
		return;
	int rc = mkdirat(dfd, name, 0755);
	int e = errno;
	close(dfd);
	if (rc != 0) {
		refuse_path(s, "MKD", vp, e);
		return;
	}
	quote_path(vp, q, sizeof(q));
	session_reply(s, 257, "\"%s\" created", q);
}

static void cmd_rmd(struct session *s, const char *arg)
{
	char vp[VPATH_MAX], name[256];
	if (!need_perm(s, PERM_DELETE, "RMD"))
		return;
	int dfd = parent_of(s, arg, "RMD", vp, name);
	if (dfd < 0)
		return;
	int rc = unlinkat(dfd, name, AT_REMOVEDIR);
	int e = errno;
	close(dfd);
	if (rc != 0) {
		refuse_path(s, "RMD", vp, e);
		return;
	}
	session_reply(s, 250, "Directory removed");
}

static void cmd_dele(struct session *s, const char *arg)
{
	char vp[VPATH_MAX], name[256];
	if (!need_perm(s, PERM_DELETE, "DELE"))
		return;
	int dfd = parent_of(s, arg, "DELE", vp, name);
	if (dfd < 0)
		return;
	int rc = unlinkat(dfd, name, 0);
	int e = errno;
	close(dfd);
	if (rc != 0) {
		refuse_path(s, "DELE", vp, e);
		return;
	}
	session_reply(s, 250, "File deleted");
}

static void cmd_rnfr(struct session *s, const char *arg)
{
	char vp[VPATH_MAX], name[256];
	struct stat st;
	if (!need_perm(s, PERM_RENAME, "RNFR"))
		return;
	int dfd = parent_of(s, arg, "RNFR", vp, name);
	if (dfd < 0)
		return;
	int rc = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW);
	int e = errno;
	close(dfd);
	if (rc != 0) {
		refuse_path(s, "RNFR", vp, e);
		return;
	}
	snprintf(s->rnfr, sizeof(s->rnfr), "%s", vp);
	s->rnfr_set = true;
	session_reply(s, 350, "Ready for RNTO");
}

static void cmd_rnto(struct session *s, const char *arg)
{
	char vp[VPATH_MAX], name[256], from_name[256];
	if (!s->rnfr_set) {
		session_refuse(s, 503, "RNTO", "RNFR required first");
		return;
	}
	s->rnfr_set = false;
	if (!need_perm(s, PERM_RENAME, "RNTO"))
		return;
	int to = parent_of(s, arg, "RNTO", vp, name);
	if (to < 0)
		return;
	int from = path_open_parent(s->root_fd, s->rnfr, from_name, sizeof(from_name));
	if (from < 0) {
		int e = errno;
		close(to);
		refuse_path(s, "RNTO", s->rnfr, e);
		return;
	}
	int rc = renameat(from, from_name, to, name);
	int e = errno;
	close(from);
	close(to);
	if (rc != 0) {
		refuse_path(s, "RNTO", vp, e);
		return;
	}
	session_reply(s, 250, "Rename successful");
}

/* stat a path following symlinks beneath the root. */
static int stat_path(struct session *s, const char *arg, const char *cmd, char *vp, struct stat *st)
{
	if (vpath_of(s, arg, vp))
		return -1;
	int fd = path_open(s->root_fd, vp, O_PATH, 0);
	if (fd < 0) {
		refuse_path(s, cmd, vp, errno);
		return -1;
	}
	int rc = fstat(fd, st);
	int e = errno;
	close(fd);
	if (rc != 0) {
		refuse_path(s, cmd, vp, e);
		return -1;
	}
	return 0;
}

static void cmd_size(struct session *s, const char *arg)
{
	char vp[VPATH_MAX];
	struct stat st;
	if (stat_path(s, arg, "SIZE", vp, &st))
		return;
	if (!S_ISREG(st.st_mode)) {
		session_refuse(s, 550, "SIZE", "%s: not a regular file", vp);
		return;
	}
	session_reply(s, 213, "%llu", (unsigned long long)st.st_size);
}

static void cmd_mdtm(struct session *s, const char *arg)
{
	char vp[VPATH_MAX], when[32];
	struct stat st;
	struct tm tm;
	if (stat_path(s, arg, "MDTM", vp, &st))
		return;
	gmtime_r(&st.st_mtime, &tm);
	strftime(when, sizeof(when), "%Y%m%d%H%M%S", &tm);
	session_reply(s, 213, "%s", when);
}

static int parse_time14(const char *p, time_t *out)
{
	struct tm tm = {0};
	for (int i = 0; i < 14; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	tm.tm_year =
	    (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0') - 1900;
	tm.tm_mon = (p[4] - '0') * 10 + (p[5] - '0') - 1;
	tm.tm_mday = (p[6] - '0') * 10 + (p[7] - '0');
	tm.tm_hour = (p[8] - '0') * 10 + (p[9] - '0');
	tm.tm_min = (p[10] - '0') * 10 + (p[11] - '0');
	tm.tm_sec = (p[12] - '0') * 10 + (p[13] - '0');
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	*out = timegm(&tm);
	return *out == (time_t)-1 ? -1 : 0;
}

static void cmd_mfmt(struct session *s, const char *arg)
{
	char vp[VPATH_MAX], name[256];
	time_t t;
	if (strlen(arg) < 16 || arg[14] != ' ' || parse_time14(arg, &t) != 0) {
		session_refuse(s, 501, "MFMT", "Usage: MFMT YYYYMMDDHHMMSS path");
		return;
	}
	if (!need_perm(s, PERM_WRITE, "MFMT"))
		return;
	int dfd = parent_of(s, arg + 15, "MFMT", vp, name);
	if (dfd < 0)
		return;
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = t}};
	int rc = utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
	int e = errno;
	close(dfd);
	if (rc != 0) {
		refuse_path(s, "MFMT", vp, e);
		return;
	}
	session_reply(s, 213, "Modify=%.14s; %s", arg, vp);
}

static void cmd_rest(struct session *s, const char *arg)
{
	char *end;
	errno = 0;
	if (arg[0] < '0' || arg[0] > '9') {
		session_refuse(s, 501, "REST", "REST needs a byte offset");
		return;
	}
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno || *end || v > (1ull << 62)) {
		session_refuse(s, 501, "REST", "REST needs a byte offset");
		return;
	}
	s->rest = v;
	session_reply(s, 350, "Restarting at %llu", v);
}

static void cmd_allo(struct session *s, const char *arg)
{
	(void)arg;
	session_reply(s, 202, "ALLO not needed");
}

static void cmd_abor(struct session *s, const char *arg)
{
	(void)arg;
	if (s->job.kind != JOB_NONE) {
		data_abort(s, true);
		session_reply(s, 226, "ABOR successful");
		return;
	}
	data_reset_mode(s);
	session_reply(s, 225, "No transfer to abort");
}

static void cmd_pasv(struct session *s, const char *arg)
{
	(void)arg;
	if (s->epsv_all) {
		session_refuse(s, 503, "PASV", "Only EPSV after EPSV ALL");
		return;
	}
	data_start_pasv(s, false);
}

static void cmd_epsv(struct session *s, const char *arg)
{
	if (!strcasecmp(arg, "ALL")) {
		s->epsv_all = true;
		session_reply(s, 200, "EPSV ALL ok");
		return;
	}
	if (arg[0] && strcmp(arg, "1")) {
		session_refuse(s, 522, "EPSV", "Network protocol not supported, use (1)");
		return;
	}
	data_start_pasv(s, true);
}

static void set_port(struct session *s, const struct ftps_ipc_addr *a, unsigned port,
                     const char *cmd)
{
	if (s->epsv_all) {
		session_refuse(s, 503, cmd, "Only EPSV after EPSV ALL");
		return;
	}
	if (!g_cfg->allow_port) {
		session_refuse(s, 502, cmd, "Active mode is disabled; use EPSV or PASV");
		return;
	}
	if (!g_cfg->allow_foreign_port && memcmp(a, &s->peer_addr, sizeof(*a)) != 0) {
		session_refuse(s, 501, cmd,
		               "%s refused: address differs from the control connection", cmd);
		return;
	}
	if (port < 1024) {
		session_refuse(s, 501, cmd, "%s refused: port below 1024", cmd);
		return;
	}
	data_reset_mode(s);
	s->dmode = DM_PORT;
	s->port_addr = *a;
	s->port_port = (uint16_t)port;
	session_reply(s, 200, "%s command successful", cmd);
}

static void cmd_port(struct session *s, const char *arg)
{
	unsigned v[6];
	char tail;
	struct ftps_ipc_addr a = {.family = FTPS_IPC_AF_INET};
	if (sscanf(arg, "%u,%u,%u,%u,%u,%u%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) !=
	    6) {
		session_refuse(s, 501, "PORT", "Usage: PORT h1,h2,h3,h4,p1,p2");
		return;
	}
	for (int i = 0; i < 6; i++)
		if (v[i] > 255) {
			session_refuse(s, 501, "PORT", "Usage: PORT h1,h2,h3,h4,p1,p2");
			return;
		}
	for (int i = 0; i < 4; i++)
		a.bytes[i] = (uint8_t)v[i];
	set_port(s, &a, v[4] * 256 + v[5], "PORT");
}

static void cmd_eprt(struct session *s, const char *arg)
{
	char d = arg[0], proto[4], host[64], port[8];
	struct ftps_ipc_addr a = {0};
	const char *p = arg + 1;
	char *fields[3] = {proto, host, port};
	size_t caps[3] = {sizeof(proto), sizeof(host), sizeof(port)};

	if (d < 33 || d > 126)
		goto bad;
	for (int f = 0; f < 3; f++) {
		const char *e = strchr(p, d);
		if (e == NULL || (size_t)(e - p) >= caps[f] || e == p)
			goto bad;
		memcpy(fields[f], p, (size_t)(e - p));
		fields[f][e - p] = '\0';
		p = e + 1;
	}
	if (*p != '\0')
		goto bad;
	if (strcmp(proto, "1") != 0) {
		session_refuse(s, 522, "EPRT", "Network protocol not supported, use (1)");
		return;
	}
	a.family = FTPS_IPC_AF_INET;
	if (inet_pton(AF_INET, host, a.bytes) != 1)
		goto bad;
	char *end;
	unsigned long pn = strtoul(port, &end, 10);
	if (*end || pn == 0 || pn > 65535)
		goto bad;
	set_port(s, &a, (unsigned)pn, "EPRT");
	return;
bad:
	session_refuse(s, 501, "EPRT", "Usage: EPRT |1|address|port|");
}

/* Data commands: prepare the job, then data_begin_job. */
static bool data_preconditions(struct session *s, const char *cmd)
{
	if (g_cfg->require_prot_p && !s->prot_p) {
		session_refuse(s, 521, cmd, "Data connections require PBSZ 0 and PROT P");
		return false;
	}
	if (s->dmode == DM_NONE) {
		session_refuse(s, 425, cmd, "Use PASV, EPSV, PORT or EPRT first");
		return false;
	}
	return true;
}

static void list_common(struct session *s, const char *arg, enum listing_kind kind, const char *cmd)
{
	char vp[VPATH_MAX];
	struct stat st;

	if (!need_perm(s, PERM_READ, cmd) || !data_preconditions(s, cmd))
		return;
	/* skip ls-style options ("-la") that clients send with LIST */
	while (kind != LISTING_MLSD && arg[0] == '-') {
		const char *sp = strchr(arg, ' ');
		arg = sp ? sp + 1 : "";
	}
	if (vpath_of(s, arg, vp))
		return;
	int fd = path_open(s->root_fd, vp, O_RDONLY, 0);
	if (fd < 0) {
		refuse_path(s, cmd, vp, errno);
		return;
	}
	bbuf_init(&s->job.buf, 64u * 1024u * 1024u);
	if (fstat(fd, &st) != 0) {
		close(fd);
		refuse_path(s, cmd, vp, errno);
		return;
	}
	int rc;
	if (S_ISDIR(st.st_mode)) {
		rc = listing_dir(fd, kind, s->user.perms, &s->job.buf);
	} else if (kind == LISTING_MLSD) {
		close(fd);
		session_refuse(s, 501, cmd, "%s: not a directory", vp);
		return;
	} else {
		const char *base = strrchr(vp, '/');
		rc = listing_one(&st, base ? base + 1 : vp, kind, s->user.perms, &s->job.buf);
		close(fd);
	}
	if (rc != 0) {
		bbuf_free(&s->job.buf);
		session_refuse(s, 451, cmd, "Listing failed");
		return;
	}
	s->job.kind = JOB_SEND_BUFFER;
	snprintf(s->job.vpath, sizeof(s->job.vpath), "%s", vp);
	s->job.xfer_dir = 0;
	data_begin_job(s);
}

static void cmd_list(struct session *s, const char *arg)
{
	list_common(s, arg, LISTING_LS, "LIST");
}

static void cmd_nlst(struct session *s, const char *arg)
{
	list_common(s, arg, LISTING_NLST, "NLST");
}

static void cmd_mlsd(struct session *s, const char *arg)
{
	list_common(s, arg, LISTING_MLSD, "MLSD");
}

static void cmd_mlst(struct session *s, const char *arg)
{
	char vp[VPATH_MAX], facts[256];
	struct stat st;
	if (!need_perm(s, PERM_READ, "MLST") || stat_path(s, arg, "MLST", vp, &st))
		return;
	if (listing_facts(&st, NULL, s->user.perms, facts, sizeof(facts)) == 0) {
		session_reply(s, 451, "MLST failed");
		return;
	}
	session_reply(s, 250, "Listing %s\n%s %s\nEnd", vp, facts, vp);
}

static void cmd_stat(struct session *s, const char *arg)
{
	if (arg[0] == '\0') {
		session_reply(s, 211,
		              "ftps-control status:\nConnected from %s\nLogged in as %s\n"
		              "TLS %s, PROT %s\nEnd of status",
		              s->peer_str, s->logged_in ? s->user_name : "(nobody)",
		              s->tls_on ? tls_stream_version(&s->tls) : "off",
		              s->prot_p ? "P" : "C");
		return;
	}
	if (!s->logged_in) {
		session_refuse(s, 530, "STAT", "Please login with USER and PASS");
		return;
	}
	session_refuse(s, 504, "STAT", "STAT with a path is not supported; use MLST or LIST");
}

static void cmd_hash(struct session *s, const char *arg)
{
	char vp[VPATH_MAX];
	unsigned char md[EVP_MAX_MD_SIZE], buf[65536];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	struct stat st;

	if (!need_perm(s, PERM_READ, "HASH") || vpath_of(s, arg, vp))
		return;
	int fd = path_open(s->root_fd, vp, O_RDONLY, 0);
	if (fd < 0) {
		refuse_path(s, "HASH", vp, errno);
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		session_refuse(s, 550, "HASH", "%s: not a regular file", vp);
		return;
	}
	/* Runs in the event loop: bounded so one client cannot stall others. */
	if (st.st_size > 256ll * 1024 * 1024) {
		close(fd);
		session_refuse(s, 556, "HASH", "File too large to hash here (256 MiB limit)");
		return;
	}
	const EVP_MD *alg = !strcmp(s->hash_algo, "SHA-1") ? EVP_sha1()
	                    : !strcmp(s->hash_algo, "MD5") ? EVP_md5()
	                                                   : EVP_sha256();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestInit_ex(ctx, alg, NULL) == 1;
	ssize_t n;
	while (ok && (n = read(fd, buf, sizeof(buf))) > 0)
		ok = EVP_DigestUpdate(ctx, buf, (size_t)n) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
	EVP_MD_CTX_free(ctx);
	close(fd);
	if (!ok) {
		session_reply(s, 451, "Hash failed");
		return;
	}
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	session_reply(s, 213, "%s 0-%lld %s %s", s->hash_algo, (long long)st.st_size, hex, vp);
}

static void open_transfer(struct session *s, const char *arg, const char *cmd, int kind)
{
	char vp[VPATH_MAX];
	int flags;
	unsigned perm = PERM_WRITE;

	switch (kind) {
	case CMD_RETR:
		flags = O_RDONLY;
		perm = PERM_READ;
		break;
	case CMD_STOR:
		flags = O_WRONLY | O_CREAT | (s->rest ? 0 : O_TRUNC);
		break;
	case CMD_APPE:
		flags = O_WRONLY | O_CREAT | O_APPEND;
		break;
	default: /* STOU */
		flags = O_WRONLY | O_CREAT | O_EXCL;
		break;
	}
	if (!need_perm(s, perm, cmd) || !data_preconditions(s, cmd))
		return;
	int fd = -1;
	bool created = kind == CMD_STOU;
	if (kind == CMD_STOU) {
		for (int i = 0; i < 100 && fd < 0; i++) {
			char name[96];
			snprintf(name, sizeof(name), "%s%sftps.%llu.%d", arg, arg[0] ? "." : "",
			         (unsigned long long)time(NULL), i);
			if (vpath_of(s, name, vp))
				return;
			fd = path_open(s->root_fd, vp, flags, 0644);
			if (fd < 0 && errno != EEXIST)
				break;
		}
	} else {
		if (vpath_of(s, arg, vp))
			return;
		/* Whether the upload creates the file decides whether 226 also
		 * waits for its directory entry to be durable. */
		if (flags & O_CREAT) {
			fd = path_open(s->root_fd, vp, (flags & ~O_TRUNC) | O_EXCL, 0644);
			created = fd >= 0;
		}
		if (fd < 0 && (!(flags & O_CREAT) || errno == EEXIST))
			fd = path_open(s->root_fd, vp, flags, 0644);
	}
	if (fd < 0) {
		refuse_path(s, cmd, vp, errno);
		return;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		session_refuse(s, 550, cmd, "%s: not a regular file", vp);
		return;
	}
	if (s->rest && kind == CMD_RETR && s->rest > (uint64_t)st.st_size) {
		close(fd);
		session_refuse(s, 554, cmd, "Restart offset beyond the end of the file");
		return;
	}
	s->job.kind = kind == CMD_RETR ? JOB_RETR : JOB_STOR;
	s->job.fd = fd;
	s->job.offset = kind == CMD_APPE ? 0 : s->rest;
	s->rest = 0;
	s->job.xfer_dir = kind == CMD_RETR ? 'o' : 'i';
	s->job.created = created;
	snprintf(s->job.vpath, sizeof(s->job.vpath), "%s", vp);
	if (kind == CMD_STOR && s->job.offset && ftruncate(fd, (off_t)s->job.offset) != 0) {
		close(fd);
		s->job.kind = JOB_NONE;
		s->job.fd = -1;
		refuse_path(s, cmd, vp, errno);
		return;
	}
	data_begin_job(s);
}

static void cmd_retr(struct session *s, const char *arg)
{
	open_transfer(s, arg, "RETR", CMD_RETR);
}
static void cmd_stor(struct session *s, const char *arg)
{
	open_transfer(s, arg, "STOR", CMD_STOR);
}
static void cmd_stou(struct session *s, const char *arg)
{
	open_transfer(s, arg, "STOU", CMD_STOU);
}
static void cmd_appe(struct session *s, const char *arg)
{
	open_transfer(s, arg, "APPE", CMD_APPE);
}

static const cmd_fn handlers[CMD_COUNT] = {
    [CMD_USER] = cmd_user, [CMD_PASS] = cmd_pass, [CMD_QUIT] = cmd_quit, [CMD_NOOP] = cmd_noop,
    [CMD_SYST] = cmd_syst, [CMD_FEAT] = cmd_feat, [CMD_OPTS] = cmd_opts, [CMD_HELP] = cmd_help,
    [CMD_STAT] = cmd_stat, [CMD_AUTH] = cmd_auth, [CMD_PBSZ] = cmd_pbsz, [CMD_PROT] = cmd_prot,
    [CMD_CCC] = cmd_ccc,   [CMD_TYPE] = cmd_type, [CMD_MODE] = cmd_mode, [CMD_STRU] = cmd_stru,
    [CMD_PWD] = cmd_pwd,   [CMD_CWD] = cmd_cwd,   [CMD_CDUP] = cmd_cdup, [CMD_MKD] = cmd_mkd,
    [CMD_RMD] = cmd_rmd,   [CMD_DELE] = cmd_dele, [CMD_RNFR] = cmd_rnfr, [CMD_RNTO] = cmd_rnto,
    [CMD_SIZE] = cmd_size, [CMD_MDTM] = cmd_mdtm, [CMD_MFMT] = cmd_mfmt, [CMD_REST] = cmd_rest,
    [CMD_ALLO] = cmd_allo, [CMD_ABOR] = cmd_abor, [CMD_LIST] = cmd_list, [CMD_NLST] = cmd_nlst,
    [CMD_MLSD] = cmd_mlsd, [CMD_MLST] = cmd_mlst, [CMD_PASV] = cmd_pasv, [CMD_EPSV] = cmd_epsv,
    [CMD_PORT] = cmd_port, [CMD_EPRT] = cmd_eprt, [CMD_HASH] = cmd_hash, [CMD_RETR] = cmd_retr,
    [CMD_STOR] = cmd_stor, [CMD_STOU] = cmd_stou, [CMD_APPE] = cmd_appe,
};

bool command_allowed_busy(const struct ftp_request *req)
{
	switch (req->def->id) {
	case CMD_ABOR:
	case CMD_NOOP:
	case CMD_STAT:
	case CMD_QUIT:
		return true;
	default:
		return false;
	}
}

void command_dispatch(struct session *s, struct ftp_request *req)
{
	const struct ftp_cmd_def *d = req->def;

	/* RFC 2228: a command that is not AUTH after we require TLS is
	 * refused before anything else happens. */
	if (g_cfg->require_tls && !s->tls_on && d->id != CMD_AUTH && d->id != CMD_QUIT &&
	    d->id != CMD_FEAT && d->id != CMD_NOOP && d->id != CMD_SYST && d->id != CMD_HELP &&
	    d->id != CMD_USER) {
		session_refuse(s, 530, d->name, "TLS required: use AUTH TLS first");
		return;
	}
	if (d->need_login && !s->logged_in) {
		session_refuse(s, 530, d->name, "Please login with USER and PASS");
		return;
	}
	if (d->id != CMD_RNTO && d->id != CMD_RNFR)
		s->rnfr_set = false;
	if (d->id != CMD_REST && d->id != CMD_RETR && d->id != CMD_STOR && d->id != CMD_APPE &&
	    d->id != CMD_STOU && d->id != CMD_STAT && d->id != CMD_NOOP)
		s->rest = 0;
	handlers[d->id](s, req->arg);
}
