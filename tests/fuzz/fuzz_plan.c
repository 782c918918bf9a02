/*
 * Fuzz target for the scale-out plan reader (lib/job_plan.c, through
 * jansson): any bytes must give either an error whose message names the
 * plan, or a plan whose segments are consistent with its index: contiguous
 * from frame 0 to the last frame, each feeding at least its own frames from
 * a seek point at or before its feed, with the index's pts at its ends.
 * Workers trust a plan they read, so whatever it accepts must be safe to
 * run. The bytes are read as a file (memfd), as workers read plans.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "job_internal.h"
#include "seek.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, long long k)
{
    fprintf(stderr, "plan invariant broken: %s (segment %lld)\n", what, k);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-plan", 0);
    if (fd < 0)
        return 0;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            close(fd);
            return 0;
        }
        done += (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    vsri_plan *p = NULL;
    int err = vsri_plan_read(&p, path);
    close(fd);
    if (err < 0) {
        if (p)
            fail("a plan returned with an error", -1);
        if (!strstr(vsr_last_error(), "plan"))
            fail(vsr_last_error(), -1);
        return 0;
    }
    const vsri_index *ix = p->index;
    if (!ix || ix->frames < 1 || p->n_seg < 1 || p->n_seg > ix->frames)
        fail("index or segment count", p->n_seg);
    int64_t next = 0;
    for (int64_t k = 0; k < p->n_seg; k++) {
        const vsri_plan_segment *s = &p->seg[k];
        if (s->first != next || s->frames < 1 || s->first + s->frames > ix->frames)
            fail("segments not contiguous within the index", k);
        if (s->seek_frame < 0 || s->seek_frame > s->feed_first || s->feed_first > s->first ||
            s->feed_end < s->first + s->frames || s->feed_end > ix->frames)
            fail("feed or seek outside the segment's needs", k);
        if (s->first_pts != ix->pts[s->first] || s->last_pts != ix->pts[s->first + s->frames - 1])
            fail("pts differ from the index", k);
        next = s->first + s->frames;
    }
    if (next != ix->frames)
        fail("segments end before the index", p->n_seg);
    if (p->scale < 1 || p->scale > 16 || p->stitch == VSR_STITCH_AUTO || !p->output || p->output[0] != '/')
        fail("model scale, stitch mode or output", -1);
    vsri_plan_free(&p);
    return 0;
}
