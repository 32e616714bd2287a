/* __consumer_offsets keys and values (Kafka's internal schemas
 * ../shared/kafka-protocol/internal/, its Key and Value files), the group placement hash, and
 * the topics of a consumer-protocol subscription. Decoders read untrusted
 * bytes (a log may hold anything a client produced into it) through the
 * bounded reader. */
#include <string.h>

#include "group_int.h"
#include "kanal/util/err.h"
#include "kanal/util/mem.h"

static void wr_s(kn_wbuf_t *w, const char *s) { kn_wr_str16(w, s ? s : "", s ? (int32_t)strlen(s) : 0); }
static void wr_ns(kn_wbuf_t *w, kn_str_t s) { kn_wr_str16(w, s.p, s.len); }

void kn_grec_offset_key(kn_wbuf_t *w, const char *group, const char *topic, int32_t partition) {
    kn_wr_i16(w, KN_GREC_OFFSET_KEY_V);
    wr_s(w, group);
    wr_s(w, topic);
    kn_wr_i32(w, partition);
}

void kn_grec_offset_value(kn_wbuf_t *w, int64_t offset, int32_t leader_epoch, const char *metadata,
                          int64_t commit_ts) {
    kn_wr_i16(w, KN_GREC_OFFSET_VALUE_V);
    kn_wr_i64(w, offset);
    kn_wr_i32(w, leader_epoch);
    wr_s(w, metadata);
    kn_wr_i64(w, commit_ts);
}

void kn_grec_group_key(kn_wbuf_t *w, const char *group) {
    kn_wr_i16(w, KN_GREC_GROUP_KEY_V);
    wr_s(w, group);
}

void kn_grec_group_value(kn_wbuf_t *w, const kn_grec_group_t *g) {
    kn_wr_i16(w, KN_GREC_GROUP_VALUE_V);
    kn_wr_str16(w, g->protocol_type.p ? g->protocol_type.p : "", g->protocol_type.len < 0 ? 0 : g->protocol_type.len);
    kn_wr_i32(w, g->generation);
    wr_ns(w, g->protocol);
    wr_ns(w, g->leader);
    kn_wr_i64(w, g->state_ts);
    kn_wr_i32(w, g->nmembers);
    for (int32_t i = 0; i < g->nmembers; i++) {
        const kn_grec_member_t *m = &g->members[i];
        wr_ns(w, m->member_id);
        wr_ns(w, m->instance_id);
        wr_ns(w, m->client_id);
        wr_ns(w, m->client_host);
        kn_wr_i32(w, m->rebalance_timeout);
        kn_wr_i32(w, m->session_timeout);
        kn_wr_bytes32(w, m->subscription.p, m->subscription.len < 0 ? 0 : m->subscription.len);
        kn_wr_bytes32(w, m->assignment.p, m->assignment.len < 0 ? 0 : m->assignment.len);
    }
}

static int rd_str(kn_rd_t *rd, kn_str_t *s, bool nullable) {
    if (kn_rd_str16(rd, &s->p, &s->len)) return rd->err;
    if (s->len < 0 && !nullable) return kn_rd_fail(rd, KN_ECORRUPT);
    return 0;
}

int kn_grec_decode_key(const uint8_t *p, int32_t len, kn_grec_key_t *k) {
    kn_rd_t rd;
    int16_t v = 0;
    memset(k, 0, sizeof(*k));
    if (!p || len < 2) return KN_ECORRUPT;
    kn_rd_init(&rd, p, (size_t)len);
    kn_rd_i16(&rd, &v);
    if (v == 0 || v == 1) {
        k->type = 0;
        rd_str(&rd, &k->group, false);
        rd_str(&rd, &k->topic, false);
        kn_rd_i32(&rd, &k->partition);
    } else if (v == 2) {
        k->type = 1;
        rd_str(&rd, &k->group, false);
    } else {
        return KN_EUNSUPPORTED; /* transaction log or KIP-848 records: not ours */
    }
    return rd.err;
}

int kn_grec_decode_offset(const uint8_t *p, int32_t len, kn_grec_offset_t *o) {
    kn_rd_t rd;
    int16_t v = 0;
    memset(o, 0, sizeof(*o));
    o->leader_epoch = -1;
    o->expire_ts = -1;
    if (!p || len < 2) return KN_ECORRUPT;
    kn_rd_init(&rd, p, (size_t)len);
    kn_rd_i16(&rd, &v);
    if (v < 0 || v > 3) return KN_EUNSUPPORTED;
    kn_rd_i64(&rd, &o->offset);
    if (v >= 3) kn_rd_i32(&rd, &o->leader_epoch);
    rd_str(&rd, &o->metadata, false);
    kn_rd_i64(&rd, &o->commit_ts);
    if (v == 1) kn_rd_i64(&rd, &o->expire_ts);
    return rd.err;
}

int kn_grec_decode_group(const uint8_t *p, int32_t len, kn_grec_group_t *g) {
    kn_rd_t rd;
    int16_t v = 0;
    memset(g, 0, sizeof(*g));
    g->state_ts = -1;
    if (!p || len < 2) return KN_ECORRUPT;
    kn_rd_init(&rd, p, (size_t)len);
    kn_rd_i16(&rd, &v);
    if (v < 0 || v > 3) return KN_EUNSUPPORTED;
    rd_str(&rd, &g->protocol_type, false);
    kn_rd_i32(&rd, &g->generation);
    rd_str(&rd, &g->protocol, true);
    rd_str(&rd, &g->leader, true);
    if (v >= 2) kn_rd_i64(&rd, &g->state_ts);
    int32_t n = 0;
    /* smallest member: 4 strings (2 bytes) + 2 bytes fields (4) + timeout */
    if (kn_rd_array_len(&rd, false, 20, &n)) return rd.err;
    if (n < 0) return KN_ECORRUPT;
    g->members = n ? kn_trymalloc(sizeof(*g->members) * (size_t)n) : NULL;
    if (n && !g->members) return KN_ENOMEM;
    g->nmembers = n;
    for (int32_t i = 0; i < n; i++) {
        kn_grec_member_t *m = &g->members[i];
        memset(m, 0, sizeof(*m));
        m->instance_id = KN_STR_NULL;
        m->rebalance_timeout = -1;
        rd_str(&rd, &m->member_id, false);
        if (v >= 3) rd_str(&rd, &m->instance_id, true);
        rd_str(&rd, &m->client_id, false);
        rd_str(&rd, &m->client_host, false);
        if (v >= 1) kn_rd_i32(&rd, &m->rebalance_timeout);
        kn_rd_i32(&rd, &m->session_timeout);
        kn_rd_bytes32(&rd, &m->subscription.p, &m->subscription.len);
        kn_rd_bytes32(&rd, &m->assignment.p, &m->assignment.len);
        if (rd.err) break;
        if (m->subscription.len < 0 || m->assignment.len < 0) kn_rd_fail(&rd, KN_ECORRUPT);
    }
    if (rd.err) {
        kn_free(g->members);
        g->members = NULL;
        g->nmembers = 0;
    }
    return rd.err;
}

int kn_grec_subscription_topics(const uint8_t *p, int32_t len, void (*fn)(void *arg, kn_str_t topic), void *arg) {
    kn_rd_t rd;
    int16_t v = 0;
    int32_t n = 0;
    if (!p || len < 6) return KN_ECORRUPT;
    kn_rd_init(&rd, p, (size_t)len);
    kn_rd_i16(&rd, &v);
    if (v < 0) return KN_ECORRUPT;
    if (kn_rd_array_len(&rd, false, 2, &n) || n < 0) return KN_ECORRUPT;
    for (int32_t i = 0; i < n; i++) {
        kn_str_t t;
        if (rd_str(&rd, &t, false)) return KN_ECORRUPT;
        fn(arg, t);
    }
    return 0;
}

/* Java's String.hashCode over UTF-16 code units: s[0]*31^(n-1) + ... + s[n-1],
 * wrapping in 32 bits. Group ids arrive as UTF-8; decode to code points and
 * split those above U+FFFF into surrogate pairs. Invalid UTF-8 bytes count
 * as U+FFFD, as Java's decoder replaces them. */
static int32_t java_string_hash(const uint8_t *s, int32_t n) {
    uint32_t h = 0;
    int32_t i = 0;
    while (i < n) {
        uint32_t c = s[i], cp;
        int need;
        if (c < 0x80) { cp = c; need = 0; }
        else if ((c & 0xe0) == 0xc0) { cp = c & 0x1f; need = 1; }
        else if ((c & 0xf0) == 0xe0) { cp = c & 0x0f; need = 2; }
        else if ((c & 0xf8) == 0xf0) { cp = c & 0x07; need = 3; }
        else { cp = 0xfffd; need = -1; }
        i++;
        if (need > 0) {
            if (i + need > n) { cp = 0xfffd; i = n; }
            else {
                for (int k = 0; k < need; k++) {
                    uint32_t cc = s[i];
                    if ((cc & 0xc0) != 0x80) { cp = 0xfffd; break; }
                    cp = (cp << 6) | (cc & 0x3f);
                    i++;
                }
            }
        }
        if (cp >= 0x10000 && cp <= 0x10ffff) {
            uint32_t v = cp - 0x10000;
            h = h * 31u + (0xd800u + (v >> 10));
            h = h * 31u + (0xdc00u + (v & 0x3ff));
        } else {
            h = h * 31u + (cp & 0xffff);
        }
    }
    return (int32_t)h;
}

int32_t kn_group_partition_for(kn_str_t group_id, int32_t n) {
    if (n <= 0) return 0;
    int32_t h = group_id.len > 0 ? java_string_hash((const uint8_t *)group_id.p, group_id.len) : 0;
    /* Kafka's Utils.abs: Integer.MIN_VALUE maps to 0. */
    int32_t a = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return a % n;
}
