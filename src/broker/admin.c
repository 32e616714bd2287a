/* Topic administration (CreateTopics, DeleteTopics) and DescribeConfigs.
 *
 * As in Kafka's ZooKeeper mode, the controller broker writes the topic
 * znodes; the reply waits (bounded by the request's timeout_ms) until the
 * metadata cache shows the outcome: every partition led for a create, the
 * topic gone for a delete. Other brokers answer NOT_CONTROLLER. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "kanal/proto/gen/create_topics.h"
#include "kanal/proto/gen/delete_topics.h"
#include "kanal/proto/gen/describe_configs.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/time.h"

typedef struct admin_topic_s {
    char *name;
    int16_t err;
    char *msg;
    bool pending;   /* ZooKeeper write in flight */
    bool wait_meta; /* written; waiting for the cache to agree */
} admin_topic_t;

typedef struct admin_state_s {
    kn_req_t *r;
    kn_req_t *next_waiter;
    admin_topic_t *topics;
    int32_t ntopics;
    int npending;
    int64_t deadline_ms;
    bool is_create;
    bool validate_only;
    bool replied;
    bool waiting; /* on b->admin_waiters */
} admin_state_t;

/* Completions of ZooKeeper writes outlive a request whose client went away;
 * each completion therefore holds a small ticket that knows whether the
 * request is still there. */
typedef struct admin_ticket_s {
    admin_state_t *st; /* NULL once the request is gone */
    int32_t idx;
} admin_ticket_t;

static void *aalloc(kn_req_t *r, size_t n) {
    void *p = kn_arena_alloc(&r->arena, n ? n : 1);
    if (!p) {
        kn_log(KN_LOG_ERROR, NULL, "out of memory building an admin reply");
        abort();
    }
    return p;
}

static kn_str_t s_of(const char *c) { return c ? (kn_str_t){c, (int32_t)strlen(c)} : KN_STR_NULL; }

static void waiters_remove(kn_broker_t *b, kn_req_t *r) {
    kn_req_t **pp = &b->admin_waiters;
    while (*pp) {
        if (*pp == r) {
            *pp = ((admin_state_t *)r->state)->next_waiter;
            return;
        }
        pp = &((admin_state_t *)(*pp)->state)->next_waiter;
    }
}

static void admin_reply(admin_state_t *st) {
    kn_req_t *r = st->r;
    if (st->replied) return;
    st->replied = true;
    if (st->waiting) {
        waiters_remove(r->b, r);
        st->waiting = false;
    }
    kn_req__begin_response(r);
    if (st->is_create) {
        kn_CreateTopicsResponse_t resp;
        kn_CreateTopicsResponse_init(&resp);
        resp.topics = aalloc(r, sizeof(*resp.topics) * (size_t)st->ntopics);
        resp.topics_count = st->ntopics;
        for (int32_t i = 0; i < st->ntopics; i++) {
            kn_CreateTopicsResponse_CreatableTopicResult_t *t = &resp.topics[i];
            kn_CreateTopicsResponse_CreatableTopicResult_init(t);
            t->name = s_of(st->topics[i].name);
            t->error_code = st->topics[i].err;
            t->error_message = st->topics[i].err ? s_of(st->topics[i].msg) : KN_STR_NULL;
        }
        kn_CreateTopicsResponse_encode(&r->resp, r->api_version, &resp);
    } else {
        kn_DeleteTopicsResponse_t resp;
        kn_DeleteTopicsResponse_init(&resp);
        resp.responses = aalloc(r, sizeof(*resp.responses) * (size_t)st->ntopics);
        resp.responses_count = st->ntopics;
        for (int32_t i = 0; i < st->ntopics; i++) {
            kn_DeleteTopicsResponse_DeletableTopicResult_t *t = &resp.responses[i];
            kn_DeleteTopicsResponse_DeletableTopicResult_init(t);
            t->name = s_of(st->topics[i].name);
            t->error_code = st->topics[i].err;
            t->error_message = st->topics[i].err ? s_of(st->topics[i].msg) : KN_STR_NULL;
        }
        kn_DeleteTopicsResponse_encode(&r->resp, r->api_version, &resp);
    }
    kn_req__finish(r);
}

/* Are we done? Called after each completion, metadata change and tick. */
static void admin_check(admin_state_t *st, int64_t now_ms) {
    if (st->replied || st->npending > 0) return;
    kn_broker_t *b = st->r->b;
    bool all = true;
    for (int32_t i = 0; i < st->ntopics; i++) {
        admin_topic_t *t = &st->topics[i];
        if (!t->wait_meta) continue;
        bool ok = st->is_create ? kn_cluster_topic_ready(b->cluster, t->name)
                                : kn_cluster_topic(b->cluster, t->name, strlen(t->name)) == NULL;
        if (ok) {
            t->wait_meta = false;
        } else if (now_ms >= st->deadline_ms) {
            t->wait_meta = false;
            /* Kafka: the operation goes on, the request timed out. */
            t->err = KN_KERR_REQUEST_TIMED_OUT;
            t->msg = kn_arena_strndup(&st->r->arena, "timed out waiting for the controller", 36);
        } else {
            all = false;
        }
    }
    if (all) {
        admin_reply(st);
        return;
    }
    if (!st->waiting) {
        st->waiting = true;
        st->next_waiter = b->admin_waiters;
        b->admin_waiters = st->r;
    }
}

static void admin_done(void *ud, int16_t kerr, const char *msg) {
    admin_ticket_t *tk = ud;
    admin_state_t *st = tk->st;
    int32_t idx = tk->idx;
    kn_free(tk);
    if (!st) return; /* the request is gone */
    admin_topic_t *t = &st->topics[idx];
    t->pending = false;
    st->npending--;
    if (kerr) {
        t->err = kerr;
        t->msg = kn_arena_strndup(&st->r->arena, msg ? msg : "", msg ? strlen(msg) : 0);
    } else if (!st->validate_only) {
        t->wait_meta = true;
    }
    admin_check(st, kn_now_ms());
}

/* Tickets of a freed request must not point at it any more. */
typedef struct ticket_list_s {
    admin_ticket_t **v;
    size_t n;
} ticket_list_t;

static void admin_free(kn_req_t *r) {
    admin_state_t *st = r->state;
    if (!st) return;
    if (st->waiting) waiters_remove(r->b, r);
    ticket_list_t *tl = (ticket_list_t *)(st + 1);
    for (size_t i = 0; i < tl->n; i++)
        if (tl->v[i]) tl->v[i]->st = NULL;
    kn_free(tl->v);
}

static admin_ticket_t *ticket_new(admin_state_t *st, int32_t idx) {
    ticket_list_t *tl = (ticket_list_t *)(st + 1);
    admin_ticket_t *tk = kn_malloc(sizeof(*tk));
    tk->st = st;
    tk->idx = idx;
    tl->v = kn_realloc(tl->v, (tl->n + 1) * sizeof(*tl->v));
    tl->v[tl->n++] = tk;
    return tk;
}

/* admin_done frees the ticket: forget it in the list first. */
static void ticket_forget_on_done(void *ud, int16_t kerr, const char *msg) {
    admin_ticket_t *tk = ud;
    if (tk->st) {
        ticket_list_t *tl = (ticket_list_t *)(tk->st + 1);
        for (size_t i = 0; i < tl->n; i++)
            if (tl->v[i] == tk) tl->v[i] = NULL;
    }
    admin_done(ud, kerr, msg);
}

static admin_state_t *admin_state_new(kn_req_t *r, int32_t n, bool is_create, int32_t timeout_ms) {
    admin_state_t *st = aalloc(r, sizeof(admin_state_t) + sizeof(ticket_list_t));
    st->r = r;
    st->ntopics = n;
    st->topics = aalloc(r, sizeof(admin_topic_t) * (size_t)(n > 0 ? n : 1));
    st->is_create = is_create;
    st->deadline_ms = kn_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    r->state = st;
    r->on_free = admin_free;
    return st;
}

static bool duplicate_name(admin_state_t *st, int32_t upto, const char *name) {
    for (int32_t i = 0; i < upto; i++)
        if (st->topics[i].name && !strcmp(st->topics[i].name, name)) return true;
    return false;
}

int kn_h_create_topics(kn_req_t *r) {
    kn_broker_t *b = r->b;
    kn_rd_t rd;
    kn_CreateTopicsRequest_t req;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    int rc = kn_CreateTopicsRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    int32_t n = req.topics_count < 0 ? 0 : req.topics_count;
    admin_state_t *st = admin_state_new(r, n, true, req.timeout_ms);
    st->validate_only = req.validate_only;
    bool controller = kn_cluster_is_controller(b->cluster);
    for (int32_t i = 0; i < n; i++) {
        kn_CreateTopicsRequest_CreatableTopic_t *ct = &req.topics[i];
        admin_topic_t *t = &st->topics[i];
        t->name = kn_req__cstr(r, ct->name);
        if (!t->name) t->name = "";
        if (!controller) {
            t->err = KN_KERR_NOT_CONTROLLER;
            t->msg = "this broker is not the controller";
            continue;
        }
        if (duplicate_name(st, i, t->name)) {
            t->err = KN_KERR_INVALID_REQUEST;
            t->msg = "topic listed twice in one request";
            continue;
        }
        if (ct->assignments_count > 0) {
            t->err = KN_KERR_INVALID_REPLICA_ASSIGNMENT;
            t->msg = "manual replica assignment is not supported yet";
            continue;
        }
        int32_t nc = ct->configs_count < 0 ? 0 : ct->configs_count;
        const char **keys = aalloc(r, sizeof(char *) * (size_t)(nc + 1));
        const char **vals = aalloc(r, sizeof(char *) * (size_t)(nc + 1));
        bool bad = false;
        for (int32_t k = 0; k < nc && !bad; k++) {
            char err[256];
            keys[k] = kn_req__cstr(r, ct->configs[k].name);
            vals[k] = kn_req__cstr(r, ct->configs[k].value);
            if (!keys[k] || !vals[k] || kn_topic_config_validate(keys[k], vals[k], err, sizeof(err)) != 0) {
                t->err = KN_KERR_INVALID_CONFIG;
                t->msg = kn_arena_strndup(&r->arena, keys[k] && vals[k] ? err : "null config name or value",
                                          strlen(keys[k] && vals[k] ? err : "null config name or value"));
                bad = true;
            }
        }
        if (bad) continue;
        t->pending = true;
        st->npending++;
        admin_ticket_t *tk = ticket_new(st, i);
        if (kn_cluster_create_topic(b->cluster, t->name, ct->num_partitions, ct->replication_factor, keys, vals,
                                    (size_t)nc, req.validate_only, ticket_forget_on_done, tk) != 0) {
            ticket_list_t *tl = (ticket_list_t *)(st + 1);
            tl->n--;
            kn_free(tk);
            t->pending = false;
            st->npending--;
            t->err = KN_KERR_NOT_CONTROLLER;
            t->msg = "broker is shutting down";
        }
    }
    admin_check(st, kn_now_ms());
    return 0;
}

int kn_h_delete_topics(kn_req_t *r) {
    kn_broker_t *b = r->b;
    kn_rd_t rd;
    kn_DeleteTopicsRequest_t req;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    int rc = kn_DeleteTopicsRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    int32_t n = req.topic_names_count < 0 ? 0 : req.topic_names_count;
    admin_state_t *st = admin_state_new(r, n, false, req.timeout_ms);
    bool controller = kn_cluster_is_controller(b->cluster);
    for (int32_t i = 0; i < n; i++) {
        admin_topic_t *t = &st->topics[i];
        t->name = kn_req__cstr(r, req.topic_names[i]);
        if (!t->name) t->name = "";
        if (!controller) {
            t->err = KN_KERR_NOT_CONTROLLER;
            t->msg = "this broker is not the controller";
            continue;
        }
        if (!b->cfg->delete_topic_enable) {
            t->err = KN_KERR_TOPIC_DELETION_DISABLED;
            t->msg = "delete.topic.enable is false";
            continue;
        }
        t->pending = true;
        st->npending++;
        admin_ticket_t *tk = ticket_new(st, i);
        if (kn_cluster_delete_topic(b->cluster, t->name, ticket_forget_on_done, tk) != 0) {
            ticket_list_t *tl = (ticket_list_t *)(st + 1);
            tl->n--;
            kn_free(tk);
            t->pending = false;
            st->npending--;
            t->err = KN_KERR_NOT_CONTROLLER;
            t->msg = "broker is shutting down";
        }
    }
    admin_check(st, kn_now_ms());
    return 0;
}

void kn_admin__metadata_changed(kn_broker_t *b) {
    int64_t now = kn_now_ms();
    kn_configs__metadata_changed(b);
    kn_req_t *r = b->admin_waiters;
    while (r) {
        kn_req_t *next = ((admin_state_t *)r->state)->next_waiter;
        admin_check(r->state, now);
        r = next;
    }
}

void kn_admin__cancel_client(kn_broker_t *b, kn_client_t *cl) {
    kn_req_t **pp = &b->admin_waiters;
    while (*pp) {
        kn_req_t *r = *pp;
        admin_state_t *st = r->state;
        if (r->cl == cl) {
            *pp = st->next_waiter;
            st->waiting = false;
        } else {
            pp = &st->next_waiter;
        }
    }
}

/* ---- DescribeConfigs ---- */
enum { RES_TOPIC = 2, RES_BROKER = 4 };
enum { SRC_DYNAMIC_TOPIC = 1, SRC_STATIC_BROKER = 4, SRC_DEFAULT = 5 }; /* 2, 3: kn_configs__broker_source */

static bool key_wanted(const kn_DescribeConfigsRequest_DescribeConfigsResource_t *res, const char *key) {
    if (res->configuration_keys_count < 0) return true;
    for (int32_t i = 0; i < res->configuration_keys_count; i++)
        if (kn_str_eq(res->configuration_keys[i], key, (int32_t)strlen(key))) return true;
    return false;
}

static int8_t config_type_code(kn_cfg_type_t t) {
    /* DescribeConfigs v3 ConfigType: 1 BOOLEAN 2 STRING 3 INT 4 SHORT 5 LONG 6 DOUBLE 7 LIST */
    switch (t) {
    case KN_CFG_BOOL: return 1;
    case KN_CFG_STRING: return 2;
    case KN_CFG_INT32: return 3;
    case KN_CFG_INT16: return 4;
    case KN_CFG_INT64: return 5;
    case KN_CFG_DOUBLE: return 6;
    case KN_CFG_LIST: return 7;
    default: return 0;
    }
}

static void describe_topic(kn_req_t *r, const kn_DescribeConfigsRequest_DescribeConfigsResource_t *res,
                           kn_DescribeConfigsResponse_DescribeConfigsResult_t *out) {
    kn_broker_t *b = r->b;
    char *name = kn_req__cstr(r, res->resource_name);
    if (!name || !kn_cluster_topic(b->cluster, name, strlen(name))) {
        out->error_code = KN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        out->error_message = KN_STR("unknown topic");
        out->configs_count = 0;
        return;
    }
    const char *const *okeys = NULL, *const *ovals = NULL;
    size_t nover = kn_cluster_topic_configs(b->cluster, name, &okeys, &ovals);
    size_t n = kn_topic_config_count();
    out->configs = aalloc(r, sizeof(*out->configs) * n);
    out->configs_count = 0;
    for (size_t i = 0; i < n; i++) {
        kn_topic_config_info_t info;
        if (kn_topic_config_info(i, &info) != 0 || !key_wanted(res, info.name)) continue;
        kn_DescribeConfigsResponse_DescribeConfigsResourceResult_t *c = &out->configs[out->configs_count++];
        kn_DescribeConfigsResponse_DescribeConfigsResourceResult_init(c);
        c->name = s_of(info.name);
        const char *val = NULL;
        for (size_t k = 0; k < nover; k++)
            if (!strcmp(okeys[k], info.name)) val = ovals[k];
        if (val) {
            c->value = s_of(val);
            c->is_default = false;
            c->config_source = SRC_DYNAMIC_TOPIC;
        } else {
            char buf[256];
            kn_topic_config_default(b->cfg, info.name, buf, sizeof(buf));
            c->value = s_of(kn_arena_strndup(&r->arena, buf, strlen(buf)));
            c->config_source = (int8_t)kn_configs__topic_default_source(b, info.name);
            c->is_default = c->config_source == SRC_DEFAULT;
        }
        c->read_only = false;
        c->synonyms_count = 0;
        c->config_type = config_type_code(info.type);
        c->documentation = s_of(info.doc);
    }
}

static void describe_broker(kn_req_t *r, const kn_DescribeConfigsRequest_DescribeConfigsResource_t *res,
                            kn_DescribeConfigsResponse_DescribeConfigsResult_t *out) {
    kn_broker_t *b = r->b;
    char idbuf[16];
    snprintf(idbuf, sizeof(idbuf), "%d", b->cfg->broker_id);
    if (res->resource_name.len > 0 && !kn_str_eq(res->resource_name, idbuf, (int32_t)strlen(idbuf))) {
        out->error_code = KN_KERR_INVALID_REQUEST;
        out->error_message = KN_STR("DescribeConfigs for a broker must be sent to that broker");
        out->configs_count = 0;
        return;
    }
    size_t n = kn_broker_config_count();
    out->configs = aalloc(r, sizeof(*out->configs) * n);
    out->configs_count = 0;
    for (size_t i = 0; i < n; i++) {
        char buf[1024];
        kn_broker_config_entry_t e;
        if (kn_broker_config_entry(b->cfg, i, &e, buf, sizeof(buf)) != 0 || !key_wanted(res, e.name)) continue;
        kn_DescribeConfigsResponse_DescribeConfigsResourceResult_t *c = &out->configs[out->configs_count++];
        kn_DescribeConfigsResponse_DescribeConfigsResourceResult_init(c);
        c->name = s_of(e.name);
        c->value = e.value ? s_of(kn_arena_strndup(&r->arena, e.value, strlen(e.value))) : KN_STR_NULL;
        c->read_only = e.read_only;
        c->is_default = e.is_default;
        c->config_source = e.is_default ? SRC_DEFAULT : SRC_STATIC_BROKER;
        int dyn = kn_configs__broker_source(b, e.name);
        if (dyn) {
            c->config_source = (int8_t)dyn;
            c->is_default = false;
        }
        c->is_sensitive = false;
        c->synonyms_count = 0;
        c->config_type = config_type_code(e.type);
        c->documentation = s_of(e.doc);
    }
}

int kn_h_describe_configs(kn_req_t *r) {
    kn_rd_t rd;
    kn_DescribeConfigsRequest_t req;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    int rc = kn_DescribeConfigsRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_DescribeConfigsResponse_t resp;
    kn_DescribeConfigsResponse_init(&resp);
    int32_t n = req.resources_count < 0 ? 0 : req.resources_count;
    resp.results = aalloc(r, sizeof(*resp.results) * (size_t)n);
    resp.results_count = n;
    for (int32_t i = 0; i < n; i++) {
        kn_DescribeConfigsRequest_DescribeConfigsResource_t *res = &req.resources[i];
        kn_DescribeConfigsResponse_DescribeConfigsResult_t *out = &resp.results[i];
        kn_DescribeConfigsResponse_DescribeConfigsResult_init(out);
        out->resource_type = res->resource_type;
        out->resource_name = res->resource_name;
        if (res->resource_type == RES_TOPIC)
            describe_topic(r, res, out);
        else if (res->resource_type == RES_BROKER)
            describe_broker(r, res, out);
        else {
            out->error_code = KN_KERR_INVALID_REQUEST;
            out->error_message = KN_STR("unsupported resource type");
            out->configs_count = 0;
        }
    }
    kn_req__begin_response(r);
    kn_DescribeConfigsResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}
