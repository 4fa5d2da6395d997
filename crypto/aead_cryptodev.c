/* AEAD backend on a DPDK crypto device (RFC-free glue; DPDK 22.11 API).
 *
 * Two data paths, chosen from the device's feature flags:
 * - synchronous CPU crypto (rte_cryptodev_sym_cpu_crypto_process) for
 *   software PMDs that offer it (crypto_aesni_gcm, crypto_aesni_mb,
 *   crypto_chacha20_poly1305): the whole burst goes in one call per key;
 * - enqueue/dequeue of crypto ops (crypto_openssl, hardware PMDs, and ops a
 *   CPU-crypto PMD refuses, such as scatter-gather on crypto_aesni_mb): a
 *   single-segment destination is attached to an mbuf as an external
 *   buffer (no copy); a multi-segment one goes through a per-thread bounce
 *   buffer, because crypto_openssl mishandles chained mbufs.
 * Both paths work in place: the source is copied to the destination first
 * when they differ (these PMDs' CPU crypto is in place only). For a
 * hardware PMD the buffers must be DMA-able (DPDK memory) and IOVA mode VA.
 *
 * Sessions are made per key on demand, one per (direction, AAD length),
 * because a cryptodev session fixes both. Queue pair: lcore id modulo the
 * number configured, so each worker lcore uses its own.
 */
#include "aead_backend.h"
#include "aead_cryptodev.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <rte_bus_vdev.h>
#include <rte_crypto.h>
#include <rte_cryptodev.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#define NB_SESSIONS   8192
#define NB_CRYPTO_OPS 4096
#define NB_MBUFS      16384
#define NB_DESC       2048
#define MAX_QPS       16
#define BURST         32
#define IV_OFFSET     (sizeof(struct rte_crypto_op) + sizeof(struct rte_crypto_sym_op))
#define MAX_SESS      4
/* Behind the IV in each crypto op's private area: the aead_op it runs. */
#define OWNER_OFFSET (IV_OFFSET + 16)
#define EXT_SEG_MAX  32768 /* an mbuf's buf_len is 16 bits */
#define BOUNCE_LEN   EXT_SEG_MAX

static struct {
	bool ready;
	uint8_t dev_id;
	bool cpu_crypto;
	uint16_t nb_qps;
	struct rte_mempool *sess_pool, *op_pool, *mbuf_pool;
} cdev;

struct cdev_sess {
	void *sess;
	bool encrypt;
	uint16_t aad_len;
};

struct cdev_key {
	struct cdev_sess s[MAX_SESS];
	unsigned n;
};

static enum rte_crypto_aead_algorithm dpdk_alg(enum aead_alg alg)
{
	return alg == AEAD_CHACHA20_POLY1305 ? RTE_CRYPTO_AEAD_CHACHA20_POLY1305
	                                     : RTE_CRYPTO_AEAD_AES_GCM;
}

static bool cdev_available(void)
{
	return cdev.ready;
}

static bool cdev_supports(enum aead_alg alg)
{
	const struct rte_cryptodev_symmetric_capability *cap;
	struct rte_cryptodev_sym_capability_idx idx = {.type = RTE_CRYPTO_SYM_XFORM_AEAD};

	if (!cdev.ready || (unsigned)alg >= AEAD_ALG_COUNT)
		return false;
	idx.algo.aead = dpdk_alg(alg);
	cap = rte_cryptodev_sym_capability_get(cdev.dev_id, &idx);
	if (cap == NULL)
		return false;
	/* TLS uses 12-byte IVs, 16-byte tags and 5 or 13 bytes of AAD. */
	return rte_cryptodev_sym_capability_check_aead(cap, (uint16_t)aead_key_len(alg),
	                                               AEAD_TAG_LEN, 13, AEAD_NONCE_LEN) == 0 &&
	       rte_cryptodev_sym_capability_check_aead(cap, (uint16_t)aead_key_len(alg),
	                                               AEAD_TAG_LEN, 5, AEAD_NONCE_LEN) == 0;
}

static int cdev_key_init(struct aead_key *key)
{
	struct cdev_key *k;

	if (!cdev_supports(key->alg))
		return AEAD_ERR_UNSUPPORTED;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return AEAD_ERR_BACKEND;
	key->priv = k;
	return AEAD_OK;
}

static void cdev_key_fini(struct aead_key *key)
{
	struct cdev_key *k = key->priv;

	if (k == NULL)
		return;
	for (unsigned i = 0; i < k->n; i++)
		rte_cryptodev_sym_session_free(cdev.dev_id, k->s[i].sess);
	free(k);
	key->priv = NULL;
}

/* The session for this key, direction and AAD length, made on first use. */
static void *get_session(struct aead_key *key, bool encrypt, uint32_t aad_len)
{
	struct cdev_key *k = key->priv;
	struct rte_crypto_sym_xform x;

	for (unsigned i = 0; i < k->n; i++) {
		if (k->s[i].encrypt == encrypt && k->s[i].aad_len == aad_len)
			return k->s[i].sess;
	}
	if (k->n == MAX_SESS || aad_len > UINT16_MAX)
		return NULL;
	memset(&x, 0, sizeof(x));
	x.type = RTE_CRYPTO_SYM_XFORM_AEAD;
	x.aead.op = encrypt ? RTE_CRYPTO_AEAD_OP_ENCRYPT : RTE_CRYPTO_AEAD_OP_DECRYPT;
	x.aead.algo = dpdk_alg(key->alg);
	x.aead.key.data = key->key;
	x.aead.key.length = key->key_len;
	x.aead.iv.offset = IV_OFFSET;
	x.aead.iv.length = AEAD_NONCE_LEN;
	x.aead.digest_length = AEAD_TAG_LEN;
	x.aead.aad_length = (uint16_t)aad_len;
	void *s = rte_cryptodev_sym_session_create(cdev.dev_id, &x, cdev.sess_pool);
	if (s == NULL)
		return NULL;
	k->s[k->n].sess = s;
	k->s[k->n].encrypt = encrypt;
	k->s[k->n].aad_len = (uint16_t)aad_len;
	k->n++;
	return s;
}

/* These PMDs work in place: bring the source into the destination. */
static void copy_to_dst(const struct aead_op *op)
{
	struct aead_iov_pair it;
	const uint8_t *s;
	uint8_t *d;
	size_t n;

	aead_iov_pair_init(&it, op);
	while ((n = aead_iov_pair_next(&it, &s, &d)) > 0) {
		if (s != d)
			memmove(d, s, n);
	}
}

static rte_iova_t iova_of(const void *p)
{
	if (rte_eal_iova_mode() == RTE_IOVA_VA)
		return (rte_iova_t)(uintptr_t)p;
	return rte_mem_virt2iova(p);
}

static void fail_all(struct aead_op *ops, unsigned n, int status)
{
	for (unsigned i = 0; i < n; i++)
		ops[i].status = status;
}

static void queue_burst(struct aead_op *ops, unsigned n, bool encrypt);

/* Synchronous path: one call per run of ops that share a session. Ops the
 * PMD declines (ENOTSUP) go through the queue path instead. */
static void cpu_burst(struct aead_op *ops, unsigned n, bool encrypt)
{
	struct rte_crypto_vec vecs[BURST][AEAD_MAX_SEGS];
	struct rte_crypto_sgl sgl[BURST];
	struct rte_crypto_va_iova_ptr iv[BURST], digest[BURST], aad[BURST];
	int32_t status[BURST];
	struct rte_crypto_sym_vec sv;
	union rte_crypto_sym_ofs ofs = {.raw = 0};

	unsigned i = 0;
	while (i < n) {
		void *sess = get_session(ops[i].key, encrypt, ops[i].aad_len);
		unsigned j = i;

		if (sess == NULL) {
			ops[i].status = AEAD_ERR_BACKEND;
			i++;
			continue;
		}
		while (j < n && j - i < BURST && ops[j].key == ops[i].key &&
		       ops[j].aad_len == ops[i].aad_len) {
			struct aead_op *op = &ops[j];
			unsigned m = j - i;

			copy_to_dst(op);
			for (unsigned s = 0; s < op->dst_cnt; s++) {
				vecs[m][s].base = op->dst[s].iov_base;
				vecs[m][s].iova = iova_of(op->dst[s].iov_base);
				vecs[m][s].len = (uint32_t)op->dst[s].iov_len;
				vecs[m][s].tot_len = (uint32_t)op->dst[s].iov_len;
			}
			sgl[m].vec = vecs[m];
			sgl[m].num = op->dst_cnt;
			iv[m].va = op->nonce;
			iv[m].iova = iova_of(op->nonce);
			digest[m].va = op->tag;
			digest[m].iova = iova_of(op->tag);
			aad[m].va = (void *)op->aad;
			aad[m].iova = iova_of(op->aad);
			status[m] = 0;
			j++;
		}
		memset(&sv, 0, sizeof(sv));
		sv.num = j - i;
		sv.src_sgl = sgl;
		sv.iv = iv;
		sv.digest = digest;
		sv.aad = aad;
		sv.status = status;
		rte_cryptodev_sym_cpu_crypto_process(cdev.dev_id, sess, ofs, &sv);
		for (unsigned m = 0; m < sv.num; m++) {
			struct aead_op *op = &ops[i + m];

			if (status[m] == 0)
				op->status = AEAD_OK;
			else if (status[m] == ENOTSUP || status[m] == -ENOTSUP)
				queue_burst(op, 1, encrypt);
			else if (!encrypt && (status[m] == EBADMSG || status[m] == -EBADMSG))
				op->status = AEAD_ERR_AUTH;
			else
				op->status = AEAD_ERR_BACKEND;
		}
		i = j;
	}
}

static struct aead_op **owner(struct rte_crypto_op *c)
{
	return rte_crypto_op_ctod_offset(c, struct aead_op **, OWNER_OFFSET);
}

static void ext_free_noop(void *addr, void *opaque)
{
	(void)addr;
	(void)opaque;
}

/* One mbuf over the op's data: the destination itself when it is one
 * segment, else the bounce buffer holding a copy of it. */
static struct rte_mbuf *mbuf_over(const struct aead_op *op, struct rte_mbuf_ext_shared_info *sh,
                                  uint8_t *bounce)
{
	size_t len = aead_iov_len(op->dst, op->dst_cnt);
	uint8_t *base;
	struct rte_mbuf *m;

	if (len > BOUNCE_LEN)
		return NULL;
	if (op->dst_cnt == 1) {
		base = op->dst[0].iov_base;
	} else {
		size_t off = 0;

		for (unsigned s = 0; s < op->dst_cnt; s++) {
			memcpy(bounce + off, op->dst[s].iov_base, op->dst[s].iov_len);
			off += op->dst[s].iov_len;
		}
		base = bounce;
	}
	m = rte_pktmbuf_alloc(cdev.mbuf_pool);
	if (m == NULL)
		return NULL;
	if (len == 0)
		return m;
	memset(sh, 0, sizeof(*sh));
	sh->free_cb = ext_free_noop;
	rte_mbuf_ext_refcnt_set(sh, 1);
	rte_pktmbuf_attach_extbuf(m, base, iova_of(base), (uint16_t)len, sh);
	m->data_off = 0;
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	return m;
}

/* Copy a bounced result back into the op's segments. */
static void unbounce(const struct aead_op *op, const uint8_t *bounce)
{
	size_t off = 0;

	if (op->dst_cnt <= 1)
		return;
	for (unsigned s = 0; s < op->dst_cnt; s++) {
		memcpy(op->dst[s].iov_base, bounce + off, op->dst[s].iov_len);
		off += op->dst[s].iov_len;
	}
}

/* Enqueue/dequeue path, BURST ops at a time. */
static unsigned op_slot(const struct aead_op *op, const struct aead_op *first, unsigned m)
{
	ptrdiff_t d = op - first;

	return d >= 0 && (unsigned)d < m ? (unsigned)d : 0;
}

static void queue_burst(struct aead_op *ops, unsigned n, bool encrypt)
{
	static __thread struct rte_mbuf_ext_shared_info sh[BURST];
	static __thread uint8_t bounce[BURST][BOUNCE_LEN];
	struct rte_crypto_op *cops[BURST];
	unsigned lcore = rte_lcore_id();
	uint16_t qp = lcore == LCORE_ID_ANY ? 0 : (uint16_t)(lcore % cdev.nb_qps);

	for (unsigned base = 0; base < n; base += BURST) {
		unsigned m = n - base < BURST ? n - base : BURST;

		if (rte_crypto_op_bulk_alloc(cdev.op_pool, RTE_CRYPTO_OP_TYPE_SYMMETRIC, cops, m) !=
		    m) {
			fail_all(ops + base, m, AEAD_ERR_BACKEND);
			continue;
		}
		for (unsigned i = 0; i < m; i++) {
			struct aead_op *op = &ops[base + i];
			struct rte_crypto_op *c = cops[i];
			void *sess = get_session(op->key, encrypt, op->aad_len);
			struct rte_mbuf *mb;

			op->status = AEAD_ERR_BACKEND;
			*owner(c) = NULL;
			if (sess == NULL || rte_crypto_op_attach_sym_session(c, sess) != 0)
				continue;
			copy_to_dst(op);
			mb = mbuf_over(op, &sh[i], bounce[i]);
			if (mb == NULL)
				continue;
			memcpy(rte_crypto_op_ctod_offset(c, uint8_t *, IV_OFFSET), op->nonce,
			       AEAD_NONCE_LEN);
			c->sym->m_src = mb;
			c->sym->m_dst = NULL;
			c->sym->aead.data.offset = 0;
			c->sym->aead.data.length = mb->pkt_len;
			c->sym->aead.aad.data = (uint8_t *)op->aad;
			c->sym->aead.aad.phys_addr = iova_of(op->aad);
			c->sym->aead.digest.data = op->tag;
			c->sym->aead.digest.phys_addr = iova_of(op->tag);
			*owner(c) = op;
		}
		/* Put the prepared ops first; free the rest. */
		struct rte_crypto_op *go[BURST];
		unsigned k = 0;
		for (unsigned i = 0; i < m; i++) {
			if (*owner(cops[i]) != NULL)
				go[k++] = cops[i];
			else
				rte_crypto_op_free(cops[i]);
		}
		unsigned sent = 0, done = 0;
		while (done < k) {
			if (sent < k) {
				uint16_t e = rte_cryptodev_enqueue_burst(cdev.dev_id, qp, go + sent,
				                                         (uint16_t)(k - sent));
				/* A PMD that rejects an op takes none after it:
				 * fail that op rather than spin. */
				if (e == 0 && sent == done) {
					struct aead_op *op = *owner(go[sent]);

					op->status = AEAD_ERR_BACKEND;
					rte_pktmbuf_free(go[sent]->sym->m_src);
					rte_crypto_op_free(go[sent]);
					sent++;
					done++;
					continue;
				}
				sent += e;
			}
			struct rte_crypto_op *out[BURST];
			uint16_t got = rte_cryptodev_dequeue_burst(cdev.dev_id, qp, out, BURST);

			for (uint16_t g = 0; g < got; g++) {
				struct aead_op *op = *owner(out[g]);

				uint8_t *b = bounce[op_slot(op, ops + base, m)];

				if (out[g]->status == RTE_CRYPTO_OP_STATUS_SUCCESS) {
					op->status = AEAD_OK;
					unbounce(op, b);
				} else {
					op->status =
					    out[g]->status == RTE_CRYPTO_OP_STATUS_AUTH_FAILED
					        ? AEAD_ERR_AUTH
					        : AEAD_ERR_BACKEND;
					/* Unauthenticated plaintext stays nowhere. */
					if (op->dst_cnt > 1)
						memset(b, 0, aead_iov_len(op->dst, op->dst_cnt));
				}
				rte_pktmbuf_free(out[g]->sym->m_src);
				rte_crypto_op_free(out[g]);
			}
			done += got;
		}
	}
}

static void run(struct aead_op *ops, unsigned n, bool encrypt)
{
	if (cdev.cpu_crypto)
		cpu_burst(ops, n, encrypt);
	else
		queue_burst(ops, n, encrypt);
	if (!encrypt) {
		for (unsigned i = 0; i < n; i++) {
			if (ops[i].status != AEAD_OK)
				aead_iov_wipe(ops[i].dst, ops[i].dst_cnt);
		}
	}
}

static void cdev_seal_burst(struct aead_op *ops, unsigned n)
{
	run(ops, n, true);
}

static void cdev_open_burst(struct aead_op *ops, unsigned n)
{
	run(ops, n, false);
}

const struct aead_backend aead_backend_cryptodev = {
    .name = "cryptodev",
    .available = cdev_available,
    .supports = cdev_supports,
    .key_init = cdev_key_init,
    .key_fini = cdev_key_fini,
    .seal_burst = cdev_seal_burst,
    .open_burst = cdev_open_burst,
};

static int find_device(const char *pmd)
{
	struct rte_cryptodev_info info;
	char name[64];

	for (uint8_t i = 0; i < rte_cryptodev_count(); i++) {
		rte_cryptodev_info_get(i, &info);
		if (info.driver_name != NULL && strcmp(info.driver_name, pmd) == 0)
			return i;
	}
	/* A virtual device's name must start with its driver's name. */
	snprintf(name, sizeof(name), "%s_ftps", pmd);
	if (rte_vdev_init(name, NULL) != 0)
		return -1;
	return rte_cryptodev_get_dev_id(name);
}

int aead_cryptodev_setup(const char *pmd)
{
	struct rte_cryptodev_info info;
	struct rte_cryptodev_config conf;
	struct rte_cryptodev_qp_conf qp_conf;
	int id, socket;

	if (cdev.ready)
		return 0;
	if (pmd == NULL || rte_eal_process_type() == RTE_PROC_AUTO)
		return -1;
	id = find_device(pmd);
	if (id < 0) {
		fprintf(stderr, "cryptodev: no device for driver %s\n", pmd);
		return -1;
	}
	rte_cryptodev_info_get((uint8_t)id, &info);
	socket = rte_cryptodev_socket_id((uint8_t)id);
	if (socket < 0)
		socket = 0;
	memset(&conf, 0, sizeof(conf));
	conf.socket_id = socket;
	conf.nb_queue_pairs = info.max_nb_queue_pairs < MAX_QPS ? info.max_nb_queue_pairs : MAX_QPS;
	if (conf.nb_queue_pairs == 0)
		conf.nb_queue_pairs = 1;
	if (rte_cryptodev_configure((uint8_t)id, &conf) != 0) {
		fprintf(stderr, "cryptodev: configure %s failed\n", pmd);
		return -1;
	}
	cdev.sess_pool = rte_cryptodev_sym_session_pool_create(
	    "ftps_aead_sess", NB_SESSIONS, rte_cryptodev_sym_get_private_session_size((uint8_t)id),
	    64, 0, socket);
	cdev.op_pool = rte_crypto_op_pool_create("ftps_aead_ops", RTE_CRYPTO_OP_TYPE_SYMMETRIC,
	                                         NB_CRYPTO_OPS, 128, 16 + sizeof(void *), socket);
	cdev.mbuf_pool = rte_pktmbuf_pool_create("ftps_aead_mb", NB_MBUFS, 256, 0, 0, socket);
	if (cdev.sess_pool == NULL || cdev.op_pool == NULL || cdev.mbuf_pool == NULL) {
		fprintf(stderr, "cryptodev: cannot create pools\n");
		return -1;
	}
	memset(&qp_conf, 0, sizeof(qp_conf));
	qp_conf.nb_descriptors = NB_DESC;
	qp_conf.mp_session = cdev.sess_pool;
	for (uint16_t q = 0; q < conf.nb_queue_pairs; q++) {
		if (rte_cryptodev_queue_pair_setup((uint8_t)id, q, &qp_conf, socket) != 0) {
			fprintf(stderr, "cryptodev: queue pair %u setup failed\n", q);
			return -1;
		}
	}
	if (rte_cryptodev_start((uint8_t)id) != 0) {
		fprintf(stderr, "cryptodev: start failed\n");
		return -1;
	}
	cdev.dev_id = (uint8_t)id;
	cdev.nb_qps = (uint16_t)conf.nb_queue_pairs;
	cdev.cpu_crypto = (info.feature_flags & RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO) != 0 &&
	                  getenv("FTPS_CRYPTODEV_NO_CPU") == NULL;
	cdev.ready = true;
	return 0;
}

static char eal_prefix[64];

/* No rte_eal_cleanup() here: crypto_openssl unloads OpenSSL providers in
 * it, after OpenSSL's own exit handler has freed them. With --no-huge the
 * only trace left is the runtime folder, which is removed. */
static void eal_done(void)
{
	char path[384];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "/var/run/dpdk/%s", eal_prefix);
	d = opendir(path);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/var/run/dpdk/%s/%s", eal_prefix, e->d_name);
		unlink(path);
	}
	closedir(d);
	snprintf(path, sizeof(path), "/var/run/dpdk/%s", eal_prefix);
	rmdir(path);
}

int aead_cryptodev_test_eal(const char *pmd)
{
	char prefix_arg[96];
	char *argv[] = {"ftps-crypto", "--no-pci", "--no-huge",
	                "-m",          "512",      "-l",
	                "0",           prefix_arg, "--log-level=lib.eal:error",
	                NULL};

	/* OpenSSL first, so its exit handler runs after ours (crypto_openssl
	 * unloads providers during rte_eal_cleanup). */
	if (OPENSSL_init_crypto(0, NULL) != 1)
		return -1;
	snprintf(eal_prefix, sizeof(eal_prefix), "ftps-crypto-%d", (int)getpid());
	snprintf(prefix_arg, sizeof(prefix_arg), "--file-prefix=%s", eal_prefix);
	if (rte_eal_init(9, argv) < 0) {
		fprintf(stderr, "cryptodev: EAL init failed\n");
		return -1;
	}
	atexit(eal_done);
	return aead_cryptodev_setup(pmd);
}
