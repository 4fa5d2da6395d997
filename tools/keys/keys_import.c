/* import: install a CA's reply only after every check passes. */
#include <stdlib.h>
#include <string.h>

#include "keys.h"

/* Append all certificates of src to dst, taking ownership of them. */
static int append_certs(STACK_OF(X509) * dst, STACK_OF(X509) * src)
{
	while (sk_X509_num(src) > 0) {
		X509 *x = sk_X509_shift(src);
		if (!sk_X509_push(dst, x)) {
			X509_free(x);
			return -1;
		}
	}
	return 0;
}

int keys_cmd_import(struct keys_opts *o)
{
	if (o->key == NULL || o->cert == NULL || o->root == NULL || o->out == NULL ||
	    o->argc != 0) {
		keys_error("import needs --key KEY --cert REPLY --root ROOT -o INSTALLED "
		           "[--chain CHAIN]");
		return KEYS_EXIT_USAGE;
	}
	struct x509_error err;
	int rc = KEYS_EXIT_FAIL;
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *roots = NULL, *extra = NULL;
	X509 *leaf = NULL;
	/* The reply may hold the leaf alone or the leaf followed by its chain. */
	STACK_OF(X509) *chain = x509_certs_load(o->cert, &err);
	if (chain == NULL) {
		keys_error("%s", err.msg);
		goto out;
	}
	if (o->chain != NULL) {
		extra = x509_certs_load(o->chain, &err);
		if (extra == NULL || append_certs(chain, extra) != 0) {
			keys_error("%s", extra ? "out of memory" : err.msg);
			goto out;
		}
	}
	roots = x509_certs_load(o->root, &err);
	if (roots == NULL) {
		keys_error("%s", err.msg);
		goto out;
	}
	leaf = sk_X509_shift(chain);
	key = keys_load_key(o, o->key);
	if (key == NULL)
		goto out;
	if (x509_check_key_match(leaf, key, &err) != 0 || x509_check_current(leaf, &err) != 0 ||
	    x509_check_chain(leaf, chain, roots, X509_PURPOSE_SSL_SERVER, &err) != 0) {
		keys_error("%s; nothing installed", err.msg);
		goto out;
	}
	/* Install leaf first, then intermediates: the order TLS servers send. */
	int n = 1 + sk_X509_num(chain);
	X509 **all = calloc((size_t)n, sizeof(*all));
	if (all == NULL) {
		keys_error("out of memory");
		goto out;
	}
	all[0] = leaf;
	for (int i = 1; i < n; i++)
		all[i] = sk_X509_value(chain, i - 1);
	rc = keys_write_cert(o->out, all, n);
	free(all);
	if (rc == KEYS_EXIT_OK) {
		printf("installed %s (certificate + %d chain certificate%s), verified against "
		       "%s\n",
		       o->out, n - 1, n == 2 ? "" : "s", o->root);
		x509_print_cert(stdout, leaf, "  ");
	}
out:
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(extra, X509_free);
	sk_X509_pop_free(roots, X509_free);
	EVP_PKEY_free(key);
	return rc;
}
