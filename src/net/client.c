/* Outbound frame connections (see include/kanal/net/client.h). */
#include "kanal/net/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"
#include "kanal/util/time.h"

typedef struct pend_s {
    struct pend_s *next;
    kn_wbuf_t w;       /* until written */
    bool written;
    int status;        /* failure to report (failed list only) */
    int64_t deadline_ms;
    kn_peer_cb cb;
    void *arg;
} pend_t;

typedef struct pconn_s {
    uv_tcp_t tcp;
    uv_connect_t creq;
    kn_peer_t *peer; /* NULL once detached from its peer */
    uint8_t *rbuf;
    size_t rlen, rcap;
    bool connected;
} pconn_t;

typedef struct wreq_s {
    uv_write_t req;
    kn_wbuf_t w;
} wreq_t;

struct kn_peer_s {
    uv_loop_t *loop;
    char *host;
    int port;
    int32_t max_frame;
    char ctx[64];
    pconn_t *conn;
    pend_t *head, *tail;
    size_t n;
    uv_timer_t timer;
    uv_idle_t idle;    /* deferred failure callbacks */
    pend_t *failed;    /* failed requests awaiting their callback */
    bool closing;
};

static void conn_drop(kn_peer_t *p, int status, const char *why);

static void conn_closed_cb(uv_handle_t *h) {
    pconn_t *c = h->data;
    kn_free(c->rbuf);
    kn_free(c);
}

static void fail_all(kn_peer_t *p, int status) {
    pend_t *q = p->head;
    p->head = p->tail = NULL;
    p->n = 0;
    while (q) {
        pend_t *n = q->next;
        kn_wbuf_free(&q->w);
        q->status = status;
        q->next = p->failed;
        p->failed = q;
        q = n;
    }
}

static void idle_cb(uv_idle_t *h) {
    kn_peer_t *p = h->data;
    uv_idle_stop(h);
    pend_t *q = p->failed;
    p->failed = NULL;
    /* Oldest first: the list was built reversed. */
    pend_t *rev = NULL;
    while (q) {
        pend_t *n = q->next;
        q->next = rev;
        rev = q;
        q = n;
    }
    while (rev) {
        pend_t *n = rev->next;
        rev->cb(rev->arg, rev->status, NULL, 0);
        kn_free(rev);
        rev = n;
    }
}

static void schedule_failures(kn_peer_t *p) {
    if (p->failed) uv_idle_start(&p->idle, idle_cb);
}

static void peer_timer_cb(uv_timer_t *t);

static void rearm(kn_peer_t *p) {
    if (p->closing) return;
    if (!p->head) {
        uv_timer_stop(&p->timer);
        return;
    }
    int64_t min = INT64_MAX;
    for (pend_t *q = p->head; q; q = q->next)
        if (q->deadline_ms < min) min = q->deadline_ms;
    int64_t now = kn_mono_ms();
    uv_timer_start(&p->timer, peer_timer_cb, (uint64_t)(min > now ? min - now : 0), 0);
}

static void peer_timer_cb(uv_timer_t *t) {
    kn_peer_t *p = t->data;
    int64_t now = kn_mono_ms();
    for (pend_t *q = p->head; q; q = q->next) {
        if (q->deadline_ms <= now) {
            kn_log(KN_LOG_WARN, p->ctx, "request timed out; resetting connection to %s:%d", p->host, p->port);
            conn_drop(p, KN_ETIMEOUT, NULL);
            return;
        }
    }
    rearm(p);
}

static void write_cb(uv_write_t *req, int status) {
    wreq_t *wr = (wreq_t *)req;
    pconn_t *c = req->data;
    kn_wbuf_free(&wr->w);
    kn_free(wr);
    if (status < 0 && c->peer && c->peer->conn == c) conn_drop(c->peer, KN_EIO, uv_strerror(status));
}

static void flush_unwritten(kn_peer_t *p) {
    pconn_t *c = p->conn;
    if (!c || !c->connected) return;
    for (pend_t *q = p->head; q; q = q->next) {
        if (q->written) continue;
        wreq_t *wr = kn_calloc(1, sizeof(*wr));
        wr->w = q->w;
        kn_wbuf_init(&q->w);
        q->written = true;
        uv_buf_t b = uv_buf_init((char *)wr->w.mem, (unsigned)wr->w.mem_len);
        wr->req.data = c;
        int rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
        if (rc < 0) {
            kn_wbuf_free(&wr->w);
            kn_free(wr);
            conn_drop(p, KN_EIO, uv_strerror(rc));
            return;
        }
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    pconn_t *c = h->data;
    (void)suggested;
    if (c->rcap - c->rlen < 65536) {
        c->rcap = c->rcap ? c->rcap * 2 : 131072;
        while (c->rcap - c->rlen < 65536) c->rcap *= 2;
        c->rbuf = kn_realloc(c->rbuf, c->rcap);
    }
    *buf = uv_buf_init((char *)c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    pconn_t *c = s->data;
    (void)buf;
    kn_peer_t *p = c->peer;
    if (!p || p->conn != c) return;
    if (nread < 0) {
        conn_drop(p, KN_EIO, nread == UV_EOF ? "peer closed the connection" : uv_strerror((int)nread));
        return;
    }
    c->rlen += (size_t)nread;
    size_t off = 0;
    while (c->rlen - off >= 4) {
        int32_t size = (int32_t)kn_be32(c->rbuf + off);
        if (size < 0 || size > p->max_frame) {
            conn_drop(p, KN_ECORRUPT, "reply frame size out of range");
            return;
        }
        if (c->rlen - off - 4 < (size_t)size) break;
        pend_t *q = p->head;
        if (!q || !q->written) {
            conn_drop(p, KN_ECORRUPT, "reply without a request");
            return;
        }
        p->head = q->next;
        if (!p->head) p->tail = NULL;
        p->n--;
        q->cb(q->arg, 0, c->rbuf + off + 4, (size_t)size);
        kn_free(q);
        off += 4 + (size_t)size;
        /* The callback may have reset or closed the peer. */
        if (p->conn != c || p->closing) return;
    }
    if (off > 0) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
    rearm(p);
}

static void connect_cb(uv_connect_t *req, int status) {
    pconn_t *c = req->data;
    kn_peer_t *p = c->peer;
    if (!p || p->conn != c) return;
    if (status < 0) {
        conn_drop(p, KN_EIO, uv_strerror(status));
        return;
    }
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    kn_dbg(KN_DBG_NET, p->ctx, "connected to %s:%d", p->host, p->port);
    flush_unwritten(p);
}

static void conn_open(kn_peer_t *p) {
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    if (uv_ip4_addr(!strcmp(p->host, "localhost") ? "127.0.0.1" : p->host, p->port, &sin) != 0) {
        kn_log(KN_LOG_ERROR, p->ctx, "cannot resolve %s (IPv4 literal expected)", p->host);
        fail_all(p, KN_EIO);
        schedule_failures(p);
        return;
    }
    pconn_t *c = kn_calloc(1, sizeof(*c));
    c->peer = p;
    uv_tcp_init(p->loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    p->conn = c;
    int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&sin, connect_cb);
    if (rc < 0) conn_drop(p, KN_EIO, uv_strerror(rc));
}

static void conn_drop(kn_peer_t *p, int status, const char *why) {
    pconn_t *c = p->conn;
    if (c) {
        if (why) kn_log(KN_LOG_WARN, p->ctx, "connection to %s:%d lost: %s", p->host, p->port, why);
        c->peer = NULL;
        p->conn = NULL;
        uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
    }
    fail_all(p, status);
    schedule_failures(p);
    uv_timer_stop(&p->timer);
}

kn_peer_t *kn_peer_new(uv_loop_t *loop, const char *host, int port, int32_t max_frame_bytes, const char *ctx) {
    kn_peer_t *p = kn_calloc(1, sizeof(*p));
    p->loop = loop;
    p->host = kn_strdup(host);
    p->port = port;
    p->max_frame = max_frame_bytes;
    snprintf(p->ctx, sizeof(p->ctx), "%s", ctx ? ctx : "peer");
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    uv_idle_init(loop, &p->idle);
    p->idle.data = p;
    return p;
}

void kn_peer_set_addr(kn_peer_t *p, const char *host, int port) {
    if (!strcmp(p->host, host) && p->port == port) return;
    kn_free(p->host);
    p->host = kn_strdup(host);
    p->port = port;
    if (p->conn) conn_drop(p, KN_EIO, "peer address changed");
}

void kn_peer_send(kn_peer_t *p, kn_wbuf_t *w, int64_t timeout_ms, kn_peer_cb cb, void *arg) {
    pend_t *q = kn_calloc(1, sizeof(*q));
    q->w = *w;
    kn_wbuf_init(w);
    kn_wbuf_patch_i32(&q->w, 0, (int32_t)(q->w.total - 4));
    q->cb = cb;
    q->arg = arg;
    q->deadline_ms = kn_mono_ms() + timeout_ms;
    if (p->closing) {
        kn_wbuf_free(&q->w);
        q->status = KN_ECLOSED;
        q->next = p->failed;
        p->failed = q;
        schedule_failures(p);
        return;
    }
    if (p->tail)
        p->tail->next = q;
    else
        p->head = q;
    p->tail = q;
    p->n++;
    if (!p->conn)
        conn_open(p);
    else
        flush_unwritten(p);
    rearm(p);
}

static void peer_idle_closed(uv_handle_t *h) {
    kn_peer_t *p = h->data;
    kn_free(p->host);
    kn_free(p);
}

static void peer_timer_closed(uv_handle_t *h) {
    kn_peer_t *p = h->data;
    /* Deliver the last failures, then free. */
    idle_cb(&p->idle);
    uv_close((uv_handle_t *)&p->idle, peer_idle_closed);
}

void kn_peer_close(kn_peer_t *p) {
    if (p->closing) return;
    p->closing = true;
    if (p->conn) {
        pconn_t *c = p->conn;
        c->peer = NULL;
        p->conn = NULL;
        uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
    }
    fail_all(p, KN_ECLOSED);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, peer_timer_closed);
}

void kn_peer_reset(kn_peer_t *p) {
    if (p->conn) conn_drop(p, KN_EIO, NULL);
}

size_t kn_peer_inflight(const kn_peer_t *p) { return p->n; }
bool kn_peer_connected(const kn_peer_t *p) { return p->conn && p->conn->connected; }
