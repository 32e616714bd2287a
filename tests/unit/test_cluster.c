/* Pure parts of src/cluster: znode JSON shapes, topic id text, topic name
 * rule, replica assignment. No ZooKeeper. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kanal/util/err.h"
#include "kanal/util/mem.h"
#include "znode_int.h"

static json_t *parse(const char *s) {
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    return j;
}

static void test_uuid_b64(void **st) {
    (void)st;
    kn_uuid_t u, v;
    char t[KN_CLUSTER_UUID_B64_LEN + 1];
    memset(&u, 0, sizeof(u));
    kn_cluster__uuid_to_b64(&u, t);
    assert_string_equal(t, "AAAAAAAAAAAAAAAAAAAAAA");
    for (int i = 0; i < 16; i++) u.b[i] = (uint8_t)(0xf0 + i);
    kn_cluster__uuid_to_b64(&u, t);
    assert_int_equal(strlen(t), 22);
    assert_int_equal(kn_cluster__uuid_from_b64(t, 22, &v), 0);
    assert_memory_equal(u.b, v.b, 16);
    /* all ones: "_____________________w" (last char holds 2 bits) */
    memset(&u, 0xff, sizeof(u));
    kn_cluster__uuid_to_b64(&u, t);
    assert_string_equal(t, "_____________________w");
    assert_int_equal(kn_cluster__uuid_from_b64("_____________________w==", 24, &v), 0);
    assert_memory_equal(u.b, v.b, 16);
    /* wrong length, bad char, non-zero trailing bits */
    assert_int_equal(kn_cluster__uuid_from_b64("AAAA", 4, &v), KN_ECORRUPT);
    assert_int_equal(kn_cluster__uuid_from_b64("AAAAAAAAAAAAAAAAAAAAA+", 22, &v), KN_ECORRUPT);
    assert_int_equal(kn_cluster__uuid_from_b64("AAAAAAAAAAAAAAAAAAAAAB", 22, &v), KN_ECORRUPT);
    for (int i = 0; i < 200; i++) {
        kn_cluster__random_uuid(&u);
        kn_cluster__uuid_to_b64(&u, t);
        assert_true(t[0] != '-');
        assert_int_equal(u.b[6] >> 4, 4);
        assert_int_equal(kn_cluster__uuid_from_b64(t, 22, &v), 0);
        assert_memory_equal(u.b, v.b, 16);
    }
}

static void test_topic_names(void **st) {
    (void)st;
    const char *why;
    assert_int_equal(kn_cluster__validate_topic_name("orders", 6, &why), 0);
    assert_null(why);
    assert_int_equal(kn_cluster__validate_topic_name("a.b_c-D9", 8, NULL), 0);
    assert_int_equal(kn_cluster__validate_topic_name("", 0, &why), KN_EINVAL);
    assert_non_null(why);
    assert_int_equal(kn_cluster__validate_topic_name(".", 1, NULL), KN_EINVAL);
    assert_int_equal(kn_cluster__validate_topic_name("..", 2, NULL), KN_EINVAL);
    assert_int_equal(kn_cluster__validate_topic_name("...", 3, NULL), 0);
    assert_int_equal(kn_cluster__validate_topic_name("a/b", 3, NULL), KN_EINVAL);
    assert_int_equal(kn_cluster__validate_topic_name("a b", 3, NULL), KN_EINVAL);
    assert_int_equal(kn_cluster__validate_topic_name("\xc3\xa9", 2, NULL), KN_EINVAL);
    char longname[251];
    memset(longname, 'x', sizeof(longname));
    assert_int_equal(kn_cluster__validate_topic_name(longname, 249, NULL), 0);
    assert_int_equal(kn_cluster__validate_topic_name(longname, 250, NULL), KN_EINVAL);
}

static void test_assignment(void **st) {
    (void)st;
    /* Kafka's documented example: 5 brokers, 10 partitions, rf 3, start 0,
     * shift 0: p0 [0,1,2] ... p4 [4,0,1], then the shift grows: p5 [0,2,3]. */
    int32_t b[] = {0, 1, 2, 3, 4};
    int32_t out[10 * 3];
    assert_int_equal(kn_cluster__assign_replicas(b, 5, 10, 3, 0, 0, out), 0);
    int32_t want[10][3] = {{0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 0}, {4, 0, 1},
                           {0, 2, 3}, {1, 3, 4}, {2, 4, 0}, {3, 0, 1}, {4, 1, 2}};
    assert_memory_equal(out, want, sizeof(want));
    /* Leaders spread evenly; no broker twice in a partition. */
    int32_t ids[] = {11, 12, 13};
    int32_t o2[30 * 3];
    int lead[3] = {0};
    assert_int_equal(kn_cluster__assign_replicas(ids, 3, 30, 3, 2, 1, o2), 0);
    for (int p = 0; p < 30; p++) {
        lead[o2[p * 3] - 11]++;
        assert_true(o2[p * 3] != o2[p * 3 + 1] && o2[p * 3] != o2[p * 3 + 2] && o2[p * 3 + 1] != o2[p * 3 + 2]);
    }
    assert_int_equal(lead[0], 10);
    assert_int_equal(lead[1], 10);
    assert_int_equal(lead[2], 10);
    /* single broker */
    int32_t one = 1, o3[4];
    assert_int_equal(kn_cluster__assign_replicas(&one, 1, 4, 1, 0, 0, o3), 0);
    for (int p = 0; p < 4; p++) assert_int_equal(o3[p], 1);
    assert_int_equal(kn_cluster__assign_replicas(&one, 1, 4, 2, 0, 0, o3), KN_EINVAL);
    assert_int_equal(kn_cluster__assign_replicas(&one, 1, 0, 1, 0, 0, o3), KN_EINVAL);
}

static void test_broker_json(void **st) {
    (void)st;
    char *s = kn_cluster__broker_json("h1.example", 9092, NULL, 1729530000000LL);
    json_t *j = parse(s);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 5);
    assert_string_equal(json_string_value(json_object_get(j, "host")), "h1.example");
    assert_int_equal(json_integer_value(json_object_get(j, "port")), 9092);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "endpoints"), 0)),
                        "PLAINTEXT://h1.example:9092");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "listener_security_protocol_map"), "PLAINTEXT")),
        "PLAINTEXT");
    assert_int_equal(json_integer_value(json_object_get(j, "jmx_port")), -1);
    assert_string_equal(json_string_value(json_object_get(j, "timestamp")), "1729530000000");
    assert_true(json_is_null(json_object_get(j, "rack")));
    assert_true(json_is_object(json_object_get(j, "features")));
    json_decref(j);
    kn_broker_meta_t m = {0};
    assert_int_equal(kn_cluster__broker_parse(s, strlen(s), &m), 0);
    assert_string_equal(m.host, "h1.example");
    assert_int_equal(m.port, 9092);
    assert_null(m.rack);
    kn_cluster__broker_meta_clear(&m);
    kn_free(s);
    /* Kafka's own shape, with rack, host null: endpoint used. */
    const char *k = "{\"features\":{},\"listener_security_protocol_map\":{\"SSL\":\"SSL\",\"PLAINTEXT\":\"PLAINTEXT\"},"
                    "\"endpoints\":[\"SSL://a:9093\",\"PLAINTEXT://b.example:9092\"],\"jmx_port\":-1,\"port\":-1,"
                    "\"host\":null,\"timestamp\":\"1\",\"version\":5,\"rack\":\"r1\"}";
    assert_int_equal(kn_cluster__broker_parse(k, strlen(k), &m), 0);
    assert_string_equal(m.host, "b.example");
    assert_int_equal(m.port, 9092);
    assert_string_equal(m.rack, "r1");
    kn_cluster__broker_meta_clear(&m);
    assert_int_equal(kn_cluster__broker_parse("[1]", 3, &m), KN_ECORRUPT);
    assert_int_equal(kn_cluster__broker_parse("{\"host\":\"x\"", 11, &m), KN_ECORRUPT);
}

static void test_controller_json(void **st) {
    (void)st;
    char *s = kn_cluster__controller_json(3, 42);
    json_t *j = parse(s);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "brokerid")), 3);
    assert_string_equal(json_string_value(json_object_get(j, "timestamp")), "42");
    assert_int_equal(json_integer_value(json_object_get(j, "kraftControllerEpoch")), -1);
    json_decref(j);
    int32_t id = -1;
    assert_int_equal(kn_cluster__controller_parse(s, strlen(s), &id), 0);
    assert_int_equal(id, 3);
    kn_free(s);
    const char *v1 = "{\"version\":1,\"brokerid\":7,\"timestamp\":\"1\"}";
    assert_int_equal(kn_cluster__controller_parse(v1, strlen(v1), &id), 0);
    assert_int_equal(id, 7);
    assert_int_equal(kn_cluster__controller_parse("{\"brokerid\":\"7\"}", 16, &id), KN_ECORRUPT);
    int32_t e;
    assert_int_equal(kn_cluster__epoch_parse("17", 2, &e), 0);
    assert_int_equal(e, 17);
    assert_int_equal(kn_cluster__epoch_parse("x", 1, &e), KN_ECORRUPT);
    assert_int_equal(kn_cluster__epoch_parse("-1", 2, &e), KN_ECORRUPT);
    assert_int_equal(kn_cluster__epoch_parse(NULL, 0, &e), KN_ECORRUPT);
}

static void test_cluster_id_json(void **st) {
    (void)st;
    char *s = kn_cluster__cluster_id_json("ZxU0F2q2Sy6s3tF7C1p3sA");
    json_t *j = parse(s);
    assert_string_equal(json_string_value(json_object_get(j, "version")), "1"); /* a string */
    json_decref(j);
    char *id = NULL;
    assert_int_equal(kn_cluster__cluster_id_parse(s, strlen(s), &id), 0);
    assert_string_equal(id, "ZxU0F2q2Sy6s3tF7C1p3sA");
    kn_free(id);
    kn_free(s);
    assert_int_equal(kn_cluster__cluster_id_parse("{\"version\":\"1\"}", 15, &id), KN_ECORRUPT);
}

static void test_assignment_json(void **st) {
    (void)st;
    int32_t r0[] = {1, 2, 3}, r1[] = {2, 3, 1};
    kn_partition_state_t parts[2] = {{.replicas = r0, .nreplicas = 3}, {.replicas = r1, .nreplicas = 3}};
    kn_uuid_t id;
    kn_cluster__random_uuid(&id);
    char *s = kn_cluster__assignment_json(&id, 2, parts);
    json_t *j = parse(s);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 3);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(json_object_get(j, "partitions"), "1"), 0)), 2);
    assert_true(json_is_object(json_object_get(j, "adding_replicas")));
    assert_true(json_is_object(json_object_get(j, "removing_replicas")));
    assert_int_equal(strlen(json_string_value(json_object_get(j, "topic_id"))), 22);
    json_decref(j);
    kn_uuid_t id2;
    bool has;
    int32_t n;
    kn_partition_state_t *got;
    assert_int_equal(kn_cluster__assignment_parse(s, strlen(s), &id2, &has, &n, &got), 0);
    assert_true(has);
    assert_memory_equal(id.b, id2.b, 16);
    assert_int_equal(n, 2);
    assert_int_equal(got[1].nreplicas, 3);
    assert_memory_equal(got[1].replicas, r1, sizeof(r1));
    assert_int_equal(got[0].leader, -1);
    kn_cluster__parts_free(got, n);
    kn_free(s);
    /* Keys out of order, no topic_id (pre-2.8 writer). */
    const char *k = "{\"partitions\":{\"1\":[5],\"0\":[4]},\"version\":1}";
    assert_int_equal(kn_cluster__assignment_parse(k, strlen(k), &id2, &has, &n, &got), 0);
    assert_false(has);
    assert_int_equal(n, 2);
    assert_int_equal(got[0].replicas[0], 4);
    assert_int_equal(got[1].replicas[0], 5);
    kn_cluster__parts_free(got, n);
    const char *bad[] = {"{\"partitions\":{\"2\":[5],\"0\":[4]}}", "{\"partitions\":{\"x\":[5]}}",
                         "{\"partitions\":{\"0\":[\"5\"]}}", "{\"partitions\":[]}", "nope"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(kn_cluster__assignment_parse(bad[i], strlen(bad[i]), &id2, &has, &n, &got), KN_ECORRUPT);
}

static void test_state_json(void **st) {
    (void)st;
    int32_t isr[] = {2, 3, 1};
    char *s = kn_cluster__state_json(2, 14, 7, isr, 3);
    json_t *j = parse(s);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "leader")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "leader_epoch")), 14);
    assert_int_equal(json_integer_value(json_object_get(j, "controller_epoch")), 7);
    assert_int_equal(json_array_size(json_object_get(j, "isr")), 3);
    json_decref(j);
    kn_partition_state_t p = {0};
    assert_int_equal(kn_cluster__state_parse(s, strlen(s), &p), 0);
    assert_int_equal(p.leader, 2);
    assert_int_equal(p.leader_epoch, 14);
    assert_int_equal(p.controller_epoch, 7);
    assert_int_equal(p.nisr, 3);
    assert_memory_equal(p.isr, isr, sizeof(isr));
    kn_free(s);
    /* KIP-704 field and unknown keys are ignored; leader -1 accepted */
    const char *k = "{\"controller_epoch\":1,\"leader\":-1,\"version\":1,\"leader_epoch\":3,\"isr\":[1],"
                    "\"leader_recovery_state\":1,\"x\":true}";
    assert_int_equal(kn_cluster__state_parse(k, strlen(k), &p), 0);
    assert_int_equal(p.leader, -1);
    assert_int_equal(p.nisr, 1);
    assert_int_equal(kn_cluster__state_parse("{\"leader\":1}", 12, &p), KN_ECORRUPT);
    assert_int_equal(p.leader, -1); /* untouched on error */
    kn_free(p.isr);
}

static void test_config_json(void **st) {
    (void)st;
    const char *keys[] = {"cleanup.policy", "min.insync.replicas"}, *vals[] = {"compact", "2"};
    char *s = kn_cluster__config_json(keys, vals, 2);
    json_t *j = parse(s);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "config"), "min.insync.replicas")),
                        "2");
    json_decref(j);
    char **k, **v;
    size_t n;
    assert_int_equal(kn_cluster__config_parse(s, strlen(s), &k, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(k[0], "cleanup.policy");
    assert_string_equal(v[1], "2");
    kn_cluster__config_free(k, v, n);
    kn_free(s);
    s = kn_cluster__config_json(NULL, NULL, 0);
    assert_string_equal(s, "{\"version\":1,\"config\":{}}");
    kn_free(s);
    assert_int_equal(kn_cluster__config_parse("{\"config\":{\"a\":1}}", 18, &k, &v, &n), KN_ECORRUPT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_b64),       cmocka_unit_test(test_topic_names),
        cmocka_unit_test(test_assignment),     cmocka_unit_test(test_broker_json),
        cmocka_unit_test(test_controller_json), cmocka_unit_test(test_cluster_id_json),
        cmocka_unit_test(test_assignment_json), cmocka_unit_test(test_state_json),
        cmocka_unit_test(test_config_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
