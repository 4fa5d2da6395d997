#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "net_mbuf.h"

#include "ftps_ipc.h"
#include "tcp.h"
#include "transfer.h"

const char *const relay_counter_names[RELAY_COUNTER_COUNT] = {
#define RELAY_COUNTER_NAME(name, description) #name,
    RELAY_COUNTER_LIST(RELAY_COUNTER_NAME)
#undef RELAY_COUNTER_NAME
};

#define RELAY_BUCKETS       4096 /* power of two */
#define RELAY_MAX_LISTENERS 256
#define RELAY_RECV_BURST    64
/* Relayed connections carry FTP commands and small listings; the bulk data
 * path is the transfer engine.  A small receive budget keeps thousands of
 * idle control connections cheap. */
#define RELAY_TCP_RECEIVE_BUDGET (256u * 1024u)

/* A copy of stream bytes sent to the control plane and not yet credited
 * back: replayed into a transfer when the TAKEOVER says the control plane
 * never saw them (they crossed it in flight). */
struct relay_sent_chunk {
	struct relay_sent_chunk *next;
	uint32_t len;
	uint8_t bytes[];
};

struct relay_conn {
	struct relay_conn *next_in_bucket;
	struct relay_sent_chunk *uncredited_head, *uncredited_tail;
	uint64_t sent_total;     /* stream bytes sent to the control plane */
	uint64_t credited_total; /* of those, bytes it gave credit back for */
	struct relay *relay;
	struct tcp_conn *tcp; /* NULL once released */
	uint64_t id;
	uint32_t listener_id;
	uint32_t credit_to_control;    /* bytes we may still send in DATA */
	uint32_t control_may_send;     /* bytes we granted and have not had */
	struct rte_mbuf *to_control;   /* read from TCP, waiting for credit */
	struct rte_mbuf *from_control; /* waiting for TCP send space */
	uint32_t from_control_bytes;   /* credit owed back once sent */
	struct transfer *transfer;     /* set once the connection is taken over */
	bool connecting;
	bool fin_to_control_sent;
	bool fin_from_control;
	bool tcp_shut_down;
	/* Only data connections can be taken over, so only they pay for the
	 * copies a TAKEOVER replay needs; control connections do not. */
	bool keeps_copies;
};

struct relay_listener {
	struct relay *relay; /* the listener is the TCP listen context */
	uint32_t listener_id;
	uint16_t port;
	bool active;
	bool data_connections; /* PASV/EPSV: one peer; the control plane may take over */
};

struct relay {
	struct tcp_stack *stack;
	struct transfer_engine *engine;
	struct rte_mempool *pool;
	struct control_link link;
	uint64_t next_id;
	uint32_t connection_count;
	unsigned int listener_count;
	struct relay_listener listeners[RELAY_MAX_LISTENERS];
	uint64_t counters[RELAY_COUNTER_COUNT];
	struct relay_conn *buckets[RELAY_BUCKETS];
	unsigned char message[FTPS_IPC_MAX_MSG] __rte_aligned(8);
	unsigned char outgoing[sizeof(struct ftps_ipc_data) + FTPS_IPC_MAX_DATA] __rte_aligned(8);
};

static void relay_link_lost(struct relay *r, const char *why);
static struct rte_mbuf *relay_chain_from(struct relay *r, const uint8_t *p, uint32_t n);

static void relay_count(struct relay *r, enum relay_counter c)
{
	r->counters[c]++;
}

static struct relay_conn **relay_bucket(struct relay *r, uint64_t id)
{
	uint64_t h = id * 0x9e3779b97f4a7c15ULL;
	return &r->buckets[h >> (64 - 12)];
}

static struct relay_conn *relay_find(struct relay *r, uint64_t id)
{
	for (struct relay_conn *rc = *relay_bucket(r, id); rc != NULL; rc = rc->next_in_bucket)
		if (rc->id == id)
			return rc;
	return NULL;
}

static struct relay_conn *relay_conn_new(struct relay *r, uint64_t id)
{
	struct relay_conn *rc = calloc(1, sizeof(*rc));
	if (rc == NULL)
		return NULL;
	rc->relay = r;
	rc->id = id;
	rc->credit_to_control = FTPS_IPC_INITIAL_CREDIT;
	rc->control_may_send = FTPS_IPC_INITIAL_CREDIT;
	struct relay_conn **b = relay_bucket(r, id);
	rc->next_in_bucket = *b;
	*b = rc;
	r->connection_count++;
	return rc;
}

/* Forgets the connection; the TCP handle must already be released. */
static void relay_conn_free(struct relay_conn *rc)
{
	struct relay *r = rc->relay;
	for (struct relay_conn **p = relay_bucket(r, rc->id); *p != NULL;
	     p = &(*p)->next_in_bucket) {
		if (*p == rc) {
			*p = rc->next_in_bucket;
			break;
		}
	}
	rte_pktmbuf_free(rc->to_control);
	rte_pktmbuf_free(rc->from_control);
	while (rc->uncredited_head != NULL) {
		struct relay_sent_chunk *next = rc->uncredited_head->next;
		free(rc->uncredited_head);
		rc->uncredited_head = next;
	}
	r->connection_count--;
	free(rc);
}

static void relay_send_simple(struct relay *r, enum ftps_ipc_type type, uint64_t id)
{
	struct ftps_ipc_fin m; /* FIN and other header-only messages */
	ftps_ipc_hdr_init(&m.hdr, type, sizeof(m), id);
	control_link_send(&r->link, &m, sizeof(m));
}

static void relay_send_reset(struct relay *r, uint64_t id, int reason)
{
	struct ftps_ipc_reset m;
	memset(&m, 0, sizeof(m));
	ftps_ipc_hdr_init(&m.hdr, FTPS_IPC_RESET, sizeof(m), id);
	m.reason = reason;
	control_link_send(&r->link, &m, sizeof(m));
}

static void relay_send_credit(struct relay *r, uint64_t id, uint32_t bytes)
{
	struct ftps_ipc_credit m;
	memset(&m, 0, sizeof(m));
	ftps_ipc_hdr_init(&m.hdr, FTPS_IPC_CREDIT, sizeof(m), id);
	m.bytes = bytes;
	control_link_send(&r->link, &m, sizeof(m));
}

static void relay_addr(struct ftps_ipc_addr *a, rte_be32_t address)
{
	memset(a, 0, sizeof(*a));
	a->family = FTPS_IPC_AF_INET;
	memcpy(a->bytes, &address, 4);
}

static void relay_send_opened(struct relay_conn *rc, int status)
{
	struct ftps_ipc_conn_opened m;
	memset(&m, 0, sizeof(m));
	ftps_ipc_hdr_init(&m.hdr, FTPS_IPC_CONN_OPENED, sizeof(m), rc->id);
	m.listener_id = rc->listener_id;
	m.status = status;
	if (rc->tcp != NULL && status == 0) {
		struct tcp_conn_info info;
		tcp_conn_get_info(rc->tcp, &info);
		relay_addr(&m.local, info.local_address);
		relay_addr(&m.peer, info.remote_address);
		m.local_port = info.local_port;
		m.peer_port = info.remote_port;
	}
	control_link_send(&rc->relay->link, &m, sizeof(m));
}

/* Releases the TCP side gracefully once both directions are finished. */
static void relay_conn_maybe_done(struct relay_conn *rc)
{
	if (rc->fin_to_control_sent && rc->tcp_shut_down && rc->to_control == NULL &&
	    rc->from_control == NULL) {
		tcp_close(rc->tcp);
		rc->tcp = NULL;
		relay_conn_free(rc);
	}
}

/* The control plane consumed bytes: their copies are no longer needed. */
static void relay_drop_credited(struct relay_conn *rc, uint32_t bytes)
{
	rc->credited_total += bytes;
	while (bytes > 0 && rc->uncredited_head != NULL) {
		struct relay_sent_chunk *c = rc->uncredited_head;
		if (c->len > bytes) {
			memmove(c->bytes, c->bytes + bytes, c->len - bytes);
			c->len -= bytes;
			return;
		}
		bytes -= c->len;
		rc->uncredited_head = c->next;
		if (rc->uncredited_head == NULL)
			rc->uncredited_tail = NULL;
		free(c);
	}
}

/* Keeps a copy of bytes sent to the control plane until it credits them. */
static bool relay_keep_copy(struct relay_conn *rc, const uint8_t *bytes, uint32_t n)
{
	struct relay_sent_chunk *chunk = malloc(sizeof(*chunk) + n);
	if (chunk == NULL) {
		/* The poll loop resets everything once it sees the drop. */
		control_link_drop(&rc->relay->link, "out of memory keeping relayed bytes");
		return false;
	}
	chunk->next = NULL;
	chunk->len = n;
	memcpy(chunk->bytes, bytes, n);
	if (rc->uncredited_tail != NULL)
		rc->uncredited_tail->next = chunk;
	else
		rc->uncredited_head = chunk;
	rc->uncredited_tail = chunk;
	rc->relay->counters[RELAY_COUNTER_bytes_kept_for_takeover] += n;
	return true;
}

/* Moves TCP data to the control plane as far as credit allows. */
static void relay_pump_to_control(struct relay_conn *rc)
{
	struct relay *r = rc->relay;
	if (rc->tcp == NULL || rc->connecting)
		return;
	while (rc->credit_to_control > 0) {
		if (rc->to_control == NULL)
			rc->to_control = tcp_recv(rc->tcp);
		if (rc->to_control == NULL)
			break;
		uint32_t n = rc->to_control->pkt_len;
		if (n > FTPS_IPC_MAX_DATA)
			n = FTPS_IPC_MAX_DATA;
		if (n > rc->credit_to_control)
			n = rc->credit_to_control;
		struct ftps_ipc_data *m = (struct ftps_ipc_data *)r->outgoing;
		const void *p = rte_pktmbuf_read(rc->to_control, 0, n, m->bytes);
		if (p != m->bytes)
			memcpy(m->bytes, p, n);
		ftps_ipc_hdr_init(&m->hdr, FTPS_IPC_DATA, (uint32_t)(sizeof(*m) + n), rc->id);
		if (!control_link_send(&r->link, m, sizeof(*m) + n))
			return; /* link lost: everything is reset from the poll loop */
		if (rc->keeps_copies && !relay_keep_copy(rc, m->bytes, n))
			return;
		rc->sent_total += n;
		rc->credit_to_control -= n;
		r->counters[RELAY_COUNTER_bytes_to_control] += n;
		rc->to_control = net_chain_consume(rc->to_control, n);
	}
	if (rc->to_control == NULL && !rc->fin_to_control_sent && tcp_recv_eof(rc->tcp)) {
		relay_send_simple(r, FTPS_IPC_FIN, rc->id);
		rc->fin_to_control_sent = true;
		relay_conn_maybe_done(rc);
	}
}

/* Hands data from the control plane to TCP; returns credit for what TCP took. */
static void relay_pump_to_tcp(struct relay_conn *rc)
{
	struct relay *r = rc->relay;
	if (rc->tcp == NULL || rc->connecting)
		return;
	if (rc->from_control != NULL) {
		int rc_send = tcp_send(rc->tcp, rc->from_control);
		if (rc_send == -EAGAIN)
			return; /* writable() brings us back */
		if (rc_send != 0) {
			rte_pktmbuf_free(rc->from_control);
			rc->from_control = NULL;
			rc->from_control_bytes = 0;
			return;
		}
		rc->from_control = NULL;
		rc->control_may_send += rc->from_control_bytes;
		relay_send_credit(r, rc->id, rc->from_control_bytes);
		rc->from_control_bytes = 0;
	}
	if (rc->fin_from_control && !rc->tcp_shut_down) {
		tcp_shutdown(rc->tcp);
		rc->tcp_shut_down = true;
		relay_conn_maybe_done(rc);
	}
}

static void relay_on_readable(struct tcp_conn *c, void *context)
{
	(void)c;
	relay_pump_to_control(context);
}

static void relay_on_writable(struct tcp_conn *c, void *context)
{
	(void)c;
	relay_pump_to_tcp(context);
}

static void relay_on_closed(struct tcp_conn *c, void *context, int error)
{
	(void)c;
	struct relay_conn *rc = context;
	struct relay *r = rc->relay;
	rc->tcp = NULL; /* invalid once this returns */
	if (rc->connecting) {
		relay_send_opened(rc, error < 0 ? -error : ECONNREFUSED);
	} else {
		relay_count(r, RELAY_COUNTER_connections_reset_by_peer);
		relay_send_reset(r, rc->id, error < 0 ? -error : ECONNRESET);
	}
	relay_conn_free(rc);
}

static void relay_on_connected(struct tcp_conn *c, void *context)
{
	(void)c;
	struct relay_conn *rc = context;
	rc->connecting = false;
	relay_count(rc->relay, RELAY_COUNTER_connections_connected);
	relay_send_opened(rc, 0);
	relay_pump_to_control(rc);
}

static const struct tcp_callbacks relay_conn_callbacks = {
    .connected = relay_on_connected,
    .readable = relay_on_readable,
    .writable = relay_on_writable,
    .closed = relay_on_closed,
};

static int relay_on_accepted(struct tcp_conn *c, void *listen_context)
{
	struct relay_listener *l = listen_context;
	struct relay *r = l->relay;
	if (r->link.fd < 0 || !r->link.hello_received) {
		relay_count(r, RELAY_COUNTER_connections_refused);
		return -ECONNREFUSED;
	}
	/* Ids we choose never have the CONNECT bit, so they cannot collide
	 * with ids the control plane picks. */
	uint64_t id = ++r->next_id & ~FTPS_IPC_CONNECT_ID_BIT;
	struct relay_conn *rc = relay_conn_new(r, id);
	if (rc == NULL) {
		relay_count(r, RELAY_COUNTER_connections_refused);
		return -ENOMEM;
	}
	rc->tcp = c;
	rc->listener_id = l->listener_id;
	rc->keeps_copies = l->data_connections;
	tcp_conn_set_callbacks(c, &relay_conn_callbacks, rc);
	tcp_set_receive_budget(c, RELAY_TCP_RECEIVE_BUDGET);
	relay_count(r, RELAY_COUNTER_connections_accepted);
	relay_send_opened(rc, 0);
	return 0;
}

static const struct tcp_callbacks relay_listen_callbacks = {
    .accepted = relay_on_accepted,
};

/* The control plane went away: nothing it carried survives. */
static void relay_link_lost(struct relay *r, const char *why)
{
	control_link_drop(&r->link, why);
	for (unsigned int b = 0; b < RELAY_BUCKETS; b++) {
		while (r->buckets[b] != NULL) {
			struct relay_conn *rc = r->buckets[b];
			if (rc->transfer != NULL) {
				transfer_abort(rc->transfer);
				rc->transfer = NULL;
				rc->tcp = NULL;
			}
			if (rc->tcp != NULL) {
				tcp_abort(rc->tcp);
				rc->tcp = NULL;
			}
			relay_count(r, RELAY_COUNTER_connections_reset_link_lost);
			relay_conn_free(rc);
		}
	}
	for (unsigned int i = 0; i < r->listener_count; i++) {
		if (r->listeners[i].active)
			tcp_unlisten(r->stack, r->listeners[i].port);
		r->listeners[i].active = false;
	}
	r->listener_count = 0;
}

static void relay_violation(struct relay *r, enum relay_counter counter, const char *why)
{
	relay_count(r, counter);
	relay_link_lost(r, why);
}

static void relay_handle_listen(struct relay *r, const struct ftps_ipc_listen *m)
{
	struct ftps_ipc_listen_result result;
	memset(&result, 0, sizeof(result));
	ftps_ipc_hdr_init(&result.hdr, FTPS_IPC_LISTEN_RESULT, sizeof(result), 0);
	result.listener_id = m->listener_id;
	rte_be32_t peer = 0;
	if (m->flags & FTPS_IPC_LISTEN_PEER_ONLY) {
		if (m->peer.family != FTPS_IPC_AF_INET) {
			result.status = EAFNOSUPPORT;
			control_link_send(&r->link, &result, sizeof(result));
			return;
		}
		memcpy(&peer, m->peer.bytes, 4);
	}
	struct relay_listener *slot = NULL;
	for (unsigned int i = 0; i < r->listener_count; i++) {
		if (r->listeners[i].active && r->listeners[i].listener_id == m->listener_id) {
			result.status = EEXIST;
			control_link_send(&r->link, &result, sizeof(result));
			return;
		}
		if (!r->listeners[i].active && slot == NULL)
			slot = &r->listeners[i];
	}
	if (slot == NULL) {
		if (r->listener_count == RELAY_MAX_LISTENERS) {
			result.status = ENOSPC;
			control_link_send(&r->link, &result, sizeof(result));
			return;
		}
		slot = &r->listeners[r->listener_count++];
	}
	slot->relay = r;
	slot->listener_id = m->listener_id;
	slot->port = m->port;
	slot->data_connections = (m->flags & FTPS_IPC_LISTEN_PEER_ONLY) != 0;
	int rc = tcp_listen(r->stack, m->port, peer, &relay_listen_callbacks, slot);
	slot->active = rc == 0;
	result.status = rc < 0 ? -rc : 0;
	control_link_send(&r->link, &result, sizeof(result));
}

static void relay_handle_unlisten(struct relay *r, const struct ftps_ipc_unlisten *m)
{
	for (unsigned int i = 0; i < r->listener_count; i++) {
		struct relay_listener *l = &r->listeners[i];
		if (l->active && l->listener_id == m->listener_id) {
			tcp_unlisten(r->stack, l->port);
			l->active = false;
		}
	}
}

static void relay_handle_connect(struct relay *r, const struct ftps_ipc_connect *m)
{
	uint64_t id = m->hdr.conn_id;
	if (relay_find(r, id) != NULL) {
		relay_violation(r, RELAY_COUNTER_messages_malformed, "CONNECT with an id in use");
		return;
	}
	struct relay_conn *rc = relay_conn_new(r, id);
	if (rc == NULL) {
		struct relay_conn tmp = {.relay = r, .id = id};
		relay_send_opened(&tmp, ENOMEM);
		return;
	}
	if (m->peer.family != FTPS_IPC_AF_INET) {
		relay_send_opened(rc, EAFNOSUPPORT);
		relay_conn_free(rc);
		return;
	}
	rte_be32_t peer;
	memcpy(&peer, m->peer.bytes, 4);
	int error = 0;
	rc->connecting = true;
	rc->keeps_copies = true; /* PORT/EPRT: an active data connection */
	rc->tcp = tcp_connect(r->stack, peer, m->peer_port, &relay_conn_callbacks, rc, &error);
	if (rc->tcp == NULL) {
		relay_send_opened(rc, error < 0 ? -error : EIO);
		relay_conn_free(rc);
		return;
	}
	tcp_set_receive_budget(rc->tcp, RELAY_TCP_RECEIVE_BUDGET);
}

/* Copies bytes into a new mbuf chain from the worker's pool. */
static struct rte_mbuf *relay_chain_from(struct relay *r, const uint8_t *p, uint32_t n)
{
	struct rte_mbuf *head = NULL;
	while (n > 0) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(r->pool);
		if (m == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		uint16_t room = rte_pktmbuf_tailroom(m);
		uint16_t take = n < room ? (uint16_t)n : room;
		memcpy(rte_pktmbuf_append(m, take), p, take);
		p += take;
		n -= take;
		if (head == NULL)
			head = m;
		else if (rte_pktmbuf_chain(head, m) != 0) {
			rte_pktmbuf_free(m);
			rte_pktmbuf_free(head);
			return NULL;
		}
	}
	return head;
}

static void relay_handle_data(struct relay *r, struct relay_conn *rc, const struct ftps_ipc_data *m,
                              uint32_t n)
{
	if (n > rc->control_may_send) {
		relay_violation(r, RELAY_COUNTER_credit_violations,
		                "DATA beyond the granted credit");
		return;
	}
	rc->control_may_send -= n;
	if (rc->fin_from_control) {
		relay_violation(r, RELAY_COUNTER_messages_malformed, "DATA after FIN");
		return;
	}
	struct rte_mbuf *chain = relay_chain_from(r, m->bytes, n);
	if (chain == NULL) {
		/* Out of mbufs: the stream cannot stay whole, so it ends. */
		if (rc->tcp != NULL)
			tcp_abort(rc->tcp);
		rc->tcp = NULL;
		relay_send_reset(r, rc->id, ENOBUFS);
		relay_conn_free(rc);
		return;
	}
	r->counters[RELAY_COUNTER_bytes_from_control] += n;
	if (rc->from_control == NULL) {
		rc->from_control = chain;
	} else if (rte_pktmbuf_chain(rc->from_control, chain) != 0) {
		rte_pktmbuf_free(chain);
		relay_violation(r, RELAY_COUNTER_messages_malformed, "too many segments pending");
		return;
	}
	rc->from_control_bytes += n;
	relay_pump_to_tcp(rc);
}

static void relay_dispatch(struct relay *r, const void *message, size_t len)
{
	const struct ftps_ipc_hdr *h = message;
	if (!r->link.hello_received && h->type != FTPS_IPC_HELLO) {
		relay_violation(r, RELAY_COUNTER_messages_malformed, "message before HELLO");
		return;
	}
	struct relay_conn *rc = NULL;
	switch (h->type) {
	case FTPS_IPC_HELLO: {
		const struct ftps_ipc_hello *m = message;
		if (r->link.hello_received || m->role != FTPS_IPC_ROLE_CONTROL) {
			relay_violation(r, RELAY_COUNTER_messages_malformed, "unexpected HELLO");
			return;
		}
		r->link.hello_received = true;
		fprintf(stderr, "ftps-dataplane: worker %u: control plane '%.31s' connected\n",
		        r->link.worker_id, m->name);
		return;
	}
	case FTPS_IPC_LISTEN:
		relay_handle_listen(r, message);
		return;
	case FTPS_IPC_UNLISTEN:
		relay_handle_unlisten(r, message);
		return;
	case FTPS_IPC_CONNECT:
		relay_handle_connect(r, message);
		return;
	case FTPS_IPC_DATA:
	case FTPS_IPC_CREDIT:
	case FTPS_IPC_FIN:
	case FTPS_IPC_RESET:
		rc = relay_find(r, h->conn_id);
		if (rc == NULL) {
			/* Crossed in flight with our RESET or FIN: harmless. */
			relay_count(r, RELAY_COUNTER_messages_unknown_connection);
			return;
		}
		break;
	default:
		relay_violation(r, RELAY_COUNTER_messages_malformed,
		                "message type not valid from the control plane");
		return;
	}
	if (rc->transfer != NULL && h->type != FTPS_IPC_RESET) {
		if (h->type == FTPS_IPC_DATA)
			relay_violation(r, RELAY_COUNTER_messages_malformed,
			                "DATA for a connection taken over by a transfer");
		return; /* CREDIT or FIN crossing the TAKEOVER: nothing to do */
	}
	switch (h->type) {
	case FTPS_IPC_DATA:
		relay_handle_data(r, rc, message, (uint32_t)(len - sizeof(struct ftps_ipc_data)));
		return;
	case FTPS_IPC_CREDIT: {
		const struct ftps_ipc_credit *m = message;
		if ((uint64_t)rc->credit_to_control + m->bytes > 2ull * FTPS_IPC_INITIAL_CREDIT) {
			relay_violation(r, RELAY_COUNTER_messages_malformed, "CREDIT overflow");
			return;
		}
		rc->credit_to_control += m->bytes;
		relay_drop_credited(rc, m->bytes);
		relay_pump_to_control(rc);
		return;
	}
	case FTPS_IPC_FIN:
		if (rc->fin_from_control) {
			relay_violation(r, RELAY_COUNTER_messages_malformed, "second FIN");
			return;
		}
		rc->fin_from_control = true;
		relay_pump_to_tcp(rc);
		return;
	case FTPS_IPC_RESET:
		relay_count(r, RELAY_COUNTER_connections_reset_by_control);
		if (rc->transfer != NULL) {
			/* ABOR: the transfer stops, no DONE follows. */
			transfer_abort(rc->transfer);
			rc->transfer = NULL;
			rc->tcp = NULL;
		}
		if (rc->tcp != NULL)
			tcp_abort(rc->tcp);
		rc->tcp = NULL;
		relay_conn_free(rc);
		return;
	default:
		return;
	}
}

static void relay_transfer_done(void *context, const struct transfer_result *result)
{
	struct relay_conn *rc = context;
	struct relay *r = rc->relay;
	struct ftps_ipc_done m;
	memset(&m, 0, sizeof(m));
	ftps_ipc_hdr_init(&m.hdr, FTPS_IPC_DONE, sizeof(m), rc->id);
	m.status = result->status;
	m.close_notify_seen = result->close_notify_seen;
	m.bytes = result->bytes;
	m.start_ns = result->start_ns;
	m.end_ns = result->end_ns;
	control_link_send(&r->link, &m, sizeof(m));
	/* The transfer released the TCP connection and frees itself. */
	rc->transfer = NULL;
	rc->tcp = NULL;
	relay_conn_free(rc);
}

static void relay_copy_dir(uint8_t *key, uint8_t *iv, uint8_t *secret, uint64_t *seq,
                           const struct ftps_ipc_tls_dir *d)
{
	memcpy(key, d->key, d->key_len);
	memcpy(iv, d->iv, d->iv_len);
	memcpy(secret, d->secret, d->secret_len);
	*seq = d->seq;
}

static void relay_handle_takeover(struct relay *r, const struct ftps_ipc_takeover *m, int fd)
{
	struct relay_conn *rc = relay_find(r, m->hdr.conn_id);
	if (rc == NULL || rc->tcp == NULL || rc->connecting || rc->transfer != NULL ||
	    r->engine == NULL) {
		/* Gone already (the peer reset it), or nothing to take over. */
		close(fd);
		if (rc == NULL)
			relay_count(r, RELAY_COUNTER_messages_unknown_connection);
		struct ftps_ipc_done done;
		memset(&done, 0, sizeof(done));
		ftps_ipc_hdr_init(&done.hdr, FTPS_IPC_DONE, sizeof(done), m->hdr.conn_id);
		done.status = r->engine == NULL ? EOPNOTSUPP : ECONNRESET;
		control_link_send(&r->link, &done, sizeof(done));
		if (rc != NULL && rc->transfer == NULL) {
			if (rc->tcp != NULL)
				tcp_abort(rc->tcp);
			rc->tcp = NULL;
			relay_conn_free(rc);
		}
		return;
	}
	struct transfer_params p;
	memset(&p, 0, sizeof(p));
	p.direction =
	    m->direction == FTPS_IPC_DIR_SEND_FILE ? TRANSFER_SEND_FILE : TRANSFER_RECEIVE_FILE;
	p.fd = fd;
	p.file_offset = m->file_offset;
	p.byte_limit = m->byte_limit;
	p.idle_timeout_s = m->idle_timeout_s;
	p.require_close_notify = (m->flags & FTPS_IPC_TAKEOVER_REQUIRE_CLOSE_NOTIFY) != 0;
	p.keys.version = m->tls_version;
	p.keys.suite = m->suite;
	p.keys.is_server = 1;
	p.keys.key_len = m->tx.key_len;
	p.keys.iv_len = m->tx.iv_len;
	p.keys.secret_len = m->tx.secret_len;
	relay_copy_dir(p.keys.tx_key, p.keys.tx_iv, p.keys.tx_secret, &p.keys.tx_seq, &m->tx);
	relay_copy_dir(p.keys.rx_key, p.keys.rx_iv, p.keys.rx_secret, &p.keys.rx_seq, &m->rx);
	p.leftover = m->leftover;
	p.leftover_len = m->leftover_len;
	/* Bytes the relay still holds belong to the same streams, after what
	 * the control plane saw (input) or wrote (output). */
	/* Bytes sent to the control plane after what it saw come first. */
	if (!rc->keeps_copies) {
		close(fd);
		relay_violation(r, RELAY_COUNTER_messages_malformed,
		                "TAKEOVER of a connection that is not a data connection");
		return;
	}
	if (m->bytes_seen < rc->credited_total || m->bytes_seen > rc->sent_total) {
		close(fd);
		relay_violation(r, RELAY_COUNTER_messages_malformed,
		                "TAKEOVER bytes_seen outside what was sent");
		return;
	}
	struct rte_mbuf *replay = NULL;
	uint64_t skip = m->bytes_seen - rc->credited_total;
	for (struct relay_sent_chunk *c = rc->uncredited_head; c != NULL; c = c->next) {
		if (skip >= c->len) {
			skip -= c->len;
			continue;
		}
		struct rte_mbuf *piece =
		    relay_chain_from(r, c->bytes + skip, (uint32_t)(c->len - skip));
		skip = 0;
		if (piece == NULL || (replay != NULL && rte_pktmbuf_chain(replay, piece) != 0)) {
			rte_pktmbuf_free(piece);
			rte_pktmbuf_free(replay);
			close(fd);
			relay_link_lost(r, "no mbufs to replay relayed bytes");
			return;
		}
		if (replay == NULL)
			replay = piece;
	}
	if (replay != NULL && rc->to_control != NULL &&
	    rte_pktmbuf_chain(replay, rc->to_control) != 0) {
		rte_pktmbuf_free(replay);
		close(fd);
		relay_link_lost(r, "too many segments to replay");
		return;
	}
	p.pending_input = replay != NULL ? replay : rc->to_control;
	p.pending_output = rc->from_control;
	rc->to_control = NULL;
	rc->from_control = NULL;
	rc->from_control_bytes = 0;
	char error[160];
	rc->transfer =
	    transfer_start(r->engine, rc->tcp, &p, relay_transfer_done, rc, error, sizeof(error));
	memset(&p.keys, 0, sizeof(p.keys));
	if (rc->transfer == NULL) {
		fprintf(stderr, "ftps-dataplane: worker %u: takeover refused: %s\n",
		        r->link.worker_id, error);
		struct ftps_ipc_done done;
		memset(&done, 0, sizeof(done));
		ftps_ipc_hdr_init(&done.hdr, FTPS_IPC_DONE, sizeof(done), rc->id);
		done.status = EPROTO;
		control_link_send(&r->link, &done, sizeof(done));
		tcp_abort(rc->tcp);
		rc->tcp = NULL;
		relay_conn_free(rc);
	}
}

static void relay_accept_control(struct relay *r)
{
	int fd = accept4(r->link.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	r->link.fd = fd;
	r->link.hello_received = false;
	r->link.links_accepted++;
	struct ftps_ipc_hello hello;
	memset(&hello, 0, sizeof(hello));
	ftps_ipc_hdr_init(&hello.hdr, FTPS_IPC_HELLO, sizeof(hello), 0);
	hello.role = FTPS_IPC_ROLE_DATAPLANE;
	hello.worker_id = r->link.worker_id;
	hello.n_workers = r->link.worker_count;
	hello.initial_credit = FTPS_IPC_INITIAL_CREDIT;
	snprintf(hello.name, sizeof(hello.name), "ftps-dataplane");
	control_link_send(&r->link, &hello, sizeof(hello));
}

unsigned int relay_worker_poll(struct worker *w, void *context, uint64_t now_tsc)
{
	(void)w;
	struct relay *r = context;
	struct control_link *link = &r->link;
	if (now_tsc < link->next_poll_tsc)
		return 0;
	link->next_poll_tsc = now_tsc + link->poll_interval_tsc;
	/* A send inside a TCP callback may have found the link broken. */
	if (link->fd < 0 && (r->connection_count > 0 || r->listener_count > 0))
		relay_link_lost(r, "link lost");
	if (link->fd < 0) {
		relay_accept_control(r);
		return link->fd >= 0;
	}
	unsigned int work = 0;
	for (; work < RELAY_RECV_BURST && link->fd >= 0; work++) {
		int fd = -1;
		unsigned int fds = 0;
		long n = ftps_ipc_recv(link->fd, r->message, sizeof(r->message), &fd, &fds);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			relay_link_lost(r,
			                n == 0 ? "control plane closed the link" : strerror(errno));
			break;
		}
		link->messages_in++;
		enum ftps_ipc_check check = ftps_ipc_validate(r->message, (size_t)n, fds);
		if (check != FTPS_IPC_OK) {
			if (fd >= 0)
				close(fd);
			char why[128];
			snprintf(why, sizeof(why), "malformed message: %s",
			         ftps_ipc_check_str(check));
			link->malformed++;
			relay_violation(r, RELAY_COUNTER_messages_malformed, why);
			break;
		}
		if (fd >= 0) {
			/* Validation guarantees only TAKEOVER carries a descriptor. */
			if (!link->hello_received) {
				close(fd);
				relay_violation(r, RELAY_COUNTER_messages_malformed,
				                "TAKEOVER before HELLO");
				break;
			}
			relay_handle_takeover(r, (const struct ftps_ipc_takeover *)r->message, fd);
			continue;
		}
		relay_dispatch(r, r->message, (size_t)n);
	}
	if (link->fd >= 0 && !control_link_flush(link))
		relay_link_lost(r, "send failed");
	return work;
}

struct relay *relay_create(struct tcp_stack *stack, struct transfer_engine *engine,
                           struct rte_mempool *pool, const char *path, unsigned int worker_id,
                           unsigned int worker_count, char *error, size_t error_len)
{
	struct relay *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(error, error_len, "out of memory for the relay");
		return NULL;
	}
	r->stack = stack;
	r->engine = engine;
	r->pool = pool;
	if (control_link_open(&r->link, path, worker_id, worker_count, error, error_len) != 0) {
		free(r);
		return NULL;
	}
	return r;
}

void relay_destroy(struct relay *r)
{
	if (r == NULL)
		return;
	relay_link_lost(r, "shutting down");
	control_link_close(&r->link);
	free(r);
}

const uint64_t *relay_counters(const struct relay *r)
{
	return r->counters;
}

uint32_t relay_connection_count(const struct relay *r)
{
	return r->connection_count;
}

const struct control_link *relay_link(const struct relay *r)
{
	return &r->link;
}
