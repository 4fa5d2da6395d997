/* Counters and state exposed through DPDK telemetry (dpdk-telemetry.py). */
#ifndef FTPS_TELEMETRY_H
#define FTPS_TELEMETRY_H

#include "net/port.h"
#include "worker.h"
#include "config.h"

void dataplane_telemetry_register(struct worker *workers, unsigned int worker_count,
                                  const struct port_info *port,
                                  const struct dataplane_config *config);

#endif
