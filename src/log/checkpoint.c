/* Checkpoint files, partition.metadata and the clean-shutdown marker, in
 * Kafka's text formats. All writes: temp file, fsync, rename, dir fsync. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kanal/log/checkpoint.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"
#include "log_int.h"

#define CHECKPOINT_MAX_BYTES (64 * 1024 * 1024)

static void dir_of(const char *path, char *out, size_t outsz) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(out, outsz, ".");
    else if (slash == path) snprintf(out, outsz, "/");
    else snprintf(out, outsz, "%.*s", (int)(slash - path), path);
}

/* Durably replace path with data. */
static int write_atomic(const char *path, const void *data, size_t n) {
    char tmp[4200], dir[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    dir_of(path, dir, sizeof(dir));
    int fd = kn_log__ops->open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return kn_log__errno();
    int rc = kn_log__pwrite_all(fd, data, n, 0);
    if (!rc && kn_log__ops->fsync(fd) < 0) rc = KN_EIO;
    if (kn_log__ops->close(fd) < 0 && !rc) rc = KN_EIO;
    if (!rc && kn_log__ops->rename(tmp, path) < 0) rc = kn_log__errno();
    if (rc) {
        kn_log(KN_LOG_ERROR, NULL, "cannot write %s: %s", path, kn_strerror(rc));
        kn_log__ops->unlink(tmp);
        return rc;
    }
    return kn_log__fsync_dir(dir);
}

/* Whole file into a NUL-terminated buffer (caller frees). */
static int read_all(const char *path, char **out, size_t *len) {
    int fd = kn_log__ops->open(path, O_RDONLY, 0);
    if (fd < 0) return errno == ENOENT ? KN_ENOTFOUND : kn_log__errno();
    int64_t sz;
    int rc = kn_log__file_size(fd, &sz);
    if (!rc && sz > CHECKPOINT_MAX_BYTES) rc = KN_ETOOBIG;
    char *buf = NULL;
    size_t got = 0;
    if (!rc) {
        buf = kn_malloc((size_t)sz + 1);
        rc = kn_log__pread_full(fd, buf, (size_t)sz, 0, &got);
        if (!rc) buf[got] = '\0';
    }
    kn_log__ops->close(fd);
    if (rc) {
        kn_free(buf);
        return rc;
    }
    if (memchr(buf, '\0', got)) {
        kn_free(buf);
        return KN_ECORRUPT;
    }
    *out = buf;
    *len = got;
    return 0;
}

int kn_checkpoint_write(const char *path, const kn_checkpoint_entry_t *e, size_t n) {
    size_t cap = 32, len = 0;
    for (size_t i = 0; i < n; i++) cap += strlen(e[i].topic) + 40;
    char *buf = kn_malloc(cap);
    len += (size_t)snprintf(buf + len, cap - len, "0\n%zu\n", n);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s %" PRId32 " %" PRId64 "\n", e[i].topic,
                                e[i].partition, e[i].offset);
    int rc = write_atomic(path, buf, len);
    kn_free(buf);
    return rc;
}

void kn_checkpoint_free(kn_checkpoint_entry_t *e, size_t n) {
    if (!e) return;
    for (size_t i = 0; i < n; i++) kn_free(e[i].topic);
    kn_free(e);
}

/* Next line of *p (without '\n'); NULL at the end. A final line must end
 * with '\n' too: a file cut short is not a valid checkpoint. */
static char *next_line(char **p) {
    char *s = *p, *nl = strchr(s, '\n');
    if (!nl) return NULL;
    *nl = '\0';
    *p = nl + 1;
    return s;
}

static bool parse_i64(const char *s, int64_t *v) {
    char *end;
    if (!*s || (*s != '-' && (*s < '0' || *s > '9'))) return false;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end) return false;
    *v = x;
    return true;
}

int kn_checkpoint_read(const char *path, kn_checkpoint_entry_t **out, size_t *n_out) {
    char *buf, *p, *line;
    size_t len, lineno = 0;
    int64_t ver, count;
    int rc = read_all(path, &buf, &len);
    if (rc) return rc;
    p = buf;
    kn_checkpoint_entry_t *e = NULL;
    size_t n = 0;
    line = next_line(&p);
    lineno++;
    if (!line || !parse_i64(line, &ver) || ver != 0) goto bad;
    line = next_line(&p);
    lineno++;
    /* Each entry line takes at least 6 bytes ("t 0 0\n"): bound the count. */
    if (!line || !parse_i64(line, &count) || count < 0 || count > (int64_t)(len / 6 + 1)) goto bad;
    e = kn_calloc((size_t)count + 1, sizeof(*e));
    for (; n < (size_t)count; n++) {
        line = next_line(&p);
        lineno++;
        if (!line) goto bad;
        char *sp2 = strrchr(line, ' ');
        if (!sp2) goto bad;
        *sp2 = '\0';
        char *sp1 = strrchr(line, ' ');
        if (!sp1 || sp1 == line) goto bad;
        *sp1 = '\0';
        int64_t part, off;
        if (!parse_i64(sp1 + 1, &part) || part < 0 || part > INT32_MAX || !parse_i64(sp2 + 1, &off))
            goto bad;
        if (strchr(line, ' ')) goto bad;
        e[n].topic = kn_strdup(line);
        e[n].partition = (int32_t)part;
        e[n].offset = off;
    }
    if (*p != '\0') {
        lineno++;
        goto bad;
    }
    kn_free(buf);
    *out = e;
    *n_out = n;
    return 0;
bad:
    kn_log(KN_LOG_ERROR, NULL, "%s:%zu: malformed checkpoint file", path, lineno);
    kn_checkpoint_free(e, n);
    kn_free(buf);
    return KN_ECORRUPT;
}

/* ---- Uuid text (Kafka: unpadded base64url of the 16 bytes) ---- */
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void kn_uuid_to_base64(const kn_uuid_t *u, char out[23]) {
    size_t o = 0;
    for (size_t i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)u->b[i] << 16;
        if (i + 1 < 16) v |= (uint32_t)u->b[i + 1] << 8;
        if (i + 2 < 16) v |= u->b[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        if (i + 1 < 16) out[o++] = b64[(v >> 6) & 63];
        if (i + 2 < 16) out[o++] = b64[v & 63];
    }
    out[o] = '\0';
}

int kn_uuid_from_base64(const char *s, size_t len, kn_uuid_t *u) {
    if (len != 22) return KN_EINVAL;
    uint8_t tmp[24];
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *c = memchr(b64, s[i], 64);
        if (!c || !s[i]) return KN_EINVAL;
        acc = (acc << 6) | (uint32_t)(c - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            tmp[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (o != 16 || (acc & ((1u << bits) - 1))) return KN_EINVAL; /* non-canonical tail */
    memcpy(u->b, tmp, 16);
    return 0;
}

int kn_partition_metadata_write(const char *dir, const kn_uuid_t *topic_id) {
    char path[4200], id[23], text[64];
    snprintf(path, sizeof(path), "%s/%s", dir, KN_PARTITION_METADATA_FILE);
    kn_uuid_to_base64(topic_id, id);
    int n = snprintf(text, sizeof(text), "version: 0\ntopic_id: %s\n", id);
    return write_atomic(path, text, (size_t)n);
}

int kn_partition_metadata_read(const char *dir, kn_uuid_t *topic_id) {
    char path[4200], *buf, *p, *line;
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", dir, KN_PARTITION_METADATA_FILE);
    int rc = read_all(path, &buf, &len);
    if (rc) return rc;
    p = buf;
    rc = KN_ECORRUPT;
    line = next_line(&p);
    if (line && !strcmp(line, "version: 0")) {
        line = next_line(&p);
        if (line && !strncmp(line, "topic_id: ", 10) &&
            kn_uuid_from_base64(line + 10, strlen(line + 10), topic_id) == 0)
            rc = 0;
    }
    if (rc) kn_log(KN_LOG_ERROR, NULL, "%s: malformed partition metadata", path);
    kn_free(buf);
    return rc;
}

int kn_clean_shutdown_create(const char *logdir) {
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", logdir, KN_CLEAN_SHUTDOWN_FILE);
    return write_atomic(path, "", 0);
}

bool kn_clean_shutdown_exists(const char *logdir) {
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", logdir, KN_CLEAN_SHUTDOWN_FILE);
    int fd = kn_log__ops->open(path, O_RDONLY, 0);
    if (fd < 0) return false;
    kn_log__ops->close(fd);
    return true;
}

int kn_clean_shutdown_remove(const char *logdir) {
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", logdir, KN_CLEAN_SHUTDOWN_FILE);
    if (kn_log__ops->unlink(path) < 0) return errno == ENOENT ? 0 : kn_log__errno();
    return kn_log__fsync_dir(logdir);
}
