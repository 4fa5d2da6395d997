#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level max_level = LOG_INFO;
static FILE *session_file;
static FILE *xfer_file;

void log_set_level(enum log_level level)
{
	max_level = level;
}

static FILE *open_append(const char *path)
{
	if (path == NULL || path[0] == '\0')
		return NULL;
	FILE *f = fopen(path, "ae");
	if (f != NULL)
		setvbuf(f, NULL, _IOLBF, 0);
	return f;
}

int log_open(const char *session_log, const char *xferlog)
{
	FILE *s = open_append(session_log);
	FILE *x = open_append(xferlog);

	if ((session_log && session_log[0] && s == NULL) || (xferlog && xferlog[0] && x == NULL)) {
		if (s)
			fclose(s);
		if (x)
			fclose(x);
		return -1;
	}
	log_close();
	session_file = s;
	xfer_file = x;
	return 0;
}

void log_close(void)
{
	if (session_file)
		fclose(session_file);
	if (xfer_file)
		fclose(xfer_file);
	session_file = xfer_file = NULL;
}

static void timestamp(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	char ts[32];
	va_list ap;

	if (level > max_level)
		return;
	timestamp(ts, sizeof(ts));
	fprintf(stderr, "%s ftps-control %s: ", ts, names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void log_session(uint64_t sid, const char *peer, const char *user, const char *fmt, ...)
{
	char ts[32], text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Control characters from clients never reach a log verbatim. */
	for (char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
	timestamp(ts, sizeof(ts));
	FILE *f = session_file ? session_file : stderr;
	fprintf(f, "%s [%llu] %s %s %s\n", ts, (unsigned long long)sid, peer ? peer : "-",
	        user && user[0] ? user : "-", text);
}

void log_xfer(const char *peer, uint64_t bytes, const char *path, char direction, const char *user,
              char complete, double seconds)
{
	char ts[64];
	time_t now = time(NULL);
	struct tm tm;

	if (xfer_file == NULL)
		return;
	localtime_r(&now, &tm);
	if (strftime(ts, sizeof(ts), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		ts[0] = '\0';
	/* xferlog: time duration host bytes file type action direction access
	 * user service auth-method auth-user-id status. Spaces in the path
	 * are written as '_' as wu-ftpd did. */
	char safe[1024];
	size_t i = 0;
	for (; path[i] && i + 1 < sizeof(safe); i++)
		safe[i] = (path[i] == ' ' || (unsigned char)path[i] < 0x20) ? '_' : path[i];
	safe[i] = '\0';
	fprintf(xfer_file, "%s %.0f %s %llu %s b _ %c r %s ftp 0 * %c\n", ts,
	        seconds < 1 ? 1 : seconds, peer, (unsigned long long)bytes, safe, direction, user,
	        complete);
}
