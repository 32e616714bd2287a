/* `kanal produce TOPIC [FILE...]`: one record per input line (stdin when no
 * file or "-"), like kafka-console-producer. Every record's delivery report
 * is counted; failures name the record (file and line) and the error, and
 * make the exit code 1. The wait for outstanding deliveries is bounded. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

enum { OPT_ACKS = KN_OPT__LAST, OPT_COMPRESSION, OPT_IDEMPOTENT, OPT_LINGER, OPT_DELIVERY_TIMEOUT };

static void usage_produce(FILE *f) {
    fprintf(f, "Usage: kanal produce TOPIC [FILE...] [OPTIONS]\n"
               "\n"
               "Sends each line of the FILEs (or stdin when none is given or FILE is -) as one\n"
               "record. Prints a summary on stderr (JSON on stdout with --output json); exit 1\n"
               "when any record failed, naming the first failures by file and line.\n"
               "\n"
               "  -k, --key-separator SEP      split each line at the first SEP into key and value\n"
               "                               (lines without SEP get no key)\n"
               "  -H, --header KEY=VALUE       add a header to every record (repeatable)\n"
               "  -p, --partition N            send to partition N (default: the partitioner)\n"
               "      --acks 0|1|all           (default all)\n"
               "      --compression TYPE       none|gzip|snappy|lz4|zstd (default none)\n"
               "      --idempotent             enable.idempotence=true (implies acks=all)\n"
               "      --linger-ms MS           batch wait (default librdkafka's, 5)\n"
               "      --delivery-timeout MS    give up on a record after MS (default 3 x --timeout)\n"
               "\n" KN_CLI_COMMON_HELP);
}

typedef struct {
    int64_t ok, failed;
    int shown;
    const char *const *files;
    bool json;
    char first_err[256];
} prod_state_t;

static volatile sig_atomic_t g_stop;
static void on_sig(int s) {
    (void)s;
    g_stop = 1;
}

/* _private = (file index << 32) | line number. */
static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    prod_state_t *st = opaque;
    if (!m->err) {
        st->ok++;
        return;
    }
    st->failed++;
    uint64_t tag = (uint64_t)(uintptr_t)m->_private;
    if (!st->first_err[0])
        snprintf(st->first_err, sizeof(st->first_err), "%s: %s", rd_kafka_err2name(m->err), rd_kafka_err2str(m->err));
    if (st->shown++ < 10)
        fprintf(stderr, "kanal produce: record at %s:%" PRIu64 " failed: %s: %s\n", st->files[tag >> 32],
                tag & 0xffffffffu, rd_kafka_err2name(m->err), rd_kafka_err2str(m->err));
    else if (st->shown == 11)
        fprintf(stderr, "kanal produce: (further failures are only counted)\n");
}

int kn_cli_produce_main(kn_cli_t *cli, int argc, char **argv) {
    static const struct option opts[] = {
        KN_CLI_LONGOPTS,
        {"key-separator", required_argument, NULL, 'k'},
        {"header", required_argument, NULL, 'H'},
        {"partition", required_argument, NULL, 'p'},
        {"acks", required_argument, NULL, OPT_ACKS},
        {"compression", required_argument, NULL, OPT_COMPRESSION},
        {"idempotent", no_argument, NULL, OPT_IDEMPOTENT},
        {"linger-ms", required_argument, NULL, OPT_LINGER},
        {"delivery-timeout", required_argument, NULL, OPT_DELIVERY_TIMEOUT},
        {NULL, 0, NULL, 0},
    };
    cli->cmd = "produce";
    const char *keysep = NULL, *acks = "all", *compression = NULL;
    long long partition = -1, linger = -1, dtmo = -1;
    bool idem = false;
    const char **hdrs = calloc((size_t)argc + 1, sizeof(char *));
    if (!hdrs) abort();
    int nhdrs = 0, rc = KN_CLI_OK, c;
    while ((c = getopt_long(argc, argv, KN_CLI_SHORTOPTS "k:H:p:", opts, NULL)) != -1) {
        if (kn_cli_common_opt(cli, c, optarg, &rc)) {
            if (rc) goto out;
            continue;
        }
        switch (c) {
        case 'h': usage_produce(stdout); goto out;
        case 'k':
            if (!*optarg) {
                kn_cli_err(cli, "--key-separator: empty");
                rc = KN_CLI_USAGE;
                goto out;
            }
            keysep = optarg;
            break;
        case 'H': hdrs[nhdrs++] = optarg; break;
        case 'p':
            if (kn_cli_parse_ll(cli, "--partition", optarg, 0, INT32_MAX, &partition)) rc = KN_CLI_USAGE;
            break;
        case OPT_ACKS:
            if (strcmp(optarg, "0") && strcmp(optarg, "1") && strcmp(optarg, "all") && strcmp(optarg, "-1")) {
                kn_cli_err(cli, "--acks: '%s' is not 0, 1 or all", optarg);
                rc = KN_CLI_USAGE;
            }
            acks = optarg;
            break;
        case OPT_COMPRESSION: compression = optarg; break;
        case OPT_IDEMPOTENT: idem = true; break;
        case OPT_LINGER:
            if (kn_cli_parse_ll(cli, "--linger-ms", optarg, 0, 900000, &linger)) rc = KN_CLI_USAGE;
            break;
        case OPT_DELIVERY_TIMEOUT:
            if (kn_cli_parse_ll(cli, "--delivery-timeout", optarg, 1, 900000, &dtmo)) rc = KN_CLI_USAGE;
            break;
        default:
            fprintf(stderr, "(`kanal produce --help` lists the options)\n");
            rc = KN_CLI_USAGE;
            goto out;
        }
        if (rc) goto out;
    }
    if (optind >= argc) {
        kn_cli_err(cli, "needs a topic (see kanal produce --help)");
        rc = KN_CLI_USAGE;
        goto out;
    }
    if (idem && strcmp(acks, "all") && strcmp(acks, "-1")) {
        kn_cli_err(cli, "--idempotent needs --acks all");
        rc = KN_CLI_USAGE;
        goto out;
    }
    const char *topic = argv[optind];
    int nfiles = argc - optind - 1;
    static const char *const stdin_name[] = {"<stdin>"};
    const char *const *files = nfiles ? (const char *const *)argv + optind + 1 : stdin_name;
    if (!nfiles) nfiles = 1;
    /* Open every file first: a typo fails before anything is sent. */
    FILE **fps = calloc((size_t)nfiles, sizeof(FILE *));
    if (!fps) abort();
    for (int i = 0; i < nfiles; i++) {
        if (!strcmp(files[i], "-") || files == stdin_name) {
            fps[i] = stdin;
        } else if (!(fps[i] = fopen(files[i], "r"))) {
            kn_cli_err(cli, "%s: %s", files[i], strerror(errno));
            rc = KN_CLI_USAGE;
        }
    }
    /* Header list shared (copied) by every record. */
    rd_kafka_headers_t *hl = rd_kafka_headers_new((size_t)nhdrs);
    for (int i = 0; i < nhdrs; i++) {
        const char *eq = strchr(hdrs[i], '=');
        if (eq) rd_kafka_header_add(hl, hdrs[i], eq - hdrs[i], eq + 1, -1);
        else rd_kafka_header_add(hl, hdrs[i], -1, NULL, 0);
    }
    prod_state_t st;
    memset(&st, 0, sizeof(st));
    st.files = files;
    rd_kafka_t *rk = NULL;
    if (rc) goto done;

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char buf[32];
    int bad = kn_cli_conf_set(cli, conf, "acks", acks);
    if (compression) bad |= kn_cli_conf_set(cli, conf, "compression.type", compression);
    if (idem) bad |= kn_cli_conf_set(cli, conf, "enable.idempotence", "true");
    if (linger >= 0) {
        snprintf(buf, sizeof(buf), "%lld", linger);
        bad |= kn_cli_conf_set(cli, conf, "linger.ms", buf);
    }
    snprintf(buf, sizeof(buf), "%lld", dtmo > 0 ? dtmo : 3LL * cli->timeout_ms);
    bad |= kn_cli_conf_set(cli, conf, "delivery.timeout.ms", buf);
    if (bad) {
        rd_kafka_conf_destroy(conf);
        rc = KN_CLI_USAGE;
        goto done;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    rd_kafka_conf_set_opaque(conf, &st);
    rk = kn_cli_client(cli, RD_KAFKA_PRODUCER, conf);
    if (!rk) {
        rc = KN_CLI_USAGE;
        goto done;
    }
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rc = kn_cli_metadata(cli, rk, false, rkt, &md);
    rd_kafka_topic_destroy(rkt);
    if (rc) goto done;
    const struct rd_kafka_metadata_topic *mt = kn_cli_md_topic(md, topic);
    if (mt && mt->err == 0 && partition >= mt->partition_cnt) {
        kn_cli_err(cli, "topic %s has %d partitions; there is no partition %lld", topic, mt->partition_cnt,
                   partition);
        rc = KN_CLI_NOT_FOUND;
    }
    rd_kafka_metadata_destroy(md);
    if (rc) goto done;

    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    char *line = NULL;
    size_t cap = 0;
    int64_t sent = 0;
    size_t seplen = keysep ? strlen(keysep) : 0;
    for (int fi = 0; fi < nfiles && !g_stop; fi++) {
        uint64_t lineno = 0;
        ssize_t n;
        while (!g_stop && (n = getline(&line, &cap, fps[fi])) >= 0) {
            lineno++;
            if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
            const char *key = NULL, *val = line;
            size_t klen = 0, vlen = (size_t)n;
            if (keysep) {
                char *s = memmem(line, (size_t)n, keysep, seplen);
                if (s) {
                    key = line;
                    klen = (size_t)(s - line);
                    val = s + seplen;
                    vlen = (size_t)n - klen - seplen;
                }
            }
            void *tag = (void *)(uintptr_t)(((uint64_t)fi << 32) | lineno);
            for (;;) {
                rd_kafka_resp_err_t e = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION((int32_t)partition),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE((void *)val, vlen),
                    RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_HEADERS(nhdrs ? rd_kafka_headers_copy(hl) : NULL),
                    RD_KAFKA_V_OPAQUE(tag), RD_KAFKA_V_END);
                if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                    rd_kafka_poll(rk, 100);
                    continue;
                }
                if (e) {
                    st.failed++;
                    if (st.shown++ < 10)
                        fprintf(stderr, "kanal produce: record at %s:%" PRIu64 " not sent: %s\n", files[fi], lineno,
                                rd_kafka_err2str(e));
                    if (!st.first_err[0]) snprintf(st.first_err, sizeof(st.first_err), "%s", rd_kafka_err2name(e));
                } else {
                    sent++;
                }
                break;
            }
            rd_kafka_poll(rk, 0);
        }
        if (ferror(fps[fi])) {
            kn_cli_err(cli, "%s: read error: %s", files[fi], strerror(errno));
            rc = KN_CLI_FAIL;
        }
    }
    free(line);
    /* Deliveries time out by themselves after delivery.timeout.ms; wait a
     * little past that, then count what is still queued as failed. */
    int64_t deadline = kn_cli_now_ms() + (dtmo > 0 ? dtmo : 3LL * cli->timeout_ms) + 5000;
    while (rd_kafka_outq_len(rk) > 0 && kn_cli_now_ms() < deadline) rd_kafka_flush(rk, 100);
    int left = rd_kafka_outq_len(rk);
    if (left > 0) {
        st.failed += left;
        kn_cli_err(cli, "%d records still undelivered at the deadline", left);
    }
    if (g_stop) fprintf(stderr, "kanal produce: interrupted; stopped reading input\n");
    if (cli->json) {
        printf("{\"topic\":");
        kn_cli_json_str(stdout, topic);
        printf(",\"produced\":%" PRId64 ",\"failed\":%" PRId64 ",\"error\":", st.ok, st.failed);
        kn_cli_json_str(stdout, st.first_err[0] ? st.first_err : NULL);
        printf("}\n");
    } else {
        fprintf(stderr, "kanal produce: %" PRId64 " records produced to %s, %" PRId64 " failed\n", st.ok, topic,
                st.failed);
    }
    if (!rc && st.failed) rc = KN_CLI_FAIL;
done:
    if (rk) rd_kafka_destroy(rk);
    rd_kafka_headers_destroy(hl);
    for (int i = 0; i < nfiles; i++)
        if (fps[i] && fps[i] != stdin) fclose(fps[i]);
    free(fps);
out:
    free(hdrs);
    return rc;
}
