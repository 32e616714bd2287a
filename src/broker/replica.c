/* Replication, the broker side: leadership from the controller's
 * LeaderAndIsr, StopReplica and UpdateMetadata; the leader's view of its
 * followers; the high watermark; ISR shrink/expand proposals sent to the
 * controller with AlterPartition (KIP-497); OffsetForLeaderEpoch.
 *
 * Invariants, as in Kafka:
 *  - the high watermark is the smallest log end offset in the ISR and never
 *    goes back while this broker leads;
 *  - a leader changes its ISR only through the controller, and only uses the
 *    new ISR once the controller has written it;
 *  - every epoch a leader starts is recorded (epoch -> first offset) in the
 *    leader-epoch cache, which is what lets a follower find and cut a
 *    divergent tail after a leader change. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "kanal/cluster/ibclient.h"
#include "kanal/log/checkpoint.h"
#include "kanal/proto/batch.h"
#include "kanal/proto/gen/alter_partition.h"
#include "kanal/proto/gen/api.h"
#include "kanal/proto/gen/leader_and_isr.h"
#include "kanal/proto/gen/offset_for_leader_epoch.h"
#include "kanal/proto/gen/stop_replica.h"
#include "kanal/proto/gen/update_metadata.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/time.h"

#define KN_ALTER_PARTITION_VERSION 1
#define KN_CONTROLLER_TIMEOUT_MS 10000

static void *ralloc(kn_req_t *r, size_t n) {
    void *p = kn_arena_alloc(&r->arena, n ? n : 1);
    if (!p) {
        kn_log(KN_LOG_ERROR, NULL, "out of memory building a reply");
        abort();
    }
    return p;
}

bool kn_replica__in_isr(const kn_partition_t *p, int32_t id) {
    for (int32_t i = 0; i < p->nisr; i++)
        if (p->isr[i] == id) return true;
    return false;
}

int32_t kn_replica__min_isr(kn_broker_t *b, const kn_partition_t *p) {
    const char *const *keys = NULL, *const *vals = NULL;
    size_t n = kn_cluster_topic_configs(b->cluster, p->topic, &keys, &vals);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(keys[i], "min.insync.replicas")) return (int32_t)atoi(vals[i]);
    return b->cfg->min_insync_replicas;
}

void kn_replica__init_partition(kn_broker_t *b, kn_partition_t *p, const char *dir) {
    (void)b;
    p->leader = -1;
    p->partition_epoch = -1;
    kn_epoch_cache_open(&p->epochs, dir, kn_plog_end_offset(p->log));
}

void kn_replica__free_partition(kn_broker_t *b, kn_partition_t *p) {
    (void)b;
    kn_free(p->replicas);
    kn_free(p->isr);
    kn_free(p->followers);
    kn_epoch_cache_close(&p->epochs);
}

static void set_ints(int32_t **dst, int32_t *n, const int32_t *src, int32_t cnt) {
    kn_free(*dst);
    *dst = NULL;
    *n = cnt > 0 ? cnt : 0;
    if (*n) {
        *dst = kn_malloc(sizeof(int32_t) * (size_t)*n);
        memcpy(*dst, src, sizeof(int32_t) * (size_t)*n);
    }
}

static void isr_text(const int32_t *v, int32_t n, char *buf, size_t sz) {
    size_t o = 0;
    buf[0] = '\0';
    for (int32_t i = 0; i < n && o + 12 < sz; i++) o += (size_t)snprintf(buf + o, sz - o, i ? ",%d" : "%d", v[i]);
}

void kn_replica__update_hw(kn_broker_t *b, kn_partition_t *p) {
    if (!p->is_leader) return;
    int64_t hw = kn_plog_end_offset(p->log);
    int32_t me = b->cfg->broker_id;
    for (int32_t i = 0; i < p->nisr; i++) {
        if (p->isr[i] == me) continue;
        int64_t leo = -1;
        for (int32_t k = 0; k < p->nfollowers; k++)
            if (p->followers[k].id == p->isr[i]) leo = p->followers[k].leo;
        if (leo < 0) return; /* an ISR member we have not heard from holds the HW */
        if (leo < hw) hw = leo;
    }
    if (hw > p->high_watermark) {
        p->high_watermark = hw;
        kn_fetch__wake(b, p);
        kn_produce__hw_advanced(b, p);
        kn_replica__hw_waiters_check(b, p, false);
    }
}

/* ---- AlterPartition to the controller ---- */

typedef struct alter_ctx_s {
    kn_broker_t *b;
    char *topic;
    int32_t partition;
    int32_t leader_epoch;
} alter_ctx_t;

kn_ib_t *kn_broker__controller_ib(kn_broker_t *b) {
    /* Shutting down: kn_replica__shutdown closed the client; a request that
     * arrives meanwhile (a follower's fetch proposing an ISR change) must
     * not open a new one that nothing would close. */
    if (b->stopping) return NULL;
    int32_t cid = kn_cluster_controller_id(b->cluster);
    if (cid < 0) return NULL;
    const kn_broker_meta_t *bm = NULL;
    size_t nb = kn_cluster_brokers(b->cluster, &bm);
    const kn_broker_meta_t *c = NULL;
    for (size_t i = 0; i < nb; i++)
        if (bm[i].id == cid) c = &bm[i];
    if (!c) return NULL;
    if (b->ctrl_ib && b->ctrl_ib_id != cid) {
        kn_ib_close(b->ctrl_ib);
        b->ctrl_ib = NULL;
    }
    if (!b->ctrl_ib) {
        char cid_s[64], ctx[64];
        snprintf(cid_s, sizeof(cid_s), "kanal-broker-%d", b->cfg->broker_id);
        snprintf(ctx, sizeof(ctx), "controller %d", cid);
        b->ctrl_ib = kn_ib_new(b->loop, cid, c->host, c->port, cid_s, ctx);
        b->ctrl_ib_id = cid;
    } else {
        kn_ib_set_addr(b->ctrl_ib, c->host, c->port);
    }
    return b->ctrl_ib;
}

static void alter_done(void *arg, int status, kn_rd_t *body) {
    alter_ctx_t *ac = arg;
    kn_broker_t *b = ac->b;
    kn_partition_t *p = kn_broker__partition(b, ac->topic, strlen(ac->topic), ac->partition);
    if (p) p->alter_inflight = false;
    if (status != 0 || !p) {
        if (p) kn_log(KN_LOG_WARN, p->name, "AlterPartition failed: %s; will retry", kn_strerror(status));
        goto out;
    }
    kn_arena_t a;
    kn_arena_init(&a);
    kn_AlterPartitionResponse_t resp;
    if (kn_AlterPartitionResponse_decode(body, KN_ALTER_PARTITION_VERSION, &a, &resp) != 0) {
        kn_log(KN_LOG_WARN, p->name, "cannot decode AlterPartition response");
        kn_arena_reset(&a);
        goto out;
    }
    int16_t err = resp.error_code;
    for (int32_t i = 0; !err && i < resp.topics_count; i++)
        for (int32_t j = 0; j < resp.topics[i].partitions_count; j++) {
            kn_AlterPartitionResponse_PartitionData_t *pd = &resp.topics[i].partitions[j];
            if (pd->partition_index != p->partition) continue;
            if (pd->error_code) {
                err = pd->error_code;
                break;
            }
            if (pd->leader_epoch != p->leader_epoch || !p->is_leader) break;
            char was[128], now[128];
            isr_text(p->isr, p->nisr, was, sizeof(was));
            isr_text(pd->isr, pd->isr_count, now, sizeof(now));
            kn_log(KN_LOG_INFO, p->name, "ISR [%s] -> [%s] (partition epoch %d)", was, now, pd->partition_epoch);
            kn_metrics__isr_change(p->nisr, pd->isr_count);
            set_ints(&p->isr, &p->nisr, pd->isr, pd->isr_count);
            p->partition_epoch = pd->partition_epoch;
            kn_replica__update_hw(b, p);
            kn_produce__hw_advanced(b, p); /* min.insync may now fail */
        }
    if (err)
        kn_log(KN_LOG_WARN, p->name, "AlterPartition rejected: %s (waiting for the controller's state)",
               kn_kerr_name(err));
    kn_arena_reset(&a);
out:
    kn_free(ac->topic);
    kn_free(ac);
}

static void propose_isr(kn_broker_t *b, kn_partition_t *p, const int32_t *isr, int32_t nisr, const char *why) {
    if (p->alter_inflight || !p->is_leader) return;
    kn_ib_t *ib = kn_broker__controller_ib(b);
    if (!ib) return;
    char was[128], want[128];
    isr_text(p->isr, p->nisr, was, sizeof(was));
    isr_text(isr, nisr, want, sizeof(want));
    kn_log(KN_LOG_INFO, p->name, "proposing ISR [%s] -> [%s] (%s)", was, want, why);
    kn_AlterPartitionRequest_t req;
    kn_AlterPartitionRequest_init(&req);
    kn_AlterPartitionRequest_TopicData_t td;
    kn_AlterPartitionRequest_TopicData_init(&td);
    kn_AlterPartitionRequest_PartitionData_t pd;
    kn_AlterPartitionRequest_PartitionData_init(&pd);
    req.broker_id = b->cfg->broker_id;
    req.broker_epoch = kn_cluster_broker_epoch(b->cluster);
    req.topics = &td;
    req.topics_count = 1;
    td.topic_name = (kn_str_t){p->topic, (int32_t)strlen(p->topic)};
    td.topic_id = p->topic_id;
    td.partitions = &pd;
    td.partitions_count = 1;
    pd.partition_index = p->partition;
    pd.leader_epoch = p->leader_epoch;
    pd.new_isr = (int32_t *)isr;
    pd.new_isr_count = nisr;
    pd.partition_epoch = p->partition_epoch;
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_ib_begin(ib, &w, KN_API_ALTER_PARTITION, KN_ALTER_PARTITION_VERSION);
    kn_AlterPartitionRequest_encode(&w, KN_ALTER_PARTITION_VERSION, &req);
    alter_ctx_t *ac = kn_malloc(sizeof(*ac));
    ac->b = b;
    ac->topic = kn_strdup(p->topic);
    ac->partition = p->partition;
    ac->leader_epoch = p->leader_epoch;
    p->alter_inflight = true;
    kn_ib_send(ib, &w, KN_CONTROLLER_TIMEOUT_MS, alter_done, ac);
}

void kn_replica__follower_fetched(kn_broker_t *b, kn_partition_t *p, int32_t replica, int64_t fetch_offset) {
    kn_follower_t *f = NULL;
    for (int32_t i = 0; i < p->nfollowers; i++)
        if (p->followers[i].id == replica) f = &p->followers[i];
    if (!f) return;
    int64_t now = kn_mono_ms();
    int64_t leo = kn_plog_end_offset(p->log);
    /* Kafka's rule: caught up if it has everything we have now, or
     * everything we had when it fetched before (steady load keeps a
     * follower one fetch behind without it being slow). */
    if (fetch_offset >= leo)
        f->last_caught_up_ms = now;
    else if (f->last_fetch_leader_leo >= 0 && fetch_offset >= f->last_fetch_leader_leo)
        f->last_caught_up_ms = f->last_fetch_ms;
    f->last_fetch_leader_leo = leo;
    f->last_fetch_ms = now;
    f->leo = fetch_offset;
    kn_replica__update_hw(b, p);
    /* Expand: a follower outside the ISR that reached the high watermark
     * and has this leader epoch's data joins it (Kafka's rule). */
    if (!kn_replica__in_isr(p, replica) && fetch_offset >= p->high_watermark &&
        fetch_offset >= p->leader_start_offset) {
        int32_t *isr = kn_malloc(sizeof(int32_t) * (size_t)(p->nisr + 1));
        memcpy(isr, p->isr, sizeof(int32_t) * (size_t)p->nisr);
        isr[p->nisr] = replica;
        propose_isr(b, p, isr, p->nisr + 1, "follower caught up");
        kn_free(isr);
    }
}

void kn_replica__forgive_lag(kn_broker_t *b, int64_t gap_ms) {
    for (size_t i = 0; i < b->nparts; i++) {
        kn_partition_t *p = b->parts[i];
        for (int32_t j = 0; j < p->nfollowers; j++) p->followers[j].last_caught_up_ms += gap_ms;
    }
}

void kn_replica__tick(kn_broker_t *b, int64_t now_ms) {
    int64_t now = kn_mono_ms();
    (void)now_ms;
    kn_replica__hw_waiters_check(b, NULL, false); /* deadlines */
    if (b->fenced) return; /* no ISR changes from a broker that may have lost its session */
    int64_t lag_max = b->cfg->replica_lag_time_max_ms;
    for (size_t i = 0; i < b->nparts; i++) {
        kn_partition_t *p = b->parts[i];
        if (!p->is_leader || p->alter_inflight || p->nisr <= 1) continue;
        int32_t *keep = kn_malloc(sizeof(int32_t) * (size_t)p->nisr);
        int32_t nkeep = 0;
        for (int32_t k = 0; k < p->nisr; k++) {
            int32_t id = p->isr[k];
            bool lagging = false;
            for (int32_t j = 0; j < p->nfollowers; j++)
                if (p->followers[j].id == id && now - p->followers[j].last_caught_up_ms > lag_max) lagging = true;
            if (!lagging) keep[nkeep++] = id;
        }
        if (nkeep < p->nisr) propose_isr(b, p, keep, nkeep, "follower lagging past replica.lag.time.max.ms");
        kn_free(keep);
    }
}

/* ---- applying a partition state ---- */

void kn_replica__apply_state(kn_broker_t *b, kn_partition_t *p, int32_t leader, int32_t leader_epoch,
                             const int32_t *isr, int32_t nisr, const int32_t *replicas, int32_t nreplicas,
                             int32_t partition_epoch) {
    int32_t me = b->cfg->broker_id;
    bool was_leader = p->is_leader;
    int32_t old_leader = p->leader;
    int32_t old_epoch = p->leader_epoch;
    set_ints(&p->isr, &p->nisr, isr, nisr);
    set_ints(&p->replicas, &p->nreplicas, replicas, nreplicas);
    p->partition_epoch = partition_epoch;
    p->leader = leader;
    p->leader_epoch = leader_epoch;
    p->alter_inflight = false;
    if (leader == me) {
        bool new_epoch = !was_leader || old_epoch != leader_epoch;
        p->is_leader = true;
        if (new_epoch) {
            int64_t leo = kn_plog_end_offset(p->log);
            p->leader_start_offset = leo;
            kn_epoch_cache_assign(&p->epochs, leader_epoch, leo);
            kn_free(p->followers);
            p->followers = NULL;
            p->nfollowers = 0;
            if (nreplicas > 1) p->followers = kn_calloc((size_t)nreplicas, sizeof(kn_follower_t));
            int64_t now = kn_mono_ms();
            for (int32_t i = 0; i < nreplicas; i++) {
                if (replicas[i] == me) continue;
                kn_follower_t *f = &p->followers[p->nfollowers++];
                f->id = replicas[i];
                f->leo = -1;
                f->last_caught_up_ms = now; /* a new leader gives followers a full lag window */
                f->last_fetch_ms = now;
                f->last_fetch_leader_leo = -1;
            }
            /* The HW this leader inherits is at most its log end. */
            if (p->high_watermark > leo) p->high_watermark = leo;
            kn_log(KN_LOG_INFO, p->name, "became leader (epoch %d, log end %" PRId64 ", high watermark %" PRId64 ")",
                   leader_epoch, leo, p->high_watermark);
        }
        kn_replica__update_hw(b, p);
    } else {
        p->is_leader = false;
        if (was_leader || old_leader != leader || old_epoch != leader_epoch)
            kn_log(KN_LOG_INFO, p->name, "%s (leader %d, epoch %d)", leader >= 0 ? "following" : "no leader",
                   leader, leader_epoch);
        /* Parked fetches and acks=all waiters learn they are not leader. */
        kn_fetch__wake(b, p);
        kn_produce__hw_advanced(b, p);
        kn_replica__hw_waiters_check(b, p, false);
    }
    kn_fetcher__sync(b);
}

/* ---- controller requests ---- */

/* Returns false (and the error to answer) when the controller is stale. */
static bool controller_fresh(kn_broker_t *b, int32_t epoch, int32_t controller_id, const char *what) {
    if (epoch < b->controller_epoch) {
        kn_log(KN_LOG_WARN, NULL, "ignoring %s from controller %d with stale epoch %d (current %d)", what,
               controller_id, epoch, b->controller_epoch);
        return false;
    }
    b->controller_epoch = epoch;
    return true;
}

static kn_partition_t *ensure_partition(kn_broker_t *b, kn_str_t topic, int32_t partition, const kn_uuid_t *id);

int kn_h_leader_and_isr(kn_req_t *r) {
    kn_broker_t *b = r->b;
    kn_rd_t rd;
    kn_LeaderAndIsrRequest_t req;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    int rc = kn_LeaderAndIsrRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_LeaderAndIsrResponse_t resp;
    kn_LeaderAndIsrResponse_init(&resp);
    bool fresh = controller_fresh(b, req.controller_epoch, req.controller_id, "LeaderAndIsr");
    int32_t nt = req.topic_states_count < 0 ? 0 : req.topic_states_count;
    resp.topics = ralloc(r, sizeof(*resp.topics) * (size_t)nt);
    resp.topics_count = nt;
    for (int32_t i = 0; i < nt; i++) {
        kn_LeaderAndIsrRequest_LeaderAndIsrTopicState_t *ts = &req.topic_states[i];
        kn_LeaderAndIsrResponse_LeaderAndIsrTopicError_t *te = &resp.topics[i];
        kn_LeaderAndIsrResponse_LeaderAndIsrTopicError_init(te);
        te->topic_id = ts->topic_id;
        int32_t np = ts->partition_states_count < 0 ? 0 : ts->partition_states_count;
        te->partition_errors = ralloc(r, sizeof(*te->partition_errors) * (size_t)np);
        te->partition_errors_count = np;
        for (int32_t j = 0; j < np; j++) {
            kn_LeaderAndIsrRequest_LeaderAndIsrPartitionState_t *ps = &ts->partition_states[j];
            kn_LeaderAndIsrResponse_LeaderAndIsrPartitionError_t *pe = &te->partition_errors[j];
            kn_LeaderAndIsrResponse_LeaderAndIsrPartitionError_init(pe);
            pe->topic_name = ts->topic_name;
            pe->partition_index = ps->partition_index;
            if (!fresh) {
                pe->error_code = KN_KERR_STALE_CONTROLLER_EPOCH;
                continue;
            }
            kn_partition_t *p = ensure_partition(b, ts->topic_name, ps->partition_index, &ts->topic_id);
            if (!p) {
                pe->error_code = KN_KERR_KAFKA_STORAGE_ERROR;
                continue;
            }
            if (p->lai_seen && ps->leader_epoch < p->leader_epoch) {
                pe->error_code = KN_KERR_STALE_CONTROLLER_EPOCH;
                continue;
            }
            if (p->lai_seen && ps->leader_epoch == p->leader_epoch && ps->partition_epoch <= p->partition_epoch)
                continue; /* already applied */
            p->lai_seen = true;
            kn_replica__apply_state(b, p, ps->leader, ps->leader_epoch, ps->isr, ps->isr_count, ps->replicas,
                                    ps->replicas_count, ps->partition_epoch);
        }
    }
    if (!fresh) resp.error_code = KN_KERR_STALE_CONTROLLER_EPOCH;
    if (r->api_version < 5) { /* v0-4 answer with one flat list */
        int32_t total = 0;
        for (int32_t i = 0; i < nt; i++) total += resp.topics[i].partition_errors_count;
        resp.partition_errors = ralloc(r, sizeof(*resp.partition_errors) * (size_t)(total > 0 ? total : 1));
        resp.partition_errors_count = 0;
        for (int32_t i = 0; i < nt; i++)
            for (int32_t j = 0; j < resp.topics[i].partition_errors_count; j++)
                resp.partition_errors[resp.partition_errors_count++] = resp.topics[i].partition_errors[j];
    }
    kn_req__begin_response(r);
    kn_LeaderAndIsrResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}

int kn_h_update_metadata(kn_req_t *r) {
    kn_broker_t *b = r->b;
    kn_rd_t rd;
    kn_UpdateMetadataRequest_t req;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    int rc = kn_UpdateMetadataRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_UpdateMetadataResponse_t resp;
    kn_UpdateMetadataResponse_init(&resp);
    /* Metadata replies are answered from the ZooKeeper-fed cache, which the
     * controller has written before sending this; the request fences stale
     * controllers and tells us the controller's epoch. */
    if (!controller_fresh(b, req.controller_epoch, req.controller_id, "UpdateMetadata"))
        resp.error_code = KN_KERR_STALE_CONTROLLER_EPOCH;
    kn_req__begin_response(r);
    kn_UpdateMetadataResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}

void kn_broker__remove_partition(kn_broker_t *b, kn_partition_t *p, bool delete_files);

int kn_h_stop_replica(kn_req_t *r) {
    kn_broker_t *b = r->b;
    kn_rd_t rd;
    kn_StopReplicaRequest_t req;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    int rc = kn_StopReplicaRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_StopReplicaResponse_t resp;
    kn_StopReplicaResponse_init(&resp);
    bool fresh = controller_fresh(b, req.controller_epoch, req.controller_id, "StopReplica");
    int32_t total = 0;
    for (int32_t i = 0; i < req.topic_states_count; i++) total += req.topic_states[i].partition_states_count;
    resp.partition_errors = ralloc(r, sizeof(*resp.partition_errors) * (size_t)(total > 0 ? total : 1));
    resp.partition_errors_count = 0;
    if (!fresh) resp.error_code = KN_KERR_STALE_CONTROLLER_EPOCH;
    for (int32_t i = 0; fresh && i < req.topic_states_count; i++) {
        kn_StopReplicaRequest_StopReplicaTopicState_t *ts = &req.topic_states[i];
        for (int32_t j = 0; j < ts->partition_states_count; j++) {
            kn_StopReplicaRequest_StopReplicaPartitionState_t *ps = &ts->partition_states[j];
            kn_StopReplicaResponse_StopReplicaPartitionError_t *pe =
                &resp.partition_errors[resp.partition_errors_count++];
            kn_StopReplicaResponse_StopReplicaPartitionError_init(pe);
            pe->topic_name = ts->topic_name;
            pe->partition_index = ps->partition_index;
            kn_partition_t *p =
                kn_broker__partition(b, ts->topic_name.p, (size_t)ts->topic_name.len, ps->partition_index);
            if (!p) continue;
            if (ps->leader_epoch >= 0 && ps->leader_epoch < p->leader_epoch) {
                pe->error_code = KN_KERR_FENCED_LEADER_EPOCH;
                continue;
            }
            kn_log(KN_LOG_INFO, p->name, "StopReplica from controller %d%s", req.controller_id,
                   ps->delete_partition ? " (delete)" : "");
            if (ps->delete_partition) {
                kn_broker__remove_partition(b, p, true);
            } else {
                p->is_leader = false;
                p->leader = -1;
                kn_fetch__wake(b, p);
                kn_produce__hw_advanced(b, p);
            }
        }
    }
    kn_fetcher__sync(b);
    kn_req__begin_response(r);
    kn_StopReplicaResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}

/* ---- OffsetForLeaderEpoch ---- */
int kn_h_offset_for_leader_epoch(kn_req_t *r) {
    kn_broker_t *b = r->b;
    kn_rd_t rd;
    kn_OffsetForLeaderEpochRequest_t req;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    int rc = kn_OffsetForLeaderEpochRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_OffsetForLeaderEpochResponse_t resp;
    kn_OffsetForLeaderEpochResponse_init(&resp);
    int32_t nt = req.topics_count < 0 ? 0 : req.topics_count;
    resp.topics = ralloc(r, sizeof(*resp.topics) * (size_t)nt);
    resp.topics_count = nt;
    for (int32_t i = 0; i < nt; i++) {
        kn_OffsetForLeaderEpochRequest_OffsetForLeaderTopic_t *t = &req.topics[i];
        kn_OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult_t *tr = &resp.topics[i];
        kn_OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult_init(tr);
        tr->topic = t->topic;
        int32_t np = t->partitions_count < 0 ? 0 : t->partitions_count;
        tr->partitions = ralloc(r, sizeof(*tr->partitions) * (size_t)np);
        tr->partitions_count = np;
        for (int32_t j = 0; j < np; j++) {
            kn_OffsetForLeaderEpochRequest_OffsetForLeaderPartition_t *pp = &t->partitions[j];
            kn_OffsetForLeaderEpochResponse_EpochEndOffset_t *pr = &tr->partitions[j];
            kn_OffsetForLeaderEpochResponse_EpochEndOffset_init(pr);
            pr->partition = pp->partition;
            pr->leader_epoch = -1;
            pr->end_offset = -1;
            kn_partition_t *p = kn_broker__partition(b, t->topic.p, (size_t)t->topic.len, pp->partition);
            if (!p) {
                pr->error_code = KN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            bool from_replica = r->api_version >= 3 && req.replica_id >= 0;
            if (!kn_broker__leads(b, p) && !from_replica) {
                pr->error_code = KN_KERR_NOT_LEADER_OR_FOLLOWER;
                continue;
            }
            if (pp->current_leader_epoch >= 0 && pp->current_leader_epoch < p->leader_epoch) {
                pr->error_code = KN_KERR_FENCED_LEADER_EPOCH;
                continue;
            }
            if (pp->current_leader_epoch > p->leader_epoch) {
                pr->error_code = KN_KERR_UNKNOWN_LEADER_EPOCH;
                continue;
            }
            kn_epoch_cache_end_offset(&p->epochs, pp->leader_epoch, kn_plog_end_offset(p->log), &pr->leader_epoch,
                                      &pr->end_offset);
        }
    }
    kn_req__begin_response(r);
    kn_OffsetForLeaderEpochResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}

void kn_replica__shutdown(kn_broker_t *b) {
    kn_replica__hw_waiters_check(b, NULL, true);
    kn_fetcher__close_all(b);
    if (b->ctrl_ib) {
        kn_ib_close(b->ctrl_ib);
        b->ctrl_ib = NULL;
    }
}

/* ensure_partition lives in broker.c (it owns the partition map). */
kn_partition_t *kn_broker__ensure_partition(kn_broker_t *b, const char *topic, int32_t partition,
                                            const kn_uuid_t *topic_id);

static kn_partition_t *ensure_partition(kn_broker_t *b, kn_str_t topic, int32_t partition, const kn_uuid_t *id) {
    char name[256];
    if (topic.len <= 0 || topic.len >= (int32_t)sizeof(name)) return NULL;
    memcpy(name, topic.p, (size_t)topic.len);
    name[topic.len] = '\0';
    return kn_broker__ensure_partition(b, name, partition, id);
}

/* ---- waiting for the high watermark (offset commits, ...) ----
 * A waiter fires with 0 once the partition's high watermark passes its
 * offset, NOT_LEADER_OR_FOLLOWER if this broker stops leading it, or
 * REQUEST_TIMED_OUT at its deadline. Callbacks run after the list is
 * updated, so they may append (and wait) again. */
typedef struct hw_wait_s {
    struct hw_wait_s *next;
    char *topic;
    int32_t partition;
    int64_t offset;
    int64_t deadline_ms;
    kn_hw_cb cb;
    void *arg;
    int16_t result;
} hw_wait_t;

static hw_wait_t *hw_waiters;

static void hw_fire(hw_wait_t *list) {
    while (list) {
        hw_wait_t *n = list->next;
        list->cb(list->arg, list->result);
        kn_free(list->topic);
        kn_free(list);
        list = n;
    }
}

/* Detach the waiters that are done: for partition p (NULL: all), or expired. */
static void hw_check(kn_broker_t *b, const kn_partition_t *only, int64_t now_ms, bool fail_all) {
    hw_wait_t **pp = &hw_waiters, *done = NULL, **tail = &done;
    while (*pp) {
        hw_wait_t *w = *pp;
        bool fire = false;
        if (fail_all) {
            w->result = KN_KERR_NOT_LEADER_OR_FOLLOWER;
            fire = true;
        } else if (!only || (only->partition == w->partition && !strcmp(only->topic, w->topic))) {
            kn_partition_t *p = kn_broker__partition(b, w->topic, strlen(w->topic), w->partition);
            if (!p || !p->is_leader) {
                w->result = KN_KERR_NOT_LEADER_OR_FOLLOWER;
                fire = true;
            } else if (p->high_watermark > w->offset) {
                w->result = 0;
                fire = true;
            }
        }
        if (!fire && now_ms >= w->deadline_ms) {
            w->result = KN_KERR_REQUEST_TIMED_OUT;
            fire = true;
        }
        if (fire) {
            *pp = w->next;
            w->next = NULL;
            *tail = w;
            tail = &w->next;
        } else {
            pp = &w->next;
        }
    }
    hw_fire(done);
}

void kn_replica__wait_hw(kn_broker_t *b, kn_partition_t *p, int64_t offset, int64_t timeout_ms, kn_hw_cb cb,
                         void *arg) {
    if (!p->is_leader) {
        cb(arg, KN_KERR_NOT_LEADER_OR_FOLLOWER);
        return;
    }
    if (p->high_watermark > offset) {
        cb(arg, 0);
        return;
    }
    hw_wait_t *w = kn_calloc(1, sizeof(*w));
    w->topic = kn_strdup(p->topic);
    w->partition = p->partition;
    w->offset = offset;
    w->deadline_ms = kn_mono_ms() + timeout_ms;
    w->cb = cb;
    w->arg = arg;
    w->next = hw_waiters;
    hw_waiters = w;
    (void)b;
}

void kn_replica__hw_waiters_check(kn_broker_t *b, kn_partition_t *p, bool fail_all) {
    if (hw_waiters) hw_check(b, p, kn_mono_ms(), fail_all);
}

/* Every batch a leader appends carries its leader epoch (bytes 12-15, outside
 * the CRC), as Kafka's leader writes it: followers learn epoch boundaries from
 * the batches they copy, and a new leader's DivergingEpoch answers depend on
 * it. Every leader-side append (Produce, the group coordinator) goes through
 * here; without it a follower could loop forever on a divergence its own
 * epoch cache can never resolve. */
void kn_replica__stamp_epoch(const kn_partition_t *p, uint8_t *data, size_t len) {
    kn_batch_iter_t it;
    kn_batch_hdr_t h;
    const uint8_t *bp;
    size_t bsz;
    kn_batch_iter_init(&it, data, len);
    while (kn_batch_iter_next(&it, &h, &bp, &bsz) == 1)
        kn_put_be32((uint8_t *)bp + 12, (uint32_t)(p->leader_epoch >= 0 ? p->leader_epoch : 0));
}
