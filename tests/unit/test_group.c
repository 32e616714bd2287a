/* Group coordinator state machine (src/group) with a fake clock and an
 * in-memory __consumer_offsets log: joins (KIP-394 member ids, initial
 * delay), syncs, heartbeats, session timeouts, generations, leave, static
 * members (KIP-345), protocol choice, offsets (commit/fetch/generation
 * checks/expiry/delete) and reloading the log into a fresh coordinator.
 * Also the RecordBatch builder and record walker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "group_int.h"
#include "kanal/group/group.h"
#include "kanal/proto/batch.h"
#include "kanal/proto/batch_build.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/mem.h"

#define NPART 4
#define MAXREQ 64

/* ---- fake environment ---- */
typedef struct answer_s {
    bool done;
    int16_t err;
    int32_t gen;
    char member[128], leader[128], proto[32];
    int32_t nmembers;
    char assignment[64];
    bool skip;
} answer_t;

typedef struct env_s {
    int64_t now;
    uint8_t *log[NPART]; /* appended batches, concatenated */
    size_t loglen[NPART];
    int16_t fail_append;
    answer_t ans[MAXREQ];
    int64_t scheduled;
    uint32_t rnd;
} env_t;

static env_t E;

static int64_t f_now(void *ud) { (void)ud; return E.now; }
static void f_append(void *ud, int32_t p, const uint8_t *b, size_t n, kn_gcoord_append_cb done, void *arg) {
    (void)ud;
    assert_true(p >= 0 && p < NPART);
    if (E.fail_append) { done(arg, E.fail_append); return; }
    assert_true(kn_batches_validate(b, n, -1, NULL, &(int16_t){0}) == 0);
    E.log[p] = realloc(E.log[p], E.loglen[p] + n);
    memcpy(E.log[p] + E.loglen[p], b, n);
    E.loglen[p] += n;
    done(arg, 0);
}
/* Handles are index + 1: the coordinator treats NULL as "no request". */
static int idx(void *req) { return (int)(intptr_t)req - 1; }
#define H(i) ((void *)(intptr_t)((i) + 1))
static void f_join(void *ud, void *req, const kn_gjoin_result_t *r) {
    (void)ud;
    answer_t *a = &E.ans[idx(req)];
    assert_false(a->done);
    memset(a, 0, sizeof(*a));
    a->done = true;
    a->err = r->error;
    a->gen = r->generation_id;
    snprintf(a->member, sizeof(a->member), "%.*s", r->member_id.len, r->member_id.p);
    snprintf(a->leader, sizeof(a->leader), "%.*s", r->leader.len < 0 ? 0 : r->leader.len, r->leader.p);
    snprintf(a->proto, sizeof(a->proto), "%.*s", r->protocol_name.len < 0 ? 0 : r->protocol_name.len,
             r->protocol_name.p);
    a->nmembers = r->nmembers;
    a->skip = r->skip_assignment;
}
static void f_sync(void *ud, void *req, const kn_gsync_result_t *r) {
    (void)ud;
    answer_t *a = &E.ans[idx(req)];
    assert_false(a->done);
    memset(a, 0, sizeof(*a));
    a->done = true;
    a->err = r->error;
    snprintf(a->assignment, sizeof(a->assignment), "%.*s", r->assignment.len, (const char *)r->assignment.p);
}
static void f_commit(void *ud, void *req, int16_t err) {
    (void)ud;
    answer_t *a = &E.ans[idx(req)];
    a->done = true;
    a->err = err;
}
static void f_sched(void *ud, int64_t at) { (void)ud; E.scheduled = at; }
static void f_rand(void *ud, uint8_t out[16]) {
    (void)ud;
    for (int i = 0; i < 16; i++) out[i] = (uint8_t)(++E.rnd * 37);
}

static kn_gcoord_t *mk(int32_t delay) {
    kn_gcoord_config_t cfg = {NPART, 100, 60000, delay, 100, 7LL * 24 * 3600 * 1000, 4096};
    kn_gcoord_ops_t ops = {NULL, f_now, f_append, f_join, f_sync, f_commit, f_sched, f_rand};
    kn_gcoord_t *c = kn_gcoord_new(&cfg, &ops);
    assert_non_null(c);
    for (int p = 0; p < NPART; p++) {
        kn_gcoord_load_begin(c, p);
        kn_gcoord_load_end(c, p);
    }
    return c;
}

static void reset_env(void) {
    for (int p = 0; p < NPART; p++) free(E.log[p]);
    memset(&E, 0, sizeof(E));
    E.now = 1000000;
    E.scheduled = INT64_MAX;
}

static kn_str_t S(const char *s) { return s ? (kn_str_t){s, (int32_t)strlen(s)} : KN_STR_NULL; }

/* JoinGroup with protocols "range"(meta) [+ "roundrobin"]. */
static void join(kn_gcoord_t *c, int req, const char *group, const char *member, const char *instance,
                 int16_t version, int32_t session, const char *meta, bool rr_first) {
    kn_gprotocol_t ps[2] = {{S("range"), {(const uint8_t *)meta, (int32_t)strlen(meta)}},
                            {S("roundrobin"), {(const uint8_t *)meta, (int32_t)strlen(meta)}}};
    if (rr_first) {
        kn_gprotocol_t t = ps[0];
        ps[0] = ps[1];
        ps[1] = t;
    }
    kn_gjoin_req_t in;
    memset(&in, 0, sizeof(in));
    in.version = version;
    in.group_id = S(group);
    in.member_id = S(member ? member : "");
    in.group_instance_id = S(instance);
    in.protocol_type = S("consumer");
    in.client_id = S("cli");
    in.client_host = S("/127.0.0.1");
    in.reason = KN_STR_NULL;
    in.session_timeout_ms = session;
    in.rebalance_timeout_ms = 5000;
    in.protocols = ps;
    in.nprotocols = 2;
    E.ans[req].done = false;
    kn_gcoord_join(c, &in, H(req));
}

static void sync_(kn_gcoord_t *c, int req, const char *group, const char *member, int32_t gen,
                  const char *const *members, const char *const *assigns, int n) {
    kn_gassignment_t as[8];
    for (int i = 0; i < n; i++) {
        as[i].member_id = S(members[i]);
        as[i].assignment = (kn_bytes_t){(const uint8_t *)assigns[i], (int32_t)strlen(assigns[i])};
    }
    kn_gsync_req_t in;
    memset(&in, 0, sizeof(in));
    in.group_id = S(group);
    in.member_id = S(member);
    in.group_instance_id = KN_STR_NULL;
    in.protocol_type = KN_STR_NULL;
    in.protocol_name = KN_STR_NULL;
    in.generation_id = gen;
    in.assignments = as;
    in.nassignments = n;
    E.ans[req].done = false;
    kn_gcoord_sync(c, &in, H(req));
}

/* Run every timer due at t (a timer may re-arm for the same instant, as the
 * initial-delay join does when a member arrived during the delay). */
static void tick_to(kn_gcoord_t *c, int64_t t) {
    E.now = t;
    for (int i = 0; i < 10 && kn_gcoord_next_deadline(c) <= t; i++) kn_gcoord_tick(c);
}

/* Two members joined and synced into generation gen; ids in a, b. */
static void two_members(kn_gcoord_t *c, char *a, char *b) {
    join(c, 0, "g", NULL, NULL, 4, 1000, "m", false);
    assert_int_equal(E.ans[0].err, KN_KERR_MEMBER_ID_REQUIRED);
    strcpy(a, E.ans[0].member);
    join(c, 1, "g", NULL, NULL, 4, 1000, "m", false);
    strcpy(b, E.ans[1].member);
    assert_string_not_equal(a, b);
    join(c, 0, "g", a, NULL, 4, 1000, "m", false);
    join(c, 1, "g", b, NULL, 4, 1000, "m", false);
    /* initial delay 0: completes at the next tick */
    assert_false(E.ans[0].done);
    tick_to(c, E.now);
    assert_true(E.ans[0].done && E.ans[1].done);
    assert_int_equal(E.ans[0].err, 0);
    assert_int_equal(E.ans[0].gen, 1);
    assert_string_equal(E.ans[0].leader, a);
    assert_int_equal(E.ans[0].nmembers, 2);
    assert_int_equal(E.ans[1].nmembers, 0);
    const char *ms[] = {a, b}, *as[] = {"A0", "A1"};
    sync_(c, 3, "g", b, 1, NULL, NULL, 0);
    assert_false(E.ans[3].done); /* waits for the leader */
    sync_(c, 2, "g", a, 1, ms, as, 2);
    assert_true(E.ans[2].done && E.ans[3].done);
    assert_string_equal(E.ans[2].assignment, "A0");
    assert_string_equal(E.ans[3].assignment, "A1");
}

static void test_join_sync_heartbeat(void **st) {
    (void)st;
    reset_env();
    kn_gcoord_t *c = mk(0);
    char a[128], b[128];
    two_members(c, a, b);
    assert_int_equal(kn_gcoord_heartbeat(c, S("g"), 1, S(a), KN_STR_NULL), 0);
    assert_int_equal(kn_gcoord_heartbeat(c, S("g"), 0, S(a), KN_STR_NULL), KN_KERR_ILLEGAL_GENERATION);
    assert_int_equal(kn_gcoord_heartbeat(c, S("g"), 1, S("nobody"), KN_STR_NULL), KN_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(kn_gcoord_heartbeat(c, S("other"), 1, S(a), KN_STR_NULL), KN_KERR_UNKNOWN_MEMBER_ID);
    kn_ggroup_info_t gi;
    assert_int_equal(kn_gcoord_describe(c, S("g"), &gi), 0);
    assert_string_equal(gi.state, "Stable");
    assert_int_equal(gi.nmembers, 2);
    /* a rejoin of a follower with the same metadata in Stable: same generation */
    join(c, 5, "g", b, NULL, 4, 1000, "m", false);
    assert_true(E.ans[5].done);
    assert_int_equal(E.ans[5].gen, 1);
    /* changed metadata: rebalance; the other member learns by heartbeat */
    join(c, 5, "g", b, NULL, 4, 1000, "m2", false);
    assert_false(E.ans[5].done);
    assert_int_equal(kn_gcoord_heartbeat(c, S("g"), 1, S(a), KN_STR_NULL), KN_KERR_REBALANCE_IN_PROGRESS);
    sync_(c, 6, "g", a, 1, NULL, NULL, 0);
    assert_int_equal(E.ans[6].err, KN_KERR_REBALANCE_IN_PROGRESS);
    join(c, 4, "g", a, NULL, 4, 1000, "m", false);
    assert_true(E.ans[4].done && E.ans[5].done);
    assert_int_equal(E.ans[4].gen, 2);
    assert_int_equal(E.ans[5].gen, 2);
    kn_gcoord_free(c);
}

static void test_session_timeout_and_leave(void **st) {
    (void)st;
    reset_env();
    kn_gcoord_t *c = mk(0);
    char a[128], b[128];
    two_members(c, a, b);
    /* b stops heartbeating; a keeps going */
    for (int i = 0; i < 3; i++) {
        tick_to(c, E.now + 300);
        assert_int_equal(kn_gcoord_heartbeat(c, S("g"), 1, S(a), KN_STR_NULL), 0);
    }
    tick_to(c, E.now + 300);
    /* 1200 ms > b's 1000 ms session: it was removed, a must rejoin */
    assert_int_equal(kn_gcoord_heartbeat(c, S("g"), 1, S(b), KN_STR_NULL), KN_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(kn_gcoord_heartbeat(c, S("g"), 1, S(a), KN_STR_NULL), KN_KERR_REBALANCE_IN_PROGRESS);
    join(c, 0, "g", a, NULL, 4, 1000, "m", false);
    assert_true(E.ans[0].done);
    assert_int_equal(E.ans[0].gen, 2);
    assert_int_equal(E.ans[0].nmembers, 1);
    const char *ms[] = {a}, *as[] = {"ALL"};
    sync_(c, 1, "g", a, 2, ms, as, 1);
    assert_string_equal(E.ans[1].assignment, "ALL");
    /* clean leave: empty group at once, generation bumped */
    assert_int_equal(kn_gcoord_leave(c, S("g"), S(a), KN_STR_NULL, KN_STR_NULL), 0);
    kn_ggroup_info_t gi;
    kn_gcoord_describe(c, S("g"), &gi);
    assert_string_equal(gi.state, "Empty");
    assert_int_equal(gi.generation_id, 3);
    assert_int_equal(kn_gcoord_leave(c, S("g"), S(a), KN_STR_NULL, KN_STR_NULL), KN_KERR_UNKNOWN_MEMBER_ID);
    kn_gcoord_free(c);
}

static void test_initial_delay_and_protocol(void **st) {
    (void)st;
    reset_env();
    kn_gcoord_t *c = mk(3000);
    /* v3 (pre KIP-394): joined at once with an id */
    join(c, 0, "g", NULL, NULL, 3, 1000, "m", true); /* prefers roundrobin */
    assert_false(E.ans[0].done);
    tick_to(c, E.now + 1000);
    join(c, 1, "g", NULL, NULL, 3, 1000, "m", false); /* prefers range */
    join(c, 2, "g", NULL, NULL, 3, 1000, "m", true);  /* prefers roundrobin */
    tick_to(c, E.now + 2100); /* 3000 ms after the first: a new member came, so the delay restarts */
    assert_false(E.ans[0].done);
    tick_to(c, E.now + 3000);
    assert_true(E.ans[0].done && E.ans[1].done && E.ans[2].done);
    assert_int_equal(E.ans[0].gen, 1);
    assert_string_equal(E.ans[0].proto, "roundrobin"); /* 2 votes to 1 */
    /* a member that supports none of the group's protocols */
    kn_gprotocol_t p = {S("sticky"), {(const uint8_t *)"x", 1}};
    kn_gjoin_req_t in;
    memset(&in, 0, sizeof(in));
    in.version = 5;
    in.group_id = S("g");
    in.member_id = S("");
    in.group_instance_id = KN_STR_NULL;
    in.protocol_type = S("consumer");
    in.session_timeout_ms = 1000;
    in.rebalance_timeout_ms = 1000;
    in.protocols = &p;
    in.nprotocols = 1;
    kn_gcoord_join(c, &in, H(3));
    assert_int_equal(E.ans[3].err, KN_KERR_INCONSISTENT_GROUP_PROTOCOL);
    /* session timeout outside the broker's range */
    join(c, 4, "g", NULL, NULL, 5, 10, "m", false);
    assert_int_equal(E.ans[4].err, KN_KERR_INVALID_SESSION_TIMEOUT);
    kn_gcoord_free(c);
}

static void test_static_member(void **st) {
    (void)st;
    reset_env();
    kn_gcoord_t *c = mk(0);
    join(c, 0, "g", NULL, "i1", 5, 1000, "m", false);
    join(c, 1, "g", NULL, "i2", 5, 1000, "m", false);
    tick_to(c, E.now);
    assert_true(E.ans[0].done && E.ans[1].done);
    char a[128], b[128];
    strcpy(a, E.ans[0].member);
    strcpy(b, E.ans[1].member);
    const char *ms[] = {a, b}, *as[] = {"A0", "A1"};
    const char *leader = !strcmp(E.ans[0].leader, a) ? a : b;
    sync_(c, 2, "g", strcmp(leader, a) ? a : b, 1, NULL, NULL, 0);
    sync_(c, 3, "g", leader, 1, ms, as, 2);
    assert_int_equal(E.ans[2].err, 0);
    /* i2 restarts (unknown member id) within its session: same generation,
     * no rebalance, the old id is fenced */
    const char *follower = strcmp(leader, a) ? a : b;
    const char *finst = follower == a ? "i1" : "i2";
    join(c, 4, "g", NULL, finst, 5, 1000, "m", false);
    assert_true(E.ans[4].done);
    assert_int_equal(E.ans[4].err, 0);
    assert_int_equal(E.ans[4].gen, 1);
    assert_string_not_equal(E.ans[4].member, follower);
    assert_int_equal(kn_gcoord_heartbeat(c, S("g"), 1, S(follower), S(finst)), KN_KERR_FENCED_INSTANCE_ID);
    char nid[128];
    strcpy(nid, E.ans[4].member);
    sync_(c, 5, "g", nid, 1, NULL, NULL, 0);
    assert_string_equal(E.ans[5].assignment, follower == a ? "A0" : "A1");
    assert_int_equal(kn_gcoord_heartbeat(c, S("g"), 1, S(leader), KN_STR_NULL), 0);
    /* the static member's session expires: removed, rebalance */
    for (int i = 0; i < 4; i++) {
        tick_to(c, E.now + 400);
        kn_gcoord_heartbeat(c, S("g"), 1, S(nid), S(finst));
    }
    tick_to(c, E.now + 1100);
    assert_int_equal(kn_gcoord_heartbeat(c, S("g"), 1, S(nid), S(finst)), KN_KERR_UNKNOWN_MEMBER_ID);
    /* leave by instance id */
    kn_gcoord_free(c);
}

static void test_offsets_and_reload(void **st) {
    (void)st;
    reset_env();
    kn_gcoord_t *c = mk(0);
    char a[128], b[128];
    two_members(c, a, b);
    kn_goffset_commit_t o[2] = {{S("t"), 0, 42, 3, S("meta"), 0}, {S("t"), 1, 7, -1, KN_STR_NULL, 0}};
    assert_int_equal(kn_gcoord_commit(c, S("g"), 1, S(a), KN_STR_NULL, -1, o, 2, H(10)), 0);
    assert_true(E.ans[10].done);
    assert_int_equal(E.ans[10].err, 0);
    /* wrong generation, unknown member, no member for a live group */
    assert_int_equal(kn_gcoord_commit(c, S("g"), 0, S(a), KN_STR_NULL, -1, o, 2, NULL), KN_KERR_ILLEGAL_GENERATION);
    assert_int_equal(kn_gcoord_commit(c, S("g"), 1, S("x"), KN_STR_NULL, -1, o, 2, NULL), KN_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(kn_gcoord_commit(c, S("g"), -1, S(""), KN_STR_NULL, -1, o, 2, NULL), KN_KERR_UNKNOWN_MEMBER_ID);
    /* a group nobody manages: generation -1 and no member id are fine */
    kn_goffset_commit_t s[1] = {{S("t"), 0, 5, -1, S(""), 0}};
    assert_int_equal(kn_gcoord_commit(c, S("solo"), -1, S(""), KN_STR_NULL, -1, s, 1, H(11)), 0);
    assert_int_equal(kn_gcoord_commit(c, S("solo2"), 3, S(""), KN_STR_NULL, -1, s, 1, NULL), KN_KERR_ILLEGAL_GENERATION);
    kn_goffset_t got;
    kn_gcoord_fetch_offset(c, S("g"), S("t"), 0, &got);
    assert_int_equal(got.offset, 42);
    assert_int_equal(got.leader_epoch, 3);
    assert_true(kn_str_eq(got.metadata, "meta", 4));
    kn_gcoord_fetch_offset(c, S("g"), S("t"), 2, &got);
    assert_int_equal(got.offset, -1);
    /* non-empty group: cannot be deleted */
    assert_int_equal(kn_gcoord_delete_group(c, S("g")), KN_KERR_NON_EMPTY_GROUP);
    assert_int_equal(kn_gcoord_delete_group(c, S("nope")), KN_KERR_GROUP_ID_NOT_FOUND);

    /* A fresh coordinator reads the log back: offsets and the stable group. */
    kn_gcoord_t *c2;
    {
        kn_gcoord_config_t cfg = {NPART, 100, 60000, 0, 100, 1000, 4096};
        kn_gcoord_ops_t ops = {NULL, f_now, f_append, f_join, f_sync, f_commit, f_sched, f_rand};
        c2 = kn_gcoord_new(&cfg, &ops);
    }
    int32_t gp = kn_gcoord_partition_for(c2, S("g"));
    kn_gcoord_load_begin(c2, gp);
    assert_int_equal(kn_gcoord_check(c2, S("g")), KN_KERR_COORDINATOR_LOAD_IN_PROGRESS);
    for (int p = 0; p < NPART; p++) {
        if (p != gp) kn_gcoord_load_begin(c2, p);
        kn_batch_iter_t it;
        kn_batch_iter_init(&it, E.log[p], E.loglen[p]);
        kn_batch_hdr_t h;
        const uint8_t *bp;
        size_t bs;
        while (kn_batch_iter_next(&it, &h, &bp, &bs) == 1) {
            assert_true(kn_batch_crc_ok(bp, bs));
            kn_record_iter_t ri;
            assert_int_equal(kn_record_iter_init(&ri, bp, bs), 0);
            kn_record_t rec;
            while (kn_record_iter_next(&ri, &rec) == 1)
                assert_int_equal(kn_gcoord_load_record(c2, p, rec.key, rec.key_len, rec.value, rec.value_len), 0);
        }
        kn_gcoord_load_end(c2, p);
    }
    kn_gcoord_fetch_offset(c2, S("g"), S("t"), 1, &got);
    assert_int_equal(got.offset, 7);
    kn_gcoord_fetch_offset(c2, S("solo"), S("t"), 0, &got);
    assert_int_equal(got.offset, 5);
    kn_ggroup_info_t gi;
    assert_int_equal(kn_gcoord_describe(c2, S("g"), &gi), 0);
    assert_string_equal(gi.state, "Stable");
    assert_int_equal(gi.generation_id, 1);
    assert_int_equal(gi.nmembers, 2);
    /* members keep their ids and generation after the move */
    assert_int_equal(kn_gcoord_heartbeat(c2, S("g"), 1, S(a), KN_STR_NULL), 0);
    /* retention (1000 ms here): "solo" has no protocol, expires by commit time */
    E.now += 2000;
    assert_true(kn_gcoord_expire_offsets(c2) >= 1);
    kn_gcoord_fetch_offset(c2, S("solo"), S("t"), 0, &got);
    assert_int_equal(got.offset, -1);
    /* the live group's offsets stay (it still subscribes... no topic parse: kept) */
    kn_gcoord_unload(c2, gp);
    assert_int_equal(kn_gcoord_check(c2, S("g")), KN_KERR_NOT_COORDINATOR);
    kn_gcoord_free(c2);
    kn_gcoord_free(c);
    reset_env();
}

static void test_pending_sync_expiry(void **st) {
    (void)st;
    reset_env();
    kn_gcoord_t *c = mk(0);
    join(c, 0, "g", NULL, NULL, 4, 1000, "m", false);
    char a[128];
    strcpy(a, E.ans[0].member);
    join(c, 0, "g", a, NULL, 4, 1000, "m", false);
    tick_to(c, E.now);
    assert_int_equal(E.ans[0].gen, 1);
    /* the member never sends SyncGroup: removed after the rebalance timeout */
    tick_to(c, E.now + 5001);
    kn_ggroup_info_t gi;
    kn_gcoord_describe(c, S("g"), &gi);
    assert_int_equal(gi.nmembers, 0);
    assert_string_equal(gi.state, "Empty");
    kn_gcoord_free(c);
}

static void test_batch_builder(void **st) {
    (void)st;
    kn_batch_builder_t bb;
    kn_batch_builder_init(&bb, 12345);
    kn_batch_builder_add(&bb, "k1", 2, "v1", 2);
    kn_batch_builder_add(&bb, "k2", 2, NULL, -1);
    kn_batch_builder_add(&bb, NULL, -1, "v3", 2);
    uint8_t *p;
    size_t n;
    assert_int_equal(kn_batch_builder_finish(&bb, &p, &n), 0);
    int16_t kerr = 0;
    kn_batches_info_t info;
    assert_int_equal(kn_batches_validate(p, n, -1, &info, &kerr), 0);
    assert_int_equal(info.nrecords, 3);
    kn_record_iter_t it;
    kn_record_t r;
    assert_int_equal(kn_record_iter_init(&it, p, n), 0);
    assert_int_equal(kn_record_iter_next(&it, &r), 1);
    assert_int_equal(r.key_len, 2);
    assert_memory_equal(r.value, "v1", 2);
    assert_int_equal(r.timestamp, 12345);
    assert_int_equal(kn_record_iter_next(&it, &r), 1);
    assert_int_equal(r.value_len, -1);
    assert_int_equal(r.offset, 1);
    assert_int_equal(kn_record_iter_next(&it, &r), 1);
    assert_int_equal(r.key_len, -1);
    assert_int_equal(kn_record_iter_next(&it, &r), 0);
    /* a damaged record length never reads outside the batch */
    p[KN_BATCH_HEADER_SIZE] = 0x7e;
    assert_int_equal(kn_record_iter_init(&it, p, n), 0);
    assert_true(kn_record_iter_next(&it, &r) < 0);
    kn_batch_builder_free(&bb);
}

static void test_partition_for(void **st) {
    (void)st;
    /* Java: "test-group".hashCode() = 627841412 -> % 50 = 12 */
    assert_int_equal(kn_group_partition_for(S("test-group"), 50), 12);
    assert_int_equal(kn_group_partition_for(S(""), 50), 0);
    /* "polygenelubricants".hashCode() == Integer.MIN_VALUE: Kafka's abs gives 0 */
    assert_int_equal(kn_group_partition_for(S("polygenelubricants"), 50), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_sync_heartbeat),
        cmocka_unit_test(test_session_timeout_and_leave),
        cmocka_unit_test(test_initial_delay_and_protocol),
        cmocka_unit_test(test_static_member),
        cmocka_unit_test(test_offsets_and_reload),
        cmocka_unit_test(test_pending_sync_expiry),
        cmocka_unit_test(test_batch_builder),
        cmocka_unit_test(test_partition_for),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
