/* AEAD backend on DPDK cryptodev: not yet wired (see issue 4). */
#include "aead_backend.h"
#include "aead_cryptodev.h"

static bool cdev_available(void)
{
	return false;
}

static bool cdev_supports(enum aead_alg alg)
{
	(void)alg;
	return false;
}

static int cdev_key_init(struct aead_key *key)
{
	(void)key;
	return AEAD_ERR_UNSUPPORTED;
}

static void cdev_key_fini(struct aead_key *key)
{
	(void)key;
}

static void cdev_burst(struct aead_op *ops, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		ops[i].status = AEAD_ERR_UNSUPPORTED;
}

const struct aead_backend aead_backend_cryptodev = {
    .name = "cryptodev",
    .available = cdev_available,
    .supports = cdev_supports,
    .key_init = cdev_key_init,
    .key_fini = cdev_key_fini,
    .seal_burst = cdev_burst,
    .open_burst = cdev_burst,
};

int aead_cryptodev_setup(const char *pmd)
{
	(void)pmd;
	return -1;
}

int aead_cryptodev_test_eal(const char *pmd)
{
	(void)pmd;
	return -1;
}
