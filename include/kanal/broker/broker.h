#ifndef KANAL_BROKER_BROKER_H
#define KANAL_BROKER_BROKER_H
#include "kanal/broker/config.h"
/* Run a broker until SIGTERM/SIGINT or a fatal error. Returns the process
 * exit code. Loop thread = the calling thread. */
int kn_broker_run(kn_broker_config_t *cfg);
#endif
