/* Strict FTP command parsing (RFC 959 4.1, 5.3): line framing with a length
 * limit, a const table of commands with their argument rule and whether they
 * need a logged-in user, and reply formatting (single and multi-line). No
 * I/O and no allocation, so the fuzzer drives it directly. */
#ifndef FTPS_CONTROL_FTP_CMD_H
#define FTPS_CONTROL_FTP_CMD_H

#include <stdbool.h>
#include <stddef.h>

enum ftp_cmd_id {
	CMD_USER,
	CMD_PASS,
	CMD_QUIT,
	CMD_NOOP,
	CMD_SYST,
	CMD_FEAT,
	CMD_OPTS,
	CMD_HELP,
	CMD_STAT,
	CMD_AUTH,
	CMD_PBSZ,
	CMD_PROT,
	CMD_CCC,
	CMD_TYPE,
	CMD_MODE,
	CMD_STRU,
	CMD_PWD,
	CMD_CWD,
	CMD_CDUP,
	CMD_MKD,
	CMD_RMD,
	CMD_DELE,
	CMD_RNFR,
	CMD_RNTO,
	CMD_SIZE,
	CMD_MDTM,
	CMD_MFMT,
	CMD_REST,
	CMD_ALLO,
	CMD_ABOR,
	CMD_LIST,
	CMD_NLST,
	CMD_MLSD,
	CMD_MLST,
	CMD_PASV,
	CMD_EPSV,
	CMD_PORT,
	CMD_EPRT,
	CMD_HASH,
	CMD_RETR,
	CMD_STOR,
	CMD_STOU,
	CMD_APPE,
	CMD_COUNT
};

enum ftp_arg_rule { ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL };

struct ftp_cmd_def {
	const char *name;
	enum ftp_cmd_id id;
	enum ftp_arg_rule arg;
	bool need_login;
	bool uses_data; /* opens a data connection */
};

struct ftp_request {
	const struct ftp_cmd_def *def;
	const char *arg; /* NUL-terminated, inside the caller's line; "" if none */
};

enum ftp_parse_result {
	FTP_PARSE_OK,
	FTP_PARSE_EMPTY,   /* blank line: ignored */
	FTP_PARSE_UNKNOWN, /* 500 */
	FTP_PARSE_SYNTAX,  /* 500: malformed verb or control bytes */
	FTP_PARSE_BAD_ARG, /* 501: argument missing, present where none allowed, or bad bytes */
};

/* Parse one line (without CR LF), NUL-terminating pieces in place. */
enum ftp_parse_result ftp_parse_line(char *line, size_t len, struct ftp_request *req);

enum ftp_line_result { FTP_LINE_OK, FTP_LINE_INCOMPLETE, FTP_LINE_TOO_LONG };

/* Find the first line in buf[0..len). On FTP_LINE_OK: *line_len is its length
 * without CR LF, *consumed includes the terminator. On FTP_LINE_TOO_LONG (no
 * LF within max_line bytes): *consumed says how much to discard; the caller
 * keeps discarding (discard_until_lf) up to the next LF. */
enum ftp_line_result ftp_line_next(const char *buf, size_t len, size_t max_line, size_t *line_len,
                                   size_t *consumed);

/* Look up a command by name (case-insensitive); NULL if unknown. */
const struct ftp_cmd_def *ftp_cmd_lookup(const char *name);
const struct ftp_cmd_def *ftp_cmd_table(size_t *count);

/* Format a reply: text may hold '\n' for a multi-line reply, which becomes
 * "ccc-first", " middle" lines and "ccc last" (RFC 959 4.2). CR and other
 * control bytes in text are replaced. Returns bytes written (always CR LF
 * terminated) or 0 if it does not fit. */
size_t ftp_reply_format(char *out, size_t cap, int code, const char *text);

#endif
