/* Config and partition administration over ZooKeeper, as Kafka's ZK mode:
 *
 *  - kn_cluster_alter_config: read-modify-write of /config/<type>/<name>
 *    (AlterConfigs, IncrementalAlterConfigs; any broker may do it, as
 *    Kafka's AdminManager does), conditional on the znode's version, in one
 *    multi with the /config/changes/config_change_<seq> notification.
 *  - kn_cluster_create_partitions: the controller rewrites
 *    /brokers/topics/<t> with the extra partitions (conditional on its
 *    version, fenced by /controller_epoch); the controller's reconcile then
 *    creates their state znodes like for a new topic.
 *  - the dynamic broker config cache: /config/brokers/<our id> and
 *    /config/brokers/<default>, data-watched (exists-watched while absent).
 *
 * Brokers here apply config changes from the watches on the config znodes
 * themselves (cluster.c, below); the notification is written for Kafka's
 * tools and mixed clusters. Everything runs on the loop thread. */
#include <inttypes.h>
#include <jansson.h>
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

enum {
    KERR_UNKNOWN = -1,
    KERR_UNKNOWN_TOPIC = 3,
    KERR_TIMED_OUT = 7,
    KERR_INVALID_TOPIC = 17,
    KERR_INVALID_PARTITIONS = 37,
    KERR_INVALID_RF = 38,
    KERR_INVALID_ASSIGNMENT = 39,
    KERR_NOT_CONTROLLER = 41,
};

/* Concurrent writers: re-read and redo the edit at most this many times. */
#define MAX_TRIES 5

/* Kafka's brokers delete notifications older than 15 minutes while they
 * process them; Kanal's do not process them, so the writer purges, at most
 * once a minute. */
#define NOTE_MAX_AGE_MS (15 * 60 * 1000)
#define PURGE_EVERY_MS (60 * 1000)

struct kn_admin_ext_s {
    char **keys[2], **vals[2]; /* [0] <default>, [1] our broker id */
    size_t n[2];
    int64_t last_purge_ms;
};

static kn_admin_ext_t *ext_of(kn_cluster_t *c) {
    if (!c->ext) c->ext = kn_calloc(1, sizeof(*c->ext));
    return c->ext;
}

/* ---- completions posted through the queue (never inside the caller) ---- */

static void posted_done(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    (void)c;
    (void)r;
    kn_cluster_done_cb cb = op->ucb;
    op->ucb = NULL;
    if (cb) cb(op->uud, (int16_t)op->i1, op->arg ? op->arg : "");
}

static void post_done(kn_cluster_t *c, kn_cluster_done_cb cb, void *ud, int16_t err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void post_done(kn_cluster_t *c, kn_cluster_done_cb cb, void *ud, int16_t err, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kn_zop_t *d = kn_cluster__op(c, posted_done, "");
    d->ucb = cb;
    d->uud = ud;
    d->i1 = err;
    d->arg = kn_strdup(msg);
    kn_cluster__post(c, d, ZOK);
}

static int16_t zk_err(int rc) { return kn_cluster__conn_err(rc) ? KERR_TIMED_OUT : KERR_UNKNOWN; }

/* ---- dynamic broker configs ---- */

static void bcfg_exists(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r);

static kn_zop_t *counted_op(kn_cluster_t *c, kn_zop_fn fn, const char *path) {
    kn_zop_t *op = kn_cluster__op(c, fn, path);
    op->counted = true; /* the snapshot waits for it, like the rest of a load */
    c->load_pending++;
    return op;
}

static void bcfg_set(kn_cluster_t *c, int slot, char **k, char **v, size_t n) {
    kn_admin_ext_t *x = ext_of(c);
    kn_cluster__config_free(x->keys[slot], x->vals[slot], x->n[slot]);
    x->keys[slot] = k;
    x->vals[slot] = v;
    x->n[slot] = n;
    kn_cluster__mark_dirty(c);
}

static void bcfg_got(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    int slot = op->i1;
    if (r->rc == ZOK) {
        char **k, **v;
        size_t n;
        if (kn_cluster__config_parse(r->data, r->data ? (size_t)r->datalen : 0, &k, &v, &n) != 0) {
            kn_log(KN_LOG_WARN, c->ctx, "%s: cannot parse the dynamic broker config; ignoring it", op->path);
            return;
        }
        bcfg_set(c, slot, k, v, n);
    } else if (r->rc == ZNONODE) {
        bcfg_set(c, slot, NULL, NULL, 0);
        kn_zop_t *e = counted_op(c, bcfg_exists, op->path);
        e->i1 = slot;
        kn_cluster__zexists(c, e, true);
    }
}

static void bcfg_get(kn_cluster_t *c, int slot) {
    char path[64];
    if (slot == 0)
        snprintf(path, sizeof(path), "/config/brokers/<default>");
    else
        snprintf(path, sizeof(path), "/config/brokers/%" PRId32, c->broker_id);
    kn_zop_t *op = counted_op(c, bcfg_got, path);
    op->i1 = slot;
    kn_cluster__zget(c, op, true);
}

static void bcfg_exists(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc == ZOK) bcfg_get(c, op->i1); /* created meanwhile */
}

void kn_cluster__ext_load(kn_cluster_t *c) {
    bcfg_get(c, 0);
    bcfg_get(c, 1);
}

void kn_cluster__ext_event(kn_cluster_t *c, const char *name) {
    char id[16];
    snprintf(id, sizeof(id), "%" PRId32, c->broker_id);
    if (!strcmp(name, "<default>"))
        bcfg_get(c, 0);
    else if (!strcmp(name, id))
        bcfg_get(c, 1);
}

void kn_cluster__ext_free(kn_cluster_t *c) {
    if (!c->ext) return;
    for (int i = 0; i < 2; i++) kn_cluster__config_free(c->ext->keys[i], c->ext->vals[i], c->ext->n[i]);
    kn_free(c->ext);
    c->ext = NULL;
}

size_t kn_cluster_broker_configs(const kn_cluster_t *c, bool per_broker, const char *const **keys,
                                 const char *const **values) {
    *keys = *values = NULL;
    if (!c->ext) return 0;
    int slot = per_broker ? 1 : 0;
    if (c->ext->n[slot] == 0) return 0;
    *keys = (const char *const *)c->ext->keys[slot];
    *values = (const char *const *)c->ext->vals[slot];
    return c->ext->n[slot];
}

/* ---- /config/changes purge ---- */

static void note_deleted(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc != ZOK && r->rc != ZNONODE)
        kn_log(KN_LOG_WARN, c->ctx, "purging %s: %s", op->path, zerror(r->rc));
}

static void note_stat(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    if (r->rc != ZOK || !r->has_stat || r->stat.ctime > kn_now_ms() - NOTE_MAX_AGE_MS) return;
    kn_cluster__zdelete(c, kn_cluster__op(c, note_deleted, op->path), r->stat.version);
}

static void notes_listed(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    (void)op;
    if (r->rc != ZOK) return;
    for (int i = 0; i < r->nkids; i++) {
        if (strncmp(r->kids[i], "config_change_", 14) != 0) continue;
        char path[128];
        snprintf(path, sizeof(path), "/config/changes/%s", r->kids[i]);
        kn_cluster__zexists(c, kn_cluster__op(c, note_stat, path), false);
    }
}

static void maybe_purge_notes(kn_cluster_t *c) {
    kn_admin_ext_t *x = ext_of(c);
    int64_t now = kn_now_ms();
    if (now - x->last_purge_ms < PURGE_EVERY_MS) return;
    x->last_purge_ms = now;
    kn_cluster__zchildren(c, kn_cluster__op(c, notes_listed, "/config/changes"), false);
}

/* ---- AlterConfigs / IncrementalAlterConfigs ---- */

typedef struct cfg_alter_s {
    kn_cluster_config_edit_fn edit;
    kn_cluster_done_cb done;
    void *ud;
    char *entity; /* "topics/orders", "brokers/<default>" */
    bool validate_only;
    int tries;
} cfg_alter_t;

/* ucb of every op of an alteration: also reached when an op is dropped with
 * the session (error 7). */
static void alter_finish(void *ud, int16_t err, const char *msg) {
    cfg_alter_t *a = ud;
    a->done(a->ud, err, msg);
    kn_free(a->entity);
    kn_free(a);
}

static void alter_read(kn_cluster_t *c, cfg_alter_t *a);

static char *notification_json(const char *entity) {
    json_t *j = json_pack("{s:i,s:s}", "version", 2, "entity_path", entity);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char *r = kn_strdup(s ? s : "");
    free(s);
    return r;
}

static void alter_written(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    cfg_alter_t *a = op->uud;
    if (r->rc == ZOK) {
        kn_log(KN_LOG_INFO, c->ctx, "config of %s written (%s); change notification queued", a->entity, op->arg);
        op->ucb = NULL;
        alter_finish(a, 0, "");
        maybe_purge_notes(c);
        return;
    }
    int e0 = op->nops > 0 ? op->mres[0].err : r->rc;
    if ((e0 == ZBADVERSION || e0 == ZNODEEXISTS || e0 == ZNONODE) && a->tries < MAX_TRIES) {
        /* Another writer got there first: redo the edit on what it wrote. */
        kn_dbg(KN_DBG_ZK, c->ctx, "config of %s changed under us (%s); re-reading", a->entity, zerror(e0));
        op->ucb = NULL;
        alter_read(c, a);
        return;
    }
    op->ucb = NULL;
    char msg[256];
    snprintf(msg, sizeof(msg), "writing /config/%s: %s", a->entity, zerror(r->rc));
    alter_finish(a, zk_err(r->rc), msg);
}

static void alter_got(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    cfg_alter_t *a = op->uud;
    op->ucb = NULL; /* from here a continues in a new op, or finishes */
    char **k = NULL, **v = NULL;
    size_t n = 0;
    int version = -1;
    if (r->rc == ZOK) {
        if (kn_cluster__config_parse(r->data, r->data ? (size_t)r->datalen : 0, &k, &v, &n) != 0) {
            char msg[256];
            snprintf(msg, sizeof(msg), "/config/%s holds no valid config JSON", a->entity);
            alter_finish(a, KERR_UNKNOWN, msg);
            return;
        }
        version = r->stat.version;
    } else if (r->rc != ZNONODE) {
        char msg[256];
        snprintf(msg, sizeof(msg), "reading /config/%s: %s", a->entity, zerror(r->rc));
        alter_finish(a, zk_err(r->rc), msg);
        return;
    }
    kn_cluster_config_map_t cur = {(const char *const *)k, (const char *const *)v, n}, out = {NULL, NULL, 0};
    char msg[512] = "";
    int16_t err = a->edit(a->ud, &cur, &out, msg, sizeof(msg));
    if (err || a->validate_only) {
        kn_cluster__config_free(k, v, n);
        alter_finish(a, err, msg);
        return;
    }
    char *json = kn_cluster__config_json(out.keys, out.values, out.n);
    char *note = notification_json(a->entity);
    char path[300];
    snprintf(path, sizeof(path), "/config/%s", a->entity);
    kn_zop_t *w = kn_cluster__op(c, alter_written, path);
    w->ucb = alter_finish;
    w->uud = a;
    w->arg = kn_strdup(json);
    kn_cluster__mop_init(w, 2);
    if (version >= 0)
        kn_cluster__mop_set(c, w, path, json, version);
    else
        kn_cluster__mop_create(c, w, path, json, 0);
    kn_cluster__mop_create(c, w, "/config/changes/config_change_", note, ZOO_PERSISTENT_SEQUENTIAL);
    kn_free(json);
    kn_free(note);
    kn_cluster__config_free(k, v, n);
    a->tries++;
    kn_cluster__zmulti(c, w);
}

static void alter_read(kn_cluster_t *c, cfg_alter_t *a) {
    char path[300];
    snprintf(path, sizeof(path), "/config/%s", a->entity);
    kn_zop_t *op = kn_cluster__op(c, alter_got, path);
    op->ucb = alter_finish;
    op->uud = a;
    kn_cluster__zget(c, op, false);
}

int kn_cluster_alter_config(kn_cluster_t *c, const char *entity_type, const char *entity_name, bool validate_only,
                            kn_cluster_config_edit_fn edit, kn_cluster_done_cb done, void *ud) {
    if (c->stopping || !edit || !done) return KN_ESTATE;
    if (strcmp(entity_type, "topics") && strcmp(entity_type, "brokers")) return KN_EINVAL;
    if (!entity_name[0] || strchr(entity_name, '/') || strlen(entity_name) > 255) return KN_EINVAL;
    cfg_alter_t *a = kn_calloc(1, sizeof(*a));
    a->edit = edit;
    a->done = done;
    a->ud = ud;
    a->validate_only = validate_only;
    size_t len = strlen(entity_type) + 1 + strlen(entity_name) + 1;
    a->entity = kn_malloc(len);
    snprintf(a->entity, len, "%s/%s", entity_type, entity_name);
    alter_read(c, a);
    return 0;
}

/* ---- CreatePartitions ---- */

typedef struct part_add_s {
    kn_cluster_done_cb done;
    void *ud;
    char *topic;
    int32_t count;
    int32_t nassign;  /* -1: none given */
    int32_t *alen;    /* replicas per given assignment */
    int32_t **assign; /* nassign lists */
    bool validate_only;
    int tries;
} part_add_t;

static void part_add_free(part_add_t *pa) {
    for (int32_t i = 0; i < pa->nassign; i++) kn_free(pa->assign[i]);
    kn_free(pa->assign);
    kn_free(pa->alen);
    kn_free(pa->topic);
    kn_free(pa);
}

static void parts_finish(void *ud, int16_t err, const char *msg) {
    part_add_t *pa = ud;
    pa->done(pa->ud, err, msg);
    part_add_free(pa);
}

static void parts_read(kn_cluster_t *c, part_add_t *pa);

static void parts_written(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    part_add_t *pa = op->uud;
    op->ucb = NULL;
    if (r->rc == ZOK) {
        kn_log(KN_LOG_INFO, c->ctx, "topic %s: assignment grown to %" PRId32 " partitions (CreatePartitions)",
               pa->topic, pa->count);
        parts_finish(pa, 0, "");
        return;
    }
    int e0 = op->nops > 0 ? op->mres[0].err : r->rc;
    int e1 = op->nops > 1 ? op->mres[1].err : r->rc;
    if (e0 != ZOK && e0 != ZRUNTIMEINCONSISTENCY) {
        parts_finish(pa, KERR_NOT_CONTROLLER, "controller epoch changed: this broker is no longer the controller");
    } else if (e1 == ZBADVERSION && pa->tries < MAX_TRIES) {
        parts_read(c, pa); /* the controller added a topic id, or another writer */
    } else if (e1 == ZNONODE) {
        char msg[300];
        snprintf(msg, sizeof(msg), "The topic '%s' does not exist.", pa->topic);
        parts_finish(pa, KERR_UNKNOWN_TOPIC, msg);
    } else {
        char msg[300];
        snprintf(msg, sizeof(msg), "writing /brokers/topics/%s: %s", pa->topic, zerror(r->rc));
        parts_finish(pa, zk_err(r->rc), msg);
    }
}

static bool has_id(const int32_t *a, int32_t n, int32_t v) {
    for (int32_t i = 0; i < n; i++)
        if (a[i] == v) return true;
    return false;
}

/* Kafka's checks of a given assignment (AdminZkClient.validateReplicaAssignment
 * and ZkAdminManager.createPartitions). Returns 0 or a Kafka error. */
static int16_t check_assignment(const kn_cluster_t *c, const part_add_t *pa, int32_t oldn, int32_t rf, char *msg,
                                size_t msgsz) {
    int32_t inc = pa->count - oldn;
    for (int32_t i = 0; i < pa->nassign; i++)
        for (int32_t k = 0; k < pa->alen[i]; k++)
            if (!kn_cluster__broker_live(c, pa->assign[i][k])) {
                snprintf(msg, msgsz, "Unknown broker(s) in replica assignment: %" PRId32 ".", pa->assign[i][k]);
                return KERR_INVALID_ASSIGNMENT;
            }
    if (pa->nassign != inc) {
        snprintf(msg, msgsz, "Increasing the number of partitions by %" PRId32 " but %" PRId32 " assignments provided.",
                 inc, pa->nassign);
        return KERR_INVALID_ASSIGNMENT;
    }
    for (int32_t i = 0; i < pa->nassign; i++) {
        if (pa->alen[i] == 0) {
            snprintf(msg, msgsz, "Cannot have replication factor of 0 for partition id %" PRId32 ".", oldn + i);
            return KERR_INVALID_ASSIGNMENT;
        }
        for (int32_t k = 1; k < pa->alen[i]; k++)
            if (has_id(pa->assign[i], k, pa->assign[i][k])) {
                snprintf(msg, msgsz, "Duplicate brokers not allowed in replica assignment: %" PRId32
                         " for partition id %" PRId32 ".", pa->assign[i][k], oldn + i);
                return KERR_INVALID_ASSIGNMENT;
            }
        if (pa->alen[i] != rf) {
            snprintf(msg, msgsz, "Inconsistent replication factor between partitions, partition 0 has %" PRId32
                     " while partition %" PRId32 " has replication factor %" PRId32 ".", rf, oldn + i, pa->alen[i]);
            return KERR_INVALID_ASSIGNMENT;
        }
    }
    return 0;
}

static void parts_got(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r) {
    part_add_t *pa = op->uud;
    op->ucb = NULL;
    char msg[400];
    if (r->rc == ZNONODE) {
        snprintf(msg, sizeof(msg), "The topic '%s' does not exist.", pa->topic);
        parts_finish(pa, KERR_UNKNOWN_TOPIC, msg);
        return;
    }
    if (r->rc != ZOK) {
        snprintf(msg, sizeof(msg), "reading /brokers/topics/%s: %s", pa->topic, zerror(r->rc));
        parts_finish(pa, zk_err(r->rc), msg);
        return;
    }
    if (!c->is_controller) {
        parts_finish(pa, KERR_NOT_CONTROLLER, "This is not the correct controller for this cluster.");
        return;
    }
    kn_uuid_t id;
    bool with_id;
    int32_t oldn = 0;
    kn_partition_state_t *old = NULL;
    if (kn_cluster__assignment_parse(r->data, r->data ? (size_t)r->datalen : 0, &id, &with_id, &oldn, &old) != 0 ||
        oldn < 1 || old[0].nreplicas < 1) {
        kn_cluster__parts_free(old, oldn); /* NULL when the parse failed */
        snprintf(msg, sizeof(msg), "/brokers/topics/%s holds no valid replica assignment", pa->topic);
        parts_finish(pa, KERR_UNKNOWN, msg);
        return;
    }
    int16_t err = 0;
    int32_t rf = old[0].nreplicas;
    if (pa->count < oldn) {
        snprintf(msg, sizeof(msg), "Topic currently has %" PRId32 " partitions, which is higher than the requested %"
                 PRId32 ".", oldn, pa->count);
        err = KERR_INVALID_PARTITIONS;
    } else if (pa->count == oldn) {
        snprintf(msg, sizeof(msg), "Topic already has %" PRId32 " partitions.", oldn);
        err = KERR_INVALID_PARTITIONS;
    } else if (pa->nassign >= 0) {
        err = check_assignment(c, pa, oldn, rf, msg, sizeof(msg));
    } else if ((size_t)rf > c->nbrokers) {
        snprintf(msg, sizeof(msg), "Replication factor: %" PRId32 " larger than available brokers: %zu.", rf,
                 c->nbrokers);
        err = KERR_INVALID_RF;
    }
    if (err || pa->validate_only) {
        kn_cluster__parts_free(old, oldn);
        parts_finish(pa, err, err ? msg : "");
        return;
    }
    /* New lists: given, or Kafka's assignment continued from partition oldn
     * (start index = position of partition 0's first replica among the
     * sorted live brokers, the same as fixed shift), which is the tail of the
     * whole-topic assignment computed with that start. */
    kn_partition_state_t *parts = kn_calloc((size_t)pa->count, sizeof(*parts));
    for (int32_t p = 0; p < oldn; p++) parts[p] = old[p];
    int32_t *flat = NULL;
    if (pa->nassign >= 0) {
        for (int32_t i = 0; i < pa->nassign; i++) {
            parts[oldn + i].replicas = pa->assign[i];
            parts[oldn + i].nreplicas = pa->alen[i];
        }
    } else {
        int nb = (int)c->nbrokers;
        int32_t ids[nb > 0 ? nb : 1];
        for (int i = 0; i < nb; i++) ids[i] = c->brokers[i].id; /* sorted */
        int start = 0;
        while (start < nb && ids[start] < old[0].replicas[0]) start++;
        if (start == nb) start = 0;
        flat = kn_malloc(sizeof(int32_t) * (size_t)pa->count * (size_t)rf);
        kn_cluster__assign_replicas(ids, nb, pa->count, (int16_t)rf, start, start, flat);
        for (int32_t p = oldn; p < pa->count; p++) {
            parts[p].replicas = flat + (size_t)p * (size_t)rf;
            parts[p].nreplicas = rf;
        }
    }
    char *json = kn_cluster__assignment_json(with_id ? &id : NULL, pa->count, parts);
    kn_free(parts); /* the replica lists belong to old, pa and flat */
    kn_free(flat);
    kn_cluster__parts_free(old, oldn);
    char path[300];
    snprintf(path, sizeof(path), "/brokers/topics/%s", pa->topic);
    kn_zop_t *w = kn_cluster__op(c, parts_written, path);
    w->ucb = parts_finish;
    w->uud = pa;
    kn_cluster__mop_init(w, 2);
    kn_cluster__mop_check(c, w, "/controller_epoch", c->ctrl_epoch_zkversion);
    kn_cluster__mop_set(c, w, path, json, r->stat.version);
    kn_free(json);
    pa->tries++;
    kn_log(KN_LOG_INFO, c->ctx, "topic %s: adding partitions %" PRId32 "..%" PRId32, pa->topic, oldn, pa->count - 1);
    kn_cluster__zmulti(c, w);
}

static void parts_read(kn_cluster_t *c, part_add_t *pa) {
    char path[300];
    snprintf(path, sizeof(path), "/brokers/topics/%s", pa->topic);
    kn_zop_t *op = kn_cluster__op(c, parts_got, path);
    op->ucb = parts_finish;
    op->uud = pa;
    kn_cluster__zget(c, op, false);
}

int kn_cluster_create_partitions(kn_cluster_t *c, const char *topic, int32_t count,
                                 const int32_t *const *assignments, const int32_t *assignment_lens,
                                 int32_t nassignments, bool validate_only, kn_cluster_done_cb cb, void *ud) {
    if (c->stopping || !cb) return KN_ESTATE;
    const kn_ctopic_t *t = kn_cluster__validate_topic_name(topic, strlen(topic), NULL) == 0
                               ? kn_cluster__find_topic(c, topic)
                               : NULL;
    if (!c->is_controller) {
        post_done(c, cb, ud, KERR_NOT_CONTROLLER, "This is not the correct controller for this cluster.");
        return 0;
    }
    if (!t || !t->have_assign) {
        post_done(c, cb, ud, KERR_UNKNOWN_TOPIC, "The topic '%s' does not exist.", topic);
        return 0;
    }
    if (t->deleting) {
        post_done(c, cb, ud, KERR_INVALID_TOPIC, "The topic '%s' is queued for deletion.", topic);
        return 0;
    }
    part_add_t *pa = kn_calloc(1, sizeof(*pa));
    pa->done = cb;
    pa->ud = ud;
    pa->topic = kn_strdup(topic);
    pa->count = count;
    pa->validate_only = validate_only;
    pa->nassign = nassignments < 0 ? -1 : nassignments;
    if (pa->nassign >= 0) {
        pa->assign = kn_calloc((size_t)(pa->nassign ? pa->nassign : 1), sizeof(int32_t *));
        pa->alen = kn_calloc((size_t)(pa->nassign ? pa->nassign : 1), sizeof(int32_t));
        for (int32_t i = 0; i < pa->nassign; i++) {
            int32_t n = assignment_lens[i] < 0 ? 0 : assignment_lens[i];
            pa->alen[i] = n;
            pa->assign[i] = kn_malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
            if (n) memcpy(pa->assign[i], assignments[i], sizeof(int32_t) * (size_t)n);
        }
    }
    parts_read(c, pa);
    return 0;
}
