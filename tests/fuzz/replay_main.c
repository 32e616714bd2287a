/* Replays fuzz inputs as a regression test: every file under the given
 * directories (or files) goes through LLVMFuzzerTestOneInput once. Built with
 * gcc + ASan/UBSan in CTest; the same target links with libFuzzer under clang
 * (scripts/fuzz.sh). Prints "N passed, 0 failed" - a crash aborts the run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    size_t got = fread(buf, 1, (size_t)(n > 0 ? n : 0), f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, got);
    /* Every prefix too: truncated frames are the commonest bad input. */
    for (size_t cut = 0; cut < got && cut < 512; cut++) LLVMFuzzerTestOneInput(buf, cut);
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    int passed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: not found\n", argv[i]);
            printf("%d passed, 1 failed\n", passed);
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *de;
            while (d && (de = readdir(d)) != NULL) {
                if (de->d_name[0] == '.') continue;
                char p[4096];
                snprintf(p, sizeof(p), "%s/%s", argv[i], de->d_name);
                if (run_file(p) == 0) passed++;
            }
            if (d) closedir(d);
        } else if (run_file(argv[i]) == 0) {
            passed++;
        }
    }
    printf("%d passed, 0 failed\n", passed);
    return passed > 0 ? 0 : 1;
}
