/* Broker glue for the group coordinator (src/group): the group and offset
 * request handlers, the loop timers that drive the state machine, the
 * creation of __consumer_offsets, and its I/O (appends, loading a partition
 * when this broker becomes its leader). See docs/groups.md.
 *
 * Loop thread only. Parked JoinGroup/SyncGroup requests: the coordinator
 * holds the kn_req_t as an opaque handle; r->on_free tells it to forget the
 * handle if the connection closes first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_int.h"
#include "kanal/group/group.h"
#include "kanal/proto/batch.h"
#include "kanal/proto/batch_build.h"
#include "kanal/proto/gen/delete_groups.h"
#include "kanal/proto/gen/describe_groups.h"
#include "kanal/proto/gen/find_coordinator.h"
#include "kanal/proto/gen/heartbeat.h"
#include "kanal/proto/gen/join_group.h"
#include "kanal/proto/gen/leave_group.h"
#include "kanal/proto/gen/list_groups.h"
#include "kanal/proto/gen/offset_commit.h"
#include "kanal/proto/gen/offset_delete.h"
#include "kanal/proto/gen/offset_fetch.h"
#include "kanal/proto/gen/sync_group.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/time.h"

#define GROUP_POLL_MS 200       /* leadership poll, pending loads, retention check */
#define LOAD_READ_BYTES (1 << 20)
/* AclOperation bits Kafka reports for a group without an authorizer:
 * READ (3), DELETE (6), DESCRIBE (8). */
#define GROUP_AUTHORIZED_OPS ((1 << 3) | (1 << 6) | (1 << 8))

struct kn_group_glue_s {
    kn_broker_t *b;
    kn_gcoord_t *c;
    uv_timer_t timer; /* the coordinator's next deadline */
    uv_timer_t poll;
    bool *load_pending; /* per offsets partition: load on the next poll */
    int32_t nparts;
    bool creating;
    int64_t last_create_log_ms;
    int64_t last_expire_ms;
    bool stopped;
};
typedef struct kn_group_glue_s glue_t;

static void *ralloc(kn_req_t *r, size_t n) {
    void *p = kn_arena_alloc(&r->arena, n ? n : 1);
    if (!p) {
        kn_log(KN_LOG_ERROR, r->cl ? r->cl->ctx : NULL, "out of memory building a group reply");
        abort();
    }
    return p;
}
#define RNEW(r, T, n) ((T *)ralloc((r), sizeof(T) * (size_t)(n)))

static kn_str_t cstr(const char *s) { return s ? (kn_str_t){s, (int32_t)strlen(s)} : KN_STR_NULL; }

static void body(kn_req_t *r, kn_rd_t *rd) { kn_rd_init(rd, r->frame + r->body_off, r->frame_len - r->body_off); }

/* ---- coordinator ops ---- */

static int64_t op_now(void *ud) {
    (void)ud;
    return kn_now_ms();
}

static void timer_cb(uv_timer_t *t) {
    glue_t *g = t->data;
    if (!g->stopped) kn_gcoord_tick(g->c);
}

static void op_schedule(void *ud, int64_t at) {
    glue_t *g = ud;
    if (g->stopped) return;
    int64_t d = at - kn_now_ms();
    if (d < 0) d = 0;
    uv_timer_start(&g->timer, timer_cb, (uint64_t)d, 0);
}

/* Completes an append to __consumer_offsets once the whole ISR has it (the
 * high watermark passes it), as Kafka's coordinator appends with acks=all:
 * a commit that is answered survives the loss of the coordinator's broker. */
typedef struct offsets_wait_s {
    kn_gcoord_append_cb done;
    void *arg;
} offsets_wait_t;

static void offsets_replicated(void *arg, int16_t kerr) {
    offsets_wait_t *w = arg;
    /* Kafka maps these for commit replies: the client retries elsewhere. */
    if (kerr == KN_KERR_NOT_LEADER_OR_FOLLOWER) kerr = KN_KERR_NOT_COORDINATOR;
    if (kerr == KN_KERR_REQUEST_TIMED_OUT) kerr = KN_KERR_COORDINATOR_NOT_AVAILABLE;
    w->done(w->arg, kerr);
    kn_free(w);
}

static void offsets_append_complete(kn_broker_t *b, kn_partition_t *p, int64_t last_offset, kn_gcoord_append_cb done,
                                    void *arg) {
    kn_broker__on_append(b, p);  /* wakes followers' parked fetches */
    kn_replica__update_hw(b, p); /* an ISR of one moves the high watermark now */
    offsets_wait_t *w = kn_malloc(sizeof(*w));
    w->done = done;
    w->arg = arg;
    kn_replica__wait_hw(b, p, last_offset, b->cfg->offsets_commit_timeout_ms > 0 ? b->cfg->offsets_commit_timeout_ms : 5000,
                        offsets_replicated, w);
}

static void op_append(void *ud, int32_t partition, const uint8_t *batch, size_t len, kn_gcoord_append_cb done,
                      void *arg) {
    glue_t *g = ud;
    kn_broker_t *b = g->b;
    kn_partition_t *p = kn_broker__partition(b, KN_GROUP_OFFSETS_TOPIC, strlen(KN_GROUP_OFFSETS_TOPIC), partition);
    if (!p || !p->is_leader) {
        done(arg, KN_KERR_NOT_LEADER_OR_FOLLOWER);
        return;
    }
    /* The log rewrites baseOffset in place: give it our own copy. */
    uint8_t *copy = kn_malloc(len);
    memcpy(copy, batch, len);
    int64_t base = 0, last = 0;
    kn_replica__stamp_epoch(p, copy, len);
    int rc = kn_plog_append(p->log, copy, len, kn_now_ms(), &base, &last);
    kn_free(copy);
    if (rc < 0) {
        kn_log(KN_LOG_ERROR, p->name, "group coordinator append failed: %s", kn_strerror(rc));
        done(arg, KN_KERR_KAFKA_STORAGE_ERROR);
        return;
    }
    offsets_append_complete(b, p, last, done, arg);
}

static void req_forget(kn_req_t *r) {
    glue_t *g = r->b->groups;
    if (g && g->c) kn_gcoord_forget_req(g->c, r);
}

static void park(kn_req_t *r) { r->on_free = req_forget; }
static void unpark(kn_req_t *r) { r->on_free = NULL; }

static void op_join_done(void *ud, void *req, const kn_gjoin_result_t *res) {
    (void)ud;
    kn_req_t *r = req;
    unpark(r);
    kn_JoinGroupResponse_t resp;
    kn_JoinGroupResponse_init(&resp);
    resp.error_code = res->error;
    resp.generation_id = res->generation_id;
    resp.protocol_type = res->protocol_type;
    resp.protocol_name = res->protocol_name;
    if (r->api_version < 7 && resp.protocol_name.len < 0) resp.protocol_name = KN_STR("");
    resp.leader = res->leader;
    resp.member_id = res->member_id;
    resp.skip_assignment = res->skip_assignment;
    resp.members_count = res->nmembers;
    resp.members = RNEW(r, kn_JoinGroupResponse_JoinGroupResponseMember_t, res->nmembers);
    for (int32_t i = 0; i < res->nmembers; i++) {
        kn_JoinGroupResponse_JoinGroupResponseMember_init(&resp.members[i]);
        resp.members[i].member_id = res->members[i].member_id;
        resp.members[i].group_instance_id = res->members[i].group_instance_id;
        resp.members[i].metadata = res->members[i].metadata;
    }
    kn_req__begin_response(r);
    kn_JoinGroupResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
}

static void op_sync_done(void *ud, void *req, const kn_gsync_result_t *res) {
    (void)ud;
    kn_req_t *r = req;
    unpark(r);
    kn_SyncGroupResponse_t resp;
    kn_SyncGroupResponse_init(&resp);
    resp.error_code = res->error;
    resp.protocol_type = res->protocol_type;
    resp.protocol_name = res->protocol_name;
    resp.assignment = res->assignment;
    kn_req__begin_response(r);
    kn_SyncGroupResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
}

/* OffsetCommit answer state, in the request arena. */
typedef struct commit_state_s {
    kn_OffsetCommitResponse_t resp;
    kn_goffset_commit_t *offs; /* flattened request partitions */
    int16_t **errp;            /* where each one's error goes */
    int32_t n;
} commit_state_t;

static void commit_answer(kn_req_t *r, int16_t err) {
    commit_state_t *cs = r->state;
    for (int32_t i = 0; i < cs->n; i++) *cs->errp[i] = cs->offs[i].error ? cs->offs[i].error : err;
    kn_req__begin_response(r);
    kn_OffsetCommitResponse_encode(&r->resp, r->api_version, &cs->resp);
    kn_req__finish(r);
}

static void op_commit_done(void *ud, void *req, int16_t err) {
    (void)ud;
    kn_req_t *r = req;
    unpark(r);
    commit_answer(r, err);
}

/* ---- loading and leadership ---- */

static kn_partition_t *offsets_partition(kn_broker_t *b, int32_t i) {
    return kn_broker__partition(b, KN_GROUP_OFFSETS_TOPIC, strlen(KN_GROUP_OFFSETS_TOPIC), i);
}

/* Read the partition back from the log start and feed every record to the
 * coordinator. Blocking reads on the loop: the offsets partitions are small
 * (compaction will keep them so); a large one belongs on a work thread. */
static void load_partition(glue_t *g, int32_t i) {
    kn_partition_t *p = offsets_partition(g->b, i);
    if (!p || !p->is_leader) return;
    int64_t t0 = kn_mono_ms();
    int64_t off = kn_plog_start_offset(p->log), end = kn_plog_end_offset(p->log);
    int64_t nrec = 0, bad = 0;
    while (off < end) {
        kn_plog_read_t rd;
        int rc = kn_plog_read(p->log, off, LOAD_READ_BYTES, end, &rd);
        if (rc < 0 || rd.len <= 0) {
            if (rc < 0) kn_log(KN_LOG_ERROR, p->name, "loading groups: read at %lld failed: %s", (long long)off,
                               kn_strerror(rc));
            kn_plog_read_release(&rd);
            break;
        }
        int32_t want = rd.len;
        uint8_t *buf = kn_malloc((size_t)want);
        ssize_t got = pread(rd.fd, buf, (size_t)want, rd.file_pos);
        kn_plog_read_release(&rd); /* zeroes rd */
        if (got != want) {
            kn_log(KN_LOG_ERROR, p->name, "loading groups: short read at %lld", (long long)off);
            kn_free(buf);
            break;
        }
        kn_batch_iter_t it;
        kn_batch_iter_init(&it, buf, (size_t)got);
        kn_batch_hdr_t h;
        const uint8_t *bp;
        size_t bs;
        int64_t next = off;
        while (kn_batch_iter_next(&it, &h, &bp, &bs) == 1) {
            next = kn_batch_last_offset(&h) + 1;
            if (h.attributes & KN_BATCH_ATTR_CONTROL) continue;
            kn_record_iter_t ri;
            if (kn_record_iter_init(&ri, bp, bs) < 0) {
                kn_log(KN_LOG_WARN, p->name, "loading groups: skipping unreadable (compressed?) batch at %lld",
                       (long long)h.base_offset);
                continue;
            }
            kn_record_t rec;
            while (kn_record_iter_next(&ri, &rec) == 1) {
                if (rec.offset < off) continue;
                nrec++;
                if (kn_gcoord_load_record(g->c, i, rec.key, rec.key_len, rec.value, rec.value_len) < 0) bad++;
            }
        }
        kn_free(buf);
        if (next <= off) break; /* no progress: damaged data */
        off = next;
    }
    kn_gcoord_load_end(g->c, i);
    kn_log(KN_LOG_INFO, p->name, "group coordinator loaded %lld records (%lld skipped) in %lld ms", (long long)nrec,
           (long long)bad, (long long)(kn_mono_ms() - t0));
}

size_t kn_group__count(const kn_broker_t *b) {
    const glue_t *g = b->groups;
    return g && g->c ? kn_gcoord_group_count(g->c) : 0;
}

void kn_group__reconcile(kn_broker_t *b) {
    glue_t *g = b->groups;
    if (!g || g->stopped) return;
    for (int32_t i = 0; i < g->nparts; i++) {
        kn_partition_t *p = offsets_partition(b, i);
        bool led = p && p->is_leader;
        kn_gpart_state_t st = kn_gcoord_partition_state(g->c, i);
        if (led && st == KN_GPART_NOT_LED) {
            kn_log(KN_LOG_INFO, p->name, "became group coordinator for this partition: loading");
            kn_gcoord_load_begin(g->c, i);
            g->load_pending[i] = true;
        } else if (!led && st != KN_GPART_NOT_LED) {
            kn_log(KN_LOG_INFO, NULL, "%s-%d: no longer the leader: unloading its groups", KN_GROUP_OFFSETS_TOPIC, i);
            g->load_pending[i] = false;
            kn_gcoord_unload(g->c, i);
        }
    }
}

static void poll_cb(uv_timer_t *t) {
    glue_t *g = t->data;
    if (g->stopped) return;
    kn_group__reconcile(g->b);
    /* Loads run here, a loop turn after leadership arrived, so requests in
     * between see COORDINATOR_LOAD_IN_PROGRESS as in Kafka. */
    for (int32_t i = 0; i < g->nparts; i++)
        if (g->load_pending[i]) {
            g->load_pending[i] = false;
            if (kn_gcoord_partition_state(g->c, i) == KN_GPART_LOADING) load_partition(g, i);
        }
    int64_t now = kn_now_ms();
    if (now - g->last_expire_ms >= g->b->cfg->offsets_retention_check_interval_ms) {
        g->last_expire_ms = now;
        kn_gcoord_expire_offsets(g->c);
    }
}

void kn_group__init(kn_broker_t *b) {
    glue_t *g = kn_calloc(1, sizeof(*g));
    g->b = b;
    g->nparts = b->cfg->offsets_topic_num_partitions;
    g->load_pending = kn_calloc((size_t)g->nparts, sizeof(bool));
    kn_gcoord_config_t cc = {
        .num_partitions = g->nparts,
        .min_session_timeout_ms = b->cfg->group_min_session_timeout_ms,
        .max_session_timeout_ms = b->cfg->group_max_session_timeout_ms,
        .initial_rebalance_delay_ms = b->cfg->group_initial_rebalance_delay_ms,
        .max_size = b->cfg->group_max_size,
        .offsets_retention_ms = (int64_t)b->cfg->offsets_retention_minutes * 60000,
        .offset_metadata_max_bytes = b->cfg->offset_metadata_max_bytes,
    };
    kn_gcoord_ops_t ops = {
        .ud = g,
        .now_ms = op_now,
        .append = op_append,
        .join_done = op_join_done,
        .sync_done = op_sync_done,
        .commit_done = op_commit_done,
        .schedule = op_schedule,
    };
    g->c = kn_gcoord_new(&cc, &ops);
    uv_timer_init(b->loop, &g->timer);
    g->timer.data = g;
    uv_timer_init(b->loop, &g->poll);
    g->poll.data = g;
    uv_timer_start(&g->poll, poll_cb, GROUP_POLL_MS, GROUP_POLL_MS);
    g->last_expire_ms = kn_now_ms();
    b->groups = g;
}

/* Stop timers and answer parked requests (NOT_COORDINATOR) while the
 * connections still exist. The glue itself is freed by kn_group__free once
 * the loop has closed its handles. */
void kn_group__shutdown(kn_broker_t *b) {
    glue_t *g = b->groups;
    if (!g || g->stopped) return;
    uv_timer_stop(&g->timer);
    uv_timer_stop(&g->poll);
    kn_gcoord_free(g->c);
    g->c = NULL;
    g->stopped = true;
}

void kn_group__free(kn_broker_t *b) {
    glue_t *g = b->groups;
    if (!g) return;
    if (!g->stopped) kn_group__shutdown(b);
    kn_free(g->load_pending);
    kn_free(g);
    b->groups = NULL;
}

/* Common gate: the coordinator is running. */
static kn_gcoord_t *coord(kn_req_t *r) {
    glue_t *g = r->b->groups;
    return g && !g->stopped ? g->c : NULL;
}

/* ---- FindCoordinator ---- */

static void offsets_topic_created(void *ud, int16_t err, const char *msg) {
    kn_broker_t *b = ud;
    glue_t *g = b->groups;
    if (g) g->creating = false;
    if (err && err != KN_KERR_TOPIC_ALREADY_EXISTS)
        kn_log(KN_LOG_WARN, KN_GROUP_OFFSETS_TOPIC, "creation failed: %s (%s)", kn_kerr_name(err), msg ? msg : "");
    else if (!err)
        kn_log(KN_LOG_INFO, KN_GROUP_OFFSETS_TOPIC, "created");
}

/* Like Kafka (KIP-115): created on first need, and only once
 * offsets.topic.replication.factor brokers are registered. */
static void ensure_offsets_topic(kn_broker_t *b) {
    glue_t *g = b->groups;
    if (!g || g->creating) return;
    const kn_broker_meta_t *bm = NULL;
    size_t nb = kn_cluster_brokers(b->cluster, &bm);
    int64_t now = kn_now_ms();
    if ((int64_t)nb < b->cfg->offsets_topic_replication_factor) {
        if (now - g->last_create_log_ms > 10000) {
            g->last_create_log_ms = now;
            kn_log(KN_LOG_WARN, KN_GROUP_OFFSETS_TOPIC,
                   "not created yet: %zu brokers registered, offsets.topic.replication.factor is %d", nb,
                   b->cfg->offsets_topic_replication_factor);
        }
        return;
    }
    /* Any broker writes the topic znodes, as Kafka's ZooKeeper-mode brokers
     * do for internal topics; a race between two ends in one winner and
     * TOPIC_ALREADY_EXISTS for the other. */
    char seg[32];
    snprintf(seg, sizeof(seg), "%d", b->cfg->offsets_topic_segment_bytes);
    const char *keys[] = {"cleanup.policy", "compression.type", "segment.bytes"};
    const char *vals[] = {"compact", "producer", seg};
    size_t nkv = 3;
    char why[256];
    for (size_t i = 0; i < nkv; i++)
        if (kn_topic_config_validate(keys[i], vals[i], why, sizeof(why)) != 0) {
            kn_log(KN_LOG_WARN, KN_GROUP_OFFSETS_TOPIC, "leaving out config %s: %s", keys[i], why);
            keys[i] = keys[nkv - 1];
            vals[i] = vals[nkv - 1];
            nkv--;
            i--;
        }
    if (kn_cluster_auto_create_topic(b->cluster, KN_GROUP_OFFSETS_TOPIC, b->cfg->offsets_topic_num_partitions,
                                     (int16_t)b->cfg->offsets_topic_replication_factor, keys, vals, nkv,
                                     offsets_topic_created, b) == 0) {
        g->creating = true;
        kn_log(KN_LOG_INFO, KN_GROUP_OFFSETS_TOPIC, "creating (%d partitions, replication factor %d)",
               b->cfg->offsets_topic_num_partitions, b->cfg->offsets_topic_replication_factor);
    }
}

static int16_t find_group_coordinator(kn_req_t *r, kn_str_t key, int32_t *node, kn_str_t *host, int32_t *port) {
    kn_broker_t *b = r->b;
    *node = -1;
    *host = KN_STR("");
    *port = -1;
    kn_gcoord_t *c = coord(r);
    if (!c) return KN_KERR_COORDINATOR_NOT_AVAILABLE;
    const kn_topic_meta_t *t = kn_cluster_topic(b->cluster, KN_GROUP_OFFSETS_TOPIC, strlen(KN_GROUP_OFFSETS_TOPIC));
    if (!t || t->deleting) {
        ensure_offsets_topic(b);
        return KN_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    int32_t pi = kn_group_partition_for(key, t->npartitions);
    if (t->npartitions != b->cfg->offsets_topic_num_partitions) {
        /* The coordinator hashes over offsets.topic.num.partitions; a topic
         * with another count cannot be used consistently. */
        kn_log(KN_LOG_ERROR, KN_GROUP_OFFSETS_TOPIC, "has %d partitions but offsets.topic.num.partitions is %d",
               t->npartitions, b->cfg->offsets_topic_num_partitions);
        return KN_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    int32_t leader = t->parts[pi].leader;
    if (leader < 0) return KN_KERR_COORDINATOR_NOT_AVAILABLE;
    const kn_broker_meta_t *bm = NULL;
    size_t nb = kn_cluster_brokers(b->cluster, &bm);
    for (size_t i = 0; i < nb; i++)
        if (bm[i].id == leader) {
            *node = leader;
            *host = cstr(bm[i].host);
            *port = bm[i].port;
            return 0;
        }
    return KN_KERR_COORDINATOR_NOT_AVAILABLE;
}

static int16_t find_coordinator_key(kn_req_t *r, int8_t key_type, kn_str_t key, int32_t *node, kn_str_t *host,
                                    int32_t *port) {
    *node = -1;
    *host = KN_STR("");
    *port = -1;
    if (key_type == 0) return find_group_coordinator(r, key, node, host, port);
    if (key_type == 1) return KN_KERR_COORDINATOR_NOT_AVAILABLE; /* transactions: not yet */
    return KN_KERR_INVALID_REQUEST;
}

int kn_h_find_coordinator(kn_req_t *r) {
    kn_rd_t rd;
    kn_FindCoordinatorRequest_t req;
    body(r, &rd);
    int rc = kn_FindCoordinatorRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_FindCoordinatorResponse_t resp;
    kn_FindCoordinatorResponse_init(&resp);
    if (r->api_version >= 4) {
        int32_t n = req.coordinator_keys_count < 0 ? 0 : req.coordinator_keys_count;
        resp.coordinators = RNEW(r, kn_FindCoordinatorResponse_Coordinator_t, n);
        resp.coordinators_count = n;
        for (int32_t i = 0; i < n; i++) {
            kn_FindCoordinatorResponse_Coordinator_t *co = &resp.coordinators[i];
            kn_FindCoordinatorResponse_Coordinator_init(co);
            co->key = req.coordinator_keys[i];
            co->error_code = find_coordinator_key(r, req.key_type, co->key, &co->node_id, &co->host, &co->port);
            co->error_message = co->error_code ? cstr(kn_kerr_name(co->error_code)) : KN_STR_NULL;
        }
    } else {
        resp.error_code = find_coordinator_key(r, req.key_type, req.key, &resp.node_id, &resp.host, &resp.port);
        resp.error_message = resp.error_code ? cstr(kn_kerr_name(resp.error_code)) : KN_STR_NULL;
    }
    kn_req__begin_response(r);
    kn_FindCoordinatorResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}

/* ---- membership ---- */

/* Kafka's clientHost: "/ip". */
static kn_str_t client_host(kn_req_t *r) {
    const char *peer = r->cl && r->cl->conn ? kn_conn_peer(r->cl->conn) : "";
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    char *h = RNEW(r, char, n + 2);
    h[0] = '/';
    memcpy(h + 1, peer, n);
    h[n + 1] = '\0';
    return cstr(h);
}

int kn_h_join_group(kn_req_t *r) {
    kn_rd_t rd;
    kn_JoinGroupRequest_t req;
    body(r, &rd);
    int rc = kn_JoinGroupRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_gjoin_req_t in;
    memset(&in, 0, sizeof(in));
    in.version = r->api_version;
    in.group_id = req.group_id;
    in.member_id = req.member_id;
    in.group_instance_id = r->api_version >= 5 ? req.group_instance_id : KN_STR_NULL;
    in.protocol_type = req.protocol_type;
    in.client_id = r->client_id.len < 0 ? KN_STR("") : r->client_id;
    in.client_host = client_host(r);
    in.reason = req.reason;
    in.session_timeout_ms = req.session_timeout_ms;
    in.rebalance_timeout_ms = r->api_version >= 1 ? req.rebalance_timeout_ms : req.session_timeout_ms;
    int32_t np = req.protocols_count < 0 ? 0 : req.protocols_count;
    kn_gprotocol_t *protos = RNEW(r, kn_gprotocol_t, np);
    for (int32_t i = 0; i < np; i++) {
        protos[i].name = req.protocols[i].name;
        protos[i].metadata = req.protocols[i].metadata;
    }
    in.protocols = protos;
    in.nprotocols = np;
    kn_gcoord_t *c = coord(r);
    if (!c) {
        kn_gjoin_result_t res;
        memset(&res, 0, sizeof(res));
        res.error = KN_KERR_COORDINATOR_NOT_AVAILABLE;
        res.generation_id = -1;
        res.protocol_type = res.protocol_name = KN_STR_NULL;
        res.leader = KN_STR("");
        res.member_id = req.member_id;
        op_join_done(NULL, r, &res);
        return 0;
    }
    park(r);
    kn_gcoord_join(c, &in, r);
    return 0;
}

int kn_h_sync_group(kn_req_t *r) {
    kn_rd_t rd;
    kn_SyncGroupRequest_t req;
    body(r, &rd);
    int rc = kn_SyncGroupRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_gsync_req_t in;
    memset(&in, 0, sizeof(in));
    in.group_id = req.group_id;
    in.member_id = req.member_id;
    in.group_instance_id = r->api_version >= 3 ? req.group_instance_id : KN_STR_NULL;
    in.protocol_type = r->api_version >= 5 ? req.protocol_type : KN_STR_NULL;
    in.protocol_name = r->api_version >= 5 ? req.protocol_name : KN_STR_NULL;
    in.generation_id = req.generation_id;
    int32_t na = req.assignments_count < 0 ? 0 : req.assignments_count;
    kn_gassignment_t *as = RNEW(r, kn_gassignment_t, na);
    for (int32_t i = 0; i < na; i++) {
        as[i].member_id = req.assignments[i].member_id;
        as[i].assignment = req.assignments[i].assignment;
    }
    in.assignments = as;
    in.nassignments = na;
    kn_gcoord_t *c = coord(r);
    if (!c) {
        kn_gsync_result_t res = {KN_KERR_COORDINATOR_NOT_AVAILABLE, KN_STR_NULL, KN_STR_NULL,
                                 {(const uint8_t *)"", 0}};
        op_sync_done(NULL, r, &res);
        return 0;
    }
    park(r);
    kn_gcoord_sync(c, &in, r);
    return 0;
}

int kn_h_heartbeat(kn_req_t *r) {
    kn_rd_t rd;
    kn_HeartbeatRequest_t req;
    body(r, &rd);
    int rc = kn_HeartbeatRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_HeartbeatResponse_t resp;
    kn_HeartbeatResponse_init(&resp);
    kn_gcoord_t *c = coord(r);
    resp.error_code = c ? kn_gcoord_heartbeat(c, req.group_id, req.generation_id, req.member_id,
                                              r->api_version >= 3 ? req.group_instance_id : KN_STR_NULL)
                        : KN_KERR_COORDINATOR_NOT_AVAILABLE;
    kn_req__begin_response(r);
    kn_HeartbeatResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}

int kn_h_leave_group(kn_req_t *r) {
    kn_rd_t rd;
    kn_LeaveGroupRequest_t req;
    body(r, &rd);
    int rc = kn_LeaveGroupRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_LeaveGroupResponse_t resp;
    kn_LeaveGroupResponse_init(&resp);
    kn_gcoord_t *c = coord(r);
    if (!c) {
        resp.error_code = KN_KERR_COORDINATOR_NOT_AVAILABLE;
    } else if (r->api_version < 3) {
        resp.error_code = kn_gcoord_leave(c, req.group_id, req.member_id, KN_STR_NULL, KN_STR_NULL);
    } else {
        resp.error_code = kn_gcoord_leave_check(c, req.group_id);
        int32_t n = req.members_count < 0 ? 0 : req.members_count;
        if (!resp.error_code) {
            resp.members = RNEW(r, kn_LeaveGroupResponse_MemberResponse_t, n);
            resp.members_count = n;
            for (int32_t i = 0; i < n; i++) {
                kn_LeaveGroupRequest_MemberIdentity_t *mi = &req.members[i];
                kn_LeaveGroupResponse_MemberResponse_t *mr = &resp.members[i];
                kn_LeaveGroupResponse_MemberResponse_init(mr);
                mr->member_id = mi->member_id;
                mr->group_instance_id = mi->group_instance_id;
                mr->error_code = kn_gcoord_leave(c, req.group_id, mi->member_id, mi->group_instance_id,
                                                 r->api_version >= 5 ? mi->reason : KN_STR_NULL);
            }
        }
    }
    kn_req__begin_response(r);
    kn_LeaveGroupResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}

/* ---- offsets ---- */

static bool partition_known(kn_broker_t *b, kn_str_t topic, int32_t partition) {
    if (topic.len <= 0) return false;
    const kn_topic_meta_t *t = kn_cluster_topic(b->cluster, topic.p, (size_t)topic.len);
    return t && !t->deleting && partition >= 0 && partition < t->npartitions;
}

int kn_h_offset_commit(kn_req_t *r) {
    kn_rd_t rd;
    kn_OffsetCommitRequest_t req;
    body(r, &rd);
    int rc = kn_OffsetCommitRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    commit_state_t *cs = RNEW(r, commit_state_t, 1);
    kn_OffsetCommitResponse_init(&cs->resp);
    int32_t nt = req.topics_count < 0 ? 0 : req.topics_count;
    int32_t total = 0;
    for (int32_t i = 0; i < nt; i++) total += req.topics[i].partitions_count < 0 ? 0 : req.topics[i].partitions_count;
    cs->offs = RNEW(r, kn_goffset_commit_t, total);
    cs->errp = RNEW(r, int16_t *, total);
    cs->resp.topics = RNEW(r, kn_OffsetCommitResponse_OffsetCommitResponseTopic_t, nt);
    cs->resp.topics_count = nt;
    for (int32_t i = 0; i < nt; i++) {
        kn_OffsetCommitRequest_OffsetCommitRequestTopic_t *t = &req.topics[i];
        kn_OffsetCommitResponse_OffsetCommitResponseTopic_t *tr = &cs->resp.topics[i];
        kn_OffsetCommitResponse_OffsetCommitResponseTopic_init(tr);
        tr->name = t->name;
        int32_t np = t->partitions_count < 0 ? 0 : t->partitions_count;
        tr->partitions = RNEW(r, kn_OffsetCommitResponse_OffsetCommitResponsePartition_t, np);
        tr->partitions_count = np;
        for (int32_t j = 0; j < np; j++) {
            kn_OffsetCommitRequest_OffsetCommitRequestPartition_t *p = &t->partitions[j];
            kn_OffsetCommitResponse_OffsetCommitResponsePartition_t *pr = &tr->partitions[j];
            kn_OffsetCommitResponse_OffsetCommitResponsePartition_init(pr);
            pr->partition_index = p->partition_index;
            kn_goffset_commit_t *o = &cs->offs[cs->n];
            cs->errp[cs->n++] = &pr->error_code;
            o->topic = t->name;
            o->partition = p->partition_index;
            o->offset = p->committed_offset;
            o->leader_epoch = r->api_version >= 6 ? p->committed_leader_epoch : -1;
            o->metadata = p->committed_metadata;
            o->error = partition_known(r->b, t->name, p->partition_index) ? 0 : KN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
    r->state = cs;
    kn_gcoord_t *c = coord(r);
    int64_t retention = (r->api_version >= 2 && r->api_version <= 4) ? req.retention_time_ms : -1;
    int16_t err = c ? 0 : KN_KERR_COORDINATOR_NOT_AVAILABLE;
    if (c) {
        park(r);
        err = kn_gcoord_commit(c, req.group_id, req.generation_id_or_member_epoch, req.member_id,
                               r->api_version >= 7 ? req.group_instance_id : KN_STR_NULL, retention, cs->offs, cs->n,
                               r);
        if (!err) return 0; /* answered through commit_done */
        unpark(r);
    }
    commit_answer(r, err);
    return 0;
}

typedef struct fetch_all_s {
    kn_req_t *r;
    kn_OffsetFetchResponse_OffsetFetchResponseTopics_t *topics;
    int32_t n, cap;
} fetch_all_t;

static void fetch_all_cb(void *arg, kn_str_t topic, int32_t partition, const kn_goffset_t *o) {
    fetch_all_t *fa = arg;
    kn_OffsetFetchResponse_OffsetFetchResponseTopics_t *t =
        fa->n ? &fa->topics[fa->n - 1] : NULL;
    if (!t || !kn_str_eq(topic, t->name.p, t->name.len)) {
        if (fa->n == fa->cap) {
            int32_t ncap = fa->cap ? fa->cap * 2 : 16;
            kn_OffsetFetchResponse_OffsetFetchResponseTopics_t *nt =
                RNEW(fa->r, kn_OffsetFetchResponse_OffsetFetchResponseTopics_t, ncap);
            if (fa->n) memcpy(nt, fa->topics, sizeof(*nt) * (size_t)fa->n);
            fa->topics = nt;
            fa->cap = ncap;
        }
        t = &fa->topics[fa->n++];
        kn_OffsetFetchResponse_OffsetFetchResponseTopics_init(t);
        char *name = kn_req__cstr(fa->r, topic);
        t->name = cstr(name);
        t->partitions = NULL;
        t->partitions_count = 0;
    }
    /* Partitions grow one by one: copy into a bigger arena array on powers of two. */
    int32_t np = t->partitions_count;
    if ((np & (np - 1)) == 0) {
        int32_t ncap = np ? np * 2 : 1;
        kn_OffsetFetchResponse_OffsetFetchResponsePartitions_t *pp =
            RNEW(fa->r, kn_OffsetFetchResponse_OffsetFetchResponsePartitions_t, ncap);
        if (np) memcpy(pp, t->partitions, sizeof(*pp) * (size_t)np);
        t->partitions = pp;
    }
    kn_OffsetFetchResponse_OffsetFetchResponsePartitions_t *p = &t->partitions[np];
    kn_OffsetFetchResponse_OffsetFetchResponsePartitions_init(p);
    p->partition_index = partition;
    p->committed_offset = o->offset;
    p->committed_leader_epoch = o->leader_epoch;
    p->metadata = cstr(kn_req__cstr(fa->r, o->metadata));
    t->partitions_count = np + 1;
}

/* One group's offsets in the v8 layout (also used for v0-7, then copied:
 * the two layouts have the same fields). */
static void fetch_group(kn_req_t *r, kn_gcoord_t *c, kn_str_t group_id,
                        kn_OffsetFetchRequest_OffsetFetchRequestTopics_t *topics, int32_t ntopics,
                        kn_OffsetFetchResponse_OffsetFetchResponseGroup_t *out) {
    kn_OffsetFetchResponse_OffsetFetchResponseGroup_init(out);
    out->group_id = group_id;
    out->error_code = c ? kn_gcoord_check(c, group_id) : KN_KERR_COORDINATOR_NOT_AVAILABLE;
    if (ntopics < 0) { /* all topics */
        out->topics_count = 0;
        out->topics = NULL;
        if (out->error_code) return;
        fetch_all_t fa = {r, NULL, 0, 0};
        kn_gcoord_fetch_all(c, group_id, fetch_all_cb, &fa);
        out->topics = fa.topics;
        out->topics_count = fa.n;
        return;
    }
    out->topics = RNEW(r, kn_OffsetFetchResponse_OffsetFetchResponseTopics_t, ntopics);
    out->topics_count = ntopics;
    for (int32_t i = 0; i < ntopics; i++) {
        kn_OffsetFetchResponse_OffsetFetchResponseTopics_t *t = &out->topics[i];
        kn_OffsetFetchResponse_OffsetFetchResponseTopics_init(t);
        t->name = topics[i].name;
        int32_t np = topics[i].partition_indexes_count < 0 ? 0 : topics[i].partition_indexes_count;
        t->partitions = RNEW(r, kn_OffsetFetchResponse_OffsetFetchResponsePartitions_t, np);
        t->partitions_count = np;
        for (int32_t j = 0; j < np; j++) {
            kn_OffsetFetchResponse_OffsetFetchResponsePartitions_t *p = &t->partitions[j];
            kn_OffsetFetchResponse_OffsetFetchResponsePartitions_init(p);
            p->partition_index = topics[i].partition_indexes[j];
            p->committed_offset = -1;
            p->committed_leader_epoch = -1;
            p->metadata = KN_STR("");
            if (out->error_code) {
                p->error_code = out->error_code;
                continue;
            }
            kn_goffset_t o;
            kn_gcoord_fetch_offset(c, group_id, t->name, p->partition_index, &o);
            p->committed_offset = o.offset;
            p->committed_leader_epoch = o.leader_epoch;
            p->metadata = o.metadata;
        }
    }
}

int kn_h_offset_fetch(kn_req_t *r) {
    kn_rd_t rd;
    kn_OffsetFetchRequest_t req;
    body(r, &rd);
    int rc = kn_OffsetFetchRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_gcoord_t *c = coord(r);
    kn_OffsetFetchResponse_t resp;
    kn_OffsetFetchResponse_init(&resp);
    if (r->api_version >= 8) {
        int32_t ng = req.groups_count < 0 ? 0 : req.groups_count;
        resp.groups = RNEW(r, kn_OffsetFetchResponse_OffsetFetchResponseGroup_t, ng);
        resp.groups_count = ng;
        for (int32_t i = 0; i < ng; i++)
            fetch_group(r, c, req.groups[i].group_id, req.groups[i].topics, req.groups[i].topics_count,
                        &resp.groups[i]);
    } else {
        /* v0-7: one group; the request's topic struct has the same fields. */
        int32_t nt = req.topics_count;
        kn_OffsetFetchRequest_OffsetFetchRequestTopics_t *ts = NULL;
        if (nt > 0) {
            ts = RNEW(r, kn_OffsetFetchRequest_OffsetFetchRequestTopics_t, nt);
            for (int32_t i = 0; i < nt; i++) {
                ts[i].name = req.topics[i].name;
                ts[i].partition_indexes = req.topics[i].partition_indexes;
                ts[i].partition_indexes_count = req.topics[i].partition_indexes_count;
            }
        }
        if (r->api_version < 2 && nt < 0) nt = 0;
        kn_OffsetFetchResponse_OffsetFetchResponseGroup_t g;
        fetch_group(r, c, req.group_id, ts, nt, &g);
        resp.error_code = g.error_code;
        resp.topics_count = g.topics_count;
        resp.topics = RNEW(r, kn_OffsetFetchResponse_OffsetFetchResponseTopic_t, g.topics_count);
        for (int32_t i = 0; i < g.topics_count; i++) {
            kn_OffsetFetchResponse_OffsetFetchResponseTopic_t *t = &resp.topics[i];
            kn_OffsetFetchResponse_OffsetFetchResponseTopic_init(t);
            t->name = g.topics[i].name;
            t->partitions_count = g.topics[i].partitions_count;
            t->partitions = RNEW(r, kn_OffsetFetchResponse_OffsetFetchResponsePartition_t, t->partitions_count);
            for (int32_t j = 0; j < t->partitions_count; j++) {
                kn_OffsetFetchResponse_OffsetFetchResponsePartition_t *p = &t->partitions[j];
                kn_OffsetFetchResponse_OffsetFetchResponsePartitions_t *s = &g.topics[i].partitions[j];
                kn_OffsetFetchResponse_OffsetFetchResponsePartition_init(p);
                p->partition_index = s->partition_index;
                p->committed_offset = s->committed_offset;
                p->committed_leader_epoch = s->committed_leader_epoch;
                p->metadata = s->metadata;
                p->error_code = s->error_code;
            }
        }
    }
    kn_req__begin_response(r);
    kn_OffsetFetchResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}

int kn_h_offset_delete(kn_req_t *r) {
    kn_rd_t rd;
    kn_OffsetDeleteRequest_t req;
    body(r, &rd);
    int rc = kn_OffsetDeleteRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_gcoord_t *c = coord(r);
    kn_OffsetDeleteResponse_t resp;
    kn_OffsetDeleteResponse_init(&resp);
    int32_t nt = req.topics_count < 0 ? 0 : req.topics_count;
    int32_t total = 0;
    for (int32_t i = 0; i < nt; i++) total += req.topics[i].partitions_count < 0 ? 0 : req.topics[i].partitions_count;
    kn_goffset_commit_t *parts = RNEW(r, kn_goffset_commit_t, total);
    int32_t n = 0;
    for (int32_t i = 0; i < nt; i++)
        for (int32_t j = 0; j < req.topics[i].partitions_count; j++) {
            parts[n].topic = req.topics[i].name;
            parts[n].partition = req.topics[i].partitions[j].partition_index;
            parts[n].error = partition_known(r->b, parts[n].topic, parts[n].partition)
                                 ? 0
                                 : KN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            n++;
        }
    resp.error_code = c ? kn_gcoord_delete_offsets(c, req.group_id, parts, n) : KN_KERR_COORDINATOR_NOT_AVAILABLE;
    if (!resp.error_code) {
        resp.topics = RNEW(r, kn_OffsetDeleteResponse_OffsetDeleteResponseTopic_t, nt);
        resp.topics_count = nt;
        n = 0;
        for (int32_t i = 0; i < nt; i++) {
            kn_OffsetDeleteResponse_OffsetDeleteResponseTopic_t *t = &resp.topics[i];
            kn_OffsetDeleteResponse_OffsetDeleteResponseTopic_init(t);
            t->name = req.topics[i].name;
            int32_t np = req.topics[i].partitions_count < 0 ? 0 : req.topics[i].partitions_count;
            t->partitions = RNEW(r, kn_OffsetDeleteResponse_OffsetDeleteResponsePartition_t, np);
            t->partitions_count = np;
            for (int32_t j = 0; j < np; j++, n++) {
                kn_OffsetDeleteResponse_OffsetDeleteResponsePartition_init(&t->partitions[j]);
                t->partitions[j].partition_index = parts[n].partition;
                t->partitions[j].error_code = parts[n].error;
            }
        }
    }
    kn_req__begin_response(r);
    kn_OffsetDeleteResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}

/* ---- describe, list, delete ---- */

int kn_h_describe_groups(kn_req_t *r) {
    kn_rd_t rd;
    kn_DescribeGroupsRequest_t req;
    body(r, &rd);
    int rc = kn_DescribeGroupsRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_gcoord_t *c = coord(r);
    kn_DescribeGroupsResponse_t resp;
    kn_DescribeGroupsResponse_init(&resp);
    int32_t ng = req.groups_count < 0 ? 0 : req.groups_count;
    resp.groups = RNEW(r, kn_DescribeGroupsResponse_DescribedGroup_t, ng);
    resp.groups_count = ng;
    for (int32_t i = 0; i < ng; i++) {
        kn_DescribeGroupsResponse_DescribedGroup_t *d = &resp.groups[i];
        kn_DescribeGroupsResponse_DescribedGroup_init(d);
        d->group_id = req.groups[i];
        d->error_code = c ? kn_gcoord_check(c, req.groups[i]) : KN_KERR_COORDINATOR_NOT_AVAILABLE;
        if (req.include_authorized_operations) d->authorized_operations = GROUP_AUTHORIZED_OPS;
        if (d->error_code) continue;
        kn_ggroup_info_t gi;
        kn_gcoord_describe(c, req.groups[i], &gi);
        /* Copy out: the info borrows coordinator scratch reused per call. */
        d->group_state = cstr(gi.state);
        d->protocol_type = cstr(kn_req__cstr(r, gi.protocol_type));
        d->protocol_data = cstr(kn_req__cstr(r, gi.protocol));
        d->members = RNEW(r, kn_DescribeGroupsResponse_DescribedGroupMember_t, gi.nmembers);
        d->members_count = gi.nmembers;
        for (int32_t k = 0; k < gi.nmembers; k++) {
            const kn_gmember_info_t *mi = &gi.members[k];
            kn_DescribeGroupsResponse_DescribedGroupMember_t *m = &d->members[k];
            kn_DescribeGroupsResponse_DescribedGroupMember_init(m);
            m->member_id = cstr(kn_req__cstr(r, mi->member_id));
            m->group_instance_id = mi->group_instance_id.len >= 0 ? cstr(kn_req__cstr(r, mi->group_instance_id))
                                                                   : KN_STR_NULL;
            m->client_id = cstr(kn_req__cstr(r, mi->client_id));
            m->client_host = cstr(kn_req__cstr(r, mi->client_host));
            uint8_t *md = RNEW(r, uint8_t, mi->metadata.len);
            if (mi->metadata.len) memcpy(md, mi->metadata.p, (size_t)mi->metadata.len);
            m->member_metadata = (kn_bytes_t){md, mi->metadata.len};
            uint8_t *as = RNEW(r, uint8_t, mi->assignment.len);
            if (mi->assignment.len) memcpy(as, mi->assignment.p, (size_t)mi->assignment.len);
            m->member_assignment = (kn_bytes_t){as, mi->assignment.len};
        }
    }
    kn_req__begin_response(r);
    kn_DescribeGroupsResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}

typedef struct list_s {
    kn_req_t *r;
    kn_ListGroupsRequest_t *req;
    kn_ListGroupsResponse_ListedGroup_t *out;
    int32_t n, cap;
} list_t;

static void list_cb(void *arg, const kn_ggroup_info_t *gi) {
    list_t *l = arg;
    if (l->req->states_filter_count > 0) {
        bool match = false;
        for (int32_t i = 0; i < l->req->states_filter_count && !match; i++) {
            kn_str_t f = l->req->states_filter[i];
            match = f.len == (int32_t)strlen(gi->state) && !strncasecmp(f.p, gi->state, (size_t)f.len);
        }
        if (!match) return;
    }
    if (l->n == l->cap) {
        int32_t ncap = l->cap ? l->cap * 2 : 16;
        kn_ListGroupsResponse_ListedGroup_t *nl = RNEW(l->r, kn_ListGroupsResponse_ListedGroup_t, ncap);
        if (l->n) memcpy(nl, l->out, sizeof(*nl) * (size_t)l->n);
        l->out = nl;
        l->cap = ncap;
    }
    kn_ListGroupsResponse_ListedGroup_t *g = &l->out[l->n++];
    kn_ListGroupsResponse_ListedGroup_init(g);
    g->group_id = cstr(kn_req__cstr(l->r, gi->group_id));
    g->protocol_type = cstr(kn_req__cstr(l->r, gi->protocol_type));
    g->group_state = cstr(gi->state);
    g->group_type = KN_STR("classic");
}

int kn_h_list_groups(kn_req_t *r) {
    kn_rd_t rd;
    kn_ListGroupsRequest_t req;
    body(r, &rd);
    int rc = kn_ListGroupsRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_gcoord_t *c = coord(r);
    kn_ListGroupsResponse_t resp;
    kn_ListGroupsResponse_init(&resp);
    list_t l = {r, &req, NULL, 0, 0};
    if (!c) {
        resp.error_code = KN_KERR_COORDINATOR_NOT_AVAILABLE;
    } else {
        if (kn_gcoord_any_loading(c)) resp.error_code = KN_KERR_COORDINATOR_LOAD_IN_PROGRESS;
        kn_gcoord_list(c, list_cb, &l);
    }
    resp.groups = l.out;
    resp.groups_count = l.n;
    kn_req__begin_response(r);
    kn_ListGroupsResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}

int kn_h_delete_groups(kn_req_t *r) {
    kn_rd_t rd;
    kn_DeleteGroupsRequest_t req;
    body(r, &rd);
    int rc = kn_DeleteGroupsRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_gcoord_t *c = coord(r);
    kn_DeleteGroupsResponse_t resp;
    kn_DeleteGroupsResponse_init(&resp);
    int32_t n = req.groups_names_count < 0 ? 0 : req.groups_names_count;
    resp.results = RNEW(r, kn_DeleteGroupsResponse_DeletableGroupResult_t, n);
    resp.results_count = n;
    for (int32_t i = 0; i < n; i++) {
        kn_DeleteGroupsResponse_DeletableGroupResult_init(&resp.results[i]);
        resp.results[i].group_id = req.groups_names[i];
        resp.results[i].error_code =
            c ? kn_gcoord_delete_group(c, req.groups_names[i]) : KN_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    kn_req__begin_response(r);
    kn_DeleteGroupsResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}
