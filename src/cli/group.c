/* `kanal group list|describe|reset-offsets|delete`, like
 * kafka-consumer-groups, on librdkafka 2.0's group admin calls
 * (ListGroups, DescribeGroups, OffsetFetch, OffsetCommit, DeleteGroups
 * underneath) plus ListOffsets (watermarks) for log end offsets and lag. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

enum {
    OPT_TOPIC = KN_OPT__LAST, OPT_ALL_TOPICS, OPT_EARLIEST, OPT_LATEST, OPT_TO_OFFSET, OPT_TO_DATETIME, OPT_SHIFT,
    OPT_DRY_RUN, OPT_EXECUTE,
};

static void usage_group(FILE *f) {
    fprintf(f, "Usage: kanal group SUBCOMMAND [OPTIONS]\n"
               "\n"
               "  list\n"
               "  describe GROUP...\n"
               "  reset-offsets GROUP (--topic TOPIC[:P,P...]... | --all-topics)\n"
               "                (--to-earliest | --to-latest | --to-offset N | --to-datetime TIME | --shift-by N)\n"
               "                [--dry-run]\n"
               "  delete GROUP...\n"
               "\n"
               "describe shows the state, members and their assignments, and per partition the\n"
               "committed offset, the log end offset and the lag, like kafka-consumer-groups\n"
               "--describe. reset-offsets needs a group without active members; new offsets are\n"
               "clamped to [log start, log end]; --dry-run prints them without committing.\n"
               "TIME: ms since the epoch, 2024-05-01T12:00:00[.mmm][Z|+02:00], or now-1h.\n"
               "\n" KN_CLI_COMMON_HELP);
}

typedef struct {
    char **names;
    int nnames;
    const char **topics; /* --topic values, borrowed */
    int ntopics;
    bool all_topics, dry_run;
    int mode; /* OPT_EARLIEST.. OPT_SHIFT, 0 none */
    long long value;
    int64_t ts;
} group_opts_t;

static const char *state_name(rd_kafka_consumer_group_state_t s) {
    switch (s) {
    case RD_KAFKA_CONSUMER_GROUP_STATE_PREPARING_REBALANCE: return "PreparingRebalance";
    case RD_KAFKA_CONSUMER_GROUP_STATE_COMPLETING_REBALANCE: return "CompletingRebalance";
    case RD_KAFKA_CONSUMER_GROUP_STATE_STABLE: return "Stable";
    case RD_KAFKA_CONSUMER_GROUP_STATE_DEAD: return "Dead";
    case RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY: return "Empty";
    default: return "Unknown";
    }
}

/* ---- list ---- */

static int cmp_listing(const void *a, const void *b) {
    return strcmp(rd_kafka_ConsumerGroupListing_group_id(*(const rd_kafka_ConsumerGroupListing_t *const *)a),
                  rd_kafka_ConsumerGroupListing_group_id(*(const rd_kafka_ConsumerGroupListing_t *const *)b));
}

static int group_list(kn_cli_t *cli, rd_kafka_t *rk) {
    rd_kafka_AdminOptions_t *ao = kn_cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_ListConsumerGroups(rk, ao, q);
    rd_kafka_event_t *ev = kn_cli_admin_wait(cli, q, "ListGroups");
    int rc = KN_CLI_FAIL;
    if (ev) {
        const rd_kafka_ListConsumerGroups_result_t *res = rd_kafka_event_ListConsumerGroups_result(ev);
        size_t n = 0, ne = 0;
        const rd_kafka_ConsumerGroupListing_t **gl = rd_kafka_ListConsumerGroups_result_valid(res, &n);
        const rd_kafka_error_t **errs = rd_kafka_ListConsumerGroups_result_errors(res, &ne);
        const rd_kafka_ConsumerGroupListing_t **sorted = calloc(n + 1, sizeof(*sorted));
        if (!sorted) abort();
        memcpy(sorted, gl, n * sizeof(*sorted));
        if (n > 1) qsort(sorted, n, sizeof(*sorted), cmp_listing);
        if (cli->json) printf("[");
        for (size_t i = 0; i < n; i++) {
            const char *id = rd_kafka_ConsumerGroupListing_group_id(sorted[i]);
            const char *st = state_name(rd_kafka_ConsumerGroupListing_state(sorted[i]));
            if (cli->json) {
                printf("%s{\"group\":", i ? "," : "");
                kn_cli_json_str(stdout, id);
                printf(",\"state\":\"%s\",\"simple\":%s}", st,
                       rd_kafka_ConsumerGroupListing_is_simple_consumer_group(sorted[i]) ? "true" : "false");
            } else {
                printf("%-40s %s\n", id, st);
            }
        }
        if (cli->json) printf("]\n");
        for (size_t i = 0; i < ne; i++) kn_cli_err(cli, "a broker did not list its groups: %s", rd_kafka_error_string(errs[i]));
        rc = ne ? KN_CLI_FAIL : KN_CLI_OK;
        free(sorted);
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    return rc;
}

/* ---- shared lookups ---- */

/* Committed offsets of one group (all partitions), or NULL after printing. */
static rd_kafka_topic_partition_list_t *committed_offsets(kn_cli_t *cli, rd_kafka_t *rk, const char *group) {
    rd_kafka_ListConsumerGroupOffsets_t *lo = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
    rd_kafka_AdminOptions_t *ao = kn_cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_ListConsumerGroupOffsets(rk, &lo, 1, ao, q);
    rd_kafka_event_t *ev = kn_cli_admin_wait(cli, q, "OffsetFetch");
    rd_kafka_topic_partition_list_t *out = NULL;
    if (ev) {
        size_t n = 0;
        const rd_kafka_group_result_t **gr =
            rd_kafka_ListConsumerGroupOffsets_result_groups(rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
        if (n == 1 && rd_kafka_group_result_error(gr[0]))
            kn_cli_err(cli, "%s: OffsetFetch: %s", group, rd_kafka_error_string(rd_kafka_group_result_error(gr[0])));
        else if (n == 1)
            out = rd_kafka_topic_partition_list_copy(rd_kafka_group_result_partitions(gr[0]));
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_ListConsumerGroupOffsets_destroy(lo);
    return out;
}

/* Descriptions of the groups, or NULL (event kept in *ev for lifetime). */
static const rd_kafka_ConsumerGroupDescription_t **describe_groups(kn_cli_t *cli, rd_kafka_t *rk, char **names, int n,
                                                                   rd_kafka_event_t **evp, size_t *cnt) {
    rd_kafka_AdminOptions_t *ao = kn_cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConsumerGroups(rk, (const char **)names, (size_t)n, ao, q);
    rd_kafka_event_t *ev = kn_cli_admin_wait(cli, q, "DescribeGroups");
    const rd_kafka_ConsumerGroupDescription_t **gd = NULL;
    if (ev) gd = rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(ev), cnt);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    *evp = ev;
    return gd;
}

static int cmp_tp(const void *a, const void *b) {
    const rd_kafka_topic_partition_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* ---- describe ---- */

typedef struct {
    const char *consumer_id, *host, *client_id;
} owner_t;

static int group_describe(kn_cli_t *cli, rd_kafka_t *rk, group_opts_t *o) {
    rd_kafka_event_t *ev = NULL;
    size_t cnt = 0;
    const rd_kafka_ConsumerGroupDescription_t **gd = describe_groups(cli, rk, o->names, o->nnames, &ev, &cnt);
    if (!ev) return KN_CLI_FAIL;
    int rc = KN_CLI_OK;
    if (cli->json) printf("[");
    int shown = 0;
    for (size_t g = 0; g < cnt; g++) {
        const char *id = rd_kafka_ConsumerGroupDescription_group_id(gd[g]);
        const rd_kafka_error_t *err = rd_kafka_ConsumerGroupDescription_error(gd[g]);
        if (err) {
            kn_cli_err(cli, "%s: %s", id, rd_kafka_error_string(err));
            if (rd_kafka_error_code(err) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
                if (rc == KN_CLI_OK) rc = KN_CLI_NOT_FOUND;
            } else {
                rc = KN_CLI_FAIL;
            }
            continue;
        }
        rd_kafka_consumer_group_state_t st = rd_kafka_ConsumerGroupDescription_state(gd[g]);
        size_t nm = rd_kafka_ConsumerGroupDescription_member_count(gd[g]);
        rd_kafka_topic_partition_list_t *com = committed_offsets(cli, rk, id);
        if (!com) {
            rc = KN_CLI_FAIL;
            continue;
        }
        if (st == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD && nm == 0 && com->cnt == 0) {
            kn_cli_err(cli, "consumer group '%s' does not exist", id);
            if (rc == KN_CLI_OK) rc = KN_CLI_NOT_FOUND;
            rd_kafka_topic_partition_list_destroy(com);
            continue;
        }
        /* Rows: committed partitions plus assigned ones without a commit. */
        rd_kafka_topic_partition_list_t *rows = rd_kafka_topic_partition_list_copy(com);
        size_t nown = 0;
        for (size_t m = 0; m < nm; m++) {
            const rd_kafka_MemberDescription_t *md = rd_kafka_ConsumerGroupDescription_member(gd[g], m);
            const rd_kafka_topic_partition_list_t *as =
                rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(md));
            for (int i = 0; as && i < as->cnt; i++) {
                nown++;
                if (!rd_kafka_topic_partition_list_find(rows, as->elems[i].topic, as->elems[i].partition))
                    rd_kafka_topic_partition_list_add(rows, as->elems[i].topic, as->elems[i].partition)->offset =
                        RD_KAFKA_OFFSET_INVALID;
            }
        }
        if ((size_t)rows->cnt > 1) qsort(rows->elems, (size_t)rows->cnt, sizeof(rows->elems[0]), cmp_tp);
        owner_t *own = calloc((size_t)rows->cnt + 1, sizeof(*own));
        if (!own) abort();
        for (size_t m = 0; m < nm; m++) {
            const rd_kafka_MemberDescription_t *md = rd_kafka_ConsumerGroupDescription_member(gd[g], m);
            const rd_kafka_topic_partition_list_t *as =
                rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(md));
            for (int i = 0; as && i < as->cnt; i++)
                for (int r = 0; r < rows->cnt; r++)
                    if (rows->elems[r].partition == as->elems[i].partition &&
                        !strcmp(rows->elems[r].topic, as->elems[i].topic))
                        own[r] = (owner_t){rd_kafka_MemberDescription_consumer_id(md),
                                           rd_kafka_MemberDescription_host(md),
                                           rd_kafka_MemberDescription_client_id(md)};
        }
        const rd_kafka_Node_t *coord = rd_kafka_ConsumerGroupDescription_coordinator(gd[g]);
        const char *assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(gd[g]);
        if (cli->json) {
            printf("%s{\"group\":", shown++ ? "," : "");
            kn_cli_json_str(stdout, id);
            printf(",\"state\":\"%s\",\"coordinator\":%d,\"partition_assignor\":", state_name(st),
                   coord ? rd_kafka_Node_id(coord) : -1);
            kn_cli_json_str(stdout, assignor && *assignor ? assignor : NULL);
            printf(",\"members\":[");
            for (size_t m = 0; m < nm; m++) {
                const rd_kafka_MemberDescription_t *md = rd_kafka_ConsumerGroupDescription_member(gd[g], m);
                const rd_kafka_topic_partition_list_t *as =
                    rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(md));
                printf("%s{\"consumer_id\":", m ? "," : "");
                kn_cli_json_str(stdout, rd_kafka_MemberDescription_consumer_id(md));
                printf(",\"client_id\":");
                kn_cli_json_str(stdout, rd_kafka_MemberDescription_client_id(md));
                printf(",\"host\":");
                kn_cli_json_str(stdout, rd_kafka_MemberDescription_host(md));
                printf(",\"assignment\":[");
                for (int i = 0; as && i < as->cnt; i++) {
                    printf("%s{\"topic\":", i ? "," : "");
                    kn_cli_json_str(stdout, as->elems[i].topic);
                    printf(",\"partition\":%d}", as->elems[i].partition);
                }
                printf("]}");
            }
            printf("],\"offsets\":[");
        } else {
            if (shown++) printf("\n");
            printf("Group %s: state %s, %zu member%s", id, state_name(st), nm, nm == 1 ? "" : "s");
            if (assignor && *assignor) printf(", assignor %s", assignor);
            if (coord) printf(", coordinator %d (%s:%u)", rd_kafka_Node_id(coord), rd_kafka_Node_host(coord),
                              rd_kafka_Node_port(coord));
            printf("\n\n%-24s %-24s %9s %14s %14s %8s  %-40s %-18s %s\n", "GROUP", "TOPIC", "PARTITION",
                   "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID");
        }
        for (int r = 0; r < rows->cnt; r++) {
            rd_kafka_topic_partition_t *tp = &rows->elems[r];
            int64_t lo = -1, hi = -1;
            rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, tp->topic, tp->partition, &lo, &hi,
                                                                     cli->timeout_ms);
            if (e) {
                hi = -1;
                kn_cli_err(cli, "%s-%d: log end offset: %s", tp->topic, tp->partition, rd_kafka_err2str(e));
                rc = KN_CLI_FAIL;
            }
            bool has = tp->offset >= 0;
            int64_t lag = has && hi >= 0 ? (hi > tp->offset ? hi - tp->offset : 0) : -1;
            if (cli->json) {
                printf("%s{\"topic\":", r ? "," : "");
                kn_cli_json_str(stdout, tp->topic);
                printf(",\"partition\":%d,\"current_offset\":", tp->partition);
                if (has) printf("%" PRId64, tp->offset);
                else printf("null");
                printf(",\"log_end_offset\":");
                if (hi >= 0) printf("%" PRId64, hi);
                else printf("null");
                printf(",\"lag\":");
                if (lag >= 0) printf("%" PRId64, lag);
                else printf("null");
                printf(",\"consumer_id\":");
                kn_cli_json_str(stdout, own[r].consumer_id);
                printf(",\"host\":");
                kn_cli_json_str(stdout, own[r].host);
                printf(",\"client_id\":");
                kn_cli_json_str(stdout, own[r].client_id);
                printf("}");
            } else {
                char cur[24] = "-", end[24] = "-", lags[24] = "-";
                if (has) snprintf(cur, sizeof(cur), "%" PRId64, tp->offset);
                if (hi >= 0) snprintf(end, sizeof(end), "%" PRId64, hi);
                if (lag >= 0) snprintf(lags, sizeof(lags), "%" PRId64, lag);
                printf("%-24s %-24s %9d %14s %14s %8s  %-40s %-18s %s\n", id, tp->topic, tp->partition, cur, end,
                       lags, own[r].consumer_id ? own[r].consumer_id : "-", own[r].host ? own[r].host : "-",
                       own[r].client_id ? own[r].client_id : "-");
            }
        }
        if (cli->json) printf("]}");
        else if (rows->cnt == 0) printf("(no committed offsets and no assignments)\n");
        free(own);
        rd_kafka_topic_partition_list_destroy(rows);
        rd_kafka_topic_partition_list_destroy(com);
    }
    if (cli->json) printf("]\n");
    rd_kafka_event_destroy(ev);
    return rc;
}

/* ---- reset-offsets ---- */

static int add_topic_spec(kn_cli_t *cli, const struct rd_kafka_metadata *md, const char *spec,
                          rd_kafka_topic_partition_list_t *l) {
    char name[256];
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    if (nl == 0 || nl >= sizeof(name)) {
        kn_cli_err(cli, "--topic: bad value '%s'", spec);
        return KN_CLI_USAGE;
    }
    memcpy(name, spec, nl);
    name[nl] = '\0';
    const struct rd_kafka_metadata_topic *t = kn_cli_md_topic(md, name);
    if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        kn_cli_err(cli, "topic '%s' does not exist", name);
        return KN_CLI_NOT_FOUND;
    }
    if (!colon) {
        for (int i = 0; i < t->partition_cnt; i++)
            rd_kafka_topic_partition_list_add(l, name, t->partitions[i].id);
        return KN_CLI_OK;
    }
    const char *p = colon + 1;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || v < 0) {
            kn_cli_err(cli, "--topic: bad partition list in '%s'", spec);
            return KN_CLI_USAGE;
        }
        bool found = false;
        for (int i = 0; i < t->partition_cnt; i++) found |= t->partitions[i].id == v;
        if (!found) {
            kn_cli_err(cli, "topic %s has no partition %ld", name, v);
            return KN_CLI_NOT_FOUND;
        }
        rd_kafka_topic_partition_list_add(l, name, (int32_t)v);
        p = *end ? end + 1 : end;
    }
    return KN_CLI_OK;
}

static int group_reset(kn_cli_t *cli, rd_kafka_t *rk, group_opts_t *o) {
    const char *group = o->names[0];
    rd_kafka_event_t *ev = NULL;
    size_t cnt = 0;
    const rd_kafka_ConsumerGroupDescription_t **gd = describe_groups(cli, rk, o->names, 1, &ev, &cnt);
    if (!ev) return KN_CLI_FAIL;
    if (cnt != 1 || rd_kafka_ConsumerGroupDescription_error(gd[0])) {
        kn_cli_err(cli, "%s: %s", group,
                   cnt == 1 ? rd_kafka_error_string(rd_kafka_ConsumerGroupDescription_error(gd[0])) : "no answer");
        rd_kafka_event_destroy(ev);
        return KN_CLI_FAIL;
    }
    rd_kafka_consumer_group_state_t st = rd_kafka_ConsumerGroupDescription_state(gd[0]);
    size_t nm = rd_kafka_ConsumerGroupDescription_member_count(gd[0]);
    rd_kafka_event_destroy(ev);
    if (nm > 0 || (st != RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY && st != RD_KAFKA_CONSUMER_GROUP_STATE_DEAD)) {
        kn_cli_err(cli, "group %s is %s with %zu member%s: offsets can only be reset when the group is inactive "
                        "(stop its consumers first)",
                   group, state_name(st), nm, nm == 1 ? "" : "s");
        return KN_CLI_FAIL;
    }
    rd_kafka_topic_partition_list_t *com = committed_offsets(cli, rk, group);
    if (!com) return KN_CLI_FAIL;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    int rc = KN_CLI_OK;
    if (o->all_topics) {
        for (int i = 0; i < com->cnt; i++)
            rd_kafka_topic_partition_list_add(l, com->elems[i].topic, com->elems[i].partition);
        if (l->cnt == 0) {
            kn_cli_err(cli, "group %s has no committed offsets; name topics with --topic", group);
            rc = KN_CLI_NOT_FOUND;
        }
    } else {
        const struct rd_kafka_metadata *md = NULL;
        rc = kn_cli_metadata(cli, rk, true, NULL, &md);
        for (int i = 0; !rc && i < o->ntopics; i++) rc = add_topic_spec(cli, md, o->topics[i], l);
        if (md) rd_kafka_metadata_destroy(md);
    }
    if (rc) goto out;
    if ((size_t)l->cnt > 1) qsort(l->elems, (size_t)l->cnt, sizeof(l->elems[0]), cmp_tp);
    /* Time lookups in one ListOffsets round. */
    rd_kafka_topic_partition_list_t *bytime = NULL;
    if (o->mode == OPT_TO_DATETIME) {
        bytime = rd_kafka_topic_partition_list_copy(l);
        for (int i = 0; i < bytime->cnt; i++) bytime->elems[i].offset = o->ts;
        rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, bytime, cli->timeout_ms);
        if (e) {
            kn_cli_err(cli, "offsets for time: %s", rd_kafka_err2str(e));
            rd_kafka_topic_partition_list_destroy(bytime);
            rc = KN_CLI_FAIL;
            goto out;
        }
    }
    for (int i = 0; i < l->cnt && !rc; i++) {
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        int64_t lo, hi;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, tp->topic, tp->partition, &lo, &hi,
                                                                 cli->timeout_ms);
        if (e) {
            kn_cli_err(cli, "%s-%d: watermarks: %s", tp->topic, tp->partition, rd_kafka_err2str(e));
            rc = KN_CLI_FAIL;
            break;
        }
        rd_kafka_topic_partition_t *c = rd_kafka_topic_partition_list_find(com, tp->topic, tp->partition);
        int64_t cur = c && c->offset >= 0 ? c->offset : hi; /* no commit: as auto.offset.reset=latest */
        int64_t v;
        switch (o->mode) {
        case OPT_EARLIEST: v = lo; break;
        case OPT_LATEST: v = hi; break;
        case OPT_TO_OFFSET: v = o->value; break;
        case OPT_SHIFT: v = cur + o->value; break;
        default: {
            rd_kafka_topic_partition_t *b = rd_kafka_topic_partition_list_find(bytime, tp->topic, tp->partition);
            v = b && !b->err && b->offset >= 0 ? b->offset : hi;
        }
        }
        tp->offset = v < lo ? lo : v > hi ? hi : v;
    }
    if (bytime) rd_kafka_topic_partition_list_destroy(bytime);
    if (rc) goto out;
    if (cli->json) {
        printf("{\"group\":");
        kn_cli_json_str(stdout, group);
        printf(",\"dry_run\":%s,\"offsets\":[", o->dry_run ? "true" : "false");
    }
    else printf("%-24s %-24s %9s %14s\n", "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET");
    for (int i = 0; i < l->cnt; i++) {
        if (cli->json) {
            printf("%s{\"topic\":", i ? "," : "");
            kn_cli_json_str(stdout, l->elems[i].topic);
            printf(",\"partition\":%d,\"new_offset\":%" PRId64 "}", l->elems[i].partition, l->elems[i].offset);
        } else {
            printf("%-24s %-24s %9d %14" PRId64 "\n", group, l->elems[i].topic, l->elems[i].partition,
                   l->elems[i].offset);
        }
    }
    if (cli->json) printf("]}\n");
    if (o->dry_run) {
        if (!cli->json) printf("(dry run: nothing committed)\n");
        goto out;
    }
    rd_kafka_AlterConsumerGroupOffsets_t *ac = rd_kafka_AlterConsumerGroupOffsets_new(group, l);
    rd_kafka_AdminOptions_t *ao = kn_cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AlterConsumerGroupOffsets(rk, &ac, 1, ao, q);
    rd_kafka_event_t *aev = kn_cli_admin_wait(cli, q, "OffsetCommit");
    rc = KN_CLI_FAIL;
    if (aev) {
        size_t n = 0;
        const rd_kafka_group_result_t **gr =
            rd_kafka_AlterConsumerGroupOffsets_result_groups(rd_kafka_event_AlterConsumerGroupOffsets_result(aev), &n);
        if (n == 1 && rd_kafka_group_result_error(gr[0])) {
            kn_cli_err(cli, "%s: %s", group, rd_kafka_error_string(rd_kafka_group_result_error(gr[0])));
        } else if (n == 1) {
            const rd_kafka_topic_partition_list_t *pl = rd_kafka_group_result_partitions(gr[0]);
            rc = KN_CLI_OK;
            for (int i = 0; pl && i < pl->cnt; i++)
                if (pl->elems[i].err) {
                    kn_cli_err(cli, "%s-%d: %s", pl->elems[i].topic, pl->elems[i].partition,
                               rd_kafka_err2str(pl->elems[i].err));
                    rc = KN_CLI_FAIL;
                }
        }
        rd_kafka_event_destroy(aev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_AlterConsumerGroupOffsets_destroy(ac);
out:
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_topic_partition_list_destroy(com);
    return rc;
}

/* ---- delete ---- */

static int group_delete(kn_cli_t *cli, rd_kafka_t *rk, group_opts_t *o) {
    rd_kafka_DeleteGroup_t **dg = calloc((size_t)o->nnames, sizeof(*dg));
    if (!dg) abort();
    for (int i = 0; i < o->nnames; i++) dg[i] = rd_kafka_DeleteGroup_new(o->names[i]);
    rd_kafka_AdminOptions_t *ao = kn_cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteGroups(rk, dg, (size_t)o->nnames, ao, q);
    rd_kafka_event_t *ev = kn_cli_admin_wait(cli, q, "DeleteGroups");
    int rc = ev ? KN_CLI_OK : KN_CLI_FAIL;
    if (ev) {
        size_t n = 0;
        const rd_kafka_group_result_t **gr =
            rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
        if (cli->json) printf("[");
        for (size_t i = 0; i < n; i++) {
            const char *name = rd_kafka_group_result_name(gr[i]);
            const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[i]);
            if (cli->json) {
                printf("%s{\"group\":", i ? "," : "");
                kn_cli_json_str(stdout, name);
                printf(",\"deleted\":%s,\"error\":", e ? "false" : "true");
                kn_cli_json_str(stdout, e ? rd_kafka_error_name(e) : NULL);
                printf("}");
            }
            if (!e) {
                if (!cli->json) printf("Deleted group %s.\n", name);
                continue;
            }
            kn_cli_err(cli, "%s: %s", name, rd_kafka_error_string(e));
            if (rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
                if (rc == KN_CLI_OK) rc = KN_CLI_NOT_FOUND;
            } else {
                rc = KN_CLI_FAIL;
            }
        }
        if (cli->json) printf("]\n");
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    for (int i = 0; i < o->nnames; i++) rd_kafka_DeleteGroup_destroy(dg[i]);
    free(dg);
    return rc;
}

int kn_cli_group_main(kn_cli_t *cli, int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage_group(argc < 2 ? stderr : stdout);
        return argc < 2 ? KN_CLI_USAGE : KN_CLI_OK;
    }
    static const char *const subs[] = {"list", "describe", "reset-offsets", "delete"};
    static const char *const cmds[] = {"group list", "group describe", "group reset-offsets", "group delete"};
    int which = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(argv[1], subs[i])) which = i;
    cli->cmd = "group";
    if (which < 0) {
        kn_cli_err(cli, "unknown subcommand '%s'", argv[1]);
        usage_group(stderr);
        return KN_CLI_USAGE;
    }
    cli->cmd = cmds[which];
    static const struct option opts[] = {
        KN_CLI_LONGOPTS,
        {"topic", required_argument, NULL, OPT_TOPIC},
        {"all-topics", no_argument, NULL, OPT_ALL_TOPICS},
        {"to-earliest", no_argument, NULL, OPT_EARLIEST},
        {"to-latest", no_argument, NULL, OPT_LATEST},
        {"to-offset", required_argument, NULL, OPT_TO_OFFSET},
        {"to-datetime", required_argument, NULL, OPT_TO_DATETIME},
        {"shift-by", required_argument, NULL, OPT_SHIFT},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"execute", no_argument, NULL, OPT_EXECUTE},
        {NULL, 0, NULL, 0},
    };
    group_opts_t o;
    memset(&o, 0, sizeof(o));
    o.topics = calloc((size_t)argc, sizeof(char *));
    if (!o.topics) abort();
    int rc = KN_CLI_OK, c, nmodes = 0;
    while ((c = getopt_long(argc - 1, argv + 1, KN_CLI_SHORTOPTS, opts, NULL)) != -1) {
        if (kn_cli_common_opt(cli, c, optarg, &rc)) {
            if (rc) goto out;
            continue;
        }
        if (c >= OPT_TOPIC && which != 2) {
            kn_cli_err(cli, "option only valid for reset-offsets (see kanal group --help)");
            rc = KN_CLI_USAGE;
            goto out;
        }
        switch (c) {
        case 'h': usage_group(stdout); goto out;
        case OPT_TOPIC: o.topics[o.ntopics++] = optarg; break;
        case OPT_ALL_TOPICS: o.all_topics = true; break;
        case OPT_EARLIEST:
        case OPT_LATEST: o.mode = c, nmodes++; break;
        case OPT_TO_OFFSET:
            o.mode = c, nmodes++;
            if (kn_cli_parse_ll(cli, "--to-offset", optarg, 0, INT64_MAX, &o.value)) rc = KN_CLI_USAGE;
            break;
        case OPT_SHIFT:
            o.mode = c, nmodes++;
            if (kn_cli_parse_ll(cli, "--shift-by", optarg, INT64_MIN / 4, INT64_MAX / 4, &o.value)) rc = KN_CLI_USAGE;
            break;
        case OPT_TO_DATETIME:
            o.mode = c, nmodes++;
            if (kn_cli_parse_time(optarg, &o.ts) < 0) {
                kn_cli_err(cli, "--to-datetime: cannot read '%s' as a time (see --help)", optarg);
                rc = KN_CLI_USAGE;
            }
            break;
        case OPT_DRY_RUN: o.dry_run = true; break;
        case OPT_EXECUTE: break; /* kafka-consumer-groups habit; executing is the default */
        default:
            fprintf(stderr, "(`kanal group --help` lists the options)\n");
            rc = KN_CLI_USAGE;
            goto out;
        }
        if (rc) goto out;
    }
    o.names = argv + 1 + optind;
    o.nnames = argc - 1 - optind;
    if (which == 0 && o.nnames) {
        kn_cli_err(cli, "takes no group names");
        rc = KN_CLI_USAGE;
    } else if ((which == 1 || which == 3) && o.nnames < 1) {
        kn_cli_err(cli, "needs at least one group name");
        rc = KN_CLI_USAGE;
    } else if (which == 2 && (o.nnames != 1 || nmodes != 1 || (o.ntopics == 0) == !o.all_topics)) {
        kn_cli_err(cli, "needs one group, --topic or --all-topics, and exactly one of --to-earliest, --to-latest, "
                        "--to-offset, --to-datetime, --shift-by");
        rc = KN_CLI_USAGE;
    }
    if (rc) goto out;
    rd_kafka_t *rk = kn_cli_client(cli, RD_KAFKA_PRODUCER, NULL);
    if (!rk) {
        rc = KN_CLI_USAGE;
        goto out;
    }
    const struct rd_kafka_metadata *md;
    rc = kn_cli_metadata(cli, rk, false, NULL, &md);
    if (!rc) {
        rd_kafka_metadata_destroy(md);
        switch (which) {
        case 0: rc = group_list(cli, rk); break;
        case 1: rc = group_describe(cli, rk, &o); break;
        case 2: rc = group_reset(cli, rk, &o); break;
        default: rc = group_delete(cli, rk, &o); break;
        }
    }
    rd_kafka_destroy(rk);
out:
    free(o.topics);
    return rc;
}
