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

static int16_t produce_partition(kn_req_t *r, int16_t acks, kn_str_t topic, int32_t index, kn_records_t *rec,
                                 kn_ProduceResponse_PartitionProduceResponse_t *pr, int64_t *required) {
    kn_broker_t *b = r->b;
    kn_partition_t *p = kn_broker__partition(b, topic.p, (size_t)topic.len, index);
    if (!p) {
        const kn_topic_meta_t *t = kn_cluster_topic(b->cluster, topic.p, (size_t)topic.len);
        return (t && index >= 0 && index < t->npartitions) ? KN_KERR_NOT_LEADER_OR_FOLLOWER
                                                           : KN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (!kn_broker__leads(b, p)) return KN_KERR_NOT_LEADER_OR_FOLLOWER;
    if (rec->len <= 0 || !rec->p) return KN_KERR_INVALID_RECORD;
    /* acks=all refuses before appending when the ISR is too small. */
    if (acks == -1 && p->nisr < kn_replica__min_isr(b, p)) return KN_KERR_NOT_ENOUGH_REPLICAS;
    /* The frame is ours: offsets are assigned in place before the write.
     * produce_validate.c: per-topic size limit, decompression and record
     * walk, recompression, LogAppendTime (may swap in a rebuilt blob). */
    kn_produce_prep_t prep;
    int16_t kerr = kn_produce__prepare(r, p, (uint8_t *)rec->p, (size_t)rec->len, &prep);
    if (kerr) return kerr;
    /* Idempotent producers (producer_state.c): a retried batch that matches
     * one of the producer's last 5 gets NONE with its original offsets. */
    bool is_dup = false;
    kn_pstate_batch_t dup;
    kerr = kn_produce__check_idempotence(r, p, &prep, &is_dup, &dup);
    if (kerr || is_dup) {
        kn_produce__prep_free(&prep);
        if (is_dup) {
            pr->base_offset = dup.first_offset;
            pr->log_start_offset = kn_plog_start_offset(p->log);
            *required = dup.last_offset + 1;
        }
        return kerr;
    }
    int64_t base = 0, last = 0;
    kn_replica__stamp_epoch(p, prep.data, prep.len);
    int rc = kn_plog_append(p->log, prep.data, prep.len, kn_now_ms(), &base, &last);
    if (rc == 0) kn_pstate_update_blob(&p->pstate, prep.data, prep.len);
    kn_produce__prep_free(&prep);
    if (rc < 0) {
        kn_log(KN_LOG_ERROR, p->name, "append failed: %s", kn_strerror(rc));
        return KN_KERR_KAFKA_STORAGE_ERROR;
    }
    pr->base_offset = base;
    pr->log_append_time_ms = prep.log_append_time;
    pr->log_start_offset = kn_plog_start_offset(p->log);
    *required = last + 1;
    kn_metrics__produced(p, last - base + 1, rec->len);
    kn_broker__on_append(b, p); /* wakes followers' parked fetches */
    kn_replica__update_hw(b, p); /* an ISR of one moves the HW now */
    return 0;
}

/* ---- acks=all purgatory ----
 * A request waits until every partition it appended to has its high
 * watermark past the appended records (the whole ISR has them), its timeout
 * passes (REQUEST_TIMED_OUT), or the partition stops being led here. */
typedef struct pwait_s {
    kn_str_t topic;
    int32_t partition;
    int64_t required;
    kn_ProduceResponse_PartitionProduceResponse_t *pr;
    bool done;
} pwait_t;

typedef struct pstate_s {
    kn_ProduceResponse_t resp;
    pwait_t *w;
    int32_t nw, left;
    int64_t deadline_ms;
    kn_req_t *next;
} pstate_t;

static void produce_reply(kn_req_t *r, kn_ProduceResponse_t *resp) {
    kn_req__begin_response(r);
    kn_ProduceResponse_encode(&r->resp, r->api_version, resp);
    kn_req__finish(r);
}

/* Re-check one waiting request; true when it was answered. */
static bool pwait_check(kn_broker_t *b, kn_req_t *r, bool expired) {
    pstate_t *st = r->state;
    for (int32_t i = 0; i < st->nw; i++) {
        pwait_t *w = &st->w[i];
        if (w->done) continue;
        kn_partition_t *p = kn_broker__partition(b, w->topic.p, (size_t)w->topic.len, w->partition);
        if (!p || !p->is_leader) {
            w->pr->error_code = KN_KERR_NOT_LEADER_OR_FOLLOWER;
        } else if (p->high_watermark >= w->required) {
            if (p->nisr < kn_replica__min_isr(b, p)) w->pr->error_code = KN_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
        } else if (expired) {
            w->pr->error_code = KN_KERR_REQUEST_TIMED_OUT;
        } else {
            continue;
        }
        w->done = true;
        st->left--;
    }
    if (st->left > 0) return false;
    produce_reply(r, &st->resp);
    return true;
}

static void pwait_free(kn_req_t *r) {
    /* Unlink if still parked (client went away). */
    kn_broker_t *b = r->b;
    kn_req_t **pp = &b->parked_produce;
    while (*pp) {
        if (*pp == r) {
            *pp = ((pstate_t *)r->state)->next;
            break;
        }
        pp = &((pstate_t *)(*pp)->state)->next;
    }
}

static void pwait_scan(kn_broker_t *b, const kn_partition_t *only, int64_t now_ms, bool all) {
    kn_req_t *list = b->parked_produce;
    b->parked_produce = NULL;
    while (list) {
        kn_req_t *r = list;
        pstate_t *st = r->state;
        list = st->next;
        st->next = NULL;
        bool relevant = all || now_ms >= st->deadline_ms || !only;
        for (int32_t i = 0; !relevant && i < st->nw; i++)
            if (st->w[i].partition == only->partition &&
                kn_str_eq(st->w[i].topic, only->topic, (int32_t)strlen(only->topic)))
                relevant = true;
        if (relevant) {
            r->on_free = NULL; /* not parked while it runs */
            if (pwait_check(b, r, all || now_ms >= st->deadline_ms)) continue;
            r->on_free = pwait_free;
        }
        st->next = b->parked_produce;
        b->parked_produce = r;
    }
}

void kn_produce__hw_advanced(kn_broker_t *b, kn_partition_t *p) {
    if (b->parked_produce) pwait_scan(b, p, kn_mono_ms(), false);
}

void kn_produce__expire(kn_broker_t *b, int64_t now_ms, bool all) {
    if (!b->parked_produce) return;
    int64_t now = all ? INT64_MAX : now_ms;
    kn_req_t *list = b->parked_produce;
    bool any = all;
    for (; list && !any; list = ((pstate_t *)list->state)->next)
        if (now >= ((pstate_t *)list->state)->deadline_ms) any = true;
    if (any) pwait_scan(b, NULL, now, all);
}

void kn_produce__cancel_client(kn_broker_t *b, kn_client_t *cl) {
    kn_req_t **pp = &b->parked_produce;
    while (*pp) {
        kn_req_t *r = *pp;
        pstate_t *st = r->state;
        if (r->cl == cl) {
            *pp = st->next;
            r->on_free = NULL;
        } else {
            pp = &st->next;
        }
    }
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
    int32_t nwait = 0;
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
            int64_t required = -1;
            pr->error_code = top_err ? top_err
                                     : produce_partition(r, req.acks, td->name, pr->index,
                                                         &td->partition_data[j].records, pr, &required);
            if (req.acks == -1 && pr->error_code == 0 && required >= 0) nwait++;
        }
    }
    if (req.acks == -1 && nwait > 0) {
        /* Park until the ISR has the records (or time runs out). */
        pstate_t *st = RNEW(r, pstate_t, 1);
        st->resp = resp;
        st->w = RNEW(r, pwait_t, nwait);
        st->deadline_ms = kn_mono_ms() + (req.timeout_ms > 0 ? req.timeout_ms : 0);
        for (int32_t i = 0; i < nt; i++) {
            kn_ProduceResponse_TopicProduceResponse_t *tr = &st->resp.responses[i];
            for (int32_t j = 0; j < tr->partition_responses_count; j++) {
                kn_ProduceResponse_PartitionProduceResponse_t *pr = &tr->partition_responses[j];
                if (pr->error_code || pr->base_offset < 0) continue;
                pwait_t *w = &st->w[st->nw++];
                w->topic = tr->name;
                w->partition = pr->index;
                w->pr = pr;
                /* base offset + records: the HW must pass the last one. */
                kn_partition_t *p = kn_broker__partition(r->b, tr->name.p, (size_t)tr->name.len, pr->index);
                w->required = p ? kn_plog_end_offset(p->log) : 0;
            }
        }
        st->left = st->nw;
        r->state = st;
        if (pwait_check(r->b, r, false)) return 0;
        r->on_free = pwait_free;
        st->next = r->b->parked_produce;
        r->b->parked_produce = r;
        return 0;
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

