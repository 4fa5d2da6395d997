/* ftps-client: command line, TLS context and the command table. */
#include <arpa/inet.h>
#include <ctype.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#include "client.h"
#include "ftp_session.h"
#include "ftps_x509.h"
#include "mirror.h"
#include "progress.h"
#include "transfer.h"

static const char usage_text[] =
    "usage: ftps-client [options] HOST[:PORT] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  ls [PATH]                 list a remote folder\n"
    "  get REMOTE [LOCAL]        download (-c: resume with REST)\n"
    "  put LOCAL [REMOTE]        upload (-c: resume after the remote size)\n"
    "  mirror REMOTE LOCAL       download a tree; -R: mirror LOCAL REMOTE uploads\n"
    "  rm PATH...  rmdir PATH  mkdir PATH  rename FROM TO\n"
    "  trust                     replace the stored certificate for HOST:PORT\n"
    "\n"
    "Connection:\n"
    "  -p, --port N              port (default 21, or 990 with --implicit)\n"
    "  --implicit                implicit FTPS (TLS from the first byte)\n"
    "  --tls 1.2|1.3             only this TLS version (default: 1.2 or 1.3)\n"
    "  -u, --user USER           login name (default anonymous)\n"
    "  --password-file FILE      password from the first line of FILE; or set\n"
    "                            FTPS_PASSWORD; else asked on a terminal\n"
    "  --cert FILE --key FILE    client certificate for mutual TLS\n"
    "  --timeout SECONDS         network timeout (default 30)\n"
    "Server certificate:\n"
    "  --ca-file FILE            trust this CA instead of the system store\n"
    "  --pin sha256:HEX          accept only the certificate with this fingerprint\n"
    "  --tofu                    trust an unverifiable certificate on first use\n"
    "                            and store it (non-interactive runs)\n"
    "  --insecure-skip-verify    do not verify at all (DANGEROUS)\n"
    "  --batch                   never prompt, even on a terminal\n"
    "  --known-certs FILE        default $XDG_CONFIG_HOME/ftps-client/known_certs\n"
    "                            (~/.config/ftps-client/known_certs)\n"
    "Transfers:\n"
    "  -P, --parallel N          N control sessions for mirror (default 1, max 64)\n"
    "  -c, --continue            resume partial files, skip complete ones\n"
    "  -R, --reverse             mirror uploads\n"
    "  --json | --plain          per-file lines on stdout (JSON or text) instead\n"
    "                            of the progress bar\n"
    "  -v, --verbose             show the FTP dialogue on stderr (never passwords)\n"
    "\n"
    "Exit status: 0 success, 1 usage, 2 network, 3 TLS failure or certificate\n"
    "not trusted, 4 certificate changed (possible interception) or pin mismatch,\n"
    "5 login refused, 6 server refused a command, 7 local file error,\n"
    "8 verification failed (hash or size mismatch).\n";

void client_host_port(const struct client_config *cfg, char *out, size_t len)
{
	if (strchr(cfg->host, ':') != NULL)
		snprintf(out, len, "[%s]:%u", cfg->host, cfg->port);
	else
		snprintf(out, len, "%s:%u", cfg->host, cfg->port);
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("ftps-client: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n(see ftps-client --help)\n", stderr);
	return EXIT_USAGE;
}

static int parse_host(struct client_config *cfg, const char *arg, bool port_given)
{
	const char *host = arg, *port = NULL;
	size_t hlen = strlen(arg);
	if (arg[0] == '[') {
		const char *end = strchr(arg, ']');
		if (end == NULL)
			return -1;
		host = arg + 1;
		hlen = (size_t)(end - host);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return -1;
	} else {
		const char *colon = strchr(arg, ':');
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			hlen = (size_t)(colon - arg);
			port = colon + 1;
		}
	}
	if (hlen == 0 || hlen >= sizeof(cfg->host))
		return -1;
	memcpy(cfg->host, host, hlen);
	cfg->host[hlen] = '\0';
	if (port != NULL) {
		char *end = NULL;
		long v = strtol(port, &end, 10);
		if (end == port || *end != '\0' || v < 1 || v > 65535)
			return -1;
		if (!port_given)
			cfg->port = (uint16_t)v;
	}
	return 0;
}

static int parse_pin(struct client_config *cfg, const char *pin)
{
	if (strncasecmp(pin, "sha256:", 7) == 0)
		pin += 7;
	size_t n = 0;
	for (; *pin != '\0'; pin++) {
		if (*pin == ':')
			continue;
		if (!isxdigit((unsigned char)*pin) || n >= 64)
			return -1;
		cfg->pin_hex[n++] = (char)tolower((unsigned char)*pin);
	}
	cfg->pin_hex[n] = '\0';
	return n == 64 ? 0 : -1;
}

static char *read_password_file(const char *path)
{
	unsigned char *data = NULL;
	size_t len = 0;
	struct x509_error err;
	if (x509_read_file(path, &data, &len, &err) != 0) {
		fprintf(stderr, "ftps-client: %s\n", err.msg);
		return NULL;
	}
	data[strcspn((char *)data, "\r\n")] = '\0';
	return (char *)data;
}

static SSL_CTX *make_ssl_ctx(const struct client_config *cfg)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return NULL;
	int min = cfg->tls_version ? cfg->tls_version : TLS1_2_VERSION;
	int max = cfg->tls_version ? cfg->tls_version : TLS1_3_VERSION;
	/* The handshake always completes; trust.c decides afterwards from
	 * SSL_get_verify_result, the pin and the known-certificates file. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	bool ok =
	    SSL_CTX_set_min_proto_version(ctx, min) && SSL_CTX_set_max_proto_version(ctx, max);
	if (ok && cfg->ca_file != NULL) {
		ok = SSL_CTX_load_verify_file(ctx, cfg->ca_file);
		if (!ok)
			fprintf(stderr, "ftps-client: cannot load CA file %s\n", cfg->ca_file);
	} else if (ok) {
		ok = SSL_CTX_set_default_verify_paths(ctx);
	}
	if (ok && cfg->client_cert != NULL) {
		ok = SSL_CTX_use_certificate_chain_file(ctx, cfg->client_cert) == 1 &&
		     SSL_CTX_use_PrivateKey_file(ctx, cfg->client_key, SSL_FILETYPE_PEM) == 1 &&
		     SSL_CTX_check_private_key(ctx) == 1;
		if (!ok)
			fprintf(stderr,
			        "ftps-client: cannot use client certificate %s with key "
			        "%s\n",
			        cfg->client_cert, cfg->client_key);
	}
	if (!ok) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct command {
	const char *name;
	int min_args, max_args;
	int (*run)(struct ftp_session *s, int argc, char **argv);
};

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static int check_paths(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!ftp_path_ok(argv[i]))
			return usage_error("path '%s' is empty or holds CR/LF", argv[i]);
	return EXIT_OK;
}

static int remote_error(struct ftp_session *s, const char *what, const char *path)
{
	if (s->code < 0) {
		fprintf(stderr, "ftps-client: %s %s: %s\n", what, path, s->err);
		return EXIT_NETWORK;
	}
	fprintf(stderr, "ftps-client: %s %s: %s\n", what, path, s->reply);
	return EXIT_REMOTE;
}

static int cmd_ls(struct ftp_session *s, int argc, char **argv)
{
	char *text = NULL;
	size_t len = 0;
	bool mlsd;
	int rc = ftp_list(s, argc ? argv[0] : NULL, false, &text, &len, &mlsd);
	if (rc != EXIT_OK) {
		fprintf(stderr, "ftps-client: %s\n", s->err);
		return rc;
	}
	if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
		rc = EXIT_LOCAL;
	free(text);
	return rc;
}

static int cmd_get(struct ftp_session *s, int argc, char **argv)
{
	const char *local = argc > 1 ? argv[1] : base_name(argv[0]);
	char joined[4096];
	struct stat st;
	if (local[0] == '\0' || base_name(argv[0])[0] == '\0')
		return usage_error("cannot name a local file after '%s'", argv[0]);
	if (argc > 1 && stat(local, &st) == 0 && S_ISDIR(st.st_mode)) {
		/* "get REMOTE DIR" keeps the remote name, like cp. */
		if (snprintf(joined, sizeof(joined), "%s/%s", local, base_name(argv[0])) >=
		    (int)sizeof(joined))
			return usage_error("local path too long: '%s'", local);
		local = joined;
	}
	struct progress p;
	progress_start(&p, s->cfg->output, 1, 0);
	int rc = xfer_get(s, argv[0], local, SIZE_UNKNOWN, s->cfg->resume, &p);
	progress_finish(&p, rc);
	return rc;
}

static int cmd_put(struct ftp_session *s, int argc, char **argv)
{
	const char *remote = argc > 1 ? argv[1] : base_name(argv[0]);
	char joined[4096];
	size_t rlen = strlen(remote);
	if (rlen > 0 && remote[rlen - 1] == '/') {
		/* "put LOCAL DIR/" keeps the local name. */
		if (snprintf(joined, sizeof(joined), "%s%s", remote, base_name(argv[0])) >=
		    (int)sizeof(joined))
			return usage_error("remote path too long: '%s'", remote);
		remote = joined;
	}
	struct progress p;
	progress_start(&p, s->cfg->output, 1, 0);
	int rc = xfer_put(s, argv[0], remote, s->cfg->resume, &p);
	progress_finish(&p, rc);
	return rc;
}

static int cmd_mirror(struct ftp_session *s, int argc, char **argv)
{
	(void)argc;
	return s->cfg->reverse ? mirror_upload(s, argv[0], argv[1])
	                       : mirror_download(s, argv[0], argv[1]);
}

static int cmd_rm(struct ftp_session *s, int argc, char **argv)
{
	int rc = EXIT_OK;
	for (int i = 0; i < argc; i++) {
		if (ftp_cmd(s, "DELE %s", argv[i]) != 250) {
			rc = remote_error(s, "rm", argv[i]);
			if (rc == EXIT_NETWORK)
				break;
		}
	}
	return rc;
}

static int cmd_rmdir(struct ftp_session *s, int argc, char **argv)
{
	(void)argc;
	return ftp_cmd(s, "RMD %s", argv[0]) == 250 ? EXIT_OK : remote_error(s, "rmdir", argv[0]);
}

static int cmd_mkdir(struct ftp_session *s, int argc, char **argv)
{
	(void)argc;
	return ftp_cmd(s, "MKD %s", argv[0]) == 257 ? EXIT_OK : remote_error(s, "mkdir", argv[0]);
}

static int cmd_rename(struct ftp_session *s, int argc, char **argv)
{
	(void)argc;
	/* RFC 959 4.1.3: RNFR answers 350, then RNTO 250. */
	if (ftp_cmd(s, "RNFR %s", argv[0]) != 350)
		return remote_error(s, "rename", argv[0]);
	if (ftp_cmd(s, "RNTO %s", argv[1]) != 250)
		return remote_error(s, "rename to", argv[1]);
	return EXIT_OK;
}

static const struct command commands[] = {
    {"ls", 0, 1, cmd_ls},         {"get", 1, 2, cmd_get},       {"put", 1, 2, cmd_put},
    {"mirror", 2, 2, cmd_mirror}, {"rm", 1, 1000, cmd_rm},      {"rmdir", 1, 1, cmd_rmdir},
    {"mkdir", 1, 1, cmd_mkdir},   {"rename", 2, 2, cmd_rename}, {"trust", 0, 0, NULL},
};

enum {
	OPT_IMPLICIT = 256,
	OPT_TLS,
	OPT_PASSWORD_FILE,
	OPT_CERT,
	OPT_KEY,
	OPT_TIMEOUT,
	OPT_CA_FILE,
	OPT_PIN,
	OPT_TOFU,
	OPT_INSECURE,
	OPT_BATCH,
	OPT_KNOWN,
	OPT_JSON,
	OPT_PLAIN,
};

static const struct option long_opts[] = {
    {"port", required_argument, NULL, 'p'},
    {"implicit", no_argument, NULL, OPT_IMPLICIT},
    {"tls", required_argument, NULL, OPT_TLS},
    {"user", required_argument, NULL, 'u'},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"pin", required_argument, NULL, OPT_PIN},
    {"tofu", no_argument, NULL, OPT_TOFU},
    {"insecure-skip-verify", no_argument, NULL, OPT_INSECURE},
    {"batch", no_argument, NULL, OPT_BATCH},
    {"known-certs", required_argument, NULL, OPT_KNOWN},
    {"parallel", required_argument, NULL, 'P'},
    {"continue", no_argument, NULL, 'c'},
    {"reverse", no_argument, NULL, 'R'},
    {"json", no_argument, NULL, OPT_JSON},
    {"plain", no_argument, NULL, OPT_PLAIN},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int parse_number(const char *s, long lo, long hi, long *out)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct client_config *cfg, bool *batch,
                      const char **password_file, int *json)
{
	long v;
	bool port_given = false;
	int c;
	while ((c = getopt_long(argc, argv, "p:u:P:cRvh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_number(optarg, 1, 65535, &v) != 0)
				return usage_error("bad port '%s'", optarg);
			cfg->port = (uint16_t)v;
			port_given = true;
			break;
		case OPT_IMPLICIT:
			cfg->implicit = true;
			break;
		case OPT_TLS:
			if (strcmp(optarg, "1.2") == 0)
				cfg->tls_version = TLS1_2_VERSION;
			else if (strcmp(optarg, "1.3") == 0)
				cfg->tls_version = TLS1_3_VERSION;
			else
				return usage_error("--tls wants 1.2 or 1.3, not '%s'", optarg);
			break;
		case 'u':
			cfg->user = optarg;
			break;
		case OPT_PASSWORD_FILE:
			*password_file = optarg;
			break;
		case OPT_CERT:
			cfg->client_cert = optarg;
			break;
		case OPT_KEY:
			cfg->client_key = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_number(optarg, 1, 3600, &v) != 0)
				return usage_error("--timeout wants 1 to 3600 seconds, not '%s'",
				                   optarg);
			cfg->timeout_s = (int)v;
			break;
		case OPT_CA_FILE:
			cfg->ca_file = optarg;
			break;
		case OPT_PIN:
			if (parse_pin(cfg, optarg) != 0)
				return usage_error("--pin wants sha256: and 64 hex digits, not "
				                   "'%s'",
				                   optarg);
			cfg->pin = optarg;
			break;
		case OPT_TOFU:
			cfg->tofu = true;
			break;
		case OPT_INSECURE:
			cfg->insecure = true;
			break;
		case OPT_BATCH:
			*batch = true;
			break;
		case OPT_KNOWN:
			cfg->known_path_override = optarg;
			break;
		case 'P':
			if (parse_number(optarg, 1, 64, &v) != 0)
				return usage_error("--parallel wants 1 to 64, not '%s'", optarg);
			cfg->parallel = (int)v;
			break;
		case 'c':
			cfg->resume = true;
			break;
		case 'R':
			cfg->reverse = true;
			break;
		case OPT_JSON:
			*json = 2;
			break;
		case OPT_PLAIN:
			*json = 1;
			break;
		case 'v':
			cfg->verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(EXIT_OK);
		default:
			return usage_error("%s", "unknown option");
		}
	}
	if (cfg->implicit && !port_given)
		cfg->port = 990;
	if (optind >= argc)
		return usage_error("%s", "missing HOST");
	if (parse_host(cfg, argv[optind], port_given) != 0)
		return usage_error("bad host '%s' (HOST, HOST:PORT or [IPv6]:PORT)", argv[optind]);
	if ((cfg->client_cert == NULL) != (cfg->client_key == NULL))
		return usage_error("%s", "--cert and --key go together");
	if ((cfg->pin != NULL) + cfg->tofu + cfg->insecure > 1)
		return usage_error("%s", "choose one of --pin, --tofu, --insecure-skip-verify");
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct client_config cfg = {.port = 21, .timeout_s = 30, .parallel = 1};
	bool batch = false;
	const char *password_file = NULL;
	int json = 0;
	/* A peer closing a socket must not kill us; writes report EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	int rc = parse_args(argc, argv, &cfg, &batch, &password_file, &json);
	if (rc != EXIT_OK)
		return rc;
	int rest = argc - optind - 1;
	char **args = argv + optind + 1;
	if (rest < 1)
		return usage_error("%s", "missing COMMAND");
	const struct command *cmd = NULL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(args[0], commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL)
		return usage_error("unknown command '%s'", args[0]);
	if (rest - 1 < cmd->min_args || rest - 1 > cmd->max_args)
		return usage_error("wrong number of arguments for '%s'", cmd->name);
	if ((rc = check_paths(rest - 1, args + 1)) != EXIT_OK)
		return rc;
	cfg.interactive = !batch && isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
	cfg.output = json == 2                             ? OUTPUT_JSON
	             : json == 1 || !isatty(STDERR_FILENO) ? OUTPUT_PLAIN
	                                                   : OUTPUT_TTY;
	if (cfg.user == NULL) {
		cfg.user = "anonymous";
		cfg.password = strdup("anonymous@");
	} else if (password_file != NULL) {
		cfg.password = read_password_file(password_file);
		if (cfg.password == NULL)
			return EXIT_LOCAL;
	} else if (getenv("FTPS_PASSWORD") != NULL) {
		cfg.password = strdup(getenv("FTPS_PASSWORD"));
	} else if (cfg.interactive && cmd->run != NULL) {
		char buf[512];
		if (EVP_read_pw_string(buf, sizeof(buf), "Password: ", 0) != 0)
			return EXIT_USAGE;
		cfg.password = strdup(buf);
		OPENSSL_cleanse(buf, sizeof(buf));
	} else if (cmd->run != NULL) {
		return usage_error("no password for user %s: use --password-file or FTPS_PASSWORD",
		                   cfg.user);
	}
	cfg.ssl_ctx = make_ssl_ctx(&cfg);
	if (cfg.ssl_ctx == NULL) {
		free(cfg.password);
		return EXIT_USAGE;
	}
	cfg.replace_trust = cmd->run == NULL;
	struct ftp_session s;
	rc = ftp_open(&s, &cfg, cmd->run != NULL);
	if (rc != EXIT_OK) {
		if (s.err[0] != '\0')
			fprintf(stderr, "ftps-client: %s\n", s.err);
	} else {
		if (cmd->run != NULL)
			rc = cmd->run(&s, rest - 1, args + 1);
		ftp_close(&s);
	}
	SSL_CTX_free(cfg.ssl_ctx);
	if (cfg.password != NULL) {
		OPENSSL_cleanse(cfg.password, strlen(cfg.password));
		free(cfg.password);
	}
	return rc;
}
