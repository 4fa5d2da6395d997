/* Internal state of the TCP stack, shared by its source files only. */
#ifndef FTPS_TCP_INTERNAL_H
#define FTPS_TCP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "tcp.h"
#include "tcp_timer.h"

/* Sequence arithmetic modulo 2^32 (RFC 9293 3.4). */
static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}
static inline bool seq_leq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}
static inline bool seq_gt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}
static inline bool seq_geq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) >= 0;
}
static inline uint32_t seq_max(uint32_t a, uint32_t b)
{
	return seq_gt(a, b) ? a : b;
}
static inline uint32_t seq_min(uint32_t a, uint32_t b)
{
	return seq_lt(a, b) ? a : b;
}

#define TCP_STATE_LIST(X)                                                                          \
	X(CLOSED)                                                                                  \
	X(SYN_SENT)                                                                                \
	X(SYN_RECEIVED)                                                                            \
	X(ESTABLISHED)                                                                             \
	X(FIN_WAIT_1)                                                                              \
	X(FIN_WAIT_2)                                                                              \
	X(CLOSE_WAIT)                                                                              \
	X(CLOSING)                                                                                 \
	X(LAST_ACK)                                                                                \
	X(TIME_WAIT)

enum tcp_state {
#define TCP_STATE_ENUM(name) TCP_##name,
	TCP_STATE_LIST(TCP_STATE_ENUM)
#undef TCP_STATE_ENUM
};
extern const char *const tcp_state_names[];

#define TCP_MSS_DEFAULT     536 /* RFC 9293 3.7.1: without the option */
#define TCP_OUR_WSCALE      9   /* up to 32 MiB of window */
#define TCP_SACK_MAX_BLOCKS 4
#define TCP_SCOREBOARD_MAX  32
#define TCP_TSO_MAX         65000 /* payload bytes per TSO segment */
#define TCP_OPTIONS_MAX     40

/* Options parsed from one segment. */
struct tcp_options {
	bool mss_present, ws_present, sack_permitted, ts_present;
	uint16_t mss;
	uint8_t wscale;
	uint8_t sack_count;
	uint32_t ts_val, ts_ecr;
	struct {
		uint32_t start, end;
	} sack[TCP_SACK_MAX_BLOCKS];
};

/* The parsed view of one received segment. */
struct tcp_segment {
	const struct rte_tcp_hdr *th;
	rte_be32_t saddr, daddr;
	uint16_t sport, dport; /* host order */
	uint32_t seq, ack;
	uint32_t len; /* payload bytes */
	uint32_t wnd; /* raw window field */
	uint8_t flags;
	struct tcp_options opt;
};

struct tcp_conn_key {
	rte_be32_t remote_address;
	uint16_t remote_port;
	uint16_t local_port;
};

struct tcp_sack_range {
	uint32_t start, end;
};

struct tcp_listener {
	uint16_t port;
	rte_be32_t peer;
	const struct tcp_callbacks *cb;
	void *context;
	uint32_t half_open;
	/* Connections not yet accepted that point at it: tcp_unlisten scans
	 * the connection table only when there are some. */
	uint32_t attached;
	bool active;
};
#define TCP_MAX_LISTENERS 1024 /* every passive data port of every session */

struct tcp_cc_ops;

struct tcp_conn {
	struct tcp_stack *stack;
	struct tcp_conn_key key;
	rte_be32_t local_address;
	enum tcp_state state;
	struct tcp_listener *listener; /* passive opens until accepted */

	/* Application side. */
	const struct tcp_callbacks *cb;
	void *context;
	bool app_owned;  /* the application holds the handle */
	bool app_closed; /* tcp_close called: unread data means reset */
	bool fin_queued; /* tcp_shutdown: FIN after the send queue */
	bool fin_sent;
	bool fin_received;
	bool want_writable;
	uint8_t events; /* TCP_EV_* waiting for tcp_stack_poll */
	int error;
	bool in_pending;
	struct tcp_conn *pending_next;
	bool syn_cookie; /* established from a cookie (no SYN-ACK retransmit state) */

	/* Send sequence space (RFC 9293 3.3.1). */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
	uint16_t snd_mss; /* peer MSS minus nothing; options subtracted per segment */
	uint8_t snd_wscale, rcv_wscale;
	bool ws_ok, ts_ok, sack_ok;

	/* Send queue: one chain of segments starting at snd_una (sq_head_off
	 * bytes of the head segment are already acknowledged). */
	struct rte_mbuf *sq_head, *sq_tail;
	uint32_t sq_head_off;
	uint32_t sq_bytes; /* from snd_una to the end of the queue */
	uint32_t snd_budget;
	/* Cursor for snd_nxt inside the queue (restarted after RTO). */
	struct rte_mbuf *cur_seg;
	uint32_t cur_seq; /* sequence of cur_seg's first byte */

	/* Receive sequence space. */
	uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge advertised */
	uint32_t rcv_budget;
	struct rte_mbuf *rq_head, *rq_tail; /* in order, waiting for tcp_recv */
	uint32_t rq_bytes;
	uint16_t rq_segs;
	struct rte_mbuf *ooo_head, *ooo_tail; /* seq in m->hash.usr, sorted */
	uint32_t ooo_count;
	uint32_t ooo_last_start; /* most recent out-of-order arrival (RFC 2018 4) */
	bool ooo_fin;
	uint32_t ooo_fin_seq;

	/* Timestamps (RFC 7323 4.3). */
	uint32_t ts_recent;
	uint64_t ts_recent_at_tsc;
	uint32_t last_ack_sent;

	/* RTT and RTO (RFC 6298). */
	uint32_t srtt_us, rttvar_us, rto_ms;
	uint64_t pace_next_tsc; /* new data waits until then (tcp_pacing.c) */
	uint32_t min_rtt_us;    /* the smallest sample: the path without queues */
	/* After a retransmission timeout, until timeout_recover (SND.MAX at
	 * the timeout) is acknowledged: no fast recovery for losses of what
	 * was out at the timeout (RFC 6675 5.1, RFC 6582 4), and slow start
	 * credits only bytes sent since the timeout (timeout_sent, less what
	 * was credited), never what the receiver already held. */
	bool after_timeout;
	uint32_t timeout_recover;
	uint32_t timeout_sent;
	uint8_t backoff;
	uint8_t retries;
	bool rtt_timing;
	uint32_t rtt_seq;
	uint64_t rtt_start_tsc;

	/* Congestion control (RFC 5681, 9438) and loss recovery (RFC 6675). */
	const struct tcp_cc_ops *cc;
	uint32_t cwnd, ssthresh;
	uint32_t bytes_acked_ca;
	double cubic_w_max, cubic_k, cubic_w_est;
	uint64_t cubic_epoch_tsc;
	uint32_t cubic_cwnd_origin;
	bool in_recovery;
	uint32_t recover; /* snd_max when recovery began */
	uint32_t dupacks;
	uint32_t rexmit_high; /* recovery: holes below this were retransmitted */
	struct tcp_sack_range scoreboard[TCP_SCOREBOARD_MAX];
	uint8_t sb_count;
	uint32_t sacked_bytes;

	/* ACK generation. */
	uint16_t segs_unacked;
	uint16_t quickacks;
	bool ack_now;
	bool ack_pending;

	/* Timers: absolute TSC deadlines, 0 when off. One wheel entry per
	 * connection at the earliest of them. */
	uint64_t rto_at, delack_at, persist_at, keepalive_at, time_wait_at;
	uint64_t tlp_at; /* tail loss probe (RFC 8985 7) */
	bool tlp_sent;
	/* When the current pass resending the holes (in recovery, or after a
	 * timeout) reached the highest SACKed byte; 0: not yet.  A hole still
	 * open an RTT and more after that was lost again. */
	uint64_t hole_pass_done_tsc;
	uint8_t persist_backoff;
	uint32_t keepalive_idle_s, keepalive_interval_s, keepalive_count;
	uint8_t keepalive_sent;
	uint64_t last_rx_tsc;
	struct tcp_timer timer;

	/* Statistics. */
	uint64_t bytes_sent, bytes_received, retransmits;

	struct tcp_conn *free_next;
	/* TIME_WAIT connections in the order they entered it (oldest first),
	 * so the oldest can be let go when too many wait (tcp_stack.tw_*). */
	struct tcp_conn *tw_prev, *tw_next;
	bool on_time_wait_list;
};

#define TCP_EV_ACCEPTED  0x01
#define TCP_EV_CONNECTED 0x02
#define TCP_EV_READABLE  0x04
#define TCP_EV_WRITABLE  0x08
#define TCP_EV_ERROR     0x10
#define TCP_EV_OUTPUT    0x20 /* something to send */

struct tcp_stack {
	uint64_t counters[TCP_COUNTER_COUNT];
	struct tcp_stack_config config;
	struct net_lcore *nl;
	struct rte_mempool *pool;
	rte_be32_t local_address;
	uint16_t mss_local;      /* MTU - 40: the most we send per segment */
	uint16_t mss_advertised; /* receive MTU - 40: what our SYNs offer */
	bool tx_cksum_offload, tso;
	/* Neither compute nor verify TCP checksums (net_lcore.l4_checksum_trusted). */
	bool l4_checksum_trusted;
	tcp_output_fn output;
	void *output_context;

	uint64_t tsc_hz;
	uint64_t tsc_per_ms;
	uint64_t now_tsc;
	uint64_t tsc_base;
	uint32_t tx_this_poll;    /* segments handed to IPv4 in this poll step */
	uint32_t tx_poll_limit;   /* adaptive: shrinks when the port's ring overflowed */
	uint32_t tx_backlog_room; /* frames the port's TX backlog can still take (this poll) */
	uint64_t tx_ring_drops_seen;
	uint64_t challenge_window_tsc; /* RFC 5961 7: start of the current second */
	uint32_t challenge_count;

	struct rte_hash *table;
	struct tcp_conn *conns;
	struct tcp_conn *free_list;
	uint32_t conn_count, time_wait_count;
	/* At most half the table waits in TIME_WAIT: past that the oldest
	 * ends early, so a burst of closes (every download's) cannot fill the
	 * table and refuse new connections for 2 MSL. */
	struct tcp_conn *tw_head, *tw_tail;
	uint32_t tw_listed, tw_limit;
	uint32_t ooo_total;
	struct tcp_listener listeners[TCP_MAX_LISTENERS];
	struct tcp_timer_wheel wheel;

	struct tcp_conn *pending_head, *pending_tail;

	uint8_t secret[16]; /* RFC 6528 ISN and SYN cookie key */
	uint16_t next_ephemeral;
};

/* tcp_stack.c */
static inline uint64_t tcp_ms_to_tsc(const struct tcp_stack *s, uint64_t ms)
{
	return ms * s->tsc_per_ms;
}
static inline uint32_t tcp_now_ms(const struct tcp_stack *s)
{
	return (uint32_t)((s->now_tsc - s->tsc_base) / s->tsc_per_ms);
}
static inline void tcp_count(struct tcp_stack *s, enum tcp_counter c)
{
	s->counters[c]++;
}
void tcp_conn_mark(struct tcp_conn *c, uint8_t events);
struct tcp_conn *tcp_conn_lookup(struct tcp_stack *s, rte_be32_t raddr, uint16_t rport,
                                 uint16_t lport);
struct tcp_conn *tcp_conn_alloc(struct tcp_stack *s, rte_be32_t raddr, uint16_t rport,
                                uint16_t lport);
void tcp_conn_set_state(struct tcp_conn *c, enum tcp_state state);
/* Ends the connection: frees queues, leaves the table, reports error (0 for
 * an orderly end) to an application that still holds it. */
void tcp_conn_terminate(struct tcp_conn *c, int error);
void tcp_conn_init_rcv_window(struct tcp_conn *c);
uint32_t tcp_isn(struct tcp_stack *s, rte_be32_t raddr, uint16_t rport, uint16_t lport);
uint64_t tcp_siphash(const uint8_t key[16], const void *data, size_t len);
void tcp_free_chain_list(struct rte_mbuf *head);

/* tcp_input.c */
void tcp_input_segment(struct tcp_stack *s, struct rte_mbuf *m, const struct rte_ipv4_hdr *ip);
int tcp_parse_options(const uint8_t *p, uint32_t len, bool syn, struct tcp_options *o);

/* tcp_output.c */
void tcp_output(struct tcp_conn *c);
void tcp_send_ack(struct tcp_conn *c);
void tcp_send_challenge_ack(struct tcp_conn *c);
void tcp_send_syn(struct tcp_conn *c); /* SYN or SYN-ACK by state */
void tcp_send_rst_for(struct tcp_stack *s, const struct tcp_segment *seg);
void tcp_send_rst(struct tcp_conn *c);
void tcp_send_keepalive(struct tcp_conn *c);
void tcp_send_window_probe(struct tcp_conn *c);
int tcp_retransmit_range(struct tcp_conn *c, uint32_t seq, uint32_t max_len);
uint32_t tcp_rcv_window(const struct tcp_conn *c);
void tcp_send_synack_cookie(struct tcp_stack *s, const struct tcp_segment *seg, uint32_t isn,
                            uint16_t mss, uint32_t tsval);
uint32_t tcp_effective_mss(const struct tcp_conn *c);
uint32_t tcp_flight_size(const struct tcp_conn *c);

/* tcp_timer.c (connection timers on top of the wheel) */
void tcp_conn_timer_update(struct tcp_conn *c);
void tcp_timers_run(struct tcp_stack *s);
void tcp_rto_arm(struct tcp_conn *c);
void tcp_rtt_sample(struct tcp_conn *c, uint32_t rtt_us);
void tcp_tlp_arm(struct tcp_conn *c);

/* tcp_sack.c */
unsigned int tcp_sack_blocks(const struct tcp_conn *c, struct tcp_sack_range *out,
                             unsigned int max);
void tcp_scoreboard_update(struct tcp_conn *c, const struct tcp_options *o);
void tcp_scoreboard_ack(struct tcp_conn *c);
void tcp_scoreboard_clear(struct tcp_conn *c);
/* Next hole to retransmit at or after from and below the highest SACKed
 * byte; returns false when there is none. */
bool tcp_scoreboard_next_hole(const struct tcp_conn *c, uint32_t from, uint32_t *start,
                              uint32_t *len);
/* Bytes the scoreboard holds below seq. */
uint32_t tcp_scoreboard_sacked_below(const struct tcp_conn *c, uint32_t seq);
uint32_t tcp_scoreboard_high(const struct tcp_conn *c);
/* Going back after an RTO: moves seq past SACKed data; *room is how far the
 * next SACKed range is (UINT32_MAX when none). */
uint32_t tcp_scoreboard_skip(const struct tcp_conn *c, uint32_t seq, uint32_t *room);
uint32_t tcp_pipe(const struct tcp_conn *c);

/* tcp_pacing.c: new data at gain x cwnd / SRTT, bursts of at most
 * TCP_PACING_QUANTUM bytes. */
#define TCP_PACING_QUANTUM (64u << 10)
bool tcp_pacing_allows(const struct tcp_conn *c);
void tcp_pacing_sent(struct tcp_conn *c, uint32_t len);

/* tcp_syncookie.c (RFC 4987 3.6) */
uint32_t tcp_syncookie_make(struct tcp_stack *s, const struct tcp_segment *seg, uint16_t *mss);
bool tcp_syncookie_check(struct tcp_stack *s, const struct tcp_segment *seg, uint16_t *mss);
uint32_t tcp_syncookie_tsval(struct tcp_stack *s, const struct tcp_options *syn);
void tcp_syncookie_tsecr_options(uint32_t tsecr, struct tcp_options *o);

/* Congestion control plug-ins (tcp_cc.h). */
struct tcp_cc_ops {
	const char *name;
	void (*init)(struct tcp_conn *c);
	/* New data acknowledged outside recovery. */
	void (*on_ack)(struct tcp_conn *c, uint32_t acked);
	/* Loss detected by duplicate ACKs or SACK: set ssthresh and cwnd. */
	void (*on_congestion)(struct tcp_conn *c);
	/* Retransmission timeout (RFC 5681 3.1 eq. 4): ssthresh; cwnd = 1 MSS. */
	void (*on_rto)(struct tcp_conn *c);
};
extern const struct tcp_cc_ops tcp_cc_newreno;
extern const struct tcp_cc_ops tcp_cc_cubic;

#endif
