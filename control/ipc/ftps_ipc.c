/* Encode/validate helpers for the dataplane <-> control contract
 * (ftps_ipc.h). Linked by both processes; no state, no allocation. */
#include "ftps_ipc.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const type_names[] = {
    [0] = "invalid",
    [FTPS_IPC_HELLO] = "HELLO",
    [FTPS_IPC_LISTEN] = "LISTEN",
    [FTPS_IPC_LISTEN_RESULT] = "LISTEN_RESULT",
    [FTPS_IPC_UNLISTEN] = "UNLISTEN",
    [FTPS_IPC_CONN_OPENED] = "CONN_OPENED",
    [FTPS_IPC_CONNECT] = "CONNECT",
    [FTPS_IPC_DATA] = "DATA",
    [FTPS_IPC_CREDIT] = "CREDIT",
    [FTPS_IPC_FIN] = "FIN",
    [FTPS_IPC_RESET] = "RESET",
    [FTPS_IPC_TAKEOVER] = "TAKEOVER",
    [FTPS_IPC_DONE] = "DONE",
};

const char *ftps_ipc_type_str(unsigned type)
{
	if (type == 0 || type > FTPS_IPC_TYPE_MAX)
		return "invalid";
	return type_names[type];
}

const char *ftps_ipc_check_str(enum ftps_ipc_check c)
{
	switch (c) {
	case FTPS_IPC_OK:
		return "ok";
	case FTPS_IPC_ERR_SHORT:
		return "shorter than a header";
	case FTPS_IPC_ERR_LEN:
		return "length does not match the type";
	case FTPS_IPC_ERR_VERSION:
		return "unsupported version";
	case FTPS_IPC_ERR_TYPE:
		return "unknown type";
	case FTPS_IPC_ERR_FIELD:
		return "field out of range";
	case FTPS_IPC_ERR_FDS:
		return "wrong number of file descriptors";
	default:
		return "unknown check result";
	}
}

void ftps_ipc_hdr_init(struct ftps_ipc_hdr *h, enum ftps_ipc_type type, uint32_t len,
                       uint64_t conn_id)
{
	memset(h, 0, sizeof(*h));
	h->type = (uint16_t)type;
	h->version = FTPS_IPC_VERSION;
	h->len = len;
	h->conn_id = conn_id;
}

/* Size rule per type: exact, or a minimum with a bounded tail. */
struct size_rule {
	size_t base;
	size_t max_tail;
};

static const struct size_rule size_rules[FTPS_IPC_TYPE_MAX + 1] = {
    [FTPS_IPC_HELLO] = {sizeof(struct ftps_ipc_hello), 0},
    [FTPS_IPC_LISTEN] = {sizeof(struct ftps_ipc_listen), 0},
    [FTPS_IPC_LISTEN_RESULT] = {sizeof(struct ftps_ipc_listen_result), 0},
    [FTPS_IPC_UNLISTEN] = {sizeof(struct ftps_ipc_unlisten), 0},
    [FTPS_IPC_CONN_OPENED] = {sizeof(struct ftps_ipc_conn_opened), 0},
    [FTPS_IPC_CONNECT] = {sizeof(struct ftps_ipc_connect), 0},
    [FTPS_IPC_DATA] = {sizeof(struct ftps_ipc_data), FTPS_IPC_MAX_DATA},
    [FTPS_IPC_CREDIT] = {sizeof(struct ftps_ipc_credit), 0},
    [FTPS_IPC_FIN] = {sizeof(struct ftps_ipc_fin), 0},
    [FTPS_IPC_RESET] = {sizeof(struct ftps_ipc_reset), 0},
    [FTPS_IPC_TAKEOVER] = {sizeof(struct ftps_ipc_takeover), FTPS_IPC_MAX_LEFTOVER},
    [FTPS_IPC_DONE] = {sizeof(struct ftps_ipc_done), 0},
};

static int addr_ok(const struct ftps_ipc_addr *a, int may_be_empty)
{
	if (a->pad[0] || a->pad[1] || a->pad[2])
		return 0;
	if (a->family == 0) {
		for (size_t i = 0; i < sizeof(a->bytes); i++)
			if (a->bytes[i])
				return 0;
		return may_be_empty;
	}
	if (a->family == FTPS_IPC_AF_INET) {
		for (size_t i = 4; i < sizeof(a->bytes); i++)
			if (a->bytes[i])
				return 0;
		return 1;
	}
	return a->family == FTPS_IPC_AF_INET6;
}

static int tls_dir_ok(const struct ftps_ipc_tls_dir *d, uint16_t version)
{
	if (d->key_len != 16 && d->key_len != 32)
		return 0;
	if (version == 0x0304 && (d->iv_len != 12 || (d->secret_len != 32 && d->secret_len != 48)))
		return 0;
	if (version == 0x0303 && ((d->iv_len != 4 && d->iv_len != 12) || d->secret_len != 0))
		return 0;
	return d->pad[0] == 0;
}

/* The AEAD suites the dataplane's record layer carries. */
static int suite_ok(uint16_t version, uint16_t suite)
{
	if (version == 0x0304)
		return suite == 0x1301 || suite == 0x1302 || suite == 0x1303;
	return suite == 0xC02B || suite == 0xC02F || suite == 0xC02C || suite == 0xC030 ||
	       suite == 0xCCA9 || suite == 0xCCA8;
}

static enum ftps_ipc_check fields_ok(const void *buf, size_t len, unsigned n_fds)
{
	const struct ftps_ipc_hdr *h = buf;
	unsigned expect_fds = h->type == FTPS_IPC_TAKEOVER ? 1 : 0;

	if (n_fds != expect_fds)
		return FTPS_IPC_ERR_FDS;
	switch (h->type) {
	case FTPS_IPC_HELLO: {
		const struct ftps_ipc_hello *m = buf;
		if (h->conn_id != 0 || memchr(m->name, 0, sizeof(m->name)) == NULL)
			return FTPS_IPC_ERR_FIELD;
		if (m->role == FTPS_IPC_ROLE_DATAPLANE)
			return (m->n_workers >= 1 && m->n_workers <= 1024 &&
			        m->worker_id < m->n_workers &&
			        m->initial_credit >= FTPS_IPC_MAX_DATA)
			           ? FTPS_IPC_OK
			           : FTPS_IPC_ERR_FIELD;
		if (m->role == FTPS_IPC_ROLE_CONTROL)
			return m->initial_credit >= FTPS_IPC_MAX_DATA ? FTPS_IPC_OK
			                                              : FTPS_IPC_ERR_FIELD;
		return FTPS_IPC_ERR_FIELD;
	}
	case FTPS_IPC_LISTEN: {
		const struct ftps_ipc_listen *m = buf;
		if (h->conn_id != 0 || m->listener_id == 0 || m->port == 0 ||
		    (m->flags & ~FTPS_IPC_LISTEN_PEER_ONLY) || !addr_ok(&m->local, 1))
			return FTPS_IPC_ERR_FIELD;
		if (!addr_ok(&m->peer, !(m->flags & FTPS_IPC_LISTEN_PEER_ONLY)))
			return FTPS_IPC_ERR_FIELD;
		return FTPS_IPC_OK;
	}
	case FTPS_IPC_LISTEN_RESULT: {
		const struct ftps_ipc_listen_result *m = buf;
		return h->conn_id == 0 && m->listener_id != 0 && m->status >= 0
		           ? FTPS_IPC_OK
		           : FTPS_IPC_ERR_FIELD;
	}
	case FTPS_IPC_UNLISTEN: {
		const struct ftps_ipc_unlisten *m = buf;
		return h->conn_id == 0 && m->listener_id != 0 && m->pad == 0 ? FTPS_IPC_OK
		                                                             : FTPS_IPC_ERR_FIELD;
	}
	case FTPS_IPC_CONN_OPENED: {
		const struct ftps_ipc_conn_opened *m = buf;
		if (h->conn_id == 0 || m->status < 0 || m->pad != 0)
			return FTPS_IPC_ERR_FIELD;
		if (m->listener_id != 0 && (h->conn_id & FTPS_IPC_CONNECT_ID_BIT))
			return FTPS_IPC_ERR_FIELD; /* accepted ids never use C's range */
		if (m->listener_id == 0 && !(h->conn_id & FTPS_IPC_CONNECT_ID_BIT))
			return FTPS_IPC_ERR_FIELD;
		if (m->status != 0)
			return FTPS_IPC_OK; /* failed CONNECT: addresses are not meaningful */
		return addr_ok(&m->local, 0) && addr_ok(&m->peer, 0) && m->peer_port != 0 &&
		               m->local_port != 0
		           ? FTPS_IPC_OK
		           : FTPS_IPC_ERR_FIELD;
	}
	case FTPS_IPC_CONNECT: {
		const struct ftps_ipc_connect *m = buf;
		return (h->conn_id & FTPS_IPC_CONNECT_ID_BIT) && m->peer_port != 0 && m->pad == 0 &&
		               addr_ok(&m->peer, 0) && addr_ok(&m->local, 1)
		           ? FTPS_IPC_OK
		           : FTPS_IPC_ERR_FIELD;
	}
	case FTPS_IPC_DATA:
		return h->conn_id != 0 && len > sizeof(struct ftps_ipc_data) ? FTPS_IPC_OK
		                                                             : FTPS_IPC_ERR_FIELD;
	case FTPS_IPC_CREDIT: {
		const struct ftps_ipc_credit *m = buf;
		return h->conn_id != 0 && m->bytes != 0 && m->bytes <= (1u << 30) && m->pad == 0
		           ? FTPS_IPC_OK
		           : FTPS_IPC_ERR_FIELD;
	}
	case FTPS_IPC_FIN:
	case FTPS_IPC_RESET:
		return h->conn_id != 0 ? FTPS_IPC_OK : FTPS_IPC_ERR_FIELD;
	case FTPS_IPC_TAKEOVER: {
		const struct ftps_ipc_takeover *m = buf;
		if (h->conn_id == 0 || (m->tls_version != 0x0303 && m->tls_version != 0x0304))
			return FTPS_IPC_ERR_FIELD;
		if (!suite_ok(m->tls_version, m->suite))
			return FTPS_IPC_ERR_FIELD;
		if (m->direction != FTPS_IPC_DIR_SEND_FILE &&
		    m->direction != FTPS_IPC_DIR_RECV_FILE)
			return FTPS_IPC_ERR_FIELD;
		if ((m->flags & ~FTPS_IPC_TAKEOVER_REQUIRE_CLOSE_NOTIFY) ||
		    m->file_offset > (UINT64_C(1) << 62) || m->leftover_len != len - sizeof(*m))
			return FTPS_IPC_ERR_FIELD;
		if (m->idle_timeout_s == 0 || m->idle_timeout_s > FTPS_IPC_MAX_IDLE_TIMEOUT ||
		    m->reserved != 0)
			return FTPS_IPC_ERR_FIELD;
		if (!tls_dir_ok(&m->rx, m->tls_version) || !tls_dir_ok(&m->tx, m->tls_version))
			return FTPS_IPC_ERR_FIELD;
		return FTPS_IPC_OK;
	}
	case FTPS_IPC_DONE: {
		const struct ftps_ipc_done *m = buf;
		return h->conn_id != 0 && m->status >= 0 && m->close_notify_seen <= 1 &&
		               m->end_ns >= m->start_ns
		           ? FTPS_IPC_OK
		           : FTPS_IPC_ERR_FIELD;
	}
	default:
		return FTPS_IPC_ERR_TYPE;
	}
}

enum ftps_ipc_check ftps_ipc_validate(const void *buf, size_t len, unsigned n_fds)
{
	struct ftps_ipc_hdr h;

	if (buf == NULL || len < sizeof(h))
		return FTPS_IPC_ERR_SHORT;
	/* The buffer may be unaligned (fuzzers): read the header by copy. */
	memcpy(&h, buf, sizeof(h));
	if (h.version != FTPS_IPC_VERSION)
		return FTPS_IPC_ERR_VERSION;
	if (h.type == 0 || h.type > FTPS_IPC_TYPE_MAX)
		return FTPS_IPC_ERR_TYPE;
	if (h.len != len)
		return FTPS_IPC_ERR_LEN;
	const struct size_rule *r = &size_rules[h.type];
	if (len < r->base || len - r->base > r->max_tail)
		return FTPS_IPC_ERR_LEN;
	/* Field checks read typed structs: require natural alignment, which
	 * every receive buffer in both processes has. */
	if (((uintptr_t)buf & 7u) != 0)
		return FTPS_IPC_ERR_SHORT;
	return fields_ok(buf, len, n_fds);
}

void ftps_ipc_addr_ipv4(struct ftps_ipc_addr *a, const uint8_t bytes[4])
{
	memset(a, 0, sizeof(*a));
	a->family = FTPS_IPC_AF_INET;
	memcpy(a->bytes, bytes, 4);
}

#define INIT(m, type, id)                                                                          \
	do {                                                                                       \
		memset((m), 0, sizeof(*(m)));                                                      \
		ftps_ipc_hdr_init(&(m)->hdr, (type), (uint32_t)sizeof(*(m)), (id));                \
	} while (0)

void ftps_ipc_init_hello(struct ftps_ipc_hello *m, enum ftps_ipc_role role, uint32_t worker_id,
                         uint32_t n_workers, const char *name)
{
	INIT(m, FTPS_IPC_HELLO, 0);
	m->role = (uint32_t)role;
	m->worker_id = worker_id;
	m->n_workers = n_workers;
	m->initial_credit = FTPS_IPC_INITIAL_CREDIT;
	if (name != NULL) {
		size_t n = strlen(name);
		if (n >= sizeof(m->name))
			n = sizeof(m->name) - 1;
		memcpy(m->name, name, n);
	}
}

void ftps_ipc_init_listen(struct ftps_ipc_listen *m, uint32_t listener_id, uint16_t port,
                          const struct ftps_ipc_addr *local, const struct ftps_ipc_addr *peer_only)
{
	INIT(m, FTPS_IPC_LISTEN, 0);
	m->listener_id = listener_id;
	m->port = port;
	if (local != NULL)
		m->local = *local;
	if (peer_only != NULL) {
		m->flags = FTPS_IPC_LISTEN_PEER_ONLY;
		m->peer = *peer_only;
	}
}

void ftps_ipc_init_listen_result(struct ftps_ipc_listen_result *m, uint32_t listener_id,
                                 int32_t status)
{
	INIT(m, FTPS_IPC_LISTEN_RESULT, 0);
	m->listener_id = listener_id;
	m->status = status;
}

void ftps_ipc_init_unlisten(struct ftps_ipc_unlisten *m, uint32_t listener_id)
{
	INIT(m, FTPS_IPC_UNLISTEN, 0);
	m->listener_id = listener_id;
}

void ftps_ipc_init_conn_opened(struct ftps_ipc_conn_opened *m, uint64_t conn_id,
                               uint32_t listener_id, int32_t status,
                               const struct ftps_ipc_addr *local, uint16_t local_port,
                               const struct ftps_ipc_addr *peer, uint16_t peer_port)
{
	INIT(m, FTPS_IPC_CONN_OPENED, conn_id);
	m->listener_id = listener_id;
	m->status = status;
	if (status == 0) {
		if (local != NULL)
			m->local = *local;
		if (peer != NULL)
			m->peer = *peer;
		m->local_port = local_port;
		m->peer_port = peer_port;
	}
}

void ftps_ipc_init_connect(struct ftps_ipc_connect *m, uint64_t conn_id,
                           const struct ftps_ipc_addr *peer, uint16_t peer_port)
{
	INIT(m, FTPS_IPC_CONNECT, conn_id);
	m->peer = *peer;
	m->peer_port = peer_port;
}

void ftps_ipc_init_credit(struct ftps_ipc_credit *m, uint64_t conn_id, uint32_t bytes)
{
	INIT(m, FTPS_IPC_CREDIT, conn_id);
	m->bytes = bytes;
}

void ftps_ipc_init_fin(struct ftps_ipc_fin *m, uint64_t conn_id)
{
	INIT(m, FTPS_IPC_FIN, conn_id);
}

void ftps_ipc_init_reset(struct ftps_ipc_reset *m, uint64_t conn_id, int32_t reason)
{
	INIT(m, FTPS_IPC_RESET, conn_id);
	m->reason = reason;
}

void ftps_ipc_init_done(struct ftps_ipc_done *m, uint64_t conn_id, int32_t status, uint64_t bytes,
                        bool close_notify_seen, uint64_t start_ns, uint64_t end_ns)
{
	INIT(m, FTPS_IPC_DONE, conn_id);
	m->status = status;
	m->bytes = bytes;
	m->close_notify_seen = close_notify_seen ? 1u : 0u;
	m->start_ns = start_ns;
	m->end_ns = end_ns;
}

size_t ftps_ipc_encode_data(void *out, size_t cap, uint64_t conn_id, const void *bytes, size_t n)
{
	size_t total = sizeof(struct ftps_ipc_data) + n;

	if (n == 0 || n > FTPS_IPC_MAX_DATA || total > cap || conn_id == 0)
		return 0;
	ftps_ipc_hdr_init(out, FTPS_IPC_DATA, (uint32_t)total, conn_id);
	memcpy((uint8_t *)out + sizeof(struct ftps_ipc_data), bytes, n);
	return total;
}

long ftps_ipc_send(int sock, const void *msg, size_t len, int fd)
{
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd >= 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n >= 0 && (size_t)n != len) {
			errno = EMSGSIZE;
			return -1;
		}
		return (long)n;
	}
}

long ftps_ipc_recv(int sock, void *buf, size_t cap, int *fd_out, unsigned *n_fds)
{
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} control;
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = control.buf,
	                    .msg_controllen = sizeof(control.buf)};
	ssize_t n;

	*fd_out = -1;
	*n_fds = 0;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*fd_out < 0 && *n_fds == 0)
				*fd_out = fd;
			else
				close(fd);
			(*n_fds)++;
		}
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
		if (*fd_out >= 0)
			close(*fd_out);
		*fd_out = -1;
		errno = EMSGSIZE;
		return -1;
	}
	return (long)n;
}
