/* Parsing of FTP server replies and listings (RFC 959, 2389, 2428, 3659 and
 * draft-bryan-ftpext-hash). Pure functions over NUL-terminated text, no I/O,
 * so they are unit-tested directly; every input is treated as hostile. */
#ifndef FTPS_FTP_REPLY_H
#define FTPS_FTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest reply line accepted; longer lines are an error, not truncated. */
#define FTP_LINE_MAX 4096

/* Reply code of a line ("230 ok" -> 230) or -1. *more is true for the first
 * line of a multi-line reply ("230-..."). */
int ftp_reply_code(const char *line, bool *more);

/* "229 Entering Extended Passive Mode (|||6446|)" (RFC 2428 3). */
int ftp_parse_epsv(const char *text, uint16_t *port);
/* "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)" (RFC 959 4.1.2). */
int ftp_parse_pasv(const char *text, uint8_t ip[4], uint16_t *port);
/* "213 12345" (RFC 3659 4). */
int ftp_parse_size(const char *text, uint64_t *size);

struct ftp_features {
	bool epsv;
	bool mlsd;
	bool rest_stream;
	bool size;
	bool utf8;
	bool hash_sha256;          /* HASH offered with SHA-256 */
	bool hash_sha256_selected; /* SHA-256 already the current algorithm ("*") */
};
/* Feed one line of a FEAT reply (RFC 2389 3.2), e.g. " HASH SHA-1;SHA-256*". */
void ftp_feat_line(struct ftp_features *f, const char *line);

/* "213 SHA-256 0-49 169cd2...e5 name" (draft-bryan-ftpext-hash 3.2). hex is
 * lower-cased; only SHA-256 (64 hex digits) is accepted. */
int ftp_parse_hash(const char *text, uint64_t *start, uint64_t *end, char hex[65]);

enum ftp_entry_type { FTP_ENTRY_FILE, FTP_ENTRY_DIR, FTP_ENTRY_OTHER };
struct ftp_entry {
	enum ftp_entry_type type;
	uint64_t size;
	char name[1024];
};
/* One line of a Unix-style LIST reply ("-rw-r--r-- 1 u g 123 Nov 27 11:00 f").
 * Returns 0 for an entry, 1 for a line to skip ("total 8", ".", ".."), -1 for
 * a line that cannot be parsed. Names with '/' are rejected (-1). */
int ftp_parse_list_line(const char *line, struct ftp_entry *e);
/* One MLSD line ("type=file;size=123;modify=...; name", RFC 3659 7). Same
 * return convention. */
int ftp_parse_mlsd_line(const char *line, struct ftp_entry *e);

/* A path we may put on the control connection: no CR, LF or NUL (a CR LF
 * inside a path would inject a second command). */
bool ftp_path_ok(const char *path);

#endif
