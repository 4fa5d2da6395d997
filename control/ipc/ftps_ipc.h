/* The one contract between ftps-dataplane and ftps-control (issue 5).
 *
 * Transport: unix SOCK_SEQPACKET, one socket per dataplane worker. The
 * DATAPLANE listens; the control plane connects. Worker 0 listens on the
 * configured path (default /run/ftps/dataplane.sock); worker w >= 1 on
 * "<path>.<w>". Each side opens a link with HELLO; the dataplane's HELLO
 * names its worker id and the worker count, and the control plane then
 * connects to every other worker's path. Each link is independent: a
 * connection id is unique only within its link.
 *
 * One seqpacket message = one IPC message: a 16-byte header followed by a
 * fixed-size body (or, for DATA and the leftover bytes of TAKEOVER, a bounded
 * variable tail). No pointers, explicit padding, host byte order (both ends
 * run on the same host). The header carries the version; a receiver refuses
 * any other version. Every receiver validates with ftps_ipc_validate() before
 * use; a message that fails closes that link with a log line.
 *
 * Who sends what (D = dataplane, C = control):
 *   HELLO          D<->C  first message on a link, each direction
 *   LISTEN         C->D   listen on a port, optionally only for one peer
 *   LISTEN_RESULT  D->C   status of a LISTEN (0 or an errno value)
 *   UNLISTEN       C->D   stop listening; connections already open stay
 *   CONN_OPENED    D->C   an accepted connection (listener_id != 0), or the
 *                         result of CONNECT (listener_id == 0, status set)
 *   CONNECT        C->D   connect out; conn_id chosen by C with bit 63 set
 *   DATA           D<->C  stream bytes of one connection (<= FTPS_IPC_MAX_DATA)
 *   CREDIT         D<->C  the receiver consumed bytes: the sender may send
 *                         that many more
 *   FIN            D<->C  end of stream in the sender's direction
 *   RESET          D<->C  abort the connection (D: RST seen or sent)
 *   TAKEOVER       C->D   issue 6: the connection now carries TLS records
 *                         sealed/opened by the dataplane; file fd by
 *                         SCM_RIGHTS
 *   DONE           D->C   issue 6: takeover finished, with counts
 *
 * Flow control: each direction of each connection starts with
 * FTPS_IPC_INITIAL_CREDIT bytes of credit. A sender never sends DATA beyond
 * its remaining credit; the receiver returns credit with CREDIT once it has
 * consumed the bytes. A receiver that sees more DATA than it granted treats
 * it as a protocol violation (closes the link). So neither side queues more
 * than the window per connection; the dataplane shrinks its TCP receive
 * window when its credit toward control is exhausted.
 *
 * If the link drops, the dataplane resets every relayed connection of that
 * link, drops its listeners and waits for a new control plane; the control
 * plane ends its sessions on that link and reconnects periodically.
 */
#ifndef FTPS_IPC_H
#define FTPS_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FTPS_IPC_VERSION        2
#define FTPS_IPC_MAX_DATA       16384u
#define FTPS_IPC_INITIAL_CREDIT (256u * 1024u)
#define FTPS_IPC_MAX_LEFTOVER   (2u * 16384u + 1024u)
#define FTPS_IPC_CONNECT_ID_BIT (UINT64_C(1) << 63)
#define FTPS_IPC_DEFAULT_PATH   "/run/ftps/dataplane.sock"

enum ftps_ipc_type {
	FTPS_IPC_HELLO = 1,
	FTPS_IPC_LISTEN = 2,
	FTPS_IPC_LISTEN_RESULT = 3,
	FTPS_IPC_UNLISTEN = 4,
	FTPS_IPC_CONN_OPENED = 5,
	FTPS_IPC_CONNECT = 6,
	FTPS_IPC_DATA = 7,
	FTPS_IPC_CREDIT = 8,
	FTPS_IPC_FIN = 9,
	FTPS_IPC_RESET = 10,
	FTPS_IPC_TAKEOVER = 11,
	FTPS_IPC_DONE = 12,
	FTPS_IPC_TYPE_MAX = 12,
};

enum ftps_ipc_role { FTPS_IPC_ROLE_DATAPLANE = 1, FTPS_IPC_ROLE_CONTROL = 2 };

enum ftps_ipc_family { FTPS_IPC_AF_INET = 4, FTPS_IPC_AF_INET6 = 6 };

/* Addresses: IPv4 in the first 4 bytes, the rest zero. Ports host order. */
struct ftps_ipc_addr {
	uint8_t family; /* enum ftps_ipc_family */
	uint8_t pad[3];
	uint8_t bytes[16];
};

struct ftps_ipc_hdr {
	uint16_t type;    /* enum ftps_ipc_type */
	uint16_t version; /* FTPS_IPC_VERSION */
	uint32_t len;     /* whole message including this header */
	uint64_t conn_id; /* 0 when the message is about the link or a listener */
};

struct ftps_ipc_hello {
	struct ftps_ipc_hdr hdr;
	uint32_t role;      /* enum ftps_ipc_role */
	uint32_t worker_id; /* dataplane: this link's worker; control: 0 */
	uint32_t n_workers; /* dataplane: worker count (>= 1); control: 0 */
	uint32_t initial_credit;
	char name[32]; /* NUL-terminated software name, for logs */
};

#define FTPS_IPC_LISTEN_PEER_ONLY 1u /* accept only from peer (address) */

struct ftps_ipc_listen {
	struct ftps_ipc_hdr hdr;
	uint32_t listener_id;       /* chosen by control, != 0 */
	uint16_t port;              /* != 0 */
	uint16_t flags;             /* FTPS_IPC_LISTEN_* */
	struct ftps_ipc_addr local; /* family 0 = any address */
	struct ftps_ipc_addr peer;  /* used with FTPS_IPC_LISTEN_PEER_ONLY */
};

struct ftps_ipc_listen_result {
	struct ftps_ipc_hdr hdr;
	uint32_t listener_id;
	int32_t status; /* 0 or errno (EADDRINUSE, ...) */
};

struct ftps_ipc_unlisten {
	struct ftps_ipc_hdr hdr;
	uint32_t listener_id;
	uint32_t pad;
};

struct ftps_ipc_conn_opened {
	struct ftps_ipc_hdr hdr; /* conn_id: D's id, or C's CONNECT id */
	uint32_t listener_id;    /* 0 for a CONNECT result */
	int32_t status;          /* 0 or errno for a failed CONNECT */
	uint16_t local_port;
	uint16_t peer_port;
	uint32_t pad;
	struct ftps_ipc_addr local;
	struct ftps_ipc_addr peer;
};

struct ftps_ipc_connect {
	struct ftps_ipc_hdr hdr; /* conn_id has FTPS_IPC_CONNECT_ID_BIT set */
	uint16_t peer_port;      /* != 0 */
	uint16_t local_port;     /* 0 = any */
	uint32_t pad;
	struct ftps_ipc_addr local; /* family 0 = the dataplane picks */
	struct ftps_ipc_addr peer;
};

/* DATA: header then 1..FTPS_IPC_MAX_DATA payload bytes. */
struct ftps_ipc_data {
	struct ftps_ipc_hdr hdr;
	uint8_t bytes[];
};

struct ftps_ipc_credit {
	struct ftps_ipc_hdr hdr;
	uint32_t bytes; /* 1..FTPS_IPC_INITIAL_CREDIT */
	uint32_t pad;
};

struct ftps_ipc_fin {
	struct ftps_ipc_hdr hdr;
};

struct ftps_ipc_reset {
	struct ftps_ipc_hdr hdr;
	int32_t reason; /* errno-style, informative */
	uint32_t pad;
};

enum ftps_ipc_direction { FTPS_IPC_DIR_SEND_FILE = 1, FTPS_IPC_DIR_RECV_FILE = 2 };

#define FTPS_IPC_TAKEOVER_REQUIRE_CLOSE_NOTIFY 1u
#define FTPS_IPC_MAX_IDLE_TIMEOUT              86400u

/* One direction of TLS record protection, as crypto/tls_import exports it. */
struct ftps_ipc_tls_dir {
	uint8_t key[32];
	uint8_t iv[12];     /* TLS 1.3 / ChaCha20: static IV; TLS 1.2 AES-GCM: 4-byte salt */
	uint8_t secret[48]; /* TLS 1.3 traffic secret (for KeyUpdate); zero for 1.2 */
	uint8_t key_len;    /* 16 or 32 */
	uint8_t iv_len;     /* 12, or 4 for TLS 1.2 AES-GCM */
	uint8_t secret_len; /* 32 or 48 for TLS 1.3, 0 for 1.2 */
	uint8_t pad[1];
	uint64_t seq; /* next record's sequence number */
};

/* TAKEOVER: exactly one fd attached with SCM_RIGHTS (the open file); then
 * leftover_len bytes of record data that arrived after the handshake. */
struct ftps_ipc_takeover {
	struct ftps_ipc_hdr hdr;
	uint16_t tls_version; /* 0x0303 or 0x0304 */
	uint16_t suite;       /* IANA cipher suite (AEAD suites only) */
	uint32_t direction;   /* enum ftps_ipc_direction */
	uint64_t file_offset;
	uint64_t byte_limit; /* 0 = until EOF (send) or the peer's end (recv) */
	/* Stream bytes the control plane has received on this connection; the
	 * dataplane replays any it sent beyond that (DATA still in flight when
	 * it got the TAKEOVER), so nothing is lost in the handover. */
	uint64_t bytes_seen;
	uint32_t flags; /* FTPS_IPC_TAKEOVER_* */
	uint32_t leftover_len;
	/* Seconds without progress after which the dataplane fails the
	 * transfer (ETIMEDOUT): the control plane's [limits] data_timeout,
	 * 1..FTPS_IPC_MAX_IDLE_TIMEOUT. */
	uint32_t idle_timeout_s;
	uint32_t reserved; /* 0 */
	struct ftps_ipc_tls_dir rx;
	struct ftps_ipc_tls_dir tx;
	uint8_t leftover[];
};

struct ftps_ipc_done {
	struct ftps_ipc_hdr hdr;
	int32_t status; /* 0 = complete, else errno-style reason */
	uint32_t close_notify_seen;
	uint64_t bytes;
	uint64_t start_ns; /* CLOCK_MONOTONIC */
	uint64_t end_ns;
};

/* Exact sizes are part of the contract. */
_Static_assert(sizeof(struct ftps_ipc_addr) == 20, "addr");
_Static_assert(sizeof(struct ftps_ipc_hdr) == 16, "hdr");
_Static_assert(sizeof(struct ftps_ipc_hello) == 64, "hello");
_Static_assert(sizeof(struct ftps_ipc_listen) == 64, "listen");
_Static_assert(sizeof(struct ftps_ipc_listen_result) == 24, "listen_result");
_Static_assert(sizeof(struct ftps_ipc_unlisten) == 24, "unlisten");
_Static_assert(sizeof(struct ftps_ipc_conn_opened) == 72, "conn_opened");
_Static_assert(sizeof(struct ftps_ipc_connect) == 64, "connect");
_Static_assert(sizeof(struct ftps_ipc_data) == 16, "data");
_Static_assert(sizeof(struct ftps_ipc_credit) == 24, "credit");
_Static_assert(sizeof(struct ftps_ipc_fin) == 16, "fin");
_Static_assert(sizeof(struct ftps_ipc_reset) == 24, "reset");
_Static_assert(sizeof(struct ftps_ipc_tls_dir) == 104, "tls_dir");
_Static_assert(sizeof(struct ftps_ipc_takeover) == 272, "takeover");
_Static_assert(sizeof(struct ftps_ipc_done) == 48, "done");

#define FTPS_IPC_MAX_MSG (sizeof(struct ftps_ipc_takeover) + FTPS_IPC_MAX_LEFTOVER)

enum ftps_ipc_check {
	FTPS_IPC_OK = 0,
	FTPS_IPC_ERR_SHORT,
	FTPS_IPC_ERR_LEN,
	FTPS_IPC_ERR_VERSION,
	FTPS_IPC_ERR_TYPE,
	FTPS_IPC_ERR_FIELD,
	FTPS_IPC_ERR_FDS,
};

/* Check one received message: header, exact size for its type, then field
 * meaning (ranges, NUL termination, id rules). n_fds is how many descriptors
 * arrived with it (only TAKEOVER carries one). Returns FTPS_IPC_OK or the
 * reason; never reads outside buf[0..len). */
enum ftps_ipc_check ftps_ipc_validate(const void *buf, size_t len, unsigned n_fds);
const char *ftps_ipc_check_str(enum ftps_ipc_check c);
const char *ftps_ipc_type_str(unsigned type);

/* Fill a header (type, version, len, conn_id). */
void ftps_ipc_hdr_init(struct ftps_ipc_hdr *h, enum ftps_ipc_type type, uint32_t len,
                       uint64_t conn_id);

/* Builders: zero the whole struct (padding included), fill header and
 * fields; each result passes ftps_ipc_validate. addr arguments may be NULL
 * (family 0 = any). */
void ftps_ipc_init_hello(struct ftps_ipc_hello *m, enum ftps_ipc_role role, uint32_t worker_id,
                         uint32_t n_workers, const char *name);
void ftps_ipc_init_listen(struct ftps_ipc_listen *m, uint32_t listener_id, uint16_t port,
                          const struct ftps_ipc_addr *local, const struct ftps_ipc_addr *peer_only);
void ftps_ipc_init_listen_result(struct ftps_ipc_listen_result *m, uint32_t listener_id,
                                 int32_t status);
void ftps_ipc_init_unlisten(struct ftps_ipc_unlisten *m, uint32_t listener_id);
void ftps_ipc_init_conn_opened(struct ftps_ipc_conn_opened *m, uint64_t conn_id,
                               uint32_t listener_id, int32_t status,
                               const struct ftps_ipc_addr *local, uint16_t local_port,
                               const struct ftps_ipc_addr *peer, uint16_t peer_port);
void ftps_ipc_init_connect(struct ftps_ipc_connect *m, uint64_t conn_id,
                           const struct ftps_ipc_addr *peer, uint16_t peer_port);
void ftps_ipc_init_credit(struct ftps_ipc_credit *m, uint64_t conn_id, uint32_t bytes);
void ftps_ipc_init_fin(struct ftps_ipc_fin *m, uint64_t conn_id);
void ftps_ipc_init_reset(struct ftps_ipc_reset *m, uint64_t conn_id, int32_t reason);
void ftps_ipc_init_done(struct ftps_ipc_done *m, uint64_t conn_id, int32_t status, uint64_t bytes,
                        bool close_notify_seen, uint64_t start_ns, uint64_t end_ns);
/* IPv4 address (network byte order bytes) into the wire form. */
void ftps_ipc_addr_ipv4(struct ftps_ipc_addr *a, const uint8_t bytes[4]);

/* Encode a DATA message into out (capacity cap); returns its length or 0 if
 * n is 0, too large or does not fit. */
size_t ftps_ipc_encode_data(void *out, size_t cap, uint64_t conn_id, const void *bytes, size_t n);

/* Send one message (with an optional fd) / receive one message (with at most
 * one fd; extra fds are closed and make the result an error). Return the
 * length, 0 on orderly close, -1 with errno on error (receive never blocks:
 * EAGAIN when nothing is queued; send on a non-blocking socket: EAGAIN when a
 * non-blocking socket would block; EMSGSIZE for a truncated message). */
long ftps_ipc_send(int sock, const void *msg, size_t len, int fd);
long ftps_ipc_recv(int sock, void *buf, size_t cap, int *fd_out, unsigned *n_fds);

#endif
