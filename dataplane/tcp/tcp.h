/* The userspace TCP stack: one struct tcp_stack per worker lcore, owning its
 * connection table, timer wheel, buffers and counters.  Nothing in a stack is
 * touched by another thread (the telemetry reader only loads counters).
 *
 * Back end (three calls per lcore):
 *   tcp_stack_attach()  hooks the stack under net_lcore's IPv4 input;
 *   tcp_stack_input()   one received segment (the hook calls it);
 *   tcp_stack_poll()    timers, application events, output; call it every
 *                       poll-loop iteration after the RX burst
 *                       (tcp_worker_poll is a ready worker_poll_fn).
 *
 * Front end (the stream API, zero copy):
 *   tcp_listen / tcp_connect open connections;
 *   tcp_send hands the stack a chain of mbufs (kept, refcounted, until
 *   acknowledged); tcp_recv returns the in-order data as one mbuf chain.
 *   The receive window advertised to the peer is the connection's receive
 *   budget minus the bytes waiting for tcp_recv: an application that stops
 *   reading closes the window (backpressure, no unbounded queue).
 *
 * Callback contract: callbacks run only from tcp_stack_poll(), never from
 * inside segment processing, so they may call any API function on any
 * connection of the same stack.  A struct tcp_conn handle stays valid from
 * accepted()/tcp_connect() until the application calls tcp_close() or
 * tcp_abort(), or until closed() has returned, whichever comes first; the
 * stack never frees a handle the application still holds.
 */
#ifndef FTPS_TCP_H
#define FTPS_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "tcp_counters.h"

struct net_lcore;
struct worker;
struct tcp_stack;
struct tcp_conn;

enum tcp_cc_algorithm { TCP_CC_CUBIC = 0, TCP_CC_NEWRENO = 1 };

struct tcp_callbacks {
	/* A passive connection is established (three-way handshake or SYN
	 * cookie).  Set the connection's callbacks with tcp_conn_set_callbacks
	 * here; return 0 to keep it, a negative errno to refuse (the stack
	 * then resets it and the handle is gone). Listener callbacks only. */
	int (*accepted)(struct tcp_conn *c, void *listen_context);
	/* An active open reached ESTABLISHED. */
	void (*connected)(struct tcp_conn *c, void *context);
	/* In-order data (tcp_recv) or the peer's FIN (tcp_recv_eof) waits. */
	void (*readable)(struct tcp_conn *c, void *context);
	/* Send space opened after tcp_send refused or filled the budget. */
	void (*writable)(struct tcp_conn *c, void *context);
	/* The connection failed: error is -ECONNRESET (peer reset),
	 * -ETIMEDOUT (retransmissions or keepalive gave up), -ECONNREFUSED
	 * (RST answering our SYN), -ECONNABORTED (stack shut down).  The handle
	 * is invalid once this returns; do not call tcp_close on it. */
	void (*closed)(struct tcp_conn *c, void *context, int error);
};

struct tcp_stack_config {
	uint32_t max_connections;  /* per lcore, TIME_WAIT included */
	uint32_t syn_backlog;      /* half-open connections per listener before SYN cookies */
	uint32_t rcv_budget;       /* default receive budget per connection, bytes */
	uint32_t snd_budget;       /* default send budget per connection, bytes */
	uint32_t ooo_segments_max; /* out-of-order segments held per connection */
	uint32_t ooo_lcore_max;    /* out-of-order segments held per lcore */
	uint32_t time_wait_ms;     /* 2 * MSL */
	uint32_t delack_ms;        /* delayed-ACK timeout (RFC 9293 3.8.6.3: < 500 ms) */
	uint32_t rto_min_ms;       /* floor of the RTO (RFC 6298 2.4 says 1 s; Linux 200 ms) */
	uint32_t rto_initial_ms;   /* RFC 6298 2.1: 1 s */
	uint32_t rto_max_ms;
	uint32_t syn_retries;  /* SYN / SYN-ACK retransmissions before giving up */
	uint32_t data_retries; /* data retransmissions before -ETIMEDOUT */
	enum tcp_cc_algorithm cc;
	bool syn_cookies; /* answer SYNs statelessly once the backlog is full */
	bool pacing;      /* new data at gain x cwnd / SRTT (tcp_pacing.c) */
	/* Segments output per poll step; keeps the TX ring from overflowing. */
	uint32_t tx_segments_per_poll;
	uint32_t challenge_acks_per_s; /* RFC 5961 7 rate limit, per lcore */
	/* RSS: active opens pick a local port whose Toeplitz hash (rte_softrss
	 * with this key) lands on queue_id out of queue_count. */
	uint16_t queue_id;
	uint16_t queue_count;
	uint16_t reta_size;
	uint8_t rss_key[52] __rte_aligned(4); /* rte_softrss reads it as uint32_t */
	uint8_t rss_key_len;
	uint16_t ephemeral_low, ephemeral_high;
};

/* Fills the defaults: 16384 connections, backlog 256, 4 MiB budgets. */
void tcp_stack_config_defaults(struct tcp_stack_config *config);

/* Creates a stack on net_lcore nl (its pool, address and offloads).  Returns
 * NULL with a message in error. Call on (or for) the lcore that will run it. */
struct tcp_stack *tcp_stack_create(const struct tcp_stack_config *config, struct net_lcore *nl,
                                   char *error, size_t error_len);

/* Sets nl->tcp_input so IPv4 hands TCP segments to this stack. */
void tcp_stack_attach(struct tcp_stack *stack);

/* Resets every connection (closed(-ECONNABORTED) to the application), frees
 * every mbuf and the stack itself. */
void tcp_stack_destroy(struct tcp_stack *stack);

/* One received segment: m's data offset at the TCP header (l3_len set),
 * ip inside m.  Takes ownership of m. */
void tcp_stack_input(struct tcp_stack *stack, struct rte_mbuf *m, const struct rte_ipv4_hdr *ip,
                     uint64_t now_tsc);

/* Timers, pending application events and output.  Returns work done. */
unsigned int tcp_stack_poll(struct tcp_stack *stack, uint64_t now_tsc);

/* worker_poll_fn adapter: worker_add_poller(w, tcp_worker_poll, stack). */
unsigned int tcp_worker_poll(struct worker *w, void *stack, uint64_t now_tsc);

/* Where the stack's segments go (m's data at the TCP header, IPv4 headroom
 * reserved, ownership passed).  The default is ipv4_output on the stack's
 * net_lcore; unit tests capture segments here instead. */
typedef void (*tcp_output_fn)(void *context, struct rte_mbuf *m, rte_be32_t destination,
                              uint64_t now_tsc);
void tcp_stack_set_output(struct tcp_stack *stack, tcp_output_fn output, void *context);

const uint64_t *tcp_stack_counters(const struct tcp_stack *stack); /* [TCP_COUNTER_COUNT] */
uint32_t tcp_stack_connection_count(const struct tcp_stack *stack);
uint32_t tcp_stack_time_wait_count(const struct tcp_stack *stack);

/* Registers /ftps/tcp/counters and /ftps/tcp/descriptions (DPDK telemetry)
 * over these stacks; once per process, after they are created. */
int tcp_telemetry_register(struct tcp_stack *const *stacks, unsigned int count);

/* Listens on local port (host order) for any peer, or only for peer (network
 * order) when it is not 0.  Call it on every lcore's stack to serve a port
 * from all of them.  Returns 0 or a negative errno. */
int tcp_listen(struct tcp_stack *stack, uint16_t port, rte_be32_t peer,
               const struct tcp_callbacks *callbacks, void *context);
int tcp_unlisten(struct tcp_stack *stack, uint16_t port);

/* Active open to destination:port (network order address, host order port)
 * from an RSS-matching ephemeral port.  Returns the handle or NULL with a
 * negative errno in *error. */
struct tcp_conn *tcp_connect(struct tcp_stack *stack, rte_be32_t destination, uint16_t port,
                             const struct tcp_callbacks *callbacks, void *context, int *error);

/* The stack (lcore) a connection belongs to. */
struct tcp_stack *tcp_conn_get_stack(const struct tcp_conn *c);

void tcp_conn_set_callbacks(struct tcp_conn *c, const struct tcp_callbacks *callbacks,
                            void *context);

/* Queues a chain for sending.  Returns 0 and takes ownership, or -EAGAIN
 * (send budget full; writable() will follow), -EPIPE (shut down or closed),
 * -EINVAL; on error the caller keeps the chain. */
int tcp_send(struct tcp_conn *c, struct rte_mbuf *chain);

/* Bytes tcp_send would accept now. */
uint32_t tcp_send_space(const struct tcp_conn *c);

/* Bytes queued but not yet sent once.  A sender that produces its bytes
 * (seals records) keeps this under TCP_SEND_AHEAD_BYTES instead of filling
 * the whole send budget at once: what it wrote is then still in the core's
 * cache when the checksum and the port's copy read it, instead of megabytes
 * later (a DPDK loadgen upload's checksum fell from 0.75 to 0.38 of its
 * AES-GCM time, perf, 2026-11-29).  The budget still bounds what is in
 * flight. */
uint32_t tcp_send_unsent(const struct tcp_conn *c);
#define TCP_SEND_AHEAD_BYTES (256u << 10)

/* True while TCP_SEND_AHEAD_BYTES or more are unsent: a sealing sender
 * waits for the next poll step. */
bool tcp_send_ahead_full(const struct tcp_conn *c);

/* Takes all in-order data received so far as one chain (NULL when none);
 * the caller owns and frees it.  Reading reopens the window. */
struct rte_mbuf *tcp_recv(struct tcp_conn *c);

/* True once the peer's FIN has been received and every byte before it read. */
bool tcp_recv_eof(const struct tcp_conn *c);

/* Sets the receive budget (the window the peer may fill), bytes. */
void tcp_set_receive_budget(struct tcp_conn *c, uint32_t bytes);
void tcp_set_send_budget(struct tcp_conn *c, uint32_t bytes);

/* Keepalive on request (RFC 9293 3.8.4; RFC 1122 4.2.3.6): probe after idle_s
 * of silence, every interval_s, give up after count probes. 0 idle: off. */
void tcp_set_keepalive(struct tcp_conn *c, uint32_t idle_s, uint32_t interval_s, uint32_t count);

/* Half-close: a FIN follows the queued data. Receiving continues. */
int tcp_shutdown(struct tcp_conn *c);

/* After tcp_shutdown: the peer has acknowledged everything, the FIN too. */
bool tcp_shutdown_acknowledged(const struct tcp_conn *c);

/* Releases the handle: shutdown, and the stack finishes the close on its own
 * (unread or later data resets the connection, RFC 9293 3.10.4). */
void tcp_close(struct tcp_conn *c);

/* Resets the connection at once (RST) and releases the handle. */
void tcp_abort(struct tcp_conn *c);

struct tcp_conn_info {
	rte_be32_t local_address, remote_address;
	uint16_t local_port, remote_port; /* host order */
	const char *state;
	uint32_t snd_mss, cwnd, ssthresh, snd_wnd, rcv_wnd;
	uint32_t srtt_us, rto_ms;
	/* The segment size with options taken off (SMSS). */
	uint32_t effective_mss;
	/* The smallest round-trip sample (0 before the first): the path's own
	 * delay, without what queues add. */
	uint32_t min_rtt_us;
	/* SND.UNA: the difference of two readings, modulo 2^32, is what the
	 * peer acknowledged in between. */
	uint32_t snd_una;
	/* The largest window the peer advertised: no more is ever in flight. */
	uint32_t max_snd_wnd;
	uint32_t snd_budget, rcv_budget; /* tcp_set_send_budget, _receive_budget */
	uint64_t bytes_sent, bytes_received, retransmits;
	bool timestamps, sack, window_scaling;
};
void tcp_conn_get_info(const struct tcp_conn *c, struct tcp_conn_info *info);

#endif
