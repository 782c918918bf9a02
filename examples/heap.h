/*
 * Process-wide heap settings for the programs that run models (vsr-cli,
 * vsr-infer-bench). libvsr itself leaves malloc alone: these
 * are the application's to choose, and an embedding application may want
 * the same (docs/guide.md, "Memory").
 */
#ifndef VSR_APP_HEAP_H
#define VSR_APP_HEAP_H

/* libtorch allocates each layer's output afresh. By default glibc serves
 * blocks over 128 KB with mmap and unmaps them on free (or trims the heap
 * top), so every layer's output is page-faulted and zeroed anew: measured
 * here, realesr-animevideov3 in bf16 at 320x180 ran a pass in 0.28 s that
 * way and in 0.19 s with blocks of up to 32 MB (glibc's largest threshold)
 * kept in the heap and up to 128 MB of free heap kept mapped (1 GB was no
 * faster, and let peak memory creep up over long runs). */
void app_keep_large_blocks(void);

#endif
