/* The control plane's side of the dataplane links (ipc/ftps_ipc.h): one
 * SOCK_SEQPACKET link per dataplane worker, reconnected when it drops, and
 * the relayed connections ("rconn") carried over them with credit-based flow
 * control. Owners (sessions, data connections) get callbacks; the rconn
 * frees itself after close when both directions are done. */
#ifndef FTPS_CONTROL_DP_LINK_H
#define FTPS_CONTROL_DP_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "bbuf.h"
#include "ipc/ftps_ipc.h"

struct rconn;

struct rconn_ops {
	/* Bytes arrived; credit is returned after the call returns. */
	void (*on_data)(void *owner, struct rconn *c, const uint8_t *p, size_t n);
	void (*on_fin)(void *owner, struct rconn *c);
	/* Connection gone (reset, or link lost); the rconn is freed after. */
	void (*on_reset)(void *owner, struct rconn *c);
	/* Send queue drained below the low mark. */
	void (*on_writable)(void *owner, struct rconn *c);
	/* CONNECT result (status 0 or errno). */
	void (*on_connected)(void *owner, struct rconn *c, int status);
	/* The dataplane finished a transfer it took over (rconn_takeover);
	 * the rconn is freed after the call. */
	void (*on_done)(void *owner, struct rconn *c, const struct ftps_ipc_done *done);
};

struct rconn {
	struct dp_link *link;
	uint64_t id;
	uint32_t listener_id;
	struct ftps_ipc_addr local, peer;
	uint16_t local_port, peer_port;
	uint32_t tx_credit; /* bytes we may still send */
	uint32_t rx_window; /* bytes the dataplane may still send us */
	struct bbuf outq;   /* waiting for credit */
	bool fin_pending, fin_sent, fin_rcvd, closed_by_owner, connecting;
	bool taken_over;   /* the dataplane moves this connection's bytes now */
	uint64_t rx_total; /* stream bytes received from the dataplane */
	uint64_t close_deadline_ms;
	const struct rconn_ops *ops;
	void *owner;
	struct rconn *next; /* hash chain */
};

/* Callbacks into the application (session.c). */
void app_conn_opened(struct rconn *c);
void app_listen_result(uint32_t listener_id, int status);
void app_link_state(int link_index, bool up);

int dp_init(const char *socket_path);
void dp_shutdown(void);
/* Periodic: reconnect links, expire closing connections. */
void dp_tick(uint64_t now_ms);
bool dp_any_up(void);
int dp_link_index(const struct dp_link *l);

/* Listen on one link (link_index >= 0) or every link (-1); returns how
 * many links it was sent to. */
int dp_listen(int link_index, uint32_t listener_id, const struct ftps_ipc_addr *local,
              uint16_t port, const struct ftps_ipc_addr *peer_only);
void dp_unlisten_all(uint32_t listener_id);
/* Connect out through link; NULL if the link is down. The result arrives by
 * ops->on_connected. */
struct rconn *dp_connect(struct dp_link *link, const struct ftps_ipc_addr *peer, uint16_t port,
                         const struct rconn_ops *ops, void *owner);

void rconn_set_owner(struct rconn *c, const struct rconn_ops *ops, void *owner);
/* Queue bytes (bounded); 0 or -1 when the queue cap would be exceeded. */
int rconn_write(struct rconn *c, const void *p, size_t n);
size_t rconn_pending(const struct rconn *c);
/* Owner is done: FIN after the queue drains; freed once the peer's FIN came
 * (or after a grace period, with a RESET). No callbacks after this. */
void rconn_close(struct rconn *c);
/* Owner is done, abort now. No callbacks after this. */
void rconn_abort(struct rconn *c);
/* Hands the connection to the dataplane's fast path: m (len bytes, with
 * its leftover tail) goes with fd; bytes_seen is filled in here.  Only
 * when nothing waits in the send queue.  0, or -1 (link down, queue not
 * empty).  Afterwards DATA is ignored and ops->on_done reports the end;
 * rconn_abort still works (ABOR). */
int rconn_takeover(struct rconn *c, struct ftps_ipc_takeover *m, size_t len, int fd);
/* Frees a connection the dataplane no longer has, sending nothing. */
void rconn_forget(struct rconn *c);

#endif
