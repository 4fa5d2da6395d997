/* ftps-keys: command-line entry, option parsing and subcommand table. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

static const char usage_text[] =
    "usage: ftps-keys COMMAND [options]\n"
    "\n"
    "Keys (written mode 0600, never printed):\n"
    "  genkey   -o KEY [--type ec-p256|ec-p384|rsa2048..rsa4096|ed25519] [--force]\n"
    "           [passphrase option]\n"
    "Server certificates:\n"
    "  selfsign --key KEY --subject CN=name[,O=..] [--san DNS:name,IP:addr]...\n"
    "           [--days N | --not-before T --not-after T] -o CERT\n"
    "  csr      --key KEY --subject CN=name[,O=..] [--san ...] -o CSR\n"
    "  import   --key KEY --cert REPLY [--chain CHAIN] --root ROOT -o INSTALLED\n"
    "           checks key match, validity and the chain to ROOT, then installs\n"
    "           leaf + chain atomically (temporary file, fsync, rename)\n"
    "Inspection:\n"
    "  show FILE...                 certificate, chain, key, CSR or CRL\n"
    "  check-expiry FILE... [--days N]\n"
    "           exit 0 OK, 1 expires within N days (default 30), 2 expired or not\n"
    "           yet valid, 3 unreadable\n"
    "Internal CA for client certificates (folder DIR):\n"
    "  ca init   --dir DIR --subject CN=name [--type T] [--days N]\n"
    "  ca issue  --dir DIR --subject CN=user [--csr CSR | --key-out KEY [--type T]]\n"
    "            [--san ...] [--days N] -o CERT\n"
    "  ca list   --dir DIR\n"
    "  ca revoke --dir DIR (--serial HEX | --cert CERT) [--reason keyCompromise|...]\n"
    "  ca crl    --dir DIR [--days N] [-o CRL]   (DIR/crl.pem is always updated)\n"
    "\n"
    "Passphrase options (never on the command line): --passphrase-file FILE,\n"
    "--passphrase-env VAR, --ask-passphrase (terminal). Times: YYYY-MM-DD or\n"
    "YYYY-MM-DDTHH:MM:SSZ (UTC).\n"
    "Exit status: 0 success, 1 failure (message on stderr), 2 usage error.\n";

static int usage(int status)
{
	fputs(usage_text, status == 0 ? stdout : stderr);
	return status;
}

static int parse_time(const char *s, time_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0') {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (end == NULL || *end != '\0')
		return -1;
	*out = timegm(&tm);
	return *out == (time_t)-1 ? -1 : 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

enum {
	OPT_TYPE = 256,
	OPT_KEY,
	OPT_KEY_OUT,
	OPT_SUBJECT,
	OPT_SAN,
	OPT_CERT,
	OPT_CHAIN,
	OPT_ROOT,
	OPT_CSR,
	OPT_DIR,
	OPT_SERIAL,
	OPT_REASON,
	OPT_PASS_FILE,
	OPT_PASS_ENV,
	OPT_ASK_PASS,
	OPT_FORCE,
	OPT_DAYS,
	OPT_NOT_BEFORE,
	OPT_NOT_AFTER,
};

static const struct option long_opts[] = {
    {"type", required_argument, NULL, OPT_TYPE},
    {"key", required_argument, NULL, OPT_KEY},
    {"key-out", required_argument, NULL, OPT_KEY_OUT},
    {"subject", required_argument, NULL, OPT_SUBJECT},
    {"san", required_argument, NULL, OPT_SAN},
    {"cert", required_argument, NULL, OPT_CERT},
    {"chain", required_argument, NULL, OPT_CHAIN},
    {"root", required_argument, NULL, OPT_ROOT},
    {"csr", required_argument, NULL, OPT_CSR},
    {"dir", required_argument, NULL, OPT_DIR},
    {"serial", required_argument, NULL, OPT_SERIAL},
    {"reason", required_argument, NULL, OPT_REASON},
    {"passphrase-file", required_argument, NULL, OPT_PASS_FILE},
    {"passphrase-env", required_argument, NULL, OPT_PASS_ENV},
    {"ask-passphrase", no_argument, NULL, OPT_ASK_PASS},
    {"force", no_argument, NULL, OPT_FORCE},
    {"days", required_argument, NULL, OPT_DAYS},
    {"not-before", required_argument, NULL, OPT_NOT_BEFORE},
    {"not-after", required_argument, NULL, OPT_NOT_AFTER},
    {"out", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int parse_opts(int argc, char **argv, struct keys_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->days = -1;
	o->warn_days = 30;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "o:h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_TYPE:
			o->type = optarg;
			break;
		case OPT_KEY:
			o->key = optarg;
			break;
		case OPT_KEY_OUT:
			o->key_out = optarg;
			break;
		case OPT_SUBJECT:
			o->subject = optarg;
			break;
		case OPT_SAN: {
			size_t used = strlen(o->sans);
			int n = snprintf(o->sans + used, sizeof(o->sans) - used, "%s%s",
			                 used ? "," : "", optarg);
			if (n < 0 || (size_t)n >= sizeof(o->sans) - used) {
				fprintf(stderr, "ftps-keys: too many --san values\n");
				return -1;
			}
			break;
		}
		case OPT_CERT:
			o->cert = optarg;
			break;
		case OPT_CHAIN:
			o->chain = optarg;
			break;
		case OPT_ROOT:
			o->root = optarg;
			break;
		case OPT_CSR:
			o->csr = optarg;
			break;
		case OPT_DIR:
			o->dir = optarg;
			break;
		case OPT_SERIAL:
			o->serial = optarg;
			break;
		case OPT_REASON:
			o->reason = optarg;
			break;
		case OPT_PASS_FILE:
			o->pass_file = optarg;
			break;
		case OPT_PASS_ENV:
			o->pass_env = optarg;
			break;
		case OPT_ASK_PASS:
			o->ask_pass = true;
			break;
		case OPT_FORCE:
			o->force = true;
			break;
		case OPT_DAYS:
			if (parse_int(optarg, 0, 36500, &o->days) != 0) {
				fprintf(stderr, "ftps-keys: --days wants 0 to 36500, not '%s'\n",
				        optarg);
				return -1;
			}
			o->warn_days = o->days;
			break;
		case OPT_NOT_BEFORE:
		case OPT_NOT_AFTER:
			if (parse_time(optarg,
			               c == OPT_NOT_BEFORE ? &o->not_before : &o->not_after) != 0) {
				fprintf(stderr,
				        "ftps-keys: '%s' is not a time (YYYY-MM-DD or "
				        "YYYY-MM-DDTHH:MM:SSZ)\n",
				        optarg);
				return -1;
			}
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'h':
			exit(usage(0));
		default:
			return -1;
		}
	}
	o->argc = argc - optind;
	o->argv = argv + optind;
	return 0;
}

static const struct {
	const char *name;
	int (*run)(struct keys_opts *o);
	int usage_status; /* exit status for a bad command line */
} commands[] = {
    {"genkey", keys_cmd_genkey, KEYS_EXIT_USAGE}, {"selfsign", keys_cmd_selfsign, KEYS_EXIT_USAGE},
    {"csr", keys_cmd_csr, KEYS_EXIT_USAGE},       {"import", keys_cmd_import, KEYS_EXIT_USAGE},
    {"show", keys_cmd_show, KEYS_EXIT_USAGE},     {"check-expiry", keys_cmd_check_expiry, 3},
    {"ca", keys_cmd_ca, KEYS_EXIT_USAGE},
};

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(KEYS_EXIT_USAGE);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return usage(0);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		struct keys_opts o;
		if (parse_opts(argc - 1, argv + 1, &o) != 0) {
			fprintf(stderr, "ftps-keys: see 'ftps-keys --help'\n");
			return commands[i].usage_status;
		}
		return commands[i].run(&o);
	}
	fprintf(stderr, "ftps-keys: unknown command '%s'\n\n", argv[1]);
	return usage(KEYS_EXIT_USAGE);
}
