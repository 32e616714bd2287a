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
            "Usage: kanal [OPTIONS] COMMAND [ARGS]\n"
            "\n"
            "Client tool for Kanal (works with any Kafka-compatible broker).\n"
            "\n"
            "Commands:\n"
            "  topic      create | list | describe | delete | alter | add-partitions\n"
            "  produce    write records from stdin or files\n"
            "  consume    read records (from beginning/end/offset/time, with or without a group)\n"
            "  group      list | describe | reset-offsets | delete (consumer groups)\n"
            "  cluster    status (brokers, controller, under-replicated/offline partitions)\n"
            "  perf       load generator: perf produce | perf consume | perf e2e\n"
            "  help       show this help\n"
            "\n"
            "`kanal COMMAND --help` describes a command. Options may come before or after\n"
            "the command.\n"
            "\n" KN_CLI_COMMON_HELP "  -V, --version                kanal's and librdkafka's versions\n"
            "\n"
            "Exit codes: 0 ok, 1 failed, 2 bad usage, 3 cluster unreachable,\n"
            "4 topic/group not found, 5 cluster unhealthy (cluster status).\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        KN_CLI_LONGOPTS,
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    kn_cli_t cli;
    memset(&cli, 0, sizeof(cli));
    const char *env = getenv("KANAL_BOOTSTRAP");
    cli.bootstrap = (env && *env) ? env : "localhost:9092";
    cli.timeout_ms = 10000;
    cli.cmd = "";

    int c, rc = KN_CLI_OK;
    /* "+": stop at the subcommand; its options are its own. */
    while ((c = getopt_long(argc, argv, "+" KN_CLI_SHORTOPTS "V", opts, NULL)) != -1) {
        if (kn_cli_common_opt(&cli, c, optarg, &rc)) {
            if (rc) return rc;
            continue;
        }
        switch (c) {
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
    int sargc = argc - optind;
    char **sargv = argv + optind;
    optind = 0; /* glibc: full re-initialisation for the subcommand's getopt */
    if (!strcmp(cmd, "help")) {
        usage(stdout);
        rc = KN_CLI_OK;
    } else if (!strcmp(cmd, "perf")) {
        rc = kn_cli_perf_main(&cli, sargc, sargv);
    } else if (!strcmp(cmd, "topic") || !strcmp(cmd, "topics")) {
        rc = kn_cli_topic_main(&cli, sargc, sargv);
    } else if (!strcmp(cmd, "produce")) {
        rc = kn_cli_produce_main(&cli, sargc, sargv);
    } else if (!strcmp(cmd, "consume")) {
        rc = kn_cli_consume_main(&cli, sargc, sargv);
    } else if (!strcmp(cmd, "group") || !strcmp(cmd, "groups")) {
        rc = kn_cli_group_main(&cli, sargc, sargv);
    } else if (!strcmp(cmd, "cluster")) {
        rc = kn_cli_cluster_main(&cli, sargc, sargv);
    } else {
        fprintf(stderr, "kanal: unknown command '%s'\n", cmd);
        usage(stderr);
        rc = KN_CLI_USAGE;
    }
    free(cli.props);
    return rc;
}
