/* Prometheus metrics: counters kept on the loop thread, and a tiny HTTP/1.x
 * server for GET /metrics on `metrics.listeners` (off when empty).
 *
 * Names follow Kafka's JMX metrics as the Prometheus JMX exporter's usual
 * Kafka rules spell them (kafka.server:type=BrokerTopicMetrics,
 * name=MessagesInPerSec,topic=t -> kafka_server_brokertopicmetrics_messagesin_total{topic="t"}),
 * so existing dashboards translate; docs/metrics.md lists every series.
 *
 * The HTTP side never gets in the Kafka listener's way: it runs on the same
 * loop but only does non-blocking socket work; each scrape builds one
 * response from counters already in memory (no disk, no ZooKeeper), at most
 * KN_METRICS_MAX_CONNS scrapes are open at once (more are closed at accept),
 * and a connection that does not send its request or read its response
 * within a deadline is closed. Loop thread only, one broker per process. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "broker_int.h"
#include "kanal/proto/gen/api.h"
#include "kanal/proto/gen/fetch.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/time.h"

#ifndef KANAL_VERSION
#define KANAL_VERSION "0.0.0"
#endif

#define KN_METRICS_MAX_CONNS 16
#define KN_METRICS_REQ_MAX 4096        /* request head bytes */
#define KN_METRICS_READ_TIMEOUT_MS 5000
#define KN_METRICS_WRITE_TIMEOUT_MS 10000
#define KN_METRICS_API_MAX 128

/* Request latency buckets, milliseconds (le labels). */
static const double k_buckets_ms[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};
#define NBUCKETS (sizeof(k_buckets_ms) / sizeof(k_buckets_ms[0]))

typedef struct {
    uint64_t count;
    double sum_ms;
    uint64_t bucket[NBUCKETS]; /* non-cumulative; the last +Inf bucket is count */
} api_stats_t;

typedef struct {
    char *topic;         /* NULL: empty slot */
    uint64_t msgs_in, bytes_in, bytes_out, repl_bytes_out;
} topic_stats_t;

typedef struct mconn_s mconn_t;

static struct {
    kn_broker_t *b;
    /* counters */
    api_stats_t api[KN_METRICS_API_MAX];
    topic_stats_t *topics; /* open addressing, cap a power of two */
    size_t ntopics, cap;
    uint64_t msgs_in, bytes_in, bytes_out, repl_bytes_out;
    uint64_t isr_shrinks, isr_expands;
    uint64_t scrapes, rejected;
    int64_t start_ms;
    /* server */
    uv_tcp_t *listener;
    mconn_t *conns;
    int nconns;
    char addr[300];
} M;

/* ---- counters (hooks) ---- */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static topic_stats_t *topic_slot(const char *topic, size_t tlen) {
    if (M.ntopics * 10 >= M.cap * 7) {
        size_t ncap = M.cap ? M.cap * 2 : 64;
        topic_stats_t *n = kn_calloc(ncap, sizeof(*n));
        for (size_t i = 0; i < M.cap; i++) {
            if (!M.topics[i].topic) continue;
            size_t j = hash_str(M.topics[i].topic) & (ncap - 1);
            while (n[j].topic) j = (j + 1) & (ncap - 1);
            n[j] = M.topics[i];
        }
        kn_free(M.topics);
        M.topics = n;
        M.cap = ncap;
    }
    char name[256];
    if (tlen >= sizeof(name)) tlen = sizeof(name) - 1; /* Kafka caps topic names at 249 */
    memcpy(name, topic, tlen);
    name[tlen] = '\0';
    size_t j = hash_str(name) & (M.cap - 1);
    while (M.topics[j].topic) {
        if (!strcmp(M.topics[j].topic, name)) return &M.topics[j];
        j = (j + 1) & (M.cap - 1);
    }
    M.topics[j].topic = kn_strdup(name);
    M.ntopics++;
    return &M.topics[j];
}

void kn_metrics__request(const kn_req_t *r) {
    if (r->api_key < 0 || r->api_key >= KN_METRICS_API_MAX) return;
    api_stats_t *a = &M.api[r->api_key];
    double ms = (double)(kn_mono_ns() - r->start_ns) / 1e6;
    a->count++;
    a->sum_ms += ms;
    for (size_t i = 0; i < NBUCKETS; i++)
        if (ms <= k_buckets_ms[i]) {
            a->bucket[i]++;
            break;
        }
}

void kn_metrics__produced(const kn_partition_t *p, int64_t records, int64_t bytes) {
    topic_stats_t *t = topic_slot(p->topic, strlen(p->topic));
    t->msgs_in += (uint64_t)records;
    t->bytes_in += (uint64_t)bytes;
    M.msgs_in += (uint64_t)records;
    M.bytes_in += (uint64_t)bytes;
}

void kn_metrics__fetched(const struct kn_FetchResponse_s *resp, bool replica) {
    for (int32_t i = 0; i < resp->responses_count; i++) {
        const kn_FetchResponse_FetchableTopicResponse_t *tr = &resp->responses[i];
        uint64_t n = 0;
        for (int32_t j = 0; j < tr->partitions_count; j++)
            if (tr->partitions[j].records.len > 0) n += (uint64_t)tr->partitions[j].records.len;
        if (!n || tr->topic.len <= 0) continue;
        topic_stats_t *t = topic_slot(tr->topic.p, (size_t)tr->topic.len);
        if (replica) {
            t->repl_bytes_out += n;
            M.repl_bytes_out += n;
        } else {
            t->bytes_out += n;
            M.bytes_out += n;
        }
    }
}

void kn_metrics__isr_change(int32_t old_n, int32_t new_n) {
    if (new_n < old_n) M.isr_shrinks++;
    else if (new_n > old_n) M.isr_expands++;
}

/* ---- rendering ---- */

typedef struct {
    char *p;
    size_t len, cap;
} sbuf_t;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf_t *s, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = s->cap - s->len;
        int n = vsnprintf(s->p ? s->p + s->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if ((size_t)n < room) {
            s->len += (size_t)n;
            return;
        }
        s->cap = (s->cap + (size_t)n + 1) * 2;
        s->p = kn_realloc(s->p, s->cap);
    }
}

static void family(sbuf_t *s, const char *name, const char *type, const char *help) {
    sb_printf(s, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Topic names are [a-zA-Z0-9._-] (Kafka's rule), so they need no escaping
 * in label values. */
static void render(sbuf_t *s) {
    kn_broker_t *b = M.b;
    kn_cluster_t *c = b->cluster;

    family(s, "kanal_build_info", "gauge", "Kanal version; value is always 1.");
    sb_printf(s, "kanal_build_info{version=\"%s\",broker_id=\"%d\"} 1\n", KANAL_VERSION, b->cfg->broker_id);
    family(s, "process_start_time_seconds", "gauge", "Start time of the broker since the Unix epoch, seconds.");
    sb_printf(s, "process_start_time_seconds %.3f\n", (double)M.start_ms / 1000.0);

    /* BrokerTopicMetrics: the total (no topic label) and per topic, as Kafka. */
    static const struct {
        const char *name, *help;
        size_t off;
        size_t toff;
    } tm[] = {
        {"kafka_server_brokertopicmetrics_messagesin_total", "Records appended by producers (leader appends).",
         offsetof(topic_stats_t, msgs_in), 0},
        {"kafka_server_brokertopicmetrics_bytesin_total", "Record bytes received in Produce requests.",
         offsetof(topic_stats_t, bytes_in), 1},
        {"kafka_server_brokertopicmetrics_bytesout_total", "Record bytes sent in Fetch responses to consumers.",
         offsetof(topic_stats_t, bytes_out), 2},
        {"kafka_server_brokertopicmetrics_replicationbytesout_total",
         "Record bytes sent in Fetch responses to follower replicas.", offsetof(topic_stats_t, repl_bytes_out), 3},
    };
    const uint64_t totals[] = {M.msgs_in, M.bytes_in, M.bytes_out, M.repl_bytes_out};
    for (size_t k = 0; k < sizeof(tm) / sizeof(tm[0]); k++) {
        family(s, tm[k].name, "counter", tm[k].help);
        sb_printf(s, "%s %" PRIu64 "\n", tm[k].name, totals[tm[k].toff]);
        for (size_t i = 0; i < M.cap; i++) {
            const topic_stats_t *t = &M.topics[i];
            if (!t->topic) continue;
            /* Deleted topics drop out, as Kafka removes their metrics. */
            if (c && !kn_cluster_topic(c, t->topic, strlen(t->topic))) continue;
            uint64_t v = *(const uint64_t *)((const char *)t + tm[k].off);
            sb_printf(s, "%s{topic=\"%s\"} %" PRIu64 "\n", tm[k].name, t->topic, v);
        }
    }

    /* RequestMetrics: rate and TotalTimeMs per API (time to the reply being
     * ready, parked time included). */
    family(s, "kafka_network_requestmetrics_requests_total", "counter", "Requests handled, by API.");
    for (int k = 0; k < KN_METRICS_API_MAX; k++) {
        if (!M.api[k].count) continue;
        const kn_api_info_t *ai = kn_api_info((int16_t)k);
        sb_printf(s, "kafka_network_requestmetrics_requests_total{request=\"%s\"} %" PRIu64 "\n",
                  ai ? ai->name : "Unknown", M.api[k].count);
    }
    family(s, "kafka_network_requestmetrics_totaltimems", "histogram",
           "Time from a request's arrival to its reply being ready, milliseconds, by API.");
    for (int k = 0; k < KN_METRICS_API_MAX; k++) {
        const api_stats_t *a = &M.api[k];
        if (!a->count) continue;
        const kn_api_info_t *ai = kn_api_info((int16_t)k);
        const char *name = ai ? ai->name : "Unknown";
        uint64_t cum = 0;
        for (size_t i = 0; i < NBUCKETS; i++) {
            cum += a->bucket[i];
            sb_printf(s, "kafka_network_requestmetrics_totaltimems_bucket{request=\"%s\",le=\"%g\"} %" PRIu64 "\n",
                      name, k_buckets_ms[i], cum);
        }
        sb_printf(s, "kafka_network_requestmetrics_totaltimems_bucket{request=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
                  name, a->count);
        sb_printf(s, "kafka_network_requestmetrics_totaltimems_sum{request=\"%s\"} %.3f\n", name, a->sum_ms);
        sb_printf(s, "kafka_network_requestmetrics_totaltimems_count{request=\"%s\"} %" PRIu64 "\n", name, a->count);
    }

    /* ReplicaManager (this broker's partitions). */
    int64_t urp = 0, leaders = 0, urmin = 0;
    for (size_t i = 0; i < b->nparts; i++) {
        const kn_partition_t *p = b->parts[i];
        if (!p->is_leader) continue;
        leaders++;
        if (p->nreplicas > 0 && p->nisr < p->nreplicas) urp++;
        if (p->nisr < kn_replica__min_isr(b, p)) urmin++;
    }
    family(s, "kafka_server_replicamanager_partitioncount", "gauge", "Partitions with a replica on this broker.");
    sb_printf(s, "kafka_server_replicamanager_partitioncount %zu\n", b->nparts);
    family(s, "kafka_server_replicamanager_leadercount", "gauge", "Partitions this broker leads.");
    sb_printf(s, "kafka_server_replicamanager_leadercount %" PRId64 "\n", leaders);
    family(s, "kafka_server_replicamanager_underreplicatedpartitions", "gauge",
           "Partitions led here whose ISR is smaller than the replica set.");
    sb_printf(s, "kafka_server_replicamanager_underreplicatedpartitions %" PRId64 "\n", urp);
    family(s, "kafka_server_replicamanager_underminisrpartitioncount", "gauge",
           "Partitions led here whose ISR is smaller than min.insync.replicas.");
    sb_printf(s, "kafka_server_replicamanager_underminisrpartitioncount %" PRId64 "\n", urmin);
    family(s, "kafka_server_replicamanager_isrshrinks_total", "counter", "ISR shrinks of partitions led here.");
    sb_printf(s, "kafka_server_replicamanager_isrshrinks_total %" PRIu64 "\n", M.isr_shrinks);
    family(s, "kafka_server_replicamanager_isrexpands_total", "counter", "ISR expansions of partitions led here.");
    sb_printf(s, "kafka_server_replicamanager_isrexpands_total %" PRIu64 "\n", M.isr_expands);

    /* KafkaController: meaningful on the active controller; 0 elsewhere. */
    bool ctl = c && kn_cluster_is_controller(c);
    int64_t offline = 0, gparts = 0, gtopics = 0;
    if (ctl) {
        const kn_topic_meta_t *const *ts = NULL;
        size_t nt = kn_cluster_topics(c, &ts);
        for (size_t i = 0; i < nt; i++) {
            if (ts[i]->deleting) continue;
            gtopics++;
            for (int32_t k = 0; k < ts[i]->npartitions; k++) {
                gparts++;
                if (ts[i]->parts[k].leader < 0) offline++;
            }
        }
    }
    family(s, "kafka_controller_kafkacontroller_activecontrollercount", "gauge",
           "1 on the broker that is the active controller, else 0.");
    sb_printf(s, "kafka_controller_kafkacontroller_activecontrollercount %d\n", ctl ? 1 : 0);
    family(s, "kafka_controller_kafkacontroller_offlinepartitionscount", "gauge",
           "Partitions without a leader (reported by the active controller).");
    sb_printf(s, "kafka_controller_kafkacontroller_offlinepartitionscount %" PRId64 "\n", offline);
    family(s, "kafka_controller_kafkacontroller_globalpartitioncount", "gauge",
           "Partitions in the cluster (reported by the active controller).");
    sb_printf(s, "kafka_controller_kafkacontroller_globalpartitioncount %" PRId64 "\n", gparts);
    family(s, "kafka_controller_kafkacontroller_globaltopiccount", "gauge",
           "Topics in the cluster (reported by the active controller).");
    sb_printf(s, "kafka_controller_kafkacontroller_globaltopiccount %" PRId64 "\n", gtopics);

    /* Log, per local partition. */
    family(s, "kafka_log_log_size", "gauge", "Bytes on disk of the partition's log segments.");
    for (size_t i = 0; i < b->nparts; i++)
        sb_printf(s, "kafka_log_log_size{topic=\"%s\",partition=\"%d\"} %" PRId64 "\n", b->parts[i]->topic,
                  b->parts[i]->partition, kn_plog_size(b->parts[i]->log));
    family(s, "kafka_log_log_logendoffset", "gauge", "Offset after the partition's last record.");
    for (size_t i = 0; i < b->nparts; i++)
        sb_printf(s, "kafka_log_log_logendoffset{topic=\"%s\",partition=\"%d\"} %" PRId64 "\n", b->parts[i]->topic,
                  b->parts[i]->partition, kn_plog_end_offset(b->parts[i]->log));
    family(s, "kafka_log_log_logstartoffset", "gauge", "The partition's first offset still in the log.");
    for (size_t i = 0; i < b->nparts; i++)
        sb_printf(s, "kafka_log_log_logstartoffset{topic=\"%s\",partition=\"%d\"} %" PRId64 "\n",
                  b->parts[i]->topic, b->parts[i]->partition, kn_plog_start_offset(b->parts[i]->log));

    family(s, "kafka_server_socket_server_metrics_connection_count", "gauge", "Open Kafka client connections.");
    sb_printf(s, "kafka_server_socket_server_metrics_connection_count{listener=\"PLAINTEXT\"} %zu\n",
              b->server ? kn_server_nconns(b->server) : (size_t)0);

    /* Kafka's GroupMetadataManager NumGroups gauge. */
    family(s, "kafka_coordinator_group_groupmetadatamanager_numgroups", "gauge",
           "Consumer groups this broker coordinates.");
    sb_printf(s, "kafka_coordinator_group_groupmetadatamanager_numgroups %zu\n", kn_group__count(b));

    family(s, "kanal_metrics_scrapes_total", "counter", "GET /metrics requests answered.");
    sb_printf(s, "kanal_metrics_scrapes_total %" PRIu64 "\n", M.scrapes);
    family(s, "kanal_metrics_rejected_connections_total", "counter",
           "Metrics connections closed at accept because too many were open.");
    sb_printf(s, "kanal_metrics_rejected_connections_total %" PRIu64 "\n", M.rejected);
}

/* ---- HTTP ---- */

struct mconn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wr;
    mconn_t *next;
    char in[KN_METRICS_REQ_MAX];
    size_t inlen;
    char *out;
    int open_handles; /* freed when both handles have closed */
    bool closing, writing;
};

static void conn_handle_closed(uv_handle_t *h) {
    mconn_t *c = h->data;
    if (--c->open_handles == 0) {
        kn_free(c->out);
        kn_free(c);
    }
}

static void conn_close(mconn_t *c) {
    if (c->closing) return;
    c->closing = true;
    for (mconn_t **pp = &M.conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    M.nconns--;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void conn_timeout(uv_timer_t *t) { conn_close(t->data); }

static void on_written(uv_write_t *w, int status) {
    (void)status;
    mconn_t *c = w->data;
    c->writing = false;
    conn_close(c);
}

static void respond(mconn_t *c, const char *status, const char *ctype, sbuf_t *body, bool head) {
    sbuf_t out = {0};
    sb_printf(&out,
              "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n"
              "Cache-Control: no-store\r\n\r\n",
              status, ctype, body->len);
    if (!head && body->len) {
        if (out.cap - out.len < body->len + 1) {
            out.cap = out.len + body->len + 1;
            out.p = kn_realloc(out.p, out.cap);
        }
        memcpy(out.p + out.len, body->p, body->len);
        out.len += body->len;
    }
    kn_free(body->p);
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->out = out.p;
    uv_buf_t buf = uv_buf_init(out.p, (unsigned)out.len);
    c->wr.data = c;
    c->writing = true;
    /* A reader that stalls is cut off at the write deadline. */
    uv_timer_start(&c->timer, conn_timeout, KN_METRICS_WRITE_TIMEOUT_MS, 0);
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0) {
        c->writing = false;
        conn_close(c);
    }
}

static void handle_request(mconn_t *c) {
    /* Request line: METHOD SP TARGET SP VERSION */
    char method[8], target[256];
    sbuf_t body = {0};
    if (sscanf(c->in, "%7s %255s", method, target) != 2) {
        sb_printf(&body, "bad request\n");
        respond(c, "400 Bad Request", "text/plain", &body, false);
        return;
    }
    bool head = !strcmp(method, "HEAD");
    if (strcmp(method, "GET") && !head) {
        sb_printf(&body, "only GET\n");
        respond(c, "405 Method Not Allowed", "text/plain", &body, false);
        return;
    }
    size_t plen = strcspn(target, "?");
    if (plen == 8 && !strncmp(target, "/metrics", 8)) {
        M.scrapes++;
        render(&body);
        respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", &body, head);
    } else if (plen == 1 && target[0] == '/') {
        sb_printf(&body, "kanald %s: metrics at /metrics\n", KANAL_VERSION);
        respond(c, "200 OK", "text/plain", &body, head);
    } else {
        sb_printf(&body, "not found; try /metrics\n");
        respond(c, "404 Not Found", "text/plain", &body, head);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    mconn_t *c = h->data;
    size_t room = sizeof(c->in) - 1 - c->inlen;
    *buf = uv_buf_init(c->in + c->inlen, (unsigned)room);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    (void)buf;
    mconn_t *c = s->data;
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (n == 0 || c->writing) return;
    c->inlen += (size_t)n;
    c->in[c->inlen] = '\0';
    if (strstr(c->in, "\r\n\r\n") || strstr(c->in, "\n\n")) {
        handle_request(c);
    } else if (c->inlen >= sizeof(c->in) - 1) {
        sbuf_t body = {0};
        sb_printf(&body, "request head too large\n");
        respond(c, "431 Request Header Fields Too Large", "text/plain", &body, false);
    }
}

static void on_connection(uv_stream_t *srv, int status) {
    if (status < 0) return;
    mconn_t *c = kn_calloc(1, sizeof(*c));
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->open_handles = 2;
    c->next = M.conns;
    M.conns = c;
    M.nconns++;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    if (M.nconns > KN_METRICS_MAX_CONNS) {
        M.rejected++;
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_start(&c->timer, conn_timeout, KN_METRICS_READ_TIMEOUT_MS, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) conn_close(c);
}

static void listener_closed(uv_handle_t *h) { kn_free(h); }

int kn_metrics__start(kn_broker_t *b) {
    M.b = b;
    M.start_ms = kn_now_ms();
    const char *spec = b->cfg->metrics_listeners;
    if (!spec || !*spec) return 0;
    char host[256];
    int port = 0;
    if (kn_listener_parse(spec, host, sizeof(host), &port) != 0) {
        kn_log(KN_LOG_ERROR, NULL, "metrics.listeners '%s': expected http://host:port", spec);
        return KN_EINVAL;
    }
    const char *h = *host ? host : "0.0.0.0";
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;
    if (uv_ip4_addr(h, port, &addr.in4) != 0 && uv_ip6_addr(h, port, &addr.in6) != 0) {
        kn_log(KN_LOG_ERROR, NULL, "metrics.listeners '%s': '%s' is not an IP address", spec, h);
        return KN_EINVAL;
    }
    M.listener = kn_calloc(1, sizeof(*M.listener));
    uv_tcp_init(b->loop, M.listener);
    int rc = uv_tcp_bind(M.listener, &addr.sa, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)M.listener, 16, on_connection);
    if (rc != 0) {
        kn_log(KN_LOG_ERROR, NULL, "metrics.listeners %s: cannot listen: %s", spec, uv_strerror(rc));
        uv_close((uv_handle_t *)M.listener, listener_closed);
        M.listener = NULL;
        return KN_EIO;
    }
    struct sockaddr_storage got;
    int glen = sizeof(got);
    int bound = port;
    if (uv_tcp_getsockname(M.listener, (struct sockaddr *)&got, &glen) == 0)
        bound = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                : ((struct sockaddr_in *)&got)->sin_port);
    snprintf(M.addr, sizeof(M.addr), "http://%s:%d/metrics", h, bound);
    kn_log(KN_LOG_INFO, NULL, "metrics: serving Prometheus text on %s", M.addr);
    return 0;
}

void kn_metrics__stop(kn_broker_t *b) {
    (void)b;
    if (M.listener) {
        uv_close((uv_handle_t *)M.listener, listener_closed);
        M.listener = NULL;
    }
    while (M.conns) conn_close(M.conns);
}
