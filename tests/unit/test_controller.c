/* The controller's pure decisions (src/cluster/election.c): offline and
 * controlled-shutdown election with ISR clean-up, unclean election,
 * preferred election, AlterPartition validation, leader imbalance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "election_int.h"

/* A partition state over caller arrays. */
static kn_partition_state_t part(int32_t leader, int32_t le, int32_t zkv, int32_t *rep, int32_t nrep, int32_t *isr,
                                 int32_t nisr) {
    kn_partition_state_t ps;
    memset(&ps, 0, sizeof(ps));
    ps.leader = leader;
    ps.leader_epoch = le;
    ps.zk_version = zkv;
    ps.replicas = rep;
    ps.nreplicas = nrep;
    ps.isr = isr;
    ps.nisr = nisr;
    return ps;
}

#define SET(...)                                                                                                       \
    ((kn_brokerset_t){(const int32_t[]){__VA_ARGS__}, NULL,                                                           \
                      (int32_t)(sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t))})
static const kn_brokerset_t EMPTY = {NULL, NULL, 0};

static void assert_isr(const kn_lisr_t *d, int32_t n, const int32_t *want) {
    assert_int_equal(d->nisr, n);
    for (int32_t i = 0; i < n; i++) assert_int_equal(d->isr[i], want[i]);
}

static void test_pick_leader(void **st) {
    (void)st;
    int32_t rep[] = {1, 2, 3}, isr[] = {3, 2};
    kn_partition_state_t ps = part(-1, 0, 0, rep, 3, isr, 2);
    /* assignment order wins over ISR order */
    kn_brokerset_t all = SET(1, 2, 3);
    assert_int_equal(kn_cluster__pick_leader(&ps, &all, false), 2);
    kn_brokerset_t only3 = SET(3);
    assert_int_equal(kn_cluster__pick_leader(&ps, &only3, false), 3);
    kn_brokerset_t only1 = SET(1);
    assert_int_equal(kn_cluster__pick_leader(&ps, &only1, false), -1);
    assert_int_equal(kn_cluster__pick_leader(&ps, &only1, true), 1); /* unclean: any live replica */
    assert_int_equal(kn_cluster__pick_leader(&ps, &EMPTY, true), -1);
}

static void test_leader_dies(void **st) {
    (void)st;
    int32_t rep[] = {1, 2, 3}, isr[] = {1, 2, 3}, out[3];
    kn_partition_state_t ps = part(1, 4, 9, rep, 3, isr, 3);
    kn_brokerset_t live = SET(2, 3);
    kn_lisr_t d = {.isr = out};
    assert_true(kn_cluster__offline_decision(&ps, &live, &live, false, &d));
    assert_int_equal(d.leader, 2);
    assert_int_equal(d.leader_epoch, 5);
    assert_isr(&d, 2, (int32_t[]){2, 3});
}

static void test_follower_dies(void **st) {
    (void)st;
    int32_t rep[] = {1, 2, 3}, isr[] = {1, 2, 3}, out[3];
    kn_partition_state_t ps = part(1, 4, 9, rep, 3, isr, 3);
    kn_brokerset_t live = SET(1, 2);
    kn_lisr_t d = {.isr = out};
    assert_true(kn_cluster__offline_decision(&ps, &live, &live, false, &d));
    assert_int_equal(d.leader, 1); /* unchanged */
    assert_int_equal(d.leader_epoch, 5);
    assert_isr(&d, 2, (int32_t[]){1, 2});
    /* nothing to do once clean */
    int32_t isr2[] = {1, 2};
    ps = part(1, 5, 10, rep, 3, isr2, 2);
    assert_false(kn_cluster__offline_decision(&ps, &live, &live, false, &d));
    /* a follower outside the ISR dying changes nothing */
    kn_brokerset_t all = SET(1, 2, 3);
    assert_false(kn_cluster__offline_decision(&ps, &all, &all, false, &d));
}

static void test_no_live_isr(void **st) {
    (void)st;
    int32_t rep[] = {1, 2, 3}, isr[] = {1, 2}, out[3];
    kn_partition_state_t ps = part(1, 4, 9, rep, 3, isr, 2);
    kn_brokerset_t live = SET(3);
    kn_lisr_t d = {.isr = out};
    /* clean: offline, ISR kept as it is so only 1 or 2 may lead again */
    assert_true(kn_cluster__offline_decision(&ps, &live, &live, false, &d));
    assert_int_equal(d.leader, -1);
    assert_int_equal(d.leader_epoch, 5);
    assert_isr(&d, 2, (int32_t[]){1, 2});
    /* already offline: no further write */
    ps = part(-1, 5, 10, rep, 3, isr, 2);
    assert_false(kn_cluster__offline_decision(&ps, &live, &live, false, &d));
    /* unclean: 3 leads alone */
    assert_true(kn_cluster__offline_decision(&ps, &live, &live, true, &d));
    assert_int_equal(d.leader, 3);
    assert_int_equal(d.leader_epoch, 6);
    assert_isr(&d, 1, (int32_t[]){3});
    /* an ISR member returns: it leads, ISR = live members */
    kn_brokerset_t back = SET(2, 3);
    assert_true(kn_cluster__offline_decision(&ps, &back, &back, false, &d));
    assert_int_equal(d.leader, 2);
    assert_isr(&d, 1, (int32_t[]){2});
}

static void test_controlled_shutdown(void **st) {
    (void)st;
    int32_t rep[] = {1, 2, 3}, isr[] = {1, 2, 3}, out[3];
    kn_partition_state_t ps = part(1, 0, 0, rep, 3, isr, 3);
    kn_brokerset_t elig = SET(2, 3), reg = SET(1, 2, 3); /* 1 shutting down */
    kn_lisr_t d = {.isr = out};
    assert_true(kn_cluster__offline_decision(&ps, &elig, &reg, false, &d));
    assert_int_equal(d.leader, 2);
    assert_isr(&d, 2, (int32_t[]){2, 3});
    /* it follows: leaves the ISR */
    ps = part(2, 0, 0, rep, 3, isr, 3);
    assert_true(kn_cluster__offline_decision(&ps, &elig, &reg, false, &d));
    assert_int_equal(d.leader, 2);
    assert_isr(&d, 2, (int32_t[]){2, 3});
    /* no other ISR member: a shutting-down leader keeps leading (RF 1, or
     * followers out of sync), even with unclean election on */
    int32_t isr1[] = {1};
    ps = part(1, 0, 0, rep, 3, isr1, 1);
    assert_false(kn_cluster__offline_decision(&ps, &elig, &reg, true, &d));
    int32_t rep1[] = {1};
    ps = part(1, 0, 0, rep1, 1, isr1, 1);
    assert_false(kn_cluster__offline_decision(&ps, &elig, &reg, false, &d));
}

static void test_preferred(void **st) {
    (void)st;
    int32_t rep[] = {1, 2, 3}, isr[] = {2, 3, 1}, out[3];
    kn_partition_state_t ps = part(2, 7, 3, rep, 3, isr, 3);
    kn_brokerset_t all = SET(1, 2, 3);
    kn_lisr_t d = {.isr = out};
    assert_int_equal(kn_cluster__preferred_decision(&ps, &all, &d), 0);
    assert_int_equal(d.leader, 1);
    assert_int_equal(d.leader_epoch, 8);
    assert_isr(&d, 3, (int32_t[]){2, 3, 1});
    ps.leader = 1;
    assert_int_equal(kn_cluster__preferred_decision(&ps, &all, &d), 84); /* ELECTION_NOT_NEEDED */
    ps.leader = 2;
    kn_brokerset_t no1 = SET(2, 3);
    assert_int_equal(kn_cluster__preferred_decision(&ps, &no1, &d), 80); /* PREFERRED_LEADER_NOT_AVAILABLE */
    int32_t isr2[] = {2, 3};
    ps = part(2, 7, 3, rep, 3, isr2, 2);
    assert_int_equal(kn_cluster__preferred_decision(&ps, &all, &d), 80); /* not in sync */
}

static void test_unclean_request(void **st) {
    (void)st;
    int32_t rep[] = {1, 2, 3}, isr[] = {1}, out[3];
    kn_partition_state_t ps = part(-1, 2, 3, rep, 3, isr, 1);
    kn_brokerset_t live = SET(3);
    kn_lisr_t d = {.isr = out};
    assert_int_equal(kn_cluster__unclean_decision(&ps, &live, &d), 0);
    assert_int_equal(d.leader, 3);
    assert_isr(&d, 1, (int32_t[]){3});
    assert_int_equal(kn_cluster__unclean_decision(&ps, &EMPTY, &d), 83);
    ps.leader = 3;
    assert_int_equal(kn_cluster__unclean_decision(&ps, &live, &d), 84);
}

static void test_alter_partition(void **st) {
    (void)st;
    int32_t rep[] = {1, 2, 3}, isr[] = {1, 2, 3};
    kn_partition_state_t cur = part(1, 5, 12, rep, 3, isr, 3);
    int64_t ep[] = {100, 200, 300};
    kn_brokerset_t live = {(const int32_t[]){1, 2, 3}, ep, 3};
    bool noop;
    int32_t shrink[] = {1, 2};
    /* the normal shrink */
    assert_int_equal(kn_cluster__alter_check(&cur, 1, 5, 12, shrink, 2, NULL, &live, &noop), 0);
    assert_false(noop);
    /* old leader epoch: fenced; newer one: we may be a stale controller */
    assert_int_equal(kn_cluster__alter_check(&cur, 1, 4, 12, shrink, 2, NULL, &live, &noop), 74);
    assert_int_equal(kn_cluster__alter_check(&cur, 1, 6, 12, shrink, 2, NULL, &live, &noop), 41);
    assert_int_equal(kn_cluster__alter_check(&cur, 1, 5, 13, shrink, 2, NULL, &live, &noop), 41);
    /* stale partition epoch */
    assert_int_equal(kn_cluster__alter_check(&cur, 1, 5, 11, shrink, 2, NULL, &live, &noop), 95);
    /* ...unless the proposal is already the state (a retried request) */
    int32_t same[] = {3, 2, 1};
    assert_int_equal(kn_cluster__alter_check(&cur, 1, 5, 11, same, 3, NULL, &live, &noop), 0);
    assert_true(noop);
    /* not from the leader */
    assert_int_equal(kn_cluster__alter_check(&cur, 2, 5, 12, shrink, 2, NULL, &live, &noop), 6);
    /* ISR without the leader, duplicates */
    int32_t noleader[] = {2, 3}, dup[] = {1, 2, 2};
    assert_int_equal(kn_cluster__alter_check(&cur, 1, 5, 12, noleader, 2, NULL, &live, &noop), 42);
    assert_int_equal(kn_cluster__alter_check(&cur, 1, 5, 12, dup, 3, NULL, &live, &noop), 42);
    /* expansion with a dead, a non-replica, a stale-epoch member (KIP-841/903) */
    int32_t isr1[] = {1};
    kn_partition_state_t cur1 = part(1, 5, 12, rep, 3, isr1, 1);
    int32_t grow[] = {1, 3}, alien[] = {1, 9};
    kn_brokerset_t no3 = {(const int32_t[]){1, 2}, ep, 2};
    assert_int_equal(kn_cluster__alter_check(&cur1, 1, 5, 12, grow, 2, NULL, &live, &noop), 0);
    assert_int_equal(kn_cluster__alter_check(&cur1, 1, 5, 12, grow, 2, NULL, &no3, &noop), 107);
    assert_int_equal(kn_cluster__alter_check(&cur1, 1, 5, 12, alien, 2, NULL, &live, &noop), 107);
    int64_t good[] = {100, 300}, stale[] = {100, 299}, unknown[] = {-1, -1};
    assert_int_equal(kn_cluster__alter_check(&cur1, 1, 5, 12, grow, 2, good, &live, &noop), 0);
    assert_int_equal(kn_cluster__alter_check(&cur1, 1, 5, 12, grow, 2, stale, &live, &noop), 107);
    assert_int_equal(kn_cluster__alter_check(&cur1, 1, 5, 12, grow, 2, unknown, &live, &noop), 0);
}

static void test_imbalance(void **st) {
    (void)st;
    int32_t r12[] = {1, 2}, r21[] = {2, 1}, isr[] = {1, 2};
    kn_partition_state_t a = part(1, 0, 0, r12, 2, isr, 2), b = part(2, 0, 0, r12, 2, isr, 2),
                         c = part(2, 0, 0, r21, 2, isr, 2), d = part(2, 0, 0, r12, 2, isr, 2);
    const kn_partition_state_t *parts[] = {&a, &b, &c, &d};
    /* broker 1 prefers a, b, d and leads only a */
    assert_true(kn_cluster__imbalance(1, parts, 4) > 0.66 && kn_cluster__imbalance(1, parts, 4) < 0.67);
    assert_true(kn_cluster__imbalance(2, parts, 4) == 0.0);
    assert_true(kn_cluster__imbalance(3, parts, 4) == 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_leader),     cmocka_unit_test(test_leader_dies),
        cmocka_unit_test(test_follower_dies),   cmocka_unit_test(test_no_live_isr),
        cmocka_unit_test(test_controlled_shutdown), cmocka_unit_test(test_preferred),
        cmocka_unit_test(test_unclean_request), cmocka_unit_test(test_alter_partition),
        cmocka_unit_test(test_imbalance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
