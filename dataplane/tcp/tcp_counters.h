/* Per-lcore TCP counters, declared once: events and every drop reason with a
 * description the telemetry endpoint prints beside it. */
#ifndef FTPS_TCP_COUNTERS_H
#define FTPS_TCP_COUNTERS_H

#define TCP_COUNTER_LIST(X)                                                                        \
	X(rx_segments, "TCP segments received")                                                    \
	X(tx_segments, "TCP segments handed to IPv4 (a TSO segment counts once)")                  \
	X(tx_data_segments, "segments carrying data sent")                                         \
	X(tx_retransmits, "segments retransmitted")                                                \
	X(tx_rst, "resets sent")                                                                   \
	X(tx_challenge_ack, "challenge ACKs sent (RFC 5961)")                                      \
	X(tx_syn_cookies, "SYN-ACKs sent with a SYN cookie")                                       \
	X(rx_syn_cookies_ok, "connections established from a valid SYN cookie")                    \
	X(active_opens, "connections opened by tcp_connect")                                       \
	X(passive_opens, "connections accepted")                                                   \
	X(resets_received, "connections reset by the peer")                                        \
	X(timeouts, "connections that timed out")                                                  \
	X(rto_fired, "retransmission timeouts")                                                    \
	X(fast_retransmits, "fast retransmit / recovery episodes")                                 \
	X(tlp_probes, "tail loss probes sent (RFC 8985 7)")                                        \
	X(lost_retransmits, "recovery rounds that resent holes whose retransmission was lost")     \
	X(persist_probes, "zero-window probes sent")                                               \
	X(keepalive_probes, "keepalive probes sent")                                               \
	X(delayed_acks, "ACKs sent by the delayed-ACK timer")                                      \
	X(ooo_segments, "out-of-order segments queued")                                            \
	X(drop_short, "segment shorter than a TCP header or with a bad data offset")               \
	X(drop_bad_checksum, "TCP checksum wrong")                                                 \
	X(drop_bad_options, "malformed TCP options")                                               \
	X(drop_no_listener, "segment for no connection and no listener (answered by RST)")         \
	X(drop_listen_bad_flags, "segment to a listener that is neither SYN nor cookie ACK")       \
	X(drop_bad_cookie, "ACK to a listener with an invalid or expired SYN cookie")              \
	X(drop_conn_limit, "SYN dropped: per-lcore connection limit reached")                      \
	X(drop_backlog_full, "SYN dropped: backlog full and SYN cookies off")                      \
	X(drop_paws, "segment rejected by PAWS (RFC 7323 5)")                                      \
	X(drop_out_of_window, "segment outside the receive window (RFC 9293 3.10.7.4)")            \
	X(drop_rst_out_of_window, "RST outside the window ignored (RFC 5961 3.2)")                 \
	X(drop_rst_challenged, "RST in window but not exact: challenge ACK (RFC 5961 3.2)")        \
	X(challenge_ack_limited, "challenge ACKs not sent: rate limit (RFC 5961 7)")               \
	X(drop_syn_challenged, "SYN on a synchronized connection: challenge ACK (RFC 5961 4)")     \
	X(drop_no_ack, "segment without ACK in a synchronized state")                              \
	X(drop_ack_too_new, "ACK for data never sent (RFC 9293 3.10.7.4)")                         \
	X(drop_ack_too_old, "ACK older than the window allows (RFC 5961 5.2)")                     \
	X(drop_syn_sent_bad_ack, "unacceptable ACK in SYN-SENT")                                   \
	X(drop_data_after_close, "data after the application closed (connection reset)")           \
	X(drop_ooo_full, "out-of-order segment dropped: queue full")                               \
	X(drop_rcv_window_full, "data beyond the receive budget dropped")                          \
	X(drop_duplicate, "segment entirely old (duplicate), ACKed")                               \
	X(drop_time_wait, "segment to a TIME_WAIT connection (ACKed or ignored)")                  \
	X(time_wait_ended_early, "TIME_WAIT ended early: half the connection table was waiting")   \
	X(drop_mbuf_exhausted, "segment not sent: no mbuf")

enum tcp_counter {
#define TCP_COUNTER_ENUM(name, description) TCP_COUNTER_##name,
	TCP_COUNTER_LIST(TCP_COUNTER_ENUM)
#undef TCP_COUNTER_ENUM
	    TCP_COUNTER_COUNT
};

extern const char *const tcp_counter_names[TCP_COUNTER_COUNT];
extern const char *const tcp_counter_descriptions[TCP_COUNTER_COUNT];

#endif
