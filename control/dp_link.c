#include "dp_link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"

#define MAX_LINKS      64
#define HASH_BUCKETS   1024
#define OUTQ_MAX       (4u * 1024u * 1024u)
#define WRITABLE_MARK  (64u * 1024u)
#define CLOSE_GRACE_MS 10000u
#define RECONNECT_MS   1000u
#define RECV_BURST     64

struct dp_link {
	struct ev_handler ev;
	int index;
	char path[160];
	bool connected; /* socket connected, HELLO sent */
	bool up;        /* the dataplane's HELLO arrived */
	bool failed;    /* tear down at the next dp_reap */
	uint32_t peer_credit;
	uint64_t next_try_ms;
	uint64_t next_connect_id;
	uint64_t unexpected_done; /* counted drops */
	struct rconn *conns[HASH_BUCKETS];
};

static struct dp_link links[MAX_LINKS];
static int n_links;
static char base_path[128];
/* Receive buffer aligned for the typed views ftps_ipc_validate allows. */
static uint64_t rxbuf[(FTPS_IPC_MAX_MSG + 7) / 8];

static void link_teardown(struct dp_link *l);

static unsigned bucket(uint64_t id)
{
	return (unsigned)((id * UINT64_C(0x9E3779B97F4A7C15)) >> 54) % HASH_BUCKETS;
}

static struct rconn *conn_find(struct dp_link *l, uint64_t id)
{
	for (struct rconn *c = l->conns[bucket(id)]; c != NULL; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void conn_unlink_free(struct rconn *c)
{
	struct rconn **pp = &c->link->conns[bucket(c->id)];
	while (*pp != NULL && *pp != c)
		pp = &(*pp)->next;
	if (*pp == c)
		*pp = c->next;
	bbuf_free(&c->outq);
	free(c);
}

static void link_fail(struct dp_link *l, const char *why)
{
	if (!l->failed)
		log_msg(LOG_ERR, "dataplane link %d: %s; closing the link", l->index, why);
	l->failed = true;
}

static void link_send(struct dp_link *l, const void *msg, size_t len)
{
	if (!l->connected || l->failed)
		return;
	if (ftps_ipc_send(l->ev.fd, msg, len, -1) < 0) {
		char why[96];
		snprintf(why, sizeof(why), "send failed: %s", strerror(errno));
		link_fail(l, why);
	}
}

static void send_simple(struct dp_link *l, enum ftps_ipc_type type, uint64_t id)
{
	if (type == FTPS_IPC_RESET) {
		struct ftps_ipc_reset m;
		ftps_ipc_init_reset(&m, id, 0);
		link_send(l, &m, sizeof(m));
	} else {
		struct ftps_ipc_fin m;
		ftps_ipc_init_fin(&m, id);
		link_send(l, &m, sizeof(m));
	}
}

static void send_credit(struct dp_link *l, uint64_t id, uint32_t bytes)
{
	struct ftps_ipc_credit m;
	ftps_ipc_init_credit(&m, id, bytes);
	link_send(l, &m, sizeof(m));
}

/* Push queued bytes within credit; FIN once drained if asked. */
static void conn_flush(struct rconn *c)
{
	static uint64_t txbuf[(sizeof(struct ftps_ipc_data) + FTPS_IPC_MAX_DATA + 7) / 8];

	while (bbuf_len(&c->outq) > 0 && c->tx_credit > 0 && !c->link->failed) {
		size_t n = bbuf_len(&c->outq);
		if (n > c->tx_credit)
			n = c->tx_credit;
		if (n > FTPS_IPC_MAX_DATA)
			n = FTPS_IPC_MAX_DATA;
		size_t len =
		    ftps_ipc_encode_data(txbuf, sizeof(txbuf), c->id, bbuf_head(&c->outq), n);
		if (len == 0)
			break;
		link_send(c->link, txbuf, len);
		bbuf_consume(&c->outq, n);
		c->tx_credit -= (uint32_t)n;
	}
	if (c->fin_pending && !c->fin_sent && bbuf_len(&c->outq) == 0) {
		send_simple(c->link, FTPS_IPC_FIN, c->id);
		c->fin_sent = true;
	}
}

static void send_hello(struct dp_link *l)
{
	struct ftps_ipc_hello m;
	ftps_ipc_init_hello(&m, FTPS_IPC_ROLE_CONTROL, 0, 0, "ftps-control");
	link_send(l, &m, sizeof(m));
}

static void on_conn_opened(struct dp_link *l, const struct ftps_ipc_conn_opened *m)
{
	uint64_t id = m->hdr.conn_id;

	if (m->listener_id == 0) { /* result of our CONNECT */
		struct rconn *c = conn_find(l, id);
		if (c == NULL || !c->connecting)
			return; /* aborted meanwhile: the dataplane gets our RESET */
		c->connecting = false;
		if (m->status == 0) {
			c->local = m->local;
			c->peer = m->peer;
			c->local_port = m->local_port;
			c->peer_port = m->peer_port;
		}
		if (c->ops && c->ops->on_connected)
			c->ops->on_connected(c->owner, c, m->status);
		if (m->status != 0 && (c = conn_find(l, id)) != NULL)
			conn_unlink_free(c);
		return;
	}
	if (conn_find(l, id) != NULL) {
		link_fail(l, "CONN_OPENED for a connection id already open");
		return;
	}
	struct rconn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		send_simple(l, FTPS_IPC_RESET, id);
		return;
	}
	c->link = l;
	c->id = id;
	c->listener_id = m->listener_id;
	c->local = m->local;
	c->peer = m->peer;
	c->local_port = m->local_port;
	c->peer_port = m->peer_port;
	c->tx_credit = l->peer_credit;
	c->rx_window = FTPS_IPC_INITIAL_CREDIT;
	bbuf_init(&c->outq, OUTQ_MAX);
	c->next = l->conns[bucket(id)];
	l->conns[bucket(id)] = c;
	app_conn_opened(c);
	/* Nobody took it: refuse. */
	if ((c = conn_find(l, id)) != NULL && c->ops == NULL && !c->closed_by_owner) {
		send_simple(l, FTPS_IPC_RESET, id);
		conn_unlink_free(c);
	}
}

static void dispatch(struct dp_link *l, const void *msg, size_t len)
{
	const struct ftps_ipc_hdr *h = msg;
	struct rconn *c;

	if (!l->up && h->type != FTPS_IPC_HELLO) {
		link_fail(l, "message before HELLO");
		return;
	}
	switch (h->type) {
	case FTPS_IPC_HELLO: {
		const struct ftps_ipc_hello *m = msg;
		if (l->up || m->role != FTPS_IPC_ROLE_DATAPLANE || (int)m->worker_id != l->index) {
			link_fail(l, "unexpected HELLO");
			return;
		}
		l->up = true;
		l->peer_credit = m->initial_credit;
		log_msg(LOG_INFO, "dataplane link %d up (%s, worker %u of %u)", l->index, m->name,
		        m->worker_id, m->n_workers);
		if (l->index == 0 && (int)m->n_workers > n_links) {
			int want = m->n_workers > MAX_LINKS ? MAX_LINKS : (int)m->n_workers;
			for (int i = n_links; i < want; i++) {
				memset(&links[i], 0, sizeof(links[i]));
				links[i].index = i;
				links[i].ev.fd = -1;
				snprintf(links[i].path, sizeof(links[i].path), "%s.%d", base_path,
				         i);
			}
			n_links = want;
		}
		app_link_state(l->index, true);
		return;
	}
	case FTPS_IPC_LISTEN_RESULT: {
		const struct ftps_ipc_listen_result *m = msg;
		app_listen_result(m->listener_id, m->status);
		return;
	}
	case FTPS_IPC_CONN_OPENED:
		on_conn_opened(l, msg);
		return;
	case FTPS_IPC_DATA: {
		size_t n = len - sizeof(struct ftps_ipc_data);
		c = conn_find(l, h->conn_id);
		if (c == NULL)
			return; /* already gone on our side; the dataplane learns by RESET/FIN */
		if (n > c->rx_window) {
			link_fail(l, "DATA beyond the granted credit");
			return;
		}
		c->rx_window -= (uint32_t)n;
		c->rx_total += n;
		if (c->taken_over)
			return; /* in flight before the TAKEOVER: the dataplane replays it */
		uint64_t id = c->id;
		if (!c->closed_by_owner && c->ops && c->ops->on_data)
			c->ops->on_data(c->owner, c,
			                (const uint8_t *)msg + sizeof(struct ftps_ipc_data), n);
		if ((c = conn_find(l, id)) != NULL) {
			c->rx_window += (uint32_t)n;
			send_credit(l, id, (uint32_t)n);
		}
		return;
	}
	case FTPS_IPC_CREDIT: {
		const struct ftps_ipc_credit *m = msg;
		c = conn_find(l, h->conn_id);
		if (c == NULL)
			return;
		if ((uint64_t)c->tx_credit + m->bytes > (UINT64_C(1) << 31)) {
			link_fail(l, "CREDIT overflow");
			return;
		}
		c->tx_credit += m->bytes;
		conn_flush(c);
		if (!c->closed_by_owner && c->ops && c->ops->on_writable &&
		    bbuf_len(&c->outq) < WRITABLE_MARK)
			c->ops->on_writable(c->owner, c);
		return;
	}
	case FTPS_IPC_FIN:
		c = conn_find(l, h->conn_id);
		if (c == NULL || c->fin_rcvd)
			return;
		c->fin_rcvd = true;
		if (c->closed_by_owner) {
			if (c->fin_sent)
				conn_unlink_free(c);
		} else if (c->ops && c->ops->on_fin) {
			c->ops->on_fin(c->owner, c);
		}
		return;
	case FTPS_IPC_RESET:
		c = conn_find(l, h->conn_id);
		if (c == NULL)
			return;
		if (!c->closed_by_owner && c->ops && c->ops->on_reset)
			c->ops->on_reset(c->owner, c);
		if ((c = conn_find(l, h->conn_id)) != NULL)
			conn_unlink_free(c);
		return;
	case FTPS_IPC_DONE:
		c = conn_find(l, h->conn_id);
		if (c == NULL || !c->taken_over) {
			/* counted, logged once per link: a hostile peer cannot flood */
			if (l->unexpected_done++ == 0)
				log_msg(LOG_WARN, "dataplane link %d: DONE for no transfer",
				        l->index);
			return;
		}
		if (!c->closed_by_owner && c->ops && c->ops->on_done)
			c->ops->on_done(c->owner, c, msg);
		if ((c = conn_find(l, h->conn_id)) != NULL)
			conn_unlink_free(c);
		return;
	default:
		link_fail(l, "message type not valid from the dataplane");
		return;
	}
}

static void link_readable(struct ev_handler *h, uint32_t events)
{
	struct dp_link *l = (struct dp_link *)h;

	(void)events;
	for (int i = 0; i < RECV_BURST && !l->failed; i++) {
		int fd;
		unsigned n_fds;
		long n = ftps_ipc_recv(l->ev.fd, rxbuf, sizeof(rxbuf), &fd, &n_fds);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			link_fail(l, n == 0 ? "dataplane closed the link" : strerror(errno));
			return;
		}
		if (fd >= 0)
			close(fd); /* the dataplane never sends descriptors */
		enum ftps_ipc_check ck = ftps_ipc_validate(rxbuf, (size_t)n, n_fds);
		if (ck != FTPS_IPC_OK) {
			char why[128];
			snprintf(why, sizeof(why), "malformed message (%s, type %s, %ld bytes)",
			         ftps_ipc_check_str(ck),
			         ftps_ipc_type_str(
			             n >= 2 ? ((const struct ftps_ipc_hdr *)rxbuf)->type : 0),
			         n);
			link_fail(l, why);
			return;
		}
		dispatch(l, rxbuf, (size_t)n);
	}
	/* Not inside any session callback here, so tearing down is safe. */
	if (l->failed)
		link_teardown(l);
}

static void link_try_connect(struct dp_link *l, uint64_t now)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 2};
	int sndbuf = 4 * 1024 * 1024;

	l->next_try_ms = now + RECONNECT_MS;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return;
	}
	/* Sends block at most 2 s: credit bounds what is in flight, so a full
	 * socket means a stuck dataplane, and the link is then dropped. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) != 0) {
		close(fd);
		return;
	}
	l->ev.fd = fd;
	l->ev.cb = link_readable;
	if (ev_add(&l->ev, EPOLLIN) != 0) {
		close(fd);
		l->ev.fd = -1;
		return;
	}
	l->connected = true;
	l->failed = false;
	l->up = false;
	l->next_connect_id = 1;
	l->unexpected_done = 0;
	send_hello(l);
}

static void link_teardown(struct dp_link *l)
{
	bool was_up = l->up;

	if (l->ev.fd >= 0) {
		ev_del(&l->ev);
		close(l->ev.fd);
	}
	l->ev.fd = -1;
	l->connected = l->up = l->failed = false;
	for (unsigned b = 0; b < HASH_BUCKETS; b++) {
		while (l->conns[b] != NULL) {
			struct rconn *c = l->conns[b];
			l->conns[b] = c->next;
			c->next = NULL;
			if (!c->closed_by_owner && c->ops) {
				if (c->connecting && c->ops->on_connected)
					c->ops->on_connected(c->owner, c, ECONNABORTED);
				else if (c->ops->on_reset)
					c->ops->on_reset(c->owner, c);
			}
			bbuf_free(&c->outq);
			free(c);
		}
	}
	if (was_up)
		app_link_state(l->index, false);
}

int dp_init(const char *socket_path)
{
	if (strlen(socket_path) + 8 >= sizeof(base_path))
		return -1;
	snprintf(base_path, sizeof(base_path), "%s", socket_path);
	memset(links, 0, sizeof(links));
	links[0].index = 0;
	links[0].ev.fd = -1;
	snprintf(links[0].path, sizeof(links[0].path), "%s", socket_path);
	n_links = 1;
	return 0;
}

void dp_shutdown(void)
{
	for (int i = 0; i < n_links; i++)
		if (links[i].connected)
			link_teardown(&links[i]);
}

void dp_tick(uint64_t now)
{
	for (int i = 0; i < n_links; i++) {
		struct dp_link *l = &links[i];
		if (l->failed)
			link_teardown(l);
		if (!l->connected && now >= l->next_try_ms)
			link_try_connect(l, now);
		if (!l->connected)
			continue;
		for (unsigned b = 0; b < HASH_BUCKETS; b++) {
			struct rconn *c = l->conns[b];
			while (c != NULL) {
				struct rconn *next = c->next;
				if (c->closed_by_owner && now >= c->close_deadline_ms) {
					send_simple(l, FTPS_IPC_RESET, c->id);
					conn_unlink_free(c);
				}
				c = next;
			}
		}
	}
}

bool dp_any_up(void)
{
	for (int i = 0; i < n_links; i++)
		if (links[i].up)
			return true;
	return false;
}

int dp_link_index(const struct dp_link *l)
{
	return l->index;
}

int dp_listen(int link_index, uint32_t listener_id, const struct ftps_ipc_addr *local,
              uint16_t port, const struct ftps_ipc_addr *peer_only)
{
	struct ftps_ipc_listen m;
	int sent = 0;

	ftps_ipc_init_listen(&m, listener_id, port, local, peer_only);
	for (int i = 0; i < n_links; i++) {
		if (!links[i].up || links[i].failed || (link_index >= 0 && i != link_index))
			continue;
		link_send(&links[i], &m, sizeof(m));
		sent++;
	}
	return sent;
}

void dp_unlisten_all(uint32_t listener_id)
{
	struct ftps_ipc_unlisten m;

	ftps_ipc_init_unlisten(&m, listener_id);
	for (int i = 0; i < n_links; i++)
		if (links[i].up)
			link_send(&links[i], &m, sizeof(m));
}

struct rconn *dp_connect(struct dp_link *l, const struct ftps_ipc_addr *peer, uint16_t port,
                         const struct rconn_ops *ops, void *owner)
{
	struct ftps_ipc_connect m;

	if (!l->up || l->failed)
		return NULL;
	struct rconn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->link = l;
	c->id = FTPS_IPC_CONNECT_ID_BIT | l->next_connect_id++;
	c->connecting = true;
	c->tx_credit = l->peer_credit;
	c->rx_window = FTPS_IPC_INITIAL_CREDIT;
	c->ops = ops;
	c->owner = owner;
	bbuf_init(&c->outq, OUTQ_MAX);
	c->next = l->conns[bucket(c->id)];
	l->conns[bucket(c->id)] = c;
	ftps_ipc_init_connect(&m, c->id, peer, port);
	link_send(l, &m, sizeof(m));
	return c;
}

void rconn_set_owner(struct rconn *c, const struct rconn_ops *ops, void *owner)
{
	c->ops = ops;
	c->owner = owner;
}

int rconn_write(struct rconn *c, const void *p, size_t n)
{
	if (c->fin_pending || c->closed_by_owner)
		return -1;
	if (bbuf_append(&c->outq, p, n) != 0)
		return -1;
	conn_flush(c);
	return 0;
}

size_t rconn_pending(const struct rconn *c)
{
	return bbuf_len(&c->outq);
}

void rconn_close(struct rconn *c)
{
	c->closed_by_owner = true;
	c->ops = NULL;
	c->owner = NULL;
	c->fin_pending = true;
	c->close_deadline_ms = ev_now_ms() + CLOSE_GRACE_MS;
	if (c->connecting) {
		send_simple(c->link, FTPS_IPC_RESET, c->id);
		conn_unlink_free(c);
		return;
	}
	conn_flush(c);
	if (c->fin_sent && c->fin_rcvd)
		conn_unlink_free(c);
}

int rconn_takeover(struct rconn *c, struct ftps_ipc_takeover *m, size_t len, int fd)
{
	struct dp_link *l = c->link;
	if (!l->up || l->failed || bbuf_len(&c->outq) > 0 || c->fin_sent)
		return -1;
	m->bytes_seen = c->rx_total;
	if (ftps_ipc_send(l->ev.fd, m, len, fd) < 0) {
		char why[96];
		snprintf(why, sizeof(why), "TAKEOVER send failed: %s", strerror(errno));
		link_fail(l, why);
		return -1;
	}
	c->taken_over = true;
	return 0;
}

void rconn_forget(struct rconn *c)
{
	conn_unlink_free(c);
}

void rconn_abort(struct rconn *c)
{
	send_simple(c->link, FTPS_IPC_RESET, c->id);
	conn_unlink_free(c);
}
