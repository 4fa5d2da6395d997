/* One TCP-stack connection of the DPDK load generator and its bytes:
 * the stack's callbacks (which drive the owning session), OpenSSL over two
 * memory BIOs (read BIO fed from tcp_recv(), write BIO drained into mbufs
 * for tcp_send()), and the queue of bytes waiting for send space. */
#include "lgd.h"

#include <errno.h>
#include <string.h>

void lgd_conn_take_input(struct lgd_conn *c)
{
	if (c->tc == NULL)
		return;
	struct rte_mbuf *m = tcp_recv(c->tc);
	if (m != NULL) {
		if (c->ssl != NULL && !c->records) {
			for (struct rte_mbuf *seg = m; seg != NULL; seg = seg->next) {
				if (seg->data_len == 0)
					continue;
				if (BIO_write(c->net_in, rte_pktmbuf_mtod(seg, void *),
				              (int)seg->data_len) != (int)seg->data_len) {
					c->state = LGD_TCP_FAILED;
					c->error = -ENOMEM;
					break;
				}
			}
			rte_pktmbuf_free(m);
		} else if (c->in == NULL) {
			c->in = m;
		} else if (rte_pktmbuf_chain(c->in, m) != 0) {
			rte_pktmbuf_free(m);
			c->state = LGD_TCP_FAILED;
			c->error = -ENOBUFS;
		}
	}
	if (tcp_recv_eof(c->tc))
		c->eof = true;
}

static void on_connected(struct tcp_conn *tc, void *context)
{
	(void)tc;
	struct lgd_conn *c = context;
	c->state = LGD_TCP_OPEN;
	lgd_session_drive(c->s);
}

static void on_readable(struct tcp_conn *tc, void *context)
{
	(void)tc;
	struct lgd_conn *c = context;
	lgd_conn_take_input(c);
	lgd_session_drive(c->s);
}

static void on_writable(struct tcp_conn *tc, void *context)
{
	(void)tc;
	struct lgd_conn *c = context;
	lgd_session_drive(c->s);
}

static void on_closed(struct tcp_conn *tc, void *context, int error)
{
	(void)tc;
	struct lgd_conn *c = context;
	c->tc = NULL; /* the handle is gone once this returns */
	c->state = LGD_TCP_FAILED;
	c->error = error;
	lgd_session_drive(c->s);
}

static const struct tcp_callbacks conn_callbacks = {
    .connected = on_connected,
    .readable = on_readable,
    .writable = on_writable,
    .closed = on_closed,
};

int lgd_conn_open(struct lgd_session *s, struct lgd_conn *c, uint16_t port)
{
	int error = 0;
	c->s = s;
	c->eof = false;
	c->error = 0;
	c->state = LGD_TCP_CONNECTING;
	c->tc = tcp_connect(s->lr->stack, s->lr->server, port, &conn_callbacks, c, &error);
	if (c->tc == NULL) {
		c->state = LGD_TCP_FAILED;
		c->error = error;
		return -1;
	}
	return 0;
}

void lgd_conn_close(struct lgd_conn *c)
{
	if (c->ssl != NULL) {
		SSL_free(c->ssl); /* frees both BIOs */
		c->ssl = NULL;
		c->net_in = c->net_out = NULL;
	}
	if (c->records) {
		tls_conn_fini(&c->tls);
		c->records = false;
	}
	rte_pktmbuf_free(c->in);
	rte_pktmbuf_free(c->out);
	c->in = c->out = NULL;
	if (c->tc != NULL) {
		tcp_close(c->tc);
		c->tc = NULL;
	}
	c->state = LGD_TCP_NONE;
	c->eof = false;
}

/* Appends m to the chain waiting for send space. */
int lgd_conn_queue(struct lgd_conn *c, struct rte_mbuf *m)
{
	if (c->out == NULL) {
		c->out = m;
		return 0;
	}
	if (rte_pktmbuf_chain(c->out, m) != 0) {
		rte_pktmbuf_free(m);
		return -1;
	}
	return 0;
}

/* Copies bytes into packet mbufs queued for sending; -1 when out of mbufs. */
int lgd_conn_queue_copy(struct lgd_conn *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(c->s->lr->pool);
		if (m == NULL)
			return -1;
		size_t n = rte_pktmbuf_tailroom(m);
		if (n > len)
			n = len;
		memcpy(rte_pktmbuf_append(m, (uint16_t)n), p, n);
		if (lgd_conn_queue(c, m) != 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Moves what OpenSSL wrote into mbufs and hands the queue to TCP.
 * 1: all handed over, 0: waiting (send space or mbufs), -1: failed. */
int lgd_conn_flush(struct lgd_conn *c)
{
	if (c->ssl != NULL && !c->records) {
		size_t pending;
		while ((pending = BIO_ctrl_pending(c->net_out)) > 0) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(c->s->lr->pool);
			if (m == NULL)
				return 0;
			size_t n = rte_pktmbuf_tailroom(m);
			if (n > pending)
				n = pending;
			if (BIO_read(c->net_out, rte_pktmbuf_append(m, (uint16_t)n), (int)n) !=
			    (int)n) {
				rte_pktmbuf_free(m);
				return -1;
			}
			if (lgd_conn_queue(c, m) != 0)
				return -1;
		}
	}
	if (c->out == NULL)
		return 1;
	if (c->tc == NULL)
		return -1;
	int rc = tcp_send(c->tc, c->out);
	if (rc == -EAGAIN)
		return 0;
	if (rc != 0)
		return -1;
	c->out = NULL;
	return 1;
}

SSL *lgd_conn_tls_new(struct lgd_session *s, struct lgd_conn *c)
{
	SSL *ssl = SSL_new(s->ctl.run->ctx);
	BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
	if (ssl == NULL || in == NULL || out == NULL) {
		SSL_free(ssl);
		BIO_free(in);
		BIO_free(out);
		return NULL;
	}
	/* An empty read BIO means "wait for more", not end of stream. */
	BIO_set_mem_eof_return(in, -1);
	SSL_set_bio(ssl, in, out);
	if (s->ctl.run->opt.ca_file != NULL && !s->ctl.run->opt.insecure) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
		if (!X509_VERIFY_PARAM_set1_ip_asc(vp, s->ctl.run->opt.server)) {
			SSL_free(ssl);
			return NULL;
		}
	}
	SSL_set_connect_state(ssl);
	c->ssl = ssl;
	c->net_in = in;
	c->net_out = out;
	/* Bytes that arrived before TLS started belong to the handshake. */
	for (struct rte_mbuf *seg = c->in; seg != NULL; seg = seg->next)
		if (seg->data_len > 0 && BIO_write(in, rte_pktmbuf_mtod(seg, void *),
		                                   (int)seg->data_len) != (int)seg->data_len)
			return NULL;
	rte_pktmbuf_free(c->in);
	c->in = NULL;
	return ssl;
}
