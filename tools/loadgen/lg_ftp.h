/* The FTP side that both load generator modes share (kernel sockets in
 * lg_session.c, the TCP stack in lgd_session.c): reply parsing, EPSV, which
 * transfer a session does next, and the checks and accounting of a finished
 * one.  No I/O here. */
#ifndef LG_FTP_H
#define LG_FTP_H

#include "loadgen.h"

/* Takes one complete (possibly multi-line, RFC 959 4.2) reply off the front
 * of buf[0, *len): 1 found (its code, its first line NUL-terminated in
 * line), 0 more bytes needed, -1 malformed or larger than cap. */
int lg_reply_take(char *buf, size_t *len, size_t cap, int *code, char *line, size_t line_cap);

/* The port of a "229 ... (|||port|)" reply (RFC 2428). */
int lg_parse_epsv(const char *line, uint16_t *port);

const char *lg_op_verb(enum lg_op op);

/* Plans a session's next transfer into x: 1 planned (run->issued and *seq
 * counted; for STOR the pattern is keyed to the new name), 0 none (the
 * count, byte total or duration is reached: the session quits), -1 hashing
 * failed.  small_retr_next: in the small workload a STOR is followed by the
 * RETR of the same file. */
int lg_plan_next(struct lg_run *run, int id, uint64_t *seq, int *small_retr_next, double t_end_new,
                 struct lg_pattern *pattern, struct lg_xfer *x);

/* A transfer of x ended after bytes, its content hashed in md (may be
 * NULL): checks size and content, then counts it and writes the manifest
 * line.  0, or -1 with the error kind and reason. */
int lg_finish_transfer(struct lg_run *run, const struct lg_xfer *x, uint64_t bytes, EVP_MD_CTX *md,
                       double t_op, enum lg_error *err, const char **why);

#endif
