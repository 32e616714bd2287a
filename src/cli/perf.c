/* `kanal perf`: load generator in the spirit of kafka-producer-perf-test,
 * kafka-consumer-perf-test and kafka-e2e-latency, on librdkafka.
 *
 *   produce  pre-built payload, delivery latency (enqueue -> delivery report)
 *   consume  assign() every partition from the beginning, count records
 *   e2e      paced producer (linger.ms=0) + consumer thread; the payload
 *            carries the monotonic send time, latency = receive - send
 *
 * --mock N runs librdkafka's in-process mock cluster and points the clients at
 * it: the reference upper bound for benchmarks. Every loop is bounded by
 * --num-records and --timeout-ms. Units: MB = 2^20 bytes; latencies in ms. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "cli_int.h"
#include "kanal/util/mem.h"
#include "kanal/util/time.h"

#define MB (1024.0 * 1024.0)
#define E2E_HDR 16 /* payload header: u64 send ns (monotonic), u64 sequence */
#define E2E_WARMUP UINT64_MAX

typedef enum { MODE_PRODUCE, MODE_CONSUME, MODE_E2E } perf_mode_t;

typedef struct {
    perf_mode_t mode;
    const char *bootstrap;
    const char *topic;
    long long num_records;
    long long record_size;
    int key_size;            /* 0: no keys */
    const char *acks;        /* NULL: librdkafka's default */
    long long linger_ms;     /* -1: default (e2e: 0) */
    long long batch_size;    /* -1: default */
    const char *compression; /* NULL: none */
    double throughput;       /* records/s cap, <= 0: none */
    int partitions;          /* for --create-topic and --mock */
    int replication_factor;
    bool create_topic;
    int mock;                /* brokers in the mock cluster, 0: none */
    bool json;
    long long timeout_ms;
    const char *group;
    const char **props;      /* -X key=value, borrowed from argv */
    int nprops;
} perf_opts_t;

/* ---- latency histogram: log-linear, 32 sub-buckets per power of two (~3%) ---- */

#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_N (2 * HIST_SUB + (64 - HIST_SUB_BITS - 1) * HIST_SUB)

typedef struct {
    uint64_t cnt[HIST_N];
    uint64_t n;
    double sum;
    uint64_t max;
} perf_hist_t;

static unsigned hist_idx(uint64_t v) {
    if (v < 2 * HIST_SUB) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned e = msb - HIST_SUB_BITS; /* v >> e lies in [HIST_SUB, 2*HIST_SUB) */
    return 2 * HIST_SUB + (e - 1) * HIST_SUB + (unsigned)((v >> e) - HIST_SUB);
}

/* Midpoint of bucket idx. */
static uint64_t hist_value(unsigned idx) {
    if (idx < 2 * HIST_SUB) return idx;
    unsigned e = (idx - 2 * HIST_SUB) / HIST_SUB + 1;
    uint64_t m = (idx - 2 * HIST_SUB) % HIST_SUB + HIST_SUB;
    return (m << e) + ((UINT64_C(1) << e) >> 1);
}

static void hist_add(perf_hist_t *h, uint64_t v) {
    h->cnt[hist_idx(v)]++;
    h->n++;
    h->sum += (double)v;
    if (v > h->max) h->max = v;
}

/* Value at quantile q (0..1), never above the exact maximum. */
static uint64_t hist_quantile(const perf_hist_t *h, double q) {
    if (h->n == 0) return 0;
    uint64_t want = (uint64_t)(q * (double)h->n + 0.999999);
    if (want < 1) want = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_N; i++) {
        seen += h->cnt[i];
        if (seen >= want) {
            uint64_t v = hist_value(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

static double ns_ms(double ns) { return ns / 1e6; }

/* ---- small helpers ---- */

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static long max_rss_kib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void sleep_ns(int64_t ns) {
    if (ns <= 0) return;
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static const char *mode_name(perf_mode_t m) {
    return m == MODE_PRODUCE ? "produce" : m == MODE_CONSUME ? "consume" : "e2e";
}

/* Shared by the callbacks of one client handle (rd_kafka_conf_set_opaque). */
typedef struct {
    const char *who;  /* "producer" / "consumer", for messages */
    atomic_int fatal; /* set by error_cb on a fatal error */
    atomic_int nerr;  /* client errors seen, for rate limiting */
    /* producer delivery reports; touched only from rd_kafka_poll/flush on the
     * thread that produces */
    int64_t delivered, failed, bytes;
    rd_kafka_resp_err_t first_err;
    perf_hist_t *lat; /* enqueue -> delivery, ns; may be NULL */
} perf_client_t;

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    perf_client_t *pc = opaque;
    int n = atomic_fetch_add(&pc->nerr, 1);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, buf, sizeof(buf));
        fprintf(stderr, "kanal perf: %s: fatal error %s: %s\n", pc->who, rd_kafka_err2name(ferr), buf);
        atomic_store(&pc->fatal, 1);
        return;
    }
    if (n < 10 || n % 1000 == 0)
        fprintf(stderr, "kanal perf: %s: %s: %s%s\n", pc->who, rd_kafka_err2name((rd_kafka_resp_err_t)err), reason,
                n == 9 ? " (further client errors are shown every 1000th)" : "");
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    perf_client_t *pc = opaque;
    if (m->err) {
        if (pc->failed == 0) {
            pc->first_err = m->err;
            fprintf(stderr, "kanal perf: delivery failed: %s: %s\n", rd_kafka_err2name(m->err),
                    rd_kafka_err2str(m->err));
        }
        pc->failed++;
        return;
    }
    pc->delivered++;
    pc->bytes += (int64_t)m->len;
    if (pc->lat && m->_private) {
        int64_t sent = (int64_t)(uintptr_t)m->_private;
        int64_t d = kn_mono_ns() - sent;
        hist_add(pc->lat, d > 0 ? (uint64_t)d : 0);
    }
}

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char err[512];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kanal perf: %s=%s: %s\n", k, v, err);
        return -1;
    }
    return 0;
}

static int conf_set_ll(rd_kafka_conf_t *conf, const char *k, long long v) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", v);
    return conf_set(conf, k, buf);
}

/* Build a client handle. -X properties are applied last so they win. */
static rd_kafka_t *client_new(const perf_opts_t *o, rd_kafka_type_t type, perf_client_t *pc) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int bad = 0;
    bad |= conf_set(conf, "bootstrap.servers", o->bootstrap);
    bad |= conf_set(conf, "client.id", "kanal-perf");
    if (type == RD_KAFKA_PRODUCER) {
        if (o->acks) bad |= conf_set(conf, "acks", o->acks);
        long long linger = o->linger_ms >= 0 ? o->linger_ms : (o->mode == MODE_E2E ? 0 : -1);
        if (linger >= 0) bad |= conf_set_ll(conf, "linger.ms", linger);
        if (o->batch_size >= 0) bad |= conf_set_ll(conf, "batch.size", o->batch_size);
        if (o->compression) bad |= conf_set(conf, "compression.type", o->compression);
        /* Room for the whole run in the local queue, so the measured figure is
         * the broker's pace rather than queue-full back-off. */
        bad |= conf_set(conf, "queue.buffering.max.messages", "1000000");
        bad |= conf_set(conf, "queue.buffering.max.kbytes", "1048576");
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    } else {
        bad |= conf_set(conf, "group.id", o->group); /* unused by assign(), required by the API */
        bad |= conf_set(conf, "enable.auto.commit", "false");
        bad |= conf_set(conf, "enable.auto.offset.store", "false");
        bad |= conf_set(conf, "auto.offset.reset", "earliest");
        /* Defaults (100000 msgs / 64 MiB per partition) make a fast consumer's
         * partitions pause ~1 s when the local queue fills (ENVIRONMENT.md). */
        bad |= conf_set(conf, "queued.min.messages", "10000000");
        bad |= conf_set(conf, "queued.max.messages.kbytes", "1048576");
    }
    for (int i = 0; i < o->nprops; i++) {
        const char *eq = strchr(o->props[i], '=');
        char key[256];
        size_t kl = (size_t)(eq - o->props[i]);
        if (kl >= sizeof(key)) kl = sizeof(key) - 1;
        memcpy(key, o->props[i], kl);
        key[kl] = '\0';
        bad |= conf_set(conf, key, eq + 1);
    }
    if (bad) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, pc);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "kanal perf: cannot create %s: %s\n", pc->who, err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* CreateTopics through the admin API; an existing topic is fine. */
static int create_topic(rd_kafka_t *rk, const perf_opts_t *o) {
    char err[512];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(o->topic, o->partitions, o->replication_factor, err, sizeof(err));
    if (!nt) {
        fprintf(stderr, "kanal perf: topic %s: %s\n", o->topic, err);
        return -1;
    }
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    int tmo = o->timeout_ms > 30000 ? 30000 : (int)o->timeout_ms;
    rd_kafka_AdminOptions_set_request_timeout(ao, tmo, err, sizeof(err));
    rd_kafka_AdminOptions_set_operation_timeout(ao, tmo, err, sizeof(err));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, tmo + 5000);
    int rc = -1;
    if (!ev) {
        fprintf(stderr, "kanal perf: CreateTopics %s: no answer within %d ms\n", o->topic, tmo + 5000);
    } else if (rd_kafka_event_error(ev)) {
        fprintf(stderr, "kanal perf: CreateTopics %s: %s\n", o->topic, rd_kafka_event_error_string(ev));
    } else {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        rd_kafka_resp_err_t e = cnt ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR_UNKNOWN;
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) rc = 0;
        else
            fprintf(stderr, "kanal perf: CreateTopics %s: %s: %s\n", o->topic, rd_kafka_err2name(e),
                    cnt && rd_kafka_topic_result_error_string(tr[0]) ? rd_kafka_topic_result_error_string(tr[0])
                                                                      : "");
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* Wait until the topic's metadata lists partitions, each with a leader.
 * Returns the partition count, or -1 at the deadline (monotonic ms). */
static int wait_topic(rd_kafka_t *rk, const char *topic, int64_t deadline) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const char *last = "no answer";
    char lastbuf[128];
    int n = -1;
    while (kn_mono_ms() < deadline) {
        const struct rd_kafka_metadata *md = NULL;
        int64_t left = deadline - kn_mono_ms();
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, (int)(left > 5000 ? 5000 : left));
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
            const struct rd_kafka_metadata_topic *t = &md->topics[0];
            bool ready = t->err == RD_KAFKA_RESP_ERR_NO_ERROR && t->partition_cnt > 0;
            for (int i = 0; ready && i < t->partition_cnt; i++)
                if (t->partitions[i].leader < 0 || t->partitions[i].err) ready = false;
            if (ready) n = t->partition_cnt;
            else {
                snprintf(lastbuf, sizeof(lastbuf), "topic error %s, %d partitions", rd_kafka_err2name(t->err),
                         t->partition_cnt);
                last = lastbuf;
            }
        } else if (e) {
            last = rd_kafka_err2name(e);
        }
        if (md) rd_kafka_metadata_destroy(md);
        if (n > 0) break;
        sleep_ns(100 * 1000000);
    }
    rd_kafka_topic_destroy(rkt);
    if (n < 0) fprintf(stderr, "kanal perf: topic %s not ready before the timeout (%s)\n", topic, last);
    return n;
}

/* ---- mock cluster ---- */

typedef struct {
    rd_kafka_t *rk; /* bookkeeping handle the mock cluster needs */
    rd_kafka_mock_cluster_t *mc;
} perf_mock_t;

static int mock_start(perf_mock_t *m, perf_opts_t *o) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "client.id", "kanal-perf-mock");
    conf_set(conf, "log_level", "4"); /* no notice about its missing bootstrap.servers */
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!m->rk) {
        fprintf(stderr, "kanal perf: mock: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    m->mc = rd_kafka_mock_cluster_new(m->rk, o->mock);
    if (!m->mc) {
        fprintf(stderr, "kanal perf: cannot start a mock cluster with %d brokers\n", o->mock);
        rd_kafka_destroy(m->rk);
        return -1;
    }
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(m->mc, o->topic, o->partitions, 1);
    if (e) {
        fprintf(stderr, "kanal perf: mock: create %s: %s\n", o->topic, rd_kafka_err2name(e));
        rd_kafka_mock_cluster_destroy(m->mc);
        rd_kafka_destroy(m->rk);
        return -1;
    }
    o->bootstrap = rd_kafka_mock_cluster_bootstraps(m->mc);
    o->create_topic = false; /* the mock has no CreateTopics */
    return 0;
}

static void mock_stop(perf_mock_t *m) {
    if (m->mc) rd_kafka_mock_cluster_destroy(m->mc);
    if (m->rk) rd_kafka_destroy(m->rk);
}

/* ---- producer ---- */

typedef struct {
    int64_t sent, delivered, failed, bytes;
    double elapsed_s, cpu_s;
    bool timed_out, fatal;
    rd_kafka_resp_err_t first_err;
    perf_hist_t lat;
} perf_prod_result_t;

static void progress(const char *what, int64_t done, int64_t total, int64_t start_ns) {
    double el = (double)(kn_mono_ns() - start_ns) / 1e9;
    fprintf(stderr, "\r%s %" PRId64 "/%" PRId64 " records, %.0f records/s   ", what, done, total,
            el > 0 ? (double)done / el : 0.0);
}

/* Produce o->num_records records of o->record_size bytes; count deliveries.
 * rr_parts > 0: send round-robin over that many partitions instead of using
 * the partitioner (fills every partition of a size-capped mock topic evenly). */
static int produce_run(const perf_opts_t *o, perf_prod_result_t *r, bool show_progress, int rr_parts) {
    perf_client_t pc = {.who = "producer", .lat = &r->lat};
    rd_kafka_t *rk = client_new(o, RD_KAFKA_PRODUCER, &pc);
    if (!rk) return -1;
    int64_t deadline_ms = kn_mono_ms() + o->timeout_ms;
    int rc = -1;
    rd_kafka_topic_t *rkt = NULL;
    char *payload = kn_malloc((size_t)o->record_size + 1);
    for (long long i = 0; i < o->record_size; i++) payload[i] = (char)('a' + i % 26);

    if (o->create_topic && create_topic(rk, o) != 0) goto out;
    if (wait_topic(rk, o->topic, deadline_ms) < 0) goto out;
    rkt = rd_kafka_topic_new(rk, o->topic, NULL);

    bool tty = show_progress && isatty(STDERR_FILENO);
    double cpu0 = cpu_seconds();
    int64_t start = kn_mono_ns();
    int64_t next_progress = start + 1000000000;
    int64_t gap_ns = o->throughput > 0 ? (int64_t)(1e9 / o->throughput) : 0;
    char key[64];
    for (long long i = 0; i < o->num_records; i++) {
        if (gap_ns) {
            int64_t due = start + (int64_t)((double)i * 1e9 / o->throughput);
            int64_t now;
            while ((now = kn_mono_ns()) < due) {
                rd_kafka_poll(rk, 0);
                sleep_ns(due - now > 1000000 ? 1000000 : due - now);
            }
        }
        size_t klen = 0;
        if (o->key_size > 0) {
            klen = (size_t)snprintf(key, sizeof(key), "%0*lld", o->key_size, i % 100000);
            if (klen > (size_t)o->key_size) klen = (size_t)o->key_size;
        }
        for (;;) {
            int64_t now = kn_mono_ns();
            /* The payload is never freed or changed during the run: no copy. */
            int32_t part = rr_parts > 0 ? (int32_t)(i % rr_parts) : RD_KAFKA_PARTITION_UA;
            if (rd_kafka_produce(rkt, part, 0, payload, (size_t)o->record_size,
                                 klen ? key : NULL, klen, (void *)(uintptr_t)now) == 0)
                break;
            rd_kafka_resp_err_t e = rd_kafka_last_error();
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "kanal perf: produce: %s\n", rd_kafka_err2str(e));
                r->first_err = e;
                goto finish;
            }
            if (kn_mono_ms() >= deadline_ms || atomic_load(&pc.fatal)) goto finish;
            rd_kafka_poll(rk, 1);
        }
        r->sent++;
        if ((i & 1023) == 0) {
            rd_kafka_poll(rk, 0);
            if (atomic_load(&pc.fatal) || kn_mono_ms() >= deadline_ms) goto finish;
            if (tty && kn_mono_ns() >= next_progress) {
                progress("produce: delivered", pc.delivered, o->num_records, start);
                next_progress += 1000000000;
            }
        }
    }
finish:
    while (rd_kafka_outq_len(rk) > 0 && kn_mono_ms() < deadline_ms && !atomic_load(&pc.fatal)) {
        rd_kafka_flush(rk, 100);
        if (tty && kn_mono_ns() >= next_progress) {
            progress("produce: delivered", pc.delivered, o->num_records, start);
            next_progress += 1000000000;
        }
    }
    r->elapsed_s = (double)(kn_mono_ns() - start) / 1e9;
    r->cpu_s = cpu_seconds() - cpu0;
    if (tty) fprintf(stderr, "\r\033[K");
    if (rd_kafka_outq_len(rk) > 0) {
        r->timed_out = !atomic_load(&pc.fatal);
        fprintf(stderr, "kanal perf: %d records still undelivered at the %s\n", rd_kafka_outq_len(rk),
                r->timed_out ? "timeout" : "fatal error");
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(rk, 0);
    }
    r->fatal = atomic_load(&pc.fatal) != 0;
    r->delivered = pc.delivered;
    r->failed = pc.failed;
    r->bytes = pc.bytes;
    if (pc.first_err) r->first_err = pc.first_err;
    rc = 0;
out:
    if (rkt) rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    kn_free(payload);
    return rc;
}

static void print_lat_json(const perf_hist_t *h) {
    printf(",\"lat_avg_ms\":%.3f,\"lat_p50_ms\":%.3f,\"lat_p99_ms\":%.3f,\"lat_p999_ms\":%.3f,\"lat_max_ms\":%.3f",
           h->n ? ns_ms(h->sum / (double)h->n) : 0.0, ns_ms((double)hist_quantile(h, 0.5)),
           ns_ms((double)hist_quantile(h, 0.99)), ns_ms((double)hist_quantile(h, 0.999)), ns_ms((double)h->max));
}

static void print_lat_text(const char *what, const perf_hist_t *h) {
    printf("%s latency (ms): avg %.3f, p50 %.3f, p99 %.3f, p99.9 %.3f, max %.3f (%" PRIu64 " samples)\n", what,
           h->n ? ns_ms(h->sum / (double)h->n) : 0.0, ns_ms((double)hist_quantile(h, 0.5)),
           ns_ms((double)hist_quantile(h, 0.99)), ns_ms((double)hist_quantile(h, 0.999)), ns_ms((double)h->max),
           h->n);
}

static void print_json_head(const perf_opts_t *o) {
    printf("{\"mode\":\"%s\",\"topic\":", mode_name(o->mode));
    json_str(stdout, o->topic);
    printf(",\"bootstrap\":");
    json_str(stdout, o->bootstrap);
    printf(",\"mock\":%d,\"record_size\":%lld,\"acks\":", o->mock, o->record_size);
    json_str(stdout, o->acks ? o->acks : "default");
}

static int cmd_produce(const perf_opts_t *o) {
    perf_prod_result_t *r = kn_calloc(1, sizeof(*r));
    if (produce_run(o, r, true, 0) != 0) {
        kn_free(r);
        return KN_CLI_FAIL;
    }
    bool ok = r->failed == 0 && r->delivered == o->num_records && !r->timed_out && !r->fatal;
    double rps = r->elapsed_s > 0 ? (double)r->delivered / r->elapsed_s : 0;
    double mbs = r->elapsed_s > 0 ? (double)r->bytes / MB / r->elapsed_s : 0;
    double cpu_per_m = r->delivered ? r->cpu_s * 1e6 / (double)r->delivered : 0;
    if (o->json) {
        print_json_head(o);
        printf(",\"records\":%" PRId64 ",\"sent\":%" PRId64 ",\"errors\":%" PRId64
               ",\"elapsed_s\":%.3f,\"records_per_s\":%.1f,\"mb_per_s\":%.3f",
               r->delivered, r->sent, r->failed, r->elapsed_s, rps, mbs);
        print_lat_json(&r->lat);
        printf(",\"client_cpu_s\":%.3f,\"client_cpu_s_per_m\":%.3f,\"client_max_rss_kib\":%ld,\"timed_out\":%s,"
               "\"ok\":%s}\n",
               r->cpu_s, cpu_per_m, max_rss_kib(), r->timed_out ? "true" : "false", ok ? "true" : "false");
    } else {
        printf("%" PRId64 " records sent, %" PRId64 " delivered, %" PRId64 " failed in %.3f s: %.1f records/s, "
               "%.2f MB/s\n",
               r->sent, r->delivered, r->failed, r->elapsed_s, rps, mbs);
        print_lat_text("delivery", &r->lat);
        printf("client CPU %.3f s (%.3f s per million records)%s\n", r->cpu_s, cpu_per_m,
               o->mock ? ", includes the in-process mock brokers" : "");
        if (r->failed) printf("first delivery error: %s\n", rd_kafka_err2name(r->first_err));
    }
    kn_free(r);
    return ok ? KN_CLI_OK : KN_CLI_FAIL;
}

/* ---- consumer ---- */

/* Assign every partition of the topic at `offsets` (NULL: from the beginning).
 * Returns the partition count or -1. */
static int assign_all(rd_kafka_t *rk, const char *topic, int nparts, const int64_t *offsets) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = offsets ? offsets[p] : RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        fprintf(stderr, "kanal perf: assign %s: %s\n", topic, rd_kafka_err2str(e));
        return -1;
    }
    return nparts;
}

static int cmd_consume(perf_opts_t *o) {
    if (o->mock) {
        /* The mock cluster lives in this process: fill it first (not timed). */
        perf_prod_result_t *pr = kn_calloc(1, sizeof(*pr));
        int prc = produce_run(o, pr, false, o->partitions);
        bool filled = prc == 0 && pr->delivered == o->num_records;
        if (!filled) fprintf(stderr, "kanal perf: could not fill the mock topic (%" PRId64 " delivered)\n", pr->delivered);
        kn_free(pr);
        if (!filled) return KN_CLI_FAIL;
    }
    perf_client_t pc = {.who = "consumer"};
    rd_kafka_t *rk = client_new(o, RD_KAFKA_CONSUMER, &pc);
    if (!rk) return KN_CLI_FAIL;
    int64_t deadline_ms = kn_mono_ms() + o->timeout_ms;
    int nparts = wait_topic(rk, o->topic, deadline_ms);
    if (nparts < 0 || assign_all(rk, o->topic, nparts, NULL) < 0) {
        rd_kafka_destroy(rk);
        return KN_CLI_FAIL;
    }
    bool tty = isatty(STDERR_FILENO);
    double cpu0 = cpu_seconds();
    int64_t start = kn_mono_ns(), first = 0, last = start;
    int64_t next_progress = start + 1000000000;
    int64_t count = 0, bytes = 0, errors = 0;
    while (count < o->num_records && kn_mono_ms() < deadline_ms && !atomic_load(&pc.fatal)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m) {
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (!count) first = kn_mono_ns();
                count++;
                bytes += (int64_t)m->len;
                last = kn_mono_ns();
            } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (errors++ < 10) fprintf(stderr, "kanal perf: consume: %s\n", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
        }
        if (tty && (count & 1023) == 0 && kn_mono_ns() >= next_progress) {
            progress("consume:", count, o->num_records, start);
            next_progress += 1000000000;
        }
    }
    double cpu_s = cpu_seconds() - cpu0;
    if (tty) fprintf(stderr, "\r\033[K");
    bool ok = count >= o->num_records && !atomic_load(&pc.fatal);
    if (!ok)
        fprintf(stderr, "kanal perf: consumed %" PRId64 " of %lld records before the %s\n", count, o->num_records,
                atomic_load(&pc.fatal) ? "fatal error" : "timeout");
    /* Rate from the first record on: connection and offset look-up are not
     * throughput (they are reported as first_record_ms). */
    double el = first ? (double)(last - first) / 1e9 : 0;
    double rps = el > 0 ? (double)count / el : 0, mbs = el > 0 ? (double)bytes / MB / el : 0;
    double first_ms = first ? (double)(first - start) / 1e6 : -1;
    if (o->json) {
        print_json_head(o);
        printf(",\"records\":%" PRId64 ",\"bytes\":%" PRId64 ",\"errors\":%" PRId64
               ",\"elapsed_s\":%.3f,\"records_per_s\":%.1f,\"mb_per_s\":%.3f,\"first_record_ms\":%.1f,"
               "\"client_cpu_s\":%.3f,\"client_max_rss_kib\":%ld,\"ok\":%s}\n",
               count, bytes, errors, el, rps, mbs, first_ms, cpu_s, max_rss_kib(), ok ? "true" : "false");
    } else {
        printf("%" PRId64 " records (%.2f MB) consumed from %d partitions in %.3f s: %.1f records/s, %.2f MB/s\n",
               count, (double)bytes / MB, nparts, el, rps, mbs);
        printf("first record after %.1f ms; client CPU %.3f s; %" PRId64 " consumer errors\n", first_ms, cpu_s,
               errors);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return ok ? KN_CLI_OK : KN_CLI_FAIL;
}

/* ---- end-to-end latency ---- */

typedef struct {
    rd_kafka_t *rk;
    int64_t expect;
    int64_t deadline_ms;
    int nparts;
    atomic_int stop;
    atomic_int warm_parts;  /* partitions whose warm-up record arrived */
    atomic_llong received;  /* measured records */
    unsigned char *warm;    /* per partition: warm-up seen (consumer thread only) */
    int64_t bad, errors;
    perf_hist_t lat;        /* written by the consumer thread; read after join */
} perf_e2e_t;

static void *e2e_consumer(void *arg) {
    perf_e2e_t *e = arg;
    while (!atomic_load(&e->stop) && atomic_load(&e->received) < e->expect && kn_mono_ms() < e->deadline_ms) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(e->rk, 50);
        if (!m) continue;
        int64_t now = kn_mono_ns();
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && e->errors++ < 10)
                fprintf(stderr, "kanal perf: consume: %s\n", rd_kafka_message_errstr(m));
        } else if (m->len < E2E_HDR) {
            e->bad++;
        } else {
            uint64_t sent, seq;
            memcpy(&sent, m->payload, 8);
            memcpy(&seq, (const char *)m->payload + 8, 8);
            if (seq == E2E_WARMUP) {
                if (m->partition >= 0 && m->partition < e->nparts && !e->warm[m->partition]) {
                    e->warm[m->partition] = 1;
                    atomic_fetch_add(&e->warm_parts, 1);
                }
            } else {
                hist_add(&e->lat, now > (int64_t)sent ? (uint64_t)(now - (int64_t)sent) : 0);
                atomic_fetch_add(&e->received, 1);
            }
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

static int e2e_send(rd_kafka_t *rk, const char *topic, int32_t part, char *payload, size_t len, uint64_t seq) {
    uint64_t now = (uint64_t)kn_mono_ns();
    memcpy(payload, &now, 8);
    memcpy(payload + 8, &seq, 8);
    for (int tries = 0; tries < 1000; tries++) {
        rd_kafka_resp_err_t err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                                                    RD_KAFKA_V_VALUE(payload, len),
                                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (!err) return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "kanal perf: produce: %s\n", rd_kafka_err2str(err));
            return -1;
        }
        rd_kafka_poll(rk, 1);
    }
    return -1;
}

static int cmd_e2e(const perf_opts_t *o) {
    if (o->record_size < E2E_HDR) {
        fprintf(stderr, "kanal perf: e2e needs --record-size >= %d\n", E2E_HDR);
        return KN_CLI_USAGE;
    }
    perf_client_t ppc = {.who = "producer"}, cpc = {.who = "consumer"};
    perf_e2e_t *e = kn_calloc(1, sizeof(*e));
    rd_kafka_t *prk = client_new(o, RD_KAFKA_PRODUCER, &ppc);
    rd_kafka_t *crk = prk ? client_new(o, RD_KAFKA_CONSUMER, &cpc) : NULL;
    char *payload = kn_calloc(1, (size_t)o->record_size);
    int64_t *offs = NULL;
    int rc = KN_CLI_FAIL;
    bool started = false;
    pthread_t thr;
    if (!prk || !crk) goto out;
    e->rk = crk;
    e->expect = o->num_records;
    e->deadline_ms = kn_mono_ms() + o->timeout_ms;
    if (o->create_topic && create_topic(prk, o) != 0) goto out;
    int nparts = wait_topic(crk, o->topic, e->deadline_ms);
    if (nparts < 0) goto out;
    e->nparts = nparts;
    e->warm = kn_calloc((size_t)nparts, 1);
    /* Start at each partition's end, so only this run's records are read. */
    offs = kn_calloc((size_t)nparts, sizeof(*offs));
    for (int p = 0; p < nparts; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(crk, o->topic, p, &lo, &hi, 10000);
        if (err) {
            fprintf(stderr, "kanal perf: watermarks %s-%d: %s\n", o->topic, p, rd_kafka_err2name(err));
            goto out;
        }
        offs[p] = hi;
    }
    if (assign_all(crk, o->topic, nparts, offs) < 0) goto out;
    if (pthread_create(&thr, NULL, e2e_consumer, e) != 0) {
        fprintf(stderr, "kanal perf: cannot start the consumer thread\n");
        goto out;
    }
    started = true;

    /* Warm-up: one marked record per partition, re-sent every 500 ms, until the
     * consumer has seen each; connection set-up stays out of the figures. */
    int64_t resend = 0;
    while (atomic_load(&e->warm_parts) < nparts) {
        if (kn_mono_ms() >= e->deadline_ms || atomic_load(&ppc.fatal) || atomic_load(&cpc.fatal)) {
            fprintf(stderr, "kanal perf: warm-up records did not come back (%d of %d partitions)\n",
                    atomic_load(&e->warm_parts), nparts);
            goto out;
        }
        if (kn_mono_ms() >= resend) {
            for (int p = 0; p < nparts; p++)
                if (e2e_send(prk, o->topic, p, payload, (size_t)o->record_size, E2E_WARMUP) != 0) goto out;
            resend = kn_mono_ms() + 500;
        }
        rd_kafka_poll(prk, 10);
    }
    rd_kafka_flush(prk, 10000);
    ppc.delivered = ppc.failed = 0;

    double rate = o->throughput > 0 ? o->throughput : 1000;
    double cpu0 = cpu_seconds();
    int64_t start = kn_mono_ns();
    int64_t sent = 0;
    bool tty = isatty(STDERR_FILENO);
    int64_t next_progress = start + 1000000000;
    for (long long i = 0; i < o->num_records; i++) {
        int64_t due = start + (int64_t)((double)i * 1e9 / rate);
        int64_t now;
        while ((now = kn_mono_ns()) < due) {
            rd_kafka_poll(prk, 0);
            sleep_ns(due - now);
        }
        if (kn_mono_ms() >= e->deadline_ms || atomic_load(&ppc.fatal)) break;
        if (e2e_send(prk, o->topic, RD_KAFKA_PARTITION_UA, payload, (size_t)o->record_size, (uint64_t)i) != 0) break;
        sent++;
        rd_kafka_poll(prk, 0);
        if (tty && now >= next_progress) {
            progress("e2e: received", atomic_load(&e->received), o->num_records, start);
            next_progress += 1000000000;
        }
    }
    while (rd_kafka_outq_len(prk) > 0 && kn_mono_ms() < e->deadline_ms) rd_kafka_flush(prk, 100);
    while (atomic_load(&e->received) < sent && kn_mono_ms() < e->deadline_ms && !atomic_load(&cpc.fatal))
        sleep_ns(10 * 1000000);
    atomic_store(&e->stop, 1);
    pthread_join(thr, NULL);
    started = false;
    if (tty) fprintf(stderr, "\r\033[K");
    double el = (double)(kn_mono_ns() - start) / 1e9, cpu_s = cpu_seconds() - cpu0;
    int64_t got = atomic_load(&e->received);
    bool ok = got == o->num_records && ppc.failed == 0 && !atomic_load(&ppc.fatal) && !atomic_load(&cpc.fatal);
    if (!ok)
        fprintf(stderr, "kanal perf: e2e: %" PRId64 " sent, %" PRId64 " received of %lld, %" PRId64
                " delivery failures\n",
                sent, got, o->num_records, ppc.failed);
    if (o->json) {
        print_json_head(o);
        printf(",\"records\":%" PRId64 ",\"sent\":%" PRId64 ",\"errors\":%" PRId64
               ",\"rate\":%.1f,\"elapsed_s\":%.3f",
               got, sent, ppc.failed + e->errors, rate, el);
        print_lat_json(&e->lat);
        printf(",\"client_cpu_s\":%.3f,\"ok\":%s}\n", cpu_s, ok ? "true" : "false");
    } else {
        printf("%" PRId64 " of %lld records came back at %.0f records/s over %d partitions in %.3f s\n", got,
               o->num_records, rate, nparts, el);
        print_lat_text("end-to-end", &e->lat);
    }
    rc = ok ? KN_CLI_OK : KN_CLI_FAIL;
out:
    if (started) {
        atomic_store(&e->stop, 1);
        pthread_join(thr, NULL);
    }
    if (crk) {
        rd_kafka_consumer_close(crk);
        rd_kafka_destroy(crk);
    }
    if (prk) {
        rd_kafka_purge(prk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_destroy(prk);
    }
    kn_free(offs);
    kn_free(e->warm);
    kn_free(e);
    kn_free(payload);
    return rc;
}

/* ---- command line ---- */

static void usage_perf(FILE *f) {
    fprintf(f,
            "Usage: kanal perf produce|consume|e2e [OPTIONS]\n"
            "\n"
            "Load generator (like kafka-producer-perf-test, kafka-consumer-perf-test and\n"
            "kafka-e2e-latency). `kanal perf MODE --help` lists the options.\n"
            "\n"
            "  produce   send records as fast as allowed; throughput and delivery latency\n"
            "  consume   read every partition from the beginning; throughput\n"
            "  e2e       paced producer + consumer; end-to-end latency percentiles\n");
}

static void usage_mode(FILE *f, perf_mode_t m) {
    fprintf(f, "Usage: kanal perf %s --topic NAME [OPTIONS]\n\n", mode_name(m));
    if (m == MODE_PRODUCE)
        fprintf(f, "Produce records and report records/s, MB/s (2^20 bytes), delivery latency\n"
                   "(enqueue -> delivery report) and the client's CPU seconds. Exit 1 on any\n"
                   "delivery failure or timeout.\n\n");
    else if (m == MODE_CONSUME)
        fprintf(f, "Assign every partition of the topic from the beginning (no group join) and\n"
                   "count records until --num-records or --timeout-ms. Exit 1 if fewer arrived.\n"
                   "With --mock the in-process mock topic is filled first (not timed); the mock\n"
                   "keeps only ~5 MiB per partition, so size --num-records to fit.\n\n");
    else
        fprintf(f, "Send --num-records records at --throughput records/s (default 1000) with\n"
                   "linger.ms=0 while a consumer reads the same topic; each payload carries its\n"
                   "monotonic send time. Reports p50/p99/p99.9/max send -> receive latency.\n\n");
    fprintf(f,
            "Options:\n"
            "  -b, --bootstrap-server LIST  brokers (default: kanal's, see `kanal --help`)\n"
            "  -t, --topic NAME             topic (required)\n"
            "  -n, --num-records N          records (default %s)\n"
            "  -s, --record-size BYTES      value size (default 100; e2e needs >= 16)\n",
            m == MODE_E2E ? "10000" : "1000000");
    if (m != MODE_CONSUME)
        fprintf(f,
                "      --key-size BYTES         add a key of this size (default: no key)\n"
                "      --acks 0|1|all           producer acks (default: librdkafka's, all)\n"
                "      --linger-ms MS           linger.ms (default: librdkafka's; e2e: 0)\n"
                "      --batch-size BYTES       batch.size\n"
                "      --compression CODEC      none, gzip, snappy, lz4, zstd\n"
                "      --throughput N           records/s cap, -1 for none (default -1; e2e 1000)\n");
    fprintf(f,
            "      --create-topic           create the topic first (exists: fine)\n"
            "      --partitions N           partitions for --create-topic and --mock (default 1)\n"
            "      --replication-factor N   for --create-topic (default 1)\n"
            "  -X KEY=VALUE                 any librdkafka property (repeatable; wins)\n"
            "      --mock N                 run librdkafka's in-process mock cluster with N\n"
            "                               brokers and use it (reference upper bound)\n"
            "      --group ID               consumer group.id (unused by assign(); default kanal-perf)\n"
            "      --output text|json       summary format (default text; json: one line)\n"
            "      --timeout-ms MS          bound on the whole run (default 120000)\n"
            "  -h, --help                   show this help\n");
}

static int parse_ll(const char *opt, const char *s, long long min, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min) {
        fprintf(stderr, "kanal perf: %s: '%s' is not a number >= %lld\n", opt, s, min);
        return -1;
    }
    *out = v;
    return 0;
}

enum {
    OPT_KEY_SIZE = 256, OPT_ACKS, OPT_LINGER, OPT_BATCH, OPT_COMPRESSION, OPT_THROUGHPUT, OPT_CREATE,
    OPT_PARTITIONS, OPT_RF, OPT_MOCK, OPT_GROUP, OPT_OUTPUT, OPT_TIMEOUT,
};

int kn_cli_perf_main(const kn_cli_t *cli, int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage_perf(argc < 2 ? stderr : stdout);
        return argc < 2 ? KN_CLI_USAGE : KN_CLI_OK;
    }
    perf_opts_t o = {
        .bootstrap = cli->bootstrap, .record_size = 100, .linger_ms = -1, .batch_size = -1, .throughput = -1,
        .partitions = 1, .replication_factor = 1, .timeout_ms = 120000, .group = "kanal-perf",
    };
    if (!strcmp(argv[1], "produce")) o.mode = MODE_PRODUCE;
    else if (!strcmp(argv[1], "consume")) o.mode = MODE_CONSUME;
    else if (!strcmp(argv[1], "e2e")) o.mode = MODE_E2E;
    else {
        fprintf(stderr, "kanal perf: unknown mode '%s'\n", argv[1]);
        usage_perf(stderr);
        return KN_CLI_USAGE;
    }
    o.num_records = o.mode == MODE_E2E ? 10000 : 1000000;

    static const struct option opts[] = {
        {"bootstrap-server", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"num-records", required_argument, NULL, 'n'},
        {"record-size", required_argument, NULL, 's'},
        {"key-size", required_argument, NULL, OPT_KEY_SIZE},
        {"acks", required_argument, NULL, OPT_ACKS},
        {"linger-ms", required_argument, NULL, OPT_LINGER},
        {"batch-size", required_argument, NULL, OPT_BATCH},
        {"compression", required_argument, NULL, OPT_COMPRESSION},
        {"throughput", required_argument, NULL, OPT_THROUGHPUT},
        {"create-topic", no_argument, NULL, OPT_CREATE},
        {"partitions", required_argument, NULL, OPT_PARTITIONS},
        {"replication-factor", required_argument, NULL, OPT_RF},
        {"mock", required_argument, NULL, OPT_MOCK},
        {"group", required_argument, NULL, OPT_GROUP},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char **props = kn_calloc((size_t)argc, sizeof(char *));
    o.props = props;
    int rc = KN_CLI_USAGE;
    long long v;
    int c;
    optind = 0; /* glibc: full re-initialisation for the second getopt pass */
    while ((c = getopt_long(argc - 1, argv + 1, "b:t:n:s:X:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': o.bootstrap = optarg; break;
        case 't': o.topic = optarg; break;
        case 'n': if (parse_ll("--num-records", optarg, 0, &o.num_records)) goto out; break;
        case 's': if (parse_ll("--record-size", optarg, 0, &o.record_size)) goto out; break;
        case OPT_KEY_SIZE:
            if (parse_ll("--key-size", optarg, 0, &v) || v > 32) {
                fprintf(stderr, "kanal perf: --key-size: 0..32\n");
                goto out;
            }
            o.key_size = (int)v;
            break;
        case OPT_ACKS:
            if (strcmp(optarg, "0") && strcmp(optarg, "1") && strcmp(optarg, "all") && strcmp(optarg, "-1")) {
                fprintf(stderr, "kanal perf: --acks: 0, 1 or all\n");
                goto out;
            }
            o.acks = optarg;
            break;
        case OPT_LINGER: if (parse_ll("--linger-ms", optarg, 0, &o.linger_ms)) goto out; break;
        case OPT_BATCH: if (parse_ll("--batch-size", optarg, 1, &o.batch_size)) goto out; break;
        case OPT_COMPRESSION: o.compression = optarg; break;
        case OPT_THROUGHPUT:
            if (parse_ll("--throughput", optarg, -1, &v)) goto out;
            o.throughput = (double)v;
            break;
        case OPT_CREATE: o.create_topic = true; break;
        case OPT_PARTITIONS:
            if (parse_ll("--partitions", optarg, 1, &v) || v > 100000) goto out;
            o.partitions = (int)v;
            break;
        case OPT_RF:
            if (parse_ll("--replication-factor", optarg, 1, &v) || v > 100) goto out;
            o.replication_factor = (int)v;
            break;
        case OPT_MOCK:
            if (parse_ll("--mock", optarg, 1, &v) || v > 32) goto out;
            o.mock = (int)v;
            break;
        case OPT_GROUP: o.group = optarg; break;
        case OPT_OUTPUT:
            if (!strcmp(optarg, "json")) o.json = true;
            else if (strcmp(optarg, "text")) {
                fprintf(stderr, "kanal perf: --output: text or json\n");
                goto out;
            }
            break;
        case OPT_TIMEOUT: if (parse_ll("--timeout-ms", optarg, 1, &o.timeout_ms)) goto out; break;
        case 'X':
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                fprintf(stderr, "kanal perf: -X %s: expected KEY=VALUE\n", optarg);
                goto out;
            }
            props[o.nprops++] = optarg;
            break;
        case 'h': usage_mode(stdout, o.mode); rc = KN_CLI_OK; goto out;
        default: usage_mode(stderr, o.mode); goto out;
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "kanal perf: unexpected argument '%s'\n", argv[optind + 1]);
        goto out;
    }
    if (!o.topic || !*o.topic) {
        fprintf(stderr, "kanal perf %s: --topic is required\n", mode_name(o.mode));
        goto out;
    }
    if (o.record_size > 100 * 1024 * 1024) {
        fprintf(stderr, "kanal perf: --record-size above 100 MiB\n");
        goto out;
    }
    perf_mock_t mock = {0};
    if (o.mock && mock_start(&mock, &o) != 0) {
        rc = KN_CLI_FAIL;
        goto out;
    }
    rc = o.mode == MODE_PRODUCE ? cmd_produce(&o) : o.mode == MODE_CONSUME ? cmd_consume(&o) : cmd_e2e(&o);
    if (o.mock) mock_stop(&mock);
out:
    kn_free(props);
    return rc;
}
