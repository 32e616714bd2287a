/* The controller channel (Kafka's ControllerChannelManager): while this
 * broker is controller, one inter-broker client per registered broker, and
 * per broker a FIFO of LeaderAndIsr / UpdateMetadata / StopReplica jobs with
 * one request in flight at a time, so each broker sees the controller's
 * requests in the order they were decided.
 *
 * A job names partitions, not states: the request is built from the cache
 * when it is sent, so a job queued behind others (or retried) carries the
 * newest state, and jobs of the same kind queued in one loop iteration merge
 * into one request. A failed send is retried after a backoff for as long as
 * the broker stays registered with the same epoch; the job is dropped when
 * it goes.
 *
 * Versions sent: LeaderAndIsr v6, UpdateMetadata v7, StopReplica v3 (what a
 * Kafka 3.x ZK controller sends; topic ids travel in LeaderAndIsr and
 * UpdateMetadata).
 *
 * Fast failure detection (docs/replication.md): beside the request clients
 * the channel holds one idle TCP connection ("probe") to every other
 * registered broker. When it is lost, it reconnects at once; a refused
 * connect means nothing listens on the broker's port any more, i.e. its
 * process is gone: the broker is "cut" — treated as if its registration had
 * expired — until it registers again or a probe connects again. A paused
 * or overloaded broker still accepts connections in the kernel, so it is
 * never cut this way; the ZooKeeper session stays the backstop. Loop thread
 * only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "kanal/cluster/ibclient.h"
#include "kanal/proto/gen/api.h"
#include "kanal/proto/gen/leader_and_isr.h"
#include "kanal/proto/gen/stop_replica.h"
#include "kanal/proto/gen/update_metadata.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"
#include "kanal/util/time.h"

#define CHAN_LAIR_VERSION 6
#define CHAN_UM_VERSION 7
#define CHAN_STOP_VERSION 3
#define CHAN_BACKOFF_MS 200
#define CHAN_BACKOFF_MAX_MS 2000
#define LEADER_DURING_DELETE (-2) /* Kafka's LeaderAndIsr.LeaderDuringDelete */
#define EPOCH_DURING_DELETE (-2)

typedef struct chan_item_s {
    char *topic;
    int32_t p;   /* -1: every partition (UpdateMetadata) */
    bool flag;   /* LeaderAndIsr: is_new; StopReplica: delete */
} chan_item_t;

typedef struct chan_job_s {
    struct chan_job_s *next;
    int16_t api;
    bool full; /* UpdateMetadata of every partition */
    bool sent;
    chan_item_t *items;
    size_t n, cap;
} chan_job_t;

typedef struct chan_broker_s {
    int32_t id;
    int64_t epoch;
    char *host;
    int port;
    uint64_t seq; /* identity of this incarnation for replies */
    kn_ib_t *ib;
    chan_job_t *head, *tail;
    bool inflight;
    int failures;
    int64_t retry_at_ms;
} chan_broker_t;

struct chan_probe_s;

/* One connection attempt or established probe connection; freed in its
 * close callback. */
typedef struct probe_conn_s {
    uv_tcp_t tcp;
    uv_connect_t req;
    struct chan_probe_s *pr; /* NULL once detached */
    bool up;
} probe_conn_t;

typedef struct chan_probe_s {
    struct kn_chan_s *ch;
    int32_t id;
    int64_t epoch; /* the registration this probe is about */
    char *host;
    int port;
    probe_conn_t *conn; /* connecting or up; NULL while waiting */
    bool cut;           /* refused after a loss: treated as gone */
    int64_t up_since_ms, cut_at_ms;
    int64_t next_ms; /* next connect attempt while conn is NULL */
    int fails;
} chan_probe_t;

typedef struct kn_chan_s {
    kn_cluster_t *c; /* NULL once closed: late replies only release */
    int refs;        /* 1 for the cluster + 1 per request in flight */
    chan_broker_t **b;
    size_t nb;
    uint64_t next_seq;
    chan_probe_t **pr;
    size_t npr;
} kn_chan_t;

typedef struct chan_call_s {
    kn_chan_t *ch;
    int32_t id;
    uint64_t seq;
    int16_t api, ver;
} chan_call_t;

static void kick(kn_cluster_t *c, uint64_t delay_ms);
static int64_t probes_pump(kn_cluster_t *c);

static void unref(kn_chan_t *ch) {
    if (--ch->refs > 0) return;
    kn_free(ch->b);
    kn_free(ch->pr);
    kn_free(ch);
}

static void *aal(kn_arena_t *a, size_t n) {
    void *p = kn_arena_alloc(a, n ? n : 1);
    if (!p) {
        kn_log(KN_LOG_ERROR, "controller", "out of memory building a controller request");
        abort();
    }
    return p;
}

static kn_str_t s_of(const char *s) { return s ? (kn_str_t){s, (int32_t)strlen(s)} : KN_STR_NULL; }

static const char *api_name(int16_t api) {
    return api == KN_API_LEADER_AND_ISR ? "LeaderAndIsr" : api == KN_API_UPDATE_METADATA ? "UpdateMetadata"
                                                                                           : "StopReplica";
}

static chan_broker_t *find(const kn_chan_t *ch, int32_t id) {
    for (size_t i = 0; i < ch->nb; i++)
        if (ch->b[i]->id == id) return ch->b[i];
    return NULL;
}

static const kn_cbroker_t *cache_broker(const kn_cluster_t *c, int32_t id) {
    for (size_t i = 0; i < c->nbrokers; i++)
        if (c->brokers[i].id == id && c->brokers[i].loaded) return &c->brokers[i];
    return NULL;
}

/* ---- jobs ---- */

static void job_free(chan_job_t *j) {
    for (size_t i = 0; i < j->n; i++) kn_free(j->items[i].topic);
    kn_free(j->items);
    kn_free(j);
}

/* A StopReplica(delete) that will never be answered still counts for the
 * deletion it belongs to (the broker is gone). */
static void job_drop(kn_cluster_t *c, chan_job_t *j) {
    if (c && j->api == KN_API_STOP_REPLICA)
        for (size_t i = 0; i < j->n; i++)
            if (j->items[i].flag) kn_cluster__ctrl_stop_acked(c, j->items[i].topic);
    job_free(j);
}

static void job_add(chan_job_t *j, const char *topic, int32_t p, bool flag) {
    for (size_t i = 0; i < j->n; i++) {
        chan_item_t *it = &j->items[i];
        if (it->p == p && !strcmp(it->topic, topic)) {
            /* merged: a StopReplica(delete) stays one item to acknowledge */
            if (j->api != KN_API_STOP_REPLICA || flag == it->flag) {
                it->flag = it->flag || flag;
                return;
            }
        }
    }
    if (j->n == j->cap) {
        j->cap = j->cap ? 2 * j->cap : 8;
        j->items = kn_realloc(j->items, j->cap * sizeof(*j->items));
    }
    j->items[j->n++] = (chan_item_t){kn_strdup(topic), p, flag};
}

static void enqueue(kn_cluster_t *c, chan_broker_t *b, int16_t api, const char *topic, int32_t p, bool flag,
                    bool full) {
    chan_job_t *j = b->tail;
    if (!j || j->sent || j->api != api) {
        j = kn_calloc(1, sizeof(*j));
        j->api = api;
        if (b->tail)
            b->tail->next = j;
        else
            b->head = j;
        b->tail = j;
    }
    if (full)
        j->full = true;
    else if (topic)
        job_add(j, topic, p, flag);
    kick(c, 0);
}

static void pop(chan_broker_t *b) {
    chan_job_t *j = b->head;
    b->head = j->next;
    if (!b->head) b->tail = NULL;
}

/* ---- request building (from the cache, at send time) ---- */

static int cmp_item(const void *x, const void *y) {
    const chan_item_t *a = x, *b = y;
    int r = strcmp(a->topic, b->topic);
    return r ? r : (a->p > b->p) - (a->p < b->p);
}

static int32_t *i32dup(kn_arena_t *a, const int32_t *v, int32_t n) {
    int32_t *r = aal(a, sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    if (n > 0) memcpy(r, v, sizeof(int32_t) * (size_t)n);
    return r;
}

/* Returns false when nothing is left to send. */
static bool build_lair(kn_cluster_t *c, chan_broker_t *b, chan_job_t *j, kn_arena_t *a, kn_wbuf_t *w) {
    qsort(j->items, j->n, sizeof(*j->items), cmp_item);
    kn_LeaderAndIsrRequest_t req;
    kn_LeaderAndIsrRequest_init(&req);
    req.controller_id = c->broker_id;
    req.controller_epoch = c->ctrl_epoch;
    req.broker_epoch = b->epoch;
    req.type = 0; /* as a ZK controller: neither FULL nor INCREMENTAL */
    req.topic_states = aal(a, sizeof(*req.topic_states) * j->n);
    req.topic_states_count = 0;
    int32_t *leaders = aal(a, sizeof(int32_t) * j->n);
    int32_t nleaders = 0;
    int32_t nparts = 0;
    for (size_t i = 0; i < j->n;) {
        size_t k = i;
        while (k < j->n && !strcmp(j->items[k].topic, j->items[i].topic)) k++;
        kn_ctopic_t *t = kn_cluster__find_topic(c, j->items[i].topic);
        if (t && t->have_assign && !t->deleting) {
            kn_LeaderAndIsrRequest_LeaderAndIsrTopicState_t *ts = &req.topic_states[req.topic_states_count];
            kn_LeaderAndIsrRequest_LeaderAndIsrTopicState_init(ts);
            ts->topic_name = s_of(t->name);
            ts->topic_id = t->id;
            ts->partition_states = aal(a, sizeof(*ts->partition_states) * (k - i));
            ts->partition_states_count = 0;
            for (size_t m = i; m < k; m++) {
                int32_t p = j->items[m].p;
                if (p < 0 || p >= t->npart || t->pstate[p] != KN_PS_PRESENT) continue;
                const kn_partition_state_t *ps = &t->parts[p];
                kn_LeaderAndIsrRequest_LeaderAndIsrPartitionState_t *o =
                    &ts->partition_states[ts->partition_states_count++];
                kn_LeaderAndIsrRequest_LeaderAndIsrPartitionState_init(o);
                o->topic_name = ts->topic_name;
                o->partition_index = p;
                o->controller_epoch = ps->controller_epoch;
                o->leader = ps->leader;
                o->leader_epoch = ps->leader_epoch;
                o->isr = i32dup(a, ps->isr, ps->nisr);
                o->isr_count = ps->nisr;
                o->partition_epoch = ps->zk_version;
                o->replicas = i32dup(a, ps->replicas, ps->nreplicas);
                o->replicas_count = ps->nreplicas;
                o->adding_replicas = o->removing_replicas = NULL;
                o->adding_replicas_count = o->removing_replicas_count = 0;
                o->is_new = j->items[m].flag;
                o->leader_recovery_state = 0;
                nparts++;
                bool seen = false;
                for (int32_t q = 0; q < nleaders; q++) seen = seen || leaders[q] == ps->leader;
                if (!seen && ps->leader >= 0 && cache_broker(c, ps->leader)) leaders[nleaders++] = ps->leader;
            }
            if (ts->partition_states_count > 0) req.topic_states_count++;
        }
        i = k;
    }
    if (nparts == 0) return false;
    req.live_leaders = aal(a, sizeof(*req.live_leaders) * (size_t)(nleaders ? nleaders : 1));
    req.live_leaders_count = nleaders;
    for (int32_t q = 0; q < nleaders; q++) {
        const kn_cbroker_t *cb = cache_broker(c, leaders[q]);
        kn_LeaderAndIsrRequest_LeaderAndIsrLiveLeader_init(&req.live_leaders[q]);
        req.live_leaders[q].broker_id = leaders[q];
        req.live_leaders[q].host_name = s_of(cb->meta.host);
        req.live_leaders[q].port = cb->meta.port;
    }
    kn_ib_begin(b->ib, w, KN_API_LEADER_AND_ISR, CHAN_LAIR_VERSION);
    kn_LeaderAndIsrRequest_encode(w, CHAN_LAIR_VERSION, &req);
    kn_dbg(KN_DBG_REPL, "controller", "LeaderAndIsr to broker %" PRId32 ": %" PRId32 " partition(s)", b->id, nparts);
    return true;
}

static void um_partition(kn_cluster_t *c, kn_arena_t *a, const kn_ctopic_t *t, int32_t p,
                         kn_UpdateMetadataRequest_UpdateMetadataPartitionState_t *o) {
    const kn_partition_state_t *ps = &t->parts[p];
    bool present = t->pstate[p] == KN_PS_PRESENT;
    kn_UpdateMetadataRequest_UpdateMetadataPartitionState_init(o);
    o->topic_name = s_of(t->name);
    o->partition_index = p;
    o->controller_epoch = present ? ps->controller_epoch : c->ctrl_epoch;
    o->leader = t->deleting ? LEADER_DURING_DELETE : present ? ps->leader : -1;
    o->leader_epoch = present ? ps->leader_epoch : -1;
    o->isr = i32dup(a, present ? ps->isr : NULL, present ? ps->nisr : 0);
    o->isr_count = present ? ps->nisr : 0;
    o->zk_version = present ? ps->zk_version : -1;
    o->replicas = i32dup(a, ps->replicas, ps->nreplicas);
    o->replicas_count = ps->nreplicas;
    o->offline_replicas = aal(a, sizeof(int32_t) * (size_t)(ps->nreplicas ? ps->nreplicas : 1));
    o->offline_replicas_count = 0;
    for (int32_t i = 0; i < ps->nreplicas; i++) {
        const kn_cbroker_t *cb = cache_broker(c, ps->replicas[i]);
        if (!cb || kn_cluster__chan_cut(c, cb->id, cb->meta.epoch))
            o->offline_replicas[o->offline_replicas_count++] = ps->replicas[i];
    }
}

static void um_topic(kn_cluster_t *c, kn_arena_t *a, const kn_ctopic_t *t, const chan_item_t *items, size_t n,
                     kn_UpdateMetadataRequest_UpdateMetadataTopicState_t *ts) {
    kn_UpdateMetadataRequest_UpdateMetadataTopicState_init(ts);
    ts->topic_name = s_of(t->name);
    ts->topic_id = t->id;
    ts->partition_states = aal(a, sizeof(*ts->partition_states) * (size_t)(t->npart ? t->npart : 1));
    ts->partition_states_count = 0;
    bool all = !items;
    for (size_t i = 0; items && i < n; i++) all = all || items[i].p < 0;
    for (int32_t p = 0; p < t->npart; p++) {
        bool want = all;
        for (size_t i = 0; !want && i < n; i++) want = items[i].p == p;
        if (want) um_partition(c, a, t, p, &ts->partition_states[ts->partition_states_count++]);
    }
}

static void build_um(kn_cluster_t *c, chan_broker_t *b, chan_job_t *j, kn_arena_t *a, kn_wbuf_t *w) {
    kn_UpdateMetadataRequest_t req;
    kn_UpdateMetadataRequest_init(&req);
    req.controller_id = c->broker_id;
    req.controller_epoch = c->ctrl_epoch;
    req.broker_epoch = b->epoch;
    req.topic_states = aal(a, sizeof(*req.topic_states) * (c->ntopics ? c->ntopics : 1));
    req.topic_states_count = 0;
    if (j->full) {
        for (size_t i = 0; i < c->ntopics; i++)
            if (c->topics[i]->have_assign)
                um_topic(c, a, c->topics[i], NULL, 0, &req.topic_states[req.topic_states_count++]);
    } else {
        qsort(j->items, j->n, sizeof(*j->items), cmp_item);
        for (size_t i = 0; i < j->n;) {
            size_t k = i;
            while (k < j->n && !strcmp(j->items[k].topic, j->items[i].topic)) k++;
            kn_ctopic_t *t = kn_cluster__find_topic(c, j->items[i].topic);
            if (t && t->have_assign && req.topic_states_count < (int32_t)c->ntopics)
                um_topic(c, a, t, &j->items[i], k - i, &req.topic_states[req.topic_states_count++]);
            i = k;
        }
    }
    req.live_brokers = aal(a, sizeof(*req.live_brokers) * (c->nbrokers ? c->nbrokers : 1));
    req.live_brokers_count = 0;
    for (size_t i = 0; i < c->nbrokers; i++) {
        const kn_cbroker_t *cb = &c->brokers[i];
        if (!cb->loaded || kn_cluster__chan_cut(c, cb->id, cb->meta.epoch)) continue;
        kn_UpdateMetadataRequest_UpdateMetadataBroker_t *o = &req.live_brokers[req.live_brokers_count++];
        kn_UpdateMetadataRequest_UpdateMetadataBroker_init(o);
        o->id = cb->id;
        o->endpoints = aal(a, sizeof(*o->endpoints));
        o->endpoints_count = 1;
        kn_UpdateMetadataRequest_UpdateMetadataEndpoint_init(&o->endpoints[0]);
        o->endpoints[0].port = cb->meta.port;
        o->endpoints[0].host = s_of(cb->meta.host);
        o->endpoints[0].listener = KN_STR("PLAINTEXT");
        o->endpoints[0].security_protocol = 0; /* PLAINTEXT */
        o->rack = s_of(cb->meta.rack);
    }
    kn_ib_begin(b->ib, w, KN_API_UPDATE_METADATA, CHAN_UM_VERSION);
    kn_UpdateMetadataRequest_encode(w, CHAN_UM_VERSION, &req);
    kn_dbg(KN_DBG_REPL, "controller", "UpdateMetadata to broker %" PRId32 ": %" PRId32 " topic(s)%s", b->id,
           req.topic_states_count, j->full ? " (all)" : "");
}

static void build_stop(kn_cluster_t *c, chan_broker_t *b, chan_job_t *j, kn_arena_t *a, kn_wbuf_t *w) {
    qsort(j->items, j->n, sizeof(*j->items), cmp_item);
    kn_StopReplicaRequest_t req;
    kn_StopReplicaRequest_init(&req);
    req.controller_id = c->broker_id;
    req.controller_epoch = c->ctrl_epoch;
    req.broker_epoch = b->epoch;
    req.topic_states = aal(a, sizeof(*req.topic_states) * j->n);
    req.topic_states_count = 0;
    for (size_t i = 0; i < j->n;) {
        size_t k = i;
        while (k < j->n && !strcmp(j->items[k].topic, j->items[i].topic)) k++;
        const kn_ctopic_t *t = kn_cluster__find_topic(c, j->items[i].topic);
        kn_StopReplicaRequest_StopReplicaTopicState_t *ts = &req.topic_states[req.topic_states_count++];
        kn_StopReplicaRequest_StopReplicaTopicState_init(ts);
        ts->topic_name = s_of(j->items[i].topic);
        ts->partition_states = aal(a, sizeof(*ts->partition_states) * (k - i));
        ts->partition_states_count = (int32_t)(k - i);
        for (size_t m = i; m < k; m++) {
            kn_StopReplicaRequest_StopReplicaPartitionState_t *o = &ts->partition_states[m - i];
            kn_StopReplicaRequest_StopReplicaPartitionState_init(o);
            int32_t p = j->items[m].p;
            o->partition_index = p;
            o->delete_partition = j->items[m].flag;
            if (o->delete_partition)
                o->leader_epoch = EPOCH_DURING_DELETE;
            else if (t && p >= 0 && p < t->npart && t->pstate[p] == KN_PS_PRESENT)
                o->leader_epoch = t->parts[p].leader_epoch;
            else
                o->leader_epoch = -1;
        }
        i = k;
    }
    kn_ib_begin(b->ib, w, KN_API_STOP_REPLICA, CHAN_STOP_VERSION);
    kn_StopReplicaRequest_encode(w, CHAN_STOP_VERSION, &req);
    kn_dbg(KN_DBG_REPL, "controller", "StopReplica to broker %" PRId32 ": %zu partition(s)", b->id, j->n);
}

/* ---- replies ---- */

static void log_reply(kn_cluster_t *c, chan_broker_t *b, int16_t api, int16_t ver, kn_rd_t *body) {
    kn_arena_t a;
    kn_arena_init(&a);
    int16_t top = 0;
    int rc;
    char ctx[32];
    snprintf(ctx, sizeof(ctx), "controller");
    if (api == KN_API_LEADER_AND_ISR) {
        kn_LeaderAndIsrResponse_t r;
        kn_LeaderAndIsrResponse_init(&r);
        rc = kn_LeaderAndIsrResponse_decode(body, ver, &a, &r);
        if (rc == 0) {
            top = r.error_code;
            for (int32_t t = 0; t < r.topics_count; t++)
                for (int32_t p = 0; p < r.topics[t].partition_errors_count; p++)
                    if (r.topics[t].partition_errors[p].error_code)
                        kn_log(KN_LOG_WARN, ctx, "LeaderAndIsr: broker %" PRId32 " answered %s for partition %" PRId32,
                               b->id, kn_kerr_name(r.topics[t].partition_errors[p].error_code),
                               r.topics[t].partition_errors[p].partition_index);
        }
    } else if (api == KN_API_UPDATE_METADATA) {
        kn_UpdateMetadataResponse_t r;
        kn_UpdateMetadataResponse_init(&r);
        rc = kn_UpdateMetadataResponse_decode(body, ver, &a, &r);
        if (rc == 0) top = r.error_code;
    } else {
        kn_StopReplicaResponse_t r;
        kn_StopReplicaResponse_init(&r);
        rc = kn_StopReplicaResponse_decode(body, ver, &a, &r);
        if (rc == 0) {
            top = r.error_code;
            for (int32_t p = 0; p < r.partition_errors_count; p++)
                if (r.partition_errors[p].error_code)
                    kn_log(KN_LOG_WARN, ctx, "StopReplica: broker %" PRId32 " answered %s for %.*s-%" PRId32, b->id,
                           kn_kerr_name(r.partition_errors[p].error_code), (int)r.partition_errors[p].topic_name.len,
                           r.partition_errors[p].topic_name.p, r.partition_errors[p].partition_index);
        }
    }
    if (rc != 0)
        kn_log(KN_LOG_WARN, ctx, "%s: cannot decode broker %" PRId32 "'s reply: %s", api_name(api), b->id,
               kn_strerror(rc));
    else if (top != 0)
        kn_log(KN_LOG_WARN, ctx, "%s: broker %" PRId32 " answered %s (controller epoch %" PRId32 ")", api_name(api),
               b->id, kn_kerr_name(top), c->ctrl_epoch);
    kn_arena_reset(&a);
}

static void pump(kn_cluster_t *c, chan_broker_t *b);

static void on_reply(void *arg, int status, kn_rd_t *body) {
    chan_call_t *call = arg;
    kn_chan_t *ch = call->ch;
    kn_cluster_t *c = ch->c;
    chan_broker_t *b = c ? find(ch, call->id) : NULL;
    if (!b || b->seq != call->seq || !b->inflight) {
        kn_free(call);
        unref(ch);
        return;
    }
    b->inflight = false;
    chan_job_t *j = b->head;
    if (status != 0) {
        /* The broker is registered (else it would be gone from the
         * channel): try again after a backoff. */
        int64_t backoff = (int64_t)CHAN_BACKOFF_MS << (b->failures < 4 ? b->failures : 4);
        if (backoff > CHAN_BACKOFF_MAX_MS) backoff = CHAN_BACKOFF_MAX_MS;
        if (b->failures++ == 0)
            kn_log(KN_LOG_WARN, "controller", "%s to broker %" PRId32 " failed: %s; retrying every %d-%d ms",
                   api_name(call->api), b->id, kn_strerror(status), CHAN_BACKOFF_MS, CHAN_BACKOFF_MAX_MS);
        j->sent = false;
        b->retry_at_ms = kn_now_ms() + backoff;
        kick(c, (uint64_t)backoff);
    } else {
        if (b->failures > 0)
            kn_log(KN_LOG_INFO, "controller", "broker %" PRId32 " answers again after %d failed send(s)", b->id,
                   b->failures);
        b->failures = 0;
        log_reply(c, b, call->api, call->ver, body);
        pop(b);
        job_drop(c, j); /* acknowledges StopReplica(delete) items */
        pump(c, b);
    }
    kn_free(call);
    unref(ch);
}

static void pump(kn_cluster_t *c, chan_broker_t *b) {
    kn_chan_t *ch = c->chan;
    while (b->head && !b->inflight && kn_now_ms() >= b->retry_at_ms && c->is_controller) {
        chan_job_t *j = b->head;
        kn_arena_t a;
        kn_arena_init(&a);
        kn_wbuf_t w;
        kn_wbuf_init(&w);
        bool any = true;
        int16_t ver = CHAN_UM_VERSION;
        if (j->api == KN_API_LEADER_AND_ISR) {
            any = build_lair(c, b, j, &a, &w);
            ver = CHAN_LAIR_VERSION;
        } else if (j->api == KN_API_UPDATE_METADATA) {
            build_um(c, b, j, &a, &w);
        } else {
            build_stop(c, b, j, &a, &w);
            ver = CHAN_STOP_VERSION;
        }
        kn_arena_reset(&a);
        if (!any) {
            kn_wbuf_free(&w);
            pop(b);
            job_drop(c, j);
            continue;
        }
        chan_call_t *call = kn_malloc(sizeof(*call));
        *call = (chan_call_t){ch, b->id, b->seq, j->api, ver};
        ch->refs++;
        j->sent = true;
        b->inflight = true;
        kn_ib_send(b->ib, &w, c->ctrl_request_timeout_ms, on_reply, call);
        kn_wbuf_free(&w);
    }
}

static void chan_timer_cb(uv_timer_t *t) {
    kn_cluster_t *c = t->data;
    kn_chan_t *ch = c->chan;
    if (!ch) return;
    for (size_t i = 0; i < ch->nb && c->chan == ch; i++) pump(c, ch->b[i]);
    if (c->chan != ch) return;
    int64_t next = probes_pump(c);
    int64_t now = kn_now_ms();
    for (size_t i = 0; i < ch->nb; i++) {
        chan_broker_t *b = ch->b[i];
        if (b->head && !b->inflight && b->retry_at_ms > now && (next < 0 || b->retry_at_ms < next))
            next = b->retry_at_ms;
    }
    if (next >= 0) uv_timer_start(&c->chan_timer, chan_timer_cb, (uint64_t)(next > now ? next - now : 0), 0);
}

static void kick(kn_cluster_t *c, uint64_t delay_ms) {
    if (c->stopping || c->handles_closing) return;
    if (uv_is_active((uv_handle_t *)&c->chan_timer) && uv_timer_get_due_in(&c->chan_timer) <= delay_ms) return;
    uv_timer_start(&c->chan_timer, chan_timer_cb, delay_ms, 0);
}

/* ---- probes (fast failure detection) ---- */

#define PROBE_REFUSED_RETRY_MS 500 /* while cut: does it listen again? */
#define PROBE_BACKOFF_MS 200
#define PROBE_BACKOFF_MAX_MS 2000
#define PROBE_FLAP_MS 1000 /* a connection lost sooner than this waits before reconnecting */
#define PROBE_FLAP_DELAY_MS 100

static chan_probe_t *probe_find(const kn_chan_t *ch, int32_t id) {
    for (size_t i = 0; i < ch->npr; i++)
        if (ch->pr[i]->id == id) return ch->pr[i];
    return NULL;
}

bool kn_cluster__chan_cut(const kn_cluster_t *c, int32_t id, int64_t epoch) {
    const chan_probe_t *pr = c->chan ? probe_find(c->chan, id) : NULL;
    return pr && pr->cut && pr->epoch == epoch;
}

static void probe_conn_closed(uv_handle_t *h) { kn_free(h->data); }

static void probe_detach(chan_probe_t *pr) {
    probe_conn_t *pc = pr->conn;
    if (!pc) return;
    pr->conn = NULL;
    pc->pr = NULL;
    uv_close((uv_handle_t *)&pc->tcp, probe_conn_closed);
}

static void probe_retry(chan_probe_t *pr, int64_t delay_ms) {
    pr->next_ms = kn_now_ms() + delay_ms;
    if (pr->ch->c) kick(pr->ch->c, (uint64_t)delay_ms);
}

static void probe_set_cut(chan_probe_t *pr, bool cut, const char *why) {
    kn_cluster_t *c = pr->ch->c;
    if (pr->cut == cut || !c) return;
    pr->cut = cut;
    if (cut) {
        pr->cut_at_ms = kn_now_ms();
        kn_log(KN_LOG_WARN, "controller",
               "broker %" PRId32 " (broker epoch %" PRId64 "): live -> gone (%s; its ZooKeeper registration "
               "has not expired yet)",
               pr->id, pr->epoch, why);
    } else {
        kn_log(KN_LOG_INFO, "controller", "broker %" PRId32 " (broker epoch %" PRId64 "): gone -> live (%s after %" PRId64
               " ms)", pr->id, pr->epoch, why, kn_now_ms() - pr->cut_at_ms);
    }
    kn_cluster__mark_dirty(c); /* the reconcile elects without it / sends it everything again */
}

static void probe_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    static char sink[256]; /* a broker never writes on this connection */
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(sink, sizeof(sink));
}

static void probe_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    probe_conn_t *pc = s->data;
    chan_probe_t *pr = pc->pr;
    (void)buf;
    if (!pr || nread >= 0) return;
    kn_dbg(KN_DBG_REPL, "controller", "probe of broker %" PRId32 ": connection lost (%s); reconnecting", pr->id,
           nread == UV_EOF ? "closed by the peer" : uv_strerror((int)nread));
    bool flapping = kn_now_ms() - pr->up_since_ms < PROBE_FLAP_MS;
    probe_detach(pr);
    probe_retry(pr, flapping ? PROBE_FLAP_DELAY_MS : 0);
}

static void probe_connected(uv_connect_t *req, int status) {
    probe_conn_t *pc = req->data;
    chan_probe_t *pr = pc->pr;
    if (!pr || status == UV_ECANCELED) return;
    if (status == 0) {
        pc->up = true;
        pr->fails = 0;
        pr->up_since_ms = kn_now_ms();
        uv_read_start((uv_stream_t *)&pc->tcp, probe_alloc, probe_read);
        probe_set_cut(pr, false, "its port accepts connections again");
        return;
    }
    probe_detach(pr);
    if (status == UV_ECONNREFUSED) {
        /* Nothing listens on the port: the process is gone (a stopped or
         * busy one still gets its connections accepted by the kernel). */
        probe_set_cut(pr, true, "connection lost and reconnect refused");
        probe_retry(pr, PROBE_REFUSED_RETRY_MS);
        return;
    }
    /* Unreachable or timed out: proves nothing; ZooKeeper decides. */
    int64_t backoff = (int64_t)PROBE_BACKOFF_MS << (pr->fails < 4 ? pr->fails : 4);
    pr->fails++;
    probe_retry(pr, backoff > PROBE_BACKOFF_MAX_MS ? PROBE_BACKOFF_MAX_MS : backoff);
}

static void probe_start(kn_cluster_t *c, chan_probe_t *pr) {
    struct sockaddr_in sin;
    pr->next_ms = INT64_MAX;
    if (uv_ip4_addr(!strcmp(pr->host, "localhost") ? "127.0.0.1" : pr->host, pr->port, &sin) != 0)
        return; /* not an IPv4 literal: no probing, ZooKeeper alone decides */
    probe_conn_t *pc = kn_calloc(1, sizeof(*pc));
    pc->pr = pr;
    uv_tcp_init(c->loop, &pc->tcp);
    pc->tcp.data = pc;
    pc->req.data = pc;
    pr->conn = pc;
    int rc = uv_tcp_connect(&pc->req, &pc->tcp, (const struct sockaddr *)&sin, probe_connected);
    if (rc < 0) {
        probe_detach(pr);
        probe_retry(pr, PROBE_BACKOFF_MAX_MS);
    }
}

static void probe_free(chan_probe_t *pr) {
    probe_detach(pr);
    kn_free(pr->host);
    kn_free(pr);
}

/* One probe per other registered broker and registration. */
static void probes_sync(kn_cluster_t *c) {
    kn_chan_t *ch = c->chan;
    for (size_t i = 0; i < ch->npr;) {
        chan_probe_t *pr = ch->pr[i];
        const kn_cbroker_t *cb = cache_broker(c, pr->id);
        if (!cb || cb->meta.epoch != pr->epoch) {
            if (pr->cut)
                kn_log(KN_LOG_INFO, "controller", "broker %" PRId32 ": cut-off registration (broker epoch %" PRId64
                       ") %s", pr->id, pr->epoch, cb ? "replaced by a new one" : "expired");
            ch->pr[i] = ch->pr[--ch->npr];
            probe_free(pr);
            continue;
        }
        if (cb->meta.port != pr->port || strcmp(cb->meta.host, pr->host)) {
            kn_free(pr->host);
            pr->host = kn_strdup(cb->meta.host);
            pr->port = cb->meta.port;
            probe_detach(pr);
            probe_retry(pr, 0);
        }
        i++;
    }
    for (size_t i = 0; i < c->nbrokers; i++) {
        const kn_cbroker_t *cb = &c->brokers[i];
        if (!cb->loaded || cb->id == c->broker_id || probe_find(ch, cb->id)) continue;
        chan_probe_t *pr = kn_calloc(1, sizeof(*pr));
        pr->ch = ch;
        pr->id = cb->id;
        pr->epoch = cb->meta.epoch;
        pr->host = kn_strdup(cb->meta.host);
        pr->port = cb->meta.port;
        ch->pr = kn_realloc(ch->pr, (ch->npr + 1) * sizeof(*ch->pr));
        ch->pr[ch->npr++] = pr;
        probe_start(c, pr);
    }
}

/* Start due reconnects; returns the next due time or -1. */
static int64_t probes_pump(kn_cluster_t *c) {
    kn_chan_t *ch = c->chan;
    int64_t now = kn_now_ms(), next = -1;
    for (size_t i = 0; i < ch->npr; i++) {
        chan_probe_t *pr = ch->pr[i];
        if (pr->conn) continue;
        if (pr->next_ms <= now) probe_start(c, pr);
        if (!pr->conn && pr->next_ms != INT64_MAX && (next < 0 || pr->next_ms < next)) next = pr->next_ms;
    }
    return next;
}

/* ---- brokers ---- */

static void broker_close(kn_cluster_t *c, chan_broker_t *b) {
    while (b->head) {
        chan_job_t *j = b->head;
        pop(b);
        job_drop(c, j);
    }
    kn_ib_close(b->ib);
    kn_free(b->host);
    kn_free(b);
}

static chan_broker_t *broker_add(kn_cluster_t *c, const kn_cbroker_t *cb) {
    kn_chan_t *ch = c->chan;
    chan_broker_t *b = kn_calloc(1, sizeof(*b));
    b->id = cb->id;
    b->epoch = cb->meta.epoch;
    b->host = kn_strdup(cb->meta.host);
    b->port = cb->meta.port;
    b->seq = ++ch->next_seq;
    char cid[48], ctx[48];
    snprintf(cid, sizeof(cid), "kanal-controller-%" PRId32, c->broker_id);
    snprintf(ctx, sizeof(ctx), "controller->broker %" PRId32, cb->id);
    b->ib = kn_ib_new(c->loop, cb->id, cb->meta.host, cb->meta.port, cid, ctx);
    ch->b = kn_realloc(ch->b, (ch->nb + 1) * sizeof(*ch->b));
    ch->b[ch->nb++] = b;
    return b;
}

void kn_cluster__chan_open(kn_cluster_t *c) {
    if (c->chan) return;
    kn_chan_t *ch = kn_calloc(1, sizeof(*ch));
    ch->c = c;
    ch->refs = 1;
    c->chan = ch;
}

void kn_cluster__chan_close(kn_cluster_t *c) {
    kn_chan_t *ch = c->chan;
    if (!ch) return;
    c->chan = NULL;
    for (size_t i = 0; i < ch->nb; i++) broker_close(NULL, ch->b[i]);
    ch->nb = 0;
    for (size_t i = 0; i < ch->npr; i++) probe_free(ch->pr[i]);
    ch->npr = 0;
    ch->c = NULL;
    if (!c->handles_closing) uv_timer_stop(&c->chan_timer);
    unref(ch);
}

void kn_cluster__chan_free(kn_cluster_t *c) { kn_cluster__chan_close(c); }

void kn_cluster__chan_sync(kn_cluster_t *c) {
    kn_chan_t *ch = c->chan;
    if (!ch) return;
    probes_sync(c);
    bool changed = false;
    for (size_t i = 0; i < ch->nb;) {
        chan_broker_t *b = ch->b[i];
        const kn_cbroker_t *cb = cache_broker(c, b->id);
        bool cut = cb && kn_cluster__chan_cut(c, cb->id, cb->meta.epoch);
        if (!cb || cb->meta.epoch != b->epoch || cut) {
            kn_log(KN_LOG_INFO, "controller", "channel to broker %" PRId32 ": closed (%s)", b->id,
                   cut  ? "its process is gone"
                   : cb ? "registered again with a new broker epoch"
                        : "broker gone");
            ch->b[i] = ch->b[--ch->nb];
            broker_close(c, b);
            changed = true;
            continue;
        }
        if (cb->meta.port != b->port || strcmp(cb->meta.host, b->host)) {
            kn_free(b->host);
            b->host = kn_strdup(cb->meta.host);
            b->port = cb->meta.port;
            kn_ib_set_addr(b->ib, b->host, b->port);
        }
        i++;
    }
    int32_t *fresh = kn_malloc(sizeof(int32_t) * (c->nbrokers ? c->nbrokers : 1));
    size_t nfresh = 0;
    for (size_t i = 0; i < c->nbrokers; i++) {
        const kn_cbroker_t *cb = &c->brokers[i];
        if (!cb->loaded || find(ch, cb->id) || kn_cluster__chan_cut(c, cb->id, cb->meta.epoch)) continue;
        broker_add(c, cb);
        kn_log(KN_LOG_INFO, "controller", "channel to broker %" PRId32 " (%s:%d, broker epoch %" PRId64 "): open",
               cb->id, cb->meta.host, cb->meta.port, cb->meta.epoch);
        fresh[nfresh++] = cb->id;
        changed = true;
    }
    if (changed) kn_cluster__chan_um_full(c); /* live broker list changed: everyone hears it first */
    /* A new broker then learns every partition it hosts. */
    for (size_t k = 0; k < nfresh; k++) {
        for (size_t i = 0; i < c->ntopics; i++) {
            kn_ctopic_t *t = c->topics[i];
            if (!t->have_assign || t->deleting) continue;
            for (int32_t p = 0; p < t->npart; p++) {
                if (t->pstate[p] != KN_PS_PRESENT) continue;
                for (int32_t r = 0; r < t->parts[p].nreplicas; r++)
                    if (t->parts[p].replicas[r] == fresh[k]) kn_cluster__chan_lair(c, fresh[k], t->name, p, false);
            }
        }
    }
    kn_free(fresh);
}

void kn_cluster__chan_lair(kn_cluster_t *c, int32_t broker, const char *topic, int32_t p, bool is_new) {
    chan_broker_t *b = c->chan ? find(c->chan, broker) : NULL;
    if (b) enqueue(c, b, KN_API_LEADER_AND_ISR, topic, p, is_new, false);
}

void kn_cluster__chan_um(kn_cluster_t *c, const char *topic, int32_t p) {
    if (!c->chan) return;
    for (size_t i = 0; i < c->chan->nb; i++) enqueue(c, c->chan->b[i], KN_API_UPDATE_METADATA, topic, p, false, false);
}

void kn_cluster__chan_um_full(kn_cluster_t *c) {
    if (!c->chan) return;
    for (size_t i = 0; i < c->chan->nb; i++) enqueue(c, c->chan->b[i], KN_API_UPDATE_METADATA, NULL, -1, false, true);
}

void kn_cluster__chan_stop(kn_cluster_t *c, int32_t broker, const char *topic, int32_t p, bool del) {
    chan_broker_t *b = c->chan ? find(c->chan, broker) : NULL;
    if (b)
        enqueue(c, b, KN_API_STOP_REPLICA, topic, p, del, false);
    else if (del)
        kn_cluster__ctrl_stop_acked(c, topic);
}
