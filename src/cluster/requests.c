/* Requests the controller answers (AlterPartition, ControlledShutdown,
 * ElectLeaders), the periodic preferred-leader rebalance, and the
 * shutting-down broker's ControlledShutdown client. Decisions come from
 * election.c; writes go through kn_cluster__write_state (controller.c),
 * which also tells the brokers.
 *
 * A request that writes is a "wait": it lives until every write it issued
 * has come back (refs) and is answered once — when its writes are done,
 * when (ControlledShutdown) the broker's partitions are settled, or with an
 * error when the controller resigns or the cluster stops. Loop thread only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "election_int.h"
#include "kanal/cluster/ibclient.h"
#include "kanal/proto/gen/api.h"
#include "kanal/proto/gen/controlled_shutdown.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"
#include "kanal/util/time.h"

#define CS_WAIT_MS 5000          /* controller side: settle or answer with what remains */
#define CS_CLIENT_TRIES 3
#define CS_CLIENT_BOUND_MS 10000
#define CS_CLIENT_BACKOFF_MS 300
#define CS_CLIENT_TIMEOUT_MS 8000
#define CS_VERSION 3

enum { W_ALTER, W_CS, W_ELECT };

typedef struct kn_ctrl_wait_s {
    struct kn_ctrl_wait_s *next;
    kn_cluster_t *c;
    int kind;
    int refs; /* 1 until answered + 1 per write in flight */
    bool listed, answered;
    int pending;
    kn_arena_t arena;
    void *ud;
    int16_t version;
    /* AlterPartition */
    kn_AlterPartitionResponse_t ap;
    void (*ap_done)(void *ud, kn_AlterPartitionResponse_t *resp);
    /* ElectLeaders */
    kn_ElectLeadersResponse_t el;
    bool el_all;
    void (*el_done)(void *ud, kn_ElectLeadersResponse_t *resp);
    /* ControlledShutdown */
    int32_t cs_broker;
    int64_t cs_deadline;
    int16_t cs_err;
    void (*cs_done)(void *ud, int16_t err, const kn_cluster_tp_t *rem, int32_t n);
} kn_ctrl_wait_t;

typedef struct wticket_s {
    kn_ctrl_wait_t *w;
    int32_t ti, pi;
} wticket_t;

static void *wal(kn_ctrl_wait_t *w, size_t n) {
    void *p = kn_arena_alloc(&w->arena, n ? n : 1);
    if (!p) {
        kn_log(KN_LOG_ERROR, "controller", "out of memory building a controller reply");
        abort();
    }
    return p;
}

static kn_str_t wstr(kn_ctrl_wait_t *w, const char *s, size_t n) {
    return (kn_str_t){kn_arena_strndup(&w->arena, s, n), (int32_t)n};
}

static kn_ctrl_wait_t *wait_new(kn_cluster_t *c, int kind, void *ud, int16_t version) {
    kn_ctrl_wait_t *w = kn_calloc(1, sizeof(*w));
    w->c = c;
    w->kind = kind;
    w->refs = 1;
    w->ud = ud;
    w->version = version;
    kn_arena_init(&w->arena);
    w->next = c->waits;
    c->waits = w;
    w->listed = true;
    return w;
}

static void wait_unref(kn_ctrl_wait_t *w) {
    if (--w->refs > 0) return;
    kn_arena_reset(&w->arena);
    kn_free(w);
}

static void unlist(kn_ctrl_wait_t *w) {
    if (!w->listed) return;
    w->listed = false;
    for (kn_ctrl_wait_t **pp = &w->c->waits; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
}

static bool shut_has(const kn_cluster_t *c, int32_t id) {
    for (size_t i = 0; i < c->nshut; i++)
        if (c->shut_ids[i] == id) return true;
    return false;
}

/* Partitions the shutting broker still leads (replication factor > 1). */
static void cs_answer(kn_ctrl_wait_t *w) {
    kn_cluster_t *c = w->c;
    kn_cluster_tp_t *rem = NULL;
    int32_t n = 0;
    if (w->cs_err == 0) {
        size_t cap = 0;
        for (size_t i = 0; i < c->ntopics; i++) cap += (size_t)c->topics[i]->npart;
        rem = wal(w, sizeof(*rem) * (cap ? cap : 1));
        for (size_t i = 0; i < c->ntopics; i++) {
            kn_ctopic_t *t = c->topics[i];
            for (int32_t p = 0; p < t->npart; p++)
                if (t->parts[p].nreplicas > 1 && t->pstate[p] == KN_PS_PRESENT && t->parts[p].leader == w->cs_broker)
                    rem[n++] = (kn_cluster_tp_t){t->name, p};
        }
        kn_log(KN_LOG_INFO, c->ctx, "controller: controlled shutdown of broker %" PRId32 ": %" PRId32
               " partition(s) still led by it",
               w->cs_broker, n);
    }
    w->cs_done(w->ud, w->cs_err, rem, n);
}

static void el_filter(kn_ElectLeadersResponse_t *resp);

static void answer(kn_ctrl_wait_t *w) {
    if (w->answered) return;
    w->answered = true;
    unlist(w);
    if (w->kind == W_ALTER)
        w->ap_done(w->ud, &w->ap);
    else if (w->kind == W_ELECT) {
        if (w->el_all) el_filter(&w->el);
        w->el_done(w->ud, &w->el);
    }
    else
        cs_answer(w);
    wait_unref(w);
}

/* Answer from the queue, never inside the caller's call. */
static void deferred_fn(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    (void)c;
    (void)r;
    kn_cluster_done_cb cb = op->ucb;
    op->ucb = NULL;
    cb(op->uud, 0, NULL);
}

static void deferred_answer(void *ud, int16_t kerr, const char *msg) {
    (void)kerr;
    (void)msg;
    answer(ud); /* no-op if a resign answered it meanwhile */
    wait_unref(ud);
}

static void answer_later(kn_ctrl_wait_t *w) {
    kn_cluster_t *c = w->c;
    if (c->handles_closing) {
        answer(w);
        return;
    }
    kn_zop_t *op = kn_cluster__op(c, deferred_fn, "");
    op->ucb = deferred_answer;
    op->uud = w;
    w->refs++; /* the queued answer's: kn_cluster__waits_drop may answer first */
    kn_cluster__post(c, op, 0);
}

void kn_cluster__waits_drop(kn_cluster_t *c, int16_t kerr) {
    while (c->waits) {
        kn_ctrl_wait_t *w = c->waits;
        if (w->kind == W_ALTER) {
            w->ap.error_code = kerr;
        } else if (w->kind == W_ELECT) {
            w->el.error_code = kerr;
        } else {
            w->cs_err = kerr;
        }
        answer(w);
    }
}

static bool cs_settled(kn_cluster_t *c, int32_t id) {
    size_t nb = c->nbrokers ? c->nbrokers : 1;
    int32_t eids[nb], rids[nb];
    int64_t eep[nb], rep[nb];
    kn_brokerset_t elig = {eids, eep, 0}, reg = {rids, rep, 0};
    kn_cluster__live_sets(c, eids, eep, &elig.n, rids, rep, &reg.n);
    for (size_t i = 0; i < c->ntopics; i++) {
        kn_ctopic_t *t = c->topics[i];
        if (!t->have_assign || t->deleting) continue;
        for (int32_t p = 0; p < t->npart; p++) {
            const kn_partition_state_t *ps = &t->parts[p];
            bool mine = false;
            for (int32_t r = 0; r < ps->nreplicas; r++) mine = mine || ps->replicas[r] == id;
            if (!mine || t->pstate[p] != KN_PS_PRESENT) continue;
            if (t->pbusy[p]) return false;
            int32_t n = ps->nreplicas > ps->nisr ? ps->nreplicas : ps->nisr;
            int32_t isr[n > 0 ? n : 1];
            kn_lisr_t d = {.isr = isr};
            if (kn_cluster__offline_decision(ps, &elig, &reg, kn_cluster__unclean_for(c, t), &d)) return false;
        }
    }
    return true;
}

void kn_cluster__waits_poke(kn_cluster_t *c) {
    int64_t now = kn_now_ms();
    bool again = true;
    while (again) {
        again = false;
        for (kn_ctrl_wait_t *w = c->waits; w; w = w->next) {
            if (w->kind != W_CS) continue;
            if (now >= w->cs_deadline || cs_settled(c, w->cs_broker)) {
                answer(w);
                again = true; /* the list changed */
                break;
            }
        }
    }
}

/* ---- AlterPartition ---- */

static void fill_from_state(kn_ctrl_wait_t *w, kn_AlterPartitionResponse_PartitionData_t *o,
                            const kn_partition_state_t *ps) {
    o->error_code = 0;
    o->leader_id = ps->leader;
    o->leader_epoch = ps->leader_epoch;
    o->isr = wal(w, sizeof(int32_t) * (size_t)(ps->nisr ? ps->nisr : 1));
    if (ps->nisr) memcpy(o->isr, ps->isr, sizeof(int32_t) * (size_t)ps->nisr);
    o->isr_count = ps->nisr;
    o->leader_recovery_state = 0;
    o->partition_epoch = ps->zk_version;
}

static kn_ctopic_t *topic_by_id(const kn_cluster_t *c, const kn_uuid_t *id) {
    for (size_t i = 0; i < c->ntopics; i++)
        if (c->topics[i]->has_id && !memcmp(&c->topics[i]->id, id, sizeof(*id))) return c->topics[i];
    return NULL;
}

static void ap_written(void *ud, int16_t err, const char *msg) {
    (void)msg;
    wticket_t *tk = ud;
    kn_ctrl_wait_t *w = tk->w;
    w->pending--;
    if (!w->answered) {
        kn_AlterPartitionResponse_PartitionData_t *o = &w->ap.topics[tk->ti].partitions[tk->pi];
        kn_ctopic_t *t = NULL;
        const kn_AlterPartitionResponse_TopicData_t *td = &w->ap.topics[tk->ti];
        if (w->version >= 2)
            t = topic_by_id(w->c, &td->topic_id);
        else
            t = kn_cluster__find_topic(w->c, td->topic_name.p);
        if (err == 0 && t && o->partition_index < t->npart) {
            fill_from_state(w, o, &t->parts[o->partition_index]);
        } else {
            /* 41 fenced, 95 someone wrote first, 7 ZooKeeper lost: the
             * leader retries on OPERATION_NOT_ATTEMPTED. */
            o->error_code = err == 41 || err == 95 ? err : KN_KERR_OPERATION_NOT_ATTEMPTED;
        }
        if (w->pending == 0) answer(w);
    }
    kn_free(tk);
    wait_unref(w);
}

void kn_cluster_alter_partition(kn_cluster_t *c, const kn_AlterPartitionRequest_t *req, int16_t version,
                                void (*done)(void *ud, kn_AlterPartitionResponse_t *resp), void *ud) {
    kn_ctrl_wait_t *w = wait_new(c, W_ALTER, ud, version);
    w->ap_done = done;
    kn_AlterPartitionResponse_t *resp = &w->ap;
    kn_AlterPartitionResponse_init(resp);
    resp->topics_count = 0;
    resp->topics = NULL;
    const kn_cbroker_t *rb = NULL;
    for (size_t i = 0; i < c->nbrokers; i++)
        if (c->brokers[i].id == req->broker_id && c->brokers[i].loaded) rb = &c->brokers[i];
    if (!c->is_controller) {
        resp->error_code = KN_KERR_NOT_CONTROLLER;
    } else if (!rb || rb->meta.epoch != req->broker_epoch) {
        kn_log(KN_LOG_INFO, c->ctx, "AlterPartition from broker %" PRId32 " with broker epoch %" PRId64
               " rejected: STALE_BROKER_EPOCH (registered epoch %" PRId64 ")",
               req->broker_id, req->broker_epoch, rb ? rb->meta.epoch : -1);
        resp->error_code = KN_KERR_STALE_BROKER_EPOCH;
    }
    if (resp->error_code != 0 || req->topics_count <= 0) {
        answer_later(w);
        return;
    }
    size_t nb = c->nbrokers ? c->nbrokers : 1;
    int32_t eids[nb], rids[nb];
    int64_t eep[nb], rep[nb];
    kn_brokerset_t elig = {eids, eep, 0};
    int32_t nreg;
    kn_cluster__live_sets(c, eids, eep, &elig.n, rids, rep, &nreg);
    resp->topics = wal(w, sizeof(*resp->topics) * (size_t)req->topics_count);
    resp->topics_count = req->topics_count;
    for (int32_t ti = 0; ti < req->topics_count; ti++) {
        const kn_AlterPartitionRequest_TopicData_t *rt = &req->topics[ti];
        kn_AlterPartitionResponse_TopicData_t *ot = &resp->topics[ti];
        kn_AlterPartitionResponse_TopicData_init(ot);
        kn_ctopic_t *t;
        if (version >= 2) {
            ot->topic_id = rt->topic_id;
            t = topic_by_id(c, &rt->topic_id);
        } else {
            ot->topic_name = wstr(w, rt->topic_name.p ? rt->topic_name.p : "", (size_t)(rt->topic_name.len > 0 ? rt->topic_name.len : 0));
            t = kn_cluster__find_topic(c, ot->topic_name.p);
        }
        if (t && version >= 2) ot->topic_name = wstr(w, t->name, strlen(t->name));
        int32_t np = rt->partitions_count > 0 ? rt->partitions_count : 0;
        ot->partitions = wal(w, sizeof(*ot->partitions) * (size_t)(np ? np : 1));
        ot->partitions_count = np;
        for (int32_t pi = 0; pi < np; pi++) {
            const kn_AlterPartitionRequest_PartitionData_t *rp = &rt->partitions[pi];
            kn_AlterPartitionResponse_PartitionData_t *o = &ot->partitions[pi];
            kn_AlterPartitionResponse_PartitionData_init(o);
            o->partition_index = rp->partition_index;
            int32_t p = rp->partition_index;
            if (!t || !t->have_assign || t->deleting || p < 0 || p >= t->npart || t->pstate[p] != KN_PS_PRESENT) {
                o->error_code = KN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (t->pbusy[p]) {
                o->error_code = KN_KERR_OPERATION_NOT_ATTEMPTED;
                continue;
            }
            int32_t n = version >= 3 ? rp->new_isr_with_epochs_count : rp->new_isr_count;
            if (n < 0) n = 0;
            int32_t isr[n ? n : 1];
            int64_t eps[n ? n : 1];
            for (int32_t k = 0; k < n; k++) {
                isr[k] = version >= 3 ? rp->new_isr_with_epochs[k].broker_id : rp->new_isr[k];
                eps[k] = version >= 3 ? rp->new_isr_with_epochs[k].broker_epoch : -1;
            }
            const kn_partition_state_t *cur = &t->parts[p];
            bool noop;
            int16_t err = kn_cluster__alter_check(cur, req->broker_id, rp->leader_epoch, rp->partition_epoch, isr, n,
                                                  version >= 3 ? eps : NULL, &elig, &noop);
            if (err) {
                kn_log(KN_LOG_INFO, c->ctx, "%s-%" PRId32 ": AlterPartition from broker %" PRId32
                       " (leader epoch %" PRId32 ", partition epoch %" PRId32 ") rejected: %s",
                       t->name, p, req->broker_id, rp->leader_epoch, rp->partition_epoch, kn_kerr_name(err));
                o->error_code = err;
            } else if (noop) {
                fill_from_state(w, o, cur);
            } else {
                kn_log(KN_LOG_INFO, c->ctx, "%s-%" PRId32 ": ISR %" PRId32 " -> %" PRId32
                       " member(s) (AlterPartition from leader %" PRId32 ", leader epoch %" PRId32 ")",
                       t->name, p, cur->nisr, n, req->broker_id, cur->leader_epoch);
                wticket_t *tk = kn_malloc(sizeof(*tk));
                *tk = (wticket_t){w, ti, pi};
                w->pending++;
                w->refs++;
                kn_cluster__write_state(c, t, p, cur->leader, cur->leader_epoch, isr, n, false, ap_written, tk);
            }
        }
    }
    if (w->pending == 0) answer_later(w);
}

/* ---- ElectLeaders ---- */

static void el_written(void *ud, int16_t err, const char *msg) {
    (void)msg;
    wticket_t *tk = ud;
    kn_ctrl_wait_t *w = tk->w;
    w->pending--;
    if (!w->answered) {
        kn_ElectLeadersResponse_PartitionResult_t *o =
            &w->el.replica_election_results[tk->ti].partition_result[tk->pi];
        if (err) {
            o->error_code = err == 41 ? KN_KERR_NOT_CONTROLLER : KN_KERR_PREFERRED_LEADER_NOT_AVAILABLE;
            if (err != 41) o->error_message = KN_STR("the partition changed meanwhile; retry");
        }
        if (w->pending == 0) answer(w);
    }
    kn_free(tk);
    wait_unref(w);
}

static void el_one(kn_ctrl_wait_t *w, int8_t type, kn_ctopic_t *t, int32_t p, const kn_brokerset_t *elig,
                   int32_t ti, int32_t pi) {
    kn_cluster_t *c = w->c;
    kn_ElectLeadersResponse_PartitionResult_t *o = &w->el.replica_election_results[ti].partition_result[pi];
    kn_ElectLeadersResponse_PartitionResult_init(o);
    o->partition_id = p;
    o->error_message = KN_STR_NULL;
    if (!t || !t->have_assign || t->deleting || p < 0 || p >= t->npart || t->pstate[p] != KN_PS_PRESENT) {
        o->error_code = KN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    if (t->pbusy[p]) {
        o->error_code = type == 1 ? KN_KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE : KN_KERR_PREFERRED_LEADER_NOT_AVAILABLE;
        o->error_message = KN_STR("a state change of this partition is in flight; retry");
        return;
    }
    const kn_partition_state_t *ps = &t->parts[p];
    int32_t n = ps->nreplicas > ps->nisr ? ps->nreplicas : ps->nisr;
    int32_t isr[n > 0 ? n : 1];
    kn_lisr_t d = {.isr = isr};
    int16_t err = type == 1 ? kn_cluster__unclean_decision(ps, elig, &d) : kn_cluster__preferred_decision(ps, elig, &d);
    o->error_code = err;
    if (err) return;
    kn_log(KN_LOG_INFO, c->ctx, "%s-%" PRId32 ": leader %" PRId32 " -> %" PRId32 " (%s election, leader epoch %" PRId32
           ")",
           t->name, p, ps->leader, d.leader, type == 1 ? "UNCLEAN" : "preferred", d.leader_epoch);
    wticket_t *tk = kn_malloc(sizeof(*tk));
    *tk = (wticket_t){w, ti, pi};
    w->pending++;
    w->refs++;
    kn_cluster__write_state(c, t, p, d.leader, d.leader_epoch, d.isr, d.nisr, true, el_written, tk);
}

void kn_cluster_elect_leaders(kn_cluster_t *c, const kn_ElectLeadersRequest_t *req, int16_t version,
                              void (*done)(void *ud, kn_ElectLeadersResponse_t *resp), void *ud) {
    kn_ctrl_wait_t *w = wait_new(c, W_ELECT, ud, version);
    w->el_done = done;
    kn_ElectLeadersResponse_t *resp = &w->el;
    kn_ElectLeadersResponse_init(resp);
    int8_t type = version >= 1 ? req->election_type : 0;
    bool all = req->topic_partitions_count < 0;
    w->el_all = all;
    int16_t top = !c->is_controller ? KN_KERR_NOT_CONTROLLER : (type != 0 && type != 1) ? KN_KERR_INVALID_REQUEST : 0;
    resp->error_code = top;
    size_t nb = c->nbrokers ? c->nbrokers : 1;
    int32_t eids[nb], rids[nb];
    int64_t eep[nb], rep[nb];
    kn_brokerset_t elig = {eids, eep, 0};
    int32_t nreg;
    kn_cluster__live_sets(c, eids, eep, &elig.n, rids, rep, &nreg);
    if (all) {
        resp->replica_election_results = wal(w, sizeof(*resp->replica_election_results) * (c->ntopics ? c->ntopics : 1));
        resp->replica_election_results_count = 0;
        for (size_t i = 0; top == 0 && i < c->ntopics; i++) {
            kn_ctopic_t *t = c->topics[i];
            if (!t->have_assign || t->deleting) continue;
            int32_t ti = resp->replica_election_results_count++;
            kn_ElectLeadersResponse_ReplicaElectionResult_t *r = &resp->replica_election_results[ti];
            kn_ElectLeadersResponse_ReplicaElectionResult_init(r);
            r->topic = wstr(w, t->name, strlen(t->name));
            r->partition_result = wal(w, sizeof(*r->partition_result) * (size_t)(t->npart ? t->npart : 1));
            r->partition_result_count = t->npart;
            for (int32_t p = 0; p < t->npart; p++) el_one(w, type, t, p, &elig, ti, p);
        }
    } else {
        resp->replica_election_results =
            wal(w, sizeof(*resp->replica_election_results) * (size_t)(req->topic_partitions_count ? req->topic_partitions_count : 1));
        resp->replica_election_results_count = req->topic_partitions_count;
        for (int32_t ti = 0; ti < req->topic_partitions_count; ti++) {
            const kn_ElectLeadersRequest_TopicPartitions_t *rt = &req->topic_partitions[ti];
            kn_ElectLeadersResponse_ReplicaElectionResult_t *r = &resp->replica_election_results[ti];
            kn_ElectLeadersResponse_ReplicaElectionResult_init(r);
            size_t tl = rt->topic.len > 0 ? (size_t)rt->topic.len : 0;
            r->topic = wstr(w, rt->topic.p ? rt->topic.p : "", tl);
            int32_t np = rt->partitions_count > 0 ? rt->partitions_count : 0;
            r->partition_result = wal(w, sizeof(*r->partition_result) * (size_t)(np ? np : 1));
            r->partition_result_count = np;
            kn_ctopic_t *t = kn_cluster__find_topic(c, r->topic.p);
            for (int32_t pi = 0; pi < np; pi++) {
                if (top) {
                    kn_ElectLeadersResponse_PartitionResult_init(&r->partition_result[pi]);
                    r->partition_result[pi].partition_id = rt->partitions[pi];
                    r->partition_result[pi].error_code = top;
                    r->partition_result[pi].error_message = KN_STR_NULL;
                } else {
                    el_one(w, type, t, rt->partitions[pi], &elig, ti, pi);
                }
            }
        }
    }
    if (w->pending == 0) answer_later(w);
}

/* Drop ELECTION_NOT_NEEDED from an all-partitions answer (at answer time,
 * since write tickets index the arrays by position). */
static void el_filter(kn_ElectLeadersResponse_t *resp) {
    int32_t tn = 0;
    for (int32_t ti = 0; ti < resp->replica_election_results_count; ti++) {
        kn_ElectLeadersResponse_ReplicaElectionResult_t *r = &resp->replica_election_results[ti];
        int32_t k = 0;
        for (int32_t p = 0; p < r->partition_result_count; p++)
            if (r->partition_result[p].error_code != KN_KERR_ELECTION_NOT_NEEDED)
                r->partition_result[k++] = r->partition_result[p];
        r->partition_result_count = k;
        if (k > 0) resp->replica_election_results[tn++] = *r;
    }
    resp->replica_election_results_count = tn;
}

/* ---- ControlledShutdown (controller side) ---- */

void kn_cluster_controlled_shutdown_request(kn_cluster_t *c, int32_t broker_id, int64_t broker_epoch,
                                            void (*done)(void *ud, int16_t err, const kn_cluster_tp_t *remaining,
                                                         int32_t nremaining),
                                            void *ud) {
    kn_ctrl_wait_t *w = wait_new(c, W_CS, ud, CS_VERSION);
    w->cs_done = done;
    w->cs_broker = broker_id;
    w->cs_deadline = kn_now_ms() + CS_WAIT_MS;
    const kn_cbroker_t *b = NULL;
    for (size_t i = 0; i < c->nbrokers; i++)
        if (c->brokers[i].id == broker_id && c->brokers[i].loaded) b = &c->brokers[i];
    if (!c->is_controller) {
        w->cs_err = KN_KERR_NOT_CONTROLLER;
    } else if (!b) {
        w->cs_err = KN_KERR_BROKER_NOT_AVAILABLE;
    } else if (broker_epoch != -1 && broker_epoch < b->meta.epoch) {
        w->cs_err = KN_KERR_STALE_BROKER_EPOCH;
    }
    if (w->cs_err) {
        kn_log(KN_LOG_INFO, c->ctx, "ControlledShutdown from broker %" PRId32 ": %s", broker_id,
               kn_kerr_name(w->cs_err));
        answer_later(w);
        return;
    }
    if (!shut_has(c, broker_id)) {
        kn_log(KN_LOG_INFO, c->ctx,
               "controller: broker %" PRId32 " begins a controlled shutdown: moving its leaderships, "
               "taking it out of ISRs",
               broker_id);
        c->shut_ids = kn_realloc(c->shut_ids, (c->nshut + 1) * sizeof(*c->shut_ids));
        c->shut_epochs = kn_realloc(c->shut_epochs, (c->nshut + 1) * sizeof(*c->shut_epochs));
        c->shut_ids[c->nshut] = broker_id;
        c->shut_epochs[c->nshut++] = b->meta.epoch;
    }
    /* The reconcile that follows issues the writes; pokes after each write
     * answer once the broker's partitions are settled. */
    kn_cluster__mark_dirty(c);
}

/* ---- auto leader rebalance ---- */

void kn_cluster__rebalance(kn_cluster_t *c) {
    size_t total = 0;
    for (size_t i = 0; i < c->ntopics; i++) {
        if (c->topics[i]->deleting) return; /* as Kafka: not while topics are being deleted */
        total += (size_t)c->topics[i]->npart;
    }
    if (total == 0) return;
    const kn_partition_state_t **parts = kn_malloc(sizeof(*parts) * total);
    size_t n = 0;
    for (size_t i = 0; i < c->ntopics; i++) {
        kn_ctopic_t *t = c->topics[i];
        for (int32_t p = 0; p < t->npart; p++)
            if (t->have_assign && t->pstate[p] == KN_PS_PRESENT) parts[n++] = &t->parts[p];
    }
    size_t nb = c->nbrokers ? c->nbrokers : 1;
    int32_t eids[nb], rids[nb];
    int64_t eep[nb], rep[nb];
    kn_brokerset_t elig = {eids, eep, 0};
    int32_t nreg;
    kn_cluster__live_sets(c, eids, eep, &elig.n, rids, rep, &nreg);
    for (int32_t bi = 0; bi < elig.n; bi++) {
        int32_t b = elig.ids[bi];
        double ratio = kn_cluster__imbalance(b, parts, n);
        if (ratio * 100.0 <= (double)c->imbalance_pct) continue;
        kn_log(KN_LOG_INFO, c->ctx, "controller: broker %" PRId32 " leads %.0f%% fewer of its preferred partitions"
               " than it should (> %" PRId32 "%%): preferred elections",
               b, ratio * 100.0, c->imbalance_pct);
        for (size_t i = 0; i < c->ntopics; i++) {
            kn_ctopic_t *t = c->topics[i];
            for (int32_t p = 0; p < t->npart; p++) {
                const kn_partition_state_t *ps = &t->parts[p];
                if (t->pbusy[p] || t->pstate[p] != KN_PS_PRESENT || ps->nreplicas < 1 || ps->replicas[0] != b)
                    continue;
                int32_t m = ps->nreplicas > ps->nisr ? ps->nreplicas : ps->nisr;
                int32_t isr[m > 0 ? m : 1];
                kn_lisr_t d = {.isr = isr};
                if (kn_cluster__preferred_decision(ps, &elig, &d) != 0) continue;
                kn_log(KN_LOG_INFO, c->ctx, "%s-%" PRId32 ": leader %" PRId32 " -> %" PRId32
                       " (preferred, auto rebalance, leader epoch %" PRId32 ")",
                       t->name, p, ps->leader, d.leader, d.leader_epoch);
                kn_cluster__write_state(c, t, p, d.leader, d.leader_epoch, d.isr, d.nisr, true, NULL, NULL);
            }
        }
    }
    kn_free(parts);
}

/* ---- ControlledShutdown client (the shutting-down broker) ---- */

typedef struct kn_csclient_s {
    kn_cluster_t *c; /* NULL once the cluster let go: late replies only release */
    int refs;
    kn_ib_t *ib;
    int32_t ib_target;
    void (*done)(void *ud, int ok, int remaining);
    void *ud;
    int tries;
    int64_t deadline;
    int last_remaining;
    bool finished;
} kn_csclient_t;

static void cs_unref(kn_csclient_t *s) {
    if (--s->refs > 0) return;
    kn_free(s);
}

static void cs_finish(kn_csclient_t *s, int ok, int remaining) {
    kn_cluster_t *c = s->c;
    if (s->finished) return;
    s->finished = true;
    if (s->ib) kn_ib_close(s->ib);
    s->ib = NULL;
    if (c) {
        kn_log(ok ? KN_LOG_INFO : KN_LOG_WARN, c->ctx, "controlled shutdown %s (%d partition(s) still led here)",
               ok ? "done: the controller moved every leadership away" : "gave up", remaining);
        if (!c->handles_closing) uv_timer_stop(&c->cs_timer);
        c->cs = NULL;
    }
    s->c = NULL;
    s->done(s->ud, ok, remaining);
    cs_unref(s);
}

static void cs_attempt(kn_csclient_t *s);

static void cs_timer_cb(uv_timer_t *h);

/* Another try after a backoff, or give up (tries or time exhausted). */
static void cs_retry(kn_csclient_t *s, int remaining, const char *why) {
    kn_cluster_t *c = s->c;
    if (remaining >= 0) s->last_remaining = remaining;
    int64_t now = kn_now_ms();
    if (s->tries >= CS_CLIENT_TRIES || now + CS_CLIENT_BACKOFF_MS >= s->deadline) {
        kn_log(KN_LOG_WARN, c->ctx, "controlled shutdown: %s; giving up after %d attempt(s)", why, s->tries);
        cs_finish(s, 0, s->last_remaining);
        return;
    }
    kn_log(KN_LOG_INFO, c->ctx, "controlled shutdown: %s; retrying in %d ms", why, CS_CLIENT_BACKOFF_MS);
    uv_timer_start(&c->cs_timer, cs_timer_cb, CS_CLIENT_BACKOFF_MS, 0);
}

static void cs_timer_cb(uv_timer_t *h) {
    kn_cluster_t *c = h->data;
    if (c->cs) cs_attempt(c->cs);
}

static void cs_outcome(kn_csclient_t *s, int16_t err, int remaining) {
    if (!s->c || s->finished) return;
    if (err == 0 && remaining == 0) {
        cs_finish(s, 1, 0);
        return;
    }
    char why[96];
    if (err)
        snprintf(why, sizeof(why), "the controller answered %s", kn_kerr_name(err));
    else
        snprintf(why, sizeof(why), "%d partition(s) could not be moved yet", remaining);
    cs_retry(s, err ? -1 : remaining, why);
}

static void cs_local_done(void *ud, int16_t err, const kn_cluster_tp_t *rem, int32_t n) {
    (void)rem;
    kn_csclient_t *s = ud;
    cs_outcome(s, err, (int)n);
    cs_unref(s);
}

static void cs_reply(void *arg, int status, kn_rd_t *body) {
    kn_csclient_t *s = arg;
    if (!s->c || s->finished) {
        cs_unref(s);
        return;
    }
    if (status != 0) {
        char why[96];
        snprintf(why, sizeof(why), "sending to controller %" PRId32 " failed: %s", s->ib_target, kn_strerror(status));
        cs_retry(s, -1, why);
        cs_unref(s);
        return;
    }
    kn_arena_t a;
    kn_arena_init(&a);
    kn_ControlledShutdownResponse_t r;
    kn_ControlledShutdownResponse_init(&r);
    int rc = kn_ControlledShutdownResponse_decode(body, CS_VERSION, &a, &r);
    if (rc != 0) {
        r.error_code = KN_KERR_UNKNOWN_SERVER_ERROR;
        r.remaining_partitions_count = -1;
    }
    cs_outcome(s, r.error_code, r.remaining_partitions_count > 0 ? r.remaining_partitions_count : 0);
    kn_arena_reset(&a);
    cs_unref(s);
}

static void cs_attempt(kn_csclient_t *s) {
    kn_cluster_t *c = s->c;
    if (!c || s->finished) return;
    if (kn_now_ms() >= s->deadline) {
        cs_finish(s, 0, s->last_remaining);
        return;
    }
    if (c->is_controller) {
        s->tries++;
        s->refs++;
        kn_cluster_controlled_shutdown_request(c, c->broker_id, c->broker_epoch, cs_local_done, s);
        return;
    }
    int32_t ctl = c->controller_id;
    const kn_cbroker_t *b = NULL;
    for (size_t i = 0; i < c->nbrokers; i++)
        if (c->brokers[i].id == ctl && c->brokers[i].loaded) b = &c->brokers[i];
    if (!b) {
        /* No controller known right now (election under way): wait. */
        uv_timer_start(&c->cs_timer, cs_timer_cb, CS_CLIENT_BACKOFF_MS, 0);
        return;
    }
    if (s->ib && s->ib_target != ctl) {
        kn_ib_close(s->ib);
        s->ib = NULL;
    }
    if (!s->ib) {
        char cid[48], ctx[48];
        snprintf(cid, sizeof(cid), "kanal-broker-%" PRId32, c->broker_id);
        snprintf(ctx, sizeof(ctx), "controller %" PRId32, ctl);
        s->ib = kn_ib_new(c->loop, ctl, b->meta.host, b->meta.port, cid, ctx);
        s->ib_target = ctl;
    }
    s->tries++;
    kn_ControlledShutdownRequest_t req;
    kn_ControlledShutdownRequest_init(&req);
    req.broker_id = c->broker_id;
    req.broker_epoch = c->broker_epoch;
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_ib_begin(s->ib, &w, KN_API_CONTROLLED_SHUTDOWN, CS_VERSION);
    kn_ControlledShutdownRequest_encode(&w, CS_VERSION, &req);
    s->refs++;
    kn_log(KN_LOG_INFO, c->ctx, "controlled shutdown: asking controller %" PRId32 " (attempt %d)", ctl, s->tries);
    kn_ib_send(s->ib, &w, CS_CLIENT_TIMEOUT_MS, cs_reply, s);
    kn_wbuf_free(&w);
}

typedef struct cs_refusal_s {
    void (*done)(void *ud, int ok, int remaining);
    void *ud;
} cs_refusal_t;

static void cs_refused(void *ud, int16_t kerr, const char *msg) {
    (void)kerr;
    (void)msg;
    cs_refusal_t *r = ud;
    r->done(r->ud, 0, -1);
    kn_free(r);
}

static void cs_refused_fn(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *res) {
    (void)c;
    (void)res;
    op->ucb = NULL;
    cs_refused(op->uud, 0, NULL);
}

void kn_cluster_controlled_shutdown(kn_cluster_t *c, void (*done)(void *ud, int ok, int remaining), void *ud) {
    if (c->cs || c->stopping || c->handles_closing || c->boot != KN_BOOT_REGISTERED) {
        /* Already running, stopping, or not registered: nothing to ask.
         * Answered from the queue, not inside this call. */
        kn_log(KN_LOG_WARN, c->ctx, "controlled shutdown not attempted (%s)",
               c->cs ? "one is already running" : "not registered in ZooKeeper");
        cs_refusal_t *r = kn_malloc(sizeof(*r));
        *r = (cs_refusal_t){done, ud};
        kn_zop_t *op = kn_cluster__op(c, cs_refused_fn, "");
        op->ucb = cs_refused;
        op->uud = r;
        kn_cluster__post(c, op, 0);
        return;
    }
    kn_csclient_t *s = kn_calloc(1, sizeof(*s));
    s->refs = 1;
    s->done = done;
    s->ud = ud;
    s->deadline = kn_now_ms() + CS_CLIENT_BOUND_MS;
    s->last_remaining = -1;
    s->c = c;
    c->cs = s;
    uv_timer_start(&c->cs_timer, cs_timer_cb, 0, 0);
}

void kn_cluster__cs_free(kn_cluster_t *c) {
    if (c->cs) cs_finish(c->cs, 0, c->cs->last_remaining);
}
