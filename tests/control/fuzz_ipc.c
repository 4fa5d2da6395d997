/* libFuzzer target for the IPC receive path (control/ipc/ftps_ipc.c). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ftps_ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t buf[(FTPS_IPC_MAX_MSG + 64) / 8];

	if (size > sizeof(buf))
		size = sizeof(buf);
	memcpy(buf, data, size);
	/* try with the length the header claims, so deep checks get reached */
	if (size >= sizeof(struct ftps_ipc_hdr)) {
		struct ftps_ipc_hdr *h = (struct ftps_ipc_hdr *)buf;
		h->version = FTPS_IPC_VERSION;
		h->len = (uint32_t)size;
	}
	for (unsigned fds = 0; fds < 2; fds++) {
		enum ftps_ipc_check c = ftps_ipc_validate(buf, size, fds);
		if (ftps_ipc_check_str(c) == NULL)
			__builtin_trap();
	}
	(void)ftps_ipc_validate(data, size, 0); /* unaligned input must be refused safely */
	return 0;
}
