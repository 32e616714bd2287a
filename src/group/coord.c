/* The classic group protocol state machine and the committed-offset cache.
 *
 * Follows Kafka 3.x's GroupCoordinator: states Empty -> PreparingRebalance
 * -> CompletingRebalance -> Stable (and Dead), one generation per completed
 * join, delayed joins (group.initial.rebalance.delay.ms for an empty group,
 * the largest rebalance timeout otherwise), session expiry, KIP-394 pending
 * member ids, KIP-345 static members, pending-sync expiry, KIP-211 offset
 * expiry. Assignments and subscriptions are opaque bytes relayed between
 * members; only the protocol name is chosen here (one every member
 * supports, by vote of each member's preference order).
 *
 * Time: ops->now_ms only. Deadlines are absolute ms; kn_gcoord_tick runs what
 * is due and asks ops->schedule for the next. Groups live in a chained hash
 * table; each group's offsets in another. See docs/groups.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_int.h"
#include "kanal/proto/batch_build.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"

#define NEW_MEMBER_JOIN_TIMEOUT_MS 300000 /* Kafka's GroupCoordinator.NewMemberJoinTimeoutMs */
#define NONE_DEADLINE INT64_MAX

typedef enum { ST_EMPTY, ST_PREPARING, ST_COMPLETING, ST_STABLE, ST_DEAD } gstate_t;
static const char *state_names[] = {"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"};

typedef struct proto_s {
    char *name;
    uint8_t *meta;
    int32_t meta_len;
} proto_t;

typedef struct member_s {
    char *id;
    char *instance_id; /* NULL: dynamic */
    char *client_id, *client_host;
    int32_t session_ms, rebalance_ms;
    proto_t *protos;
    int32_t nprotos;
    uint8_t *assignment;
    int32_t assignment_len;
    bool awaiting_join, awaiting_sync, is_new, pending_sync;
    void *join_req, *sync_req;
    int16_t join_version;
    int64_t hb_deadline;
} member_t;

typedef struct pending_s {
    char *id;
    int64_t deadline;
} pending_t;

typedef struct off_s {
    struct off_s *next;
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int64_t commit_ts, expire_ts;
} off_t_;

typedef struct group_s {
    struct group_s *next; /* hash chain */
    char *id;
    int32_t partition;
    gstate_t state;
    int32_t generation;
    char *protocol_type, *protocol, *leader;
    member_t **members;
    int32_t nmembers, members_cap;
    pending_t *pending;
    int32_t npending;
    int64_t join_deadline, sync_deadline;
    bool initial_delay, new_member_added;
    int64_t initial_remaining;
    int64_t state_ts;
    off_t_ **obuckets;
    uint32_t nobuckets;
    size_t noffs;
} group_t;

typedef struct part_s {
    kn_gpart_state_t state;
} part_t;

struct kn_gcoord_s {
    kn_gcoord_config_t cfg;
    kn_gcoord_ops_t ops;
    group_t **buckets;
    uint32_t nbuckets;
    size_t ngroups;
    part_t *parts;
    uint64_t id_counter;
    int64_t scheduled;
    /* describe scratch */
    kn_gmember_info_t *info;
    int32_t info_cap;
    kn_gjoin_member_t *jm;
    int32_t jm_cap;
};

static int64_t now(kn_gcoord_t *c) { return c->ops.now_ms(c->ops.ud); }
static kn_str_t S(const char *s) { return s ? (kn_str_t){s, (int32_t)strlen(s)} : KN_STR_NULL; }
static bool str_is(kn_str_t s, const char *c) { return c && kn_str_eq(s, c, (int32_t)strlen(c)); }
static char *dup_str(kn_str_t s) { return s.len < 0 ? NULL : kn_strndup(s.p ? s.p : "", (size_t)s.len); }

static uint32_t hash_bytes(const char *p, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 16777619u;
    }
    return h;
}

/* ---- timers ---- */

static int64_t group_next_deadline(const group_t *g) {
    int64_t d = g->join_deadline < g->sync_deadline ? g->join_deadline : g->sync_deadline;
    for (int32_t i = 0; i < g->nmembers; i++)
        if (g->members[i]->hb_deadline < d) d = g->members[i]->hb_deadline;
    for (int32_t i = 0; i < g->npending; i++)
        if (g->pending[i].deadline < d) d = g->pending[i].deadline;
    return d;
}

int64_t kn_gcoord_next_deadline(const kn_gcoord_t *c) {
    int64_t d = NONE_DEADLINE;
    for (uint32_t b = 0; b < c->nbuckets; b++)
        for (group_t *g = c->buckets[b]; g; g = g->next) {
            int64_t gd = group_next_deadline(g);
            if (gd < d) d = gd;
        }
    return d;
}

/* A deadline was set: make sure a tick comes by then. */
static void want_tick(kn_gcoord_t *c, int64_t at) {
    if (at >= c->scheduled) return;
    c->scheduled = at;
    if (c->ops.schedule) c->ops.schedule(c->ops.ud, at);
}

/* ---- groups table ---- */

static group_t *find_group(const kn_gcoord_t *c, kn_str_t id) {
    if (id.len < 0 || !c->nbuckets) return NULL;
    uint32_t h = hash_bytes(id.p, (size_t)id.len) % c->nbuckets;
    for (group_t *g = c->buckets[h]; g; g = g->next)
        if (kn_str_eq(id, g->id, (int32_t)strlen(g->id))) return g;
    return NULL;
}

static void rehash_groups(kn_gcoord_t *c) {
    uint32_t nb = c->nbuckets ? c->nbuckets * 2 : 64;
    group_t **nbk = kn_calloc(nb, sizeof(*nbk));
    for (uint32_t b = 0; b < c->nbuckets; b++) {
        group_t *g = c->buckets[b];
        while (g) {
            group_t *n = g->next;
            uint32_t h = hash_bytes(g->id, strlen(g->id)) % nb;
            g->next = nbk[h];
            nbk[h] = g;
            g = n;
        }
    }
    kn_free(c->buckets);
    c->buckets = nbk;
    c->nbuckets = nb;
}

static group_t *create_group(kn_gcoord_t *c, kn_str_t id, int32_t partition) {
    if (c->ngroups + 1 > (size_t)c->nbuckets) rehash_groups(c);
    group_t *g = kn_calloc(1, sizeof(*g));
    g->id = dup_str(id);
    g->partition = partition;
    g->state = ST_EMPTY;
    g->join_deadline = g->sync_deadline = NONE_DEADLINE;
    g->state_ts = -1;
    uint32_t h = hash_bytes(g->id, strlen(g->id)) % c->nbuckets;
    g->next = c->buckets[h];
    c->buckets[h] = g;
    c->ngroups++;
    return g;
}

static void member_free(member_t *m) {
    kn_free(m->id);
    kn_free(m->instance_id);
    kn_free(m->client_id);
    kn_free(m->client_host);
    for (int32_t i = 0; i < m->nprotos; i++) {
        kn_free(m->protos[i].name);
        kn_free(m->protos[i].meta);
    }
    kn_free(m->protos);
    kn_free(m->assignment);
    kn_free(m);
}

static void offs_clear(group_t *g) {
    for (uint32_t b = 0; b < g->nobuckets; b++) {
        off_t_ *o = g->obuckets[b];
        while (o) {
            off_t_ *n = o->next;
            kn_free(o->topic);
            kn_free(o->metadata);
            kn_free(o);
            o = n;
        }
    }
    kn_free(g->obuckets);
    g->obuckets = NULL;
    g->nobuckets = 0;
    g->noffs = 0;
}

static void join_error(kn_gcoord_t *c, void *req, int16_t err, kn_str_t member_id);
static void sync_answer(kn_gcoord_t *c, member_t *m, int16_t err, const group_t *g);

/* Free a group; parked requests of its members get err (if nonzero). */
static void destroy_group(kn_gcoord_t *c, group_t *g, int16_t err) {
    uint32_t h = hash_bytes(g->id, strlen(g->id)) % c->nbuckets;
    for (group_t **pp = &c->buckets[h]; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    c->ngroups--;
    for (int32_t i = 0; i < g->nmembers; i++) {
        member_t *m = g->members[i];
        if (m->join_req) {
            void *rq = m->join_req;
            m->join_req = NULL;
            join_error(c, rq, err ? err : KN_KERR_NOT_COORDINATOR, S(m->id));
        }
        if (m->sync_req) sync_answer(c, m, err ? err : KN_KERR_NOT_COORDINATOR, NULL);
        member_free(m);
    }
    kn_free(g->members);
    for (int32_t i = 0; i < g->npending; i++) kn_free(g->pending[i].id);
    kn_free(g->pending);
    offs_clear(g);
    kn_free(g->id);
    kn_free(g->protocol_type);
    kn_free(g->protocol);
    kn_free(g->leader);
    kn_free(g);
}

/* ---- offsets table ---- */

static off_t_ *off_find(group_t *g, const char *topic, size_t tlen, int32_t partition, bool create) {
    uint32_t h = hash_bytes(topic, tlen) * 31u + (uint32_t)partition;
    if (g->nobuckets) {
        for (off_t_ *o = g->obuckets[h % g->nobuckets]; o; o = o->next)
            if (o->partition == partition && strlen(o->topic) == tlen && !memcmp(o->topic, topic, tlen)) return o;
    }
    if (!create) return NULL;
    if (g->noffs + 1 > g->nobuckets) {
        uint32_t nb = g->nobuckets ? g->nobuckets * 2 : 16;
        off_t_ **nbk = kn_calloc(nb, sizeof(*nbk));
        for (uint32_t b = 0; b < g->nobuckets; b++) {
            off_t_ *o = g->obuckets[b];
            while (o) {
                off_t_ *n = o->next;
                uint32_t hh = (hash_bytes(o->topic, strlen(o->topic)) * 31u + (uint32_t)o->partition) % nb;
                o->next = nbk[hh];
                nbk[hh] = o;
                o = n;
            }
        }
        kn_free(g->obuckets);
        g->obuckets = nbk;
        g->nobuckets = nb;
    }
    off_t_ *o = kn_calloc(1, sizeof(*o));
    o->topic = kn_strndup(topic, tlen);
    o->partition = partition;
    o->offset = -1;
    o->leader_epoch = -1;
    o->expire_ts = -1;
    o->next = g->obuckets[h % g->nobuckets];
    g->obuckets[h % g->nobuckets] = o;
    g->noffs++;
    return o;
}

static bool off_remove(group_t *g, const char *topic, size_t tlen, int32_t partition) {
    if (!g->nobuckets) return false;
    uint32_t h = (hash_bytes(topic, tlen) * 31u + (uint32_t)partition) % g->nobuckets;
    for (off_t_ **pp = &g->obuckets[h]; *pp; pp = &(*pp)->next) {
        off_t_ *o = *pp;
        if (o->partition == partition && strlen(o->topic) == tlen && !memcmp(o->topic, topic, tlen)) {
            *pp = o->next;
            kn_free(o->topic);
            kn_free(o->metadata);
            kn_free(o);
            g->noffs--;
            return true;
        }
    }
    return false;
}

/* ---- life cycle ---- */

static void default_random(kn_gcoord_t *c, uint8_t out[16]) {
    /* Uniqueness, not secrecy: counter and clock through a 64-bit mixer. */
    uint64_t x = ++c->id_counter * 0x9e3779b97f4a7c15ULL ^ (uint64_t)now(c);
    for (int i = 0; i < 2; i++) {
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9ULL;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebULL;
        x ^= x >> 31;
        for (int k = 0; k < 8; k++) out[i * 8 + k] = (uint8_t)(x >> (8 * k));
        x += (uint64_t)(uintptr_t)c;
    }
}

kn_gcoord_t *kn_gcoord_new(const kn_gcoord_config_t *cfg, const kn_gcoord_ops_t *ops) {
    if (!cfg || !ops || !ops->now_ms || !ops->append || !ops->join_done || !ops->sync_done || !ops->commit_done ||
        cfg->num_partitions <= 0)
        return NULL;
    kn_gcoord_t *c = kn_calloc(1, sizeof(*c));
    c->cfg = *cfg;
    c->ops = *ops;
    c->parts = kn_calloc((size_t)cfg->num_partitions, sizeof(*c->parts));
    c->scheduled = NONE_DEADLINE;
    return c;
}

void kn_gcoord_free(kn_gcoord_t *c) {
    if (!c) return;
    for (uint32_t b = 0; b < c->nbuckets; b++)
        while (c->buckets[b]) destroy_group(c, c->buckets[b], KN_KERR_NOT_COORDINATOR);
    kn_free(c->buckets);
    kn_free(c->parts);
    kn_free(c->info);
    kn_free(c->jm);
    kn_free(c);
}

int32_t kn_gcoord_partition_for(const kn_gcoord_t *c, kn_str_t group_id) {
    return kn_group_partition_for(group_id, c->cfg.num_partitions);
}

kn_gpart_state_t kn_gcoord_partition_state(const kn_gcoord_t *c, int32_t p) {
    if (p < 0 || p >= c->cfg.num_partitions) return KN_GPART_NOT_LED;
    return c->parts[p].state;
}

int16_t kn_gcoord_check(const kn_gcoord_t *c, kn_str_t group_id) {
    switch (kn_gcoord_partition_state(c, kn_gcoord_partition_for(c, group_id))) {
    case KN_GPART_LOADED: return 0;
    case KN_GPART_LOADING: return KN_KERR_COORDINATOR_LOAD_IN_PROGRESS;
    default: return KN_KERR_NOT_COORDINATOR;
    }
}

bool kn_gcoord_any_loading(const kn_gcoord_t *c) {
    for (int32_t i = 0; i < c->cfg.num_partitions; i++)
        if (c->parts[i].state == KN_GPART_LOADING) return true;
    return false;
}

size_t kn_gcoord_group_count(const kn_gcoord_t *c) { return c->ngroups; }

void kn_gcoord_forget_req(kn_gcoord_t *c, void *req) {
    if (!req) return;
    for (uint32_t b = 0; b < c->nbuckets; b++)
        for (group_t *g = c->buckets[b]; g; g = g->next)
            for (int32_t i = 0; i < g->nmembers; i++) {
                if (g->members[i]->join_req == req) g->members[i]->join_req = NULL;
                if (g->members[i]->sync_req == req) g->members[i]->sync_req = NULL;
            }
}

/* ---- members ---- */

static member_t *find_member(const group_t *g, kn_str_t id, int32_t *idx) {
    if (id.len <= 0) return NULL;
    for (int32_t i = 0; i < g->nmembers; i++)
        if (kn_str_eq(id, g->members[i]->id, (int32_t)strlen(g->members[i]->id))) {
            if (idx) *idx = i;
            return g->members[i];
        }
    return NULL;
}

static member_t *find_static(const group_t *g, kn_str_t instance) {
    if (instance.len < 0) return NULL;
    for (int32_t i = 0; i < g->nmembers; i++)
        if (g->members[i]->instance_id &&
            kn_str_eq(instance, g->members[i]->instance_id, (int32_t)strlen(g->members[i]->instance_id)))
            return g->members[i];
    return NULL;
}

/* KIP-345: a known instance id presented with another member id. */
static bool static_fenced(const group_t *g, kn_str_t instance, kn_str_t member_id) {
    member_t *m = find_static(g, instance);
    return m && !kn_str_eq(member_id, m->id, (int32_t)strlen(m->id));
}

static int32_t find_pending(const group_t *g, kn_str_t id) {
    for (int32_t i = 0; i < g->npending; i++)
        if (kn_str_eq(id, g->pending[i].id, (int32_t)strlen(g->pending[i].id))) return i;
    return -1;
}

static void remove_pending(group_t *g, int32_t i) {
    kn_free(g->pending[i].id);
    g->pending[i] = g->pending[--g->npending];
}

static const proto_t *member_proto(const member_t *m, const char *name) {
    for (int32_t i = 0; i < m->nprotos; i++)
        if (name && !strcmp(m->protos[i].name, name)) return &m->protos[i];
    return NULL;
}

static void set_protocols(member_t *m, const kn_gprotocol_t *p, int32_t n) {
    for (int32_t i = 0; i < m->nprotos; i++) {
        kn_free(m->protos[i].name);
        kn_free(m->protos[i].meta);
    }
    kn_free(m->protos);
    m->protos = n ? kn_calloc((size_t)n, sizeof(*m->protos)) : NULL;
    m->nprotos = n;
    for (int32_t i = 0; i < n; i++) {
        m->protos[i].name = dup_str(p[i].name.len < 0 ? KN_STR("") : p[i].name);
        int32_t ml = p[i].metadata.len < 0 ? 0 : p[i].metadata.len;
        m->protos[i].meta = kn_malloc(ml ? (size_t)ml : 1);
        if (ml) memcpy(m->protos[i].meta, p[i].metadata.p, (size_t)ml);
        m->protos[i].meta_len = ml;
    }
}

/* Same protocols, same order, same metadata (Kafka's MemberMetadata.matches). */
static bool protocols_match(const member_t *m, const kn_gprotocol_t *p, int32_t n) {
    if (m->nprotos != n) return false;
    for (int32_t i = 0; i < n; i++) {
        int32_t ml = p[i].metadata.len < 0 ? 0 : p[i].metadata.len;
        if (!str_is(p[i].name, m->protos[i].name) || ml != m->protos[i].meta_len ||
            (ml && memcmp(p[i].metadata.p, m->protos[i].meta, (size_t)ml)))
            return false;
    }
    return true;
}

/* Kafka's GroupMetadata.supportsProtocols. */
static bool supports_protocols(const group_t *g, kn_str_t type, const kn_gprotocol_t *p, int32_t n) {
    if (g->nmembers == 0) return type.len > 0 && n > 0;
    if (!str_is(type, g->protocol_type)) return false;
    for (int32_t k = 0; k < n; k++) {
        char name[256];
        int32_t l = p[k].name.len < 0 ? 0 : (p[k].name.len > 255 ? 255 : p[k].name.len);
        memcpy(name, p[k].name.p ? p[k].name.p : "", (size_t)l);
        name[l] = '\0';
        bool all = true;
        for (int32_t i = 0; i < g->nmembers && all; i++)
            if (!member_proto(g->members[i], name)) all = false;
        if (all) return true;
    }
    return false;
}

/* Among the protocols every member supports, the one most members list
 * first (each member votes for its most preferred candidate); ties go to
 * the candidate that comes first in the first member's list. */
static const char *select_protocol(const group_t *g) {
    if (!g->nmembers) return NULL;
    const member_t *m0 = g->members[0];
    int32_t best = -1, best_votes = -1;
    int32_t *votes = kn_calloc((size_t)m0->nprotos + 1, sizeof(int32_t));
    bool *cand = kn_calloc((size_t)m0->nprotos + 1, sizeof(bool));
    for (int32_t k = 0; k < m0->nprotos; k++) {
        cand[k] = true;
        for (int32_t i = 1; i < g->nmembers && cand[k]; i++)
            if (!member_proto(g->members[i], m0->protos[k].name)) cand[k] = false;
    }
    for (int32_t i = 0; i < g->nmembers; i++) {
        const member_t *m = g->members[i];
        for (int32_t j = 0; j < m->nprotos; j++) {
            int32_t k;
            for (k = 0; k < m0->nprotos; k++)
                if (cand[k] && !strcmp(m0->protos[k].name, m->protos[j].name)) break;
            if (k < m0->nprotos) {
                votes[k]++;
                break;
            }
        }
    }
    for (int32_t k = 0; k < m0->nprotos; k++)
        if (cand[k] && votes[k] > best_votes) {
            best = k;
            best_votes = votes[k];
        }
    kn_free(votes);
    kn_free(cand);
    return best >= 0 ? m0->protos[best].name : NULL;
}

static int32_t group_rebalance_timeout(const group_t *g) {
    int32_t t = 0;
    for (int32_t i = 0; i < g->nmembers; i++)
        if (g->members[i]->rebalance_ms > t) t = g->members[i]->rebalance_ms;
    return t;
}

static void set_state(kn_gcoord_t *c, group_t *g, gstate_t s, const char *why) {
    if (g->state == s) return;
    kn_dbg(KN_DBG_GROUP, g->id, "%s -> %s (%s), generation %d, %d members", state_names[g->state], state_names[s],
           why, g->generation, g->nmembers);
    g->state = s;
    g->state_ts = now(c);
}

/* Appends m; the group's protocol type is the caller's business (a joining
 * first member sets it, a load restores it). */
static void add_member(group_t *g, member_t *m) {
    if (g->nmembers == g->members_cap) {
        g->members_cap = g->members_cap ? g->members_cap * 2 : 8;
        g->members = kn_realloc(g->members, sizeof(*g->members) * (size_t)g->members_cap);
    }
    g->members[g->nmembers++] = m;
    if (!g->leader) g->leader = kn_strdup(m->id);
}

/* Take m out of the group (not freed). The leader passes to the first
 * remaining member. */
static void detach_member(group_t *g, member_t *m) {
    for (int32_t i = 0; i < g->nmembers; i++)
        if (g->members[i] == m) {
            memmove(&g->members[i], &g->members[i + 1], sizeof(*g->members) * (size_t)(g->nmembers - i - 1));
            g->nmembers--;
            break;
        }
    if (g->leader && !strcmp(g->leader, m->id)) {
        kn_free(g->leader);
        g->leader = g->nmembers ? kn_strdup(g->members[0]->id) : NULL;
    }
}

/* ---- answers ---- */

static void join_error(kn_gcoord_t *c, void *req, int16_t err, kn_str_t member_id) {
    kn_gjoin_result_t r;
    memset(&r, 0, sizeof(r));
    r.error = err;
    r.generation_id = -1;
    r.protocol_type = KN_STR_NULL;
    r.protocol_name = KN_STR_NULL;
    r.leader = KN_STR("");
    r.member_id = member_id.len < 0 ? KN_STR("") : member_id;
    c->ops.join_done(c->ops.ud, req, &r);
}

static const kn_gjoin_member_t *member_list(kn_gcoord_t *c, const group_t *g, int32_t *n) {
    if (g->nmembers > c->jm_cap) {
        c->jm_cap = g->nmembers * 2;
        c->jm = kn_realloc(c->jm, sizeof(*c->jm) * (size_t)c->jm_cap);
    }
    for (int32_t i = 0; i < g->nmembers; i++) {
        const member_t *m = g->members[i];
        const proto_t *p = member_proto(m, g->protocol);
        c->jm[i].member_id = S(m->id);
        c->jm[i].group_instance_id = S(m->instance_id);
        c->jm[i].metadata = p ? (kn_bytes_t){p->meta, p->meta_len} : (kn_bytes_t){(const uint8_t *)"", 0};
    }
    *n = g->nmembers;
    return c->jm;
}

/* A successful JoinGroup answer for m in the current generation. */
static void join_answer(kn_gcoord_t *c, group_t *g, member_t *m, void *req, bool with_members, const char *leader,
                        bool skip) {
    kn_gjoin_result_t r;
    memset(&r, 0, sizeof(r));
    r.generation_id = g->generation;
    r.protocol_type = S(g->protocol_type);
    r.protocol_name = S(g->protocol);
    r.leader = S(leader ? leader : g->leader);
    r.member_id = S(m->id);
    r.skip_assignment = skip;
    if (with_members) r.members = member_list(c, g, &r.nmembers);
    c->ops.join_done(c->ops.ud, req, &r);
}

static void sync_answer(kn_gcoord_t *c, member_t *m, int16_t err, const group_t *g) {
    void *req = m->sync_req;
    m->sync_req = NULL;
    m->awaiting_sync = false;
    if (!req) return;
    kn_gsync_result_t r;
    memset(&r, 0, sizeof(r));
    r.error = err;
    r.protocol_type = KN_STR_NULL;
    r.protocol_name = KN_STR_NULL;
    r.assignment = (kn_bytes_t){(const uint8_t *)"", 0};
    if (!err && g) {
        r.protocol_type = S(g->protocol_type);
        r.protocol_name = S(g->protocol);
        r.assignment = (kn_bytes_t){m->assignment ? m->assignment : (const uint8_t *)"", m->assignment_len};
    }
    c->ops.sync_done(c->ops.ud, req, &r);
}

static void sync_error(kn_gcoord_t *c, void *req, int16_t err) {
    kn_gsync_result_t r;
    memset(&r, 0, sizeof(r));
    r.error = err;
    r.protocol_type = KN_STR_NULL;
    r.protocol_name = KN_STR_NULL;
    r.assignment = (kn_bytes_t){(const uint8_t *)"", 0};
    c->ops.sync_done(c->ops.ud, req, &r);
}

/* ---- persistence ---- */

typedef struct store_ctx_s {
    kn_gcoord_t *c;
    char *group;
    int32_t generation;
    void (*fn)(struct store_ctx_s *s, int16_t err);
    /* static replacement answer */
    char *member_id;
    char *leader;
    void *req;
    bool with_members, skip;
} store_ctx_t;

static void store_done_cb(void *arg, int16_t err) {
    store_ctx_t *s = arg;
    s->fn(s, err);
    kn_free(s->group);
    kn_free(s->member_id);
    kn_free(s->leader);
    kn_free(s);
}

/* Storage errors as the coordinator answers them (Kafka's
 * GroupMetadataManager.storeGroup mapping). */
static int16_t map_store_error(int16_t err) {
    switch (err) {
    case 0: return 0;
    case KN_KERR_UNKNOWN_TOPIC_OR_PARTITION:
    case KN_KERR_NOT_ENOUGH_REPLICAS:
    case KN_KERR_REQUEST_TIMED_OUT: return KN_KERR_COORDINATOR_NOT_AVAILABLE;
    case KN_KERR_NOT_LEADER_OR_FOLLOWER:
    case KN_KERR_KAFKA_STORAGE_ERROR: return KN_KERR_NOT_COORDINATOR;
    default: return KN_KERR_UNKNOWN_SERVER_ERROR;
    }
}

static void append_batch(kn_gcoord_t *c, int32_t partition, kn_batch_builder_t *bb, kn_gcoord_append_cb cb,
                         void *arg) {
    uint8_t *p = NULL;
    size_t n = 0;
    if (kn_batch_builder_finish(bb, &p, &n) < 0) {
        kn_batch_builder_free(bb);
        cb(arg, KN_KERR_UNKNOWN_SERVER_ERROR);
        return;
    }
    c->ops.append(c->ops.ud, partition, p, n, cb, arg);
    kn_batch_builder_free(bb);
}

static void add_group_record(kn_gcoord_t *c, kn_batch_builder_t *bb, const group_t *g, bool tombstone) {
    kn_wbuf_t k, v;
    kn_wbuf_init(&k);
    kn_wbuf_init(&v);
    kn_grec_group_key(&k, g->id);
    if (tombstone) {
        kn_batch_builder_add(bb, k.mem, (int32_t)k.mem_len, NULL, -1);
    } else {
        kn_grec_group_t rec;
        memset(&rec, 0, sizeof(rec));
        rec.protocol_type = S(g->protocol_type ? g->protocol_type : "");
        rec.generation = g->generation;
        rec.protocol = S(g->protocol);
        rec.leader = S(g->leader);
        rec.state_ts = g->state_ts >= 0 ? g->state_ts : now(c);
        rec.nmembers = g->nmembers;
        rec.members = g->nmembers ? kn_calloc((size_t)g->nmembers, sizeof(*rec.members)) : NULL;
        for (int32_t i = 0; i < g->nmembers; i++) {
            const member_t *m = g->members[i];
            const proto_t *p = member_proto(m, g->protocol);
            kn_grec_member_t *rm = &rec.members[i];
            rm->member_id = S(m->id);
            rm->instance_id = S(m->instance_id);
            rm->client_id = S(m->client_id);
            rm->client_host = S(m->client_host);
            rm->rebalance_timeout = m->rebalance_ms;
            rm->session_timeout = m->session_ms;
            rm->subscription = p ? (kn_bytes_t){p->meta, p->meta_len} : (kn_bytes_t){NULL, 0};
            rm->assignment = (kn_bytes_t){m->assignment, m->assignment_len};
        }
        kn_grec_group_value(&v, &rec);
        kn_free(rec.members);
        kn_batch_builder_add(bb, k.mem, (int32_t)k.mem_len, v.mem, (int32_t)v.mem_len);
    }
    kn_wbuf_free(&k);
    kn_wbuf_free(&v);
}

static void add_offset_tombstone(kn_batch_builder_t *bb, const char *group, const char *topic, int32_t partition) {
    kn_wbuf_t k;
    kn_wbuf_init(&k);
    kn_grec_offset_key(&k, group, topic, partition);
    kn_batch_builder_add(bb, k.mem, (int32_t)k.mem_len, NULL, -1);
    kn_wbuf_free(&k);
}

static void store_group(kn_gcoord_t *c, group_t *g, store_ctx_t *s) {
    kn_batch_builder_t bb;
    kn_batch_builder_init(&bb, now(c));
    add_group_record(c, &bb, g, false);
    s->c = c;
    s->group = kn_strdup(g->id);
    s->generation = g->generation;
    append_batch(c, g->partition, &bb, store_done_cb, s);
}

static void ignore_store(store_ctx_t *s, int16_t err) {
    if (err) kn_log(KN_LOG_WARN, s->group, "writing group metadata failed: %s", kn_kerr_name(err));
}

/* ---- rebalance ---- */

static void maybe_complete_join(kn_gcoord_t *c, group_t *g);
static void remove_member_and_update(kn_gcoord_t *c, group_t *g, member_t *m, const char *why);

/* CompletingRebalance interrupted: members waiting in SyncGroup get err and
 * assignments are cleared. */
static void reset_assignment_error(kn_gcoord_t *c, group_t *g, int16_t err) {
    for (int32_t i = 0; i < g->nmembers; i++) {
        member_t *m = g->members[i];
        kn_free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        if (m->awaiting_sync) sync_answer(c, m, err, NULL);
    }
}

static void prepare_rebalance(kn_gcoord_t *c, group_t *g, const char *why) {
    if (g->state == ST_COMPLETING) reset_assignment_error(c, g, KN_KERR_REBALANCE_IN_PROGRESS);
    g->sync_deadline = NONE_DEADLINE;
    for (int32_t i = 0; i < g->nmembers; i++) g->members[i]->pending_sync = false;
    int64_t t = now(c);
    int32_t rt = group_rebalance_timeout(g);
    if (g->state == ST_EMPTY) {
        int32_t d = c->cfg.initial_rebalance_delay_ms;
        g->initial_delay = true;
        g->new_member_added = false;
        g->initial_remaining = rt > d ? rt - d : 0;
        g->join_deadline = t + d;
    } else {
        g->initial_delay = false;
        g->join_deadline = t + rt;
    }
    kn_log(KN_LOG_INFO, g->id, "preparing to rebalance in generation %d: %s", g->generation, why);
    set_state(c, g, ST_PREPARING, why);
    want_tick(c, g->join_deadline);
    if (!g->initial_delay) maybe_complete_join(c, g);
}

static void maybe_prepare_rebalance(kn_gcoord_t *c, group_t *g, const char *why) {
    if (g->state == ST_STABLE || g->state == ST_COMPLETING || g->state == ST_EMPTY)
        prepare_rebalance(c, g, why);
    else if (g->state == ST_PREPARING)
        maybe_complete_join(c, g);
}

static void complete_join(kn_gcoord_t *c, group_t *g) {
    /* Dynamic members that did not rejoin are out; static ones stay (KIP-345). */
    for (int32_t i = 0; i < g->nmembers;) {
        member_t *m = g->members[i];
        if (!m->awaiting_join && !m->instance_id) {
            kn_log(KN_LOG_INFO, g->id, "member %s did not rejoin in time; removed", m->id);
            detach_member(g, m);
            member_free(m);
            continue;
        }
        i++;
    }
    if (g->state == ST_DEAD) return;
    int64_t t = now(c);
    /* The leader must be a member that rejoined. */
    if (g->leader) {
        member_t *l = find_member(g, S(g->leader), NULL);
        if (!l || !l->awaiting_join) {
            member_t *nl = NULL;
            for (int32_t i = 0; i < g->nmembers && !nl; i++)
                if (g->members[i]->awaiting_join) nl = g->members[i];
            if (!nl && g->nmembers) {
                kn_log(KN_LOG_WARN, g->id, "rebalance cannot complete: no member rejoined; waiting again");
                g->initial_delay = false;
                g->join_deadline = t + group_rebalance_timeout(g);
                want_tick(c, g->join_deadline);
                return;
            }
            if (nl) {
                kn_free(g->leader);
                g->leader = kn_strdup(nl->id);
            }
        }
    }
    g->join_deadline = NONE_DEADLINE;
    g->initial_delay = false;
    g->generation++;
    kn_free(g->protocol);
    g->protocol = NULL;
    if (g->nmembers == 0) {
        set_state(c, g, ST_EMPTY, "rebalance completed without members");
        kn_log(KN_LOG_INFO, g->id, "generation %d is empty", g->generation);
        store_ctx_t *s = kn_calloc(1, sizeof(*s));
        s->fn = ignore_store;
        store_group(c, g, s);
        return;
    }
    const char *p = select_protocol(g);
    g->protocol = p ? kn_strdup(p) : NULL;
    set_state(c, g, ST_COMPLETING, "all members joined");
    kn_log(KN_LOG_INFO, g->id, "stabilized generation %d (protocol %s, leader %s) with %d members", g->generation,
           g->protocol ? g->protocol : "-", g->leader, g->nmembers);
    for (int32_t i = 0; i < g->nmembers; i++) {
        member_t *m = g->members[i];
        void *rq = m->join_req;
        m->join_req = NULL;
        m->awaiting_join = false;
        m->is_new = false;
        m->pending_sync = true;
        m->hb_deadline = t + m->session_ms;
        want_tick(c, m->hb_deadline);
        if (rq) join_answer(c, g, m, rq, !strcmp(m->id, g->leader), NULL, false);
        if (g->state != ST_COMPLETING) return; /* defensive: a callback cannot re-enter, but stay safe */
    }
    g->sync_deadline = t + group_rebalance_timeout(g);
    want_tick(c, g->sync_deadline);
}

static bool all_joined(const group_t *g) {
    if (g->npending) return false;
    for (int32_t i = 0; i < g->nmembers; i++)
        if (!g->members[i]->awaiting_join) return false;
    return true;
}

static void maybe_complete_join(kn_gcoord_t *c, group_t *g) {
    if (g->state == ST_PREPARING && !g->initial_delay && all_joined(g)) complete_join(c, g);
}

static void remove_member_and_update(kn_gcoord_t *c, group_t *g, member_t *m, const char *why) {
    /* A new member may time out while its JoinGroup is parked: it retries. */
    if (m->join_req) {
        void *rq = m->join_req;
        m->join_req = NULL;
        join_error(c, rq, KN_KERR_UNKNOWN_MEMBER_ID, KN_STR(""));
    }
    if (m->sync_req) sync_answer(c, m, KN_KERR_UNKNOWN_MEMBER_ID, NULL);
    kn_log(KN_LOG_INFO, g->id, "member %s%s%s leaves: %s", m->id, m->instance_id ? " instance " : "",
           m->instance_id ? m->instance_id : "", why);
    detach_member(g, m);
    member_free(m);
    switch (g->state) {
    case ST_STABLE:
    case ST_COMPLETING: maybe_prepare_rebalance(c, g, why); break;
    case ST_PREPARING: maybe_complete_join(c, g); break;
    default: break;
    }
}

static member_t *new_member(kn_gcoord_t *c, const kn_gjoin_req_t *in, const char *id) {
    member_t *m = kn_calloc(1, sizeof(*m));
    (void)c;
    m->id = kn_strdup(id);
    m->instance_id = dup_str(in->group_instance_id);
    m->client_id = dup_str(in->client_id.len < 0 ? KN_STR("") : in->client_id);
    m->client_host = dup_str(in->client_host.len < 0 ? KN_STR("") : in->client_host);
    m->session_ms = in->session_timeout_ms;
    m->rebalance_ms = in->rebalance_timeout_ms;
    set_protocols(m, in->protocols, in->nprotocols);
    return m;
}

static void member_set_join(member_t *m, void *req, int16_t version) {
    m->awaiting_join = true;
    m->join_req = req;
    m->join_version = version;
}

static void add_member_and_rebalance(kn_gcoord_t *c, group_t *g, const kn_gjoin_req_t *in, const char *id,
                                     void *req) {
    member_t *m = new_member(c, in, id);
    m->is_new = true;
    member_set_join(m, req, in->version);
    if (g->state == ST_PREPARING && g->generation == 0) g->new_member_added = true;
    if (g->nmembers == 0) {
        add_member(g, m);
        kn_free(g->protocol_type);
        g->protocol_type = dup_str(in->protocol_type);
    } else {
        add_member(g, m);
    }
    m->hb_deadline = now(c) + NEW_MEMBER_JOIN_TIMEOUT_MS;
    want_tick(c, m->hb_deadline);
    char why[512];
    snprintf(why, sizeof(why), "adding new member %s%s%s", id, m->instance_id ? " with instance id " : "",
             m->instance_id ? m->instance_id : "");
    maybe_prepare_rebalance(c, g, why);
}

static void update_member_and_rebalance(kn_gcoord_t *c, group_t *g, member_t *m, const kn_gjoin_req_t *in,
                                        void *req) {
    if (m->join_req && m->join_req != req) {
        void *old = m->join_req;
        m->join_req = NULL;
        join_error(c, old, KN_KERR_REBALANCE_IN_PROGRESS, S(m->id));
    }
    set_protocols(m, in->protocols, in->nprotocols);
    m->session_ms = in->session_timeout_ms;
    m->rebalance_ms = in->rebalance_timeout_ms;
    member_set_join(m, req, in->version);
    char why[300];
    snprintf(why, sizeof(why), "updating metadata for member %s", m->id);
    maybe_prepare_rebalance(c, g, why);
}

static void make_member_id(kn_gcoord_t *c, kn_str_t prefix, char *out, size_t outsz) {
    uint8_t r[16];
    if (c->ops.random16)
        c->ops.random16(c->ops.ud, r);
    else
        default_random(c, r);
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
    int pl = prefix.len < 0 ? 0 : (prefix.len > 200 ? 200 : prefix.len);
    snprintf(out, outsz,
             "%.*s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", pl,
             prefix.p ? prefix.p : "", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
             r[12], r[13], r[14], r[15]);
}

static void static_stored(store_ctx_t *s, int16_t err) {
    kn_gcoord_t *c = s->c;
    group_t *g = find_group(c, S(s->group));
    member_t *m = g ? find_member(g, S(s->member_id), NULL) : NULL;
    if (!g || !m || m->join_req != s->req) {
        /* Gone meanwhile (unloaded, left, fenced): its answer went out already. */
        return;
    }
    m->join_req = NULL;
    m->awaiting_join = false;
    if (err) {
        join_error(c, s->req, map_store_error(err), S(m->id));
        maybe_prepare_rebalance(c, g, "storing a static member replacement failed");
        return;
    }
    join_answer(c, g, m, s->req, s->with_members, s->leader, s->skip);
}

static void static_join(kn_gcoord_t *c, group_t *g, const kn_gjoin_req_t *in, const char *new_id, void *req) {
    member_t *old = find_static(g, in->group_instance_id);
    if (!old) {
        add_member_and_rebalance(c, g, in, new_id, req);
        return;
    }
    /* KIP-345 replacement: the old id is fenced, the member keeps its place
     * (and its assignment) under the new id. */
    char *old_id = old->id;
    char *current_leader = g->leader ? kn_strdup(g->leader) : NULL;
    if (old->join_req) {
        void *rq = old->join_req;
        old->join_req = NULL;
        old->awaiting_join = false;
        join_error(c, rq, KN_KERR_FENCED_INSTANCE_ID, S(old_id));
    }
    if (old->sync_req) sync_answer(c, old, KN_KERR_FENCED_INSTANCE_ID, NULL);
    old->id = kn_strdup(new_id);
    if (g->leader && !strcmp(g->leader, old_id)) {
        kn_free(g->leader);
        g->leader = kn_strdup(new_id);
    }
    kn_log(KN_LOG_INFO, g->id, "static member %.*s rejoined: member id %s replaces %s", in->group_instance_id.len,
           in->group_instance_id.p, new_id, old_id);
    kn_free(old_id);
    old->hb_deadline = now(c) + in->session_timeout_ms;
    want_tick(c, old->hb_deadline);
    set_protocols(old, in->protocols, in->nprotocols);
    old->session_ms = in->session_timeout_ms;
    old->rebalance_ms = in->rebalance_timeout_ms;
    member_set_join(old, req, in->version);
    switch (g->state) {
    case ST_STABLE: {
        const char *next = select_protocol(g);
        if (next && g->protocol && !strcmp(next, g->protocol)) {
            bool is_leader = g->leader && !strcmp(g->leader, old->id);
            bool v9 = in->version >= 9;
            store_ctx_t *s = kn_calloc(1, sizeof(*s));
            s->fn = static_stored;
            s->member_id = kn_strdup(old->id);
            /* Before KIP-814 the rejoined leader is told the old leader id, so
             * it does not compute a new assignment; v9+ gets skip_assignment. */
            s->leader = v9 ? (g->leader ? kn_strdup(g->leader) : NULL)
                           : (current_leader ? kn_strdup(current_leader) : NULL);
            s->req = req;
            s->with_members = is_leader && v9;
            s->skip = is_leader && v9;
            store_group(c, g, s);
        } else {
            maybe_prepare_rebalance(c, g, "static member rejoined with a protocol change");
        }
        break;
    }
    case ST_COMPLETING:
        maybe_prepare_rebalance(c, g, "static member rejoined while the group was completing a rebalance");
        break;
    case ST_PREPARING: maybe_complete_join(c, g); break;
    default: break;
    }
    kn_free(current_leader);
}

void kn_gcoord_join(kn_gcoord_t *c, const kn_gjoin_req_t *in, void *req) {
    int16_t err = kn_gcoord_check(c, in->group_id);
    if (err) {
        join_error(c, req, err, in->member_id);
        return;
    }
    if (in->group_id.len <= 0) {
        join_error(c, req, KN_KERR_INVALID_GROUP_ID, in->member_id);
        return;
    }
    if (in->session_timeout_ms < c->cfg.min_session_timeout_ms ||
        in->session_timeout_ms > c->cfg.max_session_timeout_ms) {
        join_error(c, req, KN_KERR_INVALID_SESSION_TIMEOUT, in->member_id);
        return;
    }
    bool unknown = in->member_id.len <= 0;
    group_t *g = find_group(c, in->group_id);
    bool created = false;
    if (!g) {
        if (!unknown) {
            join_error(c, req, KN_KERR_UNKNOWN_MEMBER_ID, in->member_id);
            return;
        }
        g = create_group(c, in->group_id, kn_gcoord_partition_for(c, in->group_id));
        created = true;
    }
    if (g->state == ST_DEAD) {
        join_error(c, req, KN_KERR_COORDINATOR_NOT_AVAILABLE, in->member_id);
        return;
    }
    member_t *known = unknown ? NULL : find_member(g, in->member_id, NULL);
    bool is_pending = !unknown && find_pending(g, in->member_id) >= 0;
    if (!known && !is_pending && !find_static(g, in->group_instance_id) && g->nmembers >= c->cfg.max_size) {
        join_error(c, req, KN_KERR_GROUP_MAX_SIZE_REACHED, in->member_id);
        goto out;
    }
    if (!supports_protocols(g, in->protocol_type, in->protocols, in->nprotocols)) {
        join_error(c, req, KN_KERR_INCONSISTENT_GROUP_PROTOCOL, in->member_id);
        goto out;
    }
    if (unknown) {
        char id[300];
        make_member_id(c, in->client_id, id, sizeof(id));
        if (in->group_instance_id.len >= 0) {
            static_join(c, g, in, id, req);
        } else if (in->version >= 4) {
            /* KIP-394: hand out the id; the member comes back with it. */
            g->pending = kn_realloc(g->pending, sizeof(*g->pending) * (size_t)(g->npending + 1));
            g->pending[g->npending].id = kn_strdup(id);
            g->pending[g->npending].deadline = now(c) + in->session_timeout_ms;
            want_tick(c, g->pending[g->npending].deadline);
            g->npending++;
            join_error(c, req, KN_KERR_MEMBER_ID_REQUIRED, S(id));
        } else {
            add_member_and_rebalance(c, g, in, id, req);
        }
        goto out;
    }
    if (is_pending) {
        remove_pending(g, find_pending(g, in->member_id));
        char id[300];
        snprintf(id, sizeof(id), "%.*s", in->member_id.len, in->member_id.p);
        add_member_and_rebalance(c, g, in, id, req);
        goto out;
    }
    if (static_fenced(g, in->group_instance_id, in->member_id)) {
        join_error(c, req, KN_KERR_FENCED_INSTANCE_ID, in->member_id);
        goto out;
    }
    if (!known) {
        join_error(c, req, KN_KERR_UNKNOWN_MEMBER_ID, in->member_id);
        goto out;
    }
    switch (g->state) {
    case ST_PREPARING: update_member_and_rebalance(c, g, known, in, req); break;
    case ST_COMPLETING:
        if (protocols_match(known, in->protocols, in->nprotocols)) {
            /* A retried JoinGroup whose answer was lost: same answer again. */
            join_answer(c, g, known, req, !strcmp(known->id, g->leader), NULL, false);
        } else {
            update_member_and_rebalance(c, g, known, in, req);
        }
        break;
    case ST_STABLE:
        if (!strcmp(known->id, g->leader) || !protocols_match(known, in->protocols, in->nprotocols)) {
            update_member_and_rebalance(c, g, known, in, req);
        } else {
            known->hb_deadline = now(c) + known->session_ms;
            join_answer(c, g, known, req, false, NULL, false);
        }
        break;
    default: join_error(c, req, KN_KERR_UNKNOWN_MEMBER_ID, in->member_id); break;
    }
out:
    if (created && g->nmembers == 0 && g->npending == 0 && g->noffs == 0 && g->generation == 0 &&
        g->state == ST_EMPTY)
        destroy_group(c, g, 0);
}

/* ---- sync ---- */

static void assignment_stored(store_ctx_t *s, int16_t err) {
    kn_gcoord_t *c = s->c;
    group_t *g = find_group(c, S(s->group));
    if (!g || g->state != ST_COMPLETING || g->generation != s->generation) return;
    if (err) {
        int16_t e = map_store_error(err);
        kn_log(KN_LOG_WARN, g->id, "storing the assignment of generation %d failed: %s", g->generation,
               kn_kerr_name(err));
        reset_assignment_error(c, g, e);
        maybe_prepare_rebalance(c, g, "storing the assignment failed");
        return;
    }
    set_state(c, g, ST_STABLE, "assignment stored");
    for (int32_t i = 0; i < g->nmembers; i++)
        if (g->members[i]->awaiting_sync) sync_answer(c, g->members[i], 0, g);
}

void kn_gcoord_sync(kn_gcoord_t *c, const kn_gsync_req_t *in, void *req) {
    int16_t err = kn_gcoord_check(c, in->group_id);
    if (err) {
        sync_error(c, req, err);
        return;
    }
    group_t *g = find_group(c, in->group_id);
    if (!g) {
        sync_error(c, req, KN_KERR_UNKNOWN_MEMBER_ID);
        return;
    }
    if (g->state == ST_DEAD) {
        sync_error(c, req, KN_KERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    if (static_fenced(g, in->group_instance_id, in->member_id)) {
        sync_error(c, req, KN_KERR_FENCED_INSTANCE_ID);
        return;
    }
    member_t *m = find_member(g, in->member_id, NULL);
    if (!m) {
        sync_error(c, req, KN_KERR_UNKNOWN_MEMBER_ID);
        return;
    }
    if (in->generation_id != g->generation) {
        sync_error(c, req, KN_KERR_ILLEGAL_GENERATION);
        return;
    }
    if ((in->protocol_type.len >= 0 && !str_is(in->protocol_type, g->protocol_type)) ||
        (in->protocol_name.len >= 0 && !str_is(in->protocol_name, g->protocol))) {
        sync_error(c, req, KN_KERR_INCONSISTENT_GROUP_PROTOCOL);
        return;
    }
    switch (g->state) {
    case ST_EMPTY: sync_error(c, req, KN_KERR_UNKNOWN_MEMBER_ID); return;
    case ST_PREPARING: sync_error(c, req, KN_KERR_REBALANCE_IN_PROGRESS); return;
    case ST_COMPLETING:
        if (m->sync_req) sync_answer(c, m, KN_KERR_REBALANCE_IN_PROGRESS, NULL);
        m->sync_req = req;
        m->awaiting_sync = true;
        m->pending_sync = false;
        m->hb_deadline = now(c) + m->session_ms;
        if (!strcmp(m->id, g->leader)) {
            for (int32_t i = 0; i < g->nmembers; i++) {
                member_t *x = g->members[i];
                kn_free(x->assignment);
                x->assignment = NULL;
                x->assignment_len = 0;
                for (int32_t k = 0; k < in->nassignments; k++) {
                    const kn_gassignment_t *a = &in->assignments[k];
                    if (!str_is(a->member_id, x->id)) continue;
                    int32_t l = a->assignment.len < 0 ? 0 : a->assignment.len;
                    x->assignment = kn_malloc(l ? (size_t)l : 1);
                    if (l) memcpy(x->assignment, a->assignment.p, (size_t)l);
                    x->assignment_len = l;
                    break;
                }
            }
            store_ctx_t *s = kn_calloc(1, sizeof(*s));
            s->fn = assignment_stored;
            store_group(c, g, s);
        }
        return;
    case ST_STABLE:
        m->pending_sync = false;
        m->hb_deadline = now(c) + m->session_ms;
        if (m->sync_req) sync_answer(c, m, KN_KERR_REBALANCE_IN_PROGRESS, NULL);
        m->sync_req = req;
        sync_answer(c, m, 0, g);
        return;
    default: sync_error(c, req, KN_KERR_UNKNOWN_MEMBER_ID); return;
    }
}

/* ---- heartbeat, leave ---- */

int16_t kn_gcoord_heartbeat(kn_gcoord_t *c, kn_str_t group_id, int32_t generation_id, kn_str_t member_id,
                            kn_str_t group_instance_id) {
    int16_t err = kn_gcoord_check(c, group_id);
    if (err) return err;
    group_t *g = find_group(c, group_id);
    if (!g) return KN_KERR_UNKNOWN_MEMBER_ID;
    if (g->state == ST_DEAD) return KN_KERR_COORDINATOR_NOT_AVAILABLE;
    if (static_fenced(g, group_instance_id, member_id)) return KN_KERR_FENCED_INSTANCE_ID;
    member_t *m = find_member(g, member_id, NULL);
    if (!m) return KN_KERR_UNKNOWN_MEMBER_ID;
    if (generation_id != g->generation) return KN_KERR_ILLEGAL_GENERATION;
    switch (g->state) {
    case ST_EMPTY: return KN_KERR_UNKNOWN_MEMBER_ID;
    case ST_PREPARING: m->hb_deadline = now(c) + m->session_ms; return KN_KERR_REBALANCE_IN_PROGRESS;
    case ST_COMPLETING:
    case ST_STABLE: m->hb_deadline = now(c) + m->session_ms; return 0;
    default: return KN_KERR_UNKNOWN_MEMBER_ID;
    }
}

int16_t kn_gcoord_leave_check(kn_gcoord_t *c, kn_str_t group_id) {
    int16_t err = kn_gcoord_check(c, group_id);
    if (err) return err;
    group_t *g = find_group(c, group_id);
    if (g && g->state == ST_DEAD) return KN_KERR_COORDINATOR_NOT_AVAILABLE;
    return 0;
}

int16_t kn_gcoord_leave(kn_gcoord_t *c, kn_str_t group_id, kn_str_t member_id, kn_str_t group_instance_id,
                        kn_str_t reason) {
    int16_t err = kn_gcoord_leave_check(c, group_id);
    if (err) return err;
    group_t *g = find_group(c, group_id);
    if (!g) return KN_KERR_UNKNOWN_MEMBER_ID;
    member_t *m;
    if (group_instance_id.len >= 0) {
        m = find_static(g, group_instance_id);
        if (!m) return KN_KERR_UNKNOWN_MEMBER_ID;
        if (member_id.len > 0 && !str_is(member_id, m->id)) return KN_KERR_FENCED_INSTANCE_ID;
    } else {
        int32_t pi = find_pending(g, member_id);
        if (pi >= 0) {
            remove_pending(g, pi);
            maybe_complete_join(c, g);
            return 0;
        }
        m = find_member(g, member_id, NULL);
        if (!m) return KN_KERR_UNKNOWN_MEMBER_ID;
    }
    char why[300];
    snprintf(why, sizeof(why), "left the group%s%.*s", reason.len > 0 ? ": " : "", reason.len > 0 ? reason.len : 0,
             reason.len > 0 ? reason.p : "");
    remove_member_and_update(c, g, m, why);
    return 0;
}

/* ---- tick ---- */

static void group_tick(kn_gcoord_t *c, group_t *g, int64_t t) {
    for (int32_t i = 0; i < g->npending;) {
        if (g->pending[i].deadline <= t) {
            kn_dbg(KN_DBG_GROUP, g->id, "pending member %s expired", g->pending[i].id);
            remove_pending(g, i);
            maybe_complete_join(c, g);
            continue;
        }
        i++;
    }
    for (int32_t i = 0; i < g->nmembers;) {
        member_t *m = g->members[i];
        if (m->hb_deadline <= t) {
            if (!m->is_new && (m->awaiting_join || m->awaiting_sync)) {
                m->hb_deadline = t + m->session_ms; /* waiting in a rebalance counts as alive */
            } else {
                remove_member_and_update(c, g, m, m->is_new ? "new member did not complete its join in time"
                                                            : "session timeout expired");
                i = 0; /* the member array changed */
                continue;
            }
        }
        i++;
    }
    if (g->join_deadline <= t && g->state == ST_PREPARING) {
        if (g->initial_delay && g->new_member_added && g->initial_remaining > 0) {
            int64_t d = c->cfg.initial_rebalance_delay_ms;
            if (d > g->initial_remaining) d = g->initial_remaining;
            g->initial_remaining -= d;
            g->new_member_added = false;
            g->join_deadline = t + d;
        } else {
            complete_join(c, g);
        }
    } else if (g->join_deadline <= t) {
        g->join_deadline = NONE_DEADLINE;
    }
    if (g->sync_deadline <= t) {
        g->sync_deadline = NONE_DEADLINE;
        if (g->state == ST_COMPLETING || g->state == ST_STABLE) {
            bool any = false;
            for (int32_t i = 0; i < g->nmembers;) {
                member_t *m = g->members[i];
                if (m->pending_sync) {
                    kn_log(KN_LOG_INFO, g->id, "member %s sent no SyncGroup in time; removed", m->id);
                    if (m->join_req) {
                        void *rq = m->join_req;
                        m->join_req = NULL;
                        join_error(c, rq, KN_KERR_UNKNOWN_MEMBER_ID, KN_STR(""));
                    }
                    if (m->sync_req) sync_answer(c, m, KN_KERR_UNKNOWN_MEMBER_ID, NULL);
                    detach_member(g, m);
                    member_free(m);
                    any = true;
                    continue;
                }
                i++;
            }
            if (any) prepare_rebalance(c, g, "members missed the SyncGroup deadline");
        }
    }
}

void kn_gcoord_tick(kn_gcoord_t *c) {
    int64_t t = now(c);
    c->scheduled = NONE_DEADLINE;
    /* Collect first: callbacks may not add groups, but removal must not
     * break the walk. */
    size_t n = 0, cap = c->ngroups;
    group_t **due = cap ? kn_malloc(sizeof(*due) * cap) : NULL;
    for (uint32_t b = 0; b < c->nbuckets; b++)
        for (group_t *g = c->buckets[b]; g; g = g->next)
            if (group_next_deadline(g) <= t && n < cap) due[n++] = g;
    for (size_t i = 0; i < n; i++) group_tick(c, due[i], t);
    kn_free(due);
    int64_t next = kn_gcoord_next_deadline(c);
    c->scheduled = next;
    if (next != NONE_DEADLINE && c->ops.schedule) c->ops.schedule(c->ops.ud, next);
}

/* ---- offsets ---- */

typedef struct commit_item_s {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int64_t expire_ts;
} commit_item_t;

typedef struct commit_ctx_s {
    kn_gcoord_t *c;
    char *group;
    int32_t partition;
    void *req;
    int64_t ts;
    commit_item_t *items;
    int32_t n;
} commit_ctx_t;

static void commit_stored(void *arg, int16_t err) {
    commit_ctx_t *x = arg;
    kn_gcoord_t *c = x->c;
    if (!err && kn_gcoord_partition_state(c, x->partition) == KN_GPART_LOADED) {
        group_t *g = find_group(c, S(x->group));
        if (!g) g = create_group(c, S(x->group), x->partition);
        for (int32_t i = 0; i < x->n; i++) {
            commit_item_t *it = &x->items[i];
            off_t_ *o = off_find(g, it->topic, strlen(it->topic), it->partition, true);
            o->offset = it->offset;
            o->leader_epoch = it->leader_epoch;
            kn_free(o->metadata);
            o->metadata = it->metadata;
            it->metadata = NULL;
            o->commit_ts = x->ts;
            o->expire_ts = it->expire_ts;
        }
    }
    int16_t e = err ? map_store_error(err) : 0;
    if (x->req) c->ops.commit_done(c->ops.ud, x->req, e);
    for (int32_t i = 0; i < x->n; i++) {
        kn_free(x->items[i].topic);
        kn_free(x->items[i].metadata);
    }
    kn_free(x->items);
    kn_free(x->group);
    kn_free(x);
}

int16_t kn_gcoord_commit(kn_gcoord_t *c, kn_str_t group_id, int32_t generation_id, kn_str_t member_id,
                         kn_str_t group_instance_id, int64_t retention_ms, kn_goffset_commit_t *offs,
                         int32_t noffs, void *req) {
    int16_t err = kn_gcoord_check(c, group_id);
    if (err) return err;
    if (group_id.len <= 0) return KN_KERR_INVALID_GROUP_ID;
    group_t *g = find_group(c, group_id);
    if (!g) {
        /* Not managed by us (assign() consumers, admin resets): allowed
         * only without a generation. */
        if (generation_id >= 0) return KN_KERR_ILLEGAL_GENERATION;
    } else {
        if (g->state == ST_DEAD) return KN_KERR_COORDINATOR_NOT_AVAILABLE;
        if (generation_id >= 0 || member_id.len > 0 || group_instance_id.len >= 0) {
            if (static_fenced(g, group_instance_id, member_id)) return KN_KERR_FENCED_INSTANCE_ID;
            member_t *m = find_member(g, member_id, NULL);
            if (!m) return KN_KERR_UNKNOWN_MEMBER_ID;
            if (generation_id != g->generation) return KN_KERR_ILLEGAL_GENERATION;
            if (g->state == ST_COMPLETING) return KN_KERR_REBALANCE_IN_PROGRESS;
            m->hb_deadline = now(c) + m->session_ms;
        } else if (g->state != ST_EMPTY) {
            return KN_KERR_UNKNOWN_MEMBER_ID; /* only members commit for a live group */
        }
    }
    int64_t t = now(c);
    commit_ctx_t *x = kn_calloc(1, sizeof(*x));
    x->c = c;
    x->group = dup_str(group_id);
    x->partition = kn_gcoord_partition_for(c, group_id);
    x->req = req;
    x->ts = t;
    x->items = noffs ? kn_calloc((size_t)noffs, sizeof(*x->items)) : NULL;
    kn_batch_builder_t bb;
    kn_batch_builder_init(&bb, t);
    kn_wbuf_t k, v;
    kn_wbuf_init(&k);
    kn_wbuf_init(&v);
    for (int32_t i = 0; i < noffs; i++) {
        kn_goffset_commit_t *o = &offs[i];
        if (o->error) continue;
        if (o->metadata.len > c->cfg.offset_metadata_max_bytes) {
            o->error = KN_KERR_OFFSET_METADATA_TOO_LARGE;
            continue;
        }
        commit_item_t *it = &x->items[x->n++];
        it->topic = dup_str(o->topic.len < 0 ? KN_STR("") : o->topic);
        it->partition = o->partition;
        it->offset = o->offset;
        it->leader_epoch = o->leader_epoch;
        it->metadata = dup_str(o->metadata.len < 0 ? KN_STR("") : o->metadata);
        it->expire_ts = retention_ms >= 0 ? t + retention_ms : -1;
        kn_wbuf_reset(&k);
        kn_wbuf_reset(&v);
        kn_grec_offset_key(&k, x->group, it->topic, it->partition);
        kn_grec_offset_value(&v, it->offset, it->leader_epoch, it->metadata, t);
        kn_batch_builder_add(&bb, k.mem, (int32_t)k.mem_len, v.mem, (int32_t)v.mem_len);
    }
    kn_wbuf_free(&k);
    kn_wbuf_free(&v);
    if (x->n == 0) {
        kn_batch_builder_free(&bb);
        commit_stored(x, 0);
        return 0;
    }
    append_batch(c, x->partition, &bb, commit_stored, x);
    return 0;
}

void kn_gcoord_fetch_offset(kn_gcoord_t *c, kn_str_t group_id, kn_str_t topic, int32_t partition,
                            kn_goffset_t *out) {
    out->offset = -1;
    out->leader_epoch = -1;
    out->metadata = KN_STR("");
    group_t *g = find_group(c, group_id);
    if (!g || topic.len < 0) return;
    off_t_ *o = off_find(g, topic.p ? topic.p : "", (size_t)topic.len, partition, false);
    if (!o) return;
    out->offset = o->offset;
    out->leader_epoch = o->leader_epoch;
    out->metadata = S(o->metadata ? o->metadata : "");
}

static int cmp_off(const void *a, const void *b) {
    const off_t_ *x = *(const off_t_ *const *)a, *y = *(const off_t_ *const *)b;
    int r = strcmp(x->topic, y->topic);
    if (r) return r;
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

void kn_gcoord_fetch_all(kn_gcoord_t *c, kn_str_t group_id,
                         void (*fn)(void *arg, kn_str_t topic, int32_t partition, const kn_goffset_t *o), void *arg) {
    group_t *g = find_group(c, group_id);
    if (!g || !g->noffs) return;
    off_t_ **all = kn_malloc(sizeof(*all) * g->noffs);
    size_t n = 0;
    for (uint32_t b = 0; b < g->nobuckets; b++)
        for (off_t_ *o = g->obuckets[b]; o; o = o->next) all[n++] = o;
    qsort(all, n, sizeof(*all), cmp_off);
    for (size_t i = 0; i < n; i++) {
        kn_goffset_t go = {all[i]->offset, all[i]->leader_epoch, S(all[i]->metadata ? all[i]->metadata : "")};
        fn(arg, S(all[i]->topic), all[i]->partition, &go);
    }
    kn_free(all);
}

/* Topics the members of a "consumer" group subscribe to (selected protocol). */
typedef struct topics_s {
    char **t;
    int32_t n, cap;
} topics_t;

static void topics_add(void *arg, kn_str_t t) {
    topics_t *ts = arg;
    for (int32_t i = 0; i < ts->n; i++)
        if (str_is(t, ts->t[i])) return;
    if (ts->n == ts->cap) {
        ts->cap = ts->cap ? ts->cap * 2 : 8;
        ts->t = kn_realloc(ts->t, sizeof(*ts->t) * (size_t)ts->cap);
    }
    ts->t[ts->n++] = dup_str(t);
}

static bool subscribed_topics(const group_t *g, topics_t *ts) {
    memset(ts, 0, sizeof(*ts));
    if (!g->protocol_type || strcmp(g->protocol_type, "consumer") || !g->protocol) return false;
    for (int32_t i = 0; i < g->nmembers; i++) {
        const proto_t *p = member_proto(g->members[i], g->protocol);
        if (!p || kn_grec_subscription_topics(p->meta, p->meta_len, topics_add, ts) < 0) return false;
    }
    return true;
}

static void topics_free(topics_t *ts) {
    for (int32_t i = 0; i < ts->n; i++) kn_free(ts->t[i]);
    kn_free(ts->t);
}

static bool topics_has(const topics_t *ts, const char *t) {
    for (int32_t i = 0; i < ts->n; i++)
        if (!strcmp(ts->t[i], t)) return true;
    return false;
}

static void drop_done(void *arg, int16_t err) {
    char *gid = arg;
    if (err) kn_log(KN_LOG_WARN, gid, "writing tombstones failed: %s", kn_kerr_name(err));
    kn_free(gid);
}

int16_t kn_gcoord_delete_offsets(kn_gcoord_t *c, kn_str_t group_id, kn_goffset_commit_t *parts, int32_t n) {
    int16_t err = kn_gcoord_check(c, group_id);
    if (err) return err;
    group_t *g = find_group(c, group_id);
    if (!g || g->state == ST_DEAD) return KN_KERR_GROUP_ID_NOT_FOUND;
    topics_t ts;
    bool consumer = subscribed_topics(g, &ts);
    if (g->state != ST_EMPTY && !consumer) {
        topics_free(&ts);
        return KN_KERR_NON_EMPTY_GROUP;
    }
    kn_batch_builder_t bb;
    kn_batch_builder_init(&bb, now(c));
    int nt = 0;
    for (int32_t i = 0; i < n; i++) {
        kn_goffset_commit_t *p = &parts[i];
        if (p->error || p->topic.len < 0) continue;
        char *t = dup_str(p->topic);
        if (g->state != ST_EMPTY && topics_has(&ts, t)) {
            p->error = KN_KERR_GROUP_SUBSCRIBED_TO_TOPIC;
        } else if (off_remove(g, t, strlen(t), p->partition)) {
            add_offset_tombstone(&bb, g->id, t, p->partition);
            nt++;
        }
        kn_free(t);
    }
    topics_free(&ts);
    if (nt)
        append_batch(c, g->partition, &bb, drop_done, kn_strdup(g->id));
    else
        kn_batch_builder_free(&bb);
    return 0;
}

/* Tombstones for the group and all its offsets, then free it. */
static void drop_group(kn_gcoord_t *c, group_t *g) {
    kn_batch_builder_t bb;
    kn_batch_builder_init(&bb, now(c));
    for (uint32_t b = 0; b < g->nobuckets; b++)
        for (off_t_ *o = g->obuckets[b]; o; o = o->next) add_offset_tombstone(&bb, g->id, o->topic, o->partition);
    add_group_record(c, &bb, g, true);
    set_state(c, g, ST_DEAD, "group removed");
    append_batch(c, g->partition, &bb, drop_done, kn_strdup(g->id));
    destroy_group(c, g, KN_KERR_COORDINATOR_NOT_AVAILABLE);
}

int16_t kn_gcoord_delete_group(kn_gcoord_t *c, kn_str_t group_id) {
    int16_t err = kn_gcoord_check(c, group_id);
    if (err) return err;
    group_t *g = find_group(c, group_id);
    if (!g || g->state == ST_DEAD) return KN_KERR_GROUP_ID_NOT_FOUND;
    if (g->state != ST_EMPTY) return KN_KERR_NON_EMPTY_GROUP;
    kn_log(KN_LOG_INFO, g->id, "group deleted (generation %d, %zu offsets)", g->generation, g->noffs);
    drop_group(c, g);
    return 0;
}

int kn_gcoord_expire_offsets(kn_gcoord_t *c) {
    int64_t t = now(c);
    int64_t ret = c->cfg.offsets_retention_ms;
    int removed = 0;
    size_t ng = 0;
    group_t **all = c->ngroups ? kn_malloc(sizeof(*all) * c->ngroups) : NULL;
    for (uint32_t b = 0; b < c->nbuckets; b++)
        for (group_t *g = c->buckets[b]; g; g = g->next)
            if (kn_gcoord_partition_state(c, g->partition) == KN_GPART_LOADED) all[ng++] = g;
    for (size_t i = 0; i < ng; i++) {
        group_t *g = all[i];
        topics_t ts;
        memset(&ts, 0, sizeof(ts));
        int mode; /* 0 keep, 1 since empty, 2 by commit time, 3 unsubscribed by commit time */
        if (g->protocol_type && g->state == ST_EMPTY)
            mode = 1;
        else if (g->state == ST_STABLE && subscribed_topics(g, &ts))
            mode = 3;
        else if (!g->protocol_type && g->nmembers == 0)
            mode = 2;
        else
            mode = 0;
        kn_batch_builder_t bb;
        kn_batch_builder_init(&bb, t);
        int n = 0;
        for (uint32_t b = 0; mode && b < g->nobuckets; b++) {
            off_t_ **pp = &g->obuckets[b];
            while (*pp) {
                off_t_ *o = *pp;
                int64_t base = (mode == 1 && g->state_ts >= 0) ? g->state_ts : o->commit_ts;
                bool exp = o->expire_ts >= 0 ? o->expire_ts <= t : base + ret <= t;
                if (mode == 3 && topics_has(&ts, o->topic)) exp = false;
                if (exp) {
                    add_offset_tombstone(&bb, g->id, o->topic, o->partition);
                    *pp = o->next;
                    kn_free(o->topic);
                    kn_free(o->metadata);
                    kn_free(o);
                    g->noffs--;
                    n++;
                    continue;
                }
                pp = &o->next;
            }
        }
        topics_free(&ts);
        removed += n;
        if (n) kn_log(KN_LOG_INFO, g->id, "removed %d expired offsets", n);
        if (g->state == ST_EMPTY && g->noffs == 0 && g->nmembers == 0 && g->npending == 0) {
            add_group_record(c, &bb, g, true);
            set_state(c, g, ST_DEAD, "empty without offsets");
            append_batch(c, g->partition, &bb, drop_done, kn_strdup(g->id));
            destroy_group(c, g, 0);
            continue;
        }
        if (n)
            append_batch(c, g->partition, &bb, drop_done, kn_strdup(g->id));
        else
            kn_batch_builder_free(&bb);
    }
    kn_free(all);
    return removed;
}

/* ---- describe / list ---- */

static void fill_info(kn_gcoord_t *c, const group_t *g, kn_ggroup_info_t *out) {
    memset(out, 0, sizeof(*out));
    out->group_id = S(g->id);
    out->state = state_names[g->state];
    out->protocol_type = S(g->protocol_type ? g->protocol_type : "");
    bool stable = g->state == ST_STABLE;
    out->protocol = S(stable && g->protocol ? g->protocol : "");
    out->generation_id = g->generation;
    if (g->nmembers > c->info_cap) {
        c->info_cap = g->nmembers * 2;
        c->info = kn_realloc(c->info, sizeof(*c->info) * (size_t)c->info_cap);
    }
    for (int32_t i = 0; i < g->nmembers; i++) {
        const member_t *m = g->members[i];
        kn_gmember_info_t *mi = &c->info[i];
        mi->member_id = S(m->id);
        mi->group_instance_id = S(m->instance_id);
        mi->client_id = S(m->client_id);
        mi->client_host = S(m->client_host);
        const proto_t *p = stable ? member_proto(m, g->protocol) : NULL;
        mi->metadata = p ? (kn_bytes_t){p->meta, p->meta_len} : (kn_bytes_t){(const uint8_t *)"", 0};
        mi->assignment = stable ? (kn_bytes_t){m->assignment ? m->assignment : (const uint8_t *)"", m->assignment_len}
                                : (kn_bytes_t){(const uint8_t *)"", 0};
    }
    out->members = c->info;
    out->nmembers = g->nmembers;
}

int kn_gcoord_describe(kn_gcoord_t *c, kn_str_t group_id, kn_ggroup_info_t *out) {
    group_t *g = find_group(c, group_id);
    if (!g) {
        memset(out, 0, sizeof(*out));
        out->group_id = group_id;
        out->state = "Dead";
        out->protocol_type = KN_STR("");
        out->protocol = KN_STR("");
        return KN_ENOTFOUND;
    }
    fill_info(c, g, out);
    return 0;
}

void kn_gcoord_list(kn_gcoord_t *c, void (*fn)(void *arg, const kn_ggroup_info_t *g), void *arg) {
    for (uint32_t b = 0; b < c->nbuckets; b++)
        for (group_t *g = c->buckets[b]; g; g = g->next) {
            if (kn_gcoord_partition_state(c, g->partition) != KN_GPART_LOADED) continue;
            kn_ggroup_info_t gi;
            fill_info(c, g, &gi);
            fn(arg, &gi);
        }
}

/* ---- loading ---- */

void kn_gcoord_load_begin(kn_gcoord_t *c, int32_t p) {
    if (p < 0 || p >= c->cfg.num_partitions) return;
    if (c->parts[p].state != KN_GPART_NOT_LED) kn_gcoord_unload(c, p);
    c->parts[p].state = KN_GPART_LOADING;
}

static void clear_members(group_t *g) {
    for (int32_t i = 0; i < g->nmembers; i++) member_free(g->members[i]);
    g->nmembers = 0;
    kn_free(g->leader);
    g->leader = NULL;
    kn_free(g->protocol);
    g->protocol = NULL;
}

int kn_gcoord_load_record(kn_gcoord_t *c, int32_t p, const uint8_t *key, int32_t key_len, const uint8_t *value,
                          int32_t value_len) {
    kn_grec_key_t k;
    int rc = kn_grec_decode_key(key, key_len, &k);
    if (rc == KN_EUNSUPPORTED) return 0;
    if (rc < 0) return KN_ECORRUPT;
    group_t *g = find_group(c, k.group);
    if (g && g->partition != p) return KN_ECORRUPT; /* a group that hashes elsewhere */
    if (k.type == 0) {
        if (!value) {
            if (g) off_remove(g, k.topic.p ? k.topic.p : "", (size_t)k.topic.len, k.partition);
            return 0;
        }
        kn_grec_offset_t o;
        if (kn_grec_decode_offset(value, value_len, &o) < 0) return KN_ECORRUPT;
        if (!g) g = create_group(c, k.group, p);
        off_t_ *e = off_find(g, k.topic.p ? k.topic.p : "", (size_t)k.topic.len, k.partition, true);
        e->offset = o.offset;
        e->leader_epoch = o.leader_epoch;
        kn_free(e->metadata);
        e->metadata = dup_str(o.metadata);
        e->commit_ts = o.commit_ts;
        e->expire_ts = o.expire_ts;
        return 0;
    }
    if (!value) {
        if (g) {
            clear_members(g);
            g->generation = 0;
            kn_free(g->protocol_type);
            g->protocol_type = NULL;
            g->state_ts = -1;
        }
        return 0;
    }
    kn_grec_group_t gr;
    if (kn_grec_decode_group(value, value_len, &gr) < 0) return KN_ECORRUPT;
    if (!g) g = create_group(c, k.group, p);
    clear_members(g);
    g->generation = gr.generation;
    kn_free(g->protocol_type);
    g->protocol_type = gr.protocol_type.len > 0 ? dup_str(gr.protocol_type) : NULL;
    g->protocol = gr.protocol.len >= 0 ? dup_str(gr.protocol) : NULL;
    g->state_ts = gr.state_ts;
    for (int32_t i = 0; i < gr.nmembers; i++) {
        kn_grec_member_t *rm = &gr.members[i];
        member_t *m = kn_calloc(1, sizeof(*m));
        m->id = dup_str(rm->member_id);
        m->instance_id = dup_str(rm->instance_id);
        m->client_id = dup_str(rm->client_id);
        m->client_host = dup_str(rm->client_host);
        m->session_ms = rm->session_timeout;
        m->rebalance_ms = rm->rebalance_timeout >= 0 ? rm->rebalance_timeout : rm->session_timeout;
        kn_gprotocol_t pr = {gr.protocol.len >= 0 ? gr.protocol : KN_STR(""), rm->subscription};
        set_protocols(m, &pr, 1);
        if (rm->assignment.len > 0) {
            m->assignment = kn_malloc((size_t)rm->assignment.len);
            memcpy(m->assignment, rm->assignment.p, (size_t)rm->assignment.len);
            m->assignment_len = rm->assignment.len;
        }
        add_member(g, m);
    }
    kn_free(g->leader);
    g->leader = gr.leader.len >= 0 && gr.nmembers ? dup_str(gr.leader) : NULL;
    kn_free(gr.members);
    return 0;
}

void kn_gcoord_load_end(kn_gcoord_t *c, int32_t p) {
    if (p < 0 || p >= c->cfg.num_partitions) return;
    int64_t t = now(c);
    size_t ng = 0;
    group_t **all = c->ngroups ? kn_malloc(sizeof(*all) * c->ngroups) : NULL;
    for (uint32_t b = 0; b < c->nbuckets; b++)
        for (group_t *g = c->buckets[b]; g; g = g->next)
            if (g->partition == p) all[ng++] = g;
    for (size_t i = 0; i < ng; i++) {
        group_t *g = all[i];
        if (g->nmembers == 0 && g->noffs == 0 && !g->protocol_type && g->generation == 0) {
            destroy_group(c, g, 0); /* tombstoned */
            continue;
        }
        g->state = g->nmembers ? ST_STABLE : ST_EMPTY;
        if (g->state_ts < 0) g->state_ts = t;
        for (int32_t k = 0; k < g->nmembers; k++) {
            g->members[k]->hb_deadline = t + g->members[k]->session_ms;
            want_tick(c, g->members[k]->hb_deadline);
        }
    }
    kn_free(all);
    c->parts[p].state = KN_GPART_LOADED;
    kn_log(KN_LOG_INFO, NULL, "%s-%d: loaded %zu groups", KN_GROUP_OFFSETS_TOPIC, p, ng);
}

void kn_gcoord_unload(kn_gcoord_t *c, int32_t p) {
    if (p < 0 || p >= c->cfg.num_partitions) return;
    size_t ng = 0;
    group_t **all = c->ngroups ? kn_malloc(sizeof(*all) * c->ngroups) : NULL;
    for (uint32_t b = 0; b < c->nbuckets; b++)
        for (group_t *g = c->buckets[b]; g; g = g->next)
            if (g->partition == p) all[ng++] = g;
    for (size_t i = 0; i < ng; i++) destroy_group(c, all[i], KN_KERR_NOT_COORDINATOR);
    kn_free(all);
    c->parts[p].state = KN_GPART_NOT_LED;
}
