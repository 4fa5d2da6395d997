#include "users.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_LEN     32
#define SALT_LEN     16
#define DEFAULT_LOGN 14 /* N = 16384, r = 8: 16 MiB, tens of ms */

static int scrypt(const char *pw, const uint8_t *salt, size_t salt_len, uint64_t n, uint32_t r,
                  uint32_t p, uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	uint64_t maxmem = 1024ull * 1024 * 1024;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)pw, strlen(pw)),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
	    OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
	    OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
	    OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
	    OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
	    OSSL_PARAM_construct_end(),
	};
	int rc = kctx && EVP_KDF_derive(kctx, out, out_len, params) == 1 ? 0 : -1;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

static int unhex(const char *s, size_t n, uint8_t *out, size_t cap)
{
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + (size_t)k];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else
				return -1;
		}
		out[i] = (uint8_t)v;
	}
	return (int)(n / 2);
}

struct parsed_hash {
	uint64_t n;
	uint32_t r, p;
	uint8_t salt[64], hash[64];
	size_t salt_len, hash_len;
};

static int parse_hash(const char *h, struct parsed_hash *ph)
{
	unsigned long long n;
	unsigned r, p;
	int off = 0;

	if (sscanf(h, "scrypt$%llu$%u$%u$%n", &n, &r, &p, &off) != 3 || off == 0)
		return -1;
	if (n < 1024 || n > (1u << 20) || (n & (n - 1)) || r < 1 || r > 32 || p < 1 || p > 16)
		return -1;
	const char *salt = h + off, *dollar = strchr(salt, '$');
	if (dollar == NULL)
		return -1;
	int sl = unhex(salt, (size_t)(dollar - salt), ph->salt, sizeof(ph->salt));
	int hl = unhex(dollar + 1, strlen(dollar + 1), ph->hash, sizeof(ph->hash));
	if (sl < 8 || hl < 16)
		return -1;
	ph->n = n;
	ph->r = r;
	ph->p = p;
	ph->salt_len = (size_t)sl;
	ph->hash_len = (size_t)hl;
	return 0;
}

bool users_check_password(const char *hash, const char *password)
{
	struct parsed_hash ph;
	uint8_t got[64];
	bool real = hash != NULL && parse_hash(hash, &ph) == 0;

	if (!real) { /* same work as a default hash, then fail */
		memset(&ph, 0, sizeof(ph));
		ph.n = 1u << DEFAULT_LOGN;
		ph.r = 8;
		ph.p = 1;
		ph.salt_len = SALT_LEN;
		ph.hash_len = HASH_LEN;
	}
	if (scrypt(password, ph.salt, ph.salt_len, ph.n, ph.r, ph.p, got, ph.hash_len) != 0)
		return false;
	bool ok = CRYPTO_memcmp(got, ph.hash, ph.hash_len) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return real && ok;
}

int users_make_hash(const char *password, char *out, size_t cap)
{
	uint8_t salt[SALT_LEN], hash[HASH_LEN];
	char hs[2 * SALT_LEN + 1], hh[2 * HASH_LEN + 1];

	if (RAND_bytes(salt, sizeof(salt)) != 1 ||
	    scrypt(password, salt, sizeof(salt), 1u << DEFAULT_LOGN, 8, 1, hash, sizeof(hash)))
		return -1;
	for (size_t i = 0; i < SALT_LEN; i++)
		snprintf(hs + 2 * i, 3, "%02x", salt[i]);
	for (size_t i = 0; i < HASH_LEN; i++)
		snprintf(hh + 2 * i, 3, "%02x", hash[i]);
	int n = snprintf(out, cap, "scrypt$%u$8$1$%s$%s", 1u << DEFAULT_LOGN, hs, hh);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

int users_parse_perms(const char *s, unsigned *out)
{
	unsigned p = 0;
	for (; *s; s++) {
		switch (*s) {
		case 'r':
			p |= PERM_READ;
			break;
		case 'w':
			p |= PERM_WRITE;
			break;
		case 'd':
			p |= PERM_DELETE;
			break;
		case 'n':
			p |= PERM_RENAME;
			break;
		case 'm':
			p |= PERM_MKDIR;
			break;
		case '-':
			break;
		default:
			return -1;
		}
	}
	*out = p;
	return 0;
}

int users_parse_cert(const char *spec, struct user *u)
{
	char buf[sizeof(u->cert)];
	size_t n = strlen(spec);
	bool nopass = false;

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, spec, n + 1);
	if (n > 7 && strcmp(buf + n - 7, "+nopass") == 0) {
		nopass = true;
		buf[n - 7] = '\0';
	}
	if (strncmp(buf, "sha256=", 7) == 0) {
		if (strlen(buf + 7) != 64)
			return -1;
		for (char *c = buf + 7; *c; c++) {
			if (*c >= 'A' && *c <= 'F')
				*c = (char)(*c - 'A' + 'a');
			if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
				return -1;
		}
	} else if (strncmp(buf, "subject=", 8) != 0 || buf[8] == '\0') {
		return -1;
	}
	snprintf(u->cert, sizeof(u->cert), "%s", buf);
	u->cert_nopass = nopass;
	return 0;
}

bool users_cert_matches(const struct user *u, const char *sha256_hex, const char *subject)
{
	if (u->cert[0] == '\0' || sha256_hex == NULL || subject == NULL)
		return false;
	if (strncmp(u->cert, "sha256=", 7) == 0)
		return strlen(sha256_hex) == 64 && CRYPTO_memcmp(u->cert + 7, sha256_hex, 64) == 0;
	return strcmp(u->cert + 8, subject) == 0;
}

static bool name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len >= USER_NAME_MAX)
		return false;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
		      (*n >= '0' && *n <= '9') || *n == '_' || *n == '-' || *n == '.' || *n == '@'))
			return false;
	return true;
}

int users_load(const char *path, struct user_db *db, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char line[2048];
	unsigned lineno = 0;
	struct user_db out = {0};
	size_t cap = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		size_t len = strlen(line);
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			snprintf(err, errlen, "%s:%u: line too long", path, lineno);
			goto fail;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		/* split on ':' (the cert field, last, may contain ':' itself) */
		char *fields[6] = {0};
		int nf = 0;
		char *p = line;
		while (nf < 6) {
			fields[nf++] = p;
			if (nf == 6)
				break;
			char *c = strchr(p, ':');
			if (c == NULL)
				break;
			*c = '\0';
			p = c + 1;
		}
		if (nf < 4) {
			snprintf(err, errlen,
			         "%s:%u: expected name:hash:root:perms[:max_sessions[:cert]]", path,
			         lineno);
			goto fail;
		}
		struct user u = {0};
		struct parsed_hash ph;
		if (!name_ok(fields[0])) {
			snprintf(err, errlen, "%s:%u: bad user name", path, lineno);
			goto fail;
		}
		if (parse_hash(fields[1], &ph) != 0 || strlen(fields[1]) >= sizeof(u.hash)) {
			snprintf(err, errlen,
			         "%s:%u: bad password hash (need scrypt$N$r$p$salt$hash)", path,
			         lineno);
			goto fail;
		}
		if (fields[2][0] != '/' || strlen(fields[2]) >= sizeof(u.root)) {
			snprintf(err, errlen, "%s:%u: root must be an absolute path", path, lineno);
			goto fail;
		}
		if (users_parse_perms(fields[3], &u.perms) != 0) {
			snprintf(err, errlen, "%s:%u: perms must be letters from rwdnm", path,
			         lineno);
			goto fail;
		}
		if (nf == 6 && fields[5][0] && users_parse_cert(fields[5], &u) != 0) {
			snprintf(err, errlen, "%s:%u: cert must be sha256=<64 hex> or subject=<DN>",
			         path, lineno);
			goto fail;
		}
		if (nf >= 5) {
			char *end;
			unsigned long v = strtoul(fields[4], &end, 10);
			if (*end || v > 100000 || fields[4][0] < '0' || fields[4][0] > '9') {
				snprintf(err, errlen, "%s:%u: bad max_sessions", path, lineno);
				goto fail;
			}
			u.max_sessions = (uint32_t)v;
		}
		snprintf(u.name, sizeof(u.name), "%s", fields[0]);
		snprintf(u.hash, sizeof(u.hash), "%s", fields[1]);
		snprintf(u.root, sizeof(u.root), "%s", fields[2]);
		if (users_find(&out, u.name) != NULL) {
			snprintf(err, errlen, "%s:%u: duplicate user %s", path, lineno, u.name);
			goto fail;
		}
		if (out.count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct user *nu = realloc(out.users, ncap * sizeof(*nu));
			if (nu == NULL) {
				snprintf(err, errlen, "%s:%u: out of memory", path, lineno);
				goto fail;
			}
			out.users = nu;
			cap = ncap;
		}
		out.users[out.count++] = u;
	}
	fclose(f);
	*db = out;
	return 0;
fail:
	fclose(f);
	free(out.users);
	return -1;
}

void users_free(struct user_db *db)
{
	if (db->users)
		OPENSSL_cleanse(db->users, db->count * sizeof(*db->users));
	free(db->users);
	db->users = NULL;
	db->count = 0;
}

const struct user *users_find(const struct user_db *db, const char *name)
{
	for (size_t i = 0; i < db->count; i++)
		if (strcmp(db->users[i].name, name) == 0)
			return &db->users[i];
	return NULL;
}

/* Lockout table: keys "u:<name>" and "a:<address>". */
#define FAIL_SLOTS 1024
struct fail_entry {
	char key[96];
	uint32_t count;
	uint64_t first_ms, locked_until_ms;
};
static struct fail_entry fails[FAIL_SLOTS];
static uint32_t cfg_max_failures = 5;
static uint64_t cfg_lockout_ms = 300000;

void auth_configure(uint32_t max_failures, uint32_t lockout_seconds)
{
	cfg_max_failures = max_failures;
	cfg_lockout_ms = (uint64_t)lockout_seconds * 1000u;
}

static struct fail_entry *fail_slot(const char *key, bool create, uint64_t now)
{
	struct fail_entry *victim = NULL; /* first free slot, else the oldest */
	for (size_t i = 0; i < FAIL_SLOTS; i++) {
		struct fail_entry *e = &fails[i];
		if (e->key[0] && strcmp(e->key, key) == 0)
			return e;
		if (victim == NULL ||
		    (victim->key[0] && (!e->key[0] || e->first_ms < victim->first_ms)))
			victim = e;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->first_ms = now;
	return victim;
}

static bool key_locked(const char *key, uint64_t now)
{
	struct fail_entry *e = fail_slot(key, false, now);
	return e != NULL && e->locked_until_ms > now;
}

bool auth_locked(const char *user, const char *addr, uint64_t now)
{
	char k[96];
	snprintf(k, sizeof(k), "u:%s", user ? user : "");
	if (key_locked(k, now))
		return true;
	snprintf(k, sizeof(k), "a:%s", addr);
	return key_locked(k, now);
}

static void key_fail(const char *key, uint64_t now)
{
	struct fail_entry *e = fail_slot(key, true, now);
	if (now - e->first_ms > cfg_lockout_ms && e->locked_until_ms <= now) {
		e->count = 0; /* old failures age out */
		e->first_ms = now;
	}
	if (++e->count >= cfg_max_failures && cfg_lockout_ms > 0)
		e->locked_until_ms = now + cfg_lockout_ms;
}

void auth_record_failure(const char *user, const char *addr, uint64_t now)
{
	char k[96];
	snprintf(k, sizeof(k), "u:%s", user ? user : "");
	key_fail(k, now);
	snprintf(k, sizeof(k), "a:%s", addr);
	key_fail(k, now);
}

void auth_record_success(const char *user, const char *addr)
{
	char k[96];
	struct fail_entry *e;
	snprintf(k, sizeof(k), "u:%s", user);
	if ((e = fail_slot(k, false, 0)) != NULL && e->locked_until_ms == 0)
		memset(e, 0, sizeof(*e));
	snprintf(k, sizeof(k), "a:%s", addr);
	if ((e = fail_slot(k, false, 0)) != NULL && e->locked_until_ms == 0)
		memset(e, 0, sizeof(*e));
}
