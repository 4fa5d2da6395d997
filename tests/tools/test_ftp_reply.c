/* Unit tests of the client's FTP reply and listing parsers, including the
 * HASH path (draft-bryan-ftpext-hash) that vsftpd does not offer. */
#include <string.h>

#include "check.h"
#include "ftp_reply.h"

static void test_reply_code(void)
{
	bool more = true;
	CHECK_EQ(ftp_reply_code("230 Login successful.", &more), 230);
	CHECK(!more);
	CHECK_EQ(ftp_reply_code("211-Features:", &more), 211);
	CHECK(more);
	CHECK_EQ(ftp_reply_code("226", &more), 226);
	CHECK_EQ(ftp_reply_code("23 short", &more), -1);
	CHECK_EQ(ftp_reply_code("abc def", &more), -1);
	CHECK_EQ(ftp_reply_code("999 bad first digit", &more), -1);
	CHECK_EQ(ftp_reply_code("2300 no separator", &more), -1);
	CHECK_EQ(ftp_reply_code("", &more), -1);
}

static void test_epsv_pasv(void)
{
	uint16_t port = 0;
	CHECK_EQ(ftp_parse_epsv("229 Entering Extended Passive Mode (|||30223|)", &port), 0);
	CHECK_EQ(port, 30223);
	CHECK_EQ(ftp_parse_epsv("229 ok (!!!1!)", &port), 0);
	CHECK_EQ(port, 1);
	CHECK_EQ(ftp_parse_epsv("229 Entering Extended Passive Mode (|||70000|)", &port), -1);
	CHECK_EQ(ftp_parse_epsv("229 Entering Extended Passive Mode (|||0|)", &port), -1);
	CHECK_EQ(ftp_parse_epsv("229 Entering Extended Passive Mode (||1|)", &port), -1);
	CHECK_EQ(ftp_parse_epsv("229 no parenthesis", &port), -1);
	CHECK_EQ(ftp_parse_epsv("229 (|||123", &port), -1);
	uint8_t ip[4];
	CHECK_EQ(ftp_parse_pasv("227 Entering Passive Mode (198,18,7,1,117,48).", ip, &port), 0);
	CHECK_EQ(ip[0], 198);
	CHECK_EQ(ip[3], 1);
	CHECK_EQ(port, 117 * 256 + 48);
	CHECK_EQ(ftp_parse_pasv("227 =198,18,7,1,4,1", ip, &port), 0);
	CHECK_EQ(port, 1025);
	CHECK_EQ(ftp_parse_pasv("227 Entering Passive Mode (198,18,7,1,256,1)", ip, &port), -1);
	CHECK_EQ(ftp_parse_pasv("227 Entering Passive Mode (198,18,7,1,4)", ip, &port), -1);
	CHECK_EQ(ftp_parse_pasv("227 Entering Passive Mode (1,2,3,4,0,0)", ip, &port), -1);
}

static void test_size(void)
{
	uint64_t size = 0;
	CHECK_EQ(ftp_parse_size("213 12345", &size), 0);
	CHECK_EQ(size, 12345);
	CHECK_EQ(ftp_parse_size("213 18446744073709551615", &size), 0);
	CHECK_EQ(ftp_parse_size("550 no such file", &size), -1);
	CHECK_EQ(ftp_parse_size("213 12x", &size), -1);
	CHECK_EQ(ftp_parse_size("213 ", &size), -1);
}

static void test_feat(void)
{
	struct ftp_features f;
	memset(&f, 0, sizeof(f));
	ftp_feat_line(&f, " EPSV");
	ftp_feat_line(&f, " REST STREAM");
	ftp_feat_line(&f, " SIZE");
	ftp_feat_line(&f, " MLST type*;size*;modify*;");
	ftp_feat_line(&f, " HASH SHA-1;SHA-256;SHA-512;MD5");
	CHECK(f.epsv && f.rest_stream && f.size && f.mlsd);
	CHECK(f.hash_sha256);
	CHECK(!f.hash_sha256_selected);
	memset(&f, 0, sizeof(f));
	ftp_feat_line(&f, " HASH SHA-1;SHA-256*");
	CHECK(f.hash_sha256 && f.hash_sha256_selected);
	memset(&f, 0, sizeof(f));
	ftp_feat_line(&f, " HASH SHA-1*;MD5");
	CHECK(!f.hash_sha256);
	ftp_feat_line(&f, " EPSVX");
	CHECK(!f.epsv);
}

static void test_hash(void)
{
	uint64_t start = 9, end = 9;
	char hex[65];
	const char *good = "213 SHA-256 0-12 "
	                   "A948904F2F0F479B8F8197694B30184B0D2ED1C1CD2A1EC0FB85D299A192A447 "
	                   "hello.txt";
	CHECK_EQ(ftp_parse_hash(good, &start, &end, hex), 0);
	CHECK_EQ(start, 0);
	CHECK_EQ(end, 12);
	CHECK(strcmp(hex, "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447") == 0);
	/* Only SHA-256 is accepted, with exactly 64 hex digits. */
	CHECK_EQ(ftp_parse_hash("213 SHA-1 0-12 a94a8fe5ccb19ba61c4c0873d391e987982fbbd3 f", &start,
	                        &end, hex),
	         -1);
	CHECK_EQ(ftp_parse_hash("213 SHA-256 0-12 a948904f f", &start, &end, hex), -1);
	CHECK_EQ(
	    ftp_parse_hash("213 SHA-256 12-0 "
	                   "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447 f",
	                   &start, &end, hex),
	    -1);
	CHECK_EQ(
	    ftp_parse_hash("550 SHA-256 0-12 "
	                   "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447 f",
	                   &start, &end, hex),
	    -1);
	CHECK_EQ(
	    ftp_parse_hash("213 SHA-256 0-12 "
	                   "g948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447 f",
	                   &start, &end, hex),
	    -1);
}

static void test_list(void)
{
	struct ftp_entry e;
	CHECK_EQ(ftp_parse_list_line("-rw-r--r--    1 1001     1001        12 Nov 27 11:32 hello "
	                             "world.txt",
	                             &e),
	         0);
	CHECK_EQ(e.type, FTP_ENTRY_FILE);
	CHECK_EQ(e.size, 12);
	CHECK(strcmp(e.name, "hello world.txt") == 0);
	CHECK_EQ(ftp_parse_list_line("drwxr-xr-x    2 0 0 4096 Jan  1  2025 sub", &e), 0);
	CHECK_EQ(e.type, FTP_ENTRY_DIR);
	CHECK(strcmp(e.name, "sub") == 0);
	CHECK_EQ(ftp_parse_list_line("drwxr-xr-x    2 0 0 4096 Jan  1  2025 ..", &e), 1);
	CHECK_EQ(ftp_parse_list_line("drwxr-xr-x    2 0 0 4096 Jan  1  2025 .", &e), 1);
	CHECK_EQ(ftp_parse_list_line("lrwxrwxrwx    1 0 0 4 Jan  1  2025 l -> x", &e), 1);
	CHECK_EQ(ftp_parse_list_line("total 8", &e), 1);
	CHECK_EQ(ftp_parse_list_line("-rw-r--r-- 1 0 0 12 Nov 27", &e), -1);
	CHECK_EQ(ftp_parse_list_line("-rw-r--r-- 1 0 0 x12 Nov 27 11:32 f", &e), -1);
	CHECK_EQ(ftp_parse_list_line("garbage", &e), -1);
	/* A hostile name that tries to leave the mirror folder. */
	CHECK_EQ(ftp_parse_list_line("-rw-r--r-- 1 0 0 12 Nov 27 11:32 ../../etc/passwd", &e), -1);
	CHECK_EQ(ftp_parse_mlsd_line("type=file;size=42;modify=20261127113200; data.bin", &e), 0);
	CHECK_EQ(e.type, FTP_ENTRY_FILE);
	CHECK_EQ(e.size, 42);
	CHECK(strcmp(e.name, "data.bin") == 0);
	CHECK_EQ(ftp_parse_mlsd_line("type=dir;modify=20261127113200; sub dir", &e), 0);
	CHECK_EQ(e.type, FTP_ENTRY_DIR);
	CHECK_EQ(ftp_parse_mlsd_line("type=cdir; .", &e), 1);
	CHECK_EQ(ftp_parse_mlsd_line("type=file;size=x; f", &e), -1);
	CHECK_EQ(ftp_parse_mlsd_line("type=file;size=1; a/b", &e), -1);
	CHECK_EQ(ftp_parse_mlsd_line("nospace", &e), -1);
}

static void test_path(void)
{
	CHECK(ftp_path_ok("dir/file name.txt"));
	CHECK(!ftp_path_ok("file\r\nDELE other"));
	CHECK(!ftp_path_ok("file\n"));
	CHECK(!ftp_path_ok(""));
	CHECK(!ftp_path_ok(NULL));
}

/* Random and mutated replies through every parser: no crash, no read past
 * the end (run under build-asan), and the results keep their invariants. */
static void test_random_input(void)
{
	static const char *seeds[] = {
	    "229 Entering Extended Passive Mode (|||30223|)",
	    "227 Entering Passive Mode (198,18,7,1,117,48)",
	    "213 SHA-256 0-12 a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447 f",
	    "-rw-r--r--    1 1001     1001        12 Nov 27 11:32 hello",
	    "type=file;size=42;modify=20261127113200; data.bin",
	    " HASH SHA-1;SHA-256*;MD5",
	    "213 12345",
	};
	unsigned int state = 12345;
	unsigned int bad = 0;
	for (int iter = 0; iter < 200000; iter++) {
		char buf[160];
		const char *seed = seeds[iter % 7];
		size_t n = strlen(seed);
		memcpy(buf, seed, n + 1);
		int mutations = 1 + iter % 4;
		for (int m = 0; m < mutations; m++) {
			state = state * 1103515245u + 12345u;
			size_t pos = (state >> 8) % (n + 1);
			state = state * 1103515245u + 12345u;
			char c = (char)(state >> 16);
			if (c == '\0' || pos == n) {
				buf[pos] = '\0'; /* truncate */
				n = pos;
			} else {
				buf[pos] = c;
			}
		}
		bool more;
		uint16_t port = 0;
		uint8_t ip[4];
		uint64_t a = 0, b = 0;
		char hex[65];
		struct ftp_entry e;
		struct ftp_features f;
		memset(&f, 0, sizeof(f));
		int code = ftp_reply_code(buf, &more);
		if (code != -1 && (code < 100 || code > 699))
			bad++;
		if (ftp_parse_epsv(buf, &port) == 0 && port == 0)
			bad++;
		if (ftp_parse_pasv(buf, ip, &port) == 0 && port == 0)
			bad++;
		if (ftp_parse_hash(buf, &a, &b, hex) == 0 && (strlen(hex) != 64 || b < a))
			bad++;
		(void)ftp_parse_size(buf, &a);
		if (ftp_parse_list_line(buf, &e) == 0 &&
		    (e.name[0] == '\0' || strchr(e.name, '/') != NULL))
			bad++;
		if (ftp_parse_mlsd_line(buf, &e) == 0 &&
		    (e.name[0] == '\0' || strchr(e.name, '/') != NULL))
			bad++;
		ftp_feat_line(&f, buf);
	}
	CHECK_EQ(bad, 0);
}

int main(void)
{
	test_random_input();
	test_reply_code();
	test_epsv_pasv();
	test_size();
	test_feat();
	test_hash();
	test_list();
	test_path();
	return check_finish("ftp_reply");
}
