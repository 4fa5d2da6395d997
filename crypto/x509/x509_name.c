/* Subject names and subject alternative names from operator text. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "ftps_x509.h"

#define NAME_TEXT_MAX 1024

/* Split at sep (unescaped), unescaping "\<sep>" and "\\" in place. Returns the
 * start of the next field or NULL at the end. */
static char *next_field(char *p, char sep)
{
	char *w = p;
	for (char *r = p; *r != '\0'; r++) {
		if (*r == '\\' && r[1] != '\0') {
			*w++ = *++r;
			continue;
		}
		if (*r == sep) {
			*w = '\0';
			return r + 1;
		}
		*w++ = *r;
	}
	*w = '\0';
	return NULL;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

X509_NAME *x509_name_parse(const char *text, struct x509_error *err)
{
	if (text == NULL || strlen(text) >= NAME_TEXT_MAX) {
		x509_fail(err, "subject missing or longer than %d characters", NAME_TEXT_MAX - 1);
		return NULL;
	}
	char copy[NAME_TEXT_MAX];
	snprintf(copy, sizeof(copy), "%s", text);
	char sep = ',';
	char *p = trim(copy);
	if (*p == '/') {
		sep = '/';
		p++;
	}
	X509_NAME *name = X509_NAME_new();
	if (name == NULL) {
		x509_fail(err, "out of memory");
		return NULL;
	}
	int fields = 0;
	while (p != NULL) {
		char *field = p;
		p = next_field(p, sep);
		field = trim(field);
		if (*field == '\0')
			continue;
		char *eq = strchr(field, '=');
		if (eq == NULL || eq == field || eq[1] == '\0') {
			x509_fail(err,
			          "subject field '%s' is not of the form KEY=value (e.g. "
			          "CN=ftp.example.com,O=Example)",
			          field);
			goto fail;
		}
		*eq = '\0';
		char *key = trim(field), *value = trim(eq + 1);
		if (!X509_NAME_add_entry_by_txt(name, key, MBSTRING_UTF8,
		                                (const unsigned char *)value, -1, -1, 0)) {
			x509_fail(err,
			          "subject field '%s=%s' rejected (unknown field name or value "
			          "too long)",
			          key, value);
			goto fail;
		}
		fields++;
	}
	if (fields == 0) {
		x509_fail(err, "empty subject (give at least CN=...)");
		goto fail;
	}
	return name;
fail:
	X509_NAME_free(name);
	return NULL;
}

static bool dns_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(isalnum(c) || c == '-' || c == '.' || (c == '*' && i == 0) || c == '_'))
			return false;
	}
	return s[0] != '.' && s[n - 1] != '.' && strstr(s, "..") == NULL;
}

static int add_one_san(const char *entry, GENERAL_NAMES *names, struct x509_error *err)
{
	const char *value = entry;
	int type = -1;
	if (strncasecmp(entry, "DNS:", 4) == 0) {
		type = GEN_DNS;
		value = entry + 4;
	} else if (strncasecmp(entry, "IP:", 3) == 0) {
		type = GEN_IPADD;
		value = entry + 3;
	} else {
		unsigned char buf[16];
		type = (inet_pton(AF_INET, entry, buf) == 1 || inet_pton(AF_INET6, entry, buf) == 1)
		           ? GEN_IPADD
		           : GEN_DNS;
	}
	GENERAL_NAME *gn = GENERAL_NAME_new();
	if (gn == NULL)
		return x509_fail(err, "out of memory");
	if (type == GEN_IPADD) {
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(value);
		if (ip == NULL) {
			GENERAL_NAME_free(gn);
			return x509_fail(err, "'%s' is not an IPv4 or IPv6 address", value);
		}
		GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
	} else {
		if (!dns_name_ok(value)) {
			GENERAL_NAME_free(gn);
			return x509_fail(err, "'%s' is not a valid DNS name", value);
		}
		ASN1_IA5STRING *dns = ASN1_IA5STRING_new();
		if (dns == NULL || !ASN1_STRING_set(dns, value, (int)strlen(value))) {
			ASN1_IA5STRING_free(dns);
			GENERAL_NAME_free(gn);
			return x509_fail(err, "out of memory");
		}
		GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
	}
	if (!sk_GENERAL_NAME_push(names, gn)) {
		GENERAL_NAME_free(gn);
		return x509_fail(err, "out of memory");
	}
	return 0;
}

int x509_san_parse(const char *text, GENERAL_NAMES **names, struct x509_error *err)
{
	if (strlen(text) >= NAME_TEXT_MAX)
		return x509_fail(err, "SAN list longer than %d characters", NAME_TEXT_MAX - 1);
	if (*names == NULL) {
		*names = GENERAL_NAMES_new();
		if (*names == NULL)
			return x509_fail(err, "out of memory");
	}
	char copy[NAME_TEXT_MAX];
	snprintf(copy, sizeof(copy), "%s", text);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		char *entry = trim(tok);
		if (*entry == '\0')
			continue;
		if (add_one_san(entry, *names, err) != 0)
			return -1;
	}
	return 0;
}

void x509_name_text(const X509_NAME *name, char *out, size_t out_len)
{
	out[0] = '\0';
	BIO *mem = BIO_new(BIO_s_mem());
	if (mem == NULL)
		return;
	if (X509_NAME_print_ex(mem, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		char *data = NULL;
		long len = BIO_get_mem_data(mem, &data);
		if (len > 0)
			snprintf(out, out_len, "%.*s", (int)len, data);
	}
	BIO_free(mem);
	ERR_clear_error();
}

void x509_san_text(const GENERAL_NAMES *names, char *out, size_t out_len)
{
	size_t used = 0;
	out[0] = '\0';
	for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		char item[300] = "";
		if (gn->type == GEN_DNS) {
			const ASN1_IA5STRING *s = gn->d.dNSName;
			snprintf(item, sizeof(item), "DNS:%.*s", ASN1_STRING_length(s),
			         (const char *)ASN1_STRING_get0_data(s));
		} else if (gn->type == GEN_IPADD) {
			const ASN1_OCTET_STRING *s = gn->d.iPAddress;
			char ip[INET6_ADDRSTRLEN] = "?";
			int len = ASN1_STRING_length(s);
			if (len == 4 || len == 16)
				inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s),
				          ip, sizeof(ip));
			snprintf(item, sizeof(item), "IP:%s", ip);
		} else if (gn->type == GEN_EMAIL) {
			const ASN1_IA5STRING *s = gn->d.rfc822Name;
			snprintf(item, sizeof(item), "email:%.*s", ASN1_STRING_length(s),
			         (const char *)ASN1_STRING_get0_data(s));
		} else {
			snprintf(item, sizeof(item), "other(%d)", gn->type);
		}
		int n = snprintf(out + used, out_len - used, "%s%s", i ? ", " : "", item);
		if (n < 0 || (size_t)n >= out_len - used)
			break;
		used += (size_t)n;
	}
	/* Names come from untrusted certificates: no terminal control bytes. */
	for (char *c = out; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}
