/* The thread handoff between libzookeeper_mt and the loop.
 *
 * Completions and watchers run on ZooKeeper's completion thread. They copy
 * what ZooKeeper lent them (data, stat, child names, event path) into a
 * kn_zmsg_t, append it to a mutex-protected FIFO and uv_async_send. The loop
 * drains the FIFO in order, so results arrive in the order ZooKeeper
 * delivered them (ZooKeeper answers one session's requests in order). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"

char *kn_cluster__abs(const kn_cluster_t *c, const char *rel) {
    size_t a = strlen(c->root), b = strlen(rel);
    char *p = kn_malloc(a + b + 2);
    memcpy(p, c->root, a);
    memcpy(p + a, rel, b + 1);
    if (a + b == 0) strcpy(p, "/");
    return p;
}

const char *kn_cluster__zstate(int state) {
    if (state == ZOO_CONNECTED_STATE) return "CONNECTED";
    if (state == ZOO_CONNECTING_STATE) return "CONNECTING";
    if (state == ZOO_ASSOCIATING_STATE) return "ASSOCIATING";
    if (state == ZOO_EXPIRED_SESSION_STATE) return "EXPIRED";
    if (state == ZOO_AUTH_FAILED_STATE) return "AUTH_FAILED";
    if (state == ZOO_READONLY_STATE) return "READONLY";
    if (state == ZOO_NOTCONNECTED_STATE) return "NOTCONNECTED";
    if (state == 0) return "CLOSED";
    return "UNKNOWN";
}

kn_zop_t *kn_cluster__op(kn_cluster_t *c, kn_zop_fn fn, const char *path) {
    kn_zop_t *op = kn_calloc(1, sizeof(*op));
    op->c = c;
    op->gen = c->gen;
    op->fn = fn;
    op->path = kn_strdup(path ? path : "");
    op->abs = kn_cluster__abs(c, op->path);
    op->live_next = c->live_ops;
    if (c->live_ops) c->live_ops->live_prev = op;
    c->live_ops = op;
    return op;
}

void kn_cluster__op_free(kn_zop_t *op) {
    if (!op) return;
    if (op->live_prev)
        op->live_prev->live_next = op->live_next;
    else if (op->c->live_ops == op)
        op->c->live_ops = op->live_next;
    if (op->live_next) op->live_next->live_prev = op->live_prev;
    kn_free(op->path);
    kn_free(op->abs);
    kn_free(op->arg);
    kn_free(op->arg2);
    for (int i = 0; i < op->nowned; i++) kn_free(op->owned[i]);
    kn_free(op->owned);
    kn_free(op->mops);
    kn_free(op->mres);
    kn_free(op->mstats);
    kn_free(op);
}

/* ---- ZooKeeper thread side ---- */

static void push(kn_cluster_t *c, kn_zmsg_t *m) {
    pthread_mutex_lock(&c->mu);
    if (c->qtail)
        c->qtail->next = m;
    else
        c->qhead = m;
    c->qtail = m;
    pthread_mutex_unlock(&c->mu);
    uv_async_send(&c->async);
}

static kn_zmsg_t *msg_for(const void *data, int rc) {
    kn_zmsg_t *m = kn_calloc(1, sizeof(*m));
    m->op = (kn_zop_t *)data;
    m->res.rc = rc;
    m->res.datalen = -1;
    return m;
}

static void cb_data(int rc, const char *value, int value_len, const struct Stat *stat, const void *data) {
    kn_zmsg_t *m = msg_for(data, rc);
    if (rc == ZOK) {
        if (value && value_len >= 0) {
            m->res.data = kn_malloc((size_t)value_len + 1);
            memcpy(m->res.data, value, (size_t)value_len);
            m->res.data[value_len] = '\0';
            m->res.datalen = value_len;
        }
        if (stat) {
            m->res.stat = *stat;
            m->res.has_stat = true;
        }
    }
    push(m->op->c, m);
}

static void cb_stat(int rc, const struct Stat *stat, const void *data) {
    kn_zmsg_t *m = msg_for(data, rc);
    if (rc == ZOK && stat) {
        m->res.stat = *stat;
        m->res.has_stat = true;
    }
    push(m->op->c, m);
}

static void cb_string_stat(int rc, const char *value, const struct Stat *stat, const void *data) {
    (void)value;
    cb_stat(rc, stat, data);
}

static void cb_strings(int rc, const struct String_vector *sv, const void *data) {
    kn_zmsg_t *m = msg_for(data, rc);
    if (rc == ZOK && sv && sv->count > 0) {
        m->res.kids = kn_calloc((size_t)sv->count, sizeof(char *));
        for (int i = 0; i < sv->count; i++) m->res.kids[i] = kn_strdup(sv->data[i]);
        m->res.nkids = sv->count;
    }
    push(m->op->c, m);
}

/* multi: the per-op results live in op->mres (ours); only rc is passed. */
static void cb_void(int rc, const void *data) { push(((const kn_zop_t *)data)->c, msg_for(data, rc)); }

void kn_cluster__watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    (void)zh;
    kn_zsess_t *s = ctx;
    if (!s) return;
    kn_zmsg_t *m = kn_calloc(1, sizeof(*m));
    m->gen = s->gen;
    m->wtype = type;
    m->wstate = state;
    m->wpath = kn_strdup(path ? path : "");
    push(s->c, m);
}

/* ---- loop side ---- */

void kn_cluster__post(kn_cluster_t *c, kn_zop_t *op, int rc) { push(c, msg_for(op, rc)); }

static void res_clear(kn_zres_t *r) {
    kn_free(r->data);
    for (int i = 0; i < r->nkids; i++) kn_free(r->kids[i]);
    kn_free(r->kids);
}

/* The handle, if it can still take requests. After session expiry the C
 * client refuses them, but its multi path has been seen to double-free on
 * that refusal (chaos test, seed 87183041): never hand an expired handle a
 * request; the op completes with ZINVALIDSTATE and the new session redoes
 * the work. */
static zhandle_t *usable(kn_cluster_t *c) {
    if (!c->zh) return NULL;
    int st = zoo_state(c->zh);
    if (st == ZOO_EXPIRED_SESSION_STATE || st == ZOO_AUTH_FAILED_STATE) return NULL;
    return c->zh;
}

static void issued(kn_cluster_t *c, kn_zop_t *op, int rc) {
    /* Not issued (no handle, closing, bad state): complete through the queue
     * so every op comes back exactly once and never inside the caller. */
    if (rc != ZOK) kn_cluster__post(c, op, rc);
}

void kn_cluster__zget(kn_cluster_t *c, kn_zop_t *op, bool watch) {
    issued(c, op, usable(c) ? zoo_aget(c->zh, op->abs, watch, cb_data, op) : ZINVALIDSTATE);
}

void kn_cluster__zexists(kn_cluster_t *c, kn_zop_t *op, bool watch) {
    issued(c, op, usable(c) ? zoo_aexists(c->zh, op->abs, watch, cb_stat, op) : ZINVALIDSTATE);
}

void kn_cluster__zchildren(kn_cluster_t *c, kn_zop_t *op, bool watch) {
    issued(c, op, usable(c) ? zoo_aget_children(c->zh, op->abs, watch, cb_strings, op) : ZINVALIDSTATE);
}

void kn_cluster__zcreate(kn_cluster_t *c, kn_zop_t *op, const char *data, int flags) {
    issued(c, op,
           usable(c) ? zoo_acreate2(c->zh, op->abs, data, data ? (int)strlen(data) : -1, &ZOO_OPEN_ACL_UNSAFE, flags,
                                cb_string_stat, op)
                 : ZINVALIDSTATE);
}

void kn_cluster__zset(kn_cluster_t *c, kn_zop_t *op, const char *data, int version) {
    issued(c, op, usable(c) ? zoo_aset(c->zh, op->abs, data, (int)strlen(data), version, cb_stat, op) : ZINVALIDSTATE);
}

void kn_cluster__zdelete(kn_cluster_t *c, kn_zop_t *op, int version) {
    issued(c, op, usable(c) ? zoo_adelete(c->zh, op->abs, version, cb_void, op) : ZINVALIDSTATE);
}

void kn_cluster__mop_init(kn_zop_t *op, int cap) {
    op->capops = cap;
    op->nops = 0;
    op->mops = kn_calloc((size_t)cap, sizeof(zoo_op_t));
    op->mres = kn_calloc((size_t)cap, sizeof(zoo_op_result_t));
    op->mstats = kn_calloc((size_t)cap, sizeof(struct Stat));
    op->owned = kn_calloc((size_t)cap * 2, sizeof(char *));
}

static char *own(kn_zop_t *op, char *s) {
    op->owned[op->nowned++] = s;
    return s;
}

static zoo_op_t *next_op(kn_zop_t *op) {
    if (op->nops >= op->capops) abort(); /* programming error: cap too small */
    return &op->mops[op->nops++];
}

void kn_cluster__mop_check(kn_cluster_t *c, kn_zop_t *op, const char *path, int version) {
    zoo_check_op_init(next_op(op), own(op, kn_cluster__abs(c, path)), version);
}

void kn_cluster__mop_create(kn_cluster_t *c, kn_zop_t *op, const char *path, const char *data, int flags) {
    const char *d = data ? own(op, kn_strdup(data)) : NULL;
    zoo_create_op_init(next_op(op), own(op, kn_cluster__abs(c, path)), d, d ? (int)strlen(d) : -1,
                       &ZOO_OPEN_ACL_UNSAFE, flags, NULL, 0);
}

void kn_cluster__mop_set(kn_cluster_t *c, kn_zop_t *op, const char *path, const char *data, int version) {
    const char *d = own(op, kn_strdup(data));
    int i = op->nops;
    zoo_set_op_init(next_op(op), own(op, kn_cluster__abs(c, path)), d, (int)strlen(d), version, &op->mstats[i]);
}

void kn_cluster__mop_delete(kn_cluster_t *c, kn_zop_t *op, const char *path, int version) {
    zoo_delete_op_init(next_op(op), own(op, kn_cluster__abs(c, path)), version);
}

void kn_cluster__zmulti(kn_cluster_t *c, kn_zop_t *op) {
    issued(c, op, usable(c) ? zoo_amulti(c->zh, op->nops, op->mops, op->mres, cb_void, op) : ZINVALIDSTATE);
}

void kn_cluster__drain(uv_async_t *a) {
    kn_cluster_t *c = a->data;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        kn_zmsg_t *m = c->qhead;
        c->qhead = c->qtail = NULL;
        pthread_mutex_unlock(&c->mu);
        if (!m) break;
        while (m) {
            kn_zmsg_t *next = m->next;
            if (m->op) {
                kn_zop_t *op = m->op;
                bool current = op->gen == c->gen && !c->closing && !c->quiescing;
                if (op->counted && op->gen == c->gen && --c->load_pending == 0) kn_cluster__mark_dirty(c);
                if (current && op->fn) {
                    op->fn(c, op, &m->res);
                } else if (op->ucb) {
                    op->ucb(op->uud, 7, "ZooKeeper session lost or broker stopping");
                }
                kn_cluster__op_free(op);
            } else if (m->gen == c->gen && !c->closing && !c->quiescing) {
                size_t rl = strlen(c->root);
                const char *rel = m->wpath;
                if (rl && !strncmp(rel, c->root, rl)) rel += rl;
                kn_cluster__event(c, m->wtype, m->wstate, rel);
            }
            res_clear(&m->res);
            kn_free(m->wpath);
            kn_free(m);
            m = next;
        }
    }
}
