/* Frame transport over non-blocking sockets polled with uv_poll_t.
 *
 * Reading: bytes land in a per-connection staging buffer; the 4-byte size
 * prefix is checked against max_frame_bytes before the body is allocated
 * (kn_trymalloc: the size is client-chosen), and each whole frame is handed
 * to on_frame. Writing: a queue of replies, each a kn_wbuf_t whose pieces are
 * memory (writev) or file ranges (sendfile). */
#include "kanal/net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"
#include "kanal/util/time.h"

#define KN_NET_STAGE_BYTES (64 * 1024)
#define KN_NET_MAX_IOV 64

typedef struct kn_out_s {
    struct kn_out_s *next;
    kn_wbuf_t w;
    size_t piece;      /* current piece */
    uint64_t piece_done; /* bytes of the current piece already sent */
    kn_send_done_cb done;
    void *arg;
} kn_out_t;

struct kn_conn_s {
    kn_server_t *srv;
    struct kn_conn_s *prev, *next;
    uv_poll_t poll;
    int fd;
    uint64_t id;
    void *ud;
    char peer[64];
    int events;
    bool paused, closing, close_after_flush, in_read;
    int64_t last_active_ms;
    /* read side */
    uint8_t *stage;
    size_t stage_len, stage_off;
    uint8_t *frame;
    size_t frame_len, frame_got;
    /* write side */
    kn_out_t *out_head, *out_tail;
    size_t out_bytes;
};

struct kn_server_s {
    uv_loop_t *loop;
    uv_poll_t poll;
    uv_timer_t idle_timer;
    int fd;
    int port;
    kn_server_opts_t opts;
    kn_server_callbacks_t cb;
    kn_conn_t *conns;
    size_t nconns;
    uint64_t next_id;
    bool accepting, closing;
    int open_handles;
};

static void conn_update_poll(kn_conn_t *c);
static void conn_close_now(kn_conn_t *c, kn_close_reason_t why);
static void conn_try_flush(kn_conn_t *c);

static void server_maybe_free(kn_server_t *s) {
    if (s->closing && s->open_handles == 0 && s->conns == NULL) kn_free(s);
}

static void conn_poll_closed(uv_handle_t *h) {
    kn_conn_t *c = h->data;
    kn_server_t *s = c->srv;
    close(c->fd);
    kn_free(c->stage);
    kn_free(c->frame);
    kn_free(c);
    s->open_handles--;
    server_maybe_free(s);
}

static void conn_close_now(kn_conn_t *c, kn_close_reason_t why) {
    if (c->closing) return;
    c->closing = true;
    kn_server_t *s = c->srv;
    /* Fail pending replies first so owners release what they borrowed. */
    kn_out_t *o = c->out_head;
    c->out_head = c->out_tail = NULL;
    while (o) {
        kn_out_t *n = o->next;
        if (o->done) o->done(o->arg, false);
        kn_wbuf_free(&o->w);
        kn_free(o);
        o = n;
    }
    c->out_bytes = 0;
    if (s->cb.on_close) s->cb.on_close(s->cb.ud, c, why);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->nconns--;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, conn_poll_closed);
}

/* Parse frames out of the staging buffer; stops when paused or closing. */
static void conn_parse(kn_conn_t *c) {
    kn_server_t *s = c->srv;
    while (!c->closing && !c->paused) {
        size_t avail = c->stage_len - c->stage_off;
        if (!c->frame) {
            if (avail < 4) break;
            int32_t size = (int32_t)kn_be32(c->stage + c->stage_off);
            if (size < 0 || size > s->opts.max_frame_bytes || size == 0) {
                kn_log(KN_LOG_ERROR, c->peer,
                       "frame size %d outside 1..%d (socket.request.max.bytes); closing connection",
                       size, s->opts.max_frame_bytes);
                conn_close_now(c, KN_CLOSE_FRAME_SIZE);
                return;
            }
            c->frame = kn_trymalloc((size_t)size);
            if (!c->frame) {
                kn_log(KN_LOG_ERROR, c->peer, "cannot allocate %d-byte frame; closing connection", size);
                conn_close_now(c, KN_CLOSE_NOMEM);
                return;
            }
            c->frame_len = (size_t)size;
            c->frame_got = 0;
            c->stage_off += 4;
            avail -= 4;
        }
        size_t take = c->frame_len - c->frame_got;
        if (take > avail) take = avail;
        memcpy(c->frame + c->frame_got, c->stage + c->stage_off, take);
        c->frame_got += take;
        c->stage_off += take;
        if (c->frame_got < c->frame_len) break;
        uint8_t *f = c->frame;
        size_t flen = c->frame_len;
        c->frame = NULL;
        c->frame_len = c->frame_got = 0;
        s->cb.on_frame(s->cb.ud, c, f, flen);
    }
    if (c->stage_off == c->stage_len) c->stage_off = c->stage_len = 0;
}

static void conn_read(kn_conn_t *c) {
    c->in_read = true;
    for (int rounds = 0; rounds < 16 && !c->closing && !c->paused; rounds++) {
        if (c->stage_off > 0 && c->stage_off == c->stage_len) c->stage_off = c->stage_len = 0;
        if (c->stage_len == KN_NET_STAGE_BYTES) {
            if (c->stage_off == 0) break; /* cannot happen: parse always consumes */
            memmove(c->stage, c->stage + c->stage_off, c->stage_len - c->stage_off);
            c->stage_len -= c->stage_off;
            c->stage_off = 0;
        }
        /* Large frame bodies are read straight into the frame. */
        if (c->frame && c->stage_off == c->stage_len && c->frame_len - c->frame_got >= 4096) {
            ssize_t n = read(c->fd, c->frame + c->frame_got, c->frame_len - c->frame_got);
            if (n > 0) {
                c->frame_got += (size_t)n;
                c->last_active_ms = kn_mono_ms();
                if (c->frame_got == c->frame_len) {
                    uint8_t *f = c->frame;
                    size_t flen = c->frame_len;
                    c->frame = NULL;
                    c->frame_len = c->frame_got = 0;
                    c->srv->cb.on_frame(c->srv->cb.ud, c, f, flen);
                }
                continue;
            }
            if (n == 0) {
                conn_close_now(c, KN_CLOSE_PEER);
                break;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            conn_close_now(c, KN_CLOSE_IO);
            break;
        }
        ssize_t n = read(c->fd, c->stage + c->stage_len, KN_NET_STAGE_BYTES - c->stage_len);
        if (n > 0) {
            c->stage_len += (size_t)n;
            c->last_active_ms = kn_mono_ms();
            conn_parse(c);
            continue;
        }
        if (n == 0) {
            conn_close_now(c, KN_CLOSE_PEER);
            break;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        conn_close_now(c, KN_CLOSE_IO);
        break;
    }
    c->in_read = false;
}

/* Write as much of the queue as the socket takes. Returns when the queue is
 * empty, the socket would block, or the connection closed. */
static void conn_try_flush(kn_conn_t *c) {
    while (c->out_head && !c->closing) {
        kn_out_t *o = c->out_head;
        if (o->piece >= o->w.npieces) {
            c->out_head = o->next;
            if (!c->out_head) c->out_tail = NULL;
            if (o->done) o->done(o->arg, true);
            kn_wbuf_free(&o->w);
            kn_free(o);
            continue;
        }
        kn_wpiece_t *p = &o->w.pieces[o->piece];
        ssize_t n;
        if (p->kind == KN_WPIECE_MEM) {
            struct iovec iov[KN_NET_MAX_IOV];
            int niov = 0;
            for (size_t i = o->piece; i < o->w.npieces && niov < KN_NET_MAX_IOV; i++) {
                kn_wpiece_t *q = &o->w.pieces[i];
                if (q->kind != KN_WPIECE_MEM) break;
                uint64_t skip = (i == o->piece) ? o->piece_done : 0;
                iov[niov].iov_base = o->w.mem + q->off + skip;
                iov[niov].iov_len = (size_t)(q->len - skip);
                niov++;
            }
            n = writev(c->fd, iov, niov);
        } else {
            off_t off = (off_t)(p->off + o->piece_done);
            size_t len = (size_t)(p->len - o->piece_done);
            n = sendfile(c->fd, p->fd, &off, len);
            if (n == 0) {
                /* The file is shorter than promised (truncated underneath):
                 * the reply can't be completed, so the stream is broken. */
                kn_log(KN_LOG_ERROR, c->peer, "sendfile hit end of file; closing connection");
                conn_close_now(c, KN_CLOSE_IO);
                return;
            }
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            conn_close_now(c, errno == EPIPE || errno == ECONNRESET ? KN_CLOSE_PEER : KN_CLOSE_IO);
            return;
        }
        c->out_bytes -= (size_t)n;
        c->last_active_ms = kn_mono_ms();
        /* Advance through pieces by n bytes. */
        uint64_t left = (uint64_t)n;
        while (left > 0 && o->piece < o->w.npieces) {
            kn_wpiece_t *q = &o->w.pieces[o->piece];
            uint64_t rem = q->len - o->piece_done;
            if (left >= rem) {
                left -= rem;
                o->piece++;
                o->piece_done = 0;
            } else {
                o->piece_done += left;
                left = 0;
            }
        }
    }
    if (!c->closing && !c->out_head && c->close_after_flush) {
        conn_close_now(c, KN_CLOSE_LOCAL);
        return;
    }
    if (!c->closing) conn_update_poll(c);
}

static void conn_poll_cb(uv_poll_t *h, int status, int events) {
    kn_conn_t *c = h->data;
    if (c->closing) return;
    if (status < 0) {
        conn_close_now(c, KN_CLOSE_IO);
        return;
    }
    if (events & UV_WRITABLE) conn_try_flush(c);
    if (!c->closing && (events & UV_READABLE) && !c->paused) conn_read(c);
    if (!c->closing) conn_update_poll(c);
}

static void conn_update_poll(kn_conn_t *c) {
    if (c->closing) return;
    int ev = 0;
    if (!c->paused && !c->close_after_flush) ev |= UV_READABLE;
    if (c->out_head) ev |= UV_WRITABLE;
    if (ev == c->events) return;
    c->events = ev;
    if (ev)
        uv_poll_start(&c->poll, ev, conn_poll_cb);
    else
        uv_poll_stop(&c->poll);
}

static void server_accept_cb(uv_poll_t *h, int status, int events) {
    kn_server_t *s = h->data;
    (void)events;
    if (status < 0 || !s->accepting) return;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(s->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                kn_log(KN_LOG_WARN, NULL, "accept failed: %s", strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        kn_conn_t *c = kn_calloc(1, sizeof(*c));
        c->srv = s;
        c->fd = fd;
        c->id = ++s->next_id;
        c->stage = kn_malloc(KN_NET_STAGE_BYTES);
        c->last_active_ms = kn_mono_ms();
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
            port = ntohs(sin->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
            port = ntohs(sin6->sin6_port);
        }
        snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
        if (uv_poll_init(s->loop, &c->poll, fd) != 0) {
            close(fd);
            kn_free(c->stage);
            kn_free(c);
            continue;
        }
        c->poll.data = c;
        s->open_handles++;
        c->next = s->conns;
        if (s->conns) s->conns->prev = c;
        s->conns = c;
        s->nconns++;
        kn_dbg(KN_DBG_NET, c->peer, "accepted connection %llu", (unsigned long long)c->id);
        if (s->cb.on_accept) s->cb.on_accept(s->cb.ud, c);
        conn_update_poll(c);
    }
}

static void server_idle_cb(uv_timer_t *t) {
    kn_server_t *s = t->data;
    int64_t now = kn_mono_ms();
    kn_conn_t *c = s->conns;
    while (c) {
        kn_conn_t *n = c->next;
        if (!c->out_head && now - c->last_active_ms > s->opts.idle_timeout_ms) {
            kn_log(KN_LOG_INFO, c->peer, "closing connection idle for %lld ms (connections.max.idle.ms)",
                   (long long)(now - c->last_active_ms));
            conn_close_now(c, KN_CLOSE_IDLE);
        }
        c = n;
    }
}

int kn_server_listen(uv_loop_t *loop, const kn_server_opts_t *o, const kn_server_callbacks_t *cb,
                     kn_server_t **out) {
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)o->port);
    const char *host = (o->host && *o->host) ? o->host : "0.0.0.0";
    if (!strcmp(host, "localhost")) host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        kn_log(KN_LOG_ERROR, NULL, "listener host '%s' is not an IPv4 address", host);
        return KN_EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return kn_err_from_errno(errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        kn_log(KN_LOG_ERROR, NULL, "cannot listen on %s:%d: %s", host, o->port, strerror(e));
        close(fd);
        return kn_err_from_errno(e);
    }
    socklen_t sl = sizeof(sin);
    getsockname(fd, (struct sockaddr *)&sin, &sl);
    kn_server_t *s = kn_calloc(1, sizeof(*s));
    s->loop = loop;
    s->fd = fd;
    s->port = ntohs(sin.sin_port);
    s->opts = *o;
    s->cb = *cb;
    s->accepting = true;
    uv_poll_init(loop, &s->poll, fd);
    s->poll.data = s;
    s->open_handles++;
    uv_poll_start(&s->poll, UV_READABLE, server_accept_cb);
    uv_timer_init(loop, &s->idle_timer);
    s->idle_timer.data = s;
    s->open_handles++;
    if (o->idle_timeout_ms > 0) {
        uint64_t every = (uint64_t)(o->idle_timeout_ms < 10000 ? o->idle_timeout_ms / 2 + 1 : 5000);
        uv_timer_start(&s->idle_timer, server_idle_cb, every, every);
    }
    *out = s;
    return 0;
}

int kn_server_port(const kn_server_t *s) { return s->port; }
size_t kn_server_nconns(const kn_server_t *s) { return s->nconns; }

static void server_handle_closed(uv_handle_t *h) {
    kn_server_t *s = h->data;
    s->open_handles--;
    server_maybe_free(s);
}

void kn_server_stop_accepting(kn_server_t *s) {
    if (!s->accepting) return;
    s->accepting = false;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, server_handle_closed);
    close(s->fd);
}

void kn_server_close(kn_server_t *s) {
    kn_server_stop_accepting(s);
    s->closing = true;
    uv_timer_stop(&s->idle_timer);
    uv_close((uv_handle_t *)&s->idle_timer, server_handle_closed);
    while (s->conns) conn_close_now(s->conns, KN_CLOSE_LOCAL);
}

void kn_conn_send(kn_conn_t *c, kn_wbuf_t *w, kn_send_done_cb done, void *arg) {
    if (c->closing) {
        if (done) done(arg, false);
        kn_wbuf_reset(w);
        return;
    }
    kn_out_t *o = kn_calloc(1, sizeof(*o));
    o->w = *w;
    kn_wbuf_init(w);
    o->done = done;
    o->arg = arg;
    c->out_bytes += (size_t)o->w.total;
    if (c->out_tail)
        c->out_tail->next = o;
    else
        c->out_head = o;
    c->out_tail = o;
    conn_try_flush(c);
}

void kn_conn_pause_reading(kn_conn_t *c) {
    if (c->paused) return;
    c->paused = true;
    conn_update_poll(c);
}

void kn_conn_resume_reading(kn_conn_t *c) {
    if (!c->paused || c->closing) return;
    c->paused = false;
    /* Frames already staged are delivered now; guard against re-entry from
     * an on_frame that resumes while we are still parsing. */
    if (!c->in_read) {
        c->in_read = true;
        conn_parse(c);
        c->in_read = false;
    }
    conn_update_poll(c);
}

void kn_conn_close(kn_conn_t *c, bool flush_first) {
    if (c->closing) return;
    if (flush_first && c->out_head) {
        c->close_after_flush = true;
        conn_update_poll(c);
        return;
    }
    conn_close_now(c, KN_CLOSE_LOCAL);
}

void kn_conn_set_ud(kn_conn_t *c, void *ud) { c->ud = ud; }
void *kn_conn_ud(const kn_conn_t *c) { return c->ud; }
const char *kn_conn_peer(const kn_conn_t *c) { return c->peer; }
uint64_t kn_conn_id(const kn_conn_t *c) { return c->id; }
size_t kn_conn_pending_bytes(const kn_conn_t *c) { return c->out_bytes; }
