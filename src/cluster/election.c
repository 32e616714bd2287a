/* Pure controller decisions; see election_int.h. */
#include "election_int.h"

#include <string.h>

enum {
    KERR_NOT_LEADER = 6,
    KERR_NOT_CONTROLLER = 41,
    KERR_INVALID_REQUEST = 42,
    KERR_FENCED_LEADER_EPOCH = 74,
    KERR_PREFERRED_NOT_AVAILABLE = 80,
    KERR_ELIGIBLE_NOT_AVAILABLE = 83,
    KERR_ELECTION_NOT_NEEDED = 84,
    KERR_INVALID_UPDATE_VERSION = 95,
    KERR_INELIGIBLE_REPLICA = 107,
};

bool kn_cluster__set_has(const kn_brokerset_t *s, int32_t id) {
    for (int32_t i = 0; i < s->n; i++)
        if (s->ids[i] == id) return true;
    return false;
}

int64_t kn_cluster__set_epoch(const kn_brokerset_t *s, int32_t id) {
    for (int32_t i = 0; i < s->n; i++)
        if (s->ids[i] == id) return s->epochs ? s->epochs[i] : -1;
    return -1;
}

static bool in_list(const int32_t *a, int32_t n, int32_t v) {
    for (int32_t i = 0; i < n; i++)
        if (a[i] == v) return true;
    return false;
}

int32_t kn_cluster__pick_leader(const kn_partition_state_t *ps, const kn_brokerset_t *eligible, bool unclean) {
    for (int32_t i = 0; i < ps->nreplicas; i++)
        if (kn_cluster__set_has(eligible, ps->replicas[i]) && in_list(ps->isr, ps->nisr, ps->replicas[i]))
            return ps->replicas[i];
    if (unclean)
        for (int32_t i = 0; i < ps->nreplicas; i++)
            if (kn_cluster__set_has(eligible, ps->replicas[i])) return ps->replicas[i];
    return -1;
}

/* out->isr = ps->isr ∩ eligible, order kept. */
static void isr_filter(const kn_partition_state_t *ps, const kn_brokerset_t *eligible, kn_lisr_t *out) {
    out->nisr = 0;
    for (int32_t i = 0; i < ps->nisr; i++)
        if (kn_cluster__set_has(eligible, ps->isr[i])) out->isr[out->nisr++] = ps->isr[i];
}

bool kn_cluster__offline_decision(const kn_partition_state_t *ps, const kn_brokerset_t *eligible,
                                  const kn_brokerset_t *registered, bool unclean, kn_lisr_t *out) {
    if (ps->leader >= 0 && kn_cluster__set_has(eligible, ps->leader)) {
        /* Healthy leader: only followers that died or are shutting down
         * leave the ISR (ReplicaStateMachine OfflineReplica). */
        isr_filter(ps, eligible, out);
        if (out->nisr == ps->nisr) return false;
        if (!in_list(out->isr, out->nisr, ps->leader)) {
            /* An ISR that lost its leader entry is repaired: leader first. */
            memmove(out->isr + 1, out->isr, sizeof(int32_t) * (size_t)out->nisr);
            out->isr[0] = ps->leader;
            out->nisr++;
        }
        out->leader = ps->leader;
        out->leader_epoch = ps->leader_epoch + 1;
        return true;
    }
    bool leader_registered = ps->leader >= 0 && kn_cluster__set_has(registered, ps->leader);
    int32_t cand = kn_cluster__pick_leader(ps, eligible, false);
    if (cand < 0 && unclean && !leader_registered) cand = kn_cluster__pick_leader(ps, eligible, true);
    if (cand >= 0) {
        out->leader = cand;
        out->leader_epoch = ps->leader_epoch + 1;
        if (in_list(ps->isr, ps->nisr, cand)) {
            isr_filter(ps, eligible, out);
        } else { /* unclean: the new leader alone */
            out->isr[0] = cand;
            out->nisr = 1;
        }
        return true;
    }
    /* No candidate. A shutting-down leader keeps serving until it exits;
     * a dead one leaves the partition offline with its last ISR, so only a
     * member of it can lead again (no acknowledged write is lost). */
    if (leader_registered || ps->leader < 0) return false;
    out->leader = -1;
    out->leader_epoch = ps->leader_epoch + 1;
    out->nisr = ps->nisr;
    if (ps->nisr > 0) memcpy(out->isr, ps->isr, sizeof(int32_t) * (size_t)ps->nisr);
    return true;
}

int16_t kn_cluster__preferred_decision(const kn_partition_state_t *ps, const kn_brokerset_t *eligible,
                                       kn_lisr_t *out) {
    if (ps->nreplicas < 1) return KERR_PREFERRED_NOT_AVAILABLE;
    int32_t pref = ps->replicas[0];
    if (ps->leader == pref) return KERR_ELECTION_NOT_NEEDED;
    if (!kn_cluster__set_has(eligible, pref) || !in_list(ps->isr, ps->nisr, pref)) return KERR_PREFERRED_NOT_AVAILABLE;
    out->leader = pref;
    out->leader_epoch = ps->leader_epoch + 1;
    out->nisr = ps->nisr;
    memcpy(out->isr, ps->isr, sizeof(int32_t) * (size_t)ps->nisr);
    return 0;
}

int16_t kn_cluster__unclean_decision(const kn_partition_state_t *ps, const kn_brokerset_t *eligible,
                                     kn_lisr_t *out) {
    if (ps->leader >= 0 && kn_cluster__set_has(eligible, ps->leader)) return KERR_ELECTION_NOT_NEEDED;
    int32_t cand = kn_cluster__pick_leader(ps, eligible, true);
    if (cand < 0) return KERR_ELIGIBLE_NOT_AVAILABLE;
    out->leader = cand;
    out->leader_epoch = ps->leader_epoch + 1;
    if (in_list(ps->isr, ps->nisr, cand)) {
        isr_filter(ps, eligible, out);
    } else {
        out->isr[0] = cand;
        out->nisr = 1;
    }
    return 0;
}

static bool same_set(const int32_t *a, int32_t na, const int32_t *b, int32_t nb) {
    if (na != nb) return false;
    for (int32_t i = 0; i < na; i++)
        if (!in_list(b, nb, a[i]) || !in_list(a, na, b[i])) return false;
    return true;
}

int16_t kn_cluster__alter_check(const kn_partition_state_t *cur, int32_t requester, int32_t leader_epoch,
                                int32_t partition_epoch, const int32_t *new_isr, int32_t nisr,
                                const int64_t *member_epochs, const kn_brokerset_t *eligible, bool *noop) {
    *noop = false;
    /* The leader knows a newer state than ours: we are probably no longer
     * the controller; NOT_CONTROLLER sends it looking for the new one. */
    if (partition_epoch > cur->zk_version || leader_epoch > cur->leader_epoch) return KERR_NOT_CONTROLLER;
    if (leader_epoch < cur->leader_epoch) return KERR_FENCED_LEADER_EPOCH;
    if (requester != cur->leader) return KERR_NOT_LEADER;
    if (same_set(new_isr, nisr, cur->isr, cur->nisr)) {
        *noop = true; /* already applied (a retried request): idempotent */
        return 0;
    }
    if (partition_epoch < cur->zk_version) return KERR_INVALID_UPDATE_VERSION;
    if (!in_list(new_isr, nisr, cur->leader)) return KERR_INVALID_REQUEST;
    for (int32_t i = 0; i < nisr; i++) {
        int32_t b = new_isr[i];
        for (int32_t j = 0; j < i; j++)
            if (new_isr[j] == b) return KERR_INVALID_REQUEST;
        if (!in_list(cur->replicas, cur->nreplicas, b)) return KERR_INELIGIBLE_REPLICA;
        /* KIP-841: every member must be live and not shutting down. */
        if (!kn_cluster__set_has(eligible, b)) return KERR_INELIGIBLE_REPLICA;
        /* KIP-903: a member named with a broker epoch must still be that
         * incarnation. */
        if (member_epochs && member_epochs[i] >= 0 && member_epochs[i] != kn_cluster__set_epoch(eligible, b))
            return KERR_INELIGIBLE_REPLICA;
    }
    return 0;
}

double kn_cluster__imbalance(int32_t b, const kn_partition_state_t *const *parts, size_t n) {
    size_t pref = 0, not_led = 0;
    for (size_t i = 0; i < n; i++) {
        const kn_partition_state_t *ps = parts[i];
        if (ps->nreplicas < 1 || ps->replicas[0] != b) continue;
        pref++;
        if (ps->leader != b) not_led++;
    }
    return pref ? (double)not_led / (double)pref : 0.0;
}
