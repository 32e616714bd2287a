/* AllocateProducerIds (API 67) at the controller, as Kafka 3.x's ZK-mode
 * controller serves it (KafkaController.processAllocateProducerIds with
 * ZkProducerIdManager.getNewProducerIdBlock): /latest_producer_id_block holds
 * the last block handed out,
 * {"version":1,"broker":N,"block_start":"S","block_end":"E"} (numbers as
 * strings). The next block starts at E + 1 and is claimed with a conditional
 * set on the znode's version (create when missing); a lost race re-reads and
 * tries again, so no two blocks ever overlap, even across a controller
 * change. Brokers ask with AllocateProducerIds (src/broker/pid_blocks.c) and
 * never write the znode themselves. Loop thread. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"

#define PID_PATH "/latest_producer_id_block"
#define PID_MAX_ATTEMPTS 20

typedef struct pid_req_s {
    kn_cluster_pid_alloc_cb cb;
    void *ud;
    int32_t broker_id; /* the broker the block is for (written in the znode) */
    int32_t size;
    int attempts;
    int16_t err;        /* answer posted without a ZooKeeper write */
    int64_t start, end; /* the block being claimed */
} pid_req_t;

static void pid_read(kn_cluster_t *c, pid_req_t *q);
static void pid_dropped(void *ud, int16_t kafka_err, const char *msg);

static void pid_done(pid_req_t *q, int16_t err) {
    q->cb(q->ud, err, err ? -1 : q->start, err ? 0 : (int32_t)(q->end - q->start + 1));
    kn_free(q);
}

/* The op was dropped (session lost, stopping): REQUEST_TIMED_OUT (7). */
static void pid_dropped(void *ud, int16_t kafka_err, const char *msg) {
    (void)kafka_err;
    (void)msg;
    pid_done(ud, KN_KERR_REQUEST_TIMED_OUT);
}

/* block_end of the znode's JSON; -1 when empty (no block handed out yet). */
static int parse_block_end(const char *data, int len, int64_t *end) {
    *end = -1;
    if (!data || len <= 0) return 0;
    json_error_t je;
    json_t *root = json_loadb(data, (size_t)len, 0, &je);
    if (!root) return KN_ECORRUPT;
    json_t *e = json_object_get(root, "block_end");
    int rc = 0;
    if (json_is_string(e)) {
        char *ep;
        long long v = strtoll(json_string_value(e), &ep, 10);
        if (*ep || v < -1) rc = KN_ECORRUPT;
        else *end = v;
    } else if (json_is_integer(e)) {
        *end = json_integer_value(e);
    } else {
        rc = KN_ECORRUPT;
    }
    json_decref(root);
    return rc;
}

static void pid_written(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    pid_req_t *q = op->uud;
    op->uud = NULL;
    if (r->rc == ZOK) {
        kn_log(KN_LOG_INFO, c->ctx, "producer id block [%" PRId64 ", %" PRId64 "] allocated to broker %" PRId32,
               q->start, q->end, q->broker_id);
        pid_done(q, 0);
    } else if ((r->rc == ZBADVERSION || r->rc == ZNODEEXISTS) && ++q->attempts < PID_MAX_ATTEMPTS) {
        pid_read(c, q); /* a concurrent allocation won the race: take the block after its */
    } else {
        kn_log(KN_LOG_WARN, c->ctx, "cannot write %s: %s", PID_PATH, zerror(r->rc));
        pid_done(q, KN_KERR_UNKNOWN_SERVER_ERROR);
    }
}

static void pid_got(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    pid_req_t *q = op->uud;
    op->uud = NULL;
    if (r->rc != ZOK && r->rc != ZNONODE) {
        kn_log(KN_LOG_WARN, c->ctx, "cannot read %s: %s", PID_PATH, zerror(r->rc));
        pid_done(q, KN_KERR_UNKNOWN_SERVER_ERROR);
        return;
    }
    int64_t last_end = -1;
    if (r->rc == ZOK && parse_block_end(r->data, r->datalen, &last_end) < 0) {
        kn_log(KN_LOG_ERROR, c->ctx, "%s holds no valid block: refusing to hand out producer ids", PID_PATH);
        pid_done(q, KN_KERR_UNKNOWN_SERVER_ERROR);
        return;
    }
    if (last_end > INT64_MAX - q->size - 1) {
        kn_log(KN_LOG_ERROR, c->ctx, "producer ids exhausted (last block ends at %" PRId64 ")", last_end);
        pid_done(q, KN_KERR_UNKNOWN_SERVER_ERROR);
        return;
    }
    q->start = last_end + 1;
    q->end = q->start + q->size - 1;
    char data[200];
    snprintf(data, sizeof(data),
             "{\"version\":1,\"broker\":%" PRId32 ",\"block_start\":\"%" PRId64 "\",\"block_end\":\"%" PRId64 "\"}",
             q->broker_id, q->start, q->end);
    kn_zop_t *w = kn_cluster__op(c, pid_written, PID_PATH);
    w->ucb = pid_dropped;
    w->uud = q;
    if (r->rc == ZNONODE) kn_cluster__zcreate(c, w, data, 0);
    else kn_cluster__zset(c, w, data, r->stat.version);
}

static void pid_read(kn_cluster_t *c, pid_req_t *q) {
    kn_zop_t *op = kn_cluster__op(c, pid_got, PID_PATH);
    op->ucb = pid_dropped; /* called instead of pid_got if the session is lost */
    op->uud = q;
    kn_cluster__zget(c, op, false);
}

static void pid_posted(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    (void)c;
    (void)r;
    pid_req_t *q = op->uud;
    op->uud = NULL;
    pid_done(q, q->err);
}

void kn_cluster_allocate_producer_ids(kn_cluster_t *c, int32_t broker_id, int64_t broker_epoch,
                                      kn_cluster_pid_alloc_cb done, void *ud) {
    pid_req_t *q = kn_calloc(1, sizeof(*q));
    q->cb = done;
    q->ud = ud;
    q->broker_id = broker_id;
    q->size = KN_PRODUCER_ID_BLOCK_SIZE;
    const kn_cbroker_t *rb = NULL;
    for (size_t i = 0; i < c->nbrokers; i++)
        if (c->brokers[i].id == broker_id && c->brokers[i].loaded) rb = &c->brokers[i];
    if (c->stopping) {
        q->err = KN_KERR_REQUEST_TIMED_OUT;
    } else if (!c->is_controller) {
        q->err = KN_KERR_NOT_CONTROLLER;
    } else if (!rb) {
        kn_log(KN_LOG_INFO, c->ctx, "AllocateProducerIds from unknown broker %" PRId32 ": BROKER_ID_NOT_REGISTERED",
               broker_id);
        q->err = KN_KERR_BROKER_ID_NOT_REGISTERED;
    } else if (rb->meta.epoch != broker_epoch) {
        kn_log(KN_LOG_INFO, c->ctx, "AllocateProducerIds from broker %" PRId32 " with broker epoch %" PRId64
               " rejected: STALE_BROKER_EPOCH (registered epoch %" PRId64 ")", broker_id, broker_epoch,
               rb->meta.epoch);
        q->err = KN_KERR_STALE_BROKER_EPOCH;
    }
    if (q->err) { /* answered through the queue, never inside the caller */
        kn_zop_t *op = kn_cluster__op(c, pid_posted, "");
        op->ucb = pid_dropped;
        op->uud = q;
        kn_cluster__post(c, op, ZOK);
        return;
    }
    pid_read(c, q);
}
