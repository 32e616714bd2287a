/* Smoke test of src/cluster against a real ZooKeeper (see zk_smoke.sh).
 *
 *   zk_smoke <zk_connect> <broker_id> full     register, win controller, create a
 *                                              3-partition topic, see leaders, delete it, stop
 *   zk_smoke <zk_connect> <broker_id> hold     register and print READY, then wait (to be kill -9'd)
 *   zk_smoke <zk_connect> <broker_id> nozk     expect on_fatal (no ZooKeeper there)
 *
 * Exit 0 on success, 1 on a failed check, 2 on on_fatal, 3 on timeout. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "kanal/cluster/cluster.h"
#include "kanal/util/log.h"

typedef struct smoke_s {
    uv_loop_t *loop;
    kn_cluster_t *c;
    const char *mode;
    int32_t id;
    int step;
    int rc;
    uv_timer_t deadline, poll;
} smoke_t;

static const char *topic = "smoke-topic";

static void stopped(void *ud) {
    smoke_t *s = ud;
    uv_close((uv_handle_t *)&s->deadline, NULL);
    uv_close((uv_handle_t *)&s->poll, NULL);
}

static void finish(smoke_t *s, int rc, const char *why) {
    if (s->step < 0) return;
    s->step = -1;
    s->rc = rc;
    fprintf(stderr, "SMOKE %s: %s\n", rc == 0 ? "OK" : "FAIL", why);
    uv_timer_stop(&s->poll);
    uv_timer_stop(&s->deadline);
    kn_cluster_stop(s->c, stopped, s);
}

static void created(void *ud, int16_t err, const char *msg) {
    smoke_t *s = ud;
    fprintf(stderr, "SMOKE create_topic -> %d %s\n", err, msg);
    if (err != 0) finish(s, 1, "create_topic failed");
    else s->step = 3;
}

static void created_again(void *ud, int16_t err, const char *msg) {
    smoke_t *s = ud;
    fprintf(stderr, "SMOKE create_topic again -> %d %s\n", err, msg);
    if (err != 36) finish(s, 1, "second create_topic should give TOPIC_ALREADY_EXISTS");
}

static void bad_create(void *ud, int16_t err, const char *msg) {
    smoke_t *s = ud;
    fprintf(stderr, "SMOKE create_topic rf=2 -> %d %s\n", err, msg);
    if (err != 38) finish(s, 1, "rf 2 on one broker should give INVALID_REPLICATION_FACTOR");
}

static void deleted(void *ud, int16_t err, const char *msg) {
    smoke_t *s = ud;
    fprintf(stderr, "SMOKE delete_topic -> %d %s\n", err, msg);
    if (err != 0) finish(s, 1, "delete_topic failed");
    else s->step = 5;
}

/* Driven by polling the cache: simple, and exercises the public lookups. */
static void tick(uv_timer_t *t) {
    smoke_t *s = t->data;
    kn_cluster_t *c = s->c;
    if (s->step == 1 && kn_cluster_is_controller(c)) {
        const kn_broker_meta_t *b;
        size_t nb = kn_cluster_brokers(c, &b);
        fprintf(stderr, "SMOKE controller (epoch %" PRId32 "), cluster id %s, %zu broker(s), broker epoch %" PRId64 "\n",
                kn_cluster_controller_epoch(c), kn_cluster_id(c), nb, kn_cluster_broker_epoch(c));
        if (nb < 1 || b[0].id != s->id || !kn_cluster_id(c) || strlen(kn_cluster_id(c)) != 22) {
            finish(s, 1, "broker list or cluster id wrong");
            return;
        }
        const char *k[] = {"retention.ms"}, *v[] = {"86400000"};
        s->step = 2;
        kn_cluster_create_topic(c, "smoke-bad", 1, 2, NULL, NULL, 0, false, bad_create, s);
        kn_cluster_create_topic(c, topic, 3, 1, k, v, 1, false, created, s);
    } else if (s->step == 3 && kn_cluster_topic_ready(c, topic)) {
        const kn_topic_meta_t *tm = kn_cluster_topic(c, topic, strlen(topic));
        for (int32_t p = 0; p < tm->npartitions; p++)
            fprintf(stderr, "SMOKE %s-%" PRId32 " leader %" PRId32 " epoch %" PRId32 " isr[0] %" PRId32 "\n", topic, p,
                    tm->parts[p].leader, tm->parts[p].leader_epoch, tm->parts[p].isr[0]);
        const char *const *keys, *const *vals;
        size_t n = kn_cluster_topic_configs(c, topic, &keys, &vals);
        if (tm->npartitions != 3 || tm->parts[0].leader != s->id || n != 1 || strcmp(vals[0], "86400000")) {
            finish(s, 1, "topic metadata wrong");
            return;
        }
        s->step = 4;
        kn_cluster_create_topic(c, topic, 3, 1, NULL, NULL, 0, false, created_again, s);
        kn_cluster_delete_topic(c, topic, deleted, s);
    } else if (s->step == 5 && !kn_cluster_topic(c, topic, strlen(topic))) {
        finish(s, 0, "topic created, led, deleted");
    }
}

static void on_ready(void *ud) {
    smoke_t *s = ud;
    fprintf(stderr, "SMOKE ready\n");
    if (!strcmp(s->mode, "hold")) {
        printf("READY\n");
        fflush(stdout);
        return;
    }
    if (!strcmp(s->mode, "full")) s->step = 1;
}

static void on_changed(void *ud) { (void)ud; }

static void on_fatal(void *ud, const char *why) {
    smoke_t *s = ud;
    if (!strcmp(s->mode, "nozk")) {
        finish(s, 0, why);
        return;
    }
    fprintf(stderr, "SMOKE fatal: %s\n", why);
    finish(s, 2, "on_fatal");
}

static void on_deadline(uv_timer_t *t) {
    smoke_t *s = t->data;
    finish(s, 3, "timed out");
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s zk_connect broker_id full|hold|nozk\n", argv[0]);
        return 64;
    }
    smoke_t s = {0};
    s.loop = uv_default_loop();
    s.mode = argv[3];
    s.id = atoi(argv[2]);
    kn_cluster_config_t cfg = {
        .zk_connect = argv[1],
        .session_timeout_ms = 4000,
        .connection_timeout_ms = 3000,
        .broker_id = s.id,
        .advertised_host = "127.0.0.1",
        .advertised_port = 19092,
        .default_num_partitions = 1,
        .default_replication_factor = 1,
    };
    kn_cluster_callbacks_t cb = {.ud = &s, .on_ready = on_ready, .on_metadata_changed = on_changed,
                                 .on_fatal = on_fatal};
    if (kn_cluster_new(s.loop, &cfg, &cb, &s.c) != 0) return 64;
    uv_timer_init(s.loop, &s.deadline);
    uv_timer_init(s.loop, &s.poll);
    s.deadline.data = s.poll.data = &s;
    if (strcmp(s.mode, "hold") != 0) uv_timer_start(&s.deadline, on_deadline, 40000, 0);
    uv_timer_start(&s.poll, tick, 50, 50);
    kn_cluster_start(s.c);
    uv_run(s.loop, UV_RUN_DEFAULT);
    kn_cluster_free(s.c);
    uv_loop_close(s.loop);
    return s.rc;
}
