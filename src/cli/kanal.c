/* kanal: command-line client for Kanal (and any Kafka-compatible broker),
 * built on librdkafka. This file holds main() and subcommand dispatch. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "cli_int.h"

#ifndef KANAL_VERSION
#define KANAL_VERSION "0.0.0"
#endif

static void usage(FILE *f) {
    fprintf(f,
            "Usage: kanal [--bootstrap-server HOST:PORT] COMMAND [ARGS]\n"
            "\n"
            "Client tool for Kanal (works with any Kafka-compatible broker).\n"
            "\n"
            "Commands:\n"
            "  perf       load generator: perf produce | perf consume | perf e2e\n"
            "  help       show this help\n"
            "\n"
            "Options:\n"
            "  -b, --bootstrap-server LIST  brokers to contact (default $KANAL_BOOTSTRAP,\n"
            "                               else localhost:9092)\n"
            "  -h, --help                   show this help; `kanal COMMAND --help` for a command\n"
            "  -V, --version                show kanal's and librdkafka's versions\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"bootstrap-server", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    kn_cli_t cli;
    const char *env = getenv("KANAL_BOOTSTRAP");
    cli.bootstrap = (env && *env) ? env : "localhost:9092";

    int c;
    /* "+": stop at the subcommand; its options are its own. */
    while ((c = getopt_long(argc, argv, "+b:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'b': cli.bootstrap = optarg; break;
        case 'h': usage(stdout); return KN_CLI_OK;
        case 'V': printf("kanal %s (librdkafka %s)\n", KANAL_VERSION, rd_kafka_version_str()); return KN_CLI_OK;
        default: usage(stderr); return KN_CLI_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return KN_CLI_USAGE;
    }
    const char *cmd = argv[optind];
    if (!strcmp(cmd, "help")) {
        usage(stdout);
        return KN_CLI_OK;
    }
    if (!strcmp(cmd, "perf")) return kn_cli_perf_main(&cli, argc - optind, argv + optind);
    fprintf(stderr, "kanal: unknown command '%s'\n", cmd);
    usage(stderr);
    return KN_CLI_USAGE;
}
