/*
 * Quality against a reference video: PSNR and SSIM per frame (kept up to
 * QUALITY_FRAMES_MAX entries) and their means and minima over every frame.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quality.h"
#include "tracker_private.h"

/* Per-frame quality entries kept (the statistics cover every frame). */
#define QUALITY_FRAMES_MAX (1 << 20)

void vsri_tracker_clear_quality(vsr_tracker *t)
{
    free(t->quality.list);
    memset(&t->quality, 0, sizeof(t->quality));
    t->quality.psnr_min = t->quality.ssim_min = NAN;
}

int vsr_tracker_record_quality(vsr_tracker *t, int64_t frame_index, double psnr_db, double ssim)
{
    if (!t)
        return vsri_error(VSR_EINVAL, "vsr_tracker_record_quality: tracker is NULL");
    /* See VSRI_PSNR_CAP_DB: identical frames give +inf, stored as the cap. */
    if (psnr_db > VSRI_PSNR_CAP_DB)
        psnr_db = VSRI_PSNR_CAP_DB;
    pthread_mutex_lock(&t->lock);
    if (t->quality.n_list < QUALITY_FRAMES_MAX) {
        if (t->quality.n_list == t->quality.cap_list) {
            int64_t cap = t->quality.cap_list ? t->quality.cap_list * 2 : 256;
            vsri_quality_frame *l = realloc(t->quality.list, (size_t)cap * sizeof(*l));
            if (!l) {
                pthread_mutex_unlock(&t->lock);
                return vsri_error(VSR_ENOMEM, "tracker: out of memory for frame quality");
            }
            t->quality.list = l;
            t->quality.cap_list = cap;
        }
        t->quality.list[t->quality.n_list++] = (vsri_quality_frame){frame_index, psnr_db, ssim};
    } else {
        t->quality.truncated = 1;
    }
    /* NaN means "not measured" and stays out of the means and minima. */
    t->quality.frames++;
    if (!isnan(psnr_db)) {
        t->quality.psnr_sum += psnr_db;
        if (t->quality.psnr_n == 0 || psnr_db < t->quality.psnr_min)
            t->quality.psnr_min = psnr_db;
        t->quality.psnr_n++;
    }
    if (!isnan(ssim)) {
        t->quality.ssim_sum += ssim;
        if (t->quality.ssim_n == 0 || ssim < t->quality.ssim_min)
            t->quality.ssim_min = ssim;
        t->quality.ssim_n++;
    }
    pthread_mutex_unlock(&t->lock);
    return 0;
}

void vsri_tracker_quality_locked(vsr_tracker *t, vsr_quality_stats *q)
{
    memset(q, 0, sizeof(*q));
    q->size = sizeof(*q);
    q->frames = t->quality.frames;
    q->psnr_mean = t->quality.psnr_n ? t->quality.psnr_sum / (double)t->quality.psnr_n : NAN;
    q->psnr_min = t->quality.psnr_n ? t->quality.psnr_min : NAN;
    q->ssim_mean = t->quality.ssim_n ? t->quality.ssim_sum / (double)t->quality.ssim_n : NAN;
    q->ssim_min = t->quality.ssim_n ? t->quality.ssim_min : NAN;
}

int vsr_tracker_get_quality(vsr_tracker *t, vsr_quality_stats *out)
{
    if (!t || !out)
        return vsri_error(VSR_EINVAL, "vsr_tracker_get_quality: %s is NULL", t ? "out" : "tracker");
    vsr_quality_stats q;
    pthread_mutex_lock(&t->lock);
    vsri_tracker_quality_locked(t, &q);
    pthread_mutex_unlock(&t->lock);
    return vsri_result_out(out, &q, sizeof(q), "vsr_tracker_get_quality");
}
