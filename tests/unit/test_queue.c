/* The pipeline's bounded queue: order, the bound under a fast producer and
 * a slow consumer, close (drain then EOF), abort (both sides wake). */
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "internal.h"
#include "queue.h"
#include "testutil.h"

#define ITEMS 20000

typedef struct shared {
    vsri_queue *q;
    int capacity;
    int max_seen;
    int order_ok;
    int received;
} shared;

static void *producer(void *arg)
{
    shared *s = arg;
    for (intptr_t i = 1; i <= ITEMS; i++)
        if (vsri_queue_push(s->q, (void *)i) < 0)
            break;
    vsri_queue_close(s->q);
    return NULL;
}

static void *consumer(void *arg)
{
    shared *s = arg;
    void *item;
    intptr_t expect = 1;
    while (vsri_queue_pop(s->q, &item) == 0) {
        if ((intptr_t)item != expect++)
            s->order_ok = 0;
        int n = vsri_queue_count(s->q);
        if (n > s->max_seen)
            s->max_seen = n;
        s->received++;
        if (s->received % 1000 == 0)
            usleep(2000); /* a slow consumer now and then: the producer must wait */
    }
    return NULL;
}

static int drop_count;
static void drop(void *x)
{
    (void)x;
    drop_count++;
}

static void *pop_forever(void *arg)
{
    vsri_queue *q = arg;
    void *item;
    int r;
    while ((r = vsri_queue_pop(q, &item)) == 0)
        ;
    return (void *)(intptr_t)r;
}

int main(void)
{
    for (int cap = 1; cap <= 8; cap *= 2) {
        shared s = {.capacity = cap, .order_ok = 1};
        CHECK(vsri_queue_new(&s.q, cap) == 0);
        pthread_t p, c;
        pthread_create(&p, NULL, producer, &s);
        pthread_create(&c, NULL, consumer, &s);
        pthread_join(p, NULL);
        pthread_join(c, NULL);
        CHECK_EQ_INT(s.received, ITEMS);
        CHECK(s.order_ok);
        CHECK(s.max_seen <= cap);
        CHECK(vsri_queue_high_water(s.q) <= cap);
        CHECK(vsri_queue_high_water(s.q) >= 1);
        vsri_queue_free(&s.q, NULL);
    }

    /* close: what is queued is still delivered, then EOF; push after close fails */
    vsri_queue *q;
    CHECK(vsri_queue_new(&q, 4) == 0);
    CHECK(vsri_queue_push(q, (void *)1) == 0);
    CHECK(vsri_queue_push(q, (void *)2) == 0);
    vsri_queue_close(q);
    void *item;
    CHECK(vsri_queue_push(q, (void *)3) == VSR_EINVAL);
    CHECK(vsri_queue_pop(q, &item) == 0 && item == (void *)1);
    CHECK(vsri_queue_pop(q, &item) == 0 && item == (void *)2);
    CHECK(vsri_queue_pop(q, &item) == VSR_EOF);
    vsri_queue_free(&q, NULL);

    /* abort wakes a blocked consumer at once with CANCELLED */
    CHECK(vsri_queue_new(&q, 2) == 0);
    pthread_t t;
    pthread_create(&t, NULL, pop_forever, q);
    usleep(20000);
    vsri_queue_abort(q);
    void *ret;
    pthread_join(t, &ret);
    CHECK((intptr_t)ret == VSR_ERROR_CANCELLED);
    CHECK(vsri_queue_push(q, (void *)1) == VSR_ERROR_CANCELLED);
    vsri_queue_free(&q, NULL);

    /* free hands leftovers to the drop function */
    CHECK(vsri_queue_new(&q, 3) == 0);
    vsri_queue_push(q, (void *)1);
    vsri_queue_push(q, (void *)2);
    vsri_queue_free(&q, drop);
    CHECK_EQ_INT(drop_count, 2);
    CHECK(vsri_queue_new(&q, 0) == VSR_EINVAL);
    return test_result("queue");
}
