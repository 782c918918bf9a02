/* Bounded blocking FIFO (see queue.h). */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"
#include "queue.h"

struct vsri_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    void **items;
    int capacity, head, count, high_water;
    int closed, aborted;
};

int vsri_queue_new(vsri_queue **out, int capacity)
{
    *out = NULL;
    if (capacity < 1)
        return vsri_error(VSR_EINVAL, "queue depth %d must be at least 1", capacity);
    vsri_queue *q = calloc(1, sizeof(*q));
    if (!q || !(q->items = calloc((size_t)capacity, sizeof(void *)))) {
        free(q);
        return VSR_ENOMEM;
    }
    q->capacity = capacity;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    *out = q;
    return 0;
}

void vsri_queue_free(vsri_queue **pq, void (*drop)(void *item))
{
    if (!pq || !*pq)
        return;
    vsri_queue *q = *pq;
    *pq = NULL;
    for (int i = 0; i < q->count; i++)
        if (drop)
            drop(q->items[(q->head + i) % q->capacity]);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->items);
    free(q);
}

int vsri_queue_push(vsri_queue *q, void *item)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == q->capacity && !q->aborted && !q->closed)
        pthread_cond_wait(&q->not_full, &q->lock);
    int ret = 0;
    if (q->aborted) {
        ret = VSR_ERROR_CANCELLED;
    } else if (q->closed) {
        ret = VSR_EINVAL;
    } else {
        q->items[(q->head + q->count) % q->capacity] = item;
        q->count++;
        if (q->count > q->high_water)
            q->high_water = q->count;
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->lock);
    return ret;
}

int vsri_queue_pop(vsri_queue *q, void **item)
{
    *item = NULL;
    pthread_mutex_lock(&q->lock);
    while (!q->count && !q->closed && !q->aborted)
        pthread_cond_wait(&q->not_empty, &q->lock);
    int ret = 0;
    if (q->aborted) {
        ret = VSR_ERROR_CANCELLED;
    } else if (!q->count) {
        ret = VSR_EOF;
    } else {
        *item = q->items[q->head];
        q->head = (q->head + 1) % q->capacity;
        q->count--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->lock);
    return ret;
}

void vsri_queue_close(vsri_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

void vsri_queue_abort(vsri_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->aborted = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

int vsri_queue_count(vsri_queue *q)
{
    pthread_mutex_lock(&q->lock);
    int n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}

int vsri_queue_high_water(vsri_queue *q)
{
    pthread_mutex_lock(&q->lock);
    int n = q->high_water;
    pthread_mutex_unlock(&q->lock);
    return n;
}
