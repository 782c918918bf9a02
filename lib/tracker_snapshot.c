/*
 * A consistent copy of a tracker for the exports: statistics and trends
 * of every key, the operations in flight, the history, resources and
 * quality, all taken under one hold of the lock (so a record arriving
 * meanwhile is either wholly in an export or not at all).
 */
#include <stdlib.h>
#include <string.h>

#include "tracker_private.h"

typedef struct snapshot_priv {
    vsri_rec_block **blocks;
    int n_blocks;
} snapshot_priv;

static void free_keys(vsri_key_stats *k, int n)
{
    for (int i = 0; k && i < n; i++) {
        free(k[i].type);
        free(k[i].strategy);
    }
    free(k);
}

void vsri_tracker_snapshot_free(vsri_tracker_snapshot **ps)
{
    if (!ps || !*ps)
        return;
    vsri_tracker_snapshot *s = *ps;
    free_keys(s->types, s->n_types);
    free_keys(s->strategies, s->n_strategies);
    free_keys(s->pairs, s->n_pairs);
    free(s->in_flight);
    free(s->history);
    snapshot_priv *p = s->priv;
    if (p) {
        for (int i = 0; i < p->n_blocks; i++)
            vsri_rec_block_unref(p->blocks[i]);
        free(p->blocks);
        free(p);
    }
    free(s->quality_frames);
    free(s);
    *ps = NULL;
}

static int nullable_cmp(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

static int cmp_key(const void *pa, const void *pb)
{
    const vsri_key_stats *a = pa, *b = pb;
    int c = nullable_cmp(a->type, b->type);
    return c ? c : nullable_cmp(a->strategy, b->strategy);
}

/* One key: names copied (NULL stays NULL), statistics and trend of b. */
static int fill_key(vsri_key_stats *k, const char *type, const char *strategy, vsri_stat_bucket *b)
{
    k->type = type ? strdup(type) : NULL;
    k->strategy = strategy ? strdup(strategy) : NULL;
    if ((type && !k->type) || (strategy && !k->strategy))
        return VSR_ENOMEM;
    vsri_bucket_stats(b, &k->stats);
    vsri_bucket_trend(b, VSRI_EXPORT_TREND_WINDOW, &k->trend);
    return 0;
}

/* Keys of a name table with records (the others were left by a failed add). */
static int take_names(vsri_name_table *nt, int is_type, vsri_key_stats **out, int *n_out)
{
    int n = 0;
    for (int i = 0; i < nt->n; i++)
        n += nt->buckets[i].count > 0;
    if (n == 0)
        return 0;
    vsri_key_stats *k = calloc((size_t)n, sizeof(*k));
    if (!k)
        return VSR_ENOMEM;
    *out = k;
    for (int i = 0; i < nt->n; i++) {
        if (nt->buckets[i].count == 0)
            continue;
        int err = fill_key(&k[*n_out], is_type ? nt->names[i] : NULL, is_type ? NULL : nt->names[i],
                           &nt->buckets[i]);
        (*n_out)++;
        if (err < 0)
            return err;
    }
    return 0;
}

static int take_pairs(vsri_stats *st, vsri_tracker_snapshot *s)
{
    if (st->n_pairs == 0)
        return 0;
    s->pairs = calloc((size_t)st->n_pairs, sizeof(*s->pairs));
    if (!s->pairs)
        return VSR_ENOMEM;
    for (int i = 0; i < st->n_pairs; i++) {
        vsri_pair *p = &st->pairs[i];
        if (p->b.count == 0)
            continue;
        int err = fill_key(&s->pairs[s->n_pairs], st->types.names[p->type], st->strategies.names[p->strategy],
                           &p->b);
        s->n_pairs++;
        if (err < 0)
            return err;
    }
    return 0;
}

static int take_history(vsr_tracker *t, vsri_tracker_snapshot *s, snapshot_priv *p)
{
    if (t->ring_count == 0)
        return 0;
    s->history = malloc((size_t)t->ring_count * sizeof(*s->history));
    p->blocks = malloc((size_t)t->ring_count * sizeof(*p->blocks));
    if (!s->history || !p->blocks)
        return VSR_ENOMEM;
    for (int i = 0; i < t->ring_count; i++) {
        vsri_rec_block *b = t->ring[(t->ring_first + i) % t->settings.history_length];
        p->blocks[p->n_blocks++] = vsri_rec_block_ref(b);
        s->history[s->n_history++] = b->rec;
    }
    return 0;
}

int vsri_tracker_snapshot_take(vsr_tracker *t, vsri_tracker_snapshot **out)
{
    *out = NULL;
    if (!t)
        return vsri_error(VSR_EINVAL, "tracker snapshot: tracker is NULL");
    vsri_tracker_snapshot *s = calloc(1, sizeof(*s));
    snapshot_priv *p = calloc(1, sizeof(*p));
    if (!s || !p) {
        free(s);
        free(p);
        return vsri_error(VSR_ENOMEM, "tracker snapshot: out of memory");
    }
    s->priv = p;
    vsri_tracker_on_demand_reading(t);

    pthread_mutex_lock(&t->lock);
    int err = take_names(&t->stats.types, 1, &s->types, &s->n_types);
    if (err == 0)
        err = take_names(&t->stats.strategies, 0, &s->strategies, &s->n_strategies);
    if (err == 0)
        err = take_pairs(&t->stats, s);
    if (err == 0)
        err = vsri_ops_copy_locked(t, &s->in_flight, &s->n_in_flight);
    if (err == 0)
        err = take_history(t, s, p);
    vsri_tracker_resources_locked(t, &s->resources);
    vsri_tracker_quality_locked(t, &s->quality);
    if (err == 0 && t->quality.n_list > 0) {
        s->quality_frames = malloc((size_t)t->quality.n_list * sizeof(*s->quality_frames));
        if (s->quality_frames) {
            memcpy(s->quality_frames, t->quality.list, (size_t)t->quality.n_list * sizeof(*s->quality_frames));
            s->n_quality_frames = t->quality.n_list;
        } else {
            err = VSR_ENOMEM;
        }
    }
    s->quality_frames_truncated = t->quality.truncated;
    pthread_mutex_unlock(&t->lock);

    if (err < 0) {
        vsri_tracker_snapshot_free(&s);
        return vsri_error(VSR_ENOMEM, "tracker snapshot: out of memory");
    }
    if (s->n_types > 1)
        qsort(s->types, (size_t)s->n_types, sizeof(*s->types), cmp_key);
    if (s->n_strategies > 1)
        qsort(s->strategies, (size_t)s->n_strategies, sizeof(*s->strategies), cmp_key);
    if (s->n_pairs > 1)
        qsort(s->pairs, (size_t)s->n_pairs, sizeof(*s->pairs), cmp_key);
    *out = s;
    return 0;
}
