/* Leader-epoch cache (see include/kanal/log/epoch.h). */
#include "kanal/log/epoch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"

#define KN_EPOCH_FILE "leader-epoch-checkpoint"

static void push(kn_epoch_cache_t *c, int32_t epoch, int64_t off) {
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->e = kn_realloc(c->e, c->cap * sizeof(*c->e));
    }
    c->e[c->n].epoch = epoch;
    c->e[c->n].start_offset = off;
    c->n++;
}

static int persist(kn_epoch_cache_t *c) {
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", c->path);
    int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return kn_err_from_errno(errno);
    char *buf = kn_malloc(64 + c->n * 48);
    int len = sprintf(buf, "0\n%zu\n", c->n);
    for (size_t i = 0; i < c->n; i++)
        len += sprintf(buf + len, "%d %" PRId64 "\n", c->e[i].epoch, c->e[i].start_offset);
    ssize_t w = write(fd, buf, (size_t)len);
    kn_free(buf);
    int rc = 0;
    if (w != len || fsync(fd) != 0) rc = kn_err_from_errno(errno ? errno : EIO);
    close(fd);
    if (rc == 0 && rename(tmp, c->path) != 0) rc = kn_err_from_errno(errno);
    if (rc) kn_log(KN_LOG_ERROR, NULL, "cannot write %s: %s", c->path, kn_strerror(rc));
    return rc;
}

int kn_epoch_cache_open(kn_epoch_cache_t *c, const char *dir, int64_t log_end) {
    memset(c, 0, sizeof(*c));
    size_t n = strlen(dir) + sizeof(KN_EPOCH_FILE) + 2;
    c->path = kn_malloc(n);
    snprintf(c->path, n, "%s/%s", dir, KN_EPOCH_FILE);
    FILE *f = fopen(c->path, "r");
    if (!f) return 0;
    int version = -1;
    long count = -1;
    bool dropped = false;
    if (fscanf(f, "%d\n%ld\n", &version, &count) == 2 && version == 0 && count >= 0) {
        for (long i = 0; i < count; i++) {
            int32_t ep;
            int64_t off;
            if (fscanf(f, "%" SCNd32 " %" SCNd64 "\n", &ep, &off) != 2) break;
            if (off > log_end) {
                dropped = true;
                continue;
            }
            if (c->n > 0 && (ep <= c->e[c->n - 1].epoch || off < c->e[c->n - 1].start_offset)) continue;
            push(c, ep, off);
        }
    } else {
        kn_log(KN_LOG_WARN, NULL, "%s is malformed; starting an empty leader-epoch cache", c->path);
    }
    fclose(f);
    if (dropped) persist(c);
    return 0;
}

void kn_epoch_cache_close(kn_epoch_cache_t *c) {
    kn_free(c->path);
    kn_free(c->e);
    memset(c, 0, sizeof(*c));
}

int kn_epoch_cache_assign(kn_epoch_cache_t *c, int32_t epoch, int64_t offset) {
    if (epoch < 0) return 0;
    if (c->n > 0) {
        kn_epoch_entry_t *last = &c->e[c->n - 1];
        if (epoch <= last->epoch) return 0;
        if (offset < last->start_offset) return KN_EINVAL;
    }
    push(c, epoch, offset);
    return persist(c);
}

int32_t kn_epoch_cache_latest(const kn_epoch_cache_t *c) { return c->n ? c->e[c->n - 1].epoch : -1; }

void kn_epoch_cache_end_offset(const kn_epoch_cache_t *c, int32_t epoch, int64_t log_end, int32_t *found_epoch,
                               int64_t *end_offset) {
    *found_epoch = -1;
    *end_offset = -1;
    if (c->n == 0) return;
    if (epoch >= c->e[c->n - 1].epoch) {
        /* The latest epoch (or newer: ours is what there is). */
        *found_epoch = c->e[c->n - 1].epoch;
        *end_offset = log_end;
        return;
    }
    /* Largest entry with epoch <= requested. */
    ssize_t i = (ssize_t)c->n - 1;
    while (i >= 0 && c->e[i].epoch > epoch) i--;
    if (i < 0) return; /* older than everything we know */
    *found_epoch = c->e[i].epoch;
    *end_offset = c->e[i + 1].start_offset;
}

int kn_epoch_cache_truncate_from(kn_epoch_cache_t *c, int64_t offset) {
    size_t n = c->n;
    while (c->n > 0 && c->e[c->n - 1].start_offset >= offset) c->n--;
    return n != c->n ? persist(c) : 0;
}

int kn_epoch_cache_clear(kn_epoch_cache_t *c) {
    if (c->n == 0) return 0;
    c->n = 0;
    return persist(c);
}
