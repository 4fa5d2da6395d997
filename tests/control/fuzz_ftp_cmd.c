/* libFuzzer target for the FTP command path: line framing, parsing and
 * reply formatting of whatever a client sends (control/ftp_cmd.c). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ftp_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	char line[600], reply[1400];
	size_t off = 0;

	while (off < size) {
		size_t len = 0, used = 0;
		enum ftp_line_result r = ftp_line_next(buf + off, size - off, 512, &len, &used);
		if (r == FTP_LINE_INCOMPLETE)
			break;
		if (used == 0 || used > size - off)
			__builtin_trap(); /* framing must always make progress */
		if (r == FTP_LINE_OK) {
			struct ftp_request req;
			if (len > 512)
				__builtin_trap();
			memcpy(line, buf + off, len);
			line[len] = '\0';
			if (ftp_parse_line(line, len, &req) == FTP_PARSE_OK) {
				if (req.def == NULL || req.arg == NULL)
					__builtin_trap();
				(void)ftp_reply_format(reply, sizeof(reply), 550, req.arg);
			}
		}
		off += used;
	}
	/* Replies from arbitrary text never overflow and always end in CR LF. */
	char text[700];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, data, n);
	text[n] = '\0';
	size_t out = ftp_reply_format(reply, sizeof(reply), 211, text);
	if (out != 0 && (out < 6 || reply[out - 1] != '\n' || reply[out - 2] != '\r'))
		__builtin_trap();
	return 0;
}
