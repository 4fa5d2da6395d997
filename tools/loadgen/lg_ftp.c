#include "lg_ftp.h"

#include <stdlib.h>
#include <string.h>

int lg_reply_take(char *buf, size_t *len, size_t cap, int *code, char *line, size_t line_cap)
{
	size_t start = 0;
	int first_code = -1;
	while (start < *len) {
		char *nl = memchr(buf + start, '\n', *len - start);
		if (nl == NULL)
			break;
		size_t line_len = (size_t)(nl - (buf + start)) + 1;
		const char *l = buf + start;
		int is_code = line_len >= 4 && l[0] >= '0' && l[0] <= '9' && l[1] >= '0' &&
		              l[1] <= '9' && l[2] >= '0' && l[2] <= '9';
		int c = is_code ? (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0') : -1;
		if (first_code < 0) {
			if (!is_code)
				return -1;
			first_code = c;
			size_t n = line_len < line_cap ? line_len : line_cap - 1;
			memcpy(line, l, n);
			line[n] = '\0';
		}
		start += line_len;
		/* The last line repeats the code followed by a space. */
		if (c == first_code && l[3] == ' ') {
			*code = first_code;
			memmove(buf, buf + start, *len - start);
			*len -= start;
			return 1;
		}
	}
	if (*len == cap)
		return -1; /* a reply larger than the buffer */
	return 0;
}

int lg_parse_epsv(const char *line, uint16_t *port)
{
	const char *p = strstr(line, "(|||");
	if (p == NULL)
		return -1;
	char *end = NULL;
	long v = strtol(p + 4, &end, 10);
	if (end == NULL || *end != '|' || v <= 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

const char *lg_op_verb(enum lg_op op)
{
	return op == LG_OP_RETR ? "retr" : op == LG_OP_STOR ? "stor" : "list";
}

static int want_more(struct lg_run *run, int small_retr_next, double t_end_new)
{
	if (small_retr_next)
		return 1; /* finish the pair: the file just stored is read back */
	if (run->opt.count > 0 && run->issued >= run->opt.count)
		return 0;
	/* Counts finished transfers: with several sessions, the ones in
	 * flight when the total is reached still complete. */
	if (run->opt.total_bytes > 0 && run->bytes_down + run->bytes_up >= run->opt.total_bytes)
		return 0;
	if (run->opt.duration > 0 && lg_now() >= t_end_new)
		return 0;
	return 1;
}

int lg_plan_next(struct lg_run *run, int id, uint64_t *seq, int *small_retr_next, double t_end_new,
                 struct lg_pattern *pattern, struct lg_xfer *x)
{
	if (!want_more(run, *small_retr_next, t_end_new))
		return 0;
	x->expect_size = UINT64_MAX;
	x->have_expect = 0;
	const char *prefix = run->opt.prefix;
	int counted = 1;
	switch (run->opt.workload) {
	case LG_WL_RETR:
		x->op = LG_OP_RETR;
		snprintf(x->name, sizeof(x->name), "%s", run->opt.file);
		if (run->opt.size > 0)
			x->expect_size = run->opt.size;
		if (run->have_retr_expect) {
			x->have_expect = 1;
			memcpy(x->expect, run->retr_expect, 32);
		}
		break;
	case LG_WL_STOR:
		x->op = LG_OP_STOR;
		snprintf(x->name, sizeof(x->name), "%s-%d-%llu.bin", prefix, id,
		         (unsigned long long)*seq);
		x->expect_size = run->opt.size;
		break;
	case LG_WL_SMALL:
		if (*small_retr_next) {
			x->op = LG_OP_RETR; /* same name as the STOR before it */
			*small_retr_next = 0;
			counted = 0; /* the pair counts once */
			x->expect_size = run->opt.size;
			if (!run->opt.no_verify) {
				if (lg_pattern_sha256(pattern, run->opt.size, x->expect) != 0)
					return -1;
				x->have_expect = 1;
			}
		} else {
			x->op = LG_OP_STOR;
			/* A few names per session, rewritten in turn, keep the
			 * directory small however long the storm runs. */
			snprintf(x->name, sizeof(x->name), "%s-s%d-%llu.bin", prefix, id,
			         (unsigned long long)(*seq % 16));
			x->expect_size = run->opt.size;
			*small_retr_next = 1;
		}
		break;
	case LG_WL_LIST:
		x->op = LG_OP_LIST;
		snprintf(x->name, sizeof(x->name), "-");
		break;
	}
	if (x->op == LG_OP_STOR)
		lg_pattern_init(pattern, run->opt.seed, x->name);
	if (counted)
		run->issued++;
	(*seq)++;
	return 1;
}

static void hex(const uint8_t *d, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int lg_finish_transfer(struct lg_run *run, const struct lg_xfer *x, uint64_t bytes, EVP_MD_CTX *md,
                       double t_op, enum lg_error *err, const char **why)
{
	double now = lg_now();
	uint8_t got[32];
	int have_got = 0;
	if (md != NULL) {
		unsigned int len = 0;
		if (!EVP_DigestFinal_ex(md, got, &len) || len != 32) {
			*err = LG_ERR_PROTOCOL;
			*why = "SHA-256 failed";
			return -1;
		}
		have_got = 1;
	}
	if (x->op != LG_OP_LIST && x->expect_size != UINT64_MAX && bytes != x->expect_size) {
		*err = LG_ERR_SIZE;
		*why = "byte count differs from the expected size";
		return -1;
	}
	if (x->op == LG_OP_RETR && x->have_expect && have_got && memcmp(got, x->expect, 32) != 0) {
		*err = LG_ERR_CONTENT;
		*why = "download SHA-256 differs";
		return -1;
	}
	if (x->op == LG_OP_STOR)
		run->bytes_up += bytes;
	else
		run->bytes_down += bytes;
	if (x->op != LG_OP_LIST)
		run->files++;
	run->transfers++;
	lg_hist_add(&run->lat_transfer, now - t_op);
	run->t_last_op = now;
	if (run->manifest != NULL) {
		char h[65] = "-";
		if (have_got)
			hex(got, h);
		fprintf(run->manifest, "%s %s %llu %s\n", lg_op_verb(x->op), x->name,
		        (unsigned long long)bytes, h);
	}
	return 0;
}
