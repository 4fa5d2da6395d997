/* Unit tests for the dataplane <-> control contract (control/ipc). */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "ftps_ipc.h"

static uint64_t buf[(FTPS_IPC_MAX_MSG + 7) / 8];

static void addr4(struct ftps_ipc_addr *a, uint8_t last)
{
	memset(a, 0, sizeof(*a));
	a->family = FTPS_IPC_AF_INET;
	a->bytes[0] = 198;
	a->bytes[1] = 18;
	a->bytes[3] = last;
}

static void test_hello(void)
{
	struct ftps_ipc_hello m;
	memset(&m, 0, sizeof(m));
	ftps_ipc_hdr_init(&m.hdr, FTPS_IPC_HELLO, sizeof(m), 0);
	m.role = FTPS_IPC_ROLE_DATAPLANE;
	m.n_workers = 2;
	m.worker_id = 1;
	m.initial_credit = FTPS_IPC_INITIAL_CREDIT;
	strcpy(m.name, "dp");
	CHECK_EQ(ftps_ipc_validate(&m, sizeof(m), 0), FTPS_IPC_OK);
	CHECK_EQ(ftps_ipc_validate(&m, sizeof(m), 1), FTPS_IPC_ERR_FDS);
	m.worker_id = 2; /* not below n_workers */
	CHECK_EQ(ftps_ipc_validate(&m, sizeof(m), 0), FTPS_IPC_ERR_FIELD);
	m.worker_id = 0;
	memset(m.name, 'x', sizeof(m.name)); /* no NUL */
	CHECK_EQ(ftps_ipc_validate(&m, sizeof(m), 0), FTPS_IPC_ERR_FIELD);
	strcpy(m.name, "dp");
	m.hdr.version = FTPS_IPC_VERSION + 1;
	CHECK_EQ(ftps_ipc_validate(&m, sizeof(m), 0), FTPS_IPC_ERR_VERSION);
	m.hdr.version = FTPS_IPC_VERSION;
	m.hdr.len = sizeof(m) - 1;
	CHECK_EQ(ftps_ipc_validate(&m, sizeof(m) - 1, 0), FTPS_IPC_ERR_LEN);
	m.hdr.len = sizeof(m);
	CHECK_EQ(ftps_ipc_validate(&m, sizeof(m) + 0, 0), FTPS_IPC_OK);
	CHECK_EQ(ftps_ipc_validate(&m, 8, 0), FTPS_IPC_ERR_SHORT);
	m.hdr.type = 99;
	CHECK_EQ(ftps_ipc_validate(&m, sizeof(m), 0), FTPS_IPC_ERR_TYPE);
}

static void test_listen_and_opened(void)
{
	struct ftps_ipc_listen l;
	memset(&l, 0, sizeof(l));
	ftps_ipc_hdr_init(&l.hdr, FTPS_IPC_LISTEN, sizeof(l), 0);
	l.listener_id = 7;
	l.port = 40000;
	CHECK_EQ(ftps_ipc_validate(&l, sizeof(l), 0), FTPS_IPC_OK);
	l.flags = FTPS_IPC_LISTEN_PEER_ONLY; /* peer-only without a peer */
	CHECK_EQ(ftps_ipc_validate(&l, sizeof(l), 0), FTPS_IPC_ERR_FIELD);
	addr4(&l.peer, 2);
	CHECK_EQ(ftps_ipc_validate(&l, sizeof(l), 0), FTPS_IPC_OK);
	l.peer.bytes[9] = 1; /* junk after an IPv4 address */
	CHECK_EQ(ftps_ipc_validate(&l, sizeof(l), 0), FTPS_IPC_ERR_FIELD);
	l.peer.bytes[9] = 0;
	l.port = 0;
	CHECK_EQ(ftps_ipc_validate(&l, sizeof(l), 0), FTPS_IPC_ERR_FIELD);

	struct ftps_ipc_conn_opened o;
	memset(&o, 0, sizeof(o));
	ftps_ipc_hdr_init(&o.hdr, FTPS_IPC_CONN_OPENED, sizeof(o), 5);
	o.listener_id = 1;
	addr4(&o.local, 1);
	addr4(&o.peer, 2);
	o.local_port = 21;
	o.peer_port = 50000;
	CHECK_EQ(ftps_ipc_validate(&o, sizeof(o), 0), FTPS_IPC_OK);
	o.hdr.conn_id = FTPS_IPC_CONNECT_ID_BIT | 5; /* accepted ids never in C's range */
	CHECK_EQ(ftps_ipc_validate(&o, sizeof(o), 0), FTPS_IPC_ERR_FIELD);
	o.listener_id = 0; /* a CONNECT result */
	CHECK_EQ(ftps_ipc_validate(&o, sizeof(o), 0), FTPS_IPC_OK);
	o.hdr.conn_id = 0;
	CHECK_EQ(ftps_ipc_validate(&o, sizeof(o), 0), FTPS_IPC_ERR_FIELD);
}

static void test_data_credit(void)
{
	uint8_t payload[FTPS_IPC_MAX_DATA + 1];
	memset(payload, 0xab, sizeof(payload));
	size_t n = ftps_ipc_encode_data(buf, sizeof(buf), 9, payload, 100);
	CHECK_EQ(n, sizeof(struct ftps_ipc_data) + 100);
	CHECK_EQ(ftps_ipc_validate(buf, n, 0), FTPS_IPC_OK);
	CHECK_EQ(ftps_ipc_encode_data(buf, sizeof(buf), 9, payload, 0), 0);
	CHECK_EQ(ftps_ipc_encode_data(buf, sizeof(buf), 9, payload, FTPS_IPC_MAX_DATA + 1), 0);
	CHECK_EQ(ftps_ipc_encode_data(buf, sizeof(buf), 0, payload, 10), 0);
	n = ftps_ipc_encode_data(buf, sizeof(buf), 9, payload, FTPS_IPC_MAX_DATA);
	CHECK_EQ(ftps_ipc_validate(buf, n, 0), FTPS_IPC_OK);
	/* a DATA header that claims more than the limit */
	struct ftps_ipc_hdr *h = (struct ftps_ipc_hdr *)buf;
	memset((uint8_t *)buf + n, 0, 1);
	h->len = (uint32_t)n + 1;
	CHECK_EQ(ftps_ipc_validate(buf, n + 1, 0), FTPS_IPC_ERR_LEN);

	struct ftps_ipc_credit c;
	memset(&c, 0, sizeof(c));
	ftps_ipc_hdr_init(&c.hdr, FTPS_IPC_CREDIT, sizeof(c), 9);
	CHECK_EQ(ftps_ipc_validate(&c, sizeof(c), 0), FTPS_IPC_ERR_FIELD); /* zero credit */
	c.bytes = 4096;
	CHECK_EQ(ftps_ipc_validate(&c, sizeof(c), 0), FTPS_IPC_OK);
}

static void test_takeover_fd(void)
{
	struct ftps_ipc_takeover *t = (struct ftps_ipc_takeover *)buf;
	int sv[2], fd_in, fd_out;
	unsigned nfds;

	memset(buf, 0, sizeof(struct ftps_ipc_takeover) + 10);
	ftps_ipc_hdr_init(&t->hdr, FTPS_IPC_TAKEOVER, sizeof(*t) + 10, 3);
	t->tls_version = 0x0304;
	t->suite = 0x1301; /* TLS_AES_128_GCM_SHA256 */
	t->direction = FTPS_IPC_DIR_SEND_FILE;
	t->leftover_len = 10;
	t->idle_timeout_s = 60;
	t->rx.key_len = t->tx.key_len = 16;
	t->rx.iv_len = t->tx.iv_len = 12;
	t->rx.secret_len = t->tx.secret_len = 32;
	CHECK_EQ(ftps_ipc_validate(t, sizeof(*t) + 10, 1), FTPS_IPC_OK);
	t->idle_timeout_s = 0; /* the stall timeout is required, and bounded */
	CHECK_EQ(ftps_ipc_validate(t, sizeof(*t) + 10, 1), FTPS_IPC_ERR_FIELD);
	t->idle_timeout_s = FTPS_IPC_MAX_IDLE_TIMEOUT + 1;
	CHECK_EQ(ftps_ipc_validate(t, sizeof(*t) + 10, 1), FTPS_IPC_ERR_FIELD);
	t->idle_timeout_s = 60;
	t->reserved = 1;
	CHECK_EQ(ftps_ipc_validate(t, sizeof(*t) + 10, 1), FTPS_IPC_ERR_FIELD);
	t->reserved = 0;
	CHECK_EQ(ftps_ipc_validate(t, sizeof(*t) + 10, 0), FTPS_IPC_ERR_FDS);
	t->leftover_len = 11;
	CHECK_EQ(ftps_ipc_validate(t, sizeof(*t) + 10, 1), FTPS_IPC_ERR_FIELD);
	t->leftover_len = 10;
	t->rx.iv_len = 4; /* TLS 1.3 needs a 12-byte IV */
	CHECK_EQ(ftps_ipc_validate(t, sizeof(*t) + 10, 1), FTPS_IPC_ERR_FIELD);
	t->rx.iv_len = 12;
	t->suite = 0xC02F; /* a TLS 1.2 suite under TLS 1.3 */
	CHECK_EQ(ftps_ipc_validate(t, sizeof(*t) + 10, 1), FTPS_IPC_ERR_FIELD);
	t->suite = 0x1301;
	t->tx.secret_len = 0; /* TLS 1.3 needs the traffic secret */
	CHECK_EQ(ftps_ipc_validate(t, sizeof(*t) + 10, 1), FTPS_IPC_ERR_FIELD);
	t->tx.secret_len = 32;

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	fd_in = open("/dev/null", O_RDONLY);
	CHECK(fd_in >= 0);
	CHECK_EQ(ftps_ipc_send(sv[0], t, sizeof(*t) + 10, fd_in), sizeof(*t) + 10);
	static uint64_t rx[(FTPS_IPC_MAX_MSG + 7) / 8];
	long n = ftps_ipc_recv(sv[1], rx, sizeof(rx), &fd_out, &nfds);
	CHECK_EQ(n, sizeof(*t) + 10);
	CHECK_EQ(nfds, 1);
	CHECK(fd_out >= 0 && fd_out != fd_in);
	CHECK_EQ(ftps_ipc_validate(rx, (size_t)n, nfds), FTPS_IPC_OK);
	/* nothing queued: never blocks */
	CHECK_EQ(ftps_ipc_recv(sv[1], rx, sizeof(rx), &fd_out, &nfds), -1);
	/* a message larger than the buffer is reported, not cut silently */
	CHECK_EQ(ftps_ipc_send(sv[0], t, sizeof(*t) + 10, -1), sizeof(*t) + 10);
	CHECK_EQ(ftps_ipc_recv(sv[1], rx, 32, &fd_out, &nfds), -1);
	close(fd_in);
	close(fd_out >= 0 ? fd_out : -1);
	close(sv[0]);
	close(sv[1]);
}

/* Every builder produces a message the validator accepts. */
static void test_builders(void)
{
	struct ftps_ipc_addr a, b;
	const uint8_t ip1[4] = {198, 18, 0, 1}, ip2[4] = {198, 18, 0, 2};
	ftps_ipc_addr_ipv4(&a, ip1);
	ftps_ipc_addr_ipv4(&b, ip2);

	struct ftps_ipc_hello h;
	ftps_ipc_init_hello(&h, FTPS_IPC_ROLE_DATAPLANE, 1, 4,
	                    "a-name-longer-than-thirty-two-bytes!!");
	CHECK_EQ(ftps_ipc_validate(&h, sizeof(h), 0), FTPS_IPC_OK);
	CHECK_EQ(h.name[31], 0);
	ftps_ipc_init_hello(&h, FTPS_IPC_ROLE_CONTROL, 0, 0, "ctl");
	CHECK_EQ(ftps_ipc_validate(&h, sizeof(h), 0), FTPS_IPC_OK);
	struct ftps_ipc_listen l;
	ftps_ipc_init_listen(&l, 16, 40000, &a, &b);
	CHECK_EQ(ftps_ipc_validate(&l, sizeof(l), 0), FTPS_IPC_OK);
	CHECK_EQ(l.flags, FTPS_IPC_LISTEN_PEER_ONLY);
	ftps_ipc_init_listen(&l, 1, 21, NULL, NULL);
	CHECK_EQ(ftps_ipc_validate(&l, sizeof(l), 0), FTPS_IPC_OK);
	struct ftps_ipc_listen_result lr;
	ftps_ipc_init_listen_result(&lr, 16, 98);
	CHECK_EQ(ftps_ipc_validate(&lr, sizeof(lr), 0), FTPS_IPC_OK);
	struct ftps_ipc_unlisten ul;
	ftps_ipc_init_unlisten(&ul, 16);
	CHECK_EQ(ftps_ipc_validate(&ul, sizeof(ul), 0), FTPS_IPC_OK);
	struct ftps_ipc_conn_opened o;
	ftps_ipc_init_conn_opened(&o, 3, 1, 0, &a, 21, &b, 50000);
	CHECK_EQ(ftps_ipc_validate(&o, sizeof(o), 0), FTPS_IPC_OK);
	ftps_ipc_init_conn_opened(&o, FTPS_IPC_CONNECT_ID_BIT | 1, 0, 111, NULL, 0, NULL, 0);
	CHECK_EQ(ftps_ipc_validate(&o, sizeof(o), 0), FTPS_IPC_OK);
	struct ftps_ipc_connect c;
	ftps_ipc_init_connect(&c, FTPS_IPC_CONNECT_ID_BIT | 2, &b, 50001);
	CHECK_EQ(ftps_ipc_validate(&c, sizeof(c), 0), FTPS_IPC_OK);
	struct ftps_ipc_credit cr;
	ftps_ipc_init_credit(&cr, 3, 16384);
	CHECK_EQ(ftps_ipc_validate(&cr, sizeof(cr), 0), FTPS_IPC_OK);
	struct ftps_ipc_fin f;
	ftps_ipc_init_fin(&f, 3);
	CHECK_EQ(ftps_ipc_validate(&f, sizeof(f), 0), FTPS_IPC_OK);
	struct ftps_ipc_reset r;
	ftps_ipc_init_reset(&r, 3, 104);
	CHECK_EQ(ftps_ipc_validate(&r, sizeof(r), 0), FTPS_IPC_OK);
	struct ftps_ipc_done d;
	ftps_ipc_init_done(&d, 3, 0, 1u << 30, true, 10, 20);
	CHECK_EQ(ftps_ipc_validate(&d, sizeof(d), 0), FTPS_IPC_OK);
	ftps_ipc_init_done(&d, 3, 0, 1, false, 20, 10); /* time runs backwards */
	CHECK_EQ(ftps_ipc_validate(&d, sizeof(d), 0), FTPS_IPC_ERR_FIELD);
}

int main(void)
{
	test_builders();
	test_hello();
	test_listen_and_opened();
	test_data_credit();
	test_takeover_fd();
	return check_finish("test_ipc");
}
