/* JSON of the znodes (see znode_int.h). Readers ignore unknown keys and do
 * not depend on key order: Kafka writes these from maps. */
#include "znode_int.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "kanal/util/err.h"
#include "kanal/util/mem.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void kn_cluster__uuid_to_b64(const kn_uuid_t *u, char out[KN_CLUSTER_UUID_B64_LEN + 1]) {
    size_t o = 0;
    for (size_t i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)u->b[i] << 16;
        if (i + 1 < 16) v |= (uint32_t)u->b[i + 1] << 8;
        if (i + 2 < 16) v |= u->b[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < 16) out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < 16) out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
}

static int b64val(char ch) {
    const char *p = ch ? strchr(b64url, ch) : NULL;
    return p ? (int)(p - b64url) : -1;
}

int kn_cluster__uuid_from_b64(const char *s, size_t len, kn_uuid_t *u) {
    /* Java's decoder also accepts padding; tolerate "==" after 22 chars. */
    if (len == 24 && s[22] == '=' && s[23] == '=') len = 22;
    if (len != KN_CLUSTER_UUID_B64_LEN) return KN_ECORRUPT;
    uint8_t out[18];
    size_t o = 0;
    for (size_t i = 0; i < 22; i += 4) {
        uint32_t v = 0;
        size_t n = (22 - i) < 4 ? 22 - i : 4;
        for (size_t k = 0; k < 4; k++) {
            int d = 0;
            if (k < n) {
                d = b64val(s[i + k]);
                if (d < 0) return KN_ECORRUPT;
            }
            v = (v << 6) | (uint32_t)d;
        }
        out[o++] = (uint8_t)(v >> 16);
        if (n > 2) out[o++] = (uint8_t)(v >> 8);
        if (n > 3) out[o++] = (uint8_t)v;
    }
    if (o != 16) return KN_ECORRUPT;
    /* The last char carries 2 bits of data; the other 4 must be zero. */
    if (b64val(s[21]) & 15) return KN_ECORRUPT;
    memcpy(u->b, out, 16);
    return 0;
}

void kn_cluster__random_uuid(kn_uuid_t *u) {
    for (;;) {
        size_t got = 0;
        while (got < 16) {
            ssize_t r = getrandom(u->b + got, 16 - got, 0);
            if (r < 0) {
                if (errno == EINTR) continue;
                /* No entropy syscall: fall back to rand, still unique enough for ids. */
                for (; got < 16; got++) u->b[got] = (uint8_t)rand();
                break;
            }
            got += (size_t)r;
        }
        u->b[6] = (uint8_t)((u->b[6] & 0x0f) | 0x40); /* version 4 */
        u->b[8] = (uint8_t)((u->b[8] & 0x3f) | 0x80); /* IETF variant */
        char t[KN_CLUSTER_UUID_B64_LEN + 1];
        kn_cluster__uuid_to_b64(u, t);
        if (t[0] != '-') return;
    }
}

int kn_cluster__validate_topic_name(const char *name, size_t len, const char **why) {
    const char *w = NULL;
    if (len == 0)
        w = "topic name is empty";
    else if (len > 249)
        w = "topic name is longer than 249 characters";
    else if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        w = "topic name cannot be \".\" or \"..\"";
    else
        for (size_t i = 0; i < len; i++) {
            char ch = name[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '.' || ch == '_' || ch == '-')) {
                w = "topic name may only contain ASCII alphanumerics, '.', '_' and '-'";
                break;
            }
        }
    if (why) *why = w;
    return w ? KN_EINVAL : 0;
}

int kn_cluster__assign_replicas(const int32_t *brokers, int n, int32_t npart, int16_t rf, int start,
                                int shift, int32_t *out) {
    if (n < 1 || rf < 1 || rf > n || npart < 1 || start < 0 || shift < 0) return KN_EINVAL;
    for (int32_t p = 0; p < npart; p++) {
        if (p > 0 && p % n == 0) shift++;
        int first = (int)((p + start) % n);
        out[(size_t)p * (size_t)rf] = brokers[first];
        for (int j = 0; j < rf - 1; j++) {
            int off = 1 + (shift + j) % (n - 1);
            out[(size_t)p * (size_t)rf + 1 + (size_t)j] = brokers[(first + off) % n];
        }
    }
    return 0;
}

/* ---- helpers ---- */

static char *dump(json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) return NULL;
    char *r = kn_strdup(s);
    free(s);
    return r;
}

static json_t *load(const char *data, size_t len) {
    if (!data || len == 0) return NULL;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int get_i32(json_t *o, const char *key, int32_t *v) {
    json_t *x = json_object_get(o, key);
    if (!json_is_integer(x)) return KN_ECORRUPT;
    json_int_t n = json_integer_value(x);
    if (n < INT32_MIN || n > INT32_MAX) return KN_ECORRUPT;
    *v = (int32_t)n;
    return 0;
}

static json_t *int_array(const int32_t *a, int32_t n) {
    json_t *arr = json_array();
    for (int32_t i = 0; i < n; i++) json_array_append_new(arr, json_integer(a[i]));
    return arr;
}

static int parse_int_array(json_t *arr, int32_t **out, int32_t *n) {
    if (!json_is_array(arr)) return KN_ECORRUPT;
    size_t cnt = json_array_size(arr);
    if (cnt > 1000000) return KN_ECORRUPT;
    int32_t *a = kn_malloc((cnt ? cnt : 1) * sizeof(*a));
    for (size_t i = 0; i < cnt; i++) {
        json_t *x = json_array_get(arr, i);
        if (!json_is_integer(x) || json_integer_value(x) < INT32_MIN || json_integer_value(x) > INT32_MAX) {
            kn_free(a);
            return KN_ECORRUPT;
        }
        a[i] = (int32_t)json_integer_value(x);
    }
    *out = a;
    *n = (int32_t)cnt;
    return 0;
}

static char *ts_string(int64_t ts_ms) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, ts_ms);
    return kn_strdup(buf);
}

/* ---- /brokers/ids/<id> ---- */

char *kn_cluster__broker_json(const char *host, int port, const char *rack, int64_t ts_ms) {
    char ep[600];
    snprintf(ep, sizeof(ep), "PLAINTEXT://%s:%d", host, port);
    char *ts = ts_string(ts_ms);
    json_t *j = json_object();
    json_object_set_new(j, "version", json_integer(5));
    json_object_set_new(j, "host", json_string(host));
    json_object_set_new(j, "port", json_integer(port));
    json_t *eps = json_array();
    json_array_append_new(eps, json_string(ep));
    json_object_set_new(j, "endpoints", eps);
    json_object_set_new(j, "listener_security_protocol_map", json_pack("{s:s}", "PLAINTEXT", "PLAINTEXT"));
    json_object_set_new(j, "jmx_port", json_integer(-1));
    json_object_set_new(j, "timestamp", json_string(ts));
    json_object_set_new(j, "rack", rack ? json_string(rack) : json_null());
    json_object_set_new(j, "features", json_object());
    kn_free(ts);
    return dump(j);
}

void kn_cluster__broker_meta_clear(kn_broker_meta_t *b) {
    kn_free(b->host);
    kn_free(b->rack);
    b->host = NULL;
    b->rack = NULL;
}

int kn_cluster__broker_parse(const char *data, size_t len, kn_broker_meta_t *out) {
    json_t *j = load(data, len);
    if (!j) return KN_ECORRUPT;
    int rc = KN_ECORRUPT;
    const char *host = json_string_value(json_object_get(j, "host"));
    int32_t port = -1;
    char hostbuf[512];
    if (host && get_i32(j, "port", &port) != 0) host = NULL;
    if (!host) {
        json_t *eps = json_object_get(j, "endpoints");
        size_t i;
        json_t *e;
        json_array_foreach(eps, i, e) {
            const char *s = json_string_value(e);
            if (!s || strncmp(s, "PLAINTEXT://", 12) != 0) continue;
            const char *hp = s + 12, *colon = strrchr(hp, ':');
            if (!colon || (size_t)(colon - hp) >= sizeof(hostbuf)) continue;
            memcpy(hostbuf, hp, (size_t)(colon - hp));
            hostbuf[colon - hp] = '\0';
            char *end;
            long p = strtol(colon + 1, &end, 10);
            if (*end || p < 0 || p > 65535) continue;
            host = hostbuf;
            port = (int32_t)p;
            break;
        }
    }
    if (host && port >= 0 && port <= 65535) {
        const char *rack = json_string_value(json_object_get(j, "rack"));
        out->host = kn_strdup(host);
        out->port = port;
        out->rack = rack ? kn_strdup(rack) : NULL;
        rc = 0;
    }
    json_decref(j);
    return rc;
}

/* ---- /controller, /controller_epoch ---- */

char *kn_cluster__controller_json(int32_t broker_id, int64_t ts_ms) {
    char *ts = ts_string(ts_ms);
    json_t *j = json_pack("{s:i,s:i,s:s,s:i}", "version", 2, "brokerid", (int)broker_id, "timestamp", ts,
                          "kraftControllerEpoch", -1);
    kn_free(ts);
    return dump(j);
}

int kn_cluster__controller_parse(const char *data, size_t len, int32_t *broker_id) {
    json_t *j = load(data, len);
    if (!j) return KN_ECORRUPT;
    int rc = get_i32(j, "brokerid", broker_id);
    json_decref(j);
    return rc;
}

int kn_cluster__epoch_parse(const char *data, size_t len, int32_t *epoch) {
    char buf[24];
    if (!data || len == 0 || len >= sizeof(buf)) return KN_ECORRUPT;
    memcpy(buf, data, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || end == buf || *end || v < 0 || v > INT32_MAX) return KN_ECORRUPT;
    *epoch = (int32_t)v;
    return 0;
}

/* ---- /cluster/id ---- */

char *kn_cluster__cluster_id_json(const char *id) {
    return dump(json_pack("{s:s,s:s}", "version", "1", "id", id));
}

int kn_cluster__cluster_id_parse(const char *data, size_t len, char **out) {
    json_t *j = load(data, len);
    if (!j) return KN_ECORRUPT;
    const char *id = json_string_value(json_object_get(j, "id"));
    int rc = KN_ECORRUPT;
    if (id && *id && strlen(id) < 256) {
        *out = kn_strdup(id);
        rc = 0;
    }
    json_decref(j);
    return rc;
}

/* ---- /brokers/topics/<t> ---- */

char *kn_cluster__assignment_json(const kn_uuid_t *id, int32_t npart, const kn_partition_state_t *parts) {
    json_t *j = json_object();
    json_object_set_new(j, "version", json_integer(3));
    if (id) {
        char t[KN_CLUSTER_UUID_B64_LEN + 1];
        kn_cluster__uuid_to_b64(id, t);
        json_object_set_new(j, "topic_id", json_string(t));
    }
    json_t *ps = json_object();
    for (int32_t p = 0; p < npart; p++) {
        char k[16];
        snprintf(k, sizeof(k), "%" PRId32, p);
        json_object_set_new(ps, k, int_array(parts[p].replicas, parts[p].nreplicas));
    }
    json_object_set_new(j, "partitions", ps);
    json_object_set_new(j, "adding_replicas", json_object());
    json_object_set_new(j, "removing_replicas", json_object());
    return dump(j);
}

void kn_cluster__parts_free(kn_partition_state_t *parts, int32_t n) {
    if (!parts) return;
    for (int32_t i = 0; i < n; i++) {
        kn_free(parts[i].replicas);
        kn_free(parts[i].isr);
    }
    kn_free(parts);
}

int kn_cluster__assignment_parse(const char *data, size_t len, kn_uuid_t *id, bool *has_id, int32_t *npart,
                                 kn_partition_state_t **parts_out) {
    json_t *j = load(data, len);
    if (!j) return KN_ECORRUPT;
    json_t *ps = json_object_get(j, "partitions");
    int rc = KN_ECORRUPT;
    kn_partition_state_t *parts = NULL;
    size_t n = json_object_size(ps);
    if (!json_is_object(ps) || n > 100000) goto out;
    parts = kn_calloc(n ? n : 1, sizeof(*parts));
    for (size_t i = 0; i < n; i++) {
        parts[i].partition = (int32_t)i;
        parts[i].leader = -1;
        parts[i].zk_version = -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach(ps, key, val) {
        char *end;
        errno = 0;
        long p = strtol(key, &end, 10);
        if (errno || end == key || *end || p < 0 || (size_t)p >= n || parts[p].replicas) goto out;
        if (parse_int_array(val, &parts[p].replicas, &parts[p].nreplicas) != 0) goto out;
    }
    memset(id, 0, sizeof(*id));
    *has_id = false;
    const char *tid = json_string_value(json_object_get(j, "topic_id"));
    if (tid && kn_cluster__uuid_from_b64(tid, strlen(tid), id) == 0) *has_id = true;
    *npart = (int32_t)n;
    *parts_out = parts;
    parts = NULL;
    rc = 0;
out:
    kn_cluster__parts_free(parts, (int32_t)n);
    json_decref(j);
    return rc;
}

/* ---- partition state ---- */

char *kn_cluster__state_json(int32_t leader, int32_t leader_epoch, int32_t controller_epoch, const int32_t *isr,
                             int32_t nisr) {
    json_t *j = json_object();
    json_object_set_new(j, "controller_epoch", json_integer(controller_epoch));
    json_object_set_new(j, "leader", json_integer(leader));
    json_object_set_new(j, "version", json_integer(1));
    json_object_set_new(j, "leader_epoch", json_integer(leader_epoch));
    json_object_set_new(j, "isr", int_array(isr, nisr));
    return dump(j);
}

int kn_cluster__state_parse(const char *data, size_t len, kn_partition_state_t *st) {
    json_t *j = load(data, len);
    if (!j) return KN_ECORRUPT;
    int32_t leader, le, ce, *isr = NULL, nisr = 0;
    int rc = KN_ECORRUPT;
    if (get_i32(j, "leader", &leader) == 0 && get_i32(j, "leader_epoch", &le) == 0 &&
        get_i32(j, "controller_epoch", &ce) == 0 && parse_int_array(json_object_get(j, "isr"), &isr, &nisr) == 0) {
        kn_free(st->isr);
        st->leader = leader;
        st->leader_epoch = le;
        st->controller_epoch = ce;
        st->isr = isr;
        st->nisr = nisr;
        rc = 0;
    }
    json_decref(j);
    return rc;
}

/* ---- /config/topics/<t> ---- */

char *kn_cluster__config_json(const char *const *keys, const char *const *vals, size_t n) {
    json_t *cfg = json_object();
    for (size_t i = 0; i < n; i++) json_object_set_new(cfg, keys[i], json_string(vals[i]));
    json_t *j = json_object();
    json_object_set_new(j, "version", json_integer(1));
    json_object_set_new(j, "config", cfg);
    return dump(j);
}

void kn_cluster__config_free(char **keys, char **vals, size_t n) {
    for (size_t i = 0; i < n; i++) {
        kn_free(keys[i]);
        kn_free(vals[i]);
    }
    kn_free(keys);
    kn_free(vals);
}

int kn_cluster__config_parse(const char *data, size_t len, char ***keys_out, char ***vals_out, size_t *nout) {
    json_t *j = load(data, len);
    if (!j) return KN_ECORRUPT;
    json_t *cfg = json_object_get(j, "config");
    if (!json_is_object(cfg)) {
        json_decref(j);
        return KN_ECORRUPT;
    }
    size_t n = json_object_size(cfg), i = 0;
    char **keys = kn_calloc(n ? n : 1, sizeof(char *)), **vals = kn_calloc(n ? n : 1, sizeof(char *));
    const char *k;
    json_t *v;
    json_object_foreach(cfg, k, v) {
        if (!json_is_string(v)) {
            kn_cluster__config_free(keys, vals, i);
            json_decref(j);
            return KN_ECORRUPT;
        }
        keys[i] = kn_strdup(k);
        vals[i] = kn_strdup(json_string_value(v));
        i++;
    }
    json_decref(j);
    *keys_out = keys;
    *vals_out = vals;
    *nout = n;
    return 0;
}
