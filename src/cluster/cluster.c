/* Broker side of ZooKeeper: session lifecycle, startup (base paths,
 * /cluster/id, /brokers/ids/<id>), the watched metadata cache with its
 * coalesced public snapshot, and the admin entry points. The controller role
 * lives in controller.c. Everything here runs on the loop thread. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"
#include "kanal/util/time.h"
#include "znode_int.h"

/* Kafka error codes used at this boundary. */
enum {
    KERR_UNKNOWN = -1,
    KERR_UNKNOWN_TOPIC = 3,
    KERR_TIMED_OUT = 7,
    KERR_INVALID_TOPIC = 17,
    KERR_TOPIC_EXISTS = 36,
    KERR_INVALID_PARTITIONS = 37,
    KERR_INVALID_RF = 38,
    KERR_NOT_CONTROLLER = 41,
};

/* Created at every start (ZOOKEEPER-LAYOUT.md section 1), parents first. */
static const char *const base_paths[] = {
    "/consumers",     "/brokers",       "/brokers/ids",     "/brokers/topics",           "/brokers/seqid",
    "/config",        "/config/changes", "/config/topics",  "/config/clients",           "/config/users",
    "/config/brokers", "/config/ips",   "/admin",           "/admin/delete_topics",      "/isr_change_notification",
    "/latest_producer_id_block",        "/log_dir_event_notification", "/cluster",
};

static void open_session(kn_cluster_t *c);
static void bootstrap(kn_cluster_t *c);
static void load_all(kn_cluster_t *c, bool refresh);
static void do_register(kn_cluster_t *c);
static void get_topic(kn_cluster_t *c, const char *name, bool refresh);
static void maybe_finish_stop(kn_cluster_t *c);

bool kn_cluster__conn_err(int rc) {
    return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE ||
           rc == ZCLOSING || rc == ZSESSIONMOVED;
}

void kn_cluster__fatal(kn_cluster_t *c, const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    kn_log(KN_LOG_ERROR, c->ctx, "fatal: %s", why);
    if (c->fatal) return;
    c->fatal = true;
    if (c->cb.on_fatal) c->cb.on_fatal(c->cb.ud, why);
}

/* ---- lifecycle ---- */

int kn_cluster_new(uv_loop_t *loop, const kn_cluster_config_t *cfg, const kn_cluster_callbacks_t *cb,
                   kn_cluster_t **out) {
    if (!loop || !cfg || !cfg->zk_connect || !*cfg->zk_connect || cfg->broker_id < 0 || !cfg->advertised_host ||
        cfg->advertised_port <= 0 || cfg->advertised_port > 65535)
        return KN_EINVAL;
    kn_cluster_t *c = kn_calloc(1, sizeof(*c));
    c->loop = loop;
    if (cb) c->cb = *cb;
    const char *slash = strchr(cfg->zk_connect, '/');
    if (slash) {
        c->hosts = kn_strndup(cfg->zk_connect, (size_t)(slash - cfg->zk_connect));
        size_t rl = strlen(slash);
        while (rl > 0 && slash[rl - 1] == '/') rl--; /* "/kafka/" -> "/kafka", "/" -> "" */
        c->root = kn_strndup(slash, rl);
    } else {
        c->hosts = kn_strdup(cfg->zk_connect);
        c->root = kn_strdup("");
    }
    c->session_timeout_ms = cfg->session_timeout_ms > 0 ? cfg->session_timeout_ms : 18000;
    c->connection_timeout_ms = cfg->connection_timeout_ms > 0 ? cfg->connection_timeout_ms : 18000;
    c->broker_id = cfg->broker_id;
    c->adv_host = kn_strdup(cfg->advertised_host);
    c->adv_port = cfg->advertised_port;
    c->rack = cfg->rack ? kn_strdup(cfg->rack) : NULL;
    c->default_partitions = cfg->default_num_partitions > 0 ? cfg->default_num_partitions : 1;
    c->default_rf = cfg->default_replication_factor > 0 ? cfg->default_replication_factor : 1;
    c->unclean_default = cfg->unclean_leader_election_enable;
    c->auto_rebalance = cfg->auto_leader_rebalance_enable;
    c->imbalance_check_ms =
        (cfg->leader_imbalance_check_interval_seconds > 0 ? cfg->leader_imbalance_check_interval_seconds : 300) * 1000;
    c->imbalance_pct = cfg->leader_imbalance_per_broker_percentage > 0 ? cfg->leader_imbalance_per_broker_percentage : 10;
    c->ctrl_request_timeout_ms = cfg->controller_socket_timeout_ms > 0 ? cfg->controller_socket_timeout_ms : 30000;
    c->delete_timeout_ms = cfg->topic_delete_timeout_ms > 0 ? cfg->topic_delete_timeout_ms : 10000;
    snprintf(c->ctx, sizeof(c->ctx), "zk");
    c->controller_id = -1;
    c->ctrl_epoch = -1;
    c->broker_epoch = -1;
    c->ctrl_epoch_zkversion = -1;
    pthread_mutex_init(&c->mu, NULL);
    uv_async_init(loop, &c->async, kn_cluster__drain);
    c->async.data = c;
    c->cprobe_id = -1;
    uv_timer_t *timers[] = {&c->connect_timer, &c->stale_timer, &c->notify_timer, &c->retry_timer,
                            &c->chan_timer,    &c->ctrl_tick,   &c->cs_timer,     &c->cprobe_timer};
    size_t ntimers = sizeof(timers) / sizeof(timers[0]);
    for (size_t i = 0; i < ntimers; i++) {
        uv_timer_init(loop, timers[i]);
        timers[i]->data = c;
    }
    c->open_handles = 1 + (int)ntimers;
    zoo_set_debug_level((kn_log_debug_mask & KN_DBG_ZK) ? ZOO_LOG_LEVEL_INFO : ZOO_LOG_LEVEL_WARN);
    *out = c;
    return 0;
}

static void connect_timeout(uv_timer_t *t) {
    kn_cluster_t *c = t->data;
    if (c->ever_connected || c->stopping) return;
    kn_cluster__fatal(c, "cannot reach ZooKeeper at %s after %d ms (zookeeper.connect=%s%s)", c->hosts,
                      c->connection_timeout_ms, c->hosts, c->root);
}

static void retry_open(uv_timer_t *t) {
    kn_cluster_t *c = t->data;
    if (!c->stopping && !c->zh) open_session(c);
}

/* ZooKeeper's own client log (its threads): only under debug category zk;
 * our lines already say what matters (state changes, the start timeout). */
static void zk_client_log(const char *msg) { kn_dbg(KN_DBG_ZK, "zkclient", "%s", msg); }

static void open_session(kn_cluster_t *c) {
    c->gen++;
    c->gen_connected = false;
    c->load_pending = 0;
    kn_zsess_t *s = kn_calloc(1, sizeof(*s));
    s->c = c;
    s->gen = c->gen;
    zhandle_t *zh =
        zookeeper_init2(c->hosts, kn_cluster__watcher, c->session_timeout_ms, NULL, s, 0, zk_client_log);
    if (!zh) {
        kn_free(s);
        kn_log(KN_LOG_WARN, c->ctx, "cannot start a ZooKeeper client for %s (%m); retrying in 1 s", c->hosts);
        uv_timer_start(&c->retry_timer, retry_open, 1000, 0);
        return;
    }
    c->zh = zh;
    c->sess = s;
    kn_log(KN_LOG_INFO, c->ctx, "session: none -> CONNECTING (%s%s, session timeout %d ms)", c->hosts, c->root,
           c->session_timeout_ms);
}

typedef struct close_req_s {
    uv_work_t w;
    kn_cluster_t *c;
    zhandle_t *zh;
    kn_zsess_t *s;
} close_req_t;

static void close_work(uv_work_t *w) {
    close_req_t *r = w->data;
    zookeeper_close(r->zh); /* may wait for the server: off the loop */
}

static void close_after(uv_work_t *w, int status) {
    (void)status;
    close_req_t *r = w->data;
    kn_cluster_t *c = r->c;
    kn_free(r->s);
    kn_free(r);
    c->closes_in_flight--;
    maybe_finish_stop(c);
}

static void close_session(kn_cluster_t *c) {
    if (!c->zh) return;
    close_req_t *r = kn_calloc(1, sizeof(*r));
    r->c = c;
    r->zh = c->zh;
    r->s = c->sess;
    r->w.data = r;
    c->zh = NULL;
    c->sess = NULL;
    c->connected = false;
    c->closes_in_flight++;
    uv_queue_work(c->loop, &r->w, close_work, close_after);
}

int kn_cluster_start(kn_cluster_t *c) {
    if (c->started || c->stopping) return KN_ESTATE;
    c->started = true;
    kn_log_set_broker(c->broker_id);
    uv_timer_start(&c->connect_timer, connect_timeout, (uint64_t)c->connection_timeout_ms, 0);
    open_session(c);
    return 0;
}

static void clear_cache(kn_cluster_t *c) {
    for (size_t i = 0; i < c->nbrokers; i++) kn_cluster__broker_meta_clear(&c->brokers[i].meta);
    kn_free(c->brokers);
    c->brokers = NULL;
    c->nbrokers = 0;
    for (size_t i = 0; i < c->ntopics; i++) {
        kn_ctopic_t *t = c->topics[i];
        kn_free(t->name);
        kn_cluster__parts_free(t->parts, t->npart);
        kn_free(t->pstate);
        kn_free(t->pbusy);
        kn_cluster__config_free(t->cfg_keys, t->cfg_vals, t->ncfg);
        kn_free(t);
    }
    kn_free(c->topics);
    c->topics = NULL;
    c->ntopics = 0;
    for (size_t i = 0; i < c->ndel_marks; i++) kn_free(c->del_marks[i]);
    kn_free(c->del_marks);
    c->del_marks = NULL;
    c->ndel_marks = 0;
}

static void free_snapshot(kn_cluster_t *c) {
    for (size_t i = 0; i < c->nsnap_topics; i++) {
        kn_snap_topic_t *s = c->snap_topics[i];
        kn_free(s->meta.name);
        kn_cluster__parts_free(s->meta.parts, s->meta.npartitions);
        kn_cluster__config_free(s->cfg_keys, s->cfg_vals, s->ncfg);
        kn_free(s);
    }
    kn_free(c->snap_topics);
    kn_free(c->snap_view);
    c->snap_topics = NULL;
    c->snap_view = NULL;
    c->nsnap_topics = 0;
    for (size_t i = 0; i < c->nsnap_brokers; i++) kn_cluster__broker_meta_clear(&c->snap_brokers[i]);
    kn_free(c->snap_brokers);
    c->snap_brokers = NULL;
    c->nsnap_brokers = 0;
}

static void really_free(kn_cluster_t *c) {
    /* Every session is closed, so no completion can still arrive: free the
     * operations ZooKeeper dropped without answering (in flight at close). */
    while (c->live_ops) kn_cluster__op_free(c->live_ops);
    kn_cluster__chan_free(c);
    kn_cluster__ext_free(c);
    kn_free(c->shut_ids);
    kn_free(c->shut_epochs);
    clear_cache(c);
    free_snapshot(c);
    pthread_mutex_destroy(&c->mu);
    kn_free(c->hosts);
    kn_free(c->root);
    kn_free(c->adv_host);
    kn_free(c->rack);
    kn_free(c->cluster_id);
    kn_free(c);
}

static void handle_closed(uv_handle_t *h) {
    kn_cluster_t *c = h->data;
    if (--c->open_handles > 0) return;
    if (c->free_on_close) {
        really_free(c);
    } else if (c->stop_done) {
        void (*done)(void *) = c->stop_done;
        c->stop_done = NULL;
        done(c->stop_ud);
    }
}

static void close_handles(kn_cluster_t *c) {
    if (c->handles_closing) return;
    c->handles_closing = true;
    uv_close((uv_handle_t *)&c->async, handle_closed);
    uv_close((uv_handle_t *)&c->connect_timer, handle_closed);
    uv_close((uv_handle_t *)&c->stale_timer, handle_closed);
    uv_close((uv_handle_t *)&c->notify_timer, handle_closed);
    uv_close((uv_handle_t *)&c->retry_timer, handle_closed);
    uv_close((uv_handle_t *)&c->chan_timer, handle_closed);
    uv_close((uv_handle_t *)&c->ctrl_tick, handle_closed);
    uv_close((uv_handle_t *)&c->cs_timer, handle_closed);
    uv_close((uv_handle_t *)&c->cprobe_timer, handle_closed);
}

static void maybe_finish_stop(kn_cluster_t *c) {
    if (!c->closing || c->closes_in_flight > 0 || c->stopped || c->zh) return;
    c->stopped = true;
    kn_cluster__drain(&c->async); /* drop what the closed sessions queued */
    kn_log(KN_LOG_INFO, c->ctx, "session closed; cluster client stopped");
    close_handles(c);
}

/* The controller role and its requests end with the session. */
static void drop_controller_work(kn_cluster_t *c) {
    kn_cluster__cprobe_stop(c);
    kn_cluster__chan_close(c);
    kn_cluster__waits_drop(c, 7 /* REQUEST_TIMED_OUT */);
    kn_cluster__cs_free(c);
}

/* Ops of the current session still waiting for ZooKeeper's answer. */
static bool awaiting_answers(const kn_cluster_t *c) {
    for (const kn_zop_t *op = c->live_ops; op; op = op->live_next)
        if (op->gen == c->gen) return true;
    return false;
}

static void close_now(kn_cluster_t *c);

static void quiesce_tick(uv_timer_t *t) {
    kn_cluster_t *c = t->data;
    if (awaiting_answers(c) && kn_now_ms() < c->quiesce_deadline_ms) return;
    uv_timer_stop(&c->retry_timer);
    close_now(c);
}

/* libzookeeper 3.8's zookeeper_close drops the completions of requests still
 * in flight without calling or freeing them (ZOOKEEPER-2894/-3868): wait up
 * to a second for their answers first. Answers that arrive meanwhile only
 * free their ops; nothing new is started. */
static void finish_close(kn_cluster_t *c) {
    if (c->closing || c->quiescing) return;
    if (c->zh && c->connected && awaiting_answers(c)) {
        c->quiescing = true;
        c->quiesce_deadline_ms = kn_now_ms() + 1000;
        uv_timer_start(&c->retry_timer, quiesce_tick, 10, 10);
        return;
    }
    close_now(c);
}

static void close_now(kn_cluster_t *c) {
    if (c->closing) return;
    drop_controller_work(c);
    c->closing = true;
    uv_timer_stop(&c->retry_timer);
    close_session(c);
    maybe_finish_stop(c);
}

static void stop_step(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc != ZOK && r->rc != ZNONODE)
        kn_log(KN_LOG_WARN, c->ctx, "stop: deleting %s failed: %s", op->path, zerror(r->rc));
    if (--c->stop_pending == 0) finish_close(c);
}

static void stop_guard(uv_timer_t *t) {
    kn_cluster_t *c = t->data;
    kn_log(KN_LOG_WARN, c->ctx, "stop: ZooKeeper did not answer in time; closing the session anyway");
    finish_close(c);
}

void kn_cluster_stop(kn_cluster_t *c, void (*done)(void *ud), void *ud) {
    if (c->stopping) return;
    c->stopping = true;
    c->stop_done = done;
    c->stop_ud = ud;
    uv_timer_stop(&c->connect_timer);
    uv_timer_stop(&c->stale_timer);
    uv_timer_stop(&c->notify_timer);
    uv_timer_stop(&c->retry_timer);
    if (c->zh && c->connected && c->boot == KN_BOOT_REGISTERED) {
        c->stop_pending = 1;
        if (kn_cluster__ctrl_stop(c, stop_step)) c->stop_pending++;
        char p[64];
        snprintf(p, sizeof(p), "/brokers/ids/%" PRId32, c->broker_id);
        kn_cluster__zdelete(c, kn_cluster__op(c, stop_step, p), -1);
        uv_timer_start(&c->retry_timer, stop_guard, 3000, 0);
        kn_log(KN_LOG_INFO, c->ctx, "stopping: removing registration%s", c->is_controller ? " and /controller" : "");
    } else {
        finish_close(c);
    }
}

void kn_cluster_free(kn_cluster_t *c) {
    if (!c) return;
    if (c->open_handles == 0) {
        really_free(c);
        return;
    }
    /* Not stopped: close synchronously (blocks briefly) and free when the
     * handles are closed. */
    c->stopping = c->closing = true;
    if (c->zh) {
        zookeeper_close(c->zh);
        c->zh = NULL;
        kn_free(c->sess);
        c->sess = NULL;
    }
    c->free_on_close = true;
    drop_controller_work(c);
    if (!c->handles_closing) {
        kn_cluster__drain(&c->async);
        close_handles(c);
    }
}

/* ---- notification and snapshot ---- */

static int cmp_topic_name(const void *a, const void *b) {
    return strcmp((*(kn_snap_topic_t *const *)a)->meta.name, (*(kn_snap_topic_t *const *)b)->meta.name);
}

static int32_t *dup_i32(const int32_t *a, int32_t n) {
    int32_t *r = kn_malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    if (n > 0) memcpy(r, a, sizeof(int32_t) * (size_t)n);
    return r;
}

static void rebuild_snapshot(kn_cluster_t *c) {
    free_snapshot(c);
    c->snap_topics = kn_calloc(c->ntopics ? c->ntopics : 1, sizeof(*c->snap_topics));
    size_t n = 0;
    for (size_t i = 0; i < c->ntopics; i++) {
        kn_ctopic_t *t = c->topics[i];
        if (!t->have_assign) continue;
        kn_snap_topic_t *s = kn_calloc(1, sizeof(*s));
        s->meta.name = kn_strdup(t->name);
        s->meta.id = t->id;
        s->meta.deleting = t->deleting;
        s->meta.npartitions = t->npart;
        s->meta.parts = kn_calloc((size_t)(t->npart > 0 ? t->npart : 1), sizeof(kn_partition_state_t));
        for (int32_t p = 0; p < t->npart; p++) {
            const kn_partition_state_t *src = &t->parts[p];
            kn_partition_state_t *d = &s->meta.parts[p];
            d->partition = p;
            d->replicas = dup_i32(src->replicas, src->nreplicas);
            d->nreplicas = src->nreplicas;
            if (t->pstate[p] == KN_PS_PRESENT) {
                d->leader = src->leader;
                d->leader_epoch = src->leader_epoch;
                d->controller_epoch = src->controller_epoch;
                d->zk_version = src->zk_version;
                d->isr = dup_i32(src->isr, src->nisr);
                d->nisr = src->nisr;
            } else {
                d->leader = -1;
                d->zk_version = -1;
                d->isr = dup_i32(NULL, 0);
            }
        }
        s->ncfg = t->ncfg;
        s->cfg_keys = kn_calloc(t->ncfg ? t->ncfg : 1, sizeof(char *));
        s->cfg_vals = kn_calloc(t->ncfg ? t->ncfg : 1, sizeof(char *));
        for (size_t k = 0; k < t->ncfg; k++) {
            s->cfg_keys[k] = kn_strdup(t->cfg_keys[k]);
            s->cfg_vals[k] = kn_strdup(t->cfg_vals[k]);
        }
        c->snap_topics[n++] = s;
    }
    qsort(c->snap_topics, n, sizeof(*c->snap_topics), cmp_topic_name);
    c->nsnap_topics = n;
    c->snap_view = kn_calloc(n ? n : 1, sizeof(*c->snap_view));
    for (size_t i = 0; i < n; i++) c->snap_view[i] = &c->snap_topics[i]->meta;
    c->snap_brokers = kn_calloc(c->nbrokers ? c->nbrokers : 1, sizeof(*c->snap_brokers));
    size_t nb = 0;
    for (size_t i = 0; i < c->nbrokers; i++) {
        const kn_cbroker_t *b = &c->brokers[i];
        if (!b->loaded) continue;
        kn_broker_meta_t *d = &c->snap_brokers[nb++];
        d->id = b->id;
        d->host = kn_strdup(b->meta.host);
        d->port = b->meta.port;
        d->rack = b->meta.rack ? kn_strdup(b->meta.rack) : NULL;
        d->epoch = b->meta.epoch;
    }
    c->nsnap_brokers = nb;
}

static void notify_cb(uv_timer_t *t) {
    kn_cluster_t *c = t->data;
    c->notify_scheduled = false;
    if (c->stopping || c->boot != KN_BOOT_REGISTERED || !c->loaded_once || c->load_pending > 0) return;
    /* Everything read: a consistent picture to act on and to publish. */
    if (c->is_controller) kn_cluster__ctrl_reconcile(c);
    kn_cluster__cprobe_sync(c);
    if (!c->dirty) return;
    /* Ready only once a controller is known (elected a few ms after the
     * registration): librdkafka's AdminClient, told "no controller" by a
     * broker's first Metadata answer, waits its whole request timeout
     * (CreateTopics hung 30 s in CI). The controller's appearance marks
     * the cache dirty again. */
    if (!c->ready_fired && c->controller_id < 0) return;
    c->dirty = false;
    rebuild_snapshot(c);
    if (!c->ready_fired) {
        c->ready_fired = true;
        kn_log(KN_LOG_INFO, c->ctx, "ready: %zu broker(s), %zu topic(s), controller %" PRId32, c->nsnap_brokers,
               c->nsnap_topics, c->controller_id);
        if (c->cb.on_ready) c->cb.on_ready(c->cb.ud);
    } else if (c->cb.on_metadata_changed) {
        c->cb.on_metadata_changed(c->cb.ud);
    }
}

void kn_cluster__mark_dirty(kn_cluster_t *c) {
    c->dirty = true;
    if (c->notify_scheduled || c->stopping) return;
    c->notify_scheduled = true;
    uv_timer_start(&c->notify_timer, notify_cb, 0, 0);
}

/* ---- cache helpers ---- */

static size_t topic_pos(const kn_cluster_t *c, const char *name, bool *found) {
    size_t lo = 0, hi = c->ntopics;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = strcmp(c->topics[mid]->name, name);
        if (r == 0) {
            *found = true;
            return mid;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

kn_ctopic_t *kn_cluster__find_topic(const kn_cluster_t *c, const char *name) {
    bool found;
    size_t i = topic_pos(c, name, &found);
    return found ? c->topics[i] : NULL;
}

static void topic_free(kn_ctopic_t *t) {
    kn_free(t->name);
    kn_cluster__parts_free(t->parts, t->npart);
    kn_free(t->pstate);
    kn_free(t->pbusy);
    kn_cluster__config_free(t->cfg_keys, t->cfg_vals, t->ncfg);
    kn_free(t);
}

static void remove_topic(kn_cluster_t *c, const char *name) {
    bool found;
    size_t i = topic_pos(c, name, &found);
    if (!found) return;
    kn_log(KN_LOG_INFO, c->ctx, "topic %s removed from the cache", name); /* name may be the topic's own */
    topic_free(c->topics[i]);
    memmove(&c->topics[i], &c->topics[i + 1], (c->ntopics - i - 1) * sizeof(*c->topics));
    c->ntopics--;
    kn_cluster__mark_dirty(c);
}

static bool is_marked(const kn_cluster_t *c, const char *name) {
    for (size_t i = 0; i < c->ndel_marks; i++)
        if (!strcmp(c->del_marks[i], name)) return true;
    return false;
}

static kn_cbroker_t *find_broker(const kn_cluster_t *c, int32_t id) {
    for (size_t i = 0; i < c->nbrokers; i++)
        if (c->brokers[i].id == id) return &c->brokers[i];
    return NULL;
}

bool kn_cluster__broker_live(const kn_cluster_t *c, int32_t id) { return find_broker(c, id) != NULL; }

static bool parse_id(const char *s, int32_t *id) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0 || v > INT32_MAX) return false;
    *id = (int32_t)v;
    return true;
}

static kn_zop_t *load_op(kn_cluster_t *c, kn_zop_fn fn, const char *path) {
    kn_zop_t *op = kn_cluster__op(c, fn, path);
    op->counted = true;
    c->load_pending++;
    return op;
}

/* ---- brokers ---- */

static int cmp_broker(const void *a, const void *b) {
    int32_t x = ((const kn_cbroker_t *)a)->id, y = ((const kn_cbroker_t *)b)->id;
    return (x > y) - (x < y);
}

static void broker_got(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    kn_cbroker_t *b = find_broker(c, op->i1);
    if (r->rc == ZOK && b) {
        kn_broker_meta_t m = {0};
        if (kn_cluster__broker_parse(r->data, r->data ? (size_t)r->datalen : 0, &m) != 0) {
            kn_log(KN_LOG_WARN, c->ctx, "%s: cannot parse broker registration; ignoring it", op->path);
            return;
        }
        kn_cluster__broker_meta_clear(&b->meta);
        b->meta = m;
        b->meta.id = b->id;
        b->meta.epoch = r->stat.czxid;
        b->loaded = true;
        kn_cluster__mark_dirty(c);
    } else if (r->rc == ZNONODE && b) {
        /* children watch will confirm; drop it now (the list stays sorted) */
        kn_cluster__broker_meta_clear(&b->meta);
        *b = c->brokers[--c->nbrokers];
        qsort(c->brokers, c->nbrokers, sizeof(*c->brokers), cmp_broker);
        kn_cluster__mark_dirty(c);
    }
}

static void get_broker(kn_cluster_t *c, int32_t id) {
    char p[64];
    snprintf(p, sizeof(p), "/brokers/ids/%" PRId32, id);
    kn_zop_t *op = load_op(c, broker_got, p);
    op->i1 = id;
    kn_cluster__zget(c, op, true);
}

static void brokers_listed(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc != ZOK) {
        kn_log(KN_LOG_WARN, c->ctx, "listing /brokers/ids: %s", zerror(r->rc));
        return;
    }
    bool refresh = op->i1 != 0;
    kn_cbroker_t *nb = kn_calloc((size_t)(r->nkids > 0 ? r->nkids : 1), sizeof(*nb));
    size_t n = 0;
    for (int i = 0; i < r->nkids; i++) {
        int32_t id;
        if (!parse_id(r->kids[i], &id)) continue;
        kn_cbroker_t *old = find_broker(c, id);
        if (old) {
            nb[n] = *old;
            old->meta.host = old->meta.rack = NULL; /* moved */
            old->id = -1;
        } else {
            nb[n].id = id;
            kn_log(KN_LOG_INFO, c->ctx, "broker %" PRId32 " is live", id);
        }
        if (!old || refresh || !nb[n].loaded) get_broker(c, id);
        n++;
    }
    for (size_t i = 0; i < c->nbrokers; i++) {
        if (c->brokers[i].id >= 0) kn_log(KN_LOG_INFO, c->ctx, "broker %" PRId32 " is gone", c->brokers[i].id);
        kn_cluster__broker_meta_clear(&c->brokers[i].meta);
    }
    kn_free(c->brokers);
    c->brokers = nb;
    c->nbrokers = n;
    qsort(c->brokers, n, sizeof(*c->brokers), cmp_broker);
    kn_cluster__mark_dirty(c);
}

static void list_brokers(kn_cluster_t *c, bool refresh) {
    kn_zop_t *op = load_op(c, brokers_listed, "/brokers/ids");
    op->i1 = refresh;
    kn_cluster__zchildren(c, op, true);
}

/* ---- topics ---- */

static void state_exists(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r);

static void state_got(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    kn_ctopic_t *t = kn_cluster__find_topic(c, op->arg);
    if (!t || op->i1 >= t->npart) return;
    int32_t p = op->i1;
    if (r->rc == ZOK) {
        if (kn_cluster__state_parse(r->data, r->data ? (size_t)r->datalen : 0, &t->parts[p]) != 0) {
            kn_log(KN_LOG_WARN, c->ctx, "%s: cannot parse partition state; treating the partition as offline",
                   op->path);
            t->pstate[p] = KN_PS_ABSENT;
            return;
        }
        t->parts[p].zk_version = r->stat.version;
        t->pstate[p] = KN_PS_PRESENT;
        kn_cluster__mark_dirty(c);
    } else if (r->rc == ZNONODE) {
        t->pstate[p] = KN_PS_ABSENT;
        /* getData sets no watch on a missing node; an exists watch does. */
        kn_zop_t *e = load_op(c, state_exists, op->path);
        e->arg = kn_strdup(op->arg);
        e->i1 = p;
        kn_cluster__zexists(c, e, true);
        kn_cluster__mark_dirty(c);
    }
}

static void get_state(kn_cluster_t *c, const char *topic, int32_t p) {
    char path[400];
    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%" PRId32 "/state", topic, p);
    kn_zop_t *op = load_op(c, state_got, path);
    op->arg = kn_strdup(topic);
    op->i1 = p;
    kn_cluster__zget(c, op, true);
}

static void state_exists(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc == ZOK) get_state(c, op->arg, op->i1); /* created meanwhile */
}

static void config_exists(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r);

static void config_got(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    kn_ctopic_t *t = kn_cluster__find_topic(c, op->arg);
    if (!t) return;
    if (r->rc == ZOK) {
        char **k, **v;
        size_t n;
        if (kn_cluster__config_parse(r->data, r->data ? (size_t)r->datalen : 0, &k, &v, &n) != 0) {
            kn_log(KN_LOG_WARN, c->ctx, "%s: cannot parse topic config; ignoring it", op->path);
            return;
        }
        kn_cluster__config_free(t->cfg_keys, t->cfg_vals, t->ncfg);
        t->cfg_keys = k;
        t->cfg_vals = v;
        t->ncfg = n;
        t->cfg_loaded = true;
        kn_cluster__mark_dirty(c);
    } else if (r->rc == ZNONODE) {
        kn_cluster__config_free(t->cfg_keys, t->cfg_vals, t->ncfg);
        t->cfg_keys = t->cfg_vals = NULL;
        t->ncfg = 0;
        t->cfg_loaded = true;
        kn_zop_t *e = load_op(c, config_exists, op->path);
        e->arg = kn_strdup(op->arg);
        kn_cluster__zexists(c, e, true);
        kn_cluster__mark_dirty(c);
    }
}

static void get_config(kn_cluster_t *c, const char *topic) {
    char path[300];
    snprintf(path, sizeof(path), "/config/topics/%s", topic);
    kn_zop_t *op = load_op(c, config_got, path);
    op->arg = kn_strdup(topic);
    kn_cluster__zget(c, op, true);
}

static void config_exists(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc == ZOK) get_config(c, op->arg);
}

static void topic_got(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    kn_ctopic_t *t = kn_cluster__find_topic(c, op->arg);
    if (!t) return;
    if (r->rc == ZNONODE) {
        remove_topic(c, op->arg);
        return;
    }
    if (r->rc != ZOK) return;
    kn_uuid_t id;
    bool has_id;
    int32_t n;
    kn_partition_state_t *parts;
    if (kn_cluster__assignment_parse(r->data, r->data ? (size_t)r->datalen : 0, &id, &has_id, &n, &parts) != 0) {
        kn_log(KN_LOG_WARN, c->ctx, "%s: cannot parse the replica assignment; ignoring the topic", op->path);
        return;
    }
    bool refresh = op->i1 != 0;
    uint8_t *ps = kn_calloc((size_t)(n > 0 ? n : 1), 1);
    bool *busy = kn_calloc((size_t)(n > 0 ? n : 1), sizeof(bool));
    /* Keep what we know of partitions that stay. */
    for (int32_t p = 0; p < n && p < t->npart; p++) {
        parts[p].leader = t->parts[p].leader;
        parts[p].leader_epoch = t->parts[p].leader_epoch;
        parts[p].controller_epoch = t->parts[p].controller_epoch;
        parts[p].zk_version = t->parts[p].zk_version;
        parts[p].isr = t->parts[p].isr;
        parts[p].nisr = t->parts[p].nisr;
        t->parts[p].isr = NULL;
        ps[p] = t->pstate[p];
        busy[p] = t->pbusy[p];
    }
    kn_cluster__parts_free(t->parts, t->npart);
    kn_free(t->pstate);
    kn_free(t->pbusy);
    int32_t oldn = t->npart;
    t->parts = parts;
    t->pstate = ps;
    t->pbusy = busy;
    t->npart = n;
    t->id = id;
    t->has_id = has_id;
    if (!t->have_assign)
        kn_log(KN_LOG_INFO, c->ctx, "topic %s: %" PRId32 " partition(s)", t->name, n);
    else if (oldn != n)
        kn_log(KN_LOG_INFO, c->ctx, "topic %s: partitions %" PRId32 " -> %" PRId32, t->name, oldn, n);
    t->have_assign = true;
    t->del_busy = false;
    for (int32_t p = 0; p < n; p++)
        if (refresh || ps[p] == KN_PS_UNKNOWN) get_state(c, t->name, p);
    if (refresh || !t->cfg_loaded) get_config(c, t->name);
    kn_cluster__mark_dirty(c);
}

static void get_topic(kn_cluster_t *c, const char *name, bool refresh) {
    char path[300];
    snprintf(path, sizeof(path), "/brokers/topics/%s", name);
    kn_zop_t *op = load_op(c, topic_got, path);
    op->arg = kn_strdup(name);
    op->i1 = refresh;
    kn_cluster__zget(c, op, true);
}

static void topics_listed(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc != ZOK) {
        kn_log(KN_LOG_WARN, c->ctx, "listing /brokers/topics: %s", zerror(r->rc));
        return;
    }
    bool refresh = op->i1 != 0;
    /* Drop topics no longer listed. */
    for (size_t i = 0; i < c->ntopics;) {
        bool listed = false;
        for (int k = 0; k < r->nkids && !listed; k++) listed = !strcmp(r->kids[k], c->topics[i]->name);
        if (!listed)
            remove_topic(c, c->topics[i]->name);
        else
            i++;
    }
    for (int k = 0; k < r->nkids; k++) {
        if (kn_cluster__validate_topic_name(r->kids[k], strlen(r->kids[k]), NULL) != 0) continue;
        bool found;
        size_t pos = topic_pos(c, r->kids[k], &found);
        if (!found) {
            kn_ctopic_t *t = kn_calloc(1, sizeof(*t));
            t->name = kn_strdup(r->kids[k]);
            t->deleting = is_marked(c, t->name);
            c->topics = kn_realloc(c->topics, (c->ntopics + 1) * sizeof(*c->topics));
            memmove(&c->topics[pos + 1], &c->topics[pos], (c->ntopics - pos) * sizeof(*c->topics));
            c->topics[pos] = t;
            c->ntopics++;
            get_topic(c, t->name, true);
        } else if (refresh) {
            get_topic(c, r->kids[k], true);
        }
    }
    kn_cluster__mark_dirty(c);
}

static void list_topics(kn_cluster_t *c, bool refresh) {
    kn_zop_t *op = load_op(c, topics_listed, "/brokers/topics");
    op->i1 = refresh;
    kn_cluster__zchildren(c, op, true);
}

static void marks_listed(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    (void)op;
    if (r->rc != ZOK) return;
    for (size_t i = 0; i < c->ndel_marks; i++) kn_free(c->del_marks[i]);
    kn_free(c->del_marks);
    c->del_marks = kn_calloc((size_t)(r->nkids > 0 ? r->nkids : 1), sizeof(char *));
    c->ndel_marks = 0;
    for (int k = 0; k < r->nkids; k++) c->del_marks[c->ndel_marks++] = kn_strdup(r->kids[k]);
    for (size_t i = 0; i < c->ntopics; i++) {
        bool m = is_marked(c, c->topics[i]->name);
        if (m && !c->topics[i]->deleting)
            kn_log(KN_LOG_INFO, c->ctx, "topic %s is marked for deletion", c->topics[i]->name);
        c->topics[i]->deleting = m;
    }
    c->marks_fresh = true;
    kn_cluster__mark_dirty(c);
}

static void list_marks(kn_cluster_t *c) {
    kn_zop_t *op = load_op(c, marks_listed, "/admin/delete_topics");
    kn_cluster__zchildren(c, op, true);
}

static void load_all(kn_cluster_t *c, bool refresh) {
    c->loaded_once = true;
    list_marks(c);
    list_brokers(c, refresh);
    list_topics(c, refresh);
    kn_cluster__ext_load(c);
}

/* ---- startup ---- */

static void boot_failed(kn_cluster_t *c, const char *what, int rc) {
    c->boot_busy = false;
    if (kn_cluster__conn_err(rc)) {
        kn_log(KN_LOG_WARN, c->ctx, "%s: %s; will retry when the connection is back", what, zerror(rc));
        return;
    }
    kn_cluster__fatal(c, "%s: %s", what, zerror(rc));
}

static void registered(kn_cluster_t *c, int64_t czxid) {
    uv_timer_stop(&c->stale_timer);
    bool again = c->broker_epoch >= 0;
    c->boot = KN_BOOT_REGISTERED;
    c->boot_busy = false;
    c->broker_epoch = czxid;
    kn_log(KN_LOG_INFO, c->ctx, "%s /brokers/ids/%" PRId32 " as %s:%d (broker epoch %" PRId64 ")",
           again ? "re-registered" : "registered", c->broker_id, c->adv_host, c->adv_port, czxid);
    load_all(c, true);
    kn_cluster__ctrl_start(c);
}

static void stale_timeout(uv_timer_t *t) {
    kn_cluster_t *c = t->data;
    if (c->boot == KN_BOOT_REGISTERED || c->stopping) return;
    kn_cluster__fatal(c,
                      "/brokers/ids/%" PRId32 " is still held by ZooKeeper session 0x%" PRIx64
                      " after %" PRIu64 " ms: is another broker running with broker.id=%" PRId32 "?",
                      c->broker_id, (uint64_t)c->stale_owner, c->stale_wait_ms, c->broker_id);
}

static void reg_exists(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    (void)op;
    if (r->rc == ZNONODE) {
        do_register(c); /* gone between create and exists */
        return;
    }
    if (r->rc != ZOK) {
        boot_failed(c, "reading the existing broker registration", r->rc);
        return;
    }
    if (r->stat.ephemeralOwner == c->session_id) {
        /* Our own create landed before a connection loss hid its reply. */
        registered(c, r->stat.czxid);
        return;
    }
    c->boot_busy = false; /* waiting on the exists watch */
    if (c->boot != KN_BOOT_STALE_WAIT || c->stale_owner != r->stat.ephemeralOwner) {
        c->stale_owner = r->stat.ephemeralOwner;
        int32_t to = zoo_recv_timeout(c->zh) > c->session_timeout_ms ? zoo_recv_timeout(c->zh) : c->session_timeout_ms;
        uint64_t wait = 2 * (uint64_t)to + 5000;
        kn_log(KN_LOG_WARN, c->ctx,
               "/brokers/ids/%" PRId32 " is held by another session (0x%" PRIx64
               "), probably this broker before a crash: waiting up to %" PRIu64
               " ms for the stale registration of broker %" PRId32 " to expire",
               c->broker_id, (uint64_t)c->stale_owner, wait, c->broker_id);
        if (!uv_is_active((uv_handle_t *)&c->stale_timer)) {
            c->stale_wait_ms = wait;
            uv_timer_start(&c->stale_timer, stale_timeout, wait, 0);
        }
    }
    c->boot = KN_BOOT_STALE_WAIT;
}

static void reg_created(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc == ZOK) {
        registered(c, r->has_stat ? r->stat.czxid : -1);
    } else if (r->rc == ZNODEEXISTS) {
        kn_zop_t *e = kn_cluster__op(c, reg_exists, op->path);
        kn_cluster__zexists(c, e, true);
    } else {
        boot_failed(c, "registering the broker", r->rc);
    }
}

static void do_register(kn_cluster_t *c) {
    if (c->boot != KN_BOOT_STALE_WAIT) c->boot = KN_BOOT_REGISTERING;
    c->boot_busy = true;
    char p[64];
    snprintf(p, sizeof(p), "/brokers/ids/%" PRId32, c->broker_id);
    char *json = kn_cluster__broker_json(c->adv_host, c->adv_port, c->rack, kn_now_ms());
    kn_cluster__zcreate(c, kn_cluster__op(c, reg_created, p), json, ZOO_EPHEMERAL);
    kn_free(json);
}

static void read_cluster_id(kn_cluster_t *c);

static void cluster_id_created(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc == ZOK) {
        kn_free(c->cluster_id);
        c->cluster_id = op->arg;
        op->arg = NULL;
        kn_log(KN_LOG_INFO, c->ctx, "created /cluster/id: cluster id %s", c->cluster_id);
        do_register(c);
    } else if (r->rc == ZNODEEXISTS) {
        read_cluster_id(c); /* another broker won the race: use its id */
    } else {
        boot_failed(c, "creating /cluster/id", r->rc);
    }
}

static void cluster_id_got(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    (void)op;
    if (r->rc == ZOK) {
        char *id;
        if (kn_cluster__cluster_id_parse(r->data, r->data ? (size_t)r->datalen : 0, &id) != 0) {
            kn_cluster__fatal(c, "/cluster/id does not hold a valid cluster id");
            return;
        }
        if (c->cluster_id && strcmp(c->cluster_id, id))
            kn_log(KN_LOG_WARN, c->ctx, "cluster id changed %s -> %s", c->cluster_id, id);
        else if (!c->cluster_id)
            kn_log(KN_LOG_INFO, c->ctx, "cluster id %s", id);
        kn_free(c->cluster_id);
        c->cluster_id = id;
        do_register(c);
    } else if (r->rc == ZNONODE) {
        kn_uuid_t u;
        char t[KN_CLUSTER_UUID_B64_LEN + 1];
        kn_cluster__random_uuid(&u);
        kn_cluster__uuid_to_b64(&u, t);
        char *json = kn_cluster__cluster_id_json(t);
        kn_zop_t *cop = kn_cluster__op(c, cluster_id_created, "/cluster/id");
        cop->arg = kn_strdup(t);
        kn_cluster__zcreate(c, cop, json, 0);
        kn_free(json);
    } else {
        boot_failed(c, "reading /cluster/id", r->rc);
    }
}

static void read_cluster_id(kn_cluster_t *c) {
    c->boot = KN_BOOT_CLUSTER_ID;
    kn_cluster__zget(c, kn_cluster__op(c, cluster_id_got, "/cluster/id"), false);
}

static void path_made(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc != ZOK && r->rc != ZNODEEXISTS) {
        if (!c->boot_err) kn_log(KN_LOG_ERROR, c->ctx, "creating %s: %s", op->abs, zerror(r->rc));
        c->boot_err = true;
        c->boot_errc = r->rc;
    }
    if (--c->boot_pending > 0) return;
    if (c->boot_err) {
        boot_failed(c, "creating the base znodes", c->boot_errc);
        return;
    }
    read_cluster_id(c);
}

static void bootstrap(kn_cluster_t *c) {
    c->boot = KN_BOOT_PATHS;
    c->boot_busy = true;
    c->boot_err = false;
    c->boot_pending = 0;
    /* Requests of one session are applied in order, so parents issued first
     * exist before their children are created. Chroot components first,
     * addressed without the chroot prefix. */
    for (size_t i = 1; c->root[0] && i <= strlen(c->root); i++) {
        if (c->root[i] != '/' && c->root[i] != '\0') continue;
        kn_zop_t *op = kn_cluster__op(c, path_made, "");
        kn_free(op->abs);
        op->abs = kn_strndup(c->root, i);
        c->boot_pending++;
        kn_cluster__zcreate(c, op, NULL, 0);
    }
    for (size_t i = 0; i < sizeof(base_paths) / sizeof(base_paths[0]); i++) {
        c->boot_pending++;
        kn_cluster__zcreate(c, kn_cluster__op(c, path_made, base_paths[i]), NULL, 0);
    }
}

/* Same session, connection back: watches were re-armed by the client, but
 * reads and writes that failed with a connection loss are redone here. */
static void resync(kn_cluster_t *c) {
    if (c->boot != KN_BOOT_REGISTERED) {
        if (!c->boot_busy) {
            kn_log(KN_LOG_INFO, c->ctx, "connection back: resuming startup");
            bootstrap(c);
        }
        return;
    }
    load_all(c, true);
    kn_cluster__ctrl_start(c);
}

static void session_event(kn_cluster_t *c, int state) {
    if (state == ZOO_CONNECTED_STATE) {
        if (!c->gen_connected) {
            c->gen_connected = c->connected = true;
            const clientid_t *cid = zoo_client_id(c->zh);
            c->session_id = cid ? cid->client_id : 0;
            kn_log(KN_LOG_INFO, c->ctx, "session: CONNECTING -> CONNECTED (session 0x%" PRIx64 ", timeout %d ms)",
                   (uint64_t)c->session_id, zoo_recv_timeout(c->zh));
            if (!c->ever_connected) {
                c->ever_connected = true;
                uv_timer_stop(&c->connect_timer);
            }
            bootstrap(c);
        } else if (!c->connected) {
            c->connected = true;
            kn_log(KN_LOG_INFO, c->ctx, "session: CONNECTING -> CONNECTED (same session 0x%" PRIx64 ")",
                   (uint64_t)c->session_id);
            resync(c);
        }
    } else if (state == ZOO_CONNECTING_STATE || state == ZOO_ASSOCIATING_STATE) {
        if (c->connected)
            kn_log(KN_LOG_WARN, c->ctx,
                   "session: CONNECTED -> CONNECTING (connection lost; session 0x%" PRIx64
                   " survives until its timeout)",
                   (uint64_t)c->session_id);
        c->connected = false;
    } else if (state == ZOO_EXPIRED_SESSION_STATE) {
        kn_log(KN_LOG_WARN, c->ctx,
               "session: %s -> EXPIRED (session 0x%" PRIx64
               "); opening a new session, then re-registering and re-reading all metadata",
               c->connected ? "CONNECTED" : "CONNECTING", (uint64_t)c->session_id);
        c->connected = false;
        kn_cluster__ctrl_reset(c, "ZooKeeper session expired");
        c->boot = KN_BOOT_NONE;
        c->boot_busy = false;
        clear_cache(c);
        c->loaded_once = false;
        close_session(c);
        open_session(c);
    } else if (state == ZOO_AUTH_FAILED_STATE) {
        kn_cluster__fatal(c, "ZooKeeper authentication failed at %s", c->hosts);
    }
}

void kn_cluster__event(kn_cluster_t *c, int type, int state, const char *rel) {
    if (type == ZOO_SESSION_EVENT) {
        session_event(c, state);
        return;
    }
    kn_dbg(KN_DBG_ZK, c->ctx, "watch event %d on %s", type, rel);
    char topic[256];
    int32_t id, p;
    int n = 0;
    if (!strcmp(rel, "/controller")) {
        if (c->boot == KN_BOOT_REGISTERED) kn_cluster__ctrl_on_event(c, type);
        return;
    }
    if (!strncmp(rel, "/brokers/ids/", 13) && parse_id(rel + 13, &id)) {
        if (id == c->broker_id && type == ZOO_DELETED_EVENT && !c->stopping) {
            if (c->boot == KN_BOOT_STALE_WAIT) {
                kn_log(KN_LOG_INFO, c->ctx, "stale registration of broker %" PRId32 " is gone; registering", id);
                do_register(c);
                return;
            }
            if (c->boot == KN_BOOT_REGISTERED) {
                /* Also seen just before a session-expiry notice; then the
                 * create fails on the dead session and the expiry path
                 * registers on the new one. */
                kn_log(KN_LOG_WARN, c->ctx,
                       "our registration /brokers/ids/%" PRId32 " disappeared (session expiring, or deleted by hand);"
                       " registering again",
                       id);
                c->boot = KN_BOOT_REGISTERING;
                do_register(c);
            }
        }
        if (c->boot != KN_BOOT_REGISTERED) return;
        if (type == ZOO_DELETED_EVENT) {
            kn_cbroker_t *b = find_broker(c, id);
            if (b) {
                kn_cluster__broker_meta_clear(&b->meta);
                *b = c->brokers[--c->nbrokers];
                qsort(c->brokers, c->nbrokers, sizeof(*c->brokers), cmp_broker);
                kn_log(KN_LOG_INFO, c->ctx, "broker %" PRId32 " is gone", id);
                kn_cluster__mark_dirty(c);
            }
        } else if (find_broker(c, id)) {
            get_broker(c, id);
        }
        return;
    }
    if (c->boot != KN_BOOT_REGISTERED) return;
    if (!strcmp(rel, "/brokers/ids")) {
        list_brokers(c, false);
    } else if (!strcmp(rel, "/brokers/topics")) {
        list_topics(c, false);
    } else if (!strcmp(rel, "/admin/delete_topics")) {
        list_marks(c);
    } else if (sscanf(rel, "/brokers/topics/%255[^/]/partitions/%" SCNd32 "/state%n", topic, &p, &n) == 2 &&
               rel[n] == '\0') {
        if (kn_cluster__find_topic(c, topic)) get_state(c, topic, p);
    } else if (!strncmp(rel, "/brokers/topics/", 16) && !strchr(rel + 16, '/')) {
        if (type == ZOO_DELETED_EVENT)
            remove_topic(c, rel + 16);
        else if (kn_cluster__find_topic(c, rel + 16))
            get_topic(c, rel + 16, false);
    } else if (!strncmp(rel, "/config/topics/", 15) && !strchr(rel + 15, '/')) {
        if (kn_cluster__find_topic(c, rel + 15)) get_config(c, rel + 15);
    } else if (!strncmp(rel, "/config/brokers/", 16) && !strchr(rel + 16, '/')) {
        kn_cluster__ext_event(c, rel + 16);
    }
}

/* ---- lookups ---- */

const kn_topic_meta_t *kn_cluster_topic(const kn_cluster_t *c, const char *name, size_t len) {
    size_t lo = 0, hi = c->nsnap_topics;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *m = c->snap_view[mid]->name;
        size_t ml = strlen(m);
        int r = strncmp(m, name, ml < len ? ml : len);
        if (r == 0) r = (ml > len) - (ml < len);
        if (r == 0) return c->snap_view[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t kn_cluster_topics(const kn_cluster_t *c, const kn_topic_meta_t *const **out) {
    *out = c->snap_view;
    return c->nsnap_topics;
}

size_t kn_cluster_brokers(const kn_cluster_t *c, const kn_broker_meta_t **out) {
    *out = c->snap_brokers;
    return c->nsnap_brokers;
}

int32_t kn_cluster_controller_id(const kn_cluster_t *c) { return c->controller_id; }
int32_t kn_cluster_controller_epoch(const kn_cluster_t *c) { return c->ctrl_epoch; }
const char *kn_cluster_id(const kn_cluster_t *c) { return c->cluster_id; }
bool kn_cluster_is_controller(const kn_cluster_t *c) { return c->is_controller; }
int64_t kn_cluster_broker_epoch(const kn_cluster_t *c) { return c->broker_epoch; }

/* ---- session confirmation (after the loop stalled) ---- */

static void confirm_done(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    /* Confirmed: our registration is still the one this session made, and
     * every change read since has reached the broker. */
    bool ok = r->rc == ZOK && r->has_stat && r->stat.czxid == c->broker_epoch && c->boot == KN_BOOT_REGISTERED &&
              c->loaded_once &&
              c->load_pending == 0 && !c->dirty && !c->notify_scheduled;
    kn_cluster_done_cb cb = op->ucb;
    op->ucb = NULL;
    if (cb) cb(op->uud, ok ? 0 : 7, ok ? "confirmed" : (r->rc != ZOK ? zerror(r->rc) : "metadata not settled"));
}

void kn_cluster_confirm_session(kn_cluster_t *c, kn_cluster_done_cb cb, void *ud) {
    char p[64];
    snprintf(p, sizeof(p), "/brokers/ids/%" PRId32, c->broker_id);
    kn_zop_t *op = kn_cluster__op(c, confirm_done, p);
    op->ucb = cb;
    op->uud = ud;
    kn_cluster__zexists(c, op, false);
}

bool kn_cluster_topic_ready(const kn_cluster_t *c, const char *name) {
    const kn_topic_meta_t *t = kn_cluster_topic(c, name, strlen(name));
    if (!t || t->npartitions < 1) return false;
    for (int32_t p = 0; p < t->npartitions; p++)
        if (t->parts[p].leader < 0) return false;
    return true;
}

size_t kn_cluster_topic_configs(const kn_cluster_t *c, const char *topic, const char *const **keys,
                                const char *const **values) {
    const kn_topic_meta_t *t = kn_cluster_topic(c, topic, strlen(topic));
    *keys = *values = NULL;
    if (!t) return 0;
    const kn_snap_topic_t *s = (const kn_snap_topic_t *)t;
    if (s->ncfg == 0) return 0;
    *keys = (const char *const *)s->cfg_keys;
    *values = (const char *const *)s->cfg_vals;
    return s->ncfg;
}

/* ---- admin ---- */

static void local_done(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    (void)c;
    (void)r;
    kn_cluster_done_cb cb = op->ucb;
    op->ucb = NULL;
    if (cb) cb(op->uud, (int16_t)op->i1, op->arg ? op->arg : "");
}

static void finish_admin(kn_cluster_t *c, kn_zop_t *op, int16_t err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finish_admin(kn_cluster_t *c, kn_zop_t *op, int16_t err, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kn_zop_t *d = kn_cluster__op(c, local_done, op->path);
    d->ucb = op->ucb;
    d->uud = op->uud;
    op->ucb = NULL;
    d->i1 = err;
    d->arg = kn_strdup(msg);
    kn_cluster__post(c, d, ZOK);
}

static int16_t zk_to_kafka(int rc) { return kn_cluster__conn_err(rc) ? KERR_TIMED_OUT : KERR_UNKNOWN; }

static void topic_written(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc == ZOK) {
        kn_log(KN_LOG_INFO, c->ctx, "created topic %s", op->arg);
        op->ucb(op->uud, 0, "");
        op->ucb = NULL;
    } else if (r->rc == ZNODEEXISTS) {
        finish_admin(c, op, KERR_TOPIC_EXISTS, "Topic '%s' already exists.", op->arg);
    } else {
        finish_admin(c, op, zk_to_kafka(r->rc), "writing %s: %s", op->path, zerror(r->rc));
    }
}

static void config_written(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc == ZNODEEXISTS && op->i1 == 0) {
        /* Leftover config of an earlier topic: create-or-replace, as Kafka does. */
        kn_zop_t *s = kn_cluster__op(c, config_written, op->path);
        s->ucb = op->ucb;
        s->uud = op->uud;
        op->ucb = NULL;
        s->arg = op->arg;
        s->arg2 = op->arg2;
        op->arg = op->arg2 = NULL;
        s->i1 = 1;
        s->owned = op->owned;
        s->nowned = op->nowned;
        op->owned = NULL;
        op->nowned = 0;
        kn_cluster__zset(c, s, s->owned[0], -1);
        return;
    }
    if (r->rc != ZOK) {
        finish_admin(c, op, zk_to_kafka(r->rc), "writing %s: %s", op->path, zerror(r->rc));
        return;
    }
    char path[300];
    snprintf(path, sizeof(path), "/brokers/topics/%s", op->arg);
    kn_zop_t *t = kn_cluster__op(c, topic_written, path);
    t->ucb = op->ucb;
    t->uud = op->uud;
    op->ucb = NULL;
    t->arg = op->arg;
    op->arg = NULL;
    kn_cluster__zcreate(c, t, op->arg2, 0);
}

static int create_topic(kn_cluster_t *c, const char *name, int32_t npart, int16_t rf, const char *const *cfg_keys,
                        const char *const *cfg_values, size_t ncfg, bool validate_only, bool any_broker,
                        kn_cluster_done_cb cb, void *ud);

int kn_cluster_create_topic(kn_cluster_t *c, const char *name, int32_t npart, int16_t rf,
                            const char *const *cfg_keys, const char *const *cfg_values, size_t ncfg,
                            bool validate_only, kn_cluster_done_cb cb, void *ud) {
    return create_topic(c, name, npart, rf, cfg_keys, cfg_values, ncfg, validate_only, false, cb, ud);
}

int kn_cluster_auto_create_topic(kn_cluster_t *c, const char *name, int32_t npart, int16_t rf,
                                 const char *const *cfg_keys, const char *const *cfg_values, size_t ncfg,
                                 kn_cluster_done_cb cb, void *ud) {
    return create_topic(c, name, npart, rf, cfg_keys, cfg_values, ncfg, false, true, cb, ud);
}

static int create_topic(kn_cluster_t *c, const char *name, int32_t npart, int16_t rf, const char *const *cfg_keys,
                        const char *const *cfg_values, size_t ncfg, bool validate_only, bool any_broker,
                        kn_cluster_done_cb cb, void *ud) {
    if (c->stopping || !cb) return KN_ESTATE;
    kn_zop_t *op = kn_cluster__op(c, NULL, "");
    op->ucb = cb;
    op->uud = ud;
    const char *why;
    if (npart == -1) npart = c->default_partitions;
    if (rf == -1) rf = c->default_rf;
    if (!c->is_controller && !any_broker) {
        finish_admin(c, op, KERR_NOT_CONTROLLER, "This is not the correct controller for this cluster.");
    } else if (kn_cluster__validate_topic_name(name, strlen(name), &why) != 0) {
        finish_admin(c, op, KERR_INVALID_TOPIC, "Topic name \"%s\" is illegal: %s", name, why);
    } else if (kn_cluster__find_topic(c, name)) {
        kn_ctopic_t *t = kn_cluster__find_topic(c, name);
        finish_admin(c, op, KERR_TOPIC_EXISTS, "Topic '%s' already exists%s.", name,
                     t->deleting ? " and is marked for deletion" : "");
    } else if (npart < 1) {
        finish_admin(c, op, KERR_INVALID_PARTITIONS, "Number of partitions must be larger than 0.");
    } else if (rf < 1) {
        finish_admin(c, op, KERR_INVALID_RF, "Replication factor must be larger than 0.");
    } else if ((size_t)rf > c->nbrokers) {
        finish_admin(c, op, KERR_INVALID_RF, "Replication factor: %d larger than available brokers: %zu.", rf,
                     c->nbrokers);
    } else {
        /* Names equal up to '.' vs '_' collide in Kafka's metric names. */
        for (size_t i = 0; i < c->ntopics; i++) {
            const char *a = c->topics[i]->name, *b = name;
            while (*a && *b && (*a == *b || ((*a == '.' || *a == '_') && (*b == '.' || *b == '_')))) a++, b++;
            if (!*a && !*b) {
                finish_admin(c, op, KERR_INVALID_TOPIC, "Topic '%s' collides with existing topic: %s", name,
                             c->topics[i]->name);
                kn_cluster__op_free(op);
                return 0;
            }
        }
        if (validate_only) {
            finish_admin(c, op, 0, "%s", "");
        } else {
            int nb = (int)c->nbrokers;
            int32_t *ids = kn_malloc(sizeof(int32_t) * (size_t)nb);
            for (int i = 0; i < nb; i++) ids[i] = c->brokers[i].id; /* sorted by id */
            kn_uuid_t rnd, tid;
            kn_cluster__random_uuid(&rnd);
            kn_cluster__random_uuid(&tid);
            int start = (int)(((uint32_t)rnd.b[0] << 8 | rnd.b[1]) % (uint32_t)nb);
            int shift = (int)(((uint32_t)rnd.b[2] << 8 | rnd.b[3]) % (uint32_t)nb);
            int32_t *a = kn_malloc(sizeof(int32_t) * (size_t)npart * (size_t)rf);
            kn_cluster__assign_replicas(ids, nb, npart, rf, start, shift, a);
            kn_partition_state_t *parts = kn_calloc((size_t)npart, sizeof(*parts));
            for (int32_t p = 0; p < npart; p++) {
                parts[p].replicas = a + (size_t)p * (size_t)rf;
                parts[p].nreplicas = rf;
            }
            char *assign = kn_cluster__assignment_json(&tid, npart, parts);
            kn_free(parts);
            kn_free(a);
            kn_free(ids);
            char *cfg = kn_cluster__config_json(cfg_keys, cfg_values, ncfg);
            char path[300];
            snprintf(path, sizeof(path), "/config/topics/%s", name);
            kn_zop_t *w = kn_cluster__op(c, config_written, path);
            w->ucb = op->ucb;
            w->uud = op->uud;
            op->ucb = NULL;
            w->arg = kn_strdup(name);
            w->arg2 = assign;
            /* config JSON kept for the create-or-replace retry */
            w->owned = kn_calloc(1, sizeof(char *));
            w->owned[w->nowned++] = cfg;
            kn_log(KN_LOG_INFO, c->ctx, "creating topic %s: %" PRId32 " partition(s), replication factor %d", name,
                   npart, rf);
            kn_cluster__zcreate(c, w, cfg, 0);
        }
    }
    kn_cluster__op_free(op);
    return 0;
}

static void mark_written(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc == ZOK || r->rc == ZNODEEXISTS) {
        kn_log(KN_LOG_INFO, c->ctx, "topic %s marked for deletion", op->arg);
        op->ucb(op->uud, 0, "");
        op->ucb = NULL;
    } else {
        finish_admin(c, op, zk_to_kafka(r->rc), "writing %s: %s", op->path, zerror(r->rc));
    }
}

int kn_cluster_delete_topic(kn_cluster_t *c, const char *name, kn_cluster_done_cb cb, void *ud) {
    if (c->stopping || !cb) return KN_ESTATE;
    kn_zop_t *op = kn_cluster__op(c, NULL, "");
    op->ucb = cb;
    op->uud = ud;
    kn_ctopic_t *t = kn_cluster__validate_topic_name(name, strlen(name), NULL) == 0
                         ? kn_cluster__find_topic(c, name)
                         : NULL;
    if (!c->is_controller) {
        finish_admin(c, op, KERR_NOT_CONTROLLER, "This is not the correct controller for this cluster.");
    } else if (!t || !t->have_assign) {
        finish_admin(c, op, KERR_UNKNOWN_TOPIC, "This server does not host this topic-partition.");
    } else {
        char path[300];
        snprintf(path, sizeof(path), "/admin/delete_topics/%s", name);
        kn_zop_t *w = kn_cluster__op(c, mark_written, path);
        w->ucb = op->ucb;
        w->uud = op->uud;
        op->ucb = NULL;
        w->arg = kn_strdup(name);
        kn_cluster__zcreate(c, w, NULL, 0);
    }
    kn_cluster__op_free(op);
    return 0;
}
