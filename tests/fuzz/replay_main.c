/*
 * Replays inputs through LLVMFuzzerTestOneInput without libFuzzer, e.g. to
 * run a corpus under plain sanitizers or a debugger:
 *
 *   replay_json tests/fuzz/corpus/json crash-1234
 *
 * Arguments are files or directories (whose regular files are all run).
 * "--mutations=N" (first) also runs N mutated copies of each input, from a
 * fixed seed: a deterministic stand-in for fuzzing where a target cannot be
 * built with libFuzzer (the plan reader links the whole library).
 * Exits non-zero if an argument cannot be read.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long mutations;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull; /* fixed: the same runs every time */

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Run the input exactly, in an allocation of its own size (a sanitizer
 * then catches reads past it, as libFuzzer's buffers would). */
static int run_exact(const uint8_t *data, size_t len)
{
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact)
        return -1;
    memcpy(exact, data, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

/* One to four edits of the kinds that break structured text: a byte
 * changed, a span deleted or repeated, a cut, a digit run lengthened.
 * Each edit adds at most 16 bytes: out holds len + 256. */
static size_t mutate(const uint8_t *in, size_t len, uint8_t *out)
{
    memcpy(out, in, len);
    int edits = 1 + (int)(rng() % 4);
    for (int e = 0; e < edits && len > 0; e++) {
        size_t at = (size_t)(rng() % len), span = 1 + (size_t)(rng() % 16);
        if (span > len - at)
            span = len - at;
        switch (rng() % 5) {
        case 0: out[at] = (uint8_t)rng(); break;
        case 1: memmove(out + at, out + at + span, len - at - span); len -= span; break;
        case 2: memmove(out + at + span, out + at, len - at); len += span; break;
        case 3: len = at; break;
        default:
            if (out[at] >= '0' && out[at] <= '9') {
                memmove(out + at + 6, out + at, len - at);
                memcpy(out + at, "999999", 6);
                len += 6;
            }
        }
    }
    return len;
}

/* Run one file; returns 0, or -1 if it could not be read. */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        fprintf(stderr, "%s: out of memory\n", path);
        return -1;
    }
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                fclose(f);
                fprintf(stderr, "%s: out of memory\n", path);
                return -1;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int read_error = ferror(f);
    fclose(f);
    if (read_error) {
        free(buf);
        fprintf(stderr, "%s: read error\n", path);
        return -1;
    }
    int err = run_exact(buf, len);
    uint8_t *m = mutations > 0 ? malloc(len + 256) : NULL;
    for (long i = 0; err == 0 && m && i < mutations; i++)
        err = run_exact(m, mutate(buf, len, m));
    if (mutations > 0 && !m)
        err = -1;
    free(m);
    free(buf);
    if (err < 0)
        fprintf(stderr, "%s: out of memory\n", path);
    return err;
}

int main(int argc, char **argv)
{
    int failed = 0;
    long runs = 0;
    int first = 1;
    if (argc > 1 && strncmp(argv[1], "--mutations=", 12) == 0) {
        mutations = strtol(argv[1] + 12, NULL, 10);
        first = 2;
    }
    for (int i = first; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            failed = 1;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            failed |= run_file(argv[i]) < 0;
            runs++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) {
            perror(argv[i]);
            failed = 1;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            size_t plen = strlen(argv[i]) + strlen(e->d_name) + 2;
            char *path = malloc(plen);
            if (!path) {
                failed = 1;
                break;
            }
            snprintf(path, plen, "%s/%s", argv[i], e->d_name);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                failed |= run_file(path) < 0;
                runs++;
            }
            free(path);
        }
        closedir(d);
    }
    fprintf(stderr, "replayed %ld inputs, %ld mutations of each%s\n", runs, mutations,
            failed ? " (some could not be read)" : "");
    return failed;
}
