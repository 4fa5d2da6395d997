#include "ftp_cmd.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct ftp_cmd_def commands[] = {
    {"USER", CMD_USER, ARG_REQUIRED, false, false}, {"PASS", CMD_PASS, ARG_OPTIONAL, false, false},
    {"QUIT", CMD_QUIT, ARG_NONE, false, false},     {"NOOP", CMD_NOOP, ARG_NONE, false, false},
    {"SYST", CMD_SYST, ARG_NONE, false, false},     {"FEAT", CMD_FEAT, ARG_NONE, false, false},
    {"OPTS", CMD_OPTS, ARG_REQUIRED, false, false}, {"HELP", CMD_HELP, ARG_OPTIONAL, false, false},
    {"STAT", CMD_STAT, ARG_OPTIONAL, false, false}, {"AUTH", CMD_AUTH, ARG_REQUIRED, false, false},
    {"PBSZ", CMD_PBSZ, ARG_REQUIRED, false, false}, {"PROT", CMD_PROT, ARG_REQUIRED, false, false},
    {"CCC", CMD_CCC, ARG_NONE, false, false},       {"TYPE", CMD_TYPE, ARG_REQUIRED, true, false},
    {"MODE", CMD_MODE, ARG_REQUIRED, true, false},  {"STRU", CMD_STRU, ARG_REQUIRED, true, false},
    {"PWD", CMD_PWD, ARG_NONE, true, false},        {"XPWD", CMD_PWD, ARG_NONE, true, false},
    {"CWD", CMD_CWD, ARG_REQUIRED, true, false},    {"XCWD", CMD_CWD, ARG_REQUIRED, true, false},
    {"CDUP", CMD_CDUP, ARG_NONE, true, false},      {"XCUP", CMD_CDUP, ARG_NONE, true, false},
    {"MKD", CMD_MKD, ARG_REQUIRED, true, false},    {"XMKD", CMD_MKD, ARG_REQUIRED, true, false},
    {"RMD", CMD_RMD, ARG_REQUIRED, true, false},    {"XRMD", CMD_RMD, ARG_REQUIRED, true, false},
    {"DELE", CMD_DELE, ARG_REQUIRED, true, false},  {"RNFR", CMD_RNFR, ARG_REQUIRED, true, false},
    {"RNTO", CMD_RNTO, ARG_REQUIRED, true, false},  {"SIZE", CMD_SIZE, ARG_REQUIRED, true, false},
    {"MDTM", CMD_MDTM, ARG_REQUIRED, true, false},  {"MFMT", CMD_MFMT, ARG_REQUIRED, true, false},
    {"REST", CMD_REST, ARG_REQUIRED, true, false},  {"ALLO", CMD_ALLO, ARG_OPTIONAL, true, false},
    {"ABOR", CMD_ABOR, ARG_NONE, true, false},      {"LIST", CMD_LIST, ARG_OPTIONAL, true, true},
    {"NLST", CMD_NLST, ARG_OPTIONAL, true, true},   {"MLSD", CMD_MLSD, ARG_OPTIONAL, true, true},
    {"MLST", CMD_MLST, ARG_OPTIONAL, true, false},  {"PASV", CMD_PASV, ARG_NONE, true, false},
    {"EPSV", CMD_EPSV, ARG_OPTIONAL, true, false},  {"PORT", CMD_PORT, ARG_REQUIRED, true, false},
    {"EPRT", CMD_EPRT, ARG_REQUIRED, true, false},  {"HASH", CMD_HASH, ARG_REQUIRED, true, false},
    {"RETR", CMD_RETR, ARG_REQUIRED, true, true},   {"STOR", CMD_STOR, ARG_REQUIRED, true, true},
    {"STOU", CMD_STOU, ARG_OPTIONAL, true, true},   {"APPE", CMD_APPE, ARG_REQUIRED, true, true},
};

const struct ftp_cmd_def *ftp_cmd_table(size_t *count)
{
	*count = sizeof(commands) / sizeof(commands[0]);
	return commands;
}

const struct ftp_cmd_def *ftp_cmd_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcasecmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

enum ftp_line_result ftp_line_next(const char *buf, size_t len, size_t max_line, size_t *line_len,
                                   size_t *consumed)
{
	size_t limit = len < max_line + 2 ? len : max_line + 2; /* room for CR LF */
	const char *lf = memchr(buf, '\n', limit);

	if (lf == NULL) {
		if (len >= max_line + 2) {
			*consumed = len;
			*line_len = 0;
			return FTP_LINE_TOO_LONG;
		}
		return FTP_LINE_INCOMPLETE;
	}
	size_t n = (size_t)(lf - buf);
	*consumed = n + 1;
	if (n > 0 && buf[n - 1] == '\r')
		n--; /* bare LF is accepted as many servers do */
	if (n > max_line) {
		*line_len = 0;
		return FTP_LINE_TOO_LONG;
	}
	*line_len = n;
	return FTP_LINE_OK;
}

enum ftp_parse_result ftp_parse_line(char *line, size_t len, struct ftp_request *req)
{
	char verb[8];
	size_t i = 0;

	req->def = NULL;
	req->arg = "";
	if (len == 0)
		return FTP_PARSE_EMPTY;
	/* Verb: 3 or 4 letters (RFC 959 5.3.1), then end or exactly one space. */
	while (i < len && line[i] != ' ') {
		unsigned char ch = (unsigned char)line[i];
		if (i >= 4 || !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')))
			return FTP_PARSE_SYNTAX;
		verb[i] = (char)ch;
		i++;
	}
	if (i < 3)
		return FTP_PARSE_SYNTAX;
	verb[i] = '\0';
	const struct ftp_cmd_def *def = ftp_cmd_lookup(verb);
	if (def == NULL)
		return FTP_PARSE_UNKNOWN;
	req->def = def;
	const char *arg = "";
	if (i < len) {
		/* line[i] == ' ' */
		for (size_t j = i + 1; j < len; j++) {
			unsigned char ch = (unsigned char)line[j];
			if (ch < 0x20 || ch == 0x7f)
				return FTP_PARSE_BAD_ARG;
		}
		line[i] = '\0';
		line[len] = '\0';
		arg = line + i + 1;
	} else {
		line[len] = '\0';
	}
	req->arg = arg;
	if (def->arg == ARG_REQUIRED && arg[0] == '\0')
		return FTP_PARSE_BAD_ARG;
	if (def->arg == ARG_NONE && i < len)
		return FTP_PARSE_BAD_ARG;
	return FTP_PARSE_OK;
}

static size_t put_line(char *out, size_t cap, size_t pos, int code, char sep, const char *text,
                       size_t n)
{
	char head[8];
	int h = code >= 0 ? snprintf(head, sizeof(head), "%03d%c", code, sep)
	                  : snprintf(head, sizeof(head), " ");
	if (h < 0 || pos + (size_t)h + n + 2 > cap)
		return 0;
	memcpy(out + pos, head, (size_t)h);
	pos += (size_t)h;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)text[i];
		out[pos++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	out[pos++] = '\r';
	out[pos++] = '\n';
	return pos;
}

size_t ftp_reply_format(char *out, size_t cap, int code, const char *text)
{
	size_t pos = 0;
	const char *nl = strchr(text, '\n');

	if (code < 100 || code > 599)
		return 0;
	if (nl == NULL)
		return put_line(out, cap, 0, code, ' ', text, strlen(text));
	pos = put_line(out, cap, 0, code, '-', text, (size_t)(nl - text));
	if (pos == 0)
		return 0;
	const char *p = nl + 1;
	for (;;) {
		nl = strchr(p, '\n');
		if (nl == NULL) {
			return put_line(out, cap, pos, code, ' ', p, strlen(p));
		}
		pos = put_line(out, cap, pos, -1, ' ', p, (size_t)(nl - p));
		if (pos == 0)
			return 0;
		p = nl + 1;
	}
}
