/* FTP sessions: one per relayed control connection. State, replies, the
 * command dispatcher (commands.c) and data connections (data_conn.c,
 * transfer_relay.c). Single-threaded; every object is owned by its session
 * and freed with it. */
#ifndef FTPS_CONTROL_SESSION_H
#define FTPS_CONTROL_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "bbuf.h"
#include "config.h"
#include "dp_link.h"
#include "ftp_cmd.h"
#include "listing.h"
#include "paths.h"
#include "tls.h"
#include "users.h"

#define LISTENER_EXPLICIT   1u
#define LISTENER_IMPLICIT   2u
#define LISTENER_FIRST_PASV 16u

enum job_kind { JOB_NONE, JOB_SEND_BUFFER, JOB_RETR, JOB_STOR };

struct data_conn;

struct job {
	enum job_kind kind;
	struct bbuf buf; /* JOB_SEND_BUFFER: listing text */
	int fd;          /* JOB_RETR / JOB_STOR: the open file */
	uint64_t offset; /* REST */
	uint64_t bytes;
	uint64_t start_ms;
	char vpath[VPATH_MAX];
	char xfer_dir;   /* 'o' or 'i' for xferlog; 0 for listings */
	bool started;    /* 150 sent and data flowing */
	bool taken_over; /* the dataplane moves the file bytes (transfer_takeover.c) */
	bool created;    /* the upload created the file: its directory is synced too */
};

enum data_mode { DM_NONE, DM_PASV, DM_PORT };

struct session {
	uint64_t sid;
	struct rconn *ctrl;
	int link_index;
	struct ftps_ipc_addr peer_addr, local_addr;
	uint16_t peer_port, local_port;
	char peer_str[64];
	bool implicit;

	/* TLS on the control connection */
	struct tls_stream tls;
	struct tls_info tinfo;
	bool tls_on;
	bool banner_sent;

	/* plaintext command input */
	struct bbuf in;
	bool discarding;

	/* protocol state */
	bool pbsz, prot_p;
	bool user_given, logged_in, anonymous;
	bool auth_pending; /* password check running in the KDF worker */
	bool auth_locked;  /* ... and the answer is "no" whatever it says */
	char user_name[USER_NAME_MAX];
	struct user user;
	int root_fd;
	char cwd[VPATH_MAX];
	uint64_t rest;
	bool rnfr_set;
	char rnfr[VPATH_MAX];
	bool epsv_all;
	char hash_algo[16];
	char mlst_facts[64];

	/* timers */
	uint64_t last_activity_ms, login_deadline_ms;
	uint64_t delay_until_ms; /* failed login: reply held back until then */
	char delayed_text[160];
	int delayed_code;

	/* data connection setup */
	enum data_mode dmode;
	uint32_t listener_id;
	uint16_t pasv_port;
	int listen_pending; /* LISTEN_RESULTs still expected */
	int listen_failed;  /* failures among them */
	int listen_attempts;
	bool pasv_extended;   /* reply 229 rather than 227 */
	bool awaiting_listen; /* command processing waits for the results */
	struct ftps_ipc_addr port_addr;
	uint16_t port_port;
	struct data_conn *dc;
	uint64_t data_deadline_ms;
	struct job job;

	bool closing;
	struct session *next, *prev;
};

struct data_conn {
	struct session *s;
	struct rconn *rc;
	struct tls_stream tls;
	struct tls_info tinfo;
	bool tls_on;
	bool connected; /* accepted, or CONNECT succeeded */
	bool fin_rcvd;
	struct bbuf raw_in;   /* bytes before the transfer command started TLS */
	struct bbuf plain_in; /* STOR: plaintext not yet written */
};

/* globals of the process (main.c) */
extern struct ftps_config *g_cfg;
extern struct user_db g_users;

/* transfer_takeover.c: 1 when the dataplane took the transfer over (or it
 * waits for the send queue to drain first), 0 to carry it here instead. */
int transfer_takeover_try(struct session *s);
void transfer_takeover_done(struct session *s, const struct ftps_ipc_done *done);

/* session.c */
void session_reply(struct session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void session_refuse(struct session *s, int code, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void session_close(struct session *s, const char *why);
void session_process_input(struct session *s);
void sessions_tick(uint64_t now_ms);
void sessions_close_all(const char *why);
void sessions_reap(void);
unsigned sessions_count_user(const char *user);
void sessions_listen_control(int link_index);
struct session *session_find(uint64_t sid);

/* commands.c */
void command_dispatch(struct session *s, struct ftp_request *req);
/* May this command run while a transfer is in progress? */
bool command_allowed_busy(const struct ftp_request *req);
/* KDF worker result for a PASS (kdf_worker.h callback). */
void command_auth_result(uint64_t sid, bool ok);

/* data_conn.c */
void data_start_pasv(struct session *s, bool extended);
void data_listen_result(struct session *s, int status);
bool data_accept(struct session *s, struct rconn *c);
/* Start a transfer job already prepared in s->job (150 sent by caller when
 * the connection is ready). */
void data_begin_job(struct session *s);
void data_abort(struct session *s, bool reply_426);
void data_reset_mode(struct session *s);
void data_tick(struct session *s, uint64_t now_ms);
/* Bytes moved: push the stall deadline out by data_timeout. */
void data_progress(struct session *s);
bool session_busy(const struct session *s);
void data_finish_job(struct session *s, int code, const char *text);

/* transfer_relay.c */
void transfer_relay_pump_send(struct session *s);
void transfer_relay_on_plain(struct session *s, const uint8_t *p, size_t n);
void transfer_relay_on_end(struct session *s, bool close_notify);

#endif
