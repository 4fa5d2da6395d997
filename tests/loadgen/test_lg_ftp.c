/* The FTP side both load generator modes share: replies (RFC 959 4.2
 * multi-line, partial, malformed, oversized), EPSV ports (RFC 2428), the
 * plan of a small-file storm, and the checks of a finished transfer. */
#include "check.h"
#include "lg_ftp.h"

#include <openssl/evp.h>
#include <string.h>

static void test_replies(void)
{
	char buf[64], line[32];
	size_t len;
	int code = 0;

	strcpy(buf, "220 ready\r\n331 more");
	len = strlen(buf);
	CHECK_EQ(lg_reply_take(buf, &len, sizeof(buf), &code, line, sizeof(line)), 1);
	CHECK_EQ(code, 220);
	CHECK(strcmp(line, "220 ready\r\n") == 0);
	CHECK_EQ(len, strlen("331 more")); /* the next reply stays, incomplete */
	CHECK_EQ(lg_reply_take(buf, &len, sizeof(buf), &code, line, sizeof(line)), 0);

	/* Multi-line: lines in between may look like other codes. */
	strcpy(buf, "230-welcome\r\n 331 not this\r\n230 done\r\n");
	len = strlen(buf);
	CHECK_EQ(lg_reply_take(buf, &len, sizeof(buf), &code, line, sizeof(line)), 1);
	CHECK_EQ(code, 230);
	CHECK_EQ(len, 0);

	strcpy(buf, "hello\r\n");
	len = strlen(buf);
	CHECK_EQ(lg_reply_take(buf, &len, sizeof(buf), &code, line, sizeof(line)), -1);

	/* A first line longer than the line buffer is cut, not overrun. */
	strcpy(buf, "250 a rather long first line of a reply\r\n");
	len = strlen(buf);
	CHECK_EQ(lg_reply_take(buf, &len, sizeof(buf), &code, line, 8), 1);
	CHECK(strcmp(line, "250 a r") == 0);

	/* A buffer full of a reply that never ends is an error. */
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "226-", 4);
	len = sizeof(buf);
	CHECK_EQ(lg_reply_take(buf, &len, sizeof(buf), &code, line, sizeof(line)), -1);
}

static void test_epsv(void)
{
	uint16_t port = 0;
	CHECK_EQ(lg_parse_epsv("229 Entering Extended Passive Mode (|||40001|)\r\n", &port), 0);
	CHECK_EQ(port, 40001);
	CHECK_EQ(lg_parse_epsv("229 (|||0|)", &port), -1);
	CHECK_EQ(lg_parse_epsv("229 (|||65536|)", &port), -1);
	CHECK_EQ(lg_parse_epsv("229 (|||12x|)", &port), -1);
	CHECK_EQ(lg_parse_epsv("229 Entering Passive Mode (198,18,0,1,4,1)", &port), -1);
}

static void test_small_plan_and_checks(void)
{
	static struct lg_run run;
	static struct lg_pattern pattern;
	struct lg_xfer x;
	uint64_t seq = 0;
	int retr_next = 0;
	run.opt.workload = LG_WL_SMALL;
	run.opt.size = 4096;
	run.opt.count = 2;
	run.opt.seed = 7;
	run.opt.prefix = "t";

	CHECK_EQ(lg_plan_next(&run, 3, &seq, &retr_next, 0, &pattern, &x), 1);
	CHECK_EQ(x.op, LG_OP_STOR);
	CHECK(strcmp(x.name, "t-s3-0.bin") == 0);
	CHECK_EQ(x.expect_size, 4096);
	CHECK_EQ(run.issued, 1);
	/* The stored file is read back and must hash as the pattern. */
	CHECK_EQ(lg_plan_next(&run, 3, &seq, &retr_next, 0, &pattern, &x), 1);
	CHECK_EQ(x.op, LG_OP_RETR);
	CHECK(strcmp(x.name, "t-s3-0.bin") == 0);
	CHECK_EQ(x.have_expect, 1);
	CHECK_EQ(run.issued, 1);
	uint8_t want[32];
	struct lg_pattern same;
	lg_pattern_init(&same, 7, "t-s3-0.bin");
	CHECK_EQ(lg_pattern_sha256(&same, 4096, want), 0);
	CHECK(memcmp(x.expect, want, 32) == 0);

	/* Checks of the finished RETR: wrong size, wrong content, then right. */
	uint8_t data[4096];
	lg_pattern_fill(&same, 0, data, sizeof(data));
	enum lg_error err = LG_ERR_COUNT;
	const char *why = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	CHECK(md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1);
	CHECK(EVP_DigestUpdate(md, data, 4095) == 1);
	CHECK_EQ(lg_finish_transfer(&run, &x, 4095, md, lg_now(), &err, &why), -1);
	CHECK_EQ(err, LG_ERR_SIZE);
	data[100] ^= 1;
	CHECK(EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1);
	CHECK(EVP_DigestUpdate(md, data, 4096) == 1);
	CHECK_EQ(lg_finish_transfer(&run, &x, 4096, md, lg_now(), &err, &why), -1);
	CHECK_EQ(err, LG_ERR_CONTENT);
	CHECK_EQ(run.files, 0);
	data[100] ^= 1;
	run.manifest = tmpfile();
	CHECK(run.manifest != NULL);
	CHECK(EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1);
	CHECK(EVP_DigestUpdate(md, data, 4096) == 1);
	CHECK_EQ(lg_finish_transfer(&run, &x, 4096, md, lg_now(), &err, &why), 0);
	CHECK_EQ(run.files, 1);
	CHECK_EQ(run.bytes_down, 4096);
	CHECK_EQ(run.lat_transfer.n, 1);
	char mline[160] = "";
	rewind(run.manifest);
	CHECK(fgets(mline, sizeof(mline), run.manifest) != NULL);
	CHECK(strncmp(mline, "retr t-s3-0.bin 4096 ", 21) == 0);
	fclose(run.manifest);
	run.manifest = NULL;
	EVP_MD_CTX_free(md);

	/* The second pair, then the count is reached. */
	CHECK_EQ(lg_plan_next(&run, 3, &seq, &retr_next, 0, &pattern, &x), 1);
	CHECK(strcmp(x.name, "t-s3-2.bin") == 0);
	CHECK_EQ(lg_plan_next(&run, 3, &seq, &retr_next, 0, &pattern, &x), 1);
	CHECK_EQ(x.op, LG_OP_RETR);
	CHECK_EQ(lg_plan_next(&run, 3, &seq, &retr_next, 0, &pattern, &x), 0);
	CHECK_EQ(run.issued, 2);
	lg_hist_free(&run.lat_transfer);
}

int main(void)
{
	test_replies();
	test_epsv();
	test_small_plan_and_checks();
	return check_finish("lg-ftp");
}
