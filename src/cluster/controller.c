/* The ZK-mode controller role: election through /controller and
 * /controller_epoch, and the controller's writes, each a ZooKeeper multi
 * whose first op checks /controller_epoch's zkVersion from our election
 * (fencing: a stale controller's write fails as a whole and it resigns).
 *
 * Duties for now: create missing partition state znodes of new topics,
 * elect a leader for partitions whose leader is not live, and carry out
 * /admin/delete_topics requests. LeaderAndIsr/UpdateMetadata sending,
 * AlterPartition and reassignment belong to the replication work and will
 * hook into kn_cluster__ctrl_reconcile and the state writes below. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cluster_int.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"
#include "kanal/util/time.h"
#include "znode_int.h"

static void elect(kn_cluster_t *c);

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
    for (size_t i = 0; i < c->ntopics; i++) {
        kn_ctopic_t *t = c->topics[i];
        t->del_busy = false;
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
    kn_cluster__mark_dirty(c);
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
    if (id != c->controller_id) {
        kn_log(KN_LOG_INFO, c->ctx, "controller id %" PRId32 " -> %" PRId32, c->controller_id, id);
        c->controller_id = id;
        kn_cluster__mark_dirty(c);
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
        kn_cluster__mark_dirty(c);
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
    return true;
}

/* ---- partition states ---- */

static void state_written(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    kn_ctopic_t *t = kn_cluster__find_topic(c, op->arg);
    int32_t p = op->i1;
    bool mine = t && p < t->npart;
    if (mine) t->pbusy[p] = false;
    if (fenced_out(c, op, r)) return;
    if (r->rc == ZOK && mine) {
        /* Apply what we wrote now; the state watch confirms it. */
        kn_cluster__state_parse(op->arg2, strlen(op->arg2), &t->parts[p]);
        t->parts[p].zk_version = op->i2 == -1 ? 0 : op->mstats[op->nops - 1].version;
        t->pstate[p] = KN_PS_PRESENT;
        kn_cluster__mark_dirty(c);
    } else if (r->rc != ZOK) {
        kn_log(KN_LOG_WARN, c->ctx, "%s-%" PRId32 ": state write failed: %s; will retry after re-reading", op->arg, p,
               zerror(r->rc));
    }
}

static void ignore_exists(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (fenced_out(c, op, r)) return;
    if (r->rc != ZOK && r->rc != ZNODEEXISTS)
        kn_log(KN_LOG_WARN, c->ctx, "creating %s: %s", op->path, zerror(r->rc));
}

static void write_state(kn_cluster_t *c, kn_ctopic_t *t, int32_t p, int32_t leader, int32_t le,
                        const int32_t *isr, int32_t nisr, bool create) {
    char path[400];
    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%" PRId32 "/state", t->name, p);
    kn_zop_t *op = fenced_op(c, state_written, path, 1);
    op->arg = kn_strdup(t->name);
    op->arg2 = kn_cluster__state_json(leader, le, c->ctrl_epoch, isr, nisr);
    op->i1 = p;
    op->i2 = create ? -1 : t->parts[p].zk_version;
    if (create)
        kn_cluster__mop_create(c, op, path, op->arg2, 0);
    else
        kn_cluster__mop_set(c, op, path, op->arg2, t->parts[p].zk_version);
    t->pbusy[p] = true;
    kn_cluster__zmulti(c, op);
}

static bool in_list(const int32_t *a, int32_t n, int32_t v) {
    for (int32_t i = 0; i < n; i++)
        if (a[i] == v) return true;
    return false;
}

static void online_new_partition(kn_cluster_t *c, kn_ctopic_t *t, int32_t p) {
    const kn_partition_state_t *ps = &t->parts[p];
    int32_t live[ps->nreplicas > 0 ? ps->nreplicas : 1], nlive = 0;
    for (int32_t i = 0; i < ps->nreplicas; i++)
        if (kn_cluster__broker_live(c, ps->replicas[i])) live[nlive++] = ps->replicas[i];
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
    write_state(c, t, p, live[0], 0, live, nlive, true);
}

/* Offline election: first replica in assignment order that is live and in
 * the ISR. None: leader -1, ISR kept (Kafka keeps the last ISR). */
static void elect_partition(kn_cluster_t *c, kn_ctopic_t *t, int32_t p) {
    const kn_partition_state_t *ps = &t->parts[p];
    if (ps->leader >= 0 && kn_cluster__broker_live(c, ps->leader)) return;
    int32_t leader = -1;
    for (int32_t i = 0; i < ps->nreplicas && leader < 0; i++)
        if (kn_cluster__broker_live(c, ps->replicas[i]) && in_list(ps->isr, ps->nisr, ps->replicas[i]))
            leader = ps->replicas[i];
    if (leader < 0 && ps->leader < 0) return; /* already offline */
    int32_t isr[ps->nisr > 0 ? ps->nisr : 1], nisr = 0;
    if (leader >= 0) {
        for (int32_t i = 0; i < ps->nisr; i++)
            if (kn_cluster__broker_live(c, ps->isr[i])) isr[nisr++] = ps->isr[i];
    } else {
        memcpy(isr, ps->isr, sizeof(int32_t) * (size_t)ps->nisr);
        nisr = ps->nisr;
    }
    kn_log(KN_LOG_INFO, c->ctx, "%s-%" PRId32 ": leader %" PRId32 " -> %" PRId32 " (leader epoch %" PRId32 ")",
           t->name, p, ps->leader, leader, ps->leader_epoch + 1);
    write_state(c, t, p, leader, ps->leader_epoch + 1, isr, nisr, false);
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

static void delete_topic(kn_cluster_t *c, kn_ctopic_t *t) {
    char path[400];
    t->del_busy = true;
    kn_log(KN_LOG_INFO, c->ctx, "deleting topic %s (%" PRId32 " partition(s))", t->name, t->npart);
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

void kn_cluster__ctrl_reconcile(kn_cluster_t *c) {
    if (!c->is_controller || c->stopping) return;
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
                elect_partition(c, t, p);
        }
    }
}
