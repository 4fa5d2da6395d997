/* Logging: diagnostics to stderr, the session log (peer, user, every refused
 * action) and the xferlog-format transfer log. Single-threaded process. */
#ifndef FTPS_CONTROL_LOG_H
#define FTPS_CONTROL_LOG_H

#include <stdint.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
/* (Re)open the log files; NULL or "" disables that log. Returns 0 or -1. */
int log_open(const char *session_log, const char *xferlog);
void log_close(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One session-log line: "<time> [<sid>] <peer> <user> <text>". */
void log_session(uint64_t sid, const char *peer, const char *user, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* One xferlog line (wu-ftpd format). direction 'o' (RETR) or 'i' (STOR);
 * complete 'c' or incomplete 'i'. */
void log_xfer(const char *peer, uint64_t bytes, const char *path, char direction, const char *user,
              char complete, double seconds);

#endif
