#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"

void app_keep_large_blocks(void)
{
    /* VSR_HEAP=default keeps glibc's settings: the A/B switch of
     * bench/fast-ops */
    const char *choice = getenv("VSR_HEAP");
    if (choice && strcmp(choice, "default") == 0)
        return;
#ifdef M_MMAP_THRESHOLD
    /* failure leaves glibc's defaults: slower, not wrong */
    (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
    (void)mallopt(M_TRIM_THRESHOLD, 128 << 20);
#endif
}
