/* Java-properties reader: see include/kanal/util/config.h for the syntax. */
#include "kanal/util/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "kanal/util/err.h"
#include "kanal/util/mem.h"

/* Growable byte string for one logical line or one decoded token. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf_t;

static void sb_put(sbuf_t *b, char c) {
    if (b->len + 1 >= b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->p = kn_realloc(b->p, b->cap);
    }
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
}

static void seterr(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errsz, const char *fmt, ...) {
    if (!err || errsz == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\f'; }

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void put_utf8(sbuf_t *b, unsigned cp) {
    if (cp < 0x80) {
        sb_put(b, (char)cp);
    } else if (cp < 0x800) {
        sb_put(b, (char)(0xc0 | (cp >> 6)));
        sb_put(b, (char)(0x80 | (cp & 0x3f)));
    } else {
        sb_put(b, (char)(0xe0 | (cp >> 12)));
        sb_put(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        sb_put(b, (char)(0x80 | (cp & 0x3f)));
    }
}

/* Decode one escape starting after the backslash at s[*i]; advances *i past
 * it. Returns false on a malformed \u sequence. */
static bool decode_escape(const char *s, size_t len, size_t *i, sbuf_t *out) {
    if (*i >= len) return true; /* lone trailing backslash: dropped, as Java does */
    char c = s[(*i)++];
    switch (c) {
    case 't': sb_put(out, '\t'); return true;
    case 'n': sb_put(out, '\n'); return true;
    case 'r': sb_put(out, '\r'); return true;
    case 'f': sb_put(out, '\f'); return true;
    case 'u': {
        unsigned cp = 0;
        for (int k = 0; k < 4; k++) {
            int h = *i < len ? hexval(s[*i]) : -1;
            if (h < 0) return false;
            cp = cp * 16 + (unsigned)h;
            (*i)++;
        }
        if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff)) return false; /* NUL or lone surrogate */
        put_utf8(out, cp);
        return true;
    }
    default: sb_put(out, c); return true;
    }
}

typedef struct {
    kn_kv_t *v;
    size_t n, cap;
} kvvec_t;

/* Split one logical line (continuations already joined, leading blanks
 * removed, not a comment) into key and value. */
static int split_entry(const char *s, size_t len, const char *name, int line, kvvec_t *vec,
                       char *err, size_t errsz) {
    sbuf_t key = {0}, val = {0};
    size_t i = 0;
    while (i < len) {
        char c = s[i];
        if (c == '=' || c == ':' || is_blank(c)) break;
        i++;
        if (c == '\\') {
            if (!decode_escape(s, len, &i, &key)) goto bad_u;
        } else {
            sb_put(&key, c);
        }
    }
    if (key.len == 0) {
        seterr(err, errsz, "%s:%d: empty config key", name, line);
        kn_free(key.p);
        return KN_EINVAL;
    }
    while (i < len && is_blank(s[i])) i++;
    if (i < len && (s[i] == '=' || s[i] == ':')) {
        i++;
        while (i < len && is_blank(s[i])) i++;
    }
    size_t keep = 0; /* value length up to the last non-blank or escaped char */
    while (i < len) {
        char c = s[i++];
        if (c == '\\') {
            if (!decode_escape(s, len, &i, &val)) goto bad_u;
            keep = val.len;
        } else {
            sb_put(&val, c);
            if (!is_blank(c)) keep = val.len;
        }
    }
    if (vec->n == vec->cap) {
        vec->cap = vec->cap ? vec->cap * 2 : 16;
        vec->v = kn_realloc(vec->v, vec->cap * sizeof(*vec->v));
    }
    kn_kv_t *kv = &vec->v[vec->n++];
    kv->key = key.p;
    kv->value = kn_strndup(val.p ? val.p : "", keep);
    kv->file = kn_strdup(name);
    kv->line = line;
    kn_free(val.p);
    return 0;
bad_u:
    seterr(err, errsz, "%s:%d: malformed \\uXXXX escape", name, line);
    kn_free(key.p);
    kn_free(val.p);
    return KN_EINVAL;
}

int kn_props_parse_buf(const void *data, size_t len, const char *name, kn_kv_t **out, size_t *n,
                       char *err, size_t errsz) {
    const char *s = data;
    kvvec_t vec = {0};
    sbuf_t logical = {0};
    size_t i = 0;
    int line = 1;
    int rc = 0;

    if (!name) name = "<string>";
    *out = NULL;
    *n = 0;
    if (err && errsz) err[0] = '\0';
    if (len > 0 && memchr(s, '\0', len)) {
        const char *z = memchr(s, '\0', len);
        int zl = 1;
        for (const char *p = s; p < z; p++)
            if (*p == '\n') zl++;
        seterr(err, errsz, "%s:%d: NUL byte in config text", name, zl);
        return KN_EINVAL;
    }
    while (i < len) {
        /* Start of a logical line. */
        int start_line = line;
        while (i < len && is_blank(s[i])) i++;
        if (i >= len) break;
        if (s[i] == '\n' || s[i] == '\r') {
            if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n') i++;
            i++;
            line++;
            continue;
        }
        if (s[i] == '#' || s[i] == '!') {
            while (i < len && s[i] != '\n' && s[i] != '\r') i++;
            continue; /* the newline is consumed above on the next turn */
        }
        logical.len = 0;
        for (;;) {
            size_t st = i;
            while (i < len && s[i] != '\n' && s[i] != '\r') i++;
            size_t end = i, bs = 0;
            while (end - bs > st && s[end - bs - 1] == '\\') bs++;
            bool cont = (bs % 2) == 1;
            size_t take = (end - st) - (cont ? 1 : 0);
            for (size_t k = 0; k < take; k++) sb_put(&logical, s[st + k]);
            if (i < len) { /* consume the line end */
                if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n') i++;
                i++;
                line++;
            }
            if (!cont || i >= len) break;
            while (i < len && is_blank(s[i])) i++;
        }
        rc = split_entry(logical.p ? logical.p : "", logical.len, name, start_line, &vec, err, errsz);
        if (rc) break;
    }
    kn_free(logical.p);
    if (rc) {
        kn_props_free(vec.v, vec.n);
        return rc;
    }
    *out = vec.v;
    *n = vec.n;
    return 0;
}

int kn_props_parse_string(const char *text, const char *name, kn_kv_t **out, size_t *n, char *err,
                          size_t errsz) {
    return kn_props_parse_buf(text, strlen(text), name, out, n, err, errsz);
}

int kn_props_parse_file(const char *path, kn_kv_t **out, size_t *n, char *err, size_t errsz) {
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        seterr(err, errsz, "cannot open config file %s: %s", path, strerror(e));
        return e == ENOENT ? KN_ENOTFOUND : KN_EIO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        seterr(err, errsz, "cannot read config file %s: is a directory", path);
        return KN_EIO;
    }
    sbuf_t buf = {0};
    char chunk[4096];
    size_t got;
    int rc = 0;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (buf.len + got > KN_PROPS_MAX_FILE) {
            seterr(err, errsz, "config file %s is larger than %u bytes", path, KN_PROPS_MAX_FILE);
            rc = KN_ETOOBIG;
            break;
        }
        if (buf.len + got + 1 > buf.cap) {
            buf.cap = (buf.len + got + 1) * 2;
            buf.p = kn_realloc(buf.p, buf.cap);
        }
        memcpy(buf.p + buf.len, chunk, got);
        buf.len += got;
    }
    if (!rc && ferror(f)) {
        seterr(err, errsz, "cannot read config file %s: %s", path, strerror(errno));
        rc = KN_EIO;
    }
    fclose(f);
    if (!rc) rc = kn_props_parse_buf(buf.p ? buf.p : "", buf.len, path, out, n, err, errsz);
    kn_free(buf.p);
    return rc;
}

void kn_props_free(kn_kv_t *kv, size_t n) {
    if (!kv) return;
    for (size_t i = 0; i < n; i++) {
        kn_free(kv[i].key);
        kn_free(kv[i].value);
        kn_free(kv[i].file);
    }
    kn_free(kv);
}

size_t kn_levenshtein(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = kn_malloc((lb + 1) * sizeof(*row));
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0]; /* row[i-1][j-1] */
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[lb];
    kn_free(row);
    return d;
}
