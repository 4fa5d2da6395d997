/* The stack object: connection table (rte_hash), connection memory,
 * listeners, active opens with RSS-aware ports, the application API and the
 * poll step that delivers events and drives output. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_jhash.h>
#include <rte_malloc.h>
#include <rte_thash.h>

#include "ipv4.h"
#include "net_lcore.h"
#include "tcp_internal.h"

const char *const tcp_counter_names[TCP_COUNTER_COUNT] = {
#define TCP_COUNTER_NAME(name, description) #name,
    TCP_COUNTER_LIST(TCP_COUNTER_NAME)
#undef TCP_COUNTER_NAME
};

const char *const tcp_counter_descriptions[TCP_COUNTER_COUNT] = {
#define TCP_COUNTER_DESCRIPTION(name, description) description,
    TCP_COUNTER_LIST(TCP_COUNTER_DESCRIPTION)
#undef TCP_COUNTER_DESCRIPTION
};

const char *const tcp_state_names[] = {
#define TCP_STATE_NAME(name) #name,
    TCP_STATE_LIST(TCP_STATE_NAME)
#undef TCP_STATE_NAME
};

void tcp_stack_config_defaults(struct tcp_stack_config *config)
{
	memset(config, 0, sizeof(*config));
	config->max_connections = 16384;
	config->syn_backlog = 256;
	config->rcv_budget = 4u << 20;
	config->snd_budget = 4u << 20;
	config->ooo_segments_max = 4096;
	config->ooo_lcore_max = 32768;
	config->time_wait_ms = 60000;
	config->delack_ms = 10;
	config->rto_min_ms = 200;
	config->rto_initial_ms = 1000;
	config->rto_max_ms = 60000;
	config->syn_retries = 6;
	config->data_retries = 15;
	config->cc = TCP_CC_CUBIC;
	config->syn_cookies = true;
	config->pacing = true;
	config->tx_segments_per_poll = 256;
	config->challenge_acks_per_s = 1000;
	config->queue_id = 0;
	config->queue_count = 1;
	config->reta_size = 128;
	config->ephemeral_low = 32768;
	config->ephemeral_high = 60999;
}

/* SipHash-2-4 (Aumasson and Bernstein, 2012), the keyed function F() of
 * RFC 6528 3 and of the SYN cookies. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t tcp_siphash(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	size_t full = len & ~(size_t)7;
	for (size_t i = 0; i < full; i += 8) {
		uint64_t m = load_le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	uint64_t b = (uint64_t)len << 56;
	for (size_t i = 0; i < (len & 7); i++)
		b |= (uint64_t)in[full + i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, key),
 * M a 4-microsecond timer. */
uint32_t tcp_isn(struct tcp_stack *s, rte_be32_t raddr, uint16_t rport, uint16_t lport)
{
	struct {
		rte_be32_t l, r;
		uint16_t lp, rp;
	} tuple = {s->local_address, raddr, lport, rport};
	uint32_t f = (uint32_t)tcp_siphash(s->secret, &tuple, sizeof(tuple));
	uint64_t m = s->now_tsc / (s->tsc_hz / 250000 ? s->tsc_hz / 250000 : 1);
	return (uint32_t)m + f;
}

static void default_output(void *context, struct rte_mbuf *m, rte_be32_t destination,
                           uint64_t now_tsc)
{
	ipv4_output(context, m, destination, IPPROTO_TCP, now_tsc);
}

static void hook_input(struct net_lcore *nl, struct rte_mbuf *m, const struct rte_ipv4_hdr *ip)
{
	tcp_stack_input(nl->tcp_context, m, ip, rte_rdtsc());
}

struct tcp_stack *tcp_stack_create(const struct tcp_stack_config *config, struct net_lcore *nl,
                                   char *error, size_t error_len)
{
	static unsigned int instance;
	if (config->max_connections == 0 || config->rcv_budget == 0 ||
	    config->ephemeral_low > config->ephemeral_high || config->queue_count == 0 ||
	    config->reta_size == 0 || (config->reta_size & (config->reta_size - 1)) != 0) {
		snprintf(error, error_len, "tcp: invalid configuration");
		return NULL;
	}
	struct tcp_stack *s = rte_zmalloc("tcp_stack", sizeof(*s), RTE_CACHE_LINE_SIZE);
	if (s == NULL) {
		snprintf(error, error_len, "tcp: out of memory for the stack");
		return NULL;
	}
	s->config = *config;
	s->nl = nl;
	s->pool = nl->pool;
	s->local_address = nl->ip.address;
	s->mss_local = (uint16_t)((nl->ip.mtu ? nl->ip.mtu : 1500) - 40);
	/* MSS is per direction (RFC 9293 3.7.1): offer what we can receive. */
	s->mss_advertised =
	    nl->receive_mtu > nl->ip.mtu ? (uint16_t)(nl->receive_mtu - 40) : s->mss_local;
	s->tx_cksum_offload = nl->tx_tcp_checksum_offload;
	s->l4_checksum_trusted = nl->l4_checksum_trusted;
	s->tso = nl->tx_tcp_segmentation_offload && nl->tx_tcp_checksum_offload;
	s->output = default_output;
	s->output_context = nl;
	s->tsc_hz = rte_get_tsc_hz();
	s->tsc_per_ms = s->tsc_hz / 1000 ? s->tsc_hz / 1000 : 1;
	s->now_tsc = rte_rdtsc();
	s->tsc_base = s->now_tsc - s->tsc_per_ms; /* timestamps start at 1, never 0 */
	if (getrandom(s->secret, sizeof(s->secret), 0) != (ssize_t)sizeof(s->secret)) {
		snprintf(error, error_len, "tcp: getrandom failed");
		rte_free(s);
		return NULL;
	}
	uint16_t span = (uint16_t)(config->ephemeral_high - config->ephemeral_low + 1);
	s->next_ephemeral =
	    (uint16_t)(config->ephemeral_low + (s->secret[0] | s->secret[1] << 8) % span);

	char name[RTE_HASH_NAMESIZE];
	snprintf(name, sizeof(name), "tcp_conns_%u",
	         __atomic_fetch_add(&instance, 1, __ATOMIC_RELAXED));
	struct rte_hash_parameters hp = {
	    .name = name,
	    .entries = config->max_connections * 2 < 64 ? 64 : config->max_connections * 2,
	    .key_len = sizeof(struct tcp_conn_key),
	    .hash_func = rte_jhash,
	    .hash_func_init_val = (uint32_t)s->secret[2] << 8 | s->secret[3],
	    .socket_id = (int)rte_socket_id(),
	    .extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	s->table = rte_hash_create(&hp);
	s->conns = rte_zmalloc("tcp_conns", sizeof(struct tcp_conn) * config->max_connections,
	                       RTE_CACHE_LINE_SIZE);
	if (s->table == NULL || s->conns == NULL) {
		snprintf(error, error_len, "tcp: cannot allocate %u connections: %s",
		         config->max_connections, rte_strerror(rte_errno));
		rte_hash_free(s->table);
		rte_free(s->conns);
		rte_free(s);
		return NULL;
	}
	for (uint32_t i = config->max_connections; i-- > 0;) {
		s->conns[i].free_next = s->free_list;
		s->free_list = &s->conns[i];
	}
	s->tw_limit = config->max_connections / 2 > 0 ? config->max_connections / 2 : 1;
	tcp_wheel_init(&s->wheel, s->tsc_per_ms, s->now_tsc);
	s->tx_poll_limit = config->tx_segments_per_poll;
	s->tx_backlog_room = NET_TX_BACKLOG - NET_TX_BATCH;
	s->tx_ring_drops_seen = nl->counters[NET_COUNTER_drop_tx_ring_full];
	return s;
}

void tcp_stack_attach(struct tcp_stack *s)
{
	s->nl->tcp_context = s;
	s->nl->tcp_input = hook_input;
}

void tcp_stack_set_output(struct tcp_stack *s, tcp_output_fn output, void *context)
{
	s->output = output;
	s->output_context = context;
}

const uint64_t *tcp_stack_counters(const struct tcp_stack *s)
{
	return s->counters;
}

uint32_t tcp_stack_connection_count(const struct tcp_stack *s)
{
	return s->conn_count;
}

uint32_t tcp_stack_time_wait_count(const struct tcp_stack *s)
{
	return s->time_wait_count;
}

struct tcp_conn *tcp_conn_lookup(struct tcp_stack *s, rte_be32_t raddr, uint16_t rport,
                                 uint16_t lport)
{
	struct tcp_conn_key key = {raddr, rport, lport};
	void *data;
	if (rte_hash_lookup_data(s->table, &key, &data) < 0)
		return NULL;
	return data;
}

struct tcp_conn *tcp_conn_alloc(struct tcp_stack *s, rte_be32_t raddr, uint16_t rport,
                                uint16_t lport)
{
	struct tcp_conn *c = s->free_list;
	if (c == NULL)
		return NULL;
	struct tcp_conn_key key = {raddr, rport, lport};
	if (rte_hash_add_key_data(s->table, &key, c) < 0)
		return NULL;
	s->free_list = c->free_next;
	memset(c, 0, sizeof(*c));
	c->stack = s;
	c->key = key;
	c->local_address = s->local_address;
	c->state = TCP_CLOSED;
	c->snd_mss = TCP_MSS_DEFAULT;
	c->rcv_budget = s->config.rcv_budget;
	c->snd_budget = s->config.snd_budget;
	c->rto_ms = s->config.rto_initial_ms;
	c->quickacks = 16;
	c->cc = s->config.cc == TCP_CC_NEWRENO ? &tcp_cc_newreno : &tcp_cc_cubic;
	c->last_rx_tsc = s->now_tsc;
	s->conn_count++;
	return c;
}

static void time_wait_unlist(struct tcp_stack *s, struct tcp_conn *c)
{
	if (!c->on_time_wait_list)
		return;
	if (c->tw_prev != NULL)
		c->tw_prev->tw_next = c->tw_next;
	else
		s->tw_head = c->tw_next;
	if (c->tw_next != NULL)
		c->tw_next->tw_prev = c->tw_prev;
	else
		s->tw_tail = c->tw_prev;
	c->tw_prev = c->tw_next = NULL;
	c->on_time_wait_list = false;
	s->tw_listed--;
}

/* A connection enters TIME_WAIT: listed last; past the limit the oldest
 * waiting one ends at the next timer tick (not here: this may run while
 * another connection's segment is being processed). */
static void time_wait_list(struct tcp_stack *s, struct tcp_conn *c)
{
	c->tw_prev = s->tw_tail;
	c->tw_next = NULL;
	if (s->tw_tail != NULL)
		s->tw_tail->tw_next = c;
	else
		s->tw_head = c;
	s->tw_tail = c;
	c->on_time_wait_list = true;
	s->tw_listed++;
	if (s->tw_listed > s->tw_limit) {
		struct tcp_conn *oldest = s->tw_head;
		time_wait_unlist(s, oldest);
		oldest->time_wait_at = s->now_tsc;
		tcp_conn_timer_update(oldest);
		tcp_count(s, TCP_COUNTER_time_wait_ended_early);
	}
}

void tcp_conn_set_state(struct tcp_conn *c, enum tcp_state state)
{
	struct tcp_stack *s = c->stack;
	if (c->state == TCP_TIME_WAIT) {
		s->time_wait_count--;
		if (state != TCP_TIME_WAIT)
			time_wait_unlist(s, c);
	}
	if (state == TCP_TIME_WAIT) {
		s->time_wait_count++;
		if (c->state != TCP_TIME_WAIT)
			time_wait_list(s, c);
	}
	c->state = state;
}

void tcp_conn_mark(struct tcp_conn *c, uint8_t events)
{
	c->events |= events;
	if (c->in_pending)
		return;
	struct tcp_stack *s = c->stack;
	c->in_pending = true;
	c->pending_next = NULL;
	if (s->pending_tail != NULL)
		s->pending_tail->pending_next = c;
	else
		s->pending_head = c;
	s->pending_tail = c;
}

static void free_ooo(struct tcp_conn *c)
{
	struct tcp_stack *s = c->stack;
	rte_pktmbuf_free(c->ooo_head); /* the list is linked through next */
	s->ooo_total -= c->ooo_count;
	c->ooo_head = c->ooo_tail = NULL;
	c->ooo_count = 0;
}

void tcp_conn_terminate(struct tcp_conn *c, int error)
{
	struct tcp_stack *s = c->stack;
	if (c->state == TCP_CLOSED)
		return;
	if (c->state == TCP_SYN_RECEIVED && c->listener != NULL && c->listener->half_open > 0)
		c->listener->half_open--;
	if (c->listener != NULL && c->listener->attached > 0)
		c->listener->attached--;
	tcp_conn_set_state(c, TCP_CLOSED);
	rte_hash_del_key(s->table, &c->key);
	c->rto_at = c->delack_at = c->persist_at = c->keepalive_at = c->time_wait_at = 0;
	c->tlp_at = 0;
	tcp_wheel_cancel(&s->wheel, &c->timer);
	rte_pktmbuf_free(c->sq_head);
	c->sq_head = c->sq_tail = c->cur_seg = NULL;
	c->sq_bytes = 0;
	free_ooo(c);
	if (error != 0 || !c->app_owned) {
		rte_pktmbuf_free(c->rq_head);
		c->rq_head = c->rq_tail = NULL;
		c->rq_bytes = 0;
		c->rq_segs = 0;
	}
	if (error != 0 && c->app_owned) {
		c->error = error;
		tcp_conn_mark(c, TCP_EV_ERROR);
	} else {
		tcp_conn_mark(c, 0); /* the poll step returns it to the free list */
	}
}

static void conn_free(struct tcp_conn *c)
{
	struct tcp_stack *s = c->stack;
	rte_pktmbuf_free(c->rq_head);
	c->rq_head = NULL;
	s->conn_count--;
	c->free_next = s->free_list;
	s->free_list = c;
}

/* ---- application events and the poll step ---- */

static void deliver(struct tcp_conn *c)
{
	uint8_t ev = c->events;
	c->events = 0;
	if ((ev & TCP_EV_ACCEPTED) && c->state != TCP_CLOSED && c->listener != NULL) {
		struct tcp_listener *l = c->listener;
		c->listener = NULL;
		if (l->attached > 0)
			l->attached--;
		c->cb = l->cb;
		c->context = l->context;
		c->app_owned = true;
		int rc = l->cb->accepted != NULL ? l->cb->accepted(c, l->context) : -ECONNREFUSED;
		if (rc < 0) {
			c->app_owned = false;
			tcp_send_rst(c);
			tcp_conn_terminate(c, 0);
			return;
		}
	}
	if (!c->app_owned || c->cb == NULL)
		goto errors;
	if ((ev & TCP_EV_CONNECTED) && c->cb->connected != NULL && c->state != TCP_CLOSED)
		c->cb->connected(c, c->context);
	if ((ev & TCP_EV_READABLE) && c->app_owned && !c->app_closed && c->cb->readable != NULL)
		c->cb->readable(c, c->context);
	if ((ev & TCP_EV_WRITABLE) && c->app_owned && !c->app_closed && c->cb->writable != NULL)
		c->cb->writable(c, c->context);
errors:
	if ((ev & TCP_EV_ERROR) && c->app_owned) {
		c->app_owned = false;
		if (c->cb != NULL && c->cb->closed != NULL)
			c->cb->closed(c, c->context, c->error);
	}
}

static unsigned int run_pending(struct tcp_stack *s)
{
	unsigned int work = 0;
	struct tcp_conn *c = s->pending_head;
	s->pending_head = s->pending_tail = NULL;
	while (c != NULL) {
		struct tcp_conn *next = c->pending_next;
		c->in_pending = false;
		work++;
		if (c->events & ~TCP_EV_OUTPUT)
			deliver(c);
		c->events &= (uint8_t)~TCP_EV_OUTPUT;
		if (c->state != TCP_CLOSED)
			tcp_output(c);
		if (c->state == TCP_CLOSED && !c->app_owned && !c->in_pending)
			conn_free(c);
		c = next;
	}
	return work;
}

unsigned int tcp_stack_poll(struct tcp_stack *s, uint64_t now_tsc)
{
	if (now_tsc > s->now_tsc)
		s->now_tsc = now_tsc;
	unsigned int work = 0;
	s->tx_this_poll = 0;
	/* Local congestion: frames the port's full TX ring dropped are lost
	 * segments we caused ourselves.  Halve the output per poll step when
	 * that happens, grow back slowly (like TCP small queues). */
	uint64_t drops = s->nl->counters[NET_COUNTER_drop_tx_ring_full];
	uint32_t cap = s->config.tx_segments_per_poll;
	if (cap != 0) {
		if (drops != s->tx_ring_drops_seen) {
			s->tx_ring_drops_seen = drops;
			s->tx_poll_limit = s->tx_poll_limit / 2 < 16 ? 16 : s->tx_poll_limit / 2;
		} else if (s->tx_poll_limit < cap) {
			s->tx_poll_limit++;
		}
	}
	/* Backpressure from the port: frames its ring has not taken wait in
	 * the sink's bounded backlog; new data goes out only while that
	 * backlog has room, so a full ring slows us down instead of costing
	 * drops and retransmissions. */
	s->tx_backlog_room = (uint32_t)(NET_TX_BACKLOG - s->nl->tx_backlog_count);
	s->tx_backlog_room =
	    s->tx_backlog_room > NET_TX_BATCH ? s->tx_backlog_room - NET_TX_BATCH : 0;
	if (s->wheel.armed_count > 0)
		tcp_timers_run(s);
	/* Callbacks may mark connections again; a second round sends what
	 * they queued within this same loop iteration. */
	for (int round = 0; round < 2 && s->pending_head != NULL; round++)
		work += run_pending(s);
	return work;
}

unsigned int tcp_worker_poll(struct worker *w, void *stack, uint64_t now_tsc)
{
	(void)w;
	return tcp_stack_poll(stack, now_tsc);
}

void tcp_stack_input(struct tcp_stack *s, struct rte_mbuf *m, const struct rte_ipv4_hdr *ip,
                     uint64_t now_tsc)
{
	if (now_tsc > s->now_tsc)
		s->now_tsc = now_tsc;
	tcp_input_segment(s, m, ip);
}

void tcp_stack_destroy(struct tcp_stack *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; i < s->config.max_connections; i++) {
		struct tcp_conn *c = &s->conns[i];
		if (c->stack != s)
			continue;
		if (c->state != TCP_CLOSED) {
			if (c->state != TCP_TIME_WAIT && c->state != TCP_SYN_RECEIVED)
				tcp_send_rst(c);
			tcp_conn_terminate(c, -ECONNABORTED);
		}
	}
	/* Deliver closed() and free everything. */
	while (s->pending_head != NULL)
		run_pending(s);
	for (uint32_t i = 0; i < s->config.max_connections; i++) {
		struct tcp_conn *c = &s->conns[i];
		if (c->stack == s && c->rq_head != NULL) {
			rte_pktmbuf_free(c->rq_head);
			c->rq_head = NULL;
		}
	}
	rte_hash_free(s->table);
	rte_free(s->conns);
	rte_free(s);
}

/* ---- listeners and active opens ---- */

int tcp_listen(struct tcp_stack *s, uint16_t port, rte_be32_t peer,
               const struct tcp_callbacks *callbacks, void *context)
{
	if (port == 0 || callbacks == NULL || callbacks->accepted == NULL)
		return -EINVAL;
	struct tcp_listener *free_slot = NULL;
	for (unsigned int i = 0; i < TCP_MAX_LISTENERS; i++) {
		struct tcp_listener *l = &s->listeners[i];
		if (l->active && l->port == port)
			return -EADDRINUSE;
		if (!l->active && free_slot == NULL)
			free_slot = l;
	}
	if (free_slot == NULL)
		return -ENOSPC;
	*free_slot = (struct tcp_listener){
	    .port = port, .peer = peer, .cb = callbacks, .context = context, .active = true};
	return 0;
}

int tcp_unlisten(struct tcp_stack *s, uint16_t port)
{
	for (unsigned int i = 0; i < TCP_MAX_LISTENERS; i++) {
		struct tcp_listener *l = &s->listeners[i];
		if (l->active && l->port == port) {
			l->active = false;
			/* Half-open connections lose their listener: they are
			 * reset rather than accepted. */
			for (uint32_t k = 0; k < s->config.max_connections && l->attached > 0; k++)
				if (s->conns[k].stack == s && s->conns[k].listener == l &&
				    s->conns[k].state != TCP_CLOSED) {
					tcp_send_rst(&s->conns[k]);
					tcp_conn_terminate(&s->conns[k], 0);
				}
			return 0;
		}
	}
	return -ENOENT;
}

static bool port_listening(const struct tcp_stack *s, uint16_t port)
{
	for (unsigned int i = 0; i < TCP_MAX_LISTENERS; i++)
		if (s->listeners[i].active && s->listeners[i].port == port)
			return true;
	return false;
}

/* The queue the port's RSS sends the peer's replies to, assuming the
 * default redirection table (entry i -> queue i mod queue_count). */
static uint16_t rss_queue(const struct tcp_stack *s, rte_be32_t raddr, uint16_t rport,
                          uint16_t lport)
{
	struct rte_ipv4_tuple t;
	t.src_addr = rte_be_to_cpu_32(raddr);
	t.dst_addr = rte_be_to_cpu_32(s->local_address);
	t.sport = rport;
	t.dport = lport;
	uint32_t hash = rte_softrss((uint32_t *)&t, RTE_THASH_V4_L4_LEN, s->config.rss_key);
	return (uint16_t)((hash & (s->config.reta_size - 1u)) % s->config.queue_count);
}

struct tcp_conn *tcp_connect(struct tcp_stack *s, rte_be32_t destination, uint16_t port,
                             const struct tcp_callbacks *callbacks, void *context, int *error)
{
	int err = 0;
	struct tcp_conn *c = NULL;
	if (destination == 0 || port == 0 || callbacks == NULL) {
		err = -EINVAL;
		goto out;
	}
	uint32_t span = (uint32_t)s->config.ephemeral_high - s->config.ephemeral_low + 1;
	uint16_t lport = 0;
	for (uint32_t i = 0; i < span; i++) {
		uint16_t candidate = s->next_ephemeral;
		s->next_ephemeral = candidate >= s->config.ephemeral_high
		                        ? s->config.ephemeral_low
		                        : (uint16_t)(candidate + 1);
		if (port_listening(s, candidate))
			continue;
		if (s->config.queue_count > 1 && s->config.rss_key_len >= 16 &&
		    rss_queue(s, destination, port, candidate) != s->config.queue_id)
			continue;
		if (tcp_conn_lookup(s, destination, port, candidate) != NULL)
			continue;
		lport = candidate;
		break;
	}
	if (lport == 0) {
		err = -EADDRNOTAVAIL;
		goto out;
	}
	c = tcp_conn_alloc(s, destination, port, lport);
	if (c == NULL) {
		err = -ENOBUFS;
		goto out;
	}
	c->cb = callbacks;
	c->context = context;
	c->app_owned = true;
	/* RFC 9293 3.10.1: ISS, SND.UNA = ISS, SND.NXT = ISS + 1, SYN-SENT. */
	c->iss = tcp_isn(s, destination, port, lport);
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->rcv_wscale = TCP_OUR_WSCALE;
	tcp_conn_set_state(c, TCP_SYN_SENT);
	tcp_count(s, TCP_COUNTER_active_opens);
	c->rtt_start_tsc = s->now_tsc;
	tcp_send_syn(c);
	tcp_rto_arm(c);
	tcp_conn_timer_update(c);
out:
	if (error != NULL)
		*error = err;
	return c;
}

/* ---- the stream API ---- */

struct tcp_stack *tcp_conn_get_stack(const struct tcp_conn *c)
{
	return c->stack;
}

void tcp_conn_set_callbacks(struct tcp_conn *c, const struct tcp_callbacks *callbacks,
                            void *context)
{
	c->cb = callbacks;
	c->context = context;
}

bool tcp_shutdown_acknowledged(const struct tcp_conn *c)
{
	return c->fin_sent && c->snd_una == c->snd_max;
}

uint32_t tcp_send_space(const struct tcp_conn *c)
{
	return c->sq_bytes >= c->snd_budget ? 0 : c->snd_budget - c->sq_bytes;
}

uint32_t tcp_send_unsent(const struct tcp_conn *c)
{
	uint32_t in_flight = c->snd_max - c->snd_una;
	return c->sq_bytes > in_flight ? c->sq_bytes - in_flight : 0;
}

bool tcp_send_ahead_full(const struct tcp_conn *c)
{
	return tcp_send_unsent(c) >= TCP_SEND_AHEAD_BYTES;
}

int tcp_send(struct tcp_conn *c, struct rte_mbuf *chain)
{
	if (chain == NULL || rte_pktmbuf_pkt_len(chain) == 0)
		return -EINVAL;
	if (c->fin_queued || c->app_closed ||
	    (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT &&
	     c->state != TCP_SYN_SENT && c->state != TCP_SYN_RECEIVED))
		return -EPIPE;
	if (c->sq_bytes >= c->snd_budget) {
		c->want_writable = true;
		return -EAGAIN;
	}
	uint32_t len = rte_pktmbuf_pkt_len(chain);
	struct rte_mbuf *last = rte_pktmbuf_lastseg(chain);
	if (c->sq_tail != NULL)
		c->sq_tail->next = chain;
	else
		c->sq_head = chain;
	c->sq_tail = last;
	c->sq_bytes += len;
	if (c->sq_bytes >= c->snd_budget)
		c->want_writable = true;
	tcp_conn_mark(c, TCP_EV_OUTPUT);
	return 0;
}

struct rte_mbuf *tcp_recv(struct tcp_conn *c)
{
	struct rte_mbuf *head = c->rq_head;
	if (head == NULL)
		return NULL;
	uint32_t old_window = tcp_rcv_window(c);
	head->nb_segs = c->rq_segs;
	head->pkt_len = c->rq_bytes;
	c->rq_head = c->rq_tail = NULL;
	c->rq_bytes = 0;
	c->rq_segs = 0;
	/* RFC 9293 3.8.6.2.2: announce the reopened window once it grew by
	 * at least one MSS or half the budget. */
	if (c->state != TCP_CLOSED && tcp_rcv_window(c) >= old_window + c->snd_mss) {
		c->ack_now = true;
		tcp_conn_mark(c, TCP_EV_OUTPUT);
	}
	return head;
}

bool tcp_recv_eof(const struct tcp_conn *c)
{
	return c->fin_received && c->rq_head == NULL;
}

void tcp_set_receive_budget(struct tcp_conn *c, uint32_t bytes)
{
	uint32_t cap = 65535u << TCP_OUR_WSCALE;
	c->rcv_budget = bytes > cap ? cap : bytes;
	tcp_conn_mark(c, TCP_EV_OUTPUT);
}

void tcp_set_send_budget(struct tcp_conn *c, uint32_t bytes)
{
	c->snd_budget = bytes;
}

void tcp_set_keepalive(struct tcp_conn *c, uint32_t idle_s, uint32_t interval_s, uint32_t count)
{
	c->keepalive_idle_s = idle_s;
	c->keepalive_interval_s = interval_s == 0 ? 1 : interval_s;
	c->keepalive_count = count == 0 ? 1 : count;
	c->keepalive_sent = 0;
	if (idle_s == 0 || c->state == TCP_CLOSED) {
		c->keepalive_at = 0;
	} else {
		struct tcp_stack *s = c->stack;
		c->keepalive_at = c->last_rx_tsc + tcp_ms_to_tsc(s, (uint64_t)idle_s * 1000);
	}
	if (c->state != TCP_CLOSED)
		tcp_conn_timer_update(c);
}

int tcp_shutdown(struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_SYN_SENT:
		tcp_conn_terminate(c, 0);
		return 0;
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
		if (!c->fin_queued) {
			c->fin_queued = true;
			tcp_conn_mark(c, TCP_EV_OUTPUT);
		}
		return 0;
	default:
		return c->fin_queued ? 0 : -ENOTCONN;
	}
}

void tcp_close(struct tcp_conn *c)
{
	c->app_closed = true;
	c->app_owned = false;
	if (c->state == TCP_CLOSED) {
		tcp_conn_mark(c, 0);
		return;
	}
	/* RFC 9293 3.10.4 / RFC 2525 2.17: closing with unread data resets. */
	if (c->rq_head != NULL || (c->fin_received == false && c->ooo_head != NULL)) {
		tcp_send_rst(c);
		tcp_conn_terminate(c, 0);
		return;
	}
	tcp_shutdown(c);
	tcp_conn_mark(c, TCP_EV_OUTPUT);
}

void tcp_abort(struct tcp_conn *c)
{
	c->app_owned = false;
	c->app_closed = true;
	if (c->state != TCP_CLOSED && c->state != TCP_SYN_SENT && c->state != TCP_TIME_WAIT)
		tcp_send_rst(c);
	tcp_conn_terminate(c, 0);
	tcp_conn_mark(c, 0);
}

void tcp_conn_get_info(const struct tcp_conn *c, struct tcp_conn_info *info)
{
	memset(info, 0, sizeof(*info));
	info->local_address = c->local_address;
	info->remote_address = c->key.remote_address;
	info->local_port = c->key.local_port;
	info->remote_port = c->key.remote_port;
	info->state = tcp_state_names[c->state];
	info->snd_mss = c->snd_mss;
	info->cwnd = c->cwnd;
	info->ssthresh = c->ssthresh;
	info->snd_wnd = c->snd_wnd;
	info->rcv_wnd = tcp_rcv_window(c);
	info->srtt_us = c->srtt_us;
	info->rto_ms = c->rto_ms;
	info->effective_mss = tcp_effective_mss(c);
	info->min_rtt_us = c->min_rtt_us;
	info->snd_una = c->snd_una;
	info->max_snd_wnd = c->max_snd_wnd;
	info->snd_budget = c->snd_budget;
	info->rcv_budget = c->rcv_budget;
	info->bytes_sent = c->bytes_sent;
	info->bytes_received = c->bytes_received;
	info->retransmits = c->retransmits;
	info->timestamps = c->ts_ok;
	info->sack = c->sack_ok;
	info->window_scaling = c->ws_ok;
}
