/* Unit tests for the FTP command parser, line framing and replies. */
#include <string.h>

#include "check.h"
#include "ftp_cmd.h"

static enum ftp_parse_result parse(const char *text, struct ftp_request *req, char *store)
{
	size_t n = strlen(text);
	memcpy(store, text, n + 1);
	return ftp_parse_line(store, n, req);
}

static void test_parse(void)
{
	struct ftp_request r;
	char b[256];

	CHECK_EQ(parse("USER alice", &r, b), FTP_PARSE_OK);
	CHECK_EQ(r.def->id, CMD_USER);
	CHECK(strcmp(r.arg, "alice") == 0);
	CHECK_EQ(parse("user alice", &r, b), FTP_PARSE_OK); /* verbs are case-insensitive */
	CHECK_EQ(parse("XPWD", &r, b), FTP_PARSE_OK);
	CHECK_EQ(r.def->id, CMD_PWD);
	CHECK_EQ(parse("XCUP", &r, b), FTP_PARSE_OK);
	CHECK_EQ(r.def->id, CMD_CDUP);
	CHECK_EQ(parse("FOO bar", &r, b), FTP_PARSE_UNKNOWN);
	CHECK_EQ(parse("USER", &r, b), FTP_PARSE_BAD_ARG);       /* missing argument */
	CHECK_EQ(parse("PWD x", &r, b), FTP_PARSE_BAD_ARG);      /* argument not allowed */
	CHECK_EQ(parse("CWD a\x01b", &r, b), FTP_PARSE_BAD_ARG); /* control byte */
	CHECK_EQ(parse("US3R x", &r, b), FTP_PARSE_SYNTAX);
	CHECK_EQ(parse("LISTING", &r, b), FTP_PARSE_SYNTAX);
	CHECK_EQ(parse("\xff\xf4\xff\xf2", &r, b), FTP_PARSE_SYNTAX);
	CHECK_EQ(parse("", &r, b), FTP_PARSE_EMPTY);
	CHECK_EQ(parse("LIST", &r, b), FTP_PARSE_OK);
	CHECK(r.arg[0] == '\0');
	CHECK_EQ(parse("PASS", &r, b), FTP_PARSE_OK); /* empty password allowed */
	CHECK_EQ(parse("CWD dir with spaces", &r, b), FTP_PARSE_OK);
	CHECK(strcmp(r.arg, "dir with spaces") == 0);
	size_t n;
	const struct ftp_cmd_def *t = ftp_cmd_table(&n);
	CHECK(n >= 48);
	for (size_t i = 0; i < n; i++)
		CHECK(ftp_cmd_lookup(t[i].name) == &t[i]);
}

static void test_lines(void)
{
	size_t len, used;
	CHECK_EQ(ftp_line_next("NOOP\r\nQUIT\r\n", 12, 512, &len, &used), FTP_LINE_OK);
	CHECK_EQ(len, 4);
	CHECK_EQ(used, 6);
	CHECK_EQ(ftp_line_next("NOOP\n", 5, 512, &len, &used), FTP_LINE_OK);
	CHECK_EQ(len, 4);
	CHECK_EQ(ftp_line_next("NOO", 3, 512, &len, &used), FTP_LINE_INCOMPLETE);
	char big[600];
	memset(big, 'A', sizeof(big));
	CHECK_EQ(ftp_line_next(big, sizeof(big), 512, &len, &used), FTP_LINE_TOO_LONG);
	CHECK_EQ(used, sizeof(big));
	big[550] = '\n';
	CHECK_EQ(ftp_line_next(big, 560, 512, &len, &used), FTP_LINE_TOO_LONG);
	big[100] = '\n';
	CHECK_EQ(ftp_line_next(big, 560, 512, &len, &used), FTP_LINE_OK);
	CHECK_EQ(len, 100);
}

static void test_replies(void)
{
	char out[256];
	size_t n = ftp_reply_format(out, sizeof(out), 200, "OK");
	CHECK_EQ(n, 8);
	CHECK(memcmp(out, "200 OK\r\n", 8) == 0);
	n = ftp_reply_format(out, sizeof(out), 211, "Features:\nUTF8\n211 looks like code\nEnd");
	const char *want = "211-Features:\r\n UTF8\r\n 211 looks like code\r\n211 End\r\n";
	CHECK_EQ(n, strlen(want));
	CHECK(memcmp(out, want, n) == 0);
	n = ftp_reply_format(out, sizeof(out), 500, "bad\rcr");
	CHECK(memcmp(out, "500 bad?cr\r\n", n) == 0);
	CHECK_EQ(ftp_reply_format(out, 5, 200, "too long"), 0);
	CHECK_EQ(ftp_reply_format(out, sizeof(out), 99, "x"), 0);
}

int main(void)
{
	test_parse();
	test_lines();
	test_replies();
	return check_finish("test_ftp_cmd");
}
