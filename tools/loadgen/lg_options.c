/* ftps-loadgen's options and the set-up both modes share (kernel sockets
 * and DPDK): parsing, the expected content of downloads, the OpenSSL client
 * context, the manifest. */
#include "loadgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double lg_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void lg_usage(FILE *f)
{
	fprintf(f, "usage: ftps-loadgen --server ADDR [--port 21] --user U --password P\n"
	           "         (--ca-file PEM | --insecure) [--sessions N]\n"
	           "         --workload retr|stor|small|list [--file NAME] [--size BYTES]\n"
	           "         [--count N] [--duration SECONDS] [--bytes N] [--bind ADDR]\n"
	           "         [--prefix NAME]\n"
	           "         [--seed N] [--verify none|pattern|SHA256HEX] [--no-verify]\n"
	           "         [--manifest FILE] [--idle-timeout SECONDS] [--json]\n"
	           "         [--ciphersuites TLS13-SUITES] [--tls 1.2|1.3]\n"
	           "retr downloads --file again and again (--size: expected size;\n"
	           "  --verify pattern: content is what stor/small with the same --seed wrote);\n"
	           "stor uploads PREFIX-SESSION-SEQ.bin of --size bytes; small stores then\n"
	           "retrieves --size (default 4096) byte files; list repeats LIST.\n"
	           "--tls is the highest TLS version offered (default 1.3); with 1.2 the\n"
	           "  data connections resume by session ID or ticket, without a key exchange.\n"
	           "Sessions start transferring together, once every login has ended.\n"
	           "Stops after --count transfers in all, --duration seconds (from the end\n"
	           "of the logins) or --bytes moved in finished transfers, whichever first.\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || s[0] == '-')
		return -1;
	uint64_t mult = 1;
	if (*end == 'K' || *end == 'k')
		mult = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1024 * 1024, end++;
	else if (*end == 'G' || *end == 'g')
		mult = 1024ull * 1024 * 1024, end++;
	if (*end != '\0' || (v && mult > UINT64_MAX / v))
		return -1;
	*out = v * mult;
	return 0;
}

static int parse_hex32(const char *s, uint8_t out[32])
{
	if (strlen(s) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		unsigned v = 0;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

int lg_parse_options(int argc, char **argv, struct lg_options *o)
{
	static const struct option longopts[] = {
	    {"server", required_argument, NULL, 's'},
	    {"port", required_argument, NULL, 'p'},
	    {"user", required_argument, NULL, 'u'},
	    {"password", required_argument, NULL, 'P'},
	    {"ca-file", required_argument, NULL, 'c'},
	    {"insecure", no_argument, NULL, 'k'},
	    {"sessions", required_argument, NULL, 'n'},
	    {"workload", required_argument, NULL, 'w'},
	    {"file", required_argument, NULL, 'f'},
	    {"size", required_argument, NULL, 'z'},
	    {"count", required_argument, NULL, 'N'},
	    {"duration", required_argument, NULL, 'd'},
	    {"bind", required_argument, NULL, 'b'},
	    {"prefix", required_argument, NULL, 'x'},
	    {"seed", required_argument, NULL, 'S'},
	    {"verify", required_argument, NULL, 'v'},
	    {"no-verify", no_argument, NULL, 'V'},
	    {"manifest", required_argument, NULL, 'm'},
	    {"idle-timeout", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"ciphersuites", required_argument, NULL, 'C'},
	    {"tls", required_argument, NULL, 'T'},
	    {"bytes", required_argument, NULL, 'B'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t v = 0;
	const char *workload = NULL;
	o->port = 21;
	o->sessions = 1;
	o->tls_max_version = TLS1_3_VERSION;
	o->prefix = "lg";
	o->seed = 1;
	o->idle_timeout = 30;
	o->size = UINT64_MAX;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->server = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'P':
			o->password = optarg;
			break;
		case 'c':
			o->ca_file = optarg;
			break;
		case 'k':
			o->insecure = 1;
			break;
		case 'w':
			workload = optarg;
			break;
		case 'f':
			o->file = optarg;
			break;
		case 'b':
			o->bind = optarg;
			break;
		case 'x':
			o->prefix = optarg;
			break;
		case 'v':
			o->verify = optarg;
			break;
		case 'V':
			o->no_verify = 1;
			break;
		case 'm':
			o->manifest = optarg;
			break;
		case 'B':
			if (parse_u64(optarg, &o->total_bytes) != 0 || o->total_bytes == 0)
				goto bad;
			break;
		case 'C':
			o->ciphersuites = optarg;
			break;
		case 'T':
			if (strcmp(optarg, "1.2") == 0)
				o->tls_max_version = TLS1_2_VERSION;
			else if (strcmp(optarg, "1.3") == 0)
				o->tls_max_version = TLS1_3_VERSION;
			else {
				fprintf(stderr, "ftps-loadgen: --tls takes 1.2 or 1.3\n");
				return -1;
			}
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			lg_usage(stdout);
			exit(0);
		case 'p':
			if (parse_u64(optarg, &v) != 0 || v == 0 || v > 65535)
				goto bad;
			o->port = (uint16_t)v;
			break;
		case 'n':
			if (parse_u64(optarg, &v) != 0 || v == 0 || v > 10000)
				goto bad;
			o->sessions = (int)v;
			break;
		case 'z':
			if (parse_u64(optarg, &o->size) != 0)
				goto bad;
			break;
		case 'N':
			if (parse_u64(optarg, &o->count) != 0)
				goto bad;
			break;
		case 'S':
			if (parse_u64(optarg, &o->seed) != 0)
				goto bad;
			break;
		case 'd':
		case 't': {
			char *end = NULL;
			double d = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(d > 0) || d > 1e6)
				goto bad;
			if (c == 'd')
				o->duration = d;
			else
				o->idle_timeout = d;
			break;
		}
		default:
			lg_usage(stderr);
			return -1;
		}
	}
	if (optind != argc || o->server == NULL || o->user == NULL || o->password == NULL ||
	    workload == NULL) {
		fprintf(stderr,
		        "ftps-loadgen: --server, --user, --password and --workload are needed\n");
		return -1;
	}
	if ((o->ca_file == NULL) == (o->insecure == 0)) {
		fprintf(stderr, "ftps-loadgen: give exactly one of --ca-file and --insecure\n");
		return -1;
	}
	if (o->count == 0 && o->duration <= 0 && o->total_bytes == 0) {
		fprintf(stderr, "ftps-loadgen: give --count, --duration or --bytes\n");
		return -1;
	}
	if (strcmp(workload, "retr") == 0)
		o->workload = LG_WL_RETR;
	else if (strcmp(workload, "stor") == 0)
		o->workload = LG_WL_STOR;
	else if (strcmp(workload, "small") == 0)
		o->workload = LG_WL_SMALL;
	else if (strcmp(workload, "list") == 0)
		o->workload = LG_WL_LIST;
	else {
		fprintf(stderr, "ftps-loadgen: unknown workload '%s'\n", workload);
		return -1;
	}
	if (o->workload == LG_WL_RETR && o->file == NULL) {
		fprintf(stderr, "ftps-loadgen: retr needs --file\n");
		return -1;
	}
	if (o->workload == LG_WL_SMALL && o->size == UINT64_MAX)
		o->size = 4096;
	if (o->workload == LG_WL_STOR && o->size == UINT64_MAX) {
		fprintf(stderr, "ftps-loadgen: stor needs --size\n");
		return -1;
	}
	if (o->workload == LG_WL_RETR && o->size == UINT64_MAX)
		o->size = 0; /* unknown: no size check */
	if (strlen(o->prefix) > 64 || (o->file != NULL && strlen(o->file) > 128)) {
		fprintf(stderr, "ftps-loadgen: --prefix or --file too long\n");
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "ftps-loadgen: bad value '%s'\n", optarg);
	return -1;
}

int lg_setup_common(struct lg_run *run)
{
	struct lg_options *o = &run->opt;
	run->server.sin_family = AF_INET;
	if (inet_pton(AF_INET, o->server, &run->server.sin_addr) != 1) {
		fprintf(stderr, "ftps-loadgen: --server must be an IPv4 address\n");
		return -1;
	}
	if (o->workload == LG_WL_RETR && o->verify != NULL && strcmp(o->verify, "none") != 0) {
		if (strcmp(o->verify, "pattern") == 0) {
			struct lg_pattern *p = malloc(sizeof(*p));
			if (p == NULL || o->size == 0) {
				free(p);
				fprintf(stderr, "ftps-loadgen: --verify pattern needs --size\n");
				return -1;
			}
			lg_pattern_init(p, o->seed, o->file);
			int r = lg_pattern_sha256(p, o->size, run->retr_expect);
			free(p);
			if (r != 0)
				return -1;
		} else if (parse_hex32(o->verify, run->retr_expect) != 0) {
			fprintf(stderr,
			        "ftps-loadgen: --verify takes none, pattern or 64 hex digits\n");
			return -1;
		}
		run->have_retr_expect = 1;
	}
	run->ctx = SSL_CTX_new(TLS_client_method());
	if (run->ctx == NULL || !SSL_CTX_set_min_proto_version(run->ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(run->ctx, o->tls_max_version))
		return -1;
	if (o->ciphersuites != NULL && !SSL_CTX_set_ciphersuites(run->ctx, o->ciphersuites)) {
		fprintf(stderr, "ftps-loadgen: bad --ciphersuites\n");
		return -1;
	}
	SSL_CTX_set_mode(run->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                               SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                               SSL_MODE_RELEASE_BUFFERS);
	/* Keep the client session (and TLS 1.3 tickets) for data connections. */
	SSL_CTX_set_session_cache_mode(run->ctx,
	                               SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
	if (o->ca_file != NULL) {
		if (!SSL_CTX_load_verify_locations(run->ctx, o->ca_file, NULL)) {
			fprintf(stderr, "ftps-loadgen: cannot load %s\n", o->ca_file);
			return -1;
		}
		SSL_CTX_set_verify(run->ctx, SSL_VERIFY_PEER, NULL);
	}
	if (o->manifest != NULL) {
		run->manifest = fopen(o->manifest, "w");
		if (run->manifest == NULL) {
			perror(o->manifest);
			return -1;
		}
	}
	return 0;
}
