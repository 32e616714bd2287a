/* TCP transport for length-prefixed frames (Kafka's 4-byte size prefix, and
 * nothing else of Kafka). Loop thread only.
 *
 * Sockets are driven with uv_poll_t rather than uv_tcp_t so that replies can
 * mix memory with segment-file ranges: memory goes out with writev(), file
 * ranges with sendfile(), without copying record data through user space. */
#ifndef KANAL_NET_NET_H
#define KANAL_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "kanal/util/buf.h"

typedef struct kn_server_s kn_server_t;
typedef struct kn_conn_s kn_conn_t;

typedef enum {
    KN_CLOSE_PEER = 0,      /* peer closed or reset */
    KN_CLOSE_FRAME_SIZE,    /* size prefix out of range */
    KN_CLOSE_LOCAL,         /* kn_conn_close() */
    KN_CLOSE_IO,            /* socket error */
    KN_CLOSE_NOMEM,         /* could not allocate a frame */
    KN_CLOSE_IDLE,          /* idle timeout */
} kn_close_reason_t;

typedef struct kn_server_callbacks_s {
    void *ud;
    /* A new connection; the callee may kn_conn_set_ud(). */
    void (*on_accept)(void *ud, kn_conn_t *c);
    /* One whole frame (without its size prefix). Ownership of `frame`
     * (allocated with kn_trymalloc) passes to the callee, which kn_free()s it. */
    void (*on_frame)(void *ud, kn_conn_t *c, uint8_t *frame, size_t len);
    /* The connection is closing; it is freed after this returns. Pending
     * send completions have already been called with ok=false. */
    void (*on_close)(void *ud, kn_conn_t *c, kn_close_reason_t why);
} kn_server_callbacks_t;

typedef struct kn_server_opts_s {
    const char *host; /* "" or NULL = all interfaces */
    int port;         /* 0 = pick a free port */
    int32_t max_frame_bytes;
    int64_t idle_timeout_ms; /* <= 0 = none */
} kn_server_opts_t;

int kn_server_listen(uv_loop_t *loop, const kn_server_opts_t *o, const kn_server_callbacks_t *cb,
                     kn_server_t **out);
int kn_server_port(const kn_server_t *s);
/* Stop accepting new connections (existing ones stay). */
void kn_server_stop_accepting(kn_server_t *s);
/* Close everything; frees the server once every handle has closed. */
void kn_server_close(kn_server_t *s);
size_t kn_server_nconns(const kn_server_t *s);

/* Send a reply. Takes the contents of *w (w is reset to empty). done(arg, ok)
 * runs once the bytes are written or the connection failed; it is where
 * borrowed file ranges may be released. */
typedef void (*kn_send_done_cb)(void *arg, bool ok);
void kn_conn_send(kn_conn_t *c, kn_wbuf_t *w, kn_send_done_cb done, void *arg);
void kn_conn_pause_reading(kn_conn_t *c);
void kn_conn_resume_reading(kn_conn_t *c);
/* Close after pending writes are flushed (graceful) or at once. */
void kn_conn_close(kn_conn_t *c, bool flush_first);
void kn_conn_set_ud(kn_conn_t *c, void *ud);
void *kn_conn_ud(const kn_conn_t *c);
/* "127.0.0.1:51234" */
const char *kn_conn_peer(const kn_conn_t *c);
uint64_t kn_conn_id(const kn_conn_t *c);
size_t kn_conn_pending_bytes(const kn_conn_t *c);

#endif
