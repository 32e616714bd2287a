/* The controller probe: fast detection of a dead controller.
 *
 * The controller finds dead brokers through its channel's probes (channel.c,
 * docs/replication.md "Fast failure detection"); nobody did the same for the
 * controller itself, so a kill -9'ed controller was replaced only when its
 * ZooKeeper session expired. Every other broker now holds one idle TCP
 * connection to the controller's advertised address. When it is lost and a
 * reconnect is refused (nothing listens on the port: the process is gone),
 * the broker deletes `/controller` — only the node of the controller whose
 * process it saw die:
 *
 *   1. read `/controller_epoch` (its data version V and epoch E);
 *   2. read `/controller`: it must still name that broker and belong to the
 *      same ZooKeeper session (ephemeralOwner) as when the probe started;
 *   3. multi { check /controller_epoch version V; delete /controller }.
 *
 * An election writes `/controller` and `/controller_epoch` in one multi, so
 * if anyone was elected after step 1 the check fails and nothing is deleted.
 * Several brokers may race; at most one multi succeeds. The deletion fires
 * the usual `/controller` watches and the brokers elect a new controller,
 * whose channel probes then find the dead broker's port refused and move
 * its leaderships. A slow, paused or unreachable controller is never
 * deleted: the kernel still accepts connections for a paused process, and
 * timeouts prove nothing. Being wrong would cost one extra election, never
 * data: every controller write is fenced by `/controller_epoch`. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "znode_int.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"
#include "kanal/util/time.h"

#define CPROBE_BACKOFF_MS 200
#define CPROBE_BACKOFF_MAX_MS 2000
#define CPROBE_FLAP_MS 1000
#define CPROBE_FLAP_DELAY_MS 100

typedef struct cprobe_conn_s {
    uv_tcp_t tcp;
    uv_connect_t req;
    kn_cluster_t *c; /* NULL once detached */
} cprobe_conn_t;

static void conn_closed(uv_handle_t *h) { kn_free(h->data); }

static void detach(kn_cluster_t *c) {
    cprobe_conn_t *pc = c->cprobe_conn;
    if (!pc) return;
    c->cprobe_conn = NULL;
    pc->c = NULL;
    uv_close((uv_handle_t *)&pc->tcp, conn_closed);
}

static void schedule(kn_cluster_t *c, uint64_t ms) {
    if (!c->handles_closing) uv_timer_start(&c->cprobe_timer, kn_cluster__cprobe_tick, ms, 0);
}

/* ---- deleting /controller ---- */

static void deleted(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc == ZOK)
        kn_log(KN_LOG_WARN, c->ctx,
               "controller %" PRId32 " (epoch %" PRId32 ") is gone: its port refuses connections; deleted "
               "/controller so that a new controller is elected now, not when its session expires",
               op->i1, op->i2);
    else
        kn_log(KN_LOG_INFO, c->ctx, "controller %" PRId32 " is gone, /controller not deleted here: %s", op->i1,
               r->rc == ZBADVERSION || r->rc == ZNONODE ? "another broker or an election came first" : zerror(r->rc));
}

static void ctrl_read(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    int32_t id;
    if (r->rc != ZOK || !r->has_stat ||
        kn_cluster__controller_parse(r->data, r->data ? (size_t)r->datalen : 0, &id) != 0)
        return;
    if (id != op->i1 || r->stat.ephemeralOwner != c->cprobe_owner) return; /* not the one we saw die */
    kn_zop_t *m = kn_cluster__op(c, deleted, "/controller");
    m->i1 = op->i1;
    m->i2 = op->i2;
    kn_cluster__mop_init(m, 2);
    kn_cluster__mop_check(c, m, "/controller_epoch", op->i3);
    kn_cluster__mop_delete(c, m, "/controller", r->stat.version);
    kn_cluster__zmulti(c, m);
}

static void epoch_read(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    int32_t e;
    if (r->rc != ZOK || !r->has_stat || kn_cluster__epoch_parse(r->data, r->data ? (size_t)r->datalen : 0, &e) != 0)
        return;
    kn_zop_t *g = kn_cluster__op(c, ctrl_read, "/controller");
    g->i1 = op->i1;
    g->i2 = e;
    g->i3 = r->stat.version;
    kn_cluster__zget(c, g, false);
}

static void controller_gone(kn_cluster_t *c) {
    if (c->cprobe_acted) return;
    c->cprobe_acted = true;
    kn_log(KN_LOG_WARN, c->ctx,
           "controller %" PRId32 " at %s:%d: connection lost and reconnect refused (its process is gone); "
           "checking /controller",
           c->cprobe_id, c->cprobe_host, c->cprobe_port);
    kn_zop_t *op = kn_cluster__op(c, epoch_read, "/controller_epoch");
    op->i1 = c->cprobe_id;
    kn_cluster__zget(c, op, false);
}

/* ---- the connection ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    static char sink[256]; /* nothing is ever sent on this connection */
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(sink, sizeof(sink));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    cprobe_conn_t *pc = s->data;
    kn_cluster_t *c = pc->c;
    (void)buf;
    if (!c || nread >= 0) return;
    kn_dbg(KN_DBG_REPL, c->ctx, "controller probe: connection to %" PRId32 " lost (%s); reconnecting", c->cprobe_id,
           nread == UV_EOF ? "closed by the peer" : uv_strerror((int)nread));
    bool flapping = kn_now_ms() - c->cprobe_up_since_ms < CPROBE_FLAP_MS;
    detach(c);
    schedule(c, flapping ? CPROBE_FLAP_DELAY_MS : 0);
}

static void on_connect(uv_connect_t *req, int status) {
    cprobe_conn_t *pc = req->data;
    kn_cluster_t *c = pc->c;
    if (!c || status == UV_ECANCELED) return;
    if (status == 0) {
        c->cprobe_fails = 0;
        c->cprobe_up_since_ms = kn_now_ms();
        uv_read_start((uv_stream_t *)&pc->tcp, on_alloc, on_read);
        return;
    }
    detach(c);
    if (status == UV_ECONNREFUSED) {
        controller_gone(c);
        return; /* nothing more until the controller changes */
    }
    int64_t ms = (int64_t)CPROBE_BACKOFF_MS << (c->cprobe_fails < 4 ? c->cprobe_fails : 4);
    c->cprobe_fails++;
    schedule(c, (uint64_t)(ms > CPROBE_BACKOFF_MAX_MS ? CPROBE_BACKOFF_MAX_MS : ms));
}

void kn_cluster__cprobe_tick(uv_timer_t *t) {
    kn_cluster_t *c = t->data;
    if (c->cprobe_id < 0 || c->cprobe_conn || c->cprobe_acted || c->stopping) return;
    struct sockaddr_in sin;
    if (uv_ip4_addr(!strcmp(c->cprobe_host, "localhost") ? "127.0.0.1" : c->cprobe_host, c->cprobe_port, &sin) != 0)
        return; /* not an IPv4 literal: ZooKeeper alone decides */
    cprobe_conn_t *pc = kn_calloc(1, sizeof(*pc));
    pc->c = c;
    uv_tcp_init(c->loop, &pc->tcp);
    pc->tcp.data = pc;
    pc->req.data = pc;
    c->cprobe_conn = pc;
    if (uv_tcp_connect(&pc->req, &pc->tcp, (const struct sockaddr *)&sin, on_connect) < 0) {
        detach(c);
        schedule(c, CPROBE_BACKOFF_MAX_MS);
    }
}

void kn_cluster__cprobe_stop(kn_cluster_t *c) {
    detach(c);
    if (!c->handles_closing) uv_timer_stop(&c->cprobe_timer);
    c->cprobe_id = -1;
    c->cprobe_owner = 0;
    c->cprobe_acted = false;
}

void kn_cluster__cprobe_sync(kn_cluster_t *c) {
    int32_t id = c->controller_id;
    const kn_cbroker_t *b = NULL;
    if (!c->is_controller && !c->stopping && id >= 0 && id != c->broker_id && c->controller_owner != 0)
        for (size_t i = 0; i < c->nbrokers && !b; i++)
            if (c->brokers[i].id == id && c->brokers[i].loaded) b = &c->brokers[i];
    if (!b || !b->meta.host) {
        if (c->cprobe_id >= 0) kn_cluster__cprobe_stop(c);
        return;
    }
    if (c->cprobe_id == id && c->cprobe_owner == c->controller_owner && c->cprobe_port == b->meta.port &&
        !strcmp(c->cprobe_host, b->meta.host))
        return; /* already probing this controller */
    kn_cluster__cprobe_stop(c);
    c->cprobe_id = id;
    c->cprobe_owner = c->controller_owner;
    snprintf(c->cprobe_host, sizeof(c->cprobe_host), "%s", b->meta.host);
    c->cprobe_port = b->meta.port;
    c->cprobe_fails = 0;
    kn_dbg(KN_DBG_REPL, c->ctx, "controller probe: watching controller %" PRId32 " at %s:%d", id, c->cprobe_host,
           c->cprobe_port);
    schedule(c, 0);
}
