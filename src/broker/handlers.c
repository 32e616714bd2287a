/* Request handlers that answer at once: ApiVersions, Metadata, ListOffsets,
 * InitProducerId. Produce lives in produce.c, Fetch in fetch.c, topic admin
 * and configs in admin.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "kanal/proto/gen/api.h"
#include "kanal/proto/gen/api_versions.h"
#include "kanal/proto/gen/init_producer_id.h"
#include "kanal/proto/gen/list_offsets.h"
#include "kanal/proto/gen/metadata.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/time.h"

/* Reply-side arena allocation: sizes here follow counts already bounded by
 * the request's bytes, so failure is a real OOM. */
static void *ralloc(kn_req_t *r, size_t n) {
    void *p = kn_arena_alloc(&r->arena, n ? n : 1);
    if (!p) {
        kn_log(KN_LOG_ERROR, r->cl ? r->cl->ctx : NULL, "out of memory building a reply");
        abort();
    }
    return p;
}
#define RNEW(r, T, n) ((T *)ralloc((r), sizeof(T) * (size_t)(n)))

static kn_str_t cstr(const char *s) { return s ? (kn_str_t){s, (int32_t)strlen(s)} : KN_STR_NULL; }

static int decode_body(kn_req_t *r, kn_rd_t *rd) {
    kn_rd_init(rd, r->frame + r->body_off, r->frame_len - r->body_off);
    return 0;
}

/* ---- ApiVersions ---- */
int kn_h_api_versions(kn_req_t *r) {
    kn_rd_t rd;
    kn_ApiVersionsRequest_t req;
    decode_body(r, &rd);
    int rc = kn_ApiVersionsRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_ApiVersionsResponse_t resp;
    kn_ApiVersionsResponse_init(&resp);
    size_t n = 0;
    const kn_api_info_t *all = kn_api_all(&n);
    resp.api_keys = RNEW(r, kn_ApiVersionsResponse_ApiVersion_t, n);
    resp.api_keys_count = 0;
    for (size_t i = 0; i < n; i++) {
        if (all[i].min_version < 0) continue;
        kn_ApiVersionsResponse_ApiVersion_t *v = &resp.api_keys[resp.api_keys_count++];
        kn_ApiVersionsResponse_ApiVersion_init(v);
        v->api_key = all[i].key;
        v->min_version = all[i].min_version;
        v->max_version = all[i].max_version;
    }
    kn_req__begin_response(r);
    kn_ApiVersionsResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}

/* ---- Metadata ---- */
static void fill_partition(kn_req_t *r, kn_MetadataResponse_MetadataResponsePartition_t *mp,
                           const kn_partition_state_t *ps, int32_t index) {
    kn_MetadataResponse_MetadataResponsePartition_init(mp);
    mp->partition_index = index;
    if (!ps || ps->leader < 0) {
        mp->error_code = KN_KERR_LEADER_NOT_AVAILABLE;
        mp->leader_id = -1;
        mp->leader_epoch = ps ? ps->leader_epoch : -1;
    } else {
        mp->leader_id = ps->leader;
        mp->leader_epoch = ps->leader_epoch;
    }
    mp->replica_nodes_count = ps ? ps->nreplicas : 0;
    mp->replica_nodes = RNEW(r, int32_t, mp->replica_nodes_count);
    if (ps) memcpy(mp->replica_nodes, ps->replicas, sizeof(int32_t) * (size_t)ps->nreplicas);
    mp->isr_nodes_count = ps ? ps->nisr : 0;
    mp->isr_nodes = RNEW(r, int32_t, mp->isr_nodes_count);
    if (ps) memcpy(mp->isr_nodes, ps->isr, sizeof(int32_t) * (size_t)ps->nisr);
    mp->offline_replicas_count = 0;
}

static void fill_topic(kn_req_t *r, kn_MetadataResponse_MetadataResponseTopic_t *mt, const kn_topic_meta_t *t) {
    kn_MetadataResponse_MetadataResponseTopic_init(mt);
    mt->name = cstr(t->name);
    mt->topic_id = t->id;
    mt->is_internal = t->name[0] == '_' && t->name[1] == '_';
    mt->partitions_count = t->npartitions;
    mt->partitions = RNEW(r, kn_MetadataResponse_MetadataResponsePartition_t, t->npartitions);
    for (int32_t i = 0; i < t->npartitions; i++) fill_partition(r, &mt->partitions[i], &t->parts[i], i);
}

static void auto_create_done(void *ud, int16_t err, const char *msg) {
    char *name = ud;
    if (err && err != KN_KERR_TOPIC_ALREADY_EXISTS)
        kn_log(KN_LOG_WARN, name, "auto-creation failed: %s (%s)", kn_kerr_name(err), msg ? msg : "");
    else if (!err)
        kn_log(KN_LOG_INFO, name, "topic auto-created");
    kn_free(name);
}

int kn_h_metadata(kn_req_t *r) {
    kn_broker_t *b = r->b;
    kn_rd_t rd;
    kn_MetadataRequest_t req;
    decode_body(r, &rd);
    int rc = kn_MetadataRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_MetadataResponse_t resp;
    kn_MetadataResponse_init(&resp);
    const kn_broker_meta_t *brokers = NULL;
    size_t nb = kn_cluster_brokers(b->cluster, &brokers);
    resp.brokers = RNEW(r, kn_MetadataResponse_MetadataResponseBroker_t, nb);
    resp.brokers_count = (int32_t)nb;
    for (size_t i = 0; i < nb; i++) {
        kn_MetadataResponse_MetadataResponseBroker_t *mb = &resp.brokers[i];
        kn_MetadataResponse_MetadataResponseBroker_init(mb);
        mb->node_id = brokers[i].id;
        mb->host = cstr(brokers[i].host);
        mb->port = brokers[i].port;
        mb->rack = cstr(brokers[i].rack);
    }
    resp.cluster_id = cstr(kn_cluster_id(b->cluster));
    resp.controller_id = kn_cluster_controller_id(b->cluster);
    /* v0: an empty list means all topics; v1+: null means all. */
    bool all = req.topics_count < 0 || (r->api_version == 0 && req.topics_count == 0);
    if (all) {
        const kn_topic_meta_t *const *topics = NULL;
        size_t nt = kn_cluster_topics(b->cluster, &topics);
        resp.topics = RNEW(r, kn_MetadataResponse_MetadataResponseTopic_t, nt);
        resp.topics_count = 0;
        for (size_t i = 0; i < nt; i++) {
            if (topics[i]->deleting) continue;
            fill_topic(r, &resp.topics[resp.topics_count++], topics[i]);
        }
    } else {
        bool allow_auto = r->api_version < 4 ? true : req.allow_auto_topic_creation;
        resp.topics = RNEW(r, kn_MetadataResponse_MetadataResponseTopic_t, req.topics_count);
        resp.topics_count = req.topics_count;
        for (int32_t i = 0; i < req.topics_count; i++) {
            kn_str_t name = req.topics[i].name;
            kn_MetadataResponse_MetadataResponseTopic_t *mt = &resp.topics[i];
            const kn_topic_meta_t *t = name.len > 0 ? kn_cluster_topic(b->cluster, name.p, (size_t)name.len) : NULL;
            if (t && !t->deleting) {
                fill_topic(r, mt, t);
                continue;
            }
            kn_MetadataResponse_MetadataResponseTopic_init(mt);
            mt->name = name;
            mt->partitions_count = 0;
            if (name.len <= 0) {
                mt->error_code = KN_KERR_INVALID_TOPIC_EXCEPTION;
            } else if (allow_auto && b->cfg->auto_create_topics_enable && !t) {
                char *tn = kn_strndup(name.p, (size_t)name.len);
                int crc = kn_cluster_auto_create_topic(b->cluster, tn, -1, -1, NULL, NULL, 0, auto_create_done, tn);
                mt->error_code = crc == 0 ? KN_KERR_LEADER_NOT_AVAILABLE : KN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                if (crc != 0) kn_free(tn);
            } else {
                mt->error_code = t ? KN_KERR_LEADER_NOT_AVAILABLE : KN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            }
        }
    }
    kn_req__begin_response(r);
    kn_MetadataResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}

/* ---- ListOffsets ---- */
int kn_h_list_offsets(kn_req_t *r) {
    kn_broker_t *b = r->b;
    kn_rd_t rd;
    kn_ListOffsetsRequest_t req;
    decode_body(r, &rd);
    int rc = kn_ListOffsetsRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_ListOffsetsResponse_t resp;
    kn_ListOffsetsResponse_init(&resp);
    int32_t nt = req.topics_count < 0 ? 0 : req.topics_count;
    resp.topics = RNEW(r, kn_ListOffsetsResponse_ListOffsetsTopicResponse_t, nt);
    resp.topics_count = nt;
    for (int32_t i = 0; i < nt; i++) {
        kn_ListOffsetsRequest_ListOffsetsTopic_t *t = &req.topics[i];
        kn_ListOffsetsResponse_ListOffsetsTopicResponse_t *tr = &resp.topics[i];
        kn_ListOffsetsResponse_ListOffsetsTopicResponse_init(tr);
        tr->name = t->name;
        int32_t np = t->partitions_count < 0 ? 0 : t->partitions_count;
        tr->partitions = RNEW(r, kn_ListOffsetsResponse_ListOffsetsPartitionResponse_t, np);
        tr->partitions_count = np;
        for (int32_t j = 0; j < np; j++) {
            kn_ListOffsetsRequest_ListOffsetsPartition_t *rp = &t->partitions[j];
            kn_ListOffsetsResponse_ListOffsetsPartitionResponse_t *pr = &tr->partitions[j];
            kn_ListOffsetsResponse_ListOffsetsPartitionResponse_init(pr);
            pr->partition_index = rp->partition_index;
            pr->timestamp = -1;
            pr->offset = -1;
            pr->leader_epoch = -1;
            kn_partition_t *p = kn_broker__partition(b, t->name.p, (size_t)t->name.len, rp->partition_index);
            if (!p) {
                const kn_topic_meta_t *tm = kn_cluster_topic(b->cluster, t->name.p, (size_t)t->name.len);
                pr->error_code = (tm && rp->partition_index >= 0 && rp->partition_index < tm->npartitions)
                                     ? KN_KERR_NOT_LEADER_OR_FOLLOWER
                                     : KN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (!kn_broker__leads(b, p) && req.replica_id < 0) {
                pr->error_code = KN_KERR_NOT_LEADER_OR_FOLLOWER;
                continue;
            }
            pr->leader_epoch = p->leader_epoch;
            if (rp->timestamp == -2) { /* earliest */
                pr->offset = kn_plog_start_offset(p->log);
            } else if (rp->timestamp == -1) { /* latest: HW (= LSO without transactions) */
                pr->offset = p->high_watermark;
            } else if (rp->timestamp == -3) { /* max timestamp (KIP-734) */
                pr->error_code = KN_KERR_UNSUPPORTED_VERSION;
            } else {
                int64_t off = -1, ts = -1;
                int frc = kn_plog_offset_for_time(p->log, rp->timestamp, &off, &ts);
                if (frc == 0 && off < p->high_watermark) {
                    pr->offset = off;
                    pr->timestamp = ts;
                } else {
                    pr->offset = -1; /* no record at or after that time */
                    pr->timestamp = -1;
                }
            }
        }
    }
    kn_req__begin_response(r);
    kn_ListOffsetsResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}

/* ---- InitProducerId ----
 * New ids come from blocks the controller hands out with AllocateProducerIds
 * (pid_blocks.c; the controller keeps /latest_producer_id_block); sequence
 * dedup is producer_state.c. */
int kn_h_init_producer_id(kn_req_t *r) {
    kn_broker_t *b = r->b;
    kn_rd_t rd;
    kn_InitProducerIdRequest_t req;
    decode_body(r, &rd);
    int rc = kn_InitProducerIdRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_InitProducerIdResponse_t resp;
    kn_InitProducerIdResponse_init(&resp);
    if (req.transactional_id.len >= 0) {
        resp.error_code = KN_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        resp.producer_id = -1;
        resp.producer_epoch = -1;
    } else if (req.producer_id >= 0 && r->api_version >= 3) {
        resp.producer_id = req.producer_id; /* KIP-360 epoch bump */
        resp.producer_epoch = (int16_t)(req.producer_epoch + 1);
    } else {
        (void)b;
        return kn_pid__assign(r); /* may wait for a block */
    }
    kn_req__begin_response(r);
    kn_InitProducerIdResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}
