/*
 * Operations of the caller's (and libvsr's runs): begun, updated while in
 * flight, ended into a record. Operations in flight are in a list on the
 * tracker, so they can be listed and every resource reading can raise
 * their memory peaks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tracker_private.h"

static void fold_reading(vsr_op *op, const vsri_reading *r)
{
    vsr_op_record *rec = &op->rec;
    if (r->rss > rec->peak_rss_bytes)
        rec->peak_rss_bytes = r->rss;
    /* A kernel high-water mark above the one at begin is a new high of
     * the process, reached while this operation ran. */
    if (op->hwm_begin >= 0 && r->hwm > op->hwm_begin && r->hwm > rec->peak_rss_bytes)
        rec->peak_rss_bytes = r->hwm;
    if (r->have_device) {
        if (r->device_used > rec->peak_device_bytes)
            rec->peak_device_bytes = r->device_used;
        /* likewise the device allocator's peak, when it was known at begin */
        if (op->device_peak_begin >= 0 && r->device_peak > op->device_peak_begin &&
            r->device_peak > rec->peak_device_bytes)
            rec->peak_device_bytes = r->device_peak;
    }
}

void vsri_ops_apply_reading(vsr_tracker *t, const vsri_reading *r)
{
    for (vsr_op *op = t->ops_first; op; op = op->next)
        fold_reading(op, r);
}

static void unlink_op(vsr_tracker *t, vsr_op *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        t->ops_first = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else
        t->ops_last = op->prev;
    op->prev = op->next = NULL;
    t->n_ops--;
}

static void free_op(vsr_op *op)
{
    free(op->type);
    free(op->strategy);
    vsri_kvlist_free(&op->meta);
    vsr_tracker_unref(&op->t);
    free(op);
}

int vsr_op_begin(vsr_tracker *t, const char *type, const char *strategy, vsr_op **out)
{
    if (!out)
        return vsri_error(VSR_EINVAL, "vsr_op_begin: out is NULL");
    *out = NULL;
    if (!t)
        return vsri_error(VSR_EINVAL, "vsr_op_begin: tracker is NULL");
    int err = vsri_check_op_name(type, 1, "type", "vsr_op_begin");
    if (err == 0)
        err = vsri_check_op_name(strategy, 0, "strategy", "vsr_op_begin");
    if (err < 0)
        return err;
    vsr_op *op = calloc(1, sizeof(*op));
    if (op) {
        op->type = strdup(type);
        op->strategy = strategy ? strdup(strategy) : NULL;
    }
    if (!op || !op->type || (strategy && !op->strategy)) {
        if (op) {
            free(op->type);
            free(op->strategy);
            free(op);
        }
        return vsri_error(VSR_ENOMEM, "vsr_op_begin: out of memory for a '%.60s' operation", type);
    }
    vsr_op_record *rec = &op->rec;
    rec->size = sizeof(*rec);
    rec->type = op->type;
    rec->strategy = op->strategy;
    rec->quality = NAN;
    rec->peak_rss_bytes = rec->peak_device_bytes = -1;

    /* The reading first, so its cost is not the operation's. */
    vsri_reading r;
    vsri_tracker_read(t, &r);
    op->hwm_begin = r.hwm;
    op->device_peak_begin = r.have_device ? r.device_peak : -1;
    op->t = vsr_tracker_ref(t);
    rec->start_ns = vsri_now_ns();

    pthread_mutex_lock(&t->lock);
    rec->id = t->next_op_id++;
    op->prev = t->ops_last;
    if (t->ops_last)
        t->ops_last->next = op;
    else
        t->ops_first = op;
    t->ops_last = op;
    t->n_ops++;
    vsri_tracker_apply_reading(t, &r, 0);
    pthread_mutex_unlock(&t->lock);
    *out = op;
    return 0;
}

int vsr_op_set_frames(vsr_op *op, int64_t frames)
{
    if (!op || frames < 0)
        return vsri_error(VSR_EINVAL, "vsr_op_set_frames: %s", !op ? "op is NULL" : "frames is negative");
    pthread_mutex_lock(&op->t->lock);
    op->rec.frames = frames;
    pthread_mutex_unlock(&op->t->lock);
    return 0;
}

int vsr_op_set_resolution(vsr_op *op, int in_w, int in_h, int out_w, int out_h)
{
    if (!op)
        return vsri_error(VSR_EINVAL, "vsr_op_set_resolution: op is NULL");
    if (in_w < 0 || in_h < 0 || out_w < 0 || out_h < 0)
        return vsri_error(VSR_EINVAL, "vsr_op_set_resolution: negative size %dx%d -> %dx%d", in_w, in_h, out_w,
                          out_h);
    pthread_mutex_lock(&op->t->lock);
    op->rec.in_width = in_w;
    op->rec.in_height = in_h;
    op->rec.out_width = out_w;
    op->rec.out_height = out_h;
    if (in_w > 0 && in_h > 0 && out_w % in_w == 0 && out_h % in_h == 0 && out_w / in_w == out_h / in_h &&
        out_w > 0)
        op->rec.scale = out_w / in_w;
    pthread_mutex_unlock(&op->t->lock);
    return 0;
}

int vsr_op_set_scale(vsr_op *op, int scale)
{
    if (!op || scale < 0)
        return vsri_error(VSR_EINVAL, "vsr_op_set_scale: %s", !op ? "op is NULL" : "scale is negative");
    pthread_mutex_lock(&op->t->lock);
    op->rec.scale = scale;
    pthread_mutex_unlock(&op->t->lock);
    return 0;
}

int vsr_op_set_quality(vsr_op *op, double score)
{
    if (!op)
        return vsri_error(VSR_EINVAL, "vsr_op_set_quality: op is NULL");
    pthread_mutex_lock(&op->t->lock);
    op->rec.quality = score;
    pthread_mutex_unlock(&op->t->lock);
    return 0;
}

int vsr_op_set_meta(vsr_op *op, const char *key, const char *value)
{
    if (!op)
        return vsri_error(VSR_EINVAL, "vsr_op_set_meta: op is NULL");
    if (!key || !*key)
        return vsri_error(VSR_EINVAL, "vsr_op_set_meta: the key is empty");
    pthread_mutex_lock(&op->t->lock);
    int err = vsri_kvlist_set(&op->meta, key, value);
    pthread_mutex_unlock(&op->t->lock);
    if (err < 0)
        return vsri_error(err, "vsr_op_set_meta: out of memory for metadata '%.60s'", key);
    return 0;
}

int vsri_op_snapshot(const vsr_op *op, int64_t now, vsr_op_record *out, vsr_kv **meta_buf)
{
    *out = op->rec;
    out->end_ns = 0;
    out->duration_ns = now > out->start_ns ? now - out->start_ns : 0;
    out->n_meta = 0;
    out->meta = NULL;
    *meta_buf = NULL;
    if (op->meta.n > 0) {
        vsr_kv *kv = malloc((size_t)op->meta.n * sizeof(*kv));
        if (!kv)
            return VSR_ENOMEM;
        for (int i = 0; i < op->meta.n; i++)
            kv[i] = (vsr_kv){op->meta.keys[i], op->meta.values[i]};
        out->n_meta = op->meta.n;
        out->meta = kv;
        *meta_buf = kv;
    }
    return 0;
}

/* The end of both vsr_op_end() and vsri_op_end_record(): `fields` NULL
 * takes the record from the operation itself. */
static int end_op(vsr_op **pop, int error_code, const char *message, const vsr_op_record *fields,
                  const char *fn)
{
    if (!pop || !*pop)
        return vsri_error(VSR_EINVAL, "%s: op is NULL", fn);
    vsr_op *op = *pop;
    *pop = NULL;
    vsr_tracker *t = op->t;
    int64_t end = vsri_now_ns();
    vsri_reading r;
    vsri_tracker_read(t, &r);

    pthread_mutex_lock(&t->lock);
    vsri_tracker_apply_reading(t, &r, 0);
    unlink_op(t, op);
    vsr_op_record rec;
    vsr_kv *meta_buf = NULL;
    int err = 0;
    if (fields) {
        rec = *fields;
        rec.size = sizeof(rec);
        if (op->rec.peak_rss_bytes > rec.peak_rss_bytes)
            rec.peak_rss_bytes = op->rec.peak_rss_bytes;
        if (op->rec.peak_device_bytes > rec.peak_device_bytes)
            rec.peak_device_bytes = op->rec.peak_device_bytes;
    } else {
        err = vsri_op_snapshot(op, end, &rec, &meta_buf);
        rec.end_ns = end;
        rec.duration_ns = end - rec.start_ns;
        rec.success = error_code == 0;
        rec.error_code = error_code;
        rec.error_message = message;
    }
    rec.id = op->rec.id;
    vsri_rec_block *b = NULL;
    if (err == 0)
        err = vsri_tracker_commit_locked(t, &rec, fn, &b);
    else
        err = vsri_error(err, "%s: out of memory recording the '%.60s' operation", fn, op->type);
    pthread_mutex_unlock(&t->lock);
    free(meta_buf);
    if (err == 0)
        err = vsri_tracker_deliver(t, b);
    free_op(op);
    return err;
}

int vsr_op_end(vsr_op **op, int error_code, const char *message)
{
    return end_op(op, error_code, message, NULL, "vsr_op_end");
}

int vsri_op_end_record(vsr_op **op, const vsr_op_record *r)
{
    return end_op(op, r->error_code, r->error_message, r, "vsr_op_end");
}

/* The operations in flight as records in one block: an array of records
 * (index 0) or of pointers to them (index 1). t->lock held. */
static int ops_copy_locked(vsr_tracker *t, int index, void **out, int *count)
{
    *out = NULL;
    *count = 0;
    int n = t->n_ops;
    if (n == 0)
        return 0;
    int64_t now = vsri_now_ns();
    vsr_op_record *recs = malloc((size_t)n * sizeof(*recs));
    const vsr_op_record **ptrs = malloc((size_t)n * sizeof(*ptrs));
    vsr_kv **metas = calloc((size_t)n, sizeof(*metas));
    int err = recs && ptrs && metas ? 0 : VSR_ENOMEM;
    int k = 0;
    for (vsr_op *op = t->ops_first; op && err == 0; op = op->next, k++) {
        err = vsri_op_snapshot(op, now, &recs[k], &metas[k]);
        ptrs[k] = &recs[k];
    }
    if (err == 0) {
        *out = index ? (void *)vsri_records_copy_indexed(ptrs, n) : (void *)vsri_records_copy(ptrs, n);
        if (*out)
            *count = n;
        else
            err = VSR_ENOMEM;
    }
    for (int i = 0; metas && i < k; i++)
        free(metas[i]);
    free(metas);
    free(ptrs);
    free(recs);
    return err;
}

int vsri_ops_copy_locked(vsr_tracker *t, vsr_op_record **out, int *count)
{
    void *block = NULL;
    int err = ops_copy_locked(t, 0, &block, count);
    *out = block;
    return err;
}

int vsr_tracker_in_flight(vsr_tracker *t, vsr_op_record ***records, int *count)
{
    if (!t || !records || !count)
        return vsri_error(VSR_EINVAL, "vsr_tracker_in_flight: %s is NULL",
                          !t ? "tracker" : !records ? "records" : "count");
    pthread_mutex_lock(&t->lock);
    void *block = NULL;
    int err = ops_copy_locked(t, 1, &block, count);
    pthread_mutex_unlock(&t->lock);
    *records = block;
    if (err < 0)
        return vsri_error(err, "vsr_tracker_in_flight: out of memory");
    return 0;
}
