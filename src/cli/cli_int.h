/* Shared between the `kanal` tool's source files (src/cli only). */
#ifndef KANAL_CLI_INT_H
#define KANAL_CLI_INT_H

/* Exit codes of every subcommand. */
enum {
    KN_CLI_OK = 0,     /* did what was asked */
    KN_CLI_FAIL = 1,   /* ran, but the result is wrong (errors, fewer records, timeout) */
    KN_CLI_USAGE = 2,  /* bad command line */
};

typedef struct kn_cli_s {
    /* --bootstrap-server given before the subcommand, else $KANAL_BOOTSTRAP,
     * else "localhost:9092". Subcommands may override it. Borrowed. */
    const char *bootstrap;
} kn_cli_t;

/* `kanal perf produce|consume|e2e ...`; argv[0] is "perf". Returns a KN_CLI_* code. */
int kn_cli_perf_main(const kn_cli_t *cli, int argc, char **argv);

#endif
