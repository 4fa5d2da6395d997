/* Telemetry for the TCP stacks of a process: /ftps/tcp/counters sums every
 * lcore's counters (read while the lcores run: each is an aligned 64-bit
 * load, so a value may be stale, never torn); /ftps/tcp/descriptions says
 * what each counter means. */
#include <errno.h>

#include <rte_telemetry.h>

#include "tcp_internal.h"

#define TCP_TELEMETRY_MAX_STACKS 128

static struct tcp_stack *registered[TCP_TELEMETRY_MAX_STACKS];
static unsigned int registered_count;

static int counters_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	uint64_t conns = 0, time_wait = 0;
	for (unsigned int k = 0; k < TCP_COUNTER_COUNT; k++) {
		uint64_t v = 0;
		for (unsigned int i = 0; i < registered_count; i++)
			v += __atomic_load_n(&registered[i]->counters[k], __ATOMIC_RELAXED);
		rte_tel_data_add_dict_u64(d, tcp_counter_names[k], v);
	}
	for (unsigned int i = 0; i < registered_count; i++) {
		conns += __atomic_load_n(&registered[i]->conn_count, __ATOMIC_RELAXED);
		time_wait += __atomic_load_n(&registered[i]->time_wait_count, __ATOMIC_RELAXED);
	}
	rte_tel_data_add_dict_u64(d, "connections", conns);
	rte_tel_data_add_dict_u64(d, "time_wait", time_wait);
	return 0;
}

static int descriptions_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	for (unsigned int k = 0; k < TCP_COUNTER_COUNT; k++)
		rte_tel_data_add_dict_string(d, tcp_counter_names[k], tcp_counter_descriptions[k]);
	return 0;
}

int tcp_telemetry_register(struct tcp_stack *const *stacks, unsigned int count)
{
	if (registered_count != 0)
		return -EALREADY;
	if (count == 0 || count > TCP_TELEMETRY_MAX_STACKS)
		return -EINVAL;
	for (unsigned int i = 0; i < count; i++)
		registered[i] = stacks[i];
	registered_count = count;
	if (rte_telemetry_register_cmd("/ftps/tcp/counters", counters_cb,
	                               "TCP counters summed over lcores. No parameters") != 0 ||
	    rte_telemetry_register_cmd("/ftps/tcp/descriptions", descriptions_cb,
	                               "What each TCP counter counts. No parameters") != 0)
		return -EINVAL;
	return 0;
}
