/* `kanal topic create|list|describe|delete|alter|add-partitions`, on
 * librdkafka's admin API and Metadata.
 *
 * alter: librdkafka 2.0 has no IncrementalAlterConfigs, and AlterConfigs
 * replaces a topic's whole override set, so alter reads the current
 * overrides (DescribeConfigs, source DYNAMIC_TOPIC_CONFIG), applies the
 * changes and writes the complete set back. Two concurrent alters of the same
 * topic can lose one another's change (docs/cli.md). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

enum {
    OPT_PARTITIONS = KN_OPT__LAST, OPT_RF, OPT_CONFIG, OPT_IF_NOT_EXISTS, OPT_IF_EXISTS, OPT_INTERNAL, OPT_SET,
    OPT_DELETE_CFG, OPT_URP, OPT_UNAVAILABLE,
};

static void usage_topic(FILE *f) {
    fprintf(f, "Usage: kanal topic SUBCOMMAND [OPTIONS]\n"
               "\n"
               "  create NAME [--partitions N] [--replication-factor N] [--config KEY=VALUE]... [--if-not-exists]\n"
               "  list [--internal]\n"
               "  describe [NAME...] [--under-replicated-partitions] [--unavailable-partitions]\n"
               "  delete NAME... [--if-exists]\n"
               "  alter NAME [--set KEY=VALUE]... [--delete KEY]...\n"
               "  add-partitions NAME --partitions TOTAL\n"
               "\n"
               "describe prints leader, replicas and ISR per partition and the topic's\n"
               "non-default configs, like kafka-topics --describe. Without --partitions\n"
               "or --replication-factor, create uses the broker's defaults.\n"
               "\n" KN_CLI_COMMON_HELP);
}

static const struct option topic_opts[] = {
    KN_CLI_LONGOPTS,
    {"partitions", required_argument, NULL, OPT_PARTITIONS},
    {"replication-factor", required_argument, NULL, OPT_RF},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"if-not-exists", no_argument, NULL, OPT_IF_NOT_EXISTS},
    {"if-exists", no_argument, NULL, OPT_IF_EXISTS},
    {"internal", no_argument, NULL, OPT_INTERNAL},
    {"set", required_argument, NULL, OPT_SET},
    {"delete", required_argument, NULL, OPT_DELETE_CFG},
    {"under-replicated-partitions", no_argument, NULL, OPT_URP},
    {"unavailable-partitions", no_argument, NULL, OPT_UNAVAILABLE},
    {NULL, 0, NULL, 0},
};

typedef struct {
    long long partitions, rf;
    const char **cfg; /* KEY=VALUE, borrowed from argv */
    int ncfg;
    const char **del;
    int ndel;
    bool if_not_exists, if_exists, internal, urp, unavailable;
    char **names;
    int nnames;
} topic_opts_t;

static int split_kv(const kn_cli_t *cli, const char *kv, char *key, size_t ksz, const char **val) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv || (size_t)(eq - kv) >= ksz) {
        kn_cli_err(cli, "'%s' is not KEY=VALUE", kv);
        return -1;
    }
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    *val = eq + 1;
    return 0;
}

/* ---- create ---- */

static int topic_create(kn_cli_t *cli, rd_kafka_t *rk, topic_opts_t *o) {
    if (o->nnames != 1) {
        kn_cli_err(cli, "needs exactly one topic name (see --help)");
        return KN_CLI_USAGE;
    }
    char err[512];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(o->names[0], (int)o->partitions, (int)o->rf, err, sizeof(err));
    if (!nt) {
        kn_cli_err(cli, "%s: %s", o->names[0], err);
        return KN_CLI_USAGE;
    }
    for (int i = 0; i < o->ncfg; i++) {
        char key[256];
        const char *val;
        if (split_kv(cli, o->cfg[i], key, sizeof(key), &val) < 0) {
            rd_kafka_NewTopic_destroy(nt);
            return KN_CLI_USAGE;
        }
        rd_kafka_NewTopic_set_config(nt, key, val);
    }
    rd_kafka_AdminOptions_t *ao = kn_cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t *ev = kn_cli_admin_wait(cli, q, "CreateTopics");
    int rc = KN_CLI_FAIL;
    if (ev) {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        rd_kafka_resp_err_t e = cnt ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR__FAIL;
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (!cli->json) printf("Created topic %s.\n", o->names[0]);
            rc = KN_CLI_OK;
        } else if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && o->if_not_exists) {
            if (!cli->json) printf("Topic %s already exists.\n", o->names[0]);
            rc = KN_CLI_OK;
        } else {
            const char *m = cnt ? rd_kafka_topic_result_error_string(tr[0]) : NULL;
            kn_cli_err(cli, "%s: %s%s%s", o->names[0], rd_kafka_err2name(e), m && *m ? ": " : "", m ? m : "");
        }
        if (cli->json) {
            printf("{\"topic\":");
            kn_cli_json_str(stdout, o->names[0]);
            printf(",\"created\":%s,\"error\":", rc == KN_CLI_OK && e == 0 ? "true" : "false");
            kn_cli_json_str(stdout, e ? rd_kafka_err2name(e) : NULL);
            printf("}\n");
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* ---- list ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int cmp_md_topic(const void *a, const void *b) {
    return strcmp(((const struct rd_kafka_metadata_topic *)a)->topic,
                  ((const struct rd_kafka_metadata_topic *)b)->topic);
}

static bool internal_topic(const char *name) { return name[0] == '_' && name[1] == '_'; }

static int topic_list(kn_cli_t *cli, rd_kafka_t *rk, topic_opts_t *o) {
    const struct rd_kafka_metadata *md;
    int rc = kn_cli_metadata(cli, rk, true, NULL, &md);
    if (rc) return rc;
    struct rd_kafka_metadata_topic *ts = calloc((size_t)md->topic_cnt + 1, sizeof(*ts));
    if (!ts) abort();
    int n = 0;
    for (int i = 0; i < md->topic_cnt; i++) {
        if (!o->internal && internal_topic(md->topics[i].topic)) continue;
        ts[n++] = md->topics[i];
    }
    if ((size_t)n > 1) qsort(ts, (size_t)n, sizeof(*ts), cmp_md_topic);
    if (cli->json) printf("[");
    for (int i = 0; i < n; i++) {
        if (cli->json) {
            int rf = ts[i].partition_cnt > 0 ? ts[i].partitions[0].replica_cnt : 0;
            printf("%s{\"name\":", i ? "," : "");
            kn_cli_json_str(stdout, ts[i].topic);
            printf(",\"partitions\":%d,\"replication_factor\":%d}", ts[i].partition_cnt, rf);
        } else {
            printf("%s\n", ts[i].topic);
        }
    }
    if (cli->json) printf("]\n");
    free(ts);
    rd_kafka_metadata_destroy(md);
    return KN_CLI_OK;
}

/* ---- describe ---- */

typedef struct {
    char *name, *value;
} kv_t;

typedef struct {
    kv_t *kv;
    int n;
    rd_kafka_resp_err_t err;
    char errstr[256];
} cfgset_t;

static void cfgset_free(cfgset_t *c) {
    for (int i = 0; i < c->n; i++) {
        free(c->kv[i].name);
        free(c->kv[i].value);
    }
    free(c->kv);
    memset(c, 0, sizeof(*c));
}

static void cfgset_put(cfgset_t *c, const char *name, const char *value) {
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->kv[i].name, name)) {
            free(c->kv[i].value);
            c->kv[i].value = strdup(value ? value : "");
            return;
        }
    kv_t *n = realloc(c->kv, sizeof(*n) * (size_t)(c->n + 1));
    if (!n) abort();
    c->kv = n;
    c->kv[c->n].name = strdup(name);
    c->kv[c->n].value = strdup(value ? value : "");
    c->n++;
}

static bool cfgset_del(cfgset_t *c, const char *name) {
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->kv[i].name, name)) {
            free(c->kv[i].name);
            free(c->kv[i].value);
            c->kv[i] = c->kv[--c->n];
            return true;
        }
    return false;
}

static int cmp_kv(const void *a, const void *b) { return strcmp(((const kv_t *)a)->name, ((const kv_t *)b)->name); }

/* The topic-level overrides of each topic (entries whose source is the
 * topic's dynamic config; brokers answering DescribeConfigs v0 give no source,
 * then !is_default). out[i] for names[i]. Returns 0, or a KN_CLI_* code when
 * the call as a whole failed. */
static int describe_overrides(kn_cli_t *cli, rd_kafka_t *rk, char **names, int n, cfgset_t *out) {
    rd_kafka_ConfigResource_t **res = calloc((size_t)n, sizeof(*res));
    if (!res) abort();
    for (int i = 0; i < n; i++) res[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, names[i]);
    rd_kafka_AdminOptions_t *ao = kn_cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, res, (size_t)n, ao, q);
    rd_kafka_event_t *ev = kn_cli_admin_wait(cli, q, "DescribeConfigs");
    int rc = KN_CLI_FAIL;
    if (ev) {
        size_t cnt = 0;
        const rd_kafka_ConfigResource_t **rr =
            rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
            const char *rn = rd_kafka_ConfigResource_name(rr[i]);
            int idx = -1;
            for (int j = 0; j < n; j++)
                if (!strcmp(names[j], rn)) idx = j;
            if (idx < 0) continue;
            out[idx].err = rd_kafka_ConfigResource_error(rr[i]);
            if (out[idx].err) {
                const char *s = rd_kafka_ConfigResource_error_string(rr[i]);
                snprintf(out[idx].errstr, sizeof(out[idx].errstr), "%s", s ? s : rd_kafka_err2str(out[idx].err));
                continue;
            }
            size_t ne = 0;
            const rd_kafka_ConfigEntry_t **es = rd_kafka_ConfigResource_configs(rr[i], &ne);
            for (size_t k = 0; k < ne; k++) {
                rd_kafka_ConfigSource_t src = rd_kafka_ConfigEntry_source(es[k]);
                bool over = src == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG ||
                            (src == RD_KAFKA_CONFIG_SOURCE_UNKNOWN_CONFIG && !rd_kafka_ConfigEntry_is_default(es[k]));
                if (over && !rd_kafka_ConfigEntry_is_sensitive(es[k]))
                    cfgset_put(&out[idx], rd_kafka_ConfigEntry_name(es[k]), rd_kafka_ConfigEntry_value(es[k]));
            }
            if (out[idx].n > 1) qsort(out[idx].kv, (size_t)out[idx].n, sizeof(kv_t), cmp_kv);
        }
        rc = KN_CLI_OK;
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    for (int i = 0; i < n; i++) rd_kafka_ConfigResource_destroy(res[i]);
    free(res);
    return rc;
}

static void print_ids(FILE *f, const int32_t *ids, int n, bool json) {
    if (json) fputc('[', f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? "," : "", ids[i]);
    if (json) fputc(']', f);
}

static bool part_urp(const struct rd_kafka_metadata_partition *p) { return p->isr_cnt < p->replica_cnt; }
static bool part_offline(const struct rd_kafka_metadata_partition *p) { return p->leader < 0; }

static int topic_describe(kn_cli_t *cli, rd_kafka_t *rk, topic_opts_t *o) {
    const struct rd_kafka_metadata *md;
    /* All topics: asking for named ones would auto-create them. */
    int rc = kn_cli_metadata(cli, rk, true, NULL, &md);
    if (rc) return rc;
    char **names = NULL;
    int n = 0;
    rc = KN_CLI_OK;
    if (o->nnames) {
        names = calloc((size_t)o->nnames, sizeof(*names));
        if (!names) abort();
        for (int i = 0; i < o->nnames; i++) {
            const struct rd_kafka_metadata_topic *t = kn_cli_md_topic(md, o->names[i]);
            if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                kn_cli_err(cli, "topic '%s' does not exist", o->names[i]);
                rc = KN_CLI_NOT_FOUND;
                continue;
            }
            names[n++] = o->names[i];
        }
    } else {
        names = calloc((size_t)md->topic_cnt + 1, sizeof(*names));
        if (!names) abort();
        for (int i = 0; i < md->topic_cnt; i++)
            if (o->internal || !internal_topic(md->topics[i].topic)) names[n++] = md->topics[i].topic;
        if ((size_t)n > 1) qsort(names, (size_t)n, sizeof(*names), cmp_str);
    }
    cfgset_t *cfg = calloc((size_t)n + 1, sizeof(*cfg));
    if (!cfg) abort();
    if (n && describe_overrides(cli, rk, names, n, cfg) != KN_CLI_OK) rc = KN_CLI_FAIL;
    bool filter = o->urp || o->unavailable;
    if (cli->json) printf("[");
    for (int i = 0; i < n; i++) {
        const struct rd_kafka_metadata_topic *t = kn_cli_md_topic(md, names[i]);
        int rf = t->partition_cnt > 0 ? t->partitions[0].replica_cnt : 0;
        if (cli->json) {
            printf("%s{\"name\":", i ? "," : "");
            kn_cli_json_str(stdout, t->topic);
            printf(",\"partition_count\":%d,\"replication_factor\":%d,\"error\":", t->partition_cnt, rf);
            kn_cli_json_str(stdout, t->err ? rd_kafka_err2name(t->err) : NULL);
            printf(",\"configs\":{");
            for (int k = 0; k < cfg[i].n; k++) {
                printf("%s", k ? "," : "");
                kn_cli_json_str(stdout, cfg[i].kv[k].name);
                printf(":");
                kn_cli_json_str(stdout, cfg[i].kv[k].value);
            }
            printf("},\"partitions\":[");
        } else if (!filter) {
            printf("Topic: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: ", t->topic, t->partition_cnt, rf);
            for (int k = 0; k < cfg[i].n; k++)
                printf("%s%s=%s", k ? "," : "", cfg[i].kv[k].name, cfg[i].kv[k].value);
            if (cfg[i].err) printf("(%s)", cfg[i].errstr);
            if (t->err) printf("\tError: %s", rd_kafka_err2name(t->err));
            printf("\n");
        }
        int shown = 0;
        for (int p = 0; p < t->partition_cnt; p++) {
            /* Metadata lists partitions in any order; print by id. */
            const struct rd_kafka_metadata_partition *mp = NULL;
            for (int q = 0; q < t->partition_cnt; q++)
                if (t->partitions[q].id == p) mp = &t->partitions[q];
            if (!mp) continue;
            if (filter && !((o->urp && part_urp(mp)) || (o->unavailable && part_offline(mp)))) continue;
            if (cli->json) {
                printf("%s{\"partition\":%d,\"leader\":%d,\"replicas\":", shown ? "," : "", mp->id, mp->leader);
                print_ids(stdout, mp->replicas, mp->replica_cnt, true);
                printf(",\"isr\":");
                print_ids(stdout, mp->isrs, mp->isr_cnt, true);
                printf(",\"error\":");
                kn_cli_json_str(stdout, mp->err ? rd_kafka_err2name(mp->err) : NULL);
                printf("}");
            } else {
                printf("\tTopic: %s\tPartition: %d\tLeader: %d\tReplicas: ", t->topic, mp->id, mp->leader);
                print_ids(stdout, mp->replicas, mp->replica_cnt, false);
                printf("\tIsr: ");
                print_ids(stdout, mp->isrs, mp->isr_cnt, false);
                if (mp->err && mp->err != RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE)
                    printf("\tError: %s", rd_kafka_err2name(mp->err));
                printf("\n");
            }
            shown++;
        }
        if (cli->json) printf("]}");
    }
    if (cli->json) printf("]\n");
    for (int i = 0; i < n; i++) cfgset_free(&cfg[i]);
    free(cfg);
    free(names);
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* ---- delete ---- */

static int topic_delete(kn_cli_t *cli, rd_kafka_t *rk, topic_opts_t *o) {
    if (o->nnames < 1) {
        kn_cli_err(cli, "needs at least one topic name (see --help)");
        return KN_CLI_USAGE;
    }
    rd_kafka_DeleteTopic_t **dt = calloc((size_t)o->nnames, sizeof(*dt));
    if (!dt) abort();
    for (int i = 0; i < o->nnames; i++) dt[i] = rd_kafka_DeleteTopic_new(o->names[i]);
    rd_kafka_AdminOptions_t *ao = kn_cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, dt, (size_t)o->nnames, ao, q);
    rd_kafka_event_t *ev = kn_cli_admin_wait(cli, q, "DeleteTopics");
    int rc = ev ? KN_CLI_OK : KN_CLI_FAIL;
    if (ev) {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
        if (cli->json) printf("[");
        for (size_t i = 0; i < cnt; i++) {
            const char *name = rd_kafka_topic_result_name(tr[i]);
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
            bool missing = e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
            if (cli->json) {
                printf("%s{\"topic\":", i ? "," : "");
                kn_cli_json_str(stdout, name);
                printf(",\"deleted\":%s,\"error\":", e ? "false" : "true");
                kn_cli_json_str(stdout, e ? rd_kafka_err2name(e) : NULL);
                printf("}");
            }
            if (!e) {
                if (!cli->json) printf("Deleted topic %s.\n", name);
            } else if (missing && o->if_exists) {
                if (!cli->json) printf("Topic %s does not exist.\n", name);
            } else {
                const char *m = rd_kafka_topic_result_error_string(tr[i]);
                kn_cli_err(cli, "%s: %s%s%s", name, rd_kafka_err2name(e), m && *m ? ": " : "", m ? m : "");
                int want = missing ? KN_CLI_NOT_FOUND : KN_CLI_FAIL;
                if (rc == KN_CLI_OK || want == KN_CLI_FAIL) rc = want;
            }
        }
        if (cli->json) printf("]\n");
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    for (int i = 0; i < o->nnames; i++) rd_kafka_DeleteTopic_destroy(dt[i]);
    free(dt);
    return rc;
}

/* ---- alter (read-modify-write of the override set) ---- */

static int topic_alter(kn_cli_t *cli, rd_kafka_t *rk, topic_opts_t *o) {
    if (o->nnames != 1 || (o->ncfg == 0 && o->ndel == 0)) {
        kn_cli_err(cli, "needs one topic name and at least one --set or --delete (see --help)");
        return KN_CLI_USAGE;
    }
    const struct rd_kafka_metadata *md;
    int rc = kn_cli_metadata(cli, rk, true, NULL, &md);
    if (rc) return rc;
    bool exists = kn_cli_md_topic(md, o->names[0]) != NULL;
    rd_kafka_metadata_destroy(md);
    if (!exists) {
        kn_cli_err(cli, "topic '%s' does not exist", o->names[0]);
        return KN_CLI_NOT_FOUND;
    }
    cfgset_t cur;
    memset(&cur, 0, sizeof(cur));
    rc = describe_overrides(cli, rk, o->names, 1, &cur);
    if (rc) return rc;
    if (cur.err) {
        kn_cli_err(cli, "%s: DescribeConfigs: %s", o->names[0], cur.errstr);
        cfgset_free(&cur);
        return cur.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? KN_CLI_NOT_FOUND : KN_CLI_FAIL;
    }
    for (int i = 0; i < o->ncfg; i++) {
        char key[256];
        const char *val;
        if (split_kv(cli, o->cfg[i], key, sizeof(key), &val) < 0) {
            cfgset_free(&cur);
            return KN_CLI_USAGE;
        }
        cfgset_put(&cur, key, val);
    }
    for (int i = 0; i < o->ndel; i++)
        if (!cfgset_del(&cur, o->del[i]) && !cli->json)
            fprintf(stderr, "kanal %s: note: %s had no override\n", cli->cmd, o->del[i]);
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, o->names[0]);
    for (int i = 0; i < cur.n; i++) rd_kafka_ConfigResource_set_config(res, cur.kv[i].name, cur.kv[i].value);
    rd_kafka_AdminOptions_t *ao = kn_cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AlterConfigs(rk, &res, 1, ao, q);
    rd_kafka_event_t *ev = kn_cli_admin_wait(cli, q, "AlterConfigs");
    rc = KN_CLI_FAIL;
    if (ev) {
        size_t cnt = 0;
        const rd_kafka_ConfigResource_t **rr =
            rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &cnt);
        rd_kafka_resp_err_t e = cnt ? rd_kafka_ConfigResource_error(rr[0]) : RD_KAFKA_RESP_ERR__FAIL;
        if (!e) {
            rc = KN_CLI_OK;
            if (cli->json) {
                printf("{\"topic\":");
                kn_cli_json_str(stdout, o->names[0]);
                printf(",\"configs\":{");
                for (int k = 0; k < cur.n; k++) {
                    printf("%s", k ? "," : "");
                    kn_cli_json_str(stdout, cur.kv[k].name);
                    printf(":");
                    kn_cli_json_str(stdout, cur.kv[k].value);
                }
                printf("}}\n");
            } else {
                printf("Updated config of topic %s; overrides now: ", o->names[0]);
                for (int k = 0; k < cur.n; k++) printf("%s%s=%s", k ? "," : "", cur.kv[k].name, cur.kv[k].value);
                printf("%s\n", cur.n ? "" : "(none)");
            }
        } else {
            const char *m = cnt ? rd_kafka_ConfigResource_error_string(rr[0]) : NULL;
            kn_cli_err(cli, "%s: %s%s%s", o->names[0], rd_kafka_err2name(e), m && *m ? ": " : "", m ? m : "");
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_ConfigResource_destroy(res);
    cfgset_free(&cur);
    return rc;
}

/* ---- add-partitions ---- */

static int topic_add_partitions(kn_cli_t *cli, rd_kafka_t *rk, topic_opts_t *o) {
    if (o->nnames != 1 || o->partitions < 1) {
        kn_cli_err(cli, "needs one topic name and --partitions TOTAL (see --help)");
        return KN_CLI_USAGE;
    }
    char err[256];
    rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(o->names[0], (size_t)o->partitions, err, sizeof(err));
    if (!np) {
        kn_cli_err(cli, "%s: %s", o->names[0], err);
        return KN_CLI_USAGE;
    }
    rd_kafka_AdminOptions_t *ao = kn_cli_admin_options(cli, rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreatePartitions(rk, &np, 1, ao, q);
    rd_kafka_event_t *ev = kn_cli_admin_wait(cli, q, "CreatePartitions");
    int rc = KN_CLI_FAIL;
    if (ev) {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &cnt);
        rd_kafka_resp_err_t e = cnt ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR__FAIL;
        if (!e) {
            rc = KN_CLI_OK;
            if (cli->json) {
                printf("{\"topic\":");
                kn_cli_json_str(stdout, o->names[0]);
                printf(",\"partitions\":%lld}\n", o->partitions);
            } else {
                printf("Topic %s now has %lld partitions.\n", o->names[0], o->partitions);
            }
        } else {
            const char *m = cnt ? rd_kafka_topic_result_error_string(tr[0]) : NULL;
            kn_cli_err(cli, "%s: %s%s%s", o->names[0], rd_kafka_err2name(e), m && *m ? ": " : "", m ? m : "");
            if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) rc = KN_CLI_NOT_FOUND;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewPartitions_destroy(np);
    return rc;
}

int kn_cli_topic_main(kn_cli_t *cli, int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage_topic(argc < 2 ? stderr : stdout);
        return argc < 2 ? KN_CLI_USAGE : KN_CLI_OK;
    }
    const char *sub = argv[1];
    static const char *const subs[] = {"create", "list", "describe", "delete", "alter", "add-partitions"};
    static const char *const cmds[] = {"topic create", "topic list",  "topic describe",
                                       "topic delete", "topic alter", "topic add-partitions"};
    int which = -1;
    for (int i = 0; i < 6; i++)
        if (!strcmp(sub, subs[i])) which = i;
    cli->cmd = "topic";
    if (which < 0) {
        kn_cli_err(cli, "unknown subcommand '%s'", sub);
        usage_topic(stderr);
        return KN_CLI_USAGE;
    }
    cli->cmd = cmds[which];
    topic_opts_t o;
    memset(&o, 0, sizeof(o));
    o.partitions = -1;
    o.rf = -1;
    o.cfg = calloc((size_t)argc, sizeof(char *));
    o.del = calloc((size_t)argc, sizeof(char *));
    if (!o.cfg || !o.del) abort();
    int rc = KN_CLI_OK, c;
    while ((c = getopt_long(argc - 1, argv + 1, KN_CLI_SHORTOPTS, topic_opts, NULL)) != -1) {
        if (kn_cli_common_opt(cli, c, optarg, &rc)) {
            if (rc) goto out;
            continue;
        }
        switch (c) {
        case 'h': usage_topic(stdout); goto out;
        case OPT_PARTITIONS:
            if (kn_cli_parse_ll(cli, "--partitions", optarg, 1, 1000000, &o.partitions)) rc = KN_CLI_USAGE;
            break;
        case OPT_RF:
            if (kn_cli_parse_ll(cli, "--replication-factor", optarg, 1, 32767, &o.rf)) rc = KN_CLI_USAGE;
            break;
        case OPT_CONFIG:
        case OPT_SET:
            if (which != 0 && which != 4) goto badopt;
            o.cfg[o.ncfg++] = optarg;
            break;
        case OPT_DELETE_CFG:
            if (which != 4) goto badopt;
            o.del[o.ndel++] = optarg;
            break;
        case OPT_IF_NOT_EXISTS: o.if_not_exists = true; break;
        case OPT_IF_EXISTS: o.if_exists = true; break;
        case OPT_INTERNAL: o.internal = true; break;
        case OPT_URP: o.urp = true; break;
        case OPT_UNAVAILABLE: o.unavailable = true; break;
        default:
            rc = KN_CLI_USAGE;
            fprintf(stderr, "(`kanal topic --help` lists the options)\n");
            goto out;
        }
        if (rc) goto out;
        continue;
    badopt:
        kn_cli_err(cli, "option not valid here (see kanal topic --help)");
        rc = KN_CLI_USAGE;
        goto out;
    }
    o.names = argv + 1 + optind;
    o.nnames = argc - 1 - optind;
    if (which == 1 && o.nnames) {
        kn_cli_err(cli, "takes no topic names");
        rc = KN_CLI_USAGE;
        goto out;
    }
    static const char *const need[] = {"exactly one topic name", NULL, NULL, "at least one topic name",
                                       "one topic name and at least one --set or --delete",
                                       "one topic name and --partitions TOTAL"};
    bool ok = which == 0   ? o.nnames == 1
              : which == 3 ? o.nnames >= 1
              : which == 4 ? o.nnames == 1 && (o.ncfg || o.ndel)
              : which == 5 ? o.nnames == 1 && o.partitions >= 1
                           : true;
    if (!ok) {
        kn_cli_err(cli, "needs %s (see kanal topic --help)", need[which]);
        rc = KN_CLI_USAGE;
        goto out;
    }
    rd_kafka_t *rk = kn_cli_client(cli, RD_KAFKA_PRODUCER, NULL);
    if (!rk) {
        rc = KN_CLI_USAGE;
        goto out;
    }
    /* Admin calls wait for a controller without bound of their own: reach
     * the cluster first, so an unreachable one is reported as such. */
    if (which != 1 && which != 2 && which != 4) {
        const struct rd_kafka_metadata *md;
        rc = kn_cli_metadata(cli, rk, false, NULL, &md);
        if (!rc) rd_kafka_metadata_destroy(md);
        if (!rc) rc = kn_cli_wait_controller(cli, rk);
    }
    if (!rc) {
        switch (which) {
        case 0: rc = topic_create(cli, rk, &o); break;
        case 1: rc = topic_list(cli, rk, &o); break;
        case 2: rc = topic_describe(cli, rk, &o); break;
        case 3: rc = topic_delete(cli, rk, &o); break;
        case 4: rc = topic_alter(cli, rk, &o); break;
        default: rc = topic_add_partitions(cli, rk, &o); break;
        }
    }
    rd_kafka_destroy(rk);
out:
    free(o.cfg);
    free(o.del);
    return rc;
}
