/* Minimal test helpers: CHECK records a failure and goes on; a test
 * program returns test_result() (non-zero if anything failed, 77 = skip). */
#ifndef VSR_TESTUTIL_H
#define VSR_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        test_checks++;                                                               \
        if (!(cond)) {                                                               \
            test_failures++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        test_checks++;                                                               \
        if (!(cond)) {                                                               \
            test_failures++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                      \
    do {                                                                                        \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                   \
        test_checks++;                                                                          \
        if (va_ != vb_) {                                                                       \
            test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, \
                    #a, #b, va_, vb_);                                                          \
        }                                                                                       \
    } while (0)

/* Directory from an environment variable set by tests/meson.build. */
static inline const char *test_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "environment variable %s is not set (run through meson test)\n", name);
        exit(1);
    }
    return v;
}

/* NAME inside the directory that environment variable DIR_ENV names. The
 * result lives in one of 8 rotating buffers: use it before 8 more calls. */
static inline const char *test_path(const char *dir_env, const char *name)
{
    static char bufs[8][1024];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 1024, "%s/%s", test_env(dir_env), name);
    return b;
}

static inline const char *test_data(const char *name)
{
    return test_path("VSR_TEST_DATA", name);
}

static inline const char *test_model(const char *name)
{
    return test_path("VSR_TEST_MODELS", name);
}

/* The converted realesr-animevideov3-x2 (its own buffer: tests keep it). */
static inline const char *test_real_model(void)
{
    static char b[1024];
    snprintf(b, sizeof(b), "%s/realesr-animevideov3-x2.pt", test_env("VSR_MODELS_DIR"));
    return b;
}

/* A scratch directory per test program: test_tmpdir_make("name") makes
 * /tmp/vsr-test-name-XXXXXX, test_tmp_file() names a file in it (16
 * rotating buffers, so several names can be live at once), and
 * test_tmpdir_remove() deletes it, read-only parts included. */
static char test_tmpdir[256];

static inline int test_tmpdir_make(const char *name)
{
    snprintf(test_tmpdir, sizeof(test_tmpdir), "/tmp/vsr-test-%s-XXXXXX", name);
    if (!mkdtemp(test_tmpdir)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

static inline const char *test_tmp_file(const char *name)
{
    static char bufs[16][1024];
    static int next;
    char *b = bufs[next++ % 16];
    snprintf(b, 1024, "%s/%s", test_tmpdir, name);
    return b;
}

static inline void test_tmpdir_remove(void)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s'; rm -rf '%s'", test_tmpdir, test_tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", test_tmpdir);
}

static inline int test_result(const char *name)
{
    fprintf(stderr, "%s: %d checks, %d failed\n", name, test_checks, test_failures);
    return test_failures ? 1 : 0;
}

#endif
