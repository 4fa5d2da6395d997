/* SYN cookies (RFC 4987 3.6): once a listener's backlog is full the SYN-ACK
 * carries all the state we need in its ISN, so a flood of SYNs costs no
 * memory.  Layout of the cookie (our ISS):
 *   bits 31-27  time counter (64 s periods, modulo 32)
 *   bits 26-24  index of the MSS in a small table
 *   bits 23-0   SipHash(secret, addresses, ports, peer ISN, counter)
 * Window scale and SACK permission ride in the low bits of our TSval when
 * the peer uses timestamps (they come back in TSecr); without timestamps a
 * cookie connection has neither, as RFC 4987 notes. */
#include "tcp_internal.h"

#define COOKIE_PERIOD_MS 64000u
#define TS_OPT_MARK      0x20u /* bit 5: options are encoded */
#define TS_OPT_SACK      0x10u /* bit 4: SACK permitted */
#define TS_OPT_WS_NONE   0x0fu /* bits 3-0: window scale, 15 = none */

static const uint16_t cookie_mss[8] = {536, 1200, 1360, 1400, 1440, 1460, 4312, 8960};

static uint32_t counter(struct tcp_stack *s)
{
	return tcp_now_ms(s) / COOKIE_PERIOD_MS;
}

static uint32_t cookie_hash(struct tcp_stack *s, const struct tcp_segment *seg, uint32_t peer_isn,
                            uint32_t t)
{
	struct {
		rte_be32_t saddr, daddr;
		uint16_t sport, dport;
		uint32_t isn, t;
	} in = {seg->saddr, seg->daddr, seg->sport, seg->dport, peer_isn, t & 31};
	return (uint32_t)tcp_siphash(s->secret, &in, sizeof(in)) & 0xffffff;
}

uint32_t tcp_syncookie_make(struct tcp_stack *s, const struct tcp_segment *seg, uint16_t *mss)
{
	uint16_t peer_mss = seg->opt.mss_present ? seg->opt.mss : TCP_MSS_DEFAULT;
	if (peer_mss > s->mss_local)
		peer_mss = s->mss_local;
	unsigned int idx = 0;
	for (unsigned int i = 0; i < 8; i++)
		if (cookie_mss[i] <= peer_mss)
			idx = i;
	*mss = cookie_mss[idx];
	uint32_t t = counter(s);
	return (t & 31) << 27 | (uint32_t)idx << 24 | cookie_hash(s, seg, seg->seq, t);
}

bool tcp_syncookie_check(struct tcp_stack *s, const struct tcp_segment *seg, uint16_t *mss)
{
	uint32_t cookie = seg->ack - 1;
	uint32_t peer_isn = seg->seq - 1;
	uint32_t now = counter(s);
	uint32_t t = cookie >> 27;
	/* Valid for the current and the previous period. */
	uint32_t age = (now - t) & 31;
	if (age > 1)
		return false;
	uint32_t full_t = now - age;
	if (cookie_hash(s, seg, peer_isn, full_t) != (cookie & 0xffffff))
		return false;
	*mss = cookie_mss[(cookie >> 24) & 7];
	return true;
}

uint32_t tcp_syncookie_tsval(struct tcp_stack *s, const struct tcp_options *syn)
{
	/* Rounded down below the current clock so our later TSvals never go
	 * backwards for the peer's PAWS. */
	uint32_t base = (tcp_now_ms(s) - 64) & ~0x3fu;
	uint32_t bits = TS_OPT_MARK | (syn->ws_present ? syn->wscale & 0x0f : TS_OPT_WS_NONE);
	if (syn->sack_permitted)
		bits |= TS_OPT_SACK;
	return base | bits;
}

void tcp_syncookie_tsecr_options(uint32_t tsecr, struct tcp_options *o)
{
	o->ts_present = true;
	if (!(tsecr & TS_OPT_MARK))
		return;
	o->sack_permitted = (tsecr & TS_OPT_SACK) != 0;
	if ((tsecr & 0x0f) != TS_OPT_WS_NONE) {
		o->ws_present = true;
		o->wscale = (uint8_t)(tsecr & 0x0f) > 14 ? 14 : (uint8_t)(tsecr & 0x0f);
	}
}
