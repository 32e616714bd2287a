/* The ZK-mode controller role: election through /controller and
 * /controller_epoch, and the controller's writes, each a ZooKeeper multi
 * whose first op checks /controller_epoch's zkVersion from our election
 * (fencing: a stale controller's write fails as a whole and it resigns).
 *
 * Duties, state-based (kn_cluster__ctrl_reconcile runs after every
 * consistent load of the cache): create the state znodes of new partitions,
 * elect leaders for partitions whose leader died or is shutting down, take
 * dead and shutting-down followers out of ISRs, delete topics after their
 * replicas answered StopReplica. Each state write, once it lands, is told
 * to the brokers through the channel (channel.c): LeaderAndIsr to the
 * replicas, UpdateMetadata to everyone. The pure decisions are in
 * election.c; AlterPartition, ControlledShutdown and ElectLeaders in
 * requests.c. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cluster_int.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"
#include "kanal/util/time.h"
#include "election_int.h"
#include "znode_int.h"

static void elect(kn_cluster_t *c);
static void became_active(kn_cluster_t *c);

static void resign(kn_cluster_t *c, const char *why) {
    kn_cluster__ctrl_reset(c, why);
    kn_cluster__ctrl_start(c);
}

void kn_cluster__ctrl_reset(kn_cluster_t *c, const char *why) {
    if (c->is_controller)
        kn_log(KN_LOG_WARN, c->ctx, "controller: active (epoch %" PRId32 ") -> follower (%s)", c->ctrl_epoch, why);
    c->is_controller = false;
    c->electing = false;
    c->controller_id = -1;
    kn_cluster__chan_close(c);
    kn_cluster__waits_drop(c, 41 /* NOT_CONTROLLER */);
    if (!c->handles_closing) uv_timer_stop(&c->ctrl_tick);
    c->nshut = 0;
    for (size_t i = 0; i < c->ntopics; i++) {
        kn_ctopic_t *t = c->topics[i];
        t->del_busy = false;
        t->del_znodes = false;
        t->del_wait = 0;
        t->parent_ok = false;
        for (int32_t p = 0; p < t->npart; p++) t->pbusy[p] = false;
    }
    kn_cluster__mark_dirty(c);
}

/* True (and resigns) when a fenced multi failed on its epoch check. */
static bool fenced_out(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc == ZOK || op->nops == 0) return false;
    int e0 = op->mres[0].err;
    if (e0 != ZBADVERSION && e0 != ZNONODE) return false;
    if (c->is_controller) resign(c, "controller epoch check failed: another broker was elected");
    return true;
}

static kn_zop_t *fenced_op(kn_cluster_t *c, kn_zop_fn fn, const char *path, int nops) {
    kn_zop_t *op = kn_cluster__op(c, fn, path);
    kn_cluster__mop_init(op, nops + 1);
    kn_cluster__mop_check(c, op, "/controller_epoch", c->ctrl_epoch_zkversion);
    return op;
}

/* ---- election ---- */

static void ctrl_got(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r);

static void ctrl_exists(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    (void)op;
    if (r->rc == ZNONODE) {
        if (c->controller_id != -1) kn_cluster__mark_dirty(c);
        c->controller_id = -1;
        elect(c);
    } else if (r->rc == ZOK) {
        kn_cluster__zget(c, kn_cluster__op(c, ctrl_got, "/controller"), true);
    }
}

void kn_cluster__ctrl_start(kn_cluster_t *c) {
    if (c->stopping) return;
    kn_cluster__zexists(c, kn_cluster__op(c, ctrl_exists, "/controller"), true);
}

static void epoch_adopted(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    (void)op;
    int32_t e;
    if (r->rc != ZOK || kn_cluster__epoch_parse(r->data, r->data ? (size_t)r->datalen : 0, &e) != 0) return;
    if (c->is_controller || c->controller_id != c->broker_id) return;
    c->is_controller = true;
    c->ctrl_epoch = e;
    c->ctrl_epoch_zkversion = r->stat.version;
    kn_log(KN_LOG_INFO, c->ctx, "controller: follower -> active (epoch %" PRId32 ", recovered after a lost reply)", e);
    became_active(c);
}

static void ctrl_got(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    (void)op;
    if (r->rc == ZNONODE) {
        c->controller_id = -1;
        kn_cluster__mark_dirty(c);
        elect(c);
        return;
    }
    if (r->rc != ZOK) return;
    int32_t id;
    if (kn_cluster__controller_parse(r->data, r->data ? (size_t)r->datalen : 0, &id) != 0) {
        kn_log(KN_LOG_WARN, c->ctx, "/controller holds no valid brokerid");
        return;
    }
    if (id != c->controller_id || r->stat.ephemeralOwner != c->controller_owner) {
        if (id != c->controller_id)
            kn_log(KN_LOG_INFO, c->ctx, "controller id %" PRId32 " -> %" PRId32, c->controller_id, id);
        c->controller_id = id;
        c->controller_owner = r->stat.ephemeralOwner;
        kn_cluster__mark_dirty(c); /* the notify pass also points the controller probe at it */
    }
    if (c->is_controller && id != c->broker_id) {
        resign(c, "another broker holds /controller");
    } else if (!c->is_controller && !c->electing && id == c->broker_id &&
               r->stat.ephemeralOwner == c->session_id) {
        /* Our election multi was applied but its reply was lost: adopt it,
         * taking the epoch and its zkVersion as they are now. */
        kn_cluster__zget(c, kn_cluster__op(c, epoch_adopted, "/controller_epoch"), false);
    } else if (!c->is_controller && id == c->broker_id) {
        kn_log(KN_LOG_INFO, c->ctx,
               "/controller names this broker but belongs to session 0x%" PRIx64 " (before a restart?); "
               "waiting for it to expire",
               (uint64_t)r->stat.ephemeralOwner);
    }
}

static void elect_done(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    c->electing = false;
    if (r->rc == ZOK) {
        c->is_controller = true;
        c->ctrl_epoch = op->i1;
        c->ctrl_epoch_zkversion = op->mstats[1].version;
        c->controller_id = c->broker_id;
        kn_log(KN_LOG_INFO, c->ctx,
               "controller: follower -> active (epoch %" PRId32 ", /controller_epoch zkVersion %" PRId32 ")",
               c->ctrl_epoch, c->ctrl_epoch_zkversion);
        became_active(c);
        kn_cluster__ctrl_start(c); /* keep a watch on /controller */
    } else if (r->rc == ZNODEEXISTS || r->rc == ZBADVERSION) {
        kn_log(KN_LOG_INFO, c->ctx, "controller election lost (%s); following", zerror(r->rc));
        kn_cluster__ctrl_start(c);
    } else {
        kn_log(KN_LOG_WARN, c->ctx, "controller election failed: %s", zerror(r->rc));
        /* connection errors: the resync on reconnect runs ctrl_start again */
        if (!kn_cluster__conn_err(r->rc)) kn_cluster__ctrl_start(c);
    }
}

static void epoch_read(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r);

static void epoch_created(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    (void)op;
    if (r->rc == ZOK || r->rc == ZNODEEXISTS) {
        kn_cluster__zget(c, kn_cluster__op(c, epoch_read, "/controller_epoch"), false);
    } else {
        c->electing = false;
        kn_log(KN_LOG_WARN, c->ctx, "creating /controller_epoch: %s", zerror(r->rc));
    }
}

static void epoch_read(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    (void)op;
    if (r->rc == ZNONODE) {
        /* First election ever: the epoch starts at 0, the winner makes it 1. */
        kn_cluster__zcreate(c, kn_cluster__op(c, epoch_created, "/controller_epoch"), "0", 0);
        return;
    }
    int32_t e;
    if (r->rc != ZOK || kn_cluster__epoch_parse(r->data, r->data ? (size_t)r->datalen : 0, &e) != 0) {
        c->electing = false;
        kn_log(KN_LOG_WARN, c->ctx, "reading /controller_epoch: %s",
               r->rc != ZOK ? zerror(r->rc) : "not a decimal number");
        return;
    }
    kn_zop_t *m = kn_cluster__op(c, elect_done, "/controller");
    kn_cluster__mop_init(m, 2);
    char *json = kn_cluster__controller_json(c->broker_id, kn_now_ms());
    char buf[16];
    snprintf(buf, sizeof(buf), "%" PRId32, e + 1);
    kn_cluster__mop_create(c, m, "/controller", json, ZOO_EPHEMERAL);
    kn_cluster__mop_set(c, m, "/controller_epoch", buf, r->stat.version);
    kn_free(json);
    m->i1 = e + 1;
    kn_cluster__zmulti(c, m);
}

static void elect(kn_cluster_t *c) {
    if (c->electing || c->is_controller || c->stopping || c->boot != KN_BOOT_REGISTERED) return;
    c->electing = true;
    kn_cluster__zget(c, kn_cluster__op(c, epoch_read, "/controller_epoch"), false);
}

void kn_cluster__ctrl_on_event(kn_cluster_t *c, int type) {
    if (type == ZOO_DELETED_EVENT && c->is_controller) resign(c, "/controller was deleted");
    else kn_cluster__ctrl_start(c);
}

bool kn_cluster__ctrl_stop(kn_cluster_t *c, kn_zop_fn done) {
    if (!c->is_controller) return false;
    kn_zop_t *op = fenced_op(c, done, "/controller", 1);
    kn_cluster__mop_delete(c, op, "/controller", -1);
    kn_cluster__zmulti(c, op);
    c->is_controller = false;
    kn_cluster__chan_close(c);
    kn_cluster__waits_drop(c, 41 /* NOT_CONTROLLER */);
    return true;
}

/* ---- the controller's view of brokers ---- */

static bool shutting(const kn_cluster_t *c, int32_t id) {
    for (size_t i = 0; i < c->nshut; i++)
        if (c->shut_ids[i] == id) return true;
    return false;
}

/* Registered, and not cut off by the channel's probe (its process is
 * gone but its session has not expired yet): such a broker is handled as if
 * its registration had expired. */
static bool ctrl_live(const kn_cluster_t *c, int32_t id) {
    if (!kn_cluster__broker_live(c, id)) return false;
    for (size_t i = 0; i < c->nbrokers; i++)
        if (c->brokers[i].id == id && c->brokers[i].loaded)
            return !kn_cluster__chan_cut(c, id, c->brokers[i].meta.epoch);
    return true;
}

void kn_cluster__live_sets(const kn_cluster_t *c, int32_t *elig_ids, int64_t *elig_ep, int32_t *nelig,
                           int32_t *reg_ids, int64_t *reg_ep, int32_t *nreg) {
    *nelig = *nreg = 0;
    for (size_t i = 0; i < c->nbrokers; i++) {
        const kn_cbroker_t *b = &c->brokers[i];
        if (b->loaded && kn_cluster__chan_cut(c, b->id, b->meta.epoch)) continue;
        int64_t ep = b->loaded ? b->meta.epoch : -1;
        reg_ids[*nreg] = b->id;
        reg_ep[(*nreg)++] = ep;
        if (shutting(c, b->id)) continue;
        elig_ids[*nelig] = b->id;
        elig_ep[(*nelig)++] = ep;
    }
}

static bool truthy(const char *v) { return v && !strcasecmp(v, "true"); }

bool kn_cluster__unclean_for(const kn_cluster_t *c, const kn_ctopic_t *t) {
    for (size_t i = 0; i < t->ncfg; i++)
        if (!strcmp(t->cfg_keys[i], "unclean.leader.election.enable")) return truthy(t->cfg_vals[i]);
    return c->unclean_default;
}

/* Shutting-down entries end with the registration they were made for. */
static void prune_shutting(kn_cluster_t *c) {
    for (size_t i = 0; i < c->nshut;) {
        bool keep = false;
        for (size_t k = 0; k < c->nbrokers; k++)
            if (c->brokers[k].id == c->shut_ids[i] && c->brokers[k].meta.epoch == c->shut_epochs[i]) keep = true;
        if (keep) {
            i++;
            continue;
        }
        kn_log(KN_LOG_INFO, c->ctx, "controller: broker %" PRId32 " finished its controlled shutdown",
               c->shut_ids[i]);
        c->shut_ids[i] = c->shut_ids[c->nshut - 1];
        c->shut_epochs[i] = c->shut_epochs[c->nshut - 1];
        c->nshut--;
    }
}

static void tick_cb(uv_timer_t *h);

static void became_active(kn_cluster_t *c) {
    /* A new controller knows nothing of in-flight requests: every broker
     * gets the whole picture (UpdateMetadata, then LeaderAndIsr for all its
     * partitions) from the first reconcile's channel sync. */
    kn_cluster__chan_open(c);
    c->next_rebalance_ms = kn_now_ms() + c->imbalance_check_ms;
    uv_timer_start(&c->ctrl_tick, tick_cb, 250, 250);
    kn_cluster__mark_dirty(c);
}

/* ---- partition states ---- */

static int16_t write_err(kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc == ZOK) return 0;
    if (op->nops > 0 && op->mres[0].err != ZOK && op->mres[0].err != ZRUNTIMEINCONSISTENCY) return 41;
    if (op->nops > 1 && (op->mres[1].err == ZBADVERSION || op->mres[1].err == ZNONODE)) return 95;
    return kn_cluster__conn_err(r->rc) ? 7 : -1;
}

static bool in_list(const int32_t *a, int32_t n, int32_t v) {
    for (int32_t i = 0; i < n; i++)
        if (a[i] == v) return true;
    return false;
}

/* Tell the brokers about a state we just wrote. */
static void announce(kn_cluster_t *c, kn_ctopic_t *t, int32_t p, bool lair, bool is_new) {
    const kn_partition_state_t *ps = &t->parts[p];
    if (lair) {
        for (int32_t i = 0; i < ps->nreplicas; i++) {
            int32_t r = ps->replicas[i];
            if (!ctrl_live(c, r)) continue;
            if (shutting(c, r) && r != ps->leader && !in_list(ps->isr, ps->nisr, r))
                kn_cluster__chan_stop(c, r, t->name, p, false); /* Kafka: OfflineReplica */
            else
                kn_cluster__chan_lair(c, r, t->name, p, is_new);
        }
    }
    kn_cluster__chan_um(c, t->name, p);
}

static void state_written(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    kn_ctopic_t *t = kn_cluster__find_topic(c, op->arg);
    int32_t p = op->i1;
    bool mine = t && p < t->npart;
    if (mine) t->pbusy[p] = false;
    int16_t err = write_err(op, r);
    kn_cluster_done_cb done = op->ucb;
    op->ucb = NULL;
    if (fenced_out(c, op, r)) {
        if (done) done(op->uud, 41, "fenced");
        return;
    }
    if (r->rc == ZOK && mine) {
        /* Apply what we wrote now; the state watch confirms it. */
        kn_cluster__state_parse(op->arg2, strlen(op->arg2), &t->parts[p]);
        t->parts[p].zk_version = op->i2 == -1 ? 0 : op->mstats[op->nops - 1].version;
        t->pstate[p] = KN_PS_PRESENT;
        kn_cluster__mark_dirty(c);
        announce(c, t, p, op->i3 != 0, op->i2 == -1);
    } else if (r->rc != ZOK) {
        kn_log(KN_LOG_WARN, c->ctx, "%s-%" PRId32 ": state write failed: %s; will retry after re-reading", op->arg, p,
               zerror(r->rc));
        if (t && mine && err == 95) {
            /* Someone else wrote it (an old controller's late write, by
             * hand): re-read before deciding again. */
            kn_cluster__mark_dirty(c);
        }
    }
    if (done) done(op->uud, mine || err ? err : 3, "");
    kn_cluster__waits_poke(c);
}

static void ignore_exists(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (fenced_out(c, op, r)) return;
    if (r->rc != ZOK && r->rc != ZNODEEXISTS)
        kn_log(KN_LOG_WARN, c->ctx, "creating %s: %s", op->path, zerror(r->rc));
}

static void write_state_op(kn_cluster_t *c, kn_ctopic_t *t, int32_t p, int32_t leader, int32_t le,
                           const int32_t *isr, int32_t nisr, bool create, bool lair, kn_cluster_done_cb done,
                           void *ud) {
    char path[400];
    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%" PRId32 "/state", t->name, p);
    kn_zop_t *op = fenced_op(c, state_written, path, 1);
    op->arg = kn_strdup(t->name);
    op->arg2 = kn_cluster__state_json(leader, le, c->ctrl_epoch, isr, nisr);
    op->i1 = p;
    op->i2 = create ? -1 : t->parts[p].zk_version;
    op->i3 = lair;
    op->ucb = done;
    op->uud = ud;
    if (create)
        kn_cluster__mop_create(c, op, path, op->arg2, 0);
    else
        kn_cluster__mop_set(c, op, path, op->arg2, t->parts[p].zk_version);
    t->pbusy[p] = true;
    kn_cluster__zmulti(c, op);
}

void kn_cluster__write_state(kn_cluster_t *c, kn_ctopic_t *t, int32_t p, int32_t leader, int32_t le,
                             const int32_t *isr, int32_t nisr, bool lair, kn_cluster_done_cb done, void *ud) {
    write_state_op(c, t, p, leader, le, isr, nisr, false, lair, done, ud);
}

static void online_new_partition(kn_cluster_t *c, kn_ctopic_t *t, int32_t p) {
    const kn_partition_state_t *ps = &t->parts[p];
    int32_t live[ps->nreplicas > 0 ? ps->nreplicas : 1], nlive = 0;
    for (int32_t i = 0; i < ps->nreplicas; i++)
        if (ctrl_live(c, ps->replicas[i]) && !shutting(c, ps->replicas[i]))
            live[nlive++] = ps->replicas[i];
    if (nlive == 0) return; /* stays offline until a replica is live */
    char path[400];
    if (!t->parent_ok) {
        snprintf(path, sizeof(path), "/brokers/topics/%s/partitions", t->name);
        kn_zop_t *op = fenced_op(c, ignore_exists, path, 1);
        kn_cluster__mop_create(c, op, path, NULL, 0);
        kn_cluster__zmulti(c, op);
        t->parent_ok = true;
    }
    /* Issued in order on one session: the parents exist before the state. */
    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%" PRId32, t->name, p);
    kn_zop_t *op = fenced_op(c, ignore_exists, path, 1);
    kn_cluster__mop_create(c, op, path, NULL, 0);
    kn_cluster__zmulti(c, op);
    kn_log(KN_LOG_INFO, c->ctx, "%s-%" PRId32 ": new partition online, leader %" PRId32, t->name, p, live[0]);
    write_state_op(c, t, p, live[0], 0, live, nlive, true, true, NULL, NULL);
}

/* Dead or shutting-down brokers: leaders re-elected, followers out of the
 * ISR (election.c decides). */
static void repair_partition(kn_cluster_t *c, kn_ctopic_t *t, int32_t p, const kn_brokerset_t *elig,
                             const kn_brokerset_t *reg) {
    const kn_partition_state_t *ps = &t->parts[p];
    int32_t n = ps->nreplicas > ps->nisr ? ps->nreplicas : ps->nisr;
    int32_t isr[n > 0 ? n : 1];
    kn_lisr_t d = {.isr = isr};
    if (!kn_cluster__offline_decision(ps, elig, reg, kn_cluster__unclean_for(c, t), &d)) return;
    if (d.leader != ps->leader)
        kn_log(KN_LOG_INFO, c->ctx, "%s-%" PRId32 ": leader %" PRId32 " -> %" PRId32 " (leader epoch %" PRId32 "%s)",
               t->name, p, ps->leader, d.leader, d.leader_epoch,
               d.leader < 0                              ? "; offline: no live ISR member"
               : !in_list(ps->isr, ps->nisr, d.leader) ? "; UNCLEAN: not in the ISR"
                                                         : "");
    else
        kn_log(KN_LOG_INFO, c->ctx, "%s-%" PRId32 ": ISR shrinks from %" PRId32 " to %" PRId32
               " member(s): followers gone or shutting down (leader epoch %" PRId32 ")",
               t->name, p, ps->nisr, d.nisr, d.leader_epoch);
    write_state_op(c, t, p, d.leader, d.leader_epoch, d.isr, d.nisr, false, true, NULL, NULL);
}

/* ---- topic deletion ---- */

static void del_step(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (fenced_out(c, op, r)) return;
    if (r->rc != ZOK && r->rc != ZNONODE) {
        kn_log(KN_LOG_WARN, c->ctx, "topic deletion: removing %s: %s", op->path, zerror(r->rc));
        op->i2 = 1;
    }
    if (op->i1) { /* the marker, last */
        if (r->rc == ZOK) kn_log(KN_LOG_INFO, c->ctx, "deleted topic %s", op->arg ? op->arg : op->path);
    }
}

static void fenced_delete(kn_cluster_t *c, const char *path, bool last, const char *topic) {
    kn_zop_t *op = fenced_op(c, del_step, path, 1);
    kn_cluster__mop_delete(c, op, path, -1);
    op->i1 = last;
    if (topic) op->arg = kn_strdup(topic);
    kn_cluster__zmulti(c, op);
}

static void delete_znodes(kn_cluster_t *c, kn_ctopic_t *t) {
    char path[400];
    t->del_znodes = true;
    /* Children first, each alone so a missing one does not stop the rest;
     * one session applies them in order. */
    for (int32_t p = 0; p < t->npart; p++) {
        snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%" PRId32 "/state", t->name, p);
        fenced_delete(c, path, false, NULL);
        snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%" PRId32, t->name, p);
        fenced_delete(c, path, false, NULL);
    }
    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions", t->name);
    fenced_delete(c, path, false, NULL);
    snprintf(path, sizeof(path), "/brokers/topics/%s", t->name);
    fenced_delete(c, path, false, NULL);
    snprintf(path, sizeof(path), "/config/topics/%s", t->name);
    fenced_delete(c, path, false, NULL);
    snprintf(path, sizeof(path), "/admin/delete_topics/%s", t->name);
    fenced_delete(c, path, true, t->name);
}

void kn_cluster__ctrl_stop_acked(kn_cluster_t *c, const char *topic) {
    kn_ctopic_t *t = kn_cluster__find_topic(c, topic);
    if (!t || !t->del_busy || t->del_znodes || !c->is_controller) return;
    if (t->del_wait > 0) t->del_wait--;
    if (t->del_wait == 0) {
        kn_log(KN_LOG_INFO, c->ctx, "topic %s: every replica answered StopReplica; removing its znodes", t->name);
        delete_znodes(c, t);
    }
}

/* Kafka's order: UpdateMetadata with LeaderDuringDelete so nobody routes to
 * the topic, StopReplica(delete) to every replica, and the znodes once all
 * answered (or after delete_timeout_ms: a dead replica deletes its stray
 * log when it comes back and no longer finds the topic). */
static void delete_topic(kn_cluster_t *c, kn_ctopic_t *t) {
    t->del_busy = true;
    t->del_znodes = false;
    t->del_wait = 0;
    t->del_deadline = kn_now_ms() + c->delete_timeout_ms;
    kn_log(KN_LOG_INFO, c->ctx, "deleting topic %s (%" PRId32 " partition(s)): StopReplica to its replicas", t->name,
           t->npart);
    kn_cluster__chan_um(c, t->name, -1);
    for (int32_t p = 0; p < t->npart; p++)
        for (int32_t i = 0; i < t->parts[p].nreplicas; i++)
            if (ctrl_live(c, t->parts[p].replicas[i])) t->del_wait++;
    /* Counted first: a replica without a channel acknowledges at once. */
    t->del_wait++;
    for (int32_t p = 0; p < t->npart; p++)
        for (int32_t i = 0; i < t->parts[p].nreplicas; i++)
            if (ctrl_live(c, t->parts[p].replicas[i]))
                kn_cluster__chan_stop(c, t->parts[p].replicas[i], t->name, p, true);
    kn_cluster__ctrl_stop_acked(c, t->name); /* the extra count */
}

static void tick_cb(uv_timer_t *h) {
    kn_cluster_t *c = h->data;
    if (!c->is_controller || c->stopping) return;
    int64_t now = kn_now_ms();
    for (size_t i = 0; i < c->ntopics; i++) {
        kn_ctopic_t *t = c->topics[i];
        if (t->del_busy && !t->del_znodes && now >= t->del_deadline) {
            kn_log(KN_LOG_WARN, c->ctx,
                   "topic %s: %" PRId32 " StopReplica answer(s) missing after %" PRId32 " ms; removing its znodes",
                   t->name, t->del_wait, c->delete_timeout_ms);
            delete_znodes(c, t);
        }
    }
    if (c->auto_rebalance && now >= c->next_rebalance_ms) {
        c->next_rebalance_ms = now + c->imbalance_check_ms;
        kn_cluster__rebalance(c);
    }
    kn_cluster__waits_poke(c);
}

void kn_cluster__ctrl_reconcile(kn_cluster_t *c) {
    if (!c->is_controller || c->stopping) return;
    prune_shutting(c);
    kn_cluster__chan_sync(c);
    if (c->marks_fresh) {
        c->marks_fresh = false;
        for (size_t i = 0; i < c->ndel_marks; i++) {
            if (kn_cluster__find_topic(c, c->del_marks[i])) continue;
            char path[300];
            snprintf(path, sizeof(path), "/admin/delete_topics/%s", c->del_marks[i]);
            kn_log(KN_LOG_INFO, c->ctx, "dropping deletion marker of unknown topic %s", c->del_marks[i]);
            fenced_delete(c, path, false, NULL);
        }
    }
    size_t nb = c->nbrokers ? c->nbrokers : 1;
    int32_t eids[nb], rids[nb];
    int64_t eep[nb], rep[nb];
    kn_brokerset_t elig = {eids, eep, 0}, reg = {rids, rep, 0};
    kn_cluster__live_sets(c, eids, eep, &elig.n, rids, rep, &reg.n);
    for (size_t i = 0; i < c->ntopics; i++) {
        kn_ctopic_t *t = c->topics[i];
        if (!t->have_assign) continue;
        if (t->deleting) {
            if (!t->del_busy) delete_topic(c, t);
            continue;
        }
        for (int32_t p = 0; p < t->npart; p++) {
            if (t->pbusy[p]) continue;
            if (t->pstate[p] == KN_PS_ABSENT)
                online_new_partition(c, t, p);
            else if (t->pstate[p] == KN_PS_PRESENT)
                repair_partition(c, t, p, &elig, &reg);
        }
    }
    kn_cluster__waits_poke(c);
}
