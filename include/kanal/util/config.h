/* Generic reader for Java-properties files (Kafka's server.properties syntax,
 * as java.util.Properties reads it). Knows nothing about which keys exist; the
 * broker's key table lives in kanal/broker/config.h.
 *
 * Syntax accepted:
 *   - one entry per logical line: key=value, key: value or key value; the key
 *     ends at the first unescaped '=', ':' or whitespace; whitespace around key
 *     and value is trimmed;
 *   - lines whose first non-blank character is '#' or '!' are comments; a '#'
 *     later in a line is part of the value (as in Java);
 *   - a line ending in an odd number of backslashes continues on the next line
 *     (leading blanks of the continuation are dropped);
 *   - escapes \t \n \r \f \uXXXX (written out as UTF-8) and \<any> = <any>.
 * Runs anywhere (no globals, no logging). */
#ifndef KANAL_UTIL_CONFIG_H
#define KANAL_UTIL_CONFIG_H

#include <stddef.h>

typedef struct kn_kv_s {
    char *key;
    char *value;
    char *file; /* name given to the parser (path, or e.g. "--override") */
    int line;   /* 1-based line where the entry starts */
} kn_kv_t;

/* Largest file kn_props_parse_file reads (a config file, not data). */
#define KN_PROPS_MAX_FILE (4u * 1024u * 1024u)

/* Parse the file at path. On success *out is an array of *n entries in file
 * order (a key may repeat; later wins is the caller's rule), caller frees with
 * kn_props_free. On failure returns KN_ENOTFOUND (no such file), KN_EIO,
 * KN_ETOOBIG or KN_EINVAL (syntax, with "file:line: ..." in err) and sets
 * *out = NULL, *n = 0. */
int kn_props_parse_file(const char *path, kn_kv_t **out, size_t *n, char *err, size_t errsz);

/* Same for a NUL-terminated string; name is what kn_kv_t.file and error
 * messages will say (NULL: "<string>"). */
int kn_props_parse_string(const char *text, const char *name, kn_kv_t **out, size_t *n, char *err,
                          size_t errsz);

/* Same for len bytes that may contain anything (fuzzing). A NUL byte is a
 * syntax error. */
int kn_props_parse_buf(const void *data, size_t len, const char *name, kn_kv_t **out, size_t *n,
                       char *err, size_t errsz);

void kn_props_free(kn_kv_t *kv, size_t n);

/* Edit distance (insert, delete, substitute = 1 each) between two strings,
 * for "did you mean" suggestions. */
size_t kn_levenshtein(const char *a, const char *b);

#endif
