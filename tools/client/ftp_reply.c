/* FTP reply and listing parsers; see ftp_reply.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ftp_reply.h"

int ftp_reply_code(const char *line, bool *more)
{
	if (!isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]))
		return -1;
	if (line[0] < '1' || line[0] > '6')
		return -1;
	if (line[3] != ' ' && line[3] != '-' && line[3] != '\0')
		return -1;
	*more = line[3] == '-';
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/* Decimal number of at most max, advancing *p. */
static int read_uint(const char **p, unsigned long max, unsigned long *out)
{
	const char *s = *p;
	unsigned long v = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -1;
		s++;
	}
	*p = s;
	*out = v;
	return 0;
}

int ftp_parse_epsv(const char *text, uint16_t *port)
{
	const char *p = strchr(text, '(');
	if (p == NULL)
		return -1;
	p++;
	/* RFC 2428 3: the delimiter is any printable ASCII 33-126, used four times. */
	char d = *p;
	if (d < 33 || d > 126 || p[1] != d || p[2] != d)
		return -1;
	p += 3;
	unsigned long v;
	if (read_uint(&p, 65535, &v) != 0 || v == 0 || *p != d || p[1] != ')')
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int ftp_parse_pasv(const char *text, uint8_t ip[4], uint16_t *port)
{
	/* RFC 959 leaves the format loose; find the first digit after the code. */
	const char *p = text;
	if (strlen(p) > 4)
		p += 4;
	while (*p != '\0' && !isdigit((unsigned char)*p))
		p++;
	unsigned long v[6];
	for (int i = 0; i < 6; i++) {
		if (read_uint(&p, 255, &v[i]) != 0)
			return -1;
		if (i < 5) {
			if (*p != ',')
				return -1;
			p++;
		}
	}
	for (int i = 0; i < 4; i++)
		ip[i] = (uint8_t)v[i];
	*port = (uint16_t)(v[4] * 256 + v[5]);
	return *port == 0 ? -1 : 0;
}

int ftp_parse_size(const char *text, uint64_t *size)
{
	if (strncmp(text, "213 ", 4) != 0)
		return -1;
	const char *p = text + 4;
	char *end = NULL;
	if (!isdigit((unsigned char)*p))
		return -1;
	unsigned long long v = strtoull(p, &end, 10);
	if (end == p || (*end != '\0' && *end != '\r' && *end != ' '))
		return -1;
	*size = v;
	return 0;
}

void ftp_feat_line(struct ftp_features *f, const char *line)
{
	while (*line == ' ')
		line++;
	if (strncasecmp(line, "EPSV", 4) == 0 && (line[4] == '\0' || line[4] == ' '))
		f->epsv = true;
	else if (strncasecmp(line, "MLST", 4) == 0)
		f->mlsd = true;
	else if (strncasecmp(line, "REST STREAM", 11) == 0)
		f->rest_stream = true;
	else if (strncasecmp(line, "SIZE", 4) == 0)
		f->size = true;
	else if (strncasecmp(line, "UTF8", 4) == 0)
		f->utf8 = true;
	else if (strncasecmp(line, "HASH ", 5) == 0) {
		/* " HASH SHA-1;SHA-256*;MD5": '*' marks the selected algorithm. */
		char copy[256];
		snprintf(copy, sizeof(copy), "%s", line + 5);
		char *save = NULL;
		for (char *t = strtok_r(copy, "; ", &save); t != NULL;
		     t = strtok_r(NULL, "; ", &save)) {
			size_t n = strlen(t);
			bool selected = n > 0 && t[n - 1] == '*';
			if (selected)
				t[--n] = '\0';
			if (strcasecmp(t, "SHA-256") == 0) {
				f->hash_sha256 = true;
				f->hash_sha256_selected = selected;
			}
		}
	}
}

int ftp_parse_hash(const char *text, uint64_t *start, uint64_t *end, char hex[65])
{
	if (strncmp(text, "213 ", 4) != 0)
		return -1;
	const char *p = text + 4;
	if (strncasecmp(p, "SHA-256 ", 8) != 0)
		return -1;
	p += 8;
	char *e = NULL;
	if (!isdigit((unsigned char)*p))
		return -1;
	*start = strtoull(p, &e, 10);
	if (*e != '-' || !isdigit((unsigned char)e[1]))
		return -1;
	p = e + 1;
	*end = strtoull(p, &e, 10);
	if (*e != ' ' || *end < *start)
		return -1;
	p = e + 1;
	for (int i = 0; i < 64; i++) {
		if (!isxdigit((unsigned char)p[i]))
			return -1;
		hex[i] = (char)tolower((unsigned char)p[i]);
	}
	hex[64] = '\0';
	if (p[64] != ' ' && p[64] != '\0')
		return -1;
	return 0;
}

static int set_name(struct ftp_entry *e, const char *name)
{
	size_t n = strlen(name);
	while (n > 0 && (name[n - 1] == '\r' || name[n - 1] == '\n'))
		n--;
	if (n == 0 || n >= sizeof(e->name))
		return -1;
	memcpy(e->name, name, n);
	e->name[n] = '\0';
	if (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0)
		return 1;
	/* A hostile server must not steer a mirror outside its target folder. */
	if (strchr(e->name, '/') != NULL || strchr(e->name, '\0') != e->name + n)
		return -1;
	return 0;
}

int ftp_parse_list_line(const char *line, struct ftp_entry *e)
{
	memset(e, 0, sizeof(*e));
	if (strncmp(line, "total ", 6) == 0 || line[0] == '\0')
		return 1;
	switch (line[0]) {
	case '-':
		e->type = FTP_ENTRY_FILE;
		break;
	case 'd':
		e->type = FTP_ENTRY_DIR;
		break;
	case 'l':
	case 'c':
	case 'b':
	case 'p':
	case 's':
		e->type = FTP_ENTRY_OTHER;
		break;
	default:
		return -1;
	}
	/* perms links owner group size month day time-or-year name */
	const char *p = line;
	for (int field = 0; field < 8; field++) {
		while (*p != '\0' && *p != ' ')
			p++;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return -1;
		if (field == 3) {
			char *end = NULL;
			if (!isdigit((unsigned char)*p))
				return -1;
			e->size = strtoull(p, &end, 10);
			if (*end != ' ')
				return -1;
		}
	}
	int r = set_name(e, p);
	if (r == 0 && e->type == FTP_ENTRY_OTHER)
		return 1;
	return r;
}

int ftp_parse_mlsd_line(const char *line, struct ftp_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->type = FTP_ENTRY_OTHER;
	const char *sp = strchr(line, ' ');
	if (sp == NULL)
		return -1;
	char facts[1024];
	size_t flen = (size_t)(sp - line);
	if (flen >= sizeof(facts))
		return -1;
	memcpy(facts, line, flen);
	facts[flen] = '\0';
	char *save = NULL;
	for (char *f = strtok_r(facts, ";", &save); f != NULL; f = strtok_r(NULL, ";", &save)) {
		if (strncasecmp(f, "type=", 5) == 0) {
			const char *t = f + 5;
			if (strcasecmp(t, "file") == 0)
				e->type = FTP_ENTRY_FILE;
			else if (strcasecmp(t, "dir") == 0)
				e->type = FTP_ENTRY_DIR;
			else if (strcasecmp(t, "cdir") == 0 || strcasecmp(t, "pdir") == 0)
				return 1;
		} else if (strncasecmp(f, "size=", 5) == 0) {
			char *end = NULL;
			if (!isdigit((unsigned char)f[5]))
				return -1;
			e->size = strtoull(f + 5, &end, 10);
			if (*end != '\0')
				return -1;
		}
	}
	int r = set_name(e, sp + 1);
	if (r == 0 && e->type == FTP_ENTRY_OTHER)
		return 1;
	return r;
}

bool ftp_path_ok(const char *path)
{
	return path != NULL && path[0] != '\0' && strpbrk(path, "\r\n") == NULL;
}
