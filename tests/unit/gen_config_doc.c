/* Prints docs/configuration.md from the broker config tables (run by the
 * gen-config-doc target and the config_doc_up_to_date test). */
#include <stdio.h>

#include "kanal/broker/config.h"

int main(void) {
    kn_broker_config_write_markdown(stdout);
    return fflush(stdout) == 0 ? 0 : 1;
}
