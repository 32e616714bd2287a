/* kanald: the Kanal broker daemon. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kanal/broker/broker.h"
#include "kanal/broker/config.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"

#ifndef KANAL_VERSION
#define KANAL_VERSION "0.0.0"
#endif

static void usage(FILE *f) {
    fprintf(f,
            "Usage: kanald --config FILE [--override key=value ...]\n"
            "\n"
            "Kanal broker: serves the Kafka protocol, stores partitions as segment files,\n"
            "registers in ZooKeeper.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE          broker config in Kafka's key=value format\n"
            "                             (see conf/kanald.properties, docs/configuration.md)\n"
            "  -o, --override KEY=VALUE   set a config key after the file (repeatable)\n"
            "      --check                validate the configuration and exit\n"
            "  -h, --help                 show this help\n"
            "  -V, --version              show the version\n"
            "\n"
            "Signals: SIGTERM or SIGINT shut down cleanly (flush, clean-shutdown marker,\n"
            "deregister from ZooKeeper).\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"override", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, 'V'},
        {"check", no_argument, NULL, 'k'},        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    const char **overrides = kn_calloc((size_t)argc + 1, sizeof(char *));
    size_t noverrides = 0;
    int check_only = 0;
    int c;
    while ((c = getopt_long(argc, argv, "c:o:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'o': overrides[noverrides++] = optarg; break;
        case 'h': usage(stdout); kn_free(overrides); return 0;
        case 'V': printf("kanald %s\n", KANAL_VERSION); kn_free(overrides); return 0;
        case 'k': check_only = 1; break;
        default: usage(stderr); kn_free(overrides); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kanald: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        kn_free(overrides);
        return 2;
    }
    if (!config && noverrides == 0) {
        fprintf(stderr, "kanald: --config FILE is required\n");
        usage(stderr);
        kn_free(overrides);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    kn_broker_config_t cfg;
    char err[512];
    if (kn_broker_config_load(&cfg, config, overrides, noverrides, err, sizeof(err)) != 0) {
        fprintf(stderr, "kanald: configuration error: %s\n", err);
        kn_free(overrides);
        return 2;
    }
    kn_free(overrides);
    if (cfg.log_level) {
        if (!strcmp(cfg.log_level, "debug")) kn_log_min_level = KN_LOG_DEBUG;
        else if (!strcmp(cfg.log_level, "warn")) kn_log_min_level = KN_LOG_WARN;
        else if (!strcmp(cfg.log_level, "error")) kn_log_min_level = KN_LOG_ERROR;
    }
    if (cfg.log_debug && *cfg.log_debug) kn_log_parse_debug(cfg.log_debug, &kn_log_debug_mask);
    if (check_only) {
        printf("configuration OK\n");
        kn_broker_config_free(&cfg);
        return 0;
    }
    kn_log_set_broker(cfg.broker_id);
    kn_log(KN_LOG_INFO, NULL, "kanald %s starting (config %s)", KANAL_VERSION, config ? config : "(none)");
    int rc = kn_broker_run(&cfg);
    kn_broker_config_free(&cfg);
    return rc;
}
