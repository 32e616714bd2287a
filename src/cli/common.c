/* Plumbing shared by the `kanal` subcommands: common options, client
 * handles, bounded cluster contact, admin-call waiting, JSON and time
 * parsing. Everything here runs on the tool's main thread. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_int.h"

/* What the error callback saw; one process, one thread polls. */
static struct {
    char last[512];      /* last transport-level error text */
    bool all_down;       /* __ALL_BROKERS_DOWN since the handle was made */
    bool fatal;
} g_err;

int64_t kn_cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kn_cli_err(const kn_cli_t *cli, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "kanal %s: ", cli && cli->cmd ? cli->cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int kn_cli_parse_ll(const kn_cli_t *cli, const char *opt, const char *s, long long min, long long max,
                    long long *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        kn_cli_err(cli, "%s: '%s' is not an integer in %lld..%lld", opt, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int kn_cli_common_opt(kn_cli_t *cli, int c, const char *arg, int *rc) {
    long long v;
    switch (c) {
    case 'b': cli->bootstrap = arg; return 1;
    case 'v': cli->verbose++; return 1;
    case KN_OPT_JSON: cli->json = true; return 1;
    case KN_OPT_OUTPUT:
        if (!strcmp(arg, "json")) cli->json = true;
        else if (!strcmp(arg, "text")) cli->json = false;
        else {
            kn_cli_err(cli, "--output: '%s' is not text or json", arg);
            *rc = KN_CLI_USAGE;
        }
        return 1;
    case KN_OPT_TIMEOUT:
        if (kn_cli_parse_ll(cli, "--timeout", arg, 1, 3600000, &v) < 0) *rc = KN_CLI_USAGE;
        else cli->timeout_ms = (int)v;
        return 1;
    case 'X': {
        if (!strchr(arg, '=') || arg[0] == '=') {
            kn_cli_err(cli, "-X: '%s' is not KEY=VALUE", arg);
            *rc = KN_CLI_USAGE;
            return 1;
        }
        const char **n = realloc(cli->props, sizeof(*n) * (size_t)(cli->nprops + 1));
        if (!n) abort();
        cli->props = n;
        cli->props[cli->nprops++] = arg;
        return 1;
    }
    default: return 0;
    }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        g_err.all_down = true;
        return; /* keep the more telling transport error in last */
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[400];
        rd_kafka_resp_err_t f = rd_kafka_fatal_error(rk, buf, sizeof(buf));
        snprintf(g_err.last, sizeof(g_err.last), "fatal %s: %s", rd_kafka_err2name(f), buf);
        g_err.fatal = true;
        return;
    }
    snprintf(g_err.last, sizeof(g_err.last), "%s", reason);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    fprintf(stderr, "%%%d|%s| %s\n", level, fac, buf);
}

int kn_cli_conf_set(const kn_cli_t *cli, rd_kafka_conf_t *conf, const char *k, const char *v) {
    char err[512];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        kn_cli_err(cli, "%s=%s: %s", k, v, err);
        return -1;
    }
    return 0;
}

rd_kafka_t *kn_cli_client(kn_cli_t *cli, rd_kafka_type_t type, rd_kafka_conf_t *conf) {
    if (!conf) conf = rd_kafka_conf_new();
    int bad = 0;
    char tmo[32];
    snprintf(tmo, sizeof(tmo), "%d", cli->timeout_ms);
    bad |= kn_cli_conf_set(cli, conf, "bootstrap.servers", cli->bootstrap);
    bad |= kn_cli_conf_set(cli, conf, "client.id", "kanal");
    /* A dead address must not hold a connect attempt past our own bound. */
    bad |= kn_cli_conf_set(cli, conf, "socket.connection.setup.timeout.ms", cli->timeout_ms < 1000 ? "1000" : tmo);
    if (!cli->verbose) bad |= kn_cli_conf_set(cli, conf, "log.connection.close", "false");
    if (cli->verbose > 1) bad |= kn_cli_conf_set(cli, conf, "debug", "broker,protocol,metadata");
    for (int i = 0; i < cli->nprops; i++) {
        const char *eq = strchr(cli->props[i], '=');
        char key[256];
        size_t kl = (size_t)(eq - cli->props[i]);
        if (kl >= sizeof(key)) kl = sizeof(key) - 1;
        memcpy(key, cli->props[i], kl);
        key[kl] = '\0';
        bad |= kn_cli_conf_set(cli, conf, key, eq + 1);
    }
    if (bad) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_error_cb(conf, on_error);
    /* Quiet unless -v: failures reach the user through our own messages. */
    if (cli->verbose) rd_kafka_conf_set_log_cb(conf, on_log);
    else kn_cli_conf_set(cli, conf, "log_level", "0");
    g_err.last[0] = '\0';
    g_err.all_down = false;
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk) {
        kn_cli_err(cli, "cannot create the client: %s", err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

int kn_cli_metadata(kn_cli_t *cli, rd_kafka_t *rk, bool all_topics, rd_kafka_topic_t *only,
                    const struct rd_kafka_metadata **md) {
    int64_t start = kn_cli_now_ms(), deadline = start + cli->timeout_ms;
    int slice = 500;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    for (;;) {
        int64_t left = deadline - kn_cli_now_ms();
        if (left <= 0) break;
        *md = NULL;
        /* Short first tries so a refused connection (reported through the
         * error callback, served by rd_kafka_poll) ends the wait early;
         * longer ones so a slow broker still gets to answer. */
        e = rd_kafka_metadata(rk, all_topics, only, md, (int)(left < slice ? left : slice));
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return KN_CLI_OK;
        if (*md) rd_kafka_metadata_destroy(*md);
        *md = NULL;
        rd_kafka_poll(rk, 0);
        if (g_err.all_down || g_err.fatal) break;
        if (slice < 4000) slice *= 2;
    }
    double took = (double)(kn_cli_now_ms() - start) / 1000.0;
    kn_cli_err(cli, "cannot reach the cluster at %s: %s (gave up after %.1f s, --timeout %d ms)", cli->bootstrap,
               g_err.last[0] ? g_err.last
               : e == RD_KAFKA_RESP_ERR__TIMED_OUT || e == RD_KAFKA_RESP_ERR__TRANSPORT
                   ? "no broker answered"
                   : rd_kafka_err2str(e),
               took, cli->timeout_ms);
    return KN_CLI_UNREACHABLE;
}

int kn_cli_wait_controller(kn_cli_t *cli, rd_kafka_t *rk) {
    int64_t deadline = kn_cli_now_ms() + cli->timeout_ms;
    for (;;) {
        /* Each Metadata answer (v1+) carries the controller id; librdkafka
         * remembers it. Right after a cluster starts there may be none yet. */
        if (rd_kafka_controllerid(rk, 0) >= 0) return KN_CLI_OK;
        int64_t left = deadline - kn_cli_now_ms();
        if (left <= 0) break;
        const struct rd_kafka_metadata *md = NULL;
        if (rd_kafka_metadata(rk, 0, NULL, &md, (int)(left < 1000 ? left : 1000)) == RD_KAFKA_RESP_ERR_NO_ERROR)
            rd_kafka_metadata_destroy(md);
        if (rd_kafka_controllerid(rk, 0) >= 0) return KN_CLI_OK;
        rd_kafka_poll(rk, 200);
    }
    kn_cli_err(cli, "the cluster at %s has no active controller (none elected within %d ms)", cli->bootstrap,
               cli->timeout_ms);
    return KN_CLI_FAIL;
}

rd_kafka_AdminOptions_t *kn_cli_admin_options(kn_cli_t *cli, rd_kafka_t *rk, rd_kafka_admin_op_t op) {
    char err[256];
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, op);
    rd_kafka_AdminOptions_set_request_timeout(ao, cli->timeout_ms, err, sizeof(err));
    /* Only CreateTopics/DeleteTopics/CreatePartitions take an operation timeout. */
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
        op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS)
        rd_kafka_AdminOptions_set_operation_timeout(ao, cli->timeout_ms, err, sizeof(err));
    return ao;
}

rd_kafka_event_t *kn_cli_admin_wait(kn_cli_t *cli, rd_kafka_queue_t *q, const char *what) {
    int wait = cli->timeout_ms + 2000;
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, wait);
    if (!ev) {
        kn_cli_err(cli, "%s: no answer within %d ms", what, wait);
        return NULL;
    }
    if (rd_kafka_event_error(ev)) {
        kn_cli_err(cli, "%s: %s", what, rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

const struct rd_kafka_metadata_topic *kn_cli_md_topic(const struct rd_kafka_metadata *md, const char *name) {
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, name)) return &md->topics[i];
    return NULL;
}

void kn_cli_json_strn(FILE *f, const char *s, size_t n) {
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

void kn_cli_json_str(FILE *f, const char *s) { kn_cli_json_strn(f, s, s ? strlen(s) : 0); }

static int parse_relative(const char *s, int64_t *ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    s += 3;
    if (!*s) {
        *ms = now;
        return 0;
    }
    int sign = *s == '-' ? -1 : *s == '+' ? 1 : 0;
    if (!sign) return -1;
    char *end;
    errno = 0;
    long long n = strtoll(s + 1, &end, 10);
    if (errno || end == s + 1 || n < 0) return -1;
    int64_t unit = !strcmp(end, "ms") ? 1
                   : !strcmp(end, "s") ? 1000
                   : !strcmp(end, "m") ? 60000
                   : !strcmp(end, "h") ? 3600000
                   : !strcmp(end, "d") ? 86400000
                                       : 0;
    if (!unit) return -1;
    *ms = now + sign * n * unit;
    return 0;
}

int kn_cli_parse_time(const char *s, int64_t *ms) {
    if (!strncmp(s, "now", 3)) return parse_relative(s, ms);
    bool digits = *s != '\0';
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p)) digits = false;
    if (digits) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno) return -1;
        *ms = v;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) {
        memset(&tm, 0, sizeof(tm));
        p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
    }
    if (!p) return -1;
    int frac = 0;
    if (*p == '.') {
        int digs = 0;
        for (p++; isdigit((unsigned char)*p); p++, digs++)
            if (digs < 3) frac = frac * 10 + (*p - '0');
        if (!digs) return -1;
        for (; digs < 3; digs++) frac *= 10;
    }
    time_t t;
    if (*p == '\0') {
        tm.tm_isdst = -1;
        t = mktime(&tm);
    } else {
        int off = 0;
        if (*p == 'Z' && p[1] == '\0') {
            off = 0;
        } else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2])) {
            int hh = (p[1] - '0') * 10 + (p[2] - '0'), mm = 0;
            const char *q = p + 3;
            if (*q == ':') q++;
            if (isdigit((unsigned char)q[0]) && isdigit((unsigned char)q[1])) {
                mm = (q[0] - '0') * 10 + (q[1] - '0');
                q += 2;
            }
            if (*q) return -1;
            off = (hh * 60 + mm) * 60 * (*p == '-' ? -1 : 1);
        } else {
            return -1;
        }
        t = timegm(&tm) - off;
    }
    if (t == (time_t)-1) return -1;
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}
