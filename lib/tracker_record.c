/*
 * Records as memory: deep copies of a vsr_op_record with its meta array
 * and strings in one allocation (reference-counted blocks for the history,
 * plain heap blocks handed to callers), and owned key/value lists.
 */
#include <stdlib.h>
#include <string.h>

#include "tracker_private.h"

/* ---------------------------------------------------------------- key/value lists */

int vsri_kvlist_set(vsri_kvlist *l, const char *key, const char *value)
{
    int i = 0;
    while (i < l->n && strcmp(l->keys[i], key) != 0)
        i++;
    if (!value) {
        if (i < l->n) {
            free(l->keys[i]);
            free(l->values[i]);
            /* keep the order of the remaining keys */
            memmove(&l->keys[i], &l->keys[i + 1], (size_t)(l->n - i - 1) * sizeof(char *));
            memmove(&l->values[i], &l->values[i + 1], (size_t)(l->n - i - 1) * sizeof(char *));
            l->n--;
        }
        return 0;
    }
    char *v = strdup(value);
    if (!v)
        return VSR_ENOMEM;
    if (i < l->n) {
        free(l->values[i]);
        l->values[i] = v;
        return 0;
    }
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        char **k = realloc(l->keys, (size_t)cap * sizeof(*k));
        if (k)
            l->keys = k;
        char **vals = k ? realloc(l->values, (size_t)cap * sizeof(*vals)) : NULL;
        if (vals)
            l->values = vals;
        if (!k || !vals) {
            free(v);
            return VSR_ENOMEM;
        }
        l->cap = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        return VSR_ENOMEM;
    }
    l->keys[l->n] = k;
    l->values[l->n] = v;
    l->n++;
    return 0;
}

void vsri_kvlist_free(vsri_kvlist *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->keys[i]);
        free(l->values[i]);
    }
    free(l->keys);
    free(l->values);
    memset(l, 0, sizeof(*l));
}

/* ---------------------------------------------------------------- copies */

static size_t str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static char *put_str(char **cursor, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = *cursor;
    memcpy(d, s, n);
    *cursor += n;
    return d;
}

size_t vsri_record_extra_size(const vsr_op_record *r)
{
    size_t n = str_size(r->type) + str_size(r->strategy) + str_size(r->precision) + str_size(r->device) +
               str_size(r->error_message);
    for (int i = 0; r->meta && i < r->n_meta; i++)
        n += sizeof(vsr_kv) + str_size(r->meta[i].key) + str_size(r->meta[i].value);
    return n;
}

void vsri_record_copy_into(vsr_op_record *dst, const vsr_op_record *r, vsr_kv **meta_cursor,
                           char **str_cursor)
{
    *dst = *r;
    dst->size = sizeof(*dst);
    dst->type = put_str(str_cursor, r->type);
    dst->strategy = put_str(str_cursor, r->strategy);
    dst->precision = put_str(str_cursor, r->precision);
    dst->device = put_str(str_cursor, r->device);
    dst->error_message = put_str(str_cursor, r->error_message);
    int n = r->meta ? r->n_meta : 0;
    vsr_kv *meta = *meta_cursor;
    for (int i = 0; i < n; i++) {
        meta[i].key = put_str(str_cursor, r->meta[i].key);
        meta[i].value = put_str(str_cursor, r->meta[i].value);
    }
    *meta_cursor += n;
    dst->n_meta = n;
    dst->meta = n ? meta : NULL;
}

/* Layout of a block of n records: with `index`, first n pointers to the
 * records; then the records, every meta array, every string (so each part
 * is aligned for its type). Returns the start of the block. */
static void *records_copy(const vsr_op_record *const *recs, int n, int index)
{
    size_t metas = 0, head = index ? (size_t)n * sizeof(vsr_op_record *) : 0;
    size_t total = head + (size_t)n * sizeof(vsr_op_record);
    for (int i = 0; i < n; i++) {
        total += vsri_record_extra_size(recs[i]);
        metas += (size_t)(recs[i]->meta ? recs[i]->n_meta : 0);
    }
    char *block = malloc(total ? total : 1);
    if (!block)
        return NULL;
    vsr_op_record **ptrs = (vsr_op_record **)block;
    vsr_op_record *out = (vsr_op_record *)(block + head);
    vsr_kv *meta = (vsr_kv *)(out + n);
    char *strings = (char *)(meta + metas);
    for (int i = 0; i < n; i++) {
        vsri_record_copy_into(&out[i], recs[i], &meta, &strings);
        if (index)
            ptrs[i] = &out[i];
    }
    return block;
}

vsr_op_record *vsri_records_copy(const vsr_op_record *const *recs, int n)
{
    return records_copy(recs, n, 0);
}

vsr_op_record **vsri_records_copy_indexed(const vsr_op_record *const *recs, int n)
{
    return records_copy(recs, n, 1);
}

/* ---------------------------------------------------------------- shared blocks */

vsri_rec_block *vsri_rec_block_ref(vsri_rec_block *b)
{
    atomic_fetch_add(&b->refs, 1);
    return b;
}

void vsri_rec_block_unref(vsri_rec_block *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

vsri_rec_block *vsri_rec_block_pack(const vsr_op_record *r, const vsri_kvlist *base)
{
    int own = r->meta ? r->n_meta : 0;
    int max_meta = base->n + own;
    vsr_kv *merged = NULL;
    int n = 0;
    if (max_meta > 0) {
        merged = malloc((size_t)max_meta * sizeof(*merged));
        if (!merged)
            return NULL;
    }
    for (int i = 0; i < base->n; i++)
        merged[n++] = (vsr_kv){base->keys[i], base->values[i]};
    for (int i = 0; i < own; i++) {
        const vsr_kv *kv = &r->meta[i];
        if (!kv->key)
            continue;
        int j = 0;
        while (j < n && strcmp(merged[j].key, kv->key) != 0)
            j++;
        if (!kv->value) {
            if (j < n) {
                memmove(&merged[j], &merged[j + 1], (size_t)(n - j - 1) * sizeof(*merged));
                n--;
            }
        } else if (j < n) {
            merged[j].value = kv->value;
        } else {
            merged[n++] = *kv;
        }
    }
    vsr_op_record view = *r;
    view.meta = n ? merged : NULL;
    view.n_meta = n;
    vsri_rec_block *b = malloc(sizeof(vsri_rec_block) + vsri_record_extra_size(&view));
    if (b) {
        atomic_init(&b->refs, 1);
        vsr_kv *meta = (vsr_kv *)(b + 1);
        char *strings = (char *)(meta + n);
        vsri_record_copy_into(&b->rec, &view, &meta, &strings);
    }
    free(merged);
    return b;
}

int vsri_check_op_name(const char *name, int required, const char *what, const char *fn)
{
    if (!name) {
        if (required)
            return vsri_error(VSR_EINVAL, "%s: no operation %s given", fn, what);
        return 0;
    }
    if (required && !*name)
        return vsri_error(VSR_EINVAL, "%s: the operation %s is empty", fn, what);
    size_t n = strlen(name);
    if (n > VSR_OP_NAME_MAX)
        return vsri_error(VSR_EINVAL, "%s: operation %s '%.40s...' is %zu bytes long, at most %d allowed", fn,
                          what, name, n, VSR_OP_NAME_MAX);
    return 0;
}
