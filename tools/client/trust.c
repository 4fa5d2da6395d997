/* Server certificate policy; see trust.h. The order of checks:
 *   1. --insecure-skip-verify: accept anything, loudly.
 *   2. --pin sha256:HEX: the certificate must have exactly that fingerprint.
 *   3. a stored certificate for host:port: it must match, else refuse loudly.
 *   4. CA verification including host name / IP: accept when it passes.
 *   5. a terminal: ask once / always / abort.
 *   6. --tofu: store on first use and accept.
 *   7. otherwise refuse, naming the fingerprint and the options. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ftps_x509.h"
#include "known_certs.h"
#include "trust.h"

void trust_show_cert(X509 *cert)
{
	x509_print_cert(stderr, cert, "    ");
}

static void warn_changed(const char *host_port, const char *stored, const char *now,
                         const char *what)
{
	fprintf(stderr,
	        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
	        "@   WARNING: THE SERVER CERTIFICATE FOR %s HAS CHANGED!\n"
	        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
	        "Someone may be intercepting this connection (man-in-the-middle attack),\n"
	        "or the server's certificate was replaced. Connection refused.\n"
	        "  %s: sha256:%s\n"
	        "  presented now: sha256:%s\n"
	        "If you know the change is legitimate, run:\n"
	        "  ftps-client [options] %s trust\n",
	        host_port, what, stored, now, host_port);
}

/* Ask on the terminal. Returns 'o' once, 'a' always, 0 abort. */
static int ask(const char *host_port, const char *reason)
{
	fprintf(stderr, "Trust this certificate for %s? (%s)\n", host_port, reason);
	fprintf(stderr, "  [o]nce / [a]lways / abort [default: abort]: ");
	fflush(stderr);
	char answer[64];
	if (fgets(answer, sizeof(answer), stdin) == NULL)
		return 0;
	answer[strcspn(answer, "\r\n")] = '\0';
	if (strcasecmp(answer, "o") == 0 || strcasecmp(answer, "once") == 0)
		return 'o';
	if (strcasecmp(answer, "a") == 0 || strcasecmp(answer, "always") == 0)
		return 'a';
	return 0;
}

static int store(const char *path, const char *host_port, X509 *cert)
{
	char err[512];
	if (known_certs_store(path, host_port, cert, err, sizeof(err)) != 0) {
		fprintf(stderr, "ftps-client: cannot store the certificate: %s\n", err);
		return EXIT_LOCAL;
	}
	fprintf(stderr, "ftps-client: stored the certificate for %s in %s\n", host_port, path);
	return EXIT_OK;
}

int trust_decide(struct client_config *cfg, SSL *ssl)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	char fp[65], host_port[300], path[4096], stored[65], err[512];
	if (cert == NULL || x509_fingerprint_hex(cert, fp) != 0) {
		fprintf(stderr, "ftps-client: the server sent no certificate\n");
		return EXIT_UNTRUSTED;
	}
	client_host_port(cfg, host_port, sizeof(host_port));
	if (cfg->insecure) {
		fprintf(stderr,
		        "ftps-client: WARNING: --insecure-skip-verify: the server "
		        "certificate is NOT verified; anyone on the path can read and "
		        "change this session (sha256:%s)\n",
		        fp);
		goto accept;
	}
	if (cfg->pin != NULL) {
		if (strcmp(cfg->pin_hex, fp) == 0)
			goto accept;
		warn_changed(host_port, cfg->pin_hex, fp, "pinned (--pin)");
		return EXIT_CERT_CHANGED;
	}
	if (known_certs_path(cfg->known_path_override, path, sizeof(path)) != 0) {
		fprintf(stderr, "ftps-client: cannot locate the known-certificates file "
		                "(set HOME or XDG_CONFIG_HOME)\n");
		return EXIT_LOCAL;
	}
	int known = known_certs_lookup(path, host_port, stored, err, sizeof(err));
	if (known < 0) {
		fprintf(stderr, "ftps-client: %s\n", err);
		return EXIT_LOCAL;
	}
	if (known == 1) {
		if (strcmp(stored, fp) == 0)
			goto accept;
		warn_changed(host_port, stored, fp, "stored in known_certs");
		return EXIT_CERT_CHANGED;
	}
	long verify = SSL_get_verify_result(ssl);
	if (verify == X509_V_OK)
		goto accept;
	const char *reason = X509_verify_cert_error_string(verify);
	fprintf(stderr, "ftps-client: the certificate of %s could not be verified: %s\n", host_port,
	        reason);
	trust_show_cert(cert);
	if (cfg->interactive) {
		int choice = ask(host_port, reason);
		if (choice == 'o')
			goto accept;
		if (choice == 'a') {
			if (store(path, host_port, cert) != EXIT_OK)
				return EXIT_LOCAL;
			goto accept;
		}
		fprintf(stderr, "ftps-client: aborted: certificate not trusted\n");
		return EXIT_UNTRUSTED;
	}
	if (cfg->tofu) {
		fprintf(stderr, "ftps-client: --tofu: trusting this certificate on first use\n");
		if (store(path, host_port, cert) != EXIT_OK)
			return EXIT_LOCAL;
		goto accept;
	}
	fprintf(stderr,
	        "ftps-client: certificate not trusted and no terminal to ask. To go on, check "
	        "the fingerprint out of band and pass --pin sha256:%s, or --tofu to trust it on "
	        "first use, or --ca-file with the issuing CA\n",
	        fp);
	return EXIT_UNTRUSTED;
accept:
	memcpy(cfg->accepted_fp, fp, sizeof(fp));
	return EXIT_OK;
}

int trust_replace(struct client_config *cfg, SSL *ssl)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	char fp[65], host_port[300], path[4096], stored[65], err[512];
	if (cert == NULL || x509_fingerprint_hex(cert, fp) != 0) {
		fprintf(stderr, "ftps-client: the server sent no certificate\n");
		return EXIT_UNTRUSTED;
	}
	client_host_port(cfg, host_port, sizeof(host_port));
	if (known_certs_path(cfg->known_path_override, path, sizeof(path)) != 0) {
		fprintf(stderr, "ftps-client: cannot locate the known-certificates file\n");
		return EXIT_LOCAL;
	}
	int known = known_certs_lookup(path, host_port, stored, err, sizeof(err));
	if (known < 0) {
		fprintf(stderr, "ftps-client: %s\n", err);
		return EXIT_LOCAL;
	}
	fprintf(stderr, "Certificate presented by %s:\n", host_port);
	trust_show_cert(cert);
	if (known == 1 && strcmp(stored, fp) == 0) {
		fprintf(stderr, "ftps-client: this certificate is already stored for %s\n",
		        host_port);
		return EXIT_OK;
	}
	if (known == 1)
		fprintf(stderr, "It REPLACES the stored certificate sha256:%s\n", stored);
	if (cfg->pin != NULL) {
		if (strcmp(cfg->pin_hex, fp) != 0) {
			fprintf(stderr,
			        "ftps-client: the certificate does not match --pin "
			        "sha256:%s; nothing stored\n",
			        cfg->pin_hex);
			return EXIT_CERT_CHANGED;
		}
	} else if (cfg->interactive) {
		if (ask(host_port, "explicit trust command") != 'a') {
			fprintf(stderr, "ftps-client: nothing stored (answer 'always' to store)\n");
			return EXIT_UNTRUSTED;
		}
	} else {
		fprintf(stderr,
		        "ftps-client: without a terminal, 'trust' needs --pin sha256:%s "
		        "to confirm the new certificate\n",
		        fp);
		return EXIT_UNTRUSTED;
	}
	return store(path, host_port, cert);
}
