/* InitProducerId's new producer ids, from blocks of 1000 claimed in
 * ZooKeeper (/latest_producer_id_block, src/cluster/producer_ids.c) so ids
 * are unique across the cluster and across restarts. Requests that arrive
 * while the broker has no ids left wait for the next block. Loop thread. */
#include "broker_int.h"
#include "kanal/proto/gen/init_producer_id.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"

#define PID_BLOCK_SIZE 1000 /* Kafka's ProducerIdsBlock size */

static void answer(kn_req_t *r, int16_t err, int64_t pid) {
    kn_InitProducerIdResponse_t resp;
    kn_InitProducerIdResponse_init(&resp);
    resp.error_code = err;
    resp.producer_id = err ? -1 : pid;
    resp.producer_epoch = err ? -1 : 0;
    kn_req__begin_response(r);
    kn_InitProducerIdResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
}

static void got_block(void *ud, int err, int64_t start, int64_t end) {
    kn_broker_t *b = ud;
    b->pid_fetching = false;
    if (err == 0) {
        b->next_producer_id = start;
        b->pid_block_end = end;
    } else {
        kn_log(KN_LOG_WARN, NULL, "no producer id block: %s", kn_strerror(err));
    }
    while (b->pid_waiters) {
        kn_req_t *r = b->pid_waiters;
        b->pid_waiters = r->park_next;
        r->park_next = NULL;
        if (b->next_producer_id <= b->pid_block_end) answer(r, 0, b->next_producer_id++);
        else answer(r, KN_KERR_COORDINATOR_NOT_AVAILABLE, -1); /* the client retries */
    }
}

int kn_pid__assign(kn_req_t *r) {
    kn_broker_t *b = r->b;
    if (b->next_producer_id <= b->pid_block_end) {
        answer(r, 0, b->next_producer_id++);
        return 0;
    }
    /* Wait for a block (queue order = answer order). */
    kn_req_t **pp = &b->pid_waiters;
    while (*pp) pp = &(*pp)->park_next;
    *pp = r;
    r->park_next = NULL;
    if (!b->pid_fetching) {
        b->pid_fetching = true;
        if (kn_cluster_alloc_producer_ids(b->cluster, PID_BLOCK_SIZE, got_block, b) < 0) got_block(b, KN_ESTATE, -1, -1);
    }
    return 0;
}

void kn_pid__cancel_client(kn_broker_t *b, kn_client_t *cl) {
    kn_req_t **pp = &b->pid_waiters;
    while (*pp) {
        if ((*pp)->cl == cl) *pp = (*pp)->park_next;
        else pp = &(*pp)->park_next;
    }
}
