/* Users file and authentication.
 *
 * Users file: one user per line, '#' starts a comment:
 *   name:scrypt$N$r$p$<salt hex>$<hash hex>:/root/dir:perms[:max_sessions[:cert]]
 * perms is a subset of "rwdnm": r read/list, w write (STOR APPE STOU MFMT),
 * d delete (DELE RMD), n rename, m mkdir. Hashes are scrypt through
 * OpenSSL's EVP_KDF "SCRYPT"; tools/ftps-users writes them.
 *
 * cert (optional, needs [tls] client_ca) maps a verified client certificate
 * to the user: "sha256=<64 hex>" (certificate fingerprint) or
 * "subject=<RFC 2253 subject>", optionally followed by "+nopass" (the
 * certificate alone logs in; otherwise the password is needed too). A user
 * with a cert spec cannot log in without that certificate.
 *
 * Failed logins are counted per user name and per client address; after
 * max_failures within the lockout period both are locked for
 * lockout_seconds. */
#ifndef FTPS_CONTROL_USERS_H
#define FTPS_CONTROL_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PERM_READ   1u
#define PERM_WRITE  2u
#define PERM_DELETE 4u
#define PERM_RENAME 8u
#define PERM_MKDIR  16u

#define USER_NAME_MAX 64
#define USER_ROOT_MAX 512

struct user {
	char name[USER_NAME_MAX];
	char hash[256];
	char root[USER_ROOT_MAX];
	unsigned perms;
	uint32_t max_sessions; /* 0 = the global per-user limit */
	char cert[300];        /* "" or "sha256=..." / "subject=..." */
	bool cert_nopass;
};

struct user_db {
	struct user *users;
	size_t count;
};

/* Parse a users file; on error returns -1 with "file:line: reason". */
int users_load(const char *path, struct user_db *db, char *err, size_t errlen);
void users_free(struct user_db *db);
const struct user *users_find(const struct user_db *db, const char *name);
/* Check a password against a stored hash; constant-time compare. Runs the
 * KDF with fixed parameters even for a NULL hash (unknown user), so timing
 * does not reveal which names exist. */
bool users_check_password(const char *hash, const char *password);
/* Produce a hash string for password (for tests and tools). */
int users_make_hash(const char *password, char *out, size_t cap);
int users_parse_perms(const char *s, unsigned *out);
/* Parse "sha256=HEX[+nopass]" / "subject=DN[+nopass]" into u; 0 or -1. */
int users_parse_cert(const char *spec, struct user *u);
/* Does the verified client certificate (fingerprint hex, subject) match? */
bool users_cert_matches(const struct user *u, const char *sha256_hex, const char *subject);

/* Lockout bookkeeping. */
void auth_configure(uint32_t max_failures, uint32_t lockout_seconds);
bool auth_locked(const char *user, const char *addr, uint64_t now_ms);
void auth_record_failure(const char *user, const char *addr, uint64_t now_ms);
void auth_record_success(const char *user, const char *addr);

#endif
