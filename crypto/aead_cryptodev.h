/* DPDK cryptodev as an AEAD backend ("cryptodev"). The process owns EAL;
 * this backend uses one crypto device, set up once by
 * aead_cryptodev_setup() before any key is created on it. */
#ifndef FTPS_CRYPTO_AEAD_CRYPTODEV_H
#define FTPS_CRYPTO_AEAD_CRYPTODEV_H

/* Use the crypto PMD named pmd ("crypto_aesni_gcm", "crypto_aesni_mb",
 * "crypto_openssl", or a hardware device's name): an existing device of
 * that driver is taken, else a virtual one is created. EAL must be up.
 * Returns 0, or -1 with a message on stderr. */
int aead_cryptodev_setup(const char *pmd);

/* For tests and benchmarks only: start EAL with --no-pci --no-huge -m 512
 * --in-memory and a private file prefix, then aead_cryptodev_setup(pmd). */
int aead_cryptodev_test_eal(const char *pmd);

#endif
