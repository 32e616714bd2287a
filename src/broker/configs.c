/* Live configs and partition growth: AlterConfigs (API 33),
 * IncrementalAlterConfigs (API 44), CreatePartitions (API 37), and the
 * dynamic broker configs applied from /config/brokers.
 *
 * Config writes follow Kafka's ZK mode: any broker validates and writes
 * /config/topics/<t> or /config/brokers/<id|<default>> itself plus a change
 * notification (src/cluster/admin_ext.c). Every broker watches those znodes:
 * a topic change reaches topic_config.c through on_metadata_changed, a
 * broker change reaches kn_configs__apply_broker (called first by
 * kn_topic_config__apply_all, since topic defaults derive from it).
 * CreatePartitions is the controller's, and its reply waits (bounded by
 * timeout_ms) until the metadata cache shows every new partition led.
 * Loop thread only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "kanal/proto/gen/alter_configs.h"
#include "kanal/proto/gen/create_partitions.h"
#include "kanal/proto/gen/incremental_alter_configs.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/time.h"

enum { RES_TOPIC = 2, RES_BROKER = 4 };
enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3 };
enum { K_ALTER, K_INCREMENTAL, K_PARTITIONS };

typedef struct cfg_op_s {
    const char *name;
    const char *value; /* NULL for DELETE */
    int8_t op;
} cfg_op_t;

typedef struct cfg_item_s {
    /* CreatePartitions: topic; configs: resource */
    int8_t type;
    kn_str_t wire_name; /* echoed in the reply */
    char *name;         /* topic, "" (broker default) or our broker id */
    cfg_op_t *ops;
    int32_t nops;
    int32_t count;      /* CreatePartitions */
    int16_t err;
    const char *msg;
    bool pending;       /* ZooKeeper work in flight */
    bool wait_meta;     /* CreatePartitions written: wait for the cache */
} cfg_item_t;

typedef struct ticket_s ticket_t;

typedef struct cfg_state_s {
    kn_req_t *r;
    kn_req_t *next_waiter; /* b->cfg_waiters */
    int kind;
    cfg_item_t *items;
    int32_t nitems;
    int npending;
    int64_t deadline_ms;
    bool validate_only;
    bool replied;
    bool waiting;
    ticket_t *tickets; /* outstanding completions */
} cfg_state_t;

/* A completion may outlive its request (client gone): the ticket knows. */
struct ticket_s {
    cfg_state_t *st; /* NULL once the request is gone */
    int32_t idx;
    ticket_t *next;
};

static void *aalloc(kn_req_t *r, size_t n) {
    void *p = kn_arena_alloc(&r->arena, n ? n : 1);
    if (!p) {
        kn_log(KN_LOG_ERROR, NULL, "out of memory building a config reply");
        abort();
    }
    return p;
}

static char *astr(kn_req_t *r, const char *s) { return kn_arena_strndup(&r->arena, s, strlen(s)); }

static kn_str_t s_of(const char *c) { return c ? (kn_str_t){c, (int32_t)strlen(c)} : KN_STR_NULL; }

/* ---- request state, tickets, waiting ---- */

static void waiters_remove(kn_broker_t *b, kn_req_t *r) {
    kn_req_t **pp = &b->cfg_waiters;
    while (*pp) {
        if (*pp == r) {
            *pp = ((cfg_state_t *)r->state)->next_waiter;
            return;
        }
        pp = &((cfg_state_t *)(*pp)->state)->next_waiter;
    }
}

static void state_free(kn_req_t *r) {
    cfg_state_t *st = r->state;
    if (!st) return;
    if (st->waiting) waiters_remove(r->b, r);
    for (ticket_t *t = st->tickets; t; t = t->next) t->st = NULL;
}

static cfg_state_t *state_new(kn_req_t *r, int kind, int32_t n) {
    cfg_state_t *st = aalloc(r, sizeof(*st));
    memset(st, 0, sizeof(*st));
    st->r = r;
    st->kind = kind;
    st->nitems = n;
    st->items = aalloc(r, sizeof(cfg_item_t) * (size_t)(n > 0 ? n : 1));
    memset(st->items, 0, sizeof(cfg_item_t) * (size_t)(n > 0 ? n : 1));
    r->state = st;
    r->on_free = state_free;
    return st;
}

static ticket_t *ticket_new(cfg_state_t *st, int32_t idx) {
    ticket_t *t = kn_malloc(sizeof(*t));
    t->st = st;
    t->idx = idx;
    t->next = st->tickets;
    st->tickets = t;
    st->items[idx].pending = true;
    st->npending++;
    return t;
}

/* Unlink and free; returns the live state or NULL. */
static cfg_state_t *ticket_end(ticket_t *t) {
    cfg_state_t *st = t->st;
    if (st) {
        ticket_t **pp = &st->tickets;
        while (*pp && *pp != t) pp = &(*pp)->next;
        if (*pp) *pp = t->next;
    }
    kn_free(t);
    return st;
}

static void reply(cfg_state_t *st) {
    kn_req_t *r = st->r;
    if (st->replied) return;
    st->replied = true;
    if (st->waiting) {
        waiters_remove(r->b, r);
        st->waiting = false;
    }
    kn_req__begin_response(r);
    if (st->kind == K_PARTITIONS) {
        kn_CreatePartitionsResponse_t resp;
        kn_CreatePartitionsResponse_init(&resp);
        resp.results = aalloc(r, sizeof(*resp.results) * (size_t)(st->nitems > 0 ? st->nitems : 1));
        resp.results_count = st->nitems;
        for (int32_t i = 0; i < st->nitems; i++) {
            kn_CreatePartitionsResponse_CreatePartitionsTopicResult_t *t = &resp.results[i];
            kn_CreatePartitionsResponse_CreatePartitionsTopicResult_init(t);
            t->name = st->items[i].wire_name;
            t->error_code = st->items[i].err;
            t->error_message = st->items[i].err ? s_of(st->items[i].msg) : KN_STR_NULL;
        }
        kn_CreatePartitionsResponse_encode(&r->resp, r->api_version, &resp);
    } else if (st->kind == K_ALTER) {
        kn_AlterConfigsResponse_t resp;
        kn_AlterConfigsResponse_init(&resp);
        resp.responses = aalloc(r, sizeof(*resp.responses) * (size_t)(st->nitems > 0 ? st->nitems : 1));
        resp.responses_count = st->nitems;
        for (int32_t i = 0; i < st->nitems; i++) {
            kn_AlterConfigsResponse_AlterConfigsResourceResponse_t *t = &resp.responses[i];
            kn_AlterConfigsResponse_AlterConfigsResourceResponse_init(t);
            t->error_code = st->items[i].err;
            t->error_message = st->items[i].err ? s_of(st->items[i].msg) : KN_STR_NULL;
            t->resource_type = st->items[i].type;
            t->resource_name = st->items[i].wire_name;
        }
        kn_AlterConfigsResponse_encode(&r->resp, r->api_version, &resp);
    } else {
        kn_IncrementalAlterConfigsResponse_t resp;
        kn_IncrementalAlterConfigsResponse_init(&resp);
        resp.responses = aalloc(r, sizeof(*resp.responses) * (size_t)(st->nitems > 0 ? st->nitems : 1));
        resp.responses_count = st->nitems;
        for (int32_t i = 0; i < st->nitems; i++) {
            kn_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse_t *t = &resp.responses[i];
            kn_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse_init(t);
            t->error_code = st->items[i].err;
            t->error_message = st->items[i].err ? s_of(st->items[i].msg) : KN_STR_NULL;
            t->resource_type = st->items[i].type;
            t->resource_name = st->items[i].wire_name;
        }
        kn_IncrementalAlterConfigsResponse_encode(&r->resp, r->api_version, &resp);
    }
    kn_req__finish(r);
}

/* CreatePartitions is done when the cache shows count partitions, all led. */
static bool partitions_ready(kn_broker_t *b, const cfg_item_t *it) {
    const kn_topic_meta_t *t = kn_cluster_topic(b->cluster, it->name, strlen(it->name));
    if (!t || t->npartitions < it->count) return false;
    for (int32_t p = 0; p < t->npartitions; p++)
        if (t->parts[p].leader < 0) return false;
    return true;
}

static void check_done(cfg_state_t *st, int64_t now_ms) {
    if (st->replied || st->npending > 0) return;
    kn_broker_t *b = st->r->b;
    bool all = true;
    for (int32_t i = 0; i < st->nitems; i++) {
        cfg_item_t *it = &st->items[i];
        if (!it->wait_meta) continue;
        if (partitions_ready(b, it)) {
            it->wait_meta = false;
        } else if (now_ms >= st->deadline_ms || b->stopping) {
            /* Kafka: the operation goes on; the request timed out. */
            it->wait_meta = false;
            it->err = KN_KERR_REQUEST_TIMED_OUT;
            it->msg = "timed out waiting for the new partitions to get leaders";
        } else {
            all = false;
        }
    }
    if (all) {
        reply(st);
        return;
    }
    if (!st->waiting) {
        st->waiting = true;
        st->next_waiter = b->cfg_waiters;
        b->cfg_waiters = st->r;
    }
}

void kn_configs__metadata_changed(kn_broker_t *b) {
    int64_t now = kn_now_ms();
    kn_req_t *r = b->cfg_waiters;
    while (r) {
        kn_req_t *next = ((cfg_state_t *)r->state)->next_waiter;
        check_done(r->state, now);
        r = next;
    }
}

static void item_done(void *ud, int16_t kerr, const char *msg) {
    ticket_t *tk = ud;
    int32_t idx = tk->idx;
    cfg_state_t *st = ticket_end(tk);
    if (!st) return; /* the request is gone */
    cfg_item_t *it = &st->items[idx];
    it->pending = false;
    st->npending--;
    if (kerr) {
        it->err = kerr;
        it->msg = astr(st->r, msg ? msg : "");
    } else if (st->kind == K_PARTITIONS && !st->validate_only) {
        it->wait_meta = true;
    }
    check_done(st, kn_now_ms());
}

/* ---- config keys ---- */

static int topic_key_type(const char *key, kn_cfg_type_t *type) {
    size_t n = kn_topic_config_count();
    for (size_t i = 0; i < n; i++) {
        kn_topic_config_info_t info;
        if (kn_topic_config_info(i, &info) == 0 && !strcmp(info.name, key)) {
            *type = info.type;
            return 0;
        }
    }
    return KN_ENOTFOUND;
}

/* A broker key that may be set dynamically at this level, with a valid
 * value (value NULL: the key only). 0 or INVALID_CONFIG with msg. */
static int16_t check_broker_key(kn_broker_t *b, const char *key, const char *value, bool per_broker, char *msg,
                                size_t msgsz) {
    int i = kn_broker_config_find(key);
    char buf[512];
    kn_broker_config_entry_t e;
    if (i < 0 || kn_broker_config_entry(b->cfg, (size_t)i, &e, buf, sizeof(buf)) != 0) {
        if (kn_broker_config_is_unused_kafka_key(key))
            snprintf(msg, msgsz, "Cannot update these configs dynamically: %s (a Kafka broker key Kanal does not use)",
                     key);
        else
            snprintf(msg, msgsz, "Unknown broker config: %s", key);
        return KN_KERR_INVALID_CONFIG;
    }
    if (e.read_only) {
        snprintf(msg, msgsz, "Cannot update these configs dynamically: %s (read-only; set it in the broker's file)",
                 key);
        return KN_KERR_INVALID_CONFIG;
    }
    if (!per_broker && e.mode == KN_CFG_PER_BROKER) {
        snprintf(msg, msgsz, "Cannot update these configs at default cluster level, broker id must be specified: %s",
                 key);
        return KN_KERR_INVALID_CONFIG;
    }
    if (!value) return 0;
    kn_broker_config_t scratch;
    kn_broker_config_defaults(&scratch);
    char err[400];
    int rc = kn_broker_config_set(&scratch, key, value, err, sizeof(err));
    kn_broker_config_free(&scratch);
    if (rc != 0) {
        snprintf(msg, msgsz, "Invalid value for broker config %s: %s", key, err);
        return KN_KERR_INVALID_CONFIG;
    }
    return 0;
}

static int16_t check_topic_kv(const char *key, const char *value, char *msg, size_t msgsz) {
    char err[400];
    if (kn_topic_config_validate(key, value, err, sizeof(err)) != 0) {
        snprintf(msg, msgsz, "%s", err);
        return KN_KERR_INVALID_CONFIG;
    }
    return 0;
}

/* The value APPEND/SUBTRACT start from when the key has no stored override. */
static void base_value(kn_broker_t *b, const cfg_item_t *it, const char *key, char *buf, size_t n) {
    buf[0] = '\0';
    if (it->type == RES_TOPIC)
        kn_topic_config_default(b->cfg, key, buf, n);
    else if (kn_broker_config_get_string(b->cfg, key, buf, n) != 0)
        buf[0] = '\0';
}

static bool list_has(const char *list, const char *item, size_t ilen) {
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && t[-1] == ' ') t--;
        if ((size_t)(t - p) == ilen && !strncmp(p, item, ilen)) return true;
        p = e;
    }
    return false;
}

/* Kafka: APPEND adds the items not yet there (order kept); SUBTRACT removes
 * every listed item. Result in the arena. */
static char *list_merge(kn_req_t *r, const char *old, const char *arg, bool append) {
    size_t cap = strlen(old) + strlen(arg) + 2;
    char *out = aalloc(r, cap);
    size_t len = 0;
    out[0] = '\0';
    const char *srcs[2] = {old, append ? arg : ""};
    for (int s = 0; s < 2; s++) {
        const char *p = srcs[s];
        while (*p) {
            while (*p == ' ' || *p == ',') p++;
            const char *e = p;
            while (*e && *e != ',') e++;
            const char *t = e;
            while (t > p && t[-1] == ' ') t--;
            size_t il = (size_t)(t - p);
            if (il > 0 && !list_has(out, p, il) && (append || !list_has(arg, p, il))) {
                if (len) out[len++] = ',';
                memcpy(out + len, p, il);
                len += il;
                out[len] = '\0';
            }
            p = e;
        }
    }
    return out;
}

/* The edit step (src/cluster calls it with the stored map): the new map,
 * validated. AlterConfigs replaces the whole map; incremental edits it. */
static int16_t edit_config(void *ud, const kn_cluster_config_map_t *cur, kn_cluster_config_map_t *out, char *msg,
                           size_t msgsz) {
    ticket_t *tk = ud;
    cfg_state_t *st = tk->st;
    if (!st) {
        snprintf(msg, msgsz, "request cancelled");
        return KN_KERR_REQUEST_TIMED_OUT;
    }
    kn_req_t *r = st->r;
    kn_broker_t *b = r->b;
    cfg_item_t *it = &st->items[tk->idx];
    size_t cap = cur->n + (size_t)it->nops + 1;
    const char **keys = aalloc(r, sizeof(char *) * cap);
    const char **vals = aalloc(r, sizeof(char *) * cap);
    size_t n = 0;
    if (st->kind == K_INCREMENTAL) {
        for (size_t i = 0; i < cur->n; i++) {
            keys[n] = astr(r, cur->keys[i]);
            vals[n++] = astr(r, cur->values[i]);
        }
    }
    for (int32_t k = 0; k < it->nops; k++) {
        const cfg_op_t *op = &it->ops[k];
        size_t pos = 0;
        while (pos < n && strcmp(keys[pos], op->name)) pos++;
        if (op->op == OP_DELETE) {
            if (pos < n) {
                keys[pos] = keys[n - 1];
                vals[pos] = vals[n - 1];
                n--;
            }
            continue;
        }
        const char *v = op->value;
        if (op->op == OP_APPEND || op->op == OP_SUBTRACT) {
            char dflt[512];
            const char *old = pos < n ? vals[pos] : (base_value(b, it, op->name, dflt, sizeof(dflt)), dflt);
            v = list_merge(r, old, op->value, op->op == OP_APPEND);
        }
        if (pos == n) {
            keys[n] = op->name;
            n++;
        }
        vals[pos] = v;
    }
    /* Everything that will be stored must be valid (also what was there). */
    bool per_broker = it->type == RES_BROKER && it->name[0];
    for (size_t i = 0; i < n; i++) {
        int16_t e = it->type == RES_TOPIC ? check_topic_kv(keys[i], vals[i], msg, msgsz)
                                          : check_broker_key(b, keys[i], vals[i], per_broker, msg, msgsz);
        if (e) return e;
    }
    out->keys = keys;
    out->values = vals;
    out->n = n;
    return 0;
}

/* ---- AlterConfigs / IncrementalAlterConfigs ---- */

static bool dup_resource(const cfg_state_t *st, int32_t i) {
    for (int32_t k = 0; k < st->nitems; k++)
        if (k != i && st->items[k].type == st->items[i].type && !strcmp(st->items[k].name, st->items[i].name))
            return true;
    return false;
}

/* Checks that need no ZooKeeper: resource, keys, operations, values. */
static void precheck(kn_req_t *r, cfg_state_t *st, cfg_item_t *it, int32_t i) {
    kn_broker_t *b = r->b;
    char msg[512];
    if (it->type != RES_TOPIC && it->type != RES_BROKER) {
        it->err = KN_KERR_INVALID_REQUEST;
        snprintf(msg, sizeof(msg), "AlterConfigs is only supported for topics and brokers, but resource type is %d",
                 it->type);
        it->msg = astr(r, msg);
        return;
    }
    if (dup_resource(st, i)) {
        it->err = KN_KERR_INVALID_REQUEST;
        it->msg = "Error due to duplicate resources in the request";
        return;
    }
    if (it->type == RES_TOPIC) {
        if (!kn_cluster_topic(b->cluster, it->name, strlen(it->name))) {
            it->err = KN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            snprintf(msg, sizeof(msg), "Topic '%s' does not exist", it->name);
            it->msg = astr(r, msg);
            return;
        }
    } else if (it->name[0]) {
        char id[16];
        snprintf(id, sizeof(id), "%" PRId32, b->cfg->broker_id);
        if (strcmp(it->name, id)) {
            it->err = KN_KERR_INVALID_REQUEST;
            snprintf(msg, sizeof(msg), "Unexpected broker id, expected %s, but received %s", id, it->name);
            it->msg = astr(r, msg);
            return;
        }
    }
    bool per_broker = it->type == RES_BROKER && it->name[0];
    for (int32_t k = 0; k < it->nops; k++) {
        const cfg_op_t *op = &it->ops[k];
        int16_t e = 0;
        if (!op->name) {
            e = KN_KERR_INVALID_REQUEST;
            snprintf(msg, sizeof(msg), "Null config name");
        } else if (op->op < OP_SET || op->op > OP_SUBTRACT) {
            e = KN_KERR_INVALID_REQUEST;
            snprintf(msg, sizeof(msg), "Unknown config operation %d for config key: %s", op->op, op->name);
        } else if (op->op != OP_DELETE && !op->value) {
            e = KN_KERR_INVALID_REQUEST;
            snprintf(msg, sizeof(msg), "Null value not supported for : %s", op->name);
        }
        for (int32_t j = 0; j < k && !e; j++)
            if (!strcmp(it->ops[j].name, op->name)) {
                e = KN_KERR_INVALID_REQUEST;
                snprintf(msg, sizeof(msg), "Error due to duplicate config keys: %s", op->name);
            }
        if (!e) {
            kn_cfg_type_t type = KN_CFG_STRING;
            bool known;
            if (it->type == RES_TOPIC) {
                known = topic_key_type(op->name, &type) == 0;
                if (!known) e = check_topic_kv(op->name, "", msg, sizeof(msg)); /* "unknown topic config key" */
            } else {
                e = check_broker_key(b, op->name, op->op == OP_SET ? op->value : NULL, per_broker, msg,
                                     sizeof(msg));
                int bi = kn_broker_config_find(op->name);
                char buf[256];
                kn_broker_config_entry_t be;
                known = !e && bi >= 0 && kn_broker_config_entry(b->cfg, (size_t)bi, &be, buf, sizeof(buf)) == 0;
                if (known) type = be.type;
            }
            if (!e && (op->op == OP_APPEND || op->op == OP_SUBTRACT) && type != KN_CFG_LIST) {
                e = KN_KERR_INVALID_CONFIG;
                snprintf(msg, sizeof(msg), "Config value %s is not allowed for config key: %s (not a list)",
                         op->op == OP_APPEND ? "append" : "subtract", op->name);
            } else if (!e && it->type == RES_TOPIC && op->op == OP_SET) {
                e = check_topic_kv(op->name, op->value, msg, sizeof(msg));
            }
        }
        if (e) {
            it->err = e;
            it->msg = astr(r, msg);
            return;
        }
    }
}

static void start_items(kn_req_t *r, cfg_state_t *st) {
    kn_broker_t *b = r->b;
    for (int32_t i = 0; i < st->nitems; i++) {
        cfg_item_t *it = &st->items[i];
        precheck(r, st, it, i);
        if (it->err) continue;
        ticket_t *tk = ticket_new(st, i);
        const char *etype = it->type == RES_TOPIC ? "topics" : "brokers";
        const char *ename = it->type == RES_BROKER && !it->name[0] ? "<default>" : it->name;
        if (kn_cluster_alter_config(b->cluster, etype, ename, st->validate_only, edit_config, item_done, tk) != 0) {
            ticket_end(tk);
            it->pending = false;
            st->npending--;
            it->err = KN_KERR_INVALID_REQUEST;
            it->msg = b->stopping ? "broker is shutting down" : "invalid resource name";
        }
    }
    check_done(st, kn_now_ms());
}

int kn_h_alter_configs(kn_req_t *r) {
    kn_rd_t rd;
    kn_AlterConfigsRequest_t req;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    int rc = kn_AlterConfigsRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    int32_t n = req.resources_count < 0 ? 0 : req.resources_count;
    cfg_state_t *st = state_new(r, K_ALTER, n);
    st->validate_only = req.validate_only;
    for (int32_t i = 0; i < n; i++) {
        const kn_AlterConfigsRequest_AlterConfigsResource_t *res = &req.resources[i];
        cfg_item_t *it = &st->items[i];
        it->type = res->resource_type;
        it->wire_name = res->resource_name;
        it->name = kn_req__cstr(r, res->resource_name);
        if (!it->name) it->name = "";
        it->nops = res->configs_count < 0 ? 0 : res->configs_count;
        it->ops = aalloc(r, sizeof(cfg_op_t) * (size_t)(it->nops ? it->nops : 1));
        for (int32_t k = 0; k < it->nops; k++) {
            it->ops[k].name = kn_req__cstr(r, res->configs[k].name);
            it->ops[k].value = kn_req__cstr(r, res->configs[k].value);
            it->ops[k].op = OP_SET;
        }
    }
    start_items(r, st);
    return 0;
}

int kn_h_incremental_alter_configs(kn_req_t *r) {
    kn_rd_t rd;
    kn_IncrementalAlterConfigsRequest_t req;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    int rc = kn_IncrementalAlterConfigsRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    int32_t n = req.resources_count < 0 ? 0 : req.resources_count;
    cfg_state_t *st = state_new(r, K_INCREMENTAL, n);
    st->validate_only = req.validate_only;
    for (int32_t i = 0; i < n; i++) {
        const kn_IncrementalAlterConfigsRequest_AlterConfigsResource_t *res = &req.resources[i];
        cfg_item_t *it = &st->items[i];
        it->type = res->resource_type;
        it->wire_name = res->resource_name;
        it->name = kn_req__cstr(r, res->resource_name);
        if (!it->name) it->name = "";
        it->nops = res->configs_count < 0 ? 0 : res->configs_count;
        it->ops = aalloc(r, sizeof(cfg_op_t) * (size_t)(it->nops ? it->nops : 1));
        for (int32_t k = 0; k < it->nops; k++) {
            it->ops[k].name = kn_req__cstr(r, res->configs[k].name);
            it->ops[k].op = res->configs[k].config_operation;
            it->ops[k].value = it->ops[k].op == OP_DELETE ? NULL : kn_req__cstr(r, res->configs[k].value);
        }
    }
    start_items(r, st);
    return 0;
}

/* ---- CreatePartitions ---- */

int kn_h_create_partitions(kn_req_t *r) {
    kn_broker_t *b = r->b;
    kn_rd_t rd;
    kn_CreatePartitionsRequest_t req;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    int rc = kn_CreatePartitionsRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    int32_t n = req.topics_count < 0 ? 0 : req.topics_count;
    cfg_state_t *st = state_new(r, K_PARTITIONS, n);
    st->validate_only = req.validate_only;
    st->deadline_ms = kn_now_ms() + (req.timeout_ms > 0 ? req.timeout_ms : 0);
    bool controller = kn_cluster_is_controller(b->cluster);
    for (int32_t i = 0; i < n; i++) {
        cfg_item_t *it = &st->items[i];
        it->wire_name = req.topics[i].name;
        it->name = kn_req__cstr(r, req.topics[i].name);
        if (!it->name) it->name = "";
        it->count = req.topics[i].count;
    }
    for (int32_t i = 0; i < n; i++) {
        cfg_item_t *it = &st->items[i];
        const kn_CreatePartitionsRequest_CreatePartitionsTopic_t *ct = &req.topics[i];
        it->type = RES_TOPIC;
        for (int32_t k = 0; k < n; k++)
            if (k != i && !strcmp(st->items[k].name, it->name)) {
                it->err = KN_KERR_INVALID_REQUEST;
                it->msg = "Duplicate topic in request.";
            }
        if (it->err) continue;
        if (!controller) {
            it->err = KN_KERR_NOT_CONTROLLER;
            it->msg = "This is not the correct controller for this cluster.";
            continue;
        }
        int32_t na = ct->assignments_count; /* -1: none */
        const int32_t **lists = NULL;
        int32_t *lens = NULL;
        if (na >= 0) {
            lists = aalloc(r, sizeof(*lists) * (size_t)(na ? na : 1));
            lens = aalloc(r, sizeof(*lens) * (size_t)(na ? na : 1));
            for (int32_t k = 0; k < na; k++) {
                lists[k] = ct->assignments[k].broker_ids;
                lens[k] = ct->assignments[k].broker_ids_count < 0 ? 0 : ct->assignments[k].broker_ids_count;
            }
        }
        ticket_t *tk = ticket_new(st, i);
        if (kn_cluster_create_partitions(b->cluster, it->name, it->count, (const int32_t *const *)lists, lens, na,
                                         req.validate_only, item_done, tk) != 0) {
            ticket_end(tk);
            it->pending = false;
            st->npending--;
            it->err = KN_KERR_NOT_CONTROLLER;
            it->msg = "broker is shutting down";
        }
    }
    check_done(st, kn_now_ms());
    return 0;
}

/* ---- dynamic broker configs ----
 * The static values (file and overrides) of every dynamic key are saved the
 * first time, so that removing an override restores them. kanald runs one
 * broker per process; the saved table belongs to that broker's config. */

static struct {
    const kn_broker_config_t *cfg;      /* the config the table was saved from */
    char *saved[KN_BROKER_CONFIG_MAX_KEYS];   /* static value text; NULL = null */
    char *applied[KN_BROKER_CONFIG_MAX_KEYS]; /* dynamic value in force; NULL = static */
    bool was_explicit[KN_BROKER_CONFIG_MAX_KEYS]; /* given in the file or an override */
} dyn;

static const char *map_get(const char *const *k, const char *const *v, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(k[i], key)) return v[i];
    return NULL;
}

int kn_configs__broker_source(kn_broker_t *b, const char *key) {
    if (!b->cluster) return 0;
    const char *const *k, *const *v;
    size_t n = kn_cluster_broker_configs(b->cluster, true, &k, &v);
    if (map_get(k, v, n, key)) return 2; /* DYNAMIC_BROKER_CONFIG */
    n = kn_cluster_broker_configs(b->cluster, false, &k, &v);
    int i = kn_broker_config_find(key);
    char buf[256];
    kn_broker_config_entry_t e;
    if (map_get(k, v, n, key) && i >= 0 && kn_broker_config_entry(b->cfg, (size_t)i, &e, buf, sizeof(buf)) == 0 &&
        e.mode == KN_CFG_CLUSTER_WIDE)
        return 3; /* DYNAMIC_DEFAULT_BROKER_CONFIG */
    return 0;
}

int kn_configs__topic_default_source(kn_broker_t *b, const char *topic_key) {
    const char *bk = kn_topic_config_broker_key(topic_key);
    int i = bk ? kn_broker_config_find(bk) : -1;
    if (i < 0) return 5;
    int src = kn_configs__broker_source(b, bk);
    if (src) return src;
    char buf[256];
    kn_broker_config_entry_t e;
    if (kn_broker_config_entry(b->cfg, (size_t)i, &e, buf, sizeof(buf)) == 0 && !e.is_default)
        return 4; /* STATIC_BROKER_CONFIG */
    return 5;     /* DEFAULT_CONFIG */
}

void kn_configs__apply_broker(kn_broker_t *b) {
    if (!b->cluster) return;
    size_t count = kn_broker_config_count();
    if (count > KN_BROKER_CONFIG_MAX_KEYS) count = KN_BROKER_CONFIG_MAX_KEYS;
    if (dyn.cfg != b->cfg) {
        for (size_t i = 0; i < KN_BROKER_CONFIG_MAX_KEYS; i++) {
            kn_free(dyn.saved[i]);
            kn_free(dyn.applied[i]);
            dyn.saved[i] = dyn.applied[i] = NULL;
        }
        dyn.cfg = b->cfg;
        for (size_t i = 0; i < count; i++) {
            char buf[1024];
            kn_broker_config_entry_t e;
            if (kn_broker_config_entry(b->cfg, i, &e, buf, sizeof(buf)) != 0 || e.read_only) continue;
            dyn.saved[i] = e.value ? kn_strdup(e.value) : NULL;
            dyn.was_explicit[i] = !e.is_default;
        }
    }
    const char *const *pk, *const *pv, *const *dk, *const *dv;
    size_t pn = kn_cluster_broker_configs(b->cluster, true, &pk, &pv);
    size_t dn = kn_cluster_broker_configs(b->cluster, false, &dk, &dv);
    for (size_t i = 0; i < count; i++) {
        char buf[1024], err[400];
        kn_broker_config_entry_t e;
        if (kn_broker_config_entry(b->cfg, i, &e, buf, sizeof(buf)) != 0 || e.read_only) continue;
        const char *want = map_get(pk, pv, pn, e.name);
        const char *level = "per-broker";
        if (!want && e.mode == KN_CFG_CLUSTER_WIDE) {
            want = map_get(dk, dv, dn, e.name);
            level = "cluster default";
        }
        if (want ? (dyn.applied[i] && !strcmp(dyn.applied[i], want)) : !dyn.applied[i]) continue;
        const char *target = want ? want : dyn.saved[i];
        if (!target) {
            kn_log(KN_LOG_WARN, NULL, "dynamic broker config %s removed; its static value is null, which applies "
                   "after a restart", e.name);
        } else if (kn_broker_config_set(b->cfg, e.name, target, err, sizeof(err)) != 0) {
            kn_log(KN_LOG_WARN, NULL, "dynamic broker config %s=%s not applied: %s", e.name, target, err);
        } else {
            /* Back to a value nobody set: DescribeConfigs says default again. */
            if (!want && !dyn.was_explicit[i]) b->cfg->explicit_set[i / 8] &= (uint8_t)~(1u << (i % 8));
            kn_log(KN_LOG_INFO, NULL, "broker config %s: %s -> %s (%s)", e.name, e.value ? e.value : "null", target,
                   want ? level : "dynamic value removed");
        }
        kn_free(dyn.applied[i]);
        dyn.applied[i] = want ? kn_strdup(want) : NULL;
    }
}
