/* Shared between the `kanal` tool's source files (src/cli only). */
#ifndef KANAL_CLI_INT_H
#define KANAL_CLI_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

/* Exit codes of every subcommand (docs/cli.md lists them; scripts rely on
 * them, so a code never changes meaning). */
enum {
    KN_CLI_OK = 0,          /* did what was asked */
    KN_CLI_FAIL = 1,        /* ran, but the result is wrong (errors, fewer records, timeout) */
    KN_CLI_USAGE = 2,       /* bad command line */
    KN_CLI_UNREACHABLE = 3, /* no broker answered within --timeout */
    KN_CLI_NOT_FOUND = 4,   /* a named topic or group does not exist */
    KN_CLI_UNHEALTHY = 5,   /* cluster status: under-replicated/offline partitions, brokers missing */
};

typedef struct kn_cli_s {
    /* --bootstrap-server, else $KANAL_BOOTSTRAP, else "localhost:9092". Borrowed. */
    const char *bootstrap;
    int timeout_ms;      /* --timeout: bound on reaching the cluster and on each admin call */
    bool json;           /* --output json */
    int verbose;         /* -v: librdkafka's log lines to stderr */
    const char **props;  /* -X key=value, borrowed from argv */
    int nprops;
    const char *cmd;     /* "topic create", for messages */
} kn_cli_t;

/* Options every subcommand accepts (after or before the subcommand). Put
 * KN_CLI_LONGOPTS in a getopt_long table and KN_CLI_SHORTOPTS in its
 * optstring, then hand unknown option characters to kn_cli_common_opt. */
enum { KN_OPT_OUTPUT = 0x100, KN_OPT_TIMEOUT, KN_OPT_JSON, KN_OPT__LAST };
#define KN_CLI_SHORTOPTS "b:X:vh"
#define KN_CLI_LONGOPTS                                                                                            \
    {"bootstrap-server", required_argument, NULL, 'b'}, {"output", required_argument, NULL, KN_OPT_OUTPUT},       \
        {"timeout", required_argument, NULL, KN_OPT_TIMEOUT}, {"json", no_argument, NULL, KN_OPT_JSON},          \
        {"help", no_argument, NULL, 'h'}, {"verbose", no_argument, NULL, 'v'},                                   \
    {                                                                                                              \
        "property", required_argument, NULL, 'X'                                                                   \
    }
#define KN_CLI_COMMON_HELP                                                                                         \
    "Common options:\n"                                                                                            \
    "  -b, --bootstrap-server LIST  brokers (default $KANAL_BOOTSTRAP, else localhost:9092)\n"                    \
    "      --output text|json       output format (--json = --output json)\n"                                    \
    "      --timeout MS             bound on reaching the cluster and on each request (default 10000)\n"          \
    "  -X, --property KEY=VALUE     librdkafka client property (repeatable)\n"                                   \
    "  -v, --verbose                librdkafka log lines on stderr\n"                                            \
    "  -h, --help                   this help\n"

/* Handles a common option: 1 if c was one (or an error was printed and *rc
 * set to KN_CLI_USAGE), 0 if c is not a common option. 'h' is not handled. */
int kn_cli_common_opt(kn_cli_t *cli, int c, const char *arg, int *rc);

/* Messages: "kanal <cmd>: ..." on stderr. */
void kn_cli_err(const kn_cli_t *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A client handle with bootstrap.servers, client.id, an error callback that
 * remembers the last transport error, quiet logging, then conf's settings
 * (may be NULL; consumed), then -X. NULL after printing why. */
rd_kafka_t *kn_cli_client(kn_cli_t *cli, rd_kafka_type_t type, rd_kafka_conf_t *conf);
/* Set a property on conf; prints the error. 0 or -1. */
int kn_cli_conf_set(const kn_cli_t *cli, rd_kafka_conf_t *conf, const char *k, const char *v);

/* Ask for metadata (all topics if all_topics, else none) within the
 * timeout. KN_CLI_OK with *md set (caller frees with rd_kafka_metadata_destroy),
 * or KN_CLI_UNREACHABLE after printing a message naming the bootstrap list and
 * the last connection error. Fails early once every broker refused. */
int kn_cli_metadata(kn_cli_t *cli, rd_kafka_t *rk, bool all_topics, rd_kafka_topic_t *only,
                    const struct rd_kafka_metadata **md);

/* Waits (within the timeout) until a controller is known: CreateTopics,
 * DeleteTopics and CreatePartitions go to it. KN_CLI_OK or KN_CLI_FAIL. */
int kn_cli_wait_controller(kn_cli_t *cli, rd_kafka_t *rk);

/* Admin call plumbing: options with the request timeout set, and waiting for
 * the result event (NULL after printing a timeout message). */
rd_kafka_AdminOptions_t *kn_cli_admin_options(kn_cli_t *cli, rd_kafka_t *rk, rd_kafka_admin_op_t op);
rd_kafka_event_t *kn_cli_admin_wait(kn_cli_t *cli, rd_kafka_queue_t *q, const char *what);

/* The topic's metadata entry or NULL. */
const struct rd_kafka_metadata_topic *kn_cli_md_topic(const struct rd_kafka_metadata *md, const char *name);

/* JSON string literal (escaped) to f; NULL writes null. */
void kn_cli_json_str(FILE *f, const char *s);
void kn_cli_json_strn(FILE *f, const char *s, size_t n);

/* Parses a time: integer milliseconds since the epoch, or
 * YYYY-MM-DDTHH:MM:SS[.mmm][Z|+HH:MM|-HH:MM] (local time without a zone), or
 * "now" optionally followed by -/+N(ms|s|m|h|d). Returns 0 or -1. */
int kn_cli_parse_time(const char *s, int64_t *ms);
/* Integer with range check; prints "--opt: ..." and returns -1 when bad. */
int kn_cli_parse_ll(const kn_cli_t *cli, const char *opt, const char *s, long long min, long long max,
                    long long *out);

/* Monotonic milliseconds. */
int64_t kn_cli_now_ms(void);

/* Subcommands; argv[0] is the command word. Each returns a KN_CLI_* code. */
int kn_cli_perf_main(const kn_cli_t *cli, int argc, char **argv);
int kn_cli_topic_main(kn_cli_t *cli, int argc, char **argv);
int kn_cli_produce_main(kn_cli_t *cli, int argc, char **argv);
int kn_cli_consume_main(kn_cli_t *cli, int argc, char **argv);
int kn_cli_group_main(kn_cli_t *cli, int argc, char **argv);
int kn_cli_cluster_main(kn_cli_t *cli, int argc, char **argv);

#endif
