/* Error messages: the caller's words first, then OpenSSL's reason. */
#include <stdarg.h>
#include <string.h>

#include <openssl/err.h>

#include "ftps_x509.h"

int x509_fail(struct x509_error *err, const char *fmt, ...)
{
	if (err == NULL) {
		ERR_clear_error();
		return -1;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		err->msg[0] = '\0';
	/* The earliest error is the root cause; later ones are the call stack. */
	unsigned long code = ERR_peek_error();
	if (code != 0) {
		const char *reason = ERR_reason_error_string(code);
		size_t used = strlen(err->msg);
		if (reason != NULL && used + 4 < sizeof(err->msg))
			snprintf(err->msg + used, sizeof(err->msg) - used, " (%s)", reason);
	}
	ERR_clear_error();
	return -1;
}
