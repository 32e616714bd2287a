/* Produce: validate each partition's batches, append them to the leader's
 * log, answer with the base offsets (acks=0: no answer at all). */
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "kanal/proto/batch.h"
#include "kanal/proto/gen/produce.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/time.h"

static void *palloc(kn_req_t *r, size_t n) {
    void *p = kn_arena_alloc(&r->arena, n ? n : 1);
    if (!p) {
        kn_log(KN_LOG_ERROR, r->cl ? r->cl->ctx : NULL, "out of memory building a produce reply");
        abort();
    }
    return p;
}
#define RNEW(r, T, n) ((T *)palloc((r), sizeof(T) * (size_t)(n)))

static int decode_body(kn_req_t *r, kn_rd_t *rd) {
    kn_rd_init(rd, r->frame + r->body_off, r->frame_len - r->body_off);
    return 0;
}

static int16_t produce_partition(kn_req_t *r, kn_str_t topic, int32_t index, kn_records_t *rec,
                                 kn_ProduceResponse_PartitionProduceResponse_t *pr) {
    kn_broker_t *b = r->b;
    kn_partition_t *p = kn_broker__partition(b, topic.p, (size_t)topic.len, index);
    if (!p) {
        const kn_topic_meta_t *t = kn_cluster_topic(b->cluster, topic.p, (size_t)topic.len);
        return (t && index >= 0 && index < t->npartitions) ? KN_KERR_NOT_LEADER_OR_FOLLOWER
                                                           : KN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (!p->is_leader) return KN_KERR_NOT_LEADER_OR_FOLLOWER;
    if (rec->len <= 0 || !rec->p) return KN_KERR_INVALID_RECORD;
    /* The frame is ours: offsets are assigned in place before the write.
     * produce_validate.c: per-topic size limit, decompression and record
     * walk, recompression, LogAppendTime (may swap in a rebuilt blob). */
    kn_produce_prep_t prep;
    int16_t kerr = kn_produce__prepare(r, p, (uint8_t *)rec->p, (size_t)rec->len, &prep);
    if (kerr) return kerr;
    int64_t base = 0, last = 0;
    int rc = kn_plog_append(p->log, prep.data, prep.len, kn_now_ms(), &base, &last);
    kn_produce__prep_free(&prep);
    if (rc < 0) {
        kn_log(KN_LOG_ERROR, p->name, "append failed: %s", kn_strerror(rc));
        return KN_KERR_KAFKA_STORAGE_ERROR;
    }
    pr->base_offset = base;
    pr->log_append_time_ms = prep.log_append_time;
    pr->log_start_offset = kn_plog_start_offset(p->log);
    /* Single replica for now: the high watermark follows the log end. */
    p->high_watermark = kn_plog_end_offset(p->log);
    kn_broker__on_append(b, p);
    return 0;
}

int kn_h_produce(kn_req_t *r) {
    kn_rd_t rd;
    kn_ProduceRequest_t req;
    decode_body(r, &rd);
    int rc = kn_ProduceRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_ProduceResponse_t resp;
    kn_ProduceResponse_init(&resp);
    int16_t top_err = 0;
    if (req.acks != 0 && req.acks != 1 && req.acks != -1) top_err = KN_KERR_INVALID_REQUIRED_ACKS;
    if (req.transactional_id.len >= 0) top_err = KN_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    int32_t nt = req.topic_data_count < 0 ? 0 : req.topic_data_count;
    resp.responses = RNEW(r, kn_ProduceResponse_TopicProduceResponse_t, nt);
    resp.responses_count = nt;
    for (int32_t i = 0; i < nt; i++) {
        kn_ProduceRequest_TopicProduceData_t *td = &req.topic_data[i];
        kn_ProduceResponse_TopicProduceResponse_t *tr = &resp.responses[i];
        kn_ProduceResponse_TopicProduceResponse_init(tr);
        tr->name = td->name;
        int32_t np = td->partition_data_count < 0 ? 0 : td->partition_data_count;
        tr->partition_responses = RNEW(r, kn_ProduceResponse_PartitionProduceResponse_t, np);
        tr->partition_responses_count = np;
        for (int32_t j = 0; j < np; j++) {
            kn_ProduceResponse_PartitionProduceResponse_t *pr = &tr->partition_responses[j];
            kn_ProduceResponse_PartitionProduceResponse_init(pr);
            pr->index = td->partition_data[j].index;
            pr->base_offset = -1;
            pr->log_append_time_ms = -1;
            pr->log_start_offset = -1;
            pr->error_code = top_err ? top_err
                                     : produce_partition(r, td->name, pr->index, &td->partition_data[j].records, pr);
        }
    }
    if (req.acks == 0) {
        r->no_response = true;
        kn_req__finish(r);
        return 0;
    }
    kn_req__begin_response(r);
    kn_ProduceResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}

