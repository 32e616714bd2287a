/* Producer-id blocks in ZooKeeper, as Kafka's ZK-mode ProducerIdManager
 * keeps them: /latest_producer_id_block holds the last block handed out,
 * {"version":1,"broker":N,"block_start":"S","block_end":"E"} (numbers as
 * strings). The next block starts at E + 1 and is claimed with a conditional
 * set on the znode's version (create when missing); a lost race re-reads and
 * tries again, so two brokers never get overlapping blocks.
 *
 * Kafka >= 3.0 lets only the controller write the znode and brokers ask it
 * with AllocateProducerIds (API 67). Kanal's brokers write it themselves with
 * the same conditional write, which is what Kafka did before 3.0 and gives
 * the same uniqueness guarantee. Loop thread. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"

#define PID_PATH "/latest_producer_id_block"
#define PID_MAX_ATTEMPTS 20

typedef struct pid_req_s {
    kn_cluster_pid_block_cb cb;
    void *ud;
    int32_t size;
    int attempts;
    int64_t start, end; /* the block being claimed */
} pid_req_t;

static void pid_read(kn_cluster_t *c, pid_req_t *q);
static void pid_dropped(void *ud, int16_t kafka_err, const char *msg);

static void pid_done(pid_req_t *q, int err) {
    q->cb(q->ud, err, err ? -1 : q->start, err ? -1 : q->end);
    kn_free(q);
}

static void pid_dropped(void *ud, int16_t kafka_err, const char *msg) {
    (void)kafka_err;
    (void)msg;
    pid_done(ud, KN_EAGAIN);
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
        kn_log(KN_LOG_INFO, c->ctx, "producer id block [%" PRId64 ", %" PRId64 "] claimed", q->start, q->end);
        pid_done(q, 0);
    } else if ((r->rc == ZBADVERSION || r->rc == ZNODEEXISTS) && ++q->attempts < PID_MAX_ATTEMPTS) {
        pid_read(c, q); /* another broker won the race: take the block after its */
    } else {
        kn_log(KN_LOG_WARN, c->ctx, "cannot write %s: %s", PID_PATH, zerror(r->rc));
        pid_done(q, KN_EAGAIN);
    }
}

static void pid_got(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    pid_req_t *q = op->uud;
    op->uud = NULL;
    if (r->rc != ZOK && r->rc != ZNONODE) {
        kn_log(KN_LOG_WARN, c->ctx, "cannot read %s: %s", PID_PATH, zerror(r->rc));
        pid_done(q, KN_EAGAIN);
        return;
    }
    int64_t last_end = -1;
    if (r->rc == ZOK && parse_block_end(r->data, r->datalen, &last_end) < 0) {
        kn_log(KN_LOG_ERROR, c->ctx, "%s holds no valid block: refusing to hand out producer ids", PID_PATH);
        pid_done(q, KN_ECORRUPT);
        return;
    }
    if (last_end > INT64_MAX - q->size - 1) {
        kn_log(KN_LOG_ERROR, c->ctx, "producer ids exhausted (last block ends at %" PRId64 ")", last_end);
        pid_done(q, KN_ERANGE);
        return;
    }
    q->start = last_end + 1;
    q->end = q->start + q->size - 1;
    char data[200];
    snprintf(data, sizeof(data),
             "{\"version\":1,\"broker\":%" PRId32 ",\"block_start\":\"%" PRId64 "\",\"block_end\":\"%" PRId64 "\"}",
             c->broker_id, q->start, q->end);
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

int kn_cluster_alloc_producer_ids(kn_cluster_t *c, int32_t size, kn_cluster_pid_block_cb cb, void *ud) {
    if (size <= 0 || !cb) return KN_EINVAL;
    if (c->stopping) return KN_ESTATE;
    pid_req_t *q = kn_calloc(1, sizeof(*q));
    q->cb = cb;
    q->ud = ud;
    q->size = size;
    pid_read(c, q);
    return 0;
}
