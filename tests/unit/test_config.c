/* Unit tests: properties reader (util/config) and the broker/topic config
 * tables (broker/config). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kanal/broker/config.h"
#include "kanal/util/config.h"
#include "kanal/util/err.h"

#ifndef KANAL_SOURCE_DIR
#define KANAL_SOURCE_DIR "."
#endif

/* ---- helpers ---- */

/* Write text to a fresh temp file; returns its path (static buffer per slot). */
static const char *tmpfile_with(const char *text) {
    static char paths[4][64];
    static int slot;
    char *p = paths[slot++ % 4];
    snprintf(p, 64, "/tmp/kn_test_config_XXXXXX");
    int fd = mkstemp(p);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return p;
}

/* stderr capture, to see WARN lines from kn_log. */
static int saved_stderr = -1;
static FILE *cap;

static void capture_start(void) {
    fflush(stderr);
    cap = tmpfile();
    assert_non_null(cap);
    saved_stderr = dup(2);
    dup2(fileno(cap), 2);
}

/* Stop capturing; returns malloc'd text. */
static char *capture_end(void) {
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    long n = ftell(cap);
    char *s = calloc(1, (size_t)n + 1);
    rewind(cap);
    assert_int_equal(fread(s, 1, (size_t)n, cap), (size_t)n);
    fclose(cap);
    fputs(s, stderr); /* keep it visible in the test log */
    return s;
}

#define BASE "broker.id=1\nzookeeper.connect=127.0.0.1:2181\n"

static int load_text(kn_broker_config_t *c, const char *text, char *err, size_t errsz, const char **path) {
    const char *p = tmpfile_with(text);
    if (path) *path = p;
    int rc = kn_broker_config_load(c, p, NULL, 0, err, errsz);
    unlink(p);
    return rc;
}

/* ---- properties reader ---- */

static void test_props_basic(void **state) {
    (void)state;
    kn_kv_t *kv;
    size_t n;
    char err[256];
    const char *text = "# comment\n"
                       "! also a comment\n"
                       "\n"
                       "a=b\n"
                       "  c : d  \n"
                       "e f\n"
                       "\tg\t=\t h i \t\n"
                       "url=http://x:1/#frag\n"
                       "empty=\n"
                       "bare\n";
    assert_int_equal(kn_props_parse_string(text, "t.properties", &kv, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 7);
    assert_string_equal(kv[0].key, "a");
    assert_string_equal(kv[0].value, "b");
    assert_int_equal(kv[0].line, 4);
    assert_string_equal(kv[0].file, "t.properties");
    assert_string_equal(kv[1].key, "c");
    assert_string_equal(kv[1].value, "d");
    assert_string_equal(kv[2].key, "e");
    assert_string_equal(kv[2].value, "f");
    assert_string_equal(kv[3].key, "g");
    assert_string_equal(kv[3].value, "h i");
    assert_int_equal(kv[3].line, 7);
    assert_string_equal(kv[4].value, "http://x:1/#frag"); /* '#' mid-line is data, as in Java */
    assert_string_equal(kv[5].key, "empty");
    assert_string_equal(kv[5].value, "");
    assert_string_equal(kv[6].key, "bare");
    assert_string_equal(kv[6].value, "");
    kn_props_free(kv, n);
}

static void test_props_continuation_and_escapes(void **state) {
    (void)state;
    kn_kv_t *kv;
    size_t n;
    char err[256];
    const char *text = "k=one, \\\n"
                       "    two,\\\n"
                       "\tthree\n"
                       "path=c:\\\\\n" /* even backslashes: no continuation */
                       "x\\ y=tab\\there\n"
                       "u=\\u00e9\\u20ac\n"
                       "colon\\:key=1\r\n"
                       "crlf=2\r\n"
                       "cr=3\r"
                       "last=end\\";
    assert_int_equal(kn_props_parse_string(text, NULL, &kv, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 8);
    assert_string_equal(kv[0].key, "k");
    assert_string_equal(kv[0].value, "one, two,three");
    assert_int_equal(kv[0].line, 1);
    assert_string_equal(kv[1].key, "path");
    assert_string_equal(kv[1].value, "c:\\");
    assert_int_equal(kv[1].line, 4);
    assert_string_equal(kv[2].key, "x y");
    assert_string_equal(kv[2].value, "tab\there");
    assert_string_equal(kv[3].value, "\xc3\xa9\xe2\x82\xac");
    assert_string_equal(kv[4].key, "colon:key");
    assert_string_equal(kv[5].key, "crlf");
    assert_int_equal(kv[5].line, 8);
    assert_string_equal(kv[6].key, "cr");
    assert_int_equal(kv[6].line, 9);
    assert_string_equal(kv[7].value, "end");
    assert_int_equal(kv[7].line, 10);
    assert_string_equal(kv[7].file, "<string>");
    kn_props_free(kv, n);
}

static void test_props_errors(void **state) {
    (void)state;
    kn_kv_t *kv;
    size_t n;
    char err[256];
    assert_int_equal(kn_props_parse_string("a=1\n=x\n", "f.properties", &kv, &n, err, sizeof(err)), KN_EINVAL);
    assert_null(kv);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err, "f.properties:2"));
    assert_int_equal(kn_props_parse_string("a=1\nb=\\u12\n", "f", &kv, &n, err, sizeof(err)), KN_EINVAL);
    assert_non_null(strstr(err, "f:2"));
    assert_non_null(strstr(err, "\\uXXXX"));
    assert_int_equal(kn_props_parse_buf("a=1\nb\0=2", 9, "bin", &kv, &n, err, sizeof(err)), KN_EINVAL);
    assert_non_null(strstr(err, "bin:2"));
    assert_int_equal(kn_props_parse_file("/nonexistent/kanal.properties", &kv, &n, err, sizeof(err)), KN_ENOTFOUND);
    assert_non_null(strstr(err, "/nonexistent/kanal.properties"));
    assert_int_equal(kn_props_parse_file("/tmp", &kv, &n, err, sizeof(err)), KN_EIO);
    /* empty input is fine */
    assert_int_equal(kn_props_parse_buf("", 0, "e", &kv, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    kn_props_free(kv, n);
}

static void test_props_file(void **state) {
    (void)state;
    kn_kv_t *kv;
    size_t n;
    char err[256];
    const char *p = tmpfile_with("# x\nlisteners = PLAINTEXT://:9092\n");
    assert_int_equal(kn_props_parse_file(p, &kv, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    assert_string_equal(kv[0].file, p);
    assert_int_equal(kv[0].line, 2);
    assert_string_equal(kv[0].value, "PLAINTEXT://:9092");
    kn_props_free(kv, n);
    unlink(p);
}

static void test_levenshtein(void **state) {
    (void)state;
    assert_int_equal(kn_levenshtein("", ""), 0);
    assert_int_equal(kn_levenshtein("abc", ""), 3);
    assert_int_equal(kn_levenshtein("", "ab"), 2);
    assert_int_equal(kn_levenshtein("kitten", "sitting"), 3);
    assert_int_equal(kn_levenshtein("log.segmnet.bytes", "log.segment.bytes"), 2);
    assert_int_equal(kn_levenshtein("same", "same"), 0);
}

/* ---- broker table ---- */

static void test_defaults_and_table(void **state) {
    (void)state;
    kn_broker_config_t c;
    kn_broker_config_defaults(&c);
    assert_int_equal(c.broker_id, -1);
    assert_null(c.zookeeper_connect);
    assert_string_equal(c.listeners, "PLAINTEXT://:9092");
    assert_null(c.advertised_listeners);
    assert_string_equal(c.log_dirs, "/tmp/kanal-logs");
    assert_int_equal(c.zookeeper_session_timeout_ms, 18000);
    assert_int_equal(c.zookeeper_connection_timeout_ms, 18000);
    assert_int_equal(c.num_partitions, 1);
    assert_int_equal(c.default_replication_factor, 1);
    assert_true(c.auto_create_topics_enable);
    assert_true(c.delete_topic_enable);
    assert_int_equal(c.log_segment_bytes, 1073741824);
    assert_int_equal(c.log_roll_ms, 168LL * 3600000);
    assert_int_equal(c.log_retention_ms, 168LL * 3600000);
    assert_int_equal(c.log_retention_bytes, -1);
    assert_int_equal(c.log_retention_check_interval_ms, 300000);
    assert_true(c.log_flush_interval_messages == INT64_MAX);
    assert_int_equal(c.log_flush_interval_ms, -1);
    assert_true(c.log_flush_scheduler_interval_ms == INT64_MAX);
    assert_int_equal(c.log_index_size_max_bytes, 10485760);
    assert_int_equal(c.log_index_interval_bytes, 4096);
    assert_int_equal(c.message_max_bytes, 1048588);
    assert_int_equal(c.socket_request_max_bytes, 104857600);
    assert_int_equal(c.queued_max_requests, 500);
    assert_int_equal(c.max_inflight_requests_per_connection, 100);
    assert_int_equal(c.connections_max_idle_ms, 600000);
    assert_int_equal(c.replica_lag_time_max_ms, 30000);
    assert_int_equal(c.min_insync_replicas, 1);
    assert_false(c.unclean_leader_election_enable);
    assert_int_equal(c.offsets_topic_replication_factor, 3);
    assert_int_equal(c.offsets_topic_num_partitions, 50);
    assert_int_equal(c.group_initial_rebalance_delay_ms, 3000);
    assert_int_equal(c.group_min_session_timeout_ms, 6000);
    assert_int_equal(c.group_max_session_timeout_ms, 1800000);
    assert_true(c.auto_leader_rebalance_enable);
    assert_int_equal(c.leader_imbalance_check_interval_seconds, 300);
    assert_int_equal(c.file_delete_delay_ms, 60000);
    assert_string_equal(c.compression_type, "producer");
    assert_string_equal(c.log_cleanup_policy, "delete");
    assert_null(c.broker_rack);
    assert_string_equal(c.log_level, "info");
    assert_string_equal(c.log_debug, "");
    assert_string_equal(c.metrics_listeners, "");
    assert_true(c.log_cleaner_min_cleanable_ratio == 0.5);
    assert_string_equal(c.log_message_timestamp_type, "CreateTime");

    /* Table sanity: every key unique, none also on the unused-Kafka list,
     * every default re-validates through set, entries describe themselves. */
    size_t n = kn_broker_config_count();
    assert_true(n > 40 && n <= KN_BROKER_CONFIG_MAX_KEYS);
    for (size_t i = 0; i < n; i++) {
        kn_broker_config_entry_t e;
        char buf[256], err[256];
        assert_int_equal(kn_broker_config_entry(&c, i, &e, buf, sizeof(buf)), 0);
        assert_int_equal(kn_broker_config_find(e.name), (int)i);
        assert_false(kn_broker_config_is_unused_kafka_key(e.name));
        assert_true(e.is_default);
        assert_non_null(e.doc);
        assert_true(strlen(e.doc) > 10);
        assert_true(e.read_only == (e.mode == KN_CFG_READ_ONLY));
        if (e.default_text) {
            kn_broker_config_t c2;
            kn_broker_config_defaults(&c2);
            if (kn_broker_config_set(&c2, e.name, e.default_text, err, sizeof(err)) != 0) fail_msg("%s", err);
            kn_broker_config_free(&c2);
        }
    }
    kn_broker_config_entry_t e;
    char buf[64];
    assert_int_equal(kn_broker_config_entry(&c, n, &e, buf, sizeof(buf)), KN_ENOTFOUND);
    kn_broker_config_free(&c);
    kn_broker_config_free(&c); /* idempotent */
}

static void test_dynamic_marks(void **state) {
    (void)state;
    kn_broker_config_t c;
    kn_broker_config_defaults(&c);
    struct {
        const char *key;
        kn_cfg_mode_t mode;
    } want[] = {
        {"log.retention.ms", KN_CFG_CLUSTER_WIDE},   {"log.segment.bytes", KN_CFG_CLUSTER_WIDE},
        {"listeners", KN_CFG_PER_BROKER},            {"advertised.listeners", KN_CFG_PER_BROKER},
        {"log.retention.hours", KN_CFG_READ_ONLY},   {"broker.id", KN_CFG_READ_ONLY},
        {"num.partitions", KN_CFG_READ_ONLY},        {"min.insync.replicas", KN_CFG_CLUSTER_WIDE},
        {"zookeeper.connect", KN_CFG_READ_ONLY},     {"log.cleanup.policy", KN_CFG_CLUSTER_WIDE},
        {"kanal.log.level", KN_CFG_READ_ONLY},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        kn_broker_config_entry_t e;
        char buf[64];
        int idx = kn_broker_config_find(want[i].key);
        assert_true(idx >= 0);
        kn_broker_config_entry(&c, (size_t)idx, &e, buf, sizeof(buf));
        assert_int_equal(e.mode, want[i].mode);
    }
    kn_broker_config_free(&c);
}

static void test_load_minimal(void **state) {
    (void)state;
    kn_broker_config_t c;
    char err[512];
    assert_int_equal(load_text(&c, BASE "log.dirs = /a , /b\nlog.cleanup.policy=compact, delete\n", err,
                               sizeof(err), NULL),
                     0);
    assert_int_equal(c.broker_id, 1);
    assert_string_equal(c.zookeeper_connect, "127.0.0.1:2181");
    assert_string_equal(c.log_dirs, "/a,/b");
    assert_string_equal(c.log_cleanup_policy, "compact,delete");
    char buf[64];
    assert_int_equal(kn_broker_config_get_string(&c, "broker.id", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "1");
    assert_int_equal(kn_broker_config_get_string(&c, "log.dirs", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/a,/b");
    assert_int_equal(kn_broker_config_get_string(&c, "broker.rack", buf, sizeof(buf)), 1); /* null */
    assert_int_equal(kn_broker_config_get_string(&c, "log.retention.minutes", buf, sizeof(buf)), 1);
    assert_int_equal(kn_broker_config_get_string(&c, "log.flush.interval.ms", buf, sizeof(buf)), 1);
    assert_int_equal(kn_broker_config_get_string(&c, "log.retention.ms", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "604800000");
    assert_int_equal(kn_broker_config_get_string(&c, "log.cleaner.min.cleanable.ratio", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "0.5");
    assert_int_equal(kn_broker_config_get_string(&c, "nope", buf, sizeof(buf)), KN_ENOTFOUND);

    kn_broker_config_entry_t e;
    kn_broker_config_entry(&c, (size_t)kn_broker_config_find("broker.id"), &e, buf, sizeof(buf));
    assert_false(e.is_default);
    assert_true(e.read_only);
    assert_string_equal(e.value, "1");
    kn_broker_config_entry(&c, (size_t)kn_broker_config_find("num.partitions"), &e, buf, sizeof(buf));
    assert_true(e.is_default);
    assert_string_equal(e.valid_text, "[1,...]");
    kn_broker_config_entry(&c, (size_t)kn_broker_config_find("broker.rack"), &e, buf, sizeof(buf));
    assert_null(e.value);
    kn_broker_config_entry(&c, (size_t)kn_broker_config_find("kanal.log.level"), &e, buf, sizeof(buf));
    assert_true(e.kanal_only);
    assert_string_equal(e.valid_text, "[debug, info, warn, error]");
    kn_broker_config_free(&c);
}

/* One bad value: the error names the key, the value and file:line. */
static void expect_bad(const char *line, int want_rc, const char *must_contain) {
    kn_broker_config_t c;
    char err[512], text[512], loc[128];
    const char *path;
    snprintf(text, sizeof(text), BASE "# filler\n%s\n", line);
    int rc = load_text(&c, text, err, sizeof(err), &path);
    if (rc != want_rc) fail_msg("'%s': rc %d, want %d (%s)", line, rc, want_rc, err);
    snprintf(loc, sizeof(loc), "%s:4", path);
    if (!strstr(err, loc)) fail_msg("'%s': error lacks %s: %s", line, loc, err);
    char key[128];
    snprintf(key, sizeof(key), "'%.*s'", (int)strcspn(line, "="), line);
    if (!strstr(err, key)) fail_msg("'%s': error lacks key %s: %s", line, key, err);
    if (must_contain && !strstr(err, must_contain)) fail_msg("'%s': error lacks '%s': %s", line, must_contain, err);
}

static void test_type_and_range_errors(void **state) {
    (void)state;
    expect_bad("num.partitions=abc", KN_EINVAL, "'abc'");
    expect_bad("num.partitions=1.5", KN_EINVAL, "integer");
    expect_bad("num.partitions=0", KN_ERANGE, "[1,...]");
    expect_bad("num.partitions=99999999999", KN_ERANGE, "int");
    expect_bad("default.replication.factor=40000", KN_ERANGE, "short");
    expect_bad("default.replication.factor=0", KN_ERANGE, NULL);
    expect_bad("log.segment.bytes=13", KN_ERANGE, "[14,...,2147483647]");
    expect_bad("log.retention.bytes=1e9", KN_EINVAL, "long");
    expect_bad("log.retention.ms=-2", KN_ERANGE, "[-1,...]");
    expect_bad("log.flush.interval.messages=99999999999999999999", KN_ERANGE, NULL);
    expect_bad("auto.create.topics.enable=yes", KN_EINVAL, "true or false");
    expect_bad("log.cleaner.min.cleanable.ratio=1.5", KN_ERANGE, "[0,...,1]");
    expect_bad("log.cleaner.min.cleanable.ratio=x", KN_EINVAL, "number");
    expect_bad("compression.type=brotli", KN_EINVAL, "[uncompressed, zstd, lz4, snappy, gzip, producer]");
    expect_bad("log.cleanup.policy=delete,forever", KN_EINVAL, "[compact, delete]");
    expect_bad("log.cleanup.policy=", KN_EINVAL, NULL);
    expect_bad("log.dirs=/a,,/b", KN_EINVAL, "empty list element");
    expect_bad("log.dirs=", KN_EINVAL, "empty");
    expect_bad("kanal.log.level=verbose", KN_EINVAL, NULL);
    expect_bad("kanal.log.debug=net,disk", KN_EINVAL, NULL);
    expect_bad("listeners=SSL://:9093", KN_EINVAL, "PLAINTEXT");
    expect_bad("listeners=PLAINTEXT://host", KN_EINVAL, "port");
    expect_bad("listeners=PLAINTEXT://::1:9092", KN_EINVAL, "brackets");
    expect_bad("listeners=PLAINTEXT://h:70000", KN_EINVAL, NULL);
    expect_bad("advertised.listeners=PLAINTEXT://0.0.0.0:9092", KN_EINVAL, "wildcard");
    expect_bad("zookeeper.connect=zk1", KN_EINVAL, "host:port");
    expect_bad("zookeeper.connect=zk1:2181/", KN_EINVAL, "chroot");
    expect_bad("zookeeper.connect=zk1:2181,:2181", KN_EINVAL, NULL);
    expect_bad("metrics.listeners=localhost", KN_EINVAL, NULL);
    expect_bad("broker.id=-1", KN_ERANGE, NULL);
}

static void test_good_values(void **state) {
    (void)state;
    kn_broker_config_t c;
    char err[512];
    assert_int_equal(load_text(&c,
                               BASE "zookeeper.connect=zk1:2181,zk2:2182/kanal/prod\n"
                                    "listeners=PLAINTEXT://[::1]:9092\n"
                                    "advertised.listeners=PLAINTEXT://broker1.example:19092\n"
                                    "auto.create.topics.enable=FALSE\n"
                                    "kanal.log.debug=net, zk\n"
                                    "metrics.listeners=http://127.0.0.1:9404\n"
                                    "log.cleaner.min.cleanable.ratio=0.25\n"
                                    "broker.rack=r1\n"
                                    "log.retention.bytes=+100\n",
                               err, sizeof(err), NULL),
                     0);
    assert_string_equal(c.zookeeper_connect, "zk1:2181,zk2:2182/kanal/prod");
    assert_false(c.auto_create_topics_enable);
    assert_string_equal(c.log_debug, "net,zk");
    assert_true(c.log_cleaner_min_cleanable_ratio == 0.25);
    assert_string_equal(c.broker_rack, "r1");
    assert_int_equal(c.log_retention_bytes, 100);
    char host[64];
    int port;
    assert_int_equal(kn_broker_config_advertised(&c, host, sizeof(host), &port), 0);
    assert_string_equal(host, "broker1.example");
    assert_int_equal(port, 19092);
    kn_broker_config_free(&c);
}

static void test_unknown_key_suggestion(void **state) {
    (void)state;
    kn_broker_config_t c;
    char err[512], want[256];
    const char *path;
    capture_start();
    int rc = load_text(&c, BASE "\n\n\n\n\n\n\n\n\nlog.segmnet.bytes=100\n", err, sizeof(err), &path);
    char *out = capture_end();
    assert_int_equal(rc, KN_EINVAL);
    snprintf(want, sizeof(want), "unknown config key 'log.segmnet.bytes' at %s:12 (did you mean 'log.segment.bytes'?)",
             path);
    assert_string_equal(err, want);
    assert_non_null(strstr(out, "ERROR"));
    assert_non_null(strstr(out, want));
    free(out);

    /* nothing close: no suggestion */
    rc = load_text(&c, BASE "completely.different.thing=1\n", err, sizeof(err), &path);
    assert_int_equal(rc, KN_EINVAL);
    assert_non_null(strstr(err, "unknown config key 'completely.different.thing'"));
    assert_null(strstr(err, "did you mean"));

    /* typo of an unused Kafka key suggests that key */
    rc = load_text(&c, BASE "num.io.thread=8\n", err, sizeof(err), &path);
    assert_int_equal(rc, KN_EINVAL);
    assert_non_null(strstr(err, "did you mean 'num.io.threads'?"));

    /* every error is reported; the first one is returned */
    capture_start();
    rc = load_text(&c, BASE "num.partitionz=1\nlog.retention.ms=x\n", err, sizeof(err), &path);
    out = capture_end();
    assert_int_equal(rc, KN_EINVAL);
    assert_non_null(strstr(err, "num.partitionz"));
    assert_non_null(strstr(out, "num.partitionz"));
    assert_non_null(strstr(out, "log.retention.ms"));
    free(out);
}

static void test_kafka_key_warns(void **state) {
    (void)state;
    kn_broker_config_t c;
    char err[512], want[256];
    const char *path;
    capture_start();
    int rc = load_text(&c,
                       BASE "num.io.threads=8\n"
                            "ssl.keystore.location=/x\n"
                            "listener.name.internal.ssl.keystore.location=/y\n"
                            "num.partitions=2\n"
                            "num.partitions=4\n",
                       err, sizeof(err), &path);
    char *out = capture_end();
    assert_int_equal(rc, 0);
    snprintf(want, sizeof(want), "unused Kafka config key 'num.io.threads' (%s:3) ignored", path);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "WARN"));
    assert_non_null(strstr(out, "'ssl.keystore.location'"));
    assert_non_null(strstr(out, "'listener.name.internal.ssl.keystore.location'"));
    assert_non_null(strstr(out, "set again")); /* duplicate key warning */
    assert_int_equal(c.num_partitions, 4);     /* later value wins */
    kn_broker_config_free(&c);
    free(out);

    assert_true(kn_broker_config_is_unused_kafka_key("transaction.state.log.replication.factor"));
    assert_true(kn_broker_config_is_unused_kafka_key("num.network.threads"));
    assert_true(kn_broker_config_is_unused_kafka_key("zookeeper.clientCnxnSocket"));
    assert_false(kn_broker_config_is_unused_kafka_key("num.partitions"));
    assert_false(kn_broker_config_is_unused_kafka_key("listener.name."));
    char e2[256];
    kn_broker_config_defaults(&c);
    assert_int_equal(kn_broker_config_set(&c, "num.io.threads", "8", e2, sizeof(e2)), KN_EUNSUPPORTED);
    assert_int_equal(kn_broker_config_set(&c, "num.partitionz", "8", e2, sizeof(e2)), KN_EINVAL);
    assert_non_null(strstr(e2, "did you mean 'num.partitions'"));
    kn_broker_config_free(&c);
}

static void test_overrides(void **state) {
    (void)state;
    kn_broker_config_t c;
    char err[512];
    const char *p = tmpfile_with(BASE "num.partitions=3\nlog.retention.hours=10\n");
    const char *ov[] = {"num.partitions=5", " log.retention.ms = 1000 ", "broker.id=7"};
    assert_int_equal(kn_broker_config_load(&c, p, ov, 3, err, sizeof(err)), 0);
    assert_int_equal(c.num_partitions, 5);
    assert_int_equal(c.log_retention_ms, 1000);
    assert_int_equal(c.broker_id, 7);
    kn_broker_config_free(&c);

    const char *bad[] = {"num.partitions=0"};
    assert_int_equal(kn_broker_config_load(&c, p, bad, 1, err, sizeof(err)), KN_ERANGE);
    assert_non_null(strstr(err, "'num.partitions'"));
    assert_non_null(strstr(err, "--override"));
    const char *typo[] = {"num.partition=2"};
    assert_int_equal(kn_broker_config_load(&c, p, typo, 1, err, sizeof(err)), KN_EINVAL);
    assert_non_null(strstr(err, "at --override (did you mean 'num.partitions'?)"));
    const char *noeq[] = {"num.partitions"};
    assert_int_equal(kn_broker_config_load(&c, p, noeq, 1, err, sizeof(err)), KN_EINVAL);
    assert_non_null(strstr(err, "key=value"));
    unlink(p);

    /* no file at all: overrides alone */
    const char *only[] = {"broker.id=0", "zookeeper.connect=localhost:2181"};
    assert_int_equal(kn_broker_config_load(&c, NULL, only, 2, err, sizeof(err)), 0);
    assert_int_equal(c.broker_id, 0);
    kn_broker_config_free(&c);

    assert_int_equal(kn_broker_config_load(&c, "/nonexistent/k.properties", NULL, 0, err, sizeof(err)),
                     KN_ENOTFOUND);
    assert_non_null(strstr(err, "/nonexistent/k.properties"));
}

static void test_required_and_cross_checks(void **state) {
    (void)state;
    kn_broker_config_t c;
    char err[512];
    assert_int_equal(load_text(&c, "zookeeper.connect=h:1\n", err, sizeof(err), NULL), KN_EINVAL);
    assert_non_null(strstr(err, "missing required config key 'broker.id'"));
    assert_int_equal(load_text(&c, "broker.id=1\n", err, sizeof(err), NULL), KN_EINVAL);
    assert_non_null(strstr(err, "missing required config key 'zookeeper.connect'"));
    assert_int_equal(load_text(&c, BASE "group.min.session.timeout.ms=10\ngroup.max.session.timeout.ms=5\n", err,
                               sizeof(err), NULL),
                     KN_EINVAL);
    assert_non_null(strstr(err, "group.min.session.timeout.ms"));
    assert_int_equal(load_text(&c, BASE "replica.fetch.wait.max.ms=40000\n", err, sizeof(err), NULL), KN_EINVAL);
    assert_non_null(strstr(err, "replica.fetch.wait.max.ms"));
}

static void test_retention_precedence(void **state) {
    (void)state;
    kn_broker_config_t c;
    char err[512];
    assert_int_equal(load_text(&c, BASE "log.retention.hours=2\n", err, sizeof(err), NULL), 0);
    assert_int_equal(c.log_retention_ms, 2 * 3600000LL);
    kn_broker_config_free(&c);
    assert_int_equal(load_text(&c, BASE "log.retention.hours=2\nlog.retention.minutes=3\n", err, sizeof(err), NULL), 0);
    assert_int_equal(c.log_retention_ms, 3 * 60000LL);
    kn_broker_config_free(&c);
    /* order in the file does not matter: ms wins over minutes and hours */
    assert_int_equal(load_text(&c, BASE "log.retention.ms=1234\nlog.retention.hours=2\nlog.retention.minutes=3\n",
                               err, sizeof(err), NULL),
                     0);
    assert_int_equal(c.log_retention_ms, 1234);
    kn_broker_config_free(&c);
    assert_int_equal(load_text(&c, BASE "log.retention.hours=-1\n", err, sizeof(err), NULL), 0);
    assert_int_equal(c.log_retention_ms, -1);
    kn_broker_config_free(&c);
    assert_int_equal(load_text(&c, BASE "log.retention.ms=-1\n", err, sizeof(err), NULL), 0);
    assert_int_equal(c.log_retention_ms, -1);
    char buf[32];
    assert_int_equal(kn_broker_config_get_string(&c, "log.retention.ms", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "-1");
    kn_broker_config_free(&c);

    /* roll, jitter, log.dir, zookeeper connection timeout fallbacks */
    assert_int_equal(load_text(&c,
                               BASE "log.roll.hours=1\nlog.roll.jitter.hours=2\nlog.dir=/d\n"
                                    "zookeeper.session.timeout.ms=6000\n",
                               err, sizeof(err), NULL),
                     0);
    assert_int_equal(c.log_roll_ms, 3600000);
    assert_int_equal(c.log_roll_jitter_ms, 7200000);
    assert_string_equal(c.log_dirs, "/d");
    assert_int_equal(c.zookeeper_connection_timeout_ms, 6000);
    kn_broker_config_free(&c);
    assert_int_equal(load_text(&c,
                               BASE "log.roll.ms=5\nlog.roll.hours=1\nlog.dir=/d\nlog.dirs=/e\n"
                                    "zookeeper.connection.timeout.ms=100\n",
                               err, sizeof(err), NULL),
                     0);
    assert_int_equal(c.log_roll_ms, 5);
    assert_string_equal(c.log_dirs, "/e");
    assert_int_equal(c.zookeeper_connection_timeout_ms, 100);
    kn_broker_config_free(&c);

    /* kn_broker_config_set re-resolves */
    kn_broker_config_defaults(&c);
    assert_int_equal(kn_broker_config_set(&c, "log.retention.minutes", "7", err, sizeof(err)), 0);
    assert_int_equal(c.log_retention_ms, 7 * 60000LL);
    assert_int_equal(kn_broker_config_set(&c, "log.retention.ms", "99", err, sizeof(err)), 0);
    assert_int_equal(c.log_retention_ms, 99);
    assert_int_equal(kn_broker_config_set(&c, "log.flush.interval.ms", "10", err, sizeof(err)), 0);
    assert_int_equal(c.log_flush_interval_ms, 10);
    assert_int_equal(kn_broker_config_set(&c, "log.segment.bytes", "13", err, sizeof(err)), KN_ERANGE);
    assert_non_null(strstr(err, "'log.segment.bytes'"));
    assert_non_null(strstr(err, "'13'"));
    assert_int_equal(c.log_segment_bytes, 1073741824); /* unchanged */
    kn_broker_config_free(&c);
}

static void test_listener_parse(void **state) {
    (void)state;
    char host[64];
    int port = -1;
    assert_int_equal(kn_listener_parse("PLAINTEXT://127.0.0.1:9092", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9092);
    assert_int_equal(kn_listener_parse("PLAINTEXT://:9093", host, sizeof(host), &port), 0);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(port, 9093);
    assert_int_equal(kn_listener_parse("PLAINTEXT://[::1]:9094,PLAINTEXT://h:1", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 9094);
    assert_int_equal(kn_listener_parse("  PLAINTEXT://my.host:0 ", host, sizeof(host), &port), 0);
    assert_string_equal(host, "my.host");
    assert_int_equal(port, 0);
    assert_int_equal(kn_listener_parse("PLAINTEXT://host", host, sizeof(host), &port), KN_EINVAL);
    assert_int_equal(kn_listener_parse("host:9092", host, sizeof(host), &port), KN_EINVAL);
    assert_int_equal(kn_listener_parse("PLAINTEXT://h:x", host, sizeof(host), &port), KN_EINVAL);
    assert_int_equal(kn_listener_parse("PLAINTEXT://h:65536", host, sizeof(host), &port), KN_EINVAL);
    assert_int_equal(kn_listener_parse("PLAINTEXT://h:", host, sizeof(host), &port), KN_EINVAL);
    assert_int_equal(kn_listener_parse("PLAINTEXT://[::1:9092", host, sizeof(host), &port), KN_EINVAL);
    assert_int_equal(kn_listener_parse("://h:1", host, sizeof(host), &port), KN_EINVAL);
    assert_int_equal(kn_listener_parse("", host, sizeof(host), &port), KN_EINVAL);
    char tiny[4];
    assert_int_equal(kn_listener_parse("PLAINTEXT://longhost:1", tiny, sizeof(tiny), &port), KN_EINVAL);

    /* advertised: wildcard -> 127.0.0.1 */
    kn_broker_config_t c;
    kn_broker_config_defaults(&c);
    assert_int_equal(kn_broker_config_advertised(&c, host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9092);
    char err[256];
    assert_int_equal(kn_broker_config_set(&c, "listeners", "PLAINTEXT://10.0.0.5:9095", err, sizeof(err)), 0);
    assert_int_equal(kn_broker_config_advertised(&c, host, sizeof(host), &port), 0);
    assert_string_equal(host, "10.0.0.5");
    assert_int_equal(port, 9095);
    assert_int_equal(kn_broker_config_set(&c, "advertised.listeners", "PLAINTEXT://:9096", err, sizeof(err)), 0);
    assert_int_equal(kn_broker_config_advertised(&c, host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9096);
    kn_broker_config_free(&c);
}

/* ---- topic keys ---- */

static void test_topic_config(void **state) {
    (void)state;
    char err[256];
    assert_int_equal(kn_topic_config_validate("retention.ms", "1000", err, sizeof(err)), 0);
    assert_int_equal(kn_topic_config_validate("retention.ms", "-1", err, sizeof(err)), 0);
    assert_int_equal(kn_topic_config_validate("cleanup.policy", "compact,delete", err, sizeof(err)), 0);
    assert_int_equal(kn_topic_config_validate("cleanup.policy", "compact", err, sizeof(err)), 0);
    assert_int_equal(kn_topic_config_validate("min.cleanable.dirty.ratio", "0.1", err, sizeof(err)), 0);
    assert_int_equal(kn_topic_config_validate("message.timestamp.type", "LogAppendTime", err, sizeof(err)), 0);
    assert_int_equal(kn_topic_config_validate("unclean.leader.election.enable", "true", err, sizeof(err)), 0);

    assert_int_equal(kn_topic_config_validate("segment.bytes", "10", err, sizeof(err)), KN_ERANGE);
    assert_non_null(strstr(err, "'segment.bytes'"));
    assert_non_null(strstr(err, "'10'"));
    assert_int_equal(kn_topic_config_validate("retention.ms", "soon", err, sizeof(err)), KN_EINVAL);
    assert_non_null(strstr(err, "'retention.ms'"));
    assert_non_null(strstr(err, "'soon'"));
    assert_int_equal(kn_topic_config_validate("cleanup.policy", "forever", err, sizeof(err)), KN_EINVAL);
    assert_int_equal(kn_topic_config_validate("compression.type", "brotli", err, sizeof(err)), KN_EINVAL);
    assert_int_equal(kn_topic_config_validate("min.insync.replicas", "0", err, sizeof(err)), KN_ERANGE);
    assert_int_equal(kn_topic_config_validate("remote.storage.enable", "true", err, sizeof(err)), KN_EINVAL);
    assert_int_equal(kn_topic_config_validate("retention.msec", "1", err, sizeof(err)), KN_EINVAL);
    assert_string_equal(err, "unknown topic config key 'retention.msec' (did you mean 'retention.ms'?)");
    assert_int_equal(kn_topic_config_validate("log.retention.ms", "1", err, sizeof(err)), KN_EINVAL);
    assert_non_null(strstr(err, "unknown topic config key 'log.retention.ms'"));

    assert_string_equal(kn_topic_config_broker_key("segment.bytes"), "log.segment.bytes");
    assert_string_equal(kn_topic_config_broker_key("file.delete.delay.ms"), "log.segment.delete.delay.ms");
    assert_string_equal(kn_topic_config_broker_key("max.message.bytes"), "message.max.bytes");
    assert_null(kn_topic_config_broker_key("nope"));
    assert_null(kn_topic_config_broker_key("remote.storage.enable"));

    /* every topic key's broker key is either ours or a known Kafka key, and
     * its Kafka default validates */
    kn_broker_config_t c;
    kn_broker_config_defaults(&c);
    for (size_t i = 0; i < kn_topic_config_count(); i++) {
        kn_topic_config_info_t t;
        char buf[128];
        assert_int_equal(kn_topic_config_info(i, &t), 0);
        if (t.broker_key)
            assert_true(kn_broker_config_find(t.broker_key) >= 0 || kn_broker_config_is_unused_kafka_key(t.broker_key));
        if (kn_topic_config_validate(t.name, t.kafka_default, err, sizeof(err))) fail_msg("%s", err);
        assert_int_equal(kn_topic_config_default(&c, t.name, buf, sizeof(buf)), 0);
        if (kn_topic_config_validate(t.name, buf, err, sizeof(err))) fail_msg("default of %s: %s", t.name, err);
    }
    kn_topic_config_info_t t;
    assert_int_equal(kn_topic_config_info(kn_topic_config_count(), &t), KN_ENOTFOUND);

    char buf[64];
    assert_int_equal(kn_topic_config_default(&c, "retention.ms", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "604800000");
    assert_int_equal(kn_topic_config_default(&c, "flush.ms", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "9223372036854775807"); /* broker value null -> Kafka default */
    assert_int_equal(kn_topic_config_default(&c, "message.format.version", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "3.0-IV1");
    assert_int_equal(kn_broker_config_set(&c, "log.segment.bytes", "1048576", err, sizeof(err)), 0);
    assert_int_equal(kn_broker_config_set(&c, "log.retention.hours", "1", err, sizeof(err)), 0);
    assert_int_equal(kn_topic_config_default(&c, "segment.bytes", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "1048576");
    assert_int_equal(kn_topic_config_default(&c, "retention.ms", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "3600000");
    assert_int_equal(kn_topic_config_default(&c, "nope", buf, sizeof(buf)), KN_ENOTFOUND);
    kn_broker_config_free(&c);
}

/* ---- shipped files ---- */

static void test_shipped_conf_files(void **state) {
    (void)state;
    static const char *const files[] = {"kanald.properties", "kanald-1.properties", "kanald-2.properties",
                                        "kanald-3.properties"};
    for (size_t i = 0; i < 4; i++) {
        char path[512], err[512];
        kn_broker_config_t c;
        snprintf(path, sizeof(path), "%s/conf/%s", KANAL_SOURCE_DIR, files[i]);
        int rc = kn_broker_config_load(&c, path, NULL, 0, err, sizeof(err));
        if (rc) fail_msg("%s: %s", path, err);
        if (i == 0) {
            assert_int_equal(c.broker_id, 1);
            assert_string_equal(c.listeners, "PLAINTEXT://127.0.0.1:9092");
            assert_string_equal(c.log_dirs, "/var/lib/kanal/data");
            assert_int_equal(c.offsets_topic_replication_factor, 1);
            assert_int_equal(c.default_replication_factor, 1);
        } else {
            char want[64];
            assert_int_equal(c.broker_id, (int)i);
            snprintf(want, sizeof(want), "PLAINTEXT://127.0.0.1:%d", 9091 + (int)i);
            assert_string_equal(c.listeners, want);
            snprintf(want, sizeof(want), "/tmp/kanal/broker-%d", (int)i);
            assert_string_equal(c.log_dirs, want);
            assert_int_equal(c.default_replication_factor, 3);
            assert_int_equal(c.min_insync_replicas, 2);
            assert_int_equal(c.offsets_topic_replication_factor, 3);
        }
        assert_string_equal(c.zookeeper_connect, "127.0.0.1:2181");
        kn_broker_config_free(&c);
    }
}

static void test_markdown(void **state) {
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    kn_broker_config_write_markdown(f);
    fclose(f);
    assert_non_null(strstr(buf, "# Kanal configuration"));
    assert_non_null(strstr(buf, "| `log.segment.bytes` | long | `1073741824` | [14,...,2147483647] | cluster-wide |"));
    assert_non_null(strstr(buf, "## Topic-level keys"));
    assert_non_null(strstr(buf, "| `segment.bytes` | int | `log.segment.bytes` |"));
    assert_non_null(strstr(buf, "- `num.io.threads`\n"));
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_props_basic),
        cmocka_unit_test(test_props_continuation_and_escapes),
        cmocka_unit_test(test_props_errors),
        cmocka_unit_test(test_props_file),
        cmocka_unit_test(test_levenshtein),
        cmocka_unit_test(test_defaults_and_table),
        cmocka_unit_test(test_dynamic_marks),
        cmocka_unit_test(test_load_minimal),
        cmocka_unit_test(test_type_and_range_errors),
        cmocka_unit_test(test_good_values),
        cmocka_unit_test(test_unknown_key_suggestion),
        cmocka_unit_test(test_kafka_key_warns),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_required_and_cross_checks),
        cmocka_unit_test(test_retention_precedence),
        cmocka_unit_test(test_listener_parse),
        cmocka_unit_test(test_topic_config),
        cmocka_unit_test(test_shipped_conf_files),
        cmocka_unit_test(test_markdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
