/* `kanal cluster status`: one Metadata request (all topics) and the
 * controller id. Healthy = every partition has a leader and a full ISR, and
 * (with --expect-brokers N) at least N brokers are registered. Exit 0 when
 * healthy, 5 when not, 3 when unreachable: usable as a health check. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

enum { OPT_EXPECT = KN_OPT__LAST };

static void usage_cluster(FILE *f) {
    fprintf(f, "Usage: kanal cluster status [--expect-brokers N] [OPTIONS]\n"
               "\n"
               "Lists the live brokers and the controller, counts topics and partitions, and\n"
               "lists under-replicated partitions (ISR smaller than the replica set) and\n"
               "offline ones (no leader). Exit 0 when healthy, 5 when any partition is\n"
               "under-replicated or offline or fewer than --expect-brokers brokers are live,\n"
               "3 when the cluster cannot be reached within --timeout.\n"
               "\n" KN_CLI_COMMON_HELP);
}

static int cmp_broker(const void *a, const void *b) {
    const struct rd_kafka_metadata_broker *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

typedef struct {
    const struct rd_kafka_metadata_topic *t;
    const struct rd_kafka_metadata_partition *p;
} bad_part_t;

static void ids(FILE *f, const int32_t *v, int n) {
    fputc('[', f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? "," : "", v[i]);
    fputc(']', f);
}

static void print_bad(const char *title, const bad_part_t *b, int n, bool json) {
    if (json) {
        printf("[");
        for (int i = 0; i < n; i++) {
            printf("%s{\"topic\":", i ? "," : "");
            kn_cli_json_str(stdout, b[i].t->topic);
            printf(",\"partition\":%d,\"leader\":%d,\"replicas\":", b[i].p->id, b[i].p->leader);
            ids(stdout, b[i].p->replicas, b[i].p->replica_cnt);
            printf(",\"isr\":");
            ids(stdout, b[i].p->isrs, b[i].p->isr_cnt);
            printf("}");
        }
        printf("]");
        return;
    }
    printf("%s: %d\n", title, n);
    for (int i = 0; i < n && i < 50; i++) {
        printf("  %s-%d\tleader %d\treplicas ", b[i].t->topic, b[i].p->id, b[i].p->leader);
        for (int k = 0; k < b[i].p->replica_cnt; k++) printf("%s%d", k ? "," : "", b[i].p->replicas[k]);
        printf("\tisr ");
        for (int k = 0; k < b[i].p->isr_cnt; k++) printf("%s%d", k ? "," : "", b[i].p->isrs[k]);
        printf("\n");
    }
    if (n > 50) printf("  ... and %d more\n", n - 50);
}

int kn_cli_cluster_main(kn_cli_t *cli, int argc, char **argv) {
    cli->cmd = "cluster";
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage_cluster(argc < 2 ? stderr : stdout);
        return argc < 2 ? KN_CLI_USAGE : KN_CLI_OK;
    }
    if (strcmp(argv[1], "status")) {
        kn_cli_err(cli, "unknown subcommand '%s'", argv[1]);
        usage_cluster(stderr);
        return KN_CLI_USAGE;
    }
    cli->cmd = "cluster status";
    static const struct option opts[] = {
        KN_CLI_LONGOPTS,
        {"expect-brokers", required_argument, NULL, OPT_EXPECT},
        {NULL, 0, NULL, 0},
    };
    long long expect = 0;
    int rc = KN_CLI_OK, c;
    while ((c = getopt_long(argc - 1, argv + 1, KN_CLI_SHORTOPTS, opts, NULL)) != -1) {
        if (kn_cli_common_opt(cli, c, optarg, &rc)) {
            if (rc) return rc;
            continue;
        }
        switch (c) {
        case 'h': usage_cluster(stdout); return KN_CLI_OK;
        case OPT_EXPECT:
            if (kn_cli_parse_ll(cli, "--expect-brokers", optarg, 0, 100000, &expect)) return KN_CLI_USAGE;
            break;
        default: fprintf(stderr, "(`kanal cluster --help` lists the options)\n"); return KN_CLI_USAGE;
        }
    }
    if (optind + 1 < argc) {
        kn_cli_err(cli, "unexpected argument '%s'", argv[1 + optind]);
        return KN_CLI_USAGE;
    }
    rd_kafka_t *rk = kn_cli_client(cli, RD_KAFKA_PRODUCER, NULL);
    if (!rk) return KN_CLI_USAGE;
    const struct rd_kafka_metadata *md;
    rc = kn_cli_metadata(cli, rk, true, NULL, &md);
    if (rc) {
        rd_kafka_destroy(rk);
        return rc;
    }
    /* librdkafka learns the controller from Metadata v1+ responses. */
    int32_t controller = rd_kafka_controllerid(rk, cli->timeout_ms);
    struct rd_kafka_metadata_broker *bs = calloc((size_t)md->broker_cnt + 1, sizeof(*bs));
    if (!bs) abort();
    memcpy(bs, md->brokers, sizeof(*bs) * (size_t)md->broker_cnt);
    if ((size_t)md->broker_cnt > 1) qsort(bs, (size_t)md->broker_cnt, sizeof(*bs), cmp_broker);
    int nparts = 0, ntopics = 0, nurp = 0, noff = 0;
    for (int i = 0; i < md->topic_cnt; i++) nparts += md->topics[i].partition_cnt;
    bad_part_t *urp = calloc((size_t)nparts + 1, sizeof(*urp)), *off = calloc((size_t)nparts + 1, sizeof(*off));
    if (!urp || !off) abort();
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
        ntopics++;
        for (int k = 0; k < t->partition_cnt; k++) {
            const struct rd_kafka_metadata_partition *p = &t->partitions[k];
            if (p->leader < 0) off[noff++] = (bad_part_t){t, p};
            else if (p->isr_cnt < p->replica_cnt) urp[nurp++] = (bad_part_t){t, p};
        }
    }
    bool few = expect > 0 && md->broker_cnt < expect;
    bool healthy = nurp == 0 && noff == 0 && !few && controller >= 0;
    if (cli->json) {
        printf("{\"healthy\":%s,\"controller\":%d,\"brokers\":[", healthy ? "true" : "false", controller);
        for (int i = 0; i < md->broker_cnt; i++) {
            printf("%s{\"id\":%d,\"host\":", i ? "," : "", bs[i].id);
            kn_cli_json_str(stdout, bs[i].host);
            printf(",\"port\":%d}", bs[i].port);
        }
        printf("],\"topics\":%d,\"partitions\":%d,\"under_replicated\":", ntopics, nparts);
        print_bad(NULL, urp, nurp, true);
        printf(",\"offline\":");
        print_bad(NULL, off, noff, true);
        printf("}\n");
    } else {
        printf("Brokers: %d%s\n", md->broker_cnt, few ? " (fewer than expected)" : "");
        for (int i = 0; i < md->broker_cnt; i++)
            printf("  %d\t%s:%d%s\n", bs[i].id, bs[i].host, bs[i].port, bs[i].id == controller ? "\t(controller)" : "");
        if (controller >= 0) printf("Controller: %d\n", controller);
        else printf("Controller: none\n");
        printf("Topics: %d, partitions: %d\n", ntopics, nparts);
        print_bad("Under-replicated partitions", urp, nurp, false);
        print_bad("Offline partitions", off, noff, false);
        printf("Status: %s\n", healthy ? "healthy" : "UNHEALTHY");
    }
    free(urp);
    free(off);
    free(bs);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return healthy ? KN_CLI_OK : KN_CLI_UNHEALTHY;
}
