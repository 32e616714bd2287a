/* DeleteRecords (API 21): move the log start offset of partitions this
 * broker leads up to the given offset (-1 = the high watermark). Segments
 * that fall wholly below it are deleted as retention deletes them. The reply
 * carries the new low watermark (log start offset). Kafka waits for the
 * followers' start offsets to catch up before answering; followers here
 * learn it from the leader's log start offset in Fetch replies. */
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "kanal/proto/gen/delete_records.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"

static void *dralloc(kn_req_t *r, size_t n) {
    void *p = kn_arena_alloc(&r->arena, n ? n : 1);
    if (!p) {
        kn_log(KN_LOG_ERROR, r->cl ? r->cl->ctx : NULL, "out of memory building a DeleteRecords reply");
        abort();
    }
    return p;
}

static int16_t delete_one(kn_req_t *r, kn_str_t topic, int32_t partition, int64_t offset, int64_t *low) {
    kn_broker_t *b = r->b;
    *low = -1;
    kn_partition_t *p = kn_broker__partition(b, topic.p, (size_t)(topic.len > 0 ? topic.len : 0), partition);
    if (!p) {
        const kn_topic_meta_t *tm = b->cluster ? kn_cluster_topic(b->cluster, topic.p, (size_t)topic.len) : NULL;
        return (tm && partition >= 0 && partition < tm->npartitions) ? KN_KERR_NOT_LEADER_OR_FOLLOWER
                                                                     : KN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (!kn_broker__leads(b, p)) return KN_KERR_NOT_LEADER_OR_FOLLOWER;
    int64_t hw = p->high_watermark;
    if (offset == -1) offset = hw;
    if (offset < 0 || offset > hw) return KN_KERR_OFFSET_OUT_OF_RANGE;
    int64_t old = kn_plog_start_offset(p->log);
    if (offset > old) {
        int rc = kn_plog_set_start_offset(p->log, offset);
        if (rc < 0) return KN_KERR_OFFSET_OUT_OF_RANGE;
        kn_log(KN_LOG_INFO, p->name, "DeleteRecords from %s: log start offset %lld -> %lld", r->cl ? r->cl->ctx : "?",
               (long long)old, (long long)offset);
        kn_lifecycle__start_offset_moved(b, p);
    }
    *low = kn_plog_start_offset(p->log);
    return KN_KERR_NONE;
}

int kn_h_delete_records(kn_req_t *r) {
    kn_rd_t rd;
    kn_DeleteRecordsRequest_t req;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    int rc = kn_DeleteRecordsRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc) return rc;
    kn_DeleteRecordsResponse_t resp;
    kn_DeleteRecordsResponse_init(&resp);
    int32_t nt = req.topics_count < 0 ? 0 : req.topics_count;
    resp.topics = dralloc(r, sizeof(*resp.topics) * (size_t)nt);
    resp.topics_count = nt;
    for (int32_t i = 0; i < nt; i++) {
        kn_DeleteRecordsRequest_DeleteRecordsTopic_t *t = &req.topics[i];
        kn_DeleteRecordsResponse_DeleteRecordsTopicResult_t *tr = &resp.topics[i];
        kn_DeleteRecordsResponse_DeleteRecordsTopicResult_init(tr);
        tr->name = t->name;
        int32_t np = t->partitions_count < 0 ? 0 : t->partitions_count;
        tr->partitions = dralloc(r, sizeof(*tr->partitions) * (size_t)np);
        tr->partitions_count = np;
        for (int32_t j = 0; j < np; j++) {
            kn_DeleteRecordsResponse_DeleteRecordsPartitionResult_t *pr = &tr->partitions[j];
            kn_DeleteRecordsResponse_DeleteRecordsPartitionResult_init(pr);
            pr->partition_index = t->partitions[j].partition_index;
            pr->error_code =
                delete_one(r, t->name, t->partitions[j].partition_index, t->partitions[j].offset, &pr->low_watermark);
        }
    }
    kn_req__begin_response(r);
    kn_DeleteRecordsResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
    return 0;
}
