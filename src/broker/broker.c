/* The broker: owns the loop, the listener, the ZooKeeper cluster client and
 * the local partitions; applies metadata to the partitions it hosts; runs the
 * periodic work (segment.ms rolls, flush.ms, recovery-point checkpoints); and
 * shuts down cleanly on SIGTERM/SIGINT. */
#include "kanal/broker/broker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker_int.h"
#include "kanal/log/checkpoint.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/time.h"

#define KN_TICK_MS 100
#define KN_CHECKPOINT_INTERVAL_MS 60000 /* log.flush.offset.checkpoint.interval.ms */

/* ---- partitions ---- */

kn_partition_t *kn_broker__partition(kn_broker_t *b, const char *topic, size_t tlen, int32_t partition) {
    if (!topic) return NULL;
    for (size_t i = 0; i < b->nparts; i++) {
        kn_partition_t *p = b->parts[i];
        if (p->partition == partition && strlen(p->topic) == tlen && !memcmp(p->topic, topic, tlen)) return p;
    }
    return NULL;
}

static int mkdir_p(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return kn_err_from_errno(errno);
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return kn_err_from_errno(errno);
    return 0;
}

static kn_partition_t *partition_open(kn_broker_t *b, const char *topic, int32_t partition, int64_t recovery_point,
                                      bool clean) {
    kn_partition_t *p = kn_calloc(1, sizeof(*p));
    p->topic = kn_strdup(topic);
    p->partition = partition;
    p->leader_epoch = -1;
    snprintf(p->name, sizeof(p->name), "%s-%d", topic, partition);
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/%s", b->log_dir, p->name);
    int rc = kn_plog_open(dir, p->name, &b->logcfg, recovery_point, clean, &p->log);
    if (rc < 0) {
        kn_log(KN_LOG_ERROR, p->name, "cannot open log in %s: %s", dir, kn_strerror(rc));
        kn_free(p->topic);
        kn_free(p);
        return NULL;
    }
    p->high_watermark = kn_plog_end_offset(p->log);
    kn_partition__apply_config(b, p);
    kn_pstate_init(&p->pstate);
    kn_pstate_load(&p->pstate, dir, p->log, p->name); /* snapshot + replay of the tail */
    kn_replica__init_partition(b, p, dir);
    if (b->nparts == b->parts_cap) {
        b->parts_cap = b->parts_cap ? b->parts_cap * 2 : 64;
        b->parts = kn_realloc(b->parts, b->parts_cap * sizeof(*b->parts));
    }
    b->parts[b->nparts++] = p;
    return p;
}

static void partition_remove(kn_broker_t *b, size_t idx, bool delete_files) {
    kn_partition_t *p = b->parts[idx];
    b->parts[idx] = b->parts[--b->nparts];
    /* Waiters re-check and find the partition gone. */
    p->is_leader = false;
    kn_replica__free_partition(b, p);
    if (delete_files) {
        kn_log(KN_LOG_INFO, p->name, "deleting partition log (topic deleted)");
        int rc = kn_plog_delete(p->log);
        if (rc < 0) kn_log(KN_LOG_ERROR, p->name, "delete failed: %s", kn_strerror(rc));
    } else {
        /* Clean close: a snapshot at the log end makes the next open cheap. */
        if (p->pstate.n) {
            char dir[4096];
            snprintf(dir, sizeof(dir), "%s/%s", b->log_dir, p->name);
            kn_pstate_write_snapshot(&p->pstate, dir, kn_plog_end_offset(p->log), p->name);
        }
        kn_plog_close(p->log);
    }
    kn_pstate_free(&p->pstate);
    kn_free(p->topic);
    kn_free(p);
    kn_fetcher__sync(b);
}

void kn_broker__remove_partition(kn_broker_t *b, kn_partition_t *p, bool delete_files);
void kn_broker__remove_partition(kn_broker_t *b, kn_partition_t *p, bool delete_files) {
    for (size_t i = 0; i < b->nparts; i++)
        if (b->parts[i] == p) {
            partition_remove(b, i, delete_files);
            return;
        }
}

kn_partition_t *kn_broker__ensure_partition(kn_broker_t *b, const char *topic, int32_t partition,
                                            const kn_uuid_t *topic_id);
kn_partition_t *kn_broker__ensure_partition(kn_broker_t *b, const char *topic, int32_t partition,
                                            const kn_uuid_t *topic_id) {
    kn_partition_t *p = kn_broker__partition(b, topic, strlen(topic), partition);
    if (p) return p;
    p = partition_open(b, topic, partition, 0, true);
    if (!p) return NULL;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/%s", b->log_dir, p->name);
    if (topic_id) {
        p->topic_id = *topic_id;
        kn_partition_metadata_write(dir, topic_id);
    }
    p->seen_in_meta = true;
    kn_log(KN_LOG_INFO, p->name, "created partition log");
    return p;
}

/* "topic-12" -> topic, 12. Topic names may contain '-'; the last one splits. */
static bool parse_partition_dir(const char *name, char *topic, size_t tsz, int32_t *partition) {
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name || !dash[1]) return false;
    char *end;
    long v = strtol(dash + 1, &end, 10);
    if (*end || v < 0 || v > 0x7fffffff) return false;
    size_t tl = (size_t)(dash - name);
    if (tl >= tsz) return false;
    memcpy(topic, name, tl);
    topic[tl] = '\0';
    *partition = (int32_t)v;
    return true;
}

static int load_logs(kn_broker_t *b) {
    bool clean = kn_clean_shutdown_exists(b->log_dir);
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", b->log_dir, KN_CHECKPOINT_RECOVERY_POINT);
    kn_checkpoint_entry_t *cp = NULL;
    size_t ncp = 0;
    if (kn_checkpoint_read(path, &cp, &ncp) < 0) {
        cp = NULL;
        ncp = 0;
    }
    kn_checkpoint_entry_t *hwcp = NULL;
    size_t nhw = 0;
    snprintf(path, sizeof(path), "%s/%s", b->log_dir, KN_CHECKPOINT_REPLICATION);
    if (kn_checkpoint_read(path, &hwcp, &nhw) < 0) {
        hwcp = NULL;
        nhw = 0;
    }
    DIR *d = opendir(b->log_dir);
    if (!d) return kn_err_from_errno(errno);
    struct dirent *de;
    int64_t t0 = kn_mono_ms();
    int n = 0;
    kn_log(KN_LOG_INFO, NULL, "loading logs from %s (%s)", b->log_dir,
           clean ? "clean shutdown marker found: skipping recovery" : "no clean shutdown marker: recovering");
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        if (strstr(de->d_name, "-delete")) continue;
        char topic[256];
        int32_t part;
        snprintf(path, sizeof(path), "%s/%s", b->log_dir, de->d_name);
        struct stat stt;
        if (stat(path, &stt) != 0 || !S_ISDIR(stt.st_mode)) continue;
        if (!parse_partition_dir(de->d_name, topic, sizeof(topic), &part)) continue;
        int64_t rp = 0;
        for (size_t i = 0; i < ncp; i++)
            if (cp[i].partition == part && !strcmp(cp[i].topic, topic)) rp = cp[i].offset;
        kn_partition_t *p = partition_open(b, topic, part, rp, clean);
        if (!p) continue;
        kn_partition_metadata_read(path, &p->topic_id);
        /* A follower must not serve past the HW it last knew; a leader
         * recomputes it from its ISR. */
        p->high_watermark = 0;
        for (size_t i = 0; i < nhw; i++)
            if (hwcp[i].partition == part && !strcmp(hwcp[i].topic, topic)) p->high_watermark = hwcp[i].offset;
        if (p->high_watermark > kn_plog_end_offset(p->log)) p->high_watermark = kn_plog_end_offset(p->log);
        n++;
    }
    closedir(d);
    kn_checkpoint_free(cp, ncp);
    kn_checkpoint_free(hwcp, nhw);
    kn_log(KN_LOG_INFO, NULL, "loaded %d partition logs in %lld ms", n, (long long)(kn_mono_ms() - t0));
    /* From now on a crash must trigger recovery. */
    kn_clean_shutdown_remove(b->log_dir);
    return 0;
}

void kn_broker__checkpoint(kn_broker_t *b) {
    /* Producer snapshots on segment roll (Kafka takes one per new segment). */
    for (size_t i = 0; i < b->nparts; i++) {
        kn_partition_t *p = b->parts[i];
        int nseg = kn_plog_segment_count(p->log);
        if (p->pstate.n && nseg != p->pstate.nsegments_at_snapshot) {
            char dir[4096];
            snprintf(dir, sizeof(dir), "%s/%s", b->log_dir, p->name);
            if (kn_pstate_write_snapshot(&p->pstate, dir, kn_plog_end_offset(p->log), p->name) == 0)
                p->pstate.nsegments_at_snapshot = nseg;
        }
    }
    kn_checkpoint_entry_t *e = kn_calloc(b->nparts ? b->nparts : 1, sizeof(*e));
    for (size_t i = 0; i < b->nparts; i++) {
        e[i].topic = b->parts[i]->topic;
        e[i].partition = b->parts[i]->partition;
        e[i].offset = kn_plog_recovery_point(b->parts[i]->log);
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", b->log_dir, KN_CHECKPOINT_RECOVERY_POINT);
    int rc = kn_checkpoint_write(path, e, b->nparts);
    if (rc < 0) kn_log(KN_LOG_ERROR, NULL, "cannot write %s: %s", path, kn_strerror(rc));
    for (size_t i = 0; i < b->nparts; i++) e[i].offset = b->parts[i]->high_watermark;
    snprintf(path, sizeof(path), "%s/%s", b->log_dir, KN_CHECKPOINT_REPLICATION);
    rc = kn_checkpoint_write(path, e, b->nparts);
    if (rc < 0) kn_log(KN_LOG_ERROR, NULL, "cannot write %s: %s", path, kn_strerror(rc));
    kn_free(e);
}

void kn_broker__on_append(kn_broker_t *b, kn_partition_t *p) { kn_fetch__wake(b, p); }

/* Bring local partitions in line with the metadata cache. */
static void reconcile(kn_broker_t *b) {
    int32_t me = b->cfg->broker_id;
    const kn_topic_meta_t *const *topics = NULL;
    size_t nt = kn_cluster_topics(b->cluster, &topics);
    for (size_t i = 0; i < nt; i++) {
        const kn_topic_meta_t *t = topics[i];
        if (t->deleting) continue;
        for (int32_t pi = 0; pi < t->npartitions; pi++) {
            const kn_partition_state_t *ps = &t->parts[pi];
            bool mine = false;
            for (int32_t k = 0; k < ps->nreplicas; k++)
                if (ps->replicas[k] == me) mine = true;
            if (!mine) continue;
            kn_partition_t *p = kn_broker__ensure_partition(b, t->name, pi, &t->id);
            if (!p) continue;
            /* Leadership comes from the controller's LeaderAndIsr; until one
             * arrives (or with a controller that does not send them) the
             * ZooKeeper state is applied directly. */
            if (!p->lai_seen && ps->zk_version >= 0 &&
                (ps->leader != p->leader || ps->leader_epoch != p->leader_epoch || ps->zk_version != p->partition_epoch))
                kn_replica__apply_state(b, p, ps->leader, ps->leader_epoch, ps->isr, ps->nisr, ps->replicas,
                                        ps->nreplicas, ps->zk_version);
        }
    }
    /* Local partitions of topics that no longer exist: deleted. A directory
     * for a topic ZooKeeper never knew (stray) is kept and reported. */
    for (size_t i = 0; i < b->nparts;) {
        kn_partition_t *p = b->parts[i];
        const kn_topic_meta_t *t = kn_cluster_topic(b->cluster, p->topic, strlen(p->topic));
        bool gone = !t || t->deleting || p->partition >= t->npartitions;
        if (gone && (p->seen_in_meta || (t && t->deleting))) {
            partition_remove(b, i, true);
            continue;
        }
        if (!gone)
            p->seen_in_meta = true;
        else if (!p->stray_warned) {
            p->stray_warned = true;
            kn_log(KN_LOG_WARN, p->name, "log directory has no topic in ZooKeeper; keeping it untouched");
        }
        i++;
    }
}

/* ---- lifecycle ---- */

static void on_cluster_ready(void *ud) {
    kn_broker_t *b = ud;
    reconcile(b);
    kn_group__reconcile(b);
    kn_topic_config__apply_all(b);
    b->ready = true;
    kn_log(KN_LOG_INFO, NULL, "started: serving Kafka on %s:%d (advertised %s:%d), cluster id %s, controller %d",
           b->listen_host, b->listen_port, b->adv_host, b->adv_port, kn_cluster_id(b->cluster),
           kn_cluster_controller_id(b->cluster));
    kn_notify__ready(b);
    kn_client__release_held(b);
}

static void on_cluster_changed(void *ud) {
    kn_broker_t *b = ud;
    reconcile(b);
    kn_group__reconcile(b);
    kn_topic_config__apply_all(b);
    kn_admin__metadata_changed(b);
}

static void begin_shutdown(kn_broker_t *b, int exit_code);

static void on_cluster_fatal(void *ud, const char *why) {
    kn_broker_t *b = ud;
    kn_log(KN_LOG_ERROR, NULL, "fatal: %s; shutting down", why);
    begin_shutdown(b, 1);
}

/* ---- stalls ----
 * SIGSTOP, a VM freeze or swapping can stop the loop for longer than the
 * ZooKeeper session timeout. Meanwhile the controller may have moved this
 * broker's leaderships, and what the broker answers on waking (before it
 * reads the news) would come from a log other leaders have gone past: a
 * consumer told OFFSET_OUT_OF_RANGE resets its position. So a gap of half
 * a session timeout between two looks at the clock fences the broker: it
 * leads nothing (NOT_LEADER_OR_FOLLOWER, which clients retry elsewhere)
 * until a ZooKeeper round trip confirms the session and every change read
 * since has been applied. */

static int64_t stall_limit_ms(const kn_broker_t *b) {
    int64_t lim = b->cfg->zookeeper_session_timeout_ms / 2;
    return lim < 500 ? 500 : lim;
}

static void confirm_cb(void *ud, int16_t err, const char *msg) {
    kn_broker_t *b = ud;
    b->confirm_inflight = false;
    if (err || !b->fenced) {
        /* Not yet (session lost, metadata still arriving): the tick asks again. */
        if (err) kn_log(KN_LOG_DEBUG, NULL, "stall: session not confirmed yet (%s)", msg);
        return;
    }
    b->fenced = false;
    kn_log(KN_LOG_INFO, NULL, "stall: ZooKeeper confirmed the session after %" PRId64 " ms; leading again",
           kn_mono_ms() - b->fenced_since_mono_ms);
}

static void confirm_session(kn_broker_t *b) {
    if (!b->fenced || b->confirm_inflight || !b->cluster || b->stopping) return;
    b->confirm_inflight = true;
    kn_cluster_confirm_session(b->cluster, confirm_cb, b);
}

/* Looks at the clock: every tick and once per request, so requests that
 * waited in the sockets during a stall find the broker fenced. */
void kn_broker__check_stall(kn_broker_t *b) {
    if (!b->cluster) return;
    int64_t now = kn_mono_ms();
    int64_t gap = b->last_tick_mono_ms > 0 ? now - b->last_tick_mono_ms : 0;
    b->last_tick_mono_ms = now;
    if (gap > stall_limit_ms(b)) {
        if (!b->fenced)
            kn_log(KN_LOG_WARN, NULL,
                   "stall: the event loop did not run for %" PRId64 " ms (limit %" PRId64
                   " ms, half the ZooKeeper session timeout); leading nothing until ZooKeeper confirms the session",
                   gap, stall_limit_ms(b));
        b->fenced = true;
        b->fenced_since_mono_ms = now;
        /* Followers could not fetch while we stood still: the pause does
         * not count against them. */
        kn_replica__forgive_lag(b, gap);
    }
    if (b->fenced) confirm_session(b);
}

bool kn_broker__leads(const kn_broker_t *b, const kn_partition_t *p) { return p->is_leader && !b->fenced; }

static void tick_cb(uv_timer_t *t) {
    kn_broker_t *b = t->data;
    int64_t now = kn_now_ms();
    kn_broker__check_stall(b);
    kn_admin__metadata_changed(b); /* admin timeouts */
    kn_replica__tick(b, now);
    kn_produce__expire(b, kn_mono_ms(), false);
    for (size_t i = 0; i < b->nparts; i++) kn_plog_roll_if_due(b->parts[i]->log, now);
    if (b->cfg->log_flush_interval_ms > 0 && now - b->last_flush_ms >= b->cfg->log_flush_interval_ms) {
        for (size_t i = 0; i < b->nparts; i++) kn_plog_flush(b->parts[i]->log);
        b->last_flush_ms = now;
    }
    if (now - b->last_checkpoint_ms >= KN_CHECKPOINT_INTERVAL_MS) {
        kn_broker__checkpoint(b);
        b->last_checkpoint_ms = now;
    }
}

static void close_walk_cb(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void cluster_stopped(void *ud) {
    kn_broker_t *b = ud;
    kn_log(KN_LOG_INFO, NULL, "deregistered from ZooKeeper; stopped");
    uv_stop(b->loop);
}

static void finish_shutdown(kn_broker_t *b);

static void controlled_shutdown_done(void *ud, int ok, int remaining) {
    kn_broker_t *b = ud;
    if (ok)
        kn_log(KN_LOG_INFO, NULL, "controlled shutdown: the controller moved every leadership away");
    else
        kn_log(KN_LOG_WARN, NULL, "controlled shutdown incomplete (%d partitions remaining); stopping anyway",
               remaining);
    finish_shutdown(b);
}

/* Kafka's order: first ask the controller to move our leaderships away
 * (clients then see at most retriable NOT_LEADER errors), then stop. */
static void begin_shutdown(kn_broker_t *b, int exit_code) {
    if (b->stopping || b->shutdown_requested) return;
    b->shutdown_requested = true;
    b->exit_code = exit_code;
    if (exit_code == 0 && b->cfg->controlled_shutdown_enable && b->ready && b->cluster) {
        kn_log(KN_LOG_INFO, NULL, "controlled shutdown: asking the controller to move leaderships");
        kn_cluster_controlled_shutdown(b->cluster, controlled_shutdown_done, b);
        return;
    }
    finish_shutdown(b);
}

static void finish_shutdown(kn_broker_t *b) {
    if (b->stopping) return;
    b->stopping = true;
    kn_log(KN_LOG_INFO, NULL, "shutting down: closing listener, answering waiting requests, flushing logs");
    if (b->server) kn_server_stop_accepting(b->server);
    kn_notify__send("STOPPING=1\nSTATUS=shutting down\n");
    kn_metrics__stop(b);
    kn_fetch__expire(b, INT64_MAX);
    kn_group__shutdown(b);
    kn_produce__expire(b, INT64_MAX, true);
    kn_replica__shutdown(b);
    /* Waiting admin requests get their replies (timed out) now. */
    while (b->admin_waiters) {
        kn_req_t *r = b->admin_waiters;
        kn_admin__metadata_changed(b);
        if (b->admin_waiters == r) break;
    }
    for (size_t i = 0; i < b->nparts; i++) {
        int rc = kn_plog_flush(b->parts[i]->log);
        if (rc < 0) kn_log(KN_LOG_ERROR, b->parts[i]->name, "flush failed: %s", kn_strerror(rc));
    }
    kn_broker__checkpoint(b);
    kn_lifecycle__stop(b);
    uv_timer_stop(&b->tick);
    uv_signal_stop(&b->sigterm);
    uv_signal_stop(&b->sigint);
    if (b->cluster)
        kn_cluster_stop(b->cluster, cluster_stopped, b);
    else
        uv_stop(b->loop);
}

static void signal_cb(uv_signal_t *s, int signum) {
    kn_broker_t *b = s->data;
    kn_log(KN_LOG_INFO, NULL, "received %s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    begin_shutdown(b, 0);
}

static int lock_log_dir(const char *dir) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/.lock", dir);
    int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0) return kn_err_from_errno(errno);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return KN_EEXISTS;
    }
    return fd; /* held until exit */
}

int kn_broker_run(kn_broker_config_t *cfg) {
    kn_broker_t bs;
    kn_broker_t *b = &bs;
    memset(b, 0, sizeof(*b));
    b->cfg = cfg;
    b->loop = uv_default_loop();
    b->next_producer_id = 0;
    b->pid_block_end = -1; /* the first InitProducerId claims a block */
    kn_log_set_broker(cfg->broker_id);

    kn_log_config_default(&b->logcfg);
    b->logcfg.segment_bytes = cfg->log_segment_bytes;
    b->logcfg.segment_ms = cfg->log_roll_ms;
    b->logcfg.index_interval_bytes = cfg->log_index_interval_bytes;
    b->logcfg.segment_index_bytes = cfg->log_index_size_max_bytes;
    b->logcfg.flush_interval_messages = cfg->log_flush_interval_messages;
    b->logcfg.flush_interval_ms = cfg->log_flush_interval_ms > 0 ? cfg->log_flush_interval_ms : INT64_MAX;

    const char *dirs = cfg->log_dirs;
    size_t dl = strcspn(dirs, ",");
    b->log_dir = kn_strndup(dirs, dl);
    if (strchr(dirs, ','))
        kn_log(KN_LOG_WARN, NULL, "log.dirs lists several directories; this version uses only the first, %s",
               b->log_dir);
    int rc = mkdir_p(b->log_dir);
    if (rc < 0) {
        kn_log(KN_LOG_ERROR, NULL, "cannot create log.dirs %s: %s", b->log_dir, kn_strerror(rc));
        return 1;
    }
    int lockfd = lock_log_dir(b->log_dir);
    if (lockfd < 0) {
        kn_log(KN_LOG_ERROR, NULL, "log directory %s is in use by another broker (lock held)", b->log_dir);
        return 1;
    }
    if (kn_listener_parse(cfg->listeners, b->listen_host, sizeof(b->listen_host), &b->listen_port) != 0 ||
        kn_broker_config_advertised(cfg, b->adv_host, sizeof(b->adv_host), &b->adv_port) != 0) {
        kn_log(KN_LOG_ERROR, NULL, "invalid listeners '%s'", cfg->listeners);
        return 1;
    }
    if ((rc = load_logs(b)) < 0) {
        kn_log(KN_LOG_ERROR, NULL, "cannot load logs from %s: %s", b->log_dir, kn_strerror(rc));
        return 1;
    }

    kn_server_opts_t so = {
        .host = b->listen_host,
        .port = b->listen_port,
        .max_frame_bytes = cfg->socket_request_max_bytes,
        .idle_timeout_ms = cfg->connections_max_idle_ms,
    };
    kn_server_callbacks_t scb = {
        .ud = b,
        .on_accept = kn_client__on_accept,
        .on_frame = kn_client__on_frame,
        .on_close = kn_client__on_close,
    };
    if ((rc = kn_server_listen(b->loop, &so, &scb, &b->server)) < 0) return 1;
    if (kn_metrics__start(b) < 0) return 1;
    b->listen_port = kn_server_port(b->server);
    if (b->adv_port == 0) b->adv_port = b->listen_port;

    kn_cluster_config_t cc = {
        .zk_connect = cfg->zookeeper_connect,
        .session_timeout_ms = cfg->zookeeper_session_timeout_ms,
        .connection_timeout_ms = cfg->zookeeper_connection_timeout_ms,
        .broker_id = cfg->broker_id,
        .advertised_host = b->adv_host,
        .advertised_port = b->adv_port,
        .rack = cfg->broker_rack,
        .default_num_partitions = cfg->num_partitions,
        .default_replication_factor = cfg->default_replication_factor,
        .unclean_leader_election_enable = cfg->unclean_leader_election_enable,
        .auto_leader_rebalance_enable = cfg->auto_leader_rebalance_enable,
        .leader_imbalance_check_interval_seconds = cfg->leader_imbalance_check_interval_seconds,
        .leader_imbalance_per_broker_percentage = cfg->leader_imbalance_per_broker_percentage,
        .controller_socket_timeout_ms = cfg->controller_socket_timeout_ms,
    };
    kn_cluster_callbacks_t ccb = {
        .ud = b,
        .on_ready = on_cluster_ready,
        .on_metadata_changed = on_cluster_changed,
        .on_fatal = on_cluster_fatal,
    };
    if (kn_cluster_new(b->loop, &cc, &ccb, &b->cluster) != 0) {
        kn_log(KN_LOG_ERROR, NULL, "invalid zookeeper.connect '%s'", cfg->zookeeper_connect);
        return 1;
    }

    uv_timer_init(b->loop, &b->tick);
    b->tick.data = b;
    uv_timer_start(&b->tick, tick_cb, KN_TICK_MS, KN_TICK_MS);
    kn_lifecycle__start(b);
    uv_timer_init(b->loop, &b->fetch_timer);
    uv_idle_init(b->loop, &b->wake_idle);
    b->wake_idle.data = b;
    b->fetch_timer.data = b;
    uv_signal_init(b->loop, &b->sigterm);
    b->sigterm.data = b;
    uv_signal_start(&b->sigterm, signal_cb, SIGTERM);
    uv_signal_init(b->loop, &b->sigint);
    b->sigint.data = b;
    uv_signal_start(&b->sigint, signal_cb, SIGINT);
    b->last_flush_ms = b->last_checkpoint_ms = kn_now_ms();

    kn_group__init(b);
    kn_cluster_start(b->cluster);
    uv_run(b->loop, UV_RUN_DEFAULT);

    /* Stopped: close what is left and let the close callbacks run. */
    kn_server_close(b->server);
    kn_replica__shutdown(b); /* anything opened after the first call */
    kn_cluster_free(b->cluster);
    uv_walk(b->loop, close_walk_cb, NULL);
    uv_run(b->loop, UV_RUN_DEFAULT);
    kn_group__free(b);
    kn_lifecycle__free(b);
    while (b->nparts) partition_remove(b, b->nparts - 1, false);
    kn_free(b->parts);
    if (b->exit_code == 0) {
        kn_clean_shutdown_create(b->log_dir);
        kn_log(KN_LOG_INFO, NULL, "clean shutdown complete");
    }
    uv_loop_close(b->loop);
    close(lockfd);
    kn_free(b->log_dir);
    return b->exit_code;
}
