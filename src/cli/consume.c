/* `kanal consume TOPIC`: print records, like kafka-console-consumer.
 *
 * Without --group the partitions are assigned directly (assign(), nothing
 * committed) at the chosen start: beginning, end, an absolute offset, the
 * last N, or the first offset at/after a timestamp (ListOffsets by time).
 * With --group the tool subscribes as a group member; a printed record's
 * offset is stored, committed every auto.commit.interval.ms and once more,
 * synchronously, before leaving the group on exit (count or time limit
 * reached, end of partitions, Ctrl-C/SIGTERM). */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"

enum { OPT_FROM_BEGINNING = KN_OPT__LAST, OPT_FROM_END, OPT_OFFSET, OPT_FROM_TIME, OPT_MAX_TIME, OPT_NO_COMMIT };

typedef enum { START_DEFAULT, START_BEGINNING, START_END, START_OFFSET, START_TIME } start_t;

static void usage_consume(FILE *f) {
    fprintf(f, "Usage: kanal consume TOPIC [OPTIONS]\n"
               "\n"
               "Where to start (default: the end, or the group's committed offsets):\n"
               "      --from-beginning         the first offset of each partition\n"
               "      --from-end               only records produced from now on\n"
               "      --offset N               absolute offset N; a negative N = the last -N records\n"
               "      --from-time TIME         first record with timestamp >= TIME (ms since the\n"
               "                               epoch, 2024-05-01T12:00:00[.mmm][Z|+02:00], or\n"
               "                               now-10m / now-2h / now-1d)\n"
               "  -p, --partition N            only partition N (default: all)\n"
               "  -g, --group GROUP            consume as a member of GROUP and commit what was\n"
               "                               printed (--offset/--from-time need no group; move a\n"
               "                               group with `kanal group reset-offsets`)\n"
               "      --no-commit              with --group: never commit\n"
               "When to stop (default: Ctrl-C):\n"
               "  -n, --count N                after N records\n"
               "  -e, --exit-at-end            when every partition is read to its end\n"
               "      --max-time MS            after MS milliseconds (exit 1 if --count was not reached)\n"
               "Output:\n"
               "  -f, --format FMT             per record; %%t topic, %%p partition, %%o offset, %%k key,\n"
               "                               %%v value, %%h headers (k=v,...), %%T timestamp (ms),\n"
               "                               %%K key length, %%S value length, %%%% a %%; \\n \\t \\\\\n"
               "                               (default \"%%v\\n\")\n"
               "      --output json            one JSON object per record instead\n"
               "\n" KN_CLI_COMMON_HELP);
}

static volatile sig_atomic_t g_stop;
static void on_sig(int s) {
    (void)s;
    g_stop = 1;
}

static void print_headers(FILE *f, const rd_kafka_message_t *m, bool json) {
    rd_kafka_headers_t *hs = NULL;
    if (rd_kafka_message_headers(m, &hs) != RD_KAFKA_RESP_ERR_NO_ERROR) hs = NULL;
    const char *name;
    const void *val;
    size_t sz;
    if (json) fputc('{', f);
    for (size_t i = 0; hs && rd_kafka_header_get_all(hs, i, &name, &val, &sz) == RD_KAFKA_RESP_ERR_NO_ERROR; i++) {
        if (json) {
            if (i) fputc(',', f);
            kn_cli_json_str(f, name);
            fputc(':', f);
            kn_cli_json_strn(f, val, sz);
        } else {
            fprintf(f, "%s%s=", i ? "," : "", name);
            if (val) fwrite(val, 1, sz, f);
        }
    }
    if (json) fputc('}', f);
}

static void print_json(FILE *f, const rd_kafka_message_t *m) {
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    fprintf(f, "{\"topic\":");
    kn_cli_json_str(f, rd_kafka_topic_name(m->rkt));
    fprintf(f, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"timestamp\":%" PRId64 ",\"key\":", m->partition,
            m->offset, ts);
    kn_cli_json_strn(f, m->key, m->key_len);
    fprintf(f, ",\"value\":");
    kn_cli_json_strn(f, m->payload, m->len);
    fprintf(f, ",\"headers\":");
    print_headers(f, m, true);
    fprintf(f, "}\n");
}

static void print_fmt(FILE *f, const char *fmt, const rd_kafka_message_t *m) {
    for (const char *p = fmt; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            fputc(*p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : *p == '0' ? '\0' : *p, f);
            continue;
        }
        if (*p != '%' || !p[1]) {
            fputc(*p, f);
            continue;
        }
        p++;
        switch (*p) {
        case 't': fputs(rd_kafka_topic_name(m->rkt), f); break;
        case 'p': fprintf(f, "%" PRId32, m->partition); break;
        case 'o': fprintf(f, "%" PRId64, m->offset); break;
        case 'k': if (m->key) fwrite(m->key, 1, m->key_len, f); break;
        case 'v': if (m->payload) fwrite(m->payload, 1, m->len, f); break;
        case 'K': fprintf(f, "%zd", m->key ? (ssize_t)m->key_len : (ssize_t)-1); break;
        case 'S': fprintf(f, "%zd", m->payload ? (ssize_t)m->len : (ssize_t)-1); break;
        case 'h': print_headers(f, m, false); break;
        case 'T': fprintf(f, "%" PRId64, rd_kafka_message_timestamp(m, NULL)); break;
        case '%': fputc('%', f); break;
        default: fputc('%', f), fputc(*p, f); break;
        }
    }
}

/* Assign-mode start list: every (or one) partition at the start position. */
static int build_assignment(kn_cli_t *cli, rd_kafka_t *rk, const struct rd_kafka_metadata_topic *mt, long long part,
                            start_t start, long long offset, int64_t ts, rd_kafka_topic_partition_list_t **out) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(mt->partition_cnt);
    for (int i = 0; i < mt->partition_cnt; i++) {
        int32_t id = mt->partitions[i].id;
        if (part >= 0 && id != part) continue;
        int64_t off = start == START_BEGINNING ? RD_KAFKA_OFFSET_BEGINNING
                      : start == START_OFFSET  ? (offset >= 0 ? offset : RD_KAFKA_OFFSET_TAIL(-offset))
                      : start == START_TIME    ? ts
                                               : RD_KAFKA_OFFSET_END;
        rd_kafka_topic_partition_list_add(l, mt->topic, id)->offset = off;
    }
    if (l->cnt == 0) {
        kn_cli_err(cli, "topic %s has no partition %lld", mt->topic, part);
        rd_kafka_topic_partition_list_destroy(l);
        return KN_CLI_NOT_FOUND;
    }
    if (start == START_TIME) {
        rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, l, cli->timeout_ms);
        if (e) {
            kn_cli_err(cli, "looking up offsets for time %" PRId64 ": %s", ts, rd_kafka_err2str(e));
            rd_kafka_topic_partition_list_destroy(l);
            return KN_CLI_FAIL;
        }
        for (int i = 0; i < l->cnt; i++) {
            if (l->elems[i].err) {
                kn_cli_err(cli, "%s-%d: offset for time: %s", l->elems[i].topic, l->elems[i].partition,
                           rd_kafka_err2str(l->elems[i].err));
                rd_kafka_topic_partition_list_destroy(l);
                return KN_CLI_FAIL;
            }
            /* -1: no record at or after that time yet. */
            if (l->elems[i].offset < 0) l->elems[i].offset = RD_KAFKA_OFFSET_END;
        }
    }
    *out = l;
    return KN_CLI_OK;
}

int kn_cli_consume_main(kn_cli_t *cli, int argc, char **argv) {
    static const struct option opts[] = {
        KN_CLI_LONGOPTS,
        {"group", required_argument, NULL, 'g'},
        {"partition", required_argument, NULL, 'p'},
        {"count", required_argument, NULL, 'n'},
        {"exit-at-end", no_argument, NULL, 'e'},
        {"format", required_argument, NULL, 'f'},
        {"from-beginning", no_argument, NULL, OPT_FROM_BEGINNING},
        {"from-end", no_argument, NULL, OPT_FROM_END},
        {"offset", required_argument, NULL, OPT_OFFSET},
        {"from-time", required_argument, NULL, OPT_FROM_TIME},
        {"max-time", required_argument, NULL, OPT_MAX_TIME},
        {"no-commit", no_argument, NULL, OPT_NO_COMMIT},
        {NULL, 0, NULL, 0},
    };
    cli->cmd = "consume";
    const char *group = NULL, *fmt = "%v\\n";
    long long part = -1, count = -1, offset = 0, max_time = -1;
    int64_t ts = 0;
    start_t start = START_DEFAULT;
    bool exit_at_end = false, no_commit = false;
    int rc = KN_CLI_OK, c, nstart = 0;
    while ((c = getopt_long(argc, argv, KN_CLI_SHORTOPTS "g:p:n:ef:", opts, NULL)) != -1) {
        if (kn_cli_common_opt(cli, c, optarg, &rc)) {
            if (rc) return rc;
            continue;
        }
        switch (c) {
        case 'h': usage_consume(stdout); return KN_CLI_OK;
        case 'g': group = optarg; break;
        case 'p':
            if (kn_cli_parse_ll(cli, "--partition", optarg, 0, INT32_MAX, &part)) return KN_CLI_USAGE;
            break;
        case 'n':
            if (kn_cli_parse_ll(cli, "--count", optarg, 0, INT64_MAX, &count)) return KN_CLI_USAGE;
            break;
        case 'e': exit_at_end = true; break;
        case 'f': fmt = optarg; break;
        case OPT_FROM_BEGINNING: start = START_BEGINNING, nstart++; break;
        case OPT_FROM_END: start = START_END, nstart++; break;
        case OPT_OFFSET:
            if (kn_cli_parse_ll(cli, "--offset", optarg, -1000000000LL, INT64_MAX, &offset)) return KN_CLI_USAGE;
            start = START_OFFSET, nstart++;
            break;
        case OPT_FROM_TIME:
            if (kn_cli_parse_time(optarg, &ts) < 0) {
                kn_cli_err(cli, "--from-time: cannot read '%s' as a time (see --help)", optarg);
                return KN_CLI_USAGE;
            }
            start = START_TIME, nstart++;
            break;
        case OPT_MAX_TIME:
            if (kn_cli_parse_ll(cli, "--max-time", optarg, 1, INT64_MAX / 2, &max_time)) return KN_CLI_USAGE;
            break;
        case OPT_NO_COMMIT: no_commit = true; break;
        default: fprintf(stderr, "(`kanal consume --help` lists the options)\n"); return KN_CLI_USAGE;
        }
    }
    if (optind + 1 != argc) {
        kn_cli_err(cli, "needs exactly one topic (see kanal consume --help)");
        return KN_CLI_USAGE;
    }
    if (nstart > 1) {
        kn_cli_err(cli, "give at most one of --from-beginning, --from-end, --offset, --from-time");
        return KN_CLI_USAGE;
    }
    if (group && (start == START_OFFSET || start == START_TIME || part >= 0)) {
        kn_cli_err(cli, "--group takes the group's committed offsets (or --from-beginning/--from-end when it has "
                        "none) and its assignment; move a group with `kanal group reset-offsets`");
        return KN_CLI_USAGE;
    }
    const char *topic = argv[optind];

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int bad = 0;
    bad |= kn_cli_conf_set(cli, conf, "enable.partition.eof", "true");
    if (group) {
        bad |= kn_cli_conf_set(cli, conf, "group.id", group);
        bad |= kn_cli_conf_set(cli, conf, "auto.offset.reset", start == START_BEGINNING ? "earliest" : "latest");
        bad |= kn_cli_conf_set(cli, conf, "enable.auto.commit", no_commit ? "false" : "true");
        bad |= kn_cli_conf_set(cli, conf, "enable.auto.offset.store", "false");
    } else {
        /* librdkafka's assign() wants a group.id; nothing is committed to it. */
        bad |= kn_cli_conf_set(cli, conf, "group.id", "kanal-consume");
        bad |= kn_cli_conf_set(cli, conf, "enable.auto.commit", "false");
        bad |= kn_cli_conf_set(cli, conf, "enable.auto.offset.store", "false");
    }
    if (bad) {
        rd_kafka_conf_destroy(conf);
        return KN_CLI_USAGE;
    }
    rd_kafka_t *rk = kn_cli_client(cli, RD_KAFKA_CONSUMER, conf);
    if (!rk) return KN_CLI_USAGE;
    const struct rd_kafka_metadata *md = NULL;
    rc = kn_cli_metadata(cli, rk, true, NULL, &md);
    if (rc) {
        rd_kafka_destroy(rk);
        return rc;
    }
    const struct rd_kafka_metadata_topic *mt = kn_cli_md_topic(md, topic);
    if (!mt || mt->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        kn_cli_err(cli, "topic '%s' does not exist", topic);
        rd_kafka_metadata_destroy(md);
        rd_kafka_destroy(rk);
        return KN_CLI_NOT_FOUND;
    }
    int nparts = 0;
    rd_kafka_poll_set_consumer(rk);
    if (group) {
        rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (e) {
            kn_cli_err(cli, "subscribe: %s", rd_kafka_err2str(e));
            rc = KN_CLI_FAIL;
        }
    } else {
        rd_kafka_topic_partition_list_t *l = NULL;
        rc = build_assignment(cli, rk, mt, part, start, offset, ts, &l);
        if (!rc) {
            nparts = l->cnt;
            rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
            if (e) {
                kn_cli_err(cli, "assign: %s", rd_kafka_err2str(e));
                rc = KN_CLI_FAIL;
            }
            rd_kafka_topic_partition_list_destroy(l);
        }
    }
    rd_kafka_metadata_destroy(md);
    if (rc) {
        rd_kafka_destroy(rk);
        return rc;
    }

    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    /* Partitions at their end: a bit per partition id (ids are small). */
    size_t eof_cap = 1024;
    unsigned char *at_end = calloc(eof_cap, 1);
    if (!at_end) abort();
    int64_t got = 0, t0 = kn_cli_now_ms();
    int nerr = 0;
    bool limit_hit = false, fatal = false;
    while (!g_stop) {
        if (count >= 0 && got >= count) break;
        if (max_time >= 0 && kn_cli_now_ms() - t0 >= max_time) {
            limit_hit = true;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if ((size_t)m->partition < eof_cap) at_end[m->partition] = 1;
            rd_kafka_message_destroy(m);
            if (exit_at_end) {
                int want = nparts, have = 0;
                if (group) {
                    rd_kafka_topic_partition_list_t *a = NULL;
                    if (!rd_kafka_assignment(rk, &a) && a) {
                        want = a->cnt;
                        for (int i = 0; i < a->cnt; i++)
                            if ((size_t)a->elems[i].partition < eof_cap && at_end[a->elems[i].partition]) have++;
                        rd_kafka_topic_partition_list_destroy(a);
                    }
                } else {
                    for (size_t i = 0; i < eof_cap; i++) have += at_end[i];
                }
                if (want > 0 && have >= want) break;
            }
            continue;
        }
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__FATAL) fatal = true;
            if (nerr++ < 10)
                fprintf(stderr, "kanal consume: %s: %s\n", rd_kafka_err2name(m->err), rd_kafka_message_errstr(m));
            bool gone = m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                        m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
            rd_kafka_message_destroy(m);
            if (fatal) break;
            if (gone) {
                rc = KN_CLI_NOT_FOUND;
                break;
            }
            continue;
        }
        if ((size_t)m->partition < eof_cap) at_end[m->partition] = 0;
        if (cli->json) print_json(stdout, m);
        else print_fmt(stdout, fmt, m);
        got++;
        if (group && !no_commit) rd_kafka_offset_store(m->rkt, m->partition, m->offset);
        rd_kafka_message_destroy(m);
    }
    fflush(stdout);
    if (group && !no_commit) {
        /* Commit what was printed before leaving; NO_OFFSET = nothing new. */
        rd_kafka_resp_err_t e = rd_kafka_commit(rk, NULL, 0);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            kn_cli_err(cli, "commit: %s", rd_kafka_err2str(e));
            rc = KN_CLI_FAIL;
        }
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(at_end);
    if (!cli->json) fprintf(stderr, "kanal consume: %" PRId64 " records\n", got);
    if (!rc && fatal) rc = KN_CLI_FAIL;
    if (!rc && limit_hit && count >= 0 && got < count) {
        kn_cli_err(cli, "only %" PRId64 " of %lld records within --max-time %lld ms", got, count, max_time);
        rc = KN_CLI_FAIL;
    }
    return rc;
}
