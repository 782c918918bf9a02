/*
 * Fuzz target: vsr-cli's command-line parsing (examples/vsr-cli.c built
 * without main) and the size/number parsers of examples/cli_options.c.
 * The input is split at NUL and newline bytes into argv words.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"

typedef struct cli cli;
int vsr_cli_parse(cli *c, int argc, char **argv, char *err, size_t errlen);

/* larger than vsr-cli's struct cli, whatever its exact size */
static _Alignas(16) unsigned char cli_storage[16384];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *buf = malloc(size + 1);
    char **argv = malloc(sizeof(char *) * (size + 3)); /* argv[0], up to size+1 words, NULL */
    if (!buf || !argv) {
        free(buf);
        free(argv);
        return 0;
    }
    memcpy(buf, data, size);
    buf[size] = 0;
    int argc = 0;
    argv[argc++] = "vsr-cli";
    char *p = buf;
    for (size_t i = 0; i <= size; i++) {
        if (buf[i] == '\n' || buf[i] == 0) {
            buf[i] = 0;
            argv[argc++] = p;
            p = buf + i + 1;
        }
    }
    argv[argc] = NULL;
    char err[512];
    /* --help and --version print and return 1; that is fine here */
    vsr_cli_parse((cli *)cli_storage, argc, argv, err, sizeof(err));
    int64_t v;
    int choice;
    static const char *const names[] = {"auto", "fp32", "bf16", "fp16"};
    for (int i = 1; i < argc; i++) {
        cli_parse_size("--mem-limit", argv[i], &v, err, sizeof(err));
        cli_parse_int("--batch", argv[i], 1, 256, &(int64_t){-1}, &v, err, sizeof(err));
        cli_parse_choice("--precision", argv[i], names, 4, &choice, err, sizeof(err));
    }
    free(buf);
    free(argv);
    return 0;
}
