/*
 * A bounded blocking FIFO of pointers joining two pipeline stages. A full
 * queue blocks its producer (back-pressure keeps memory bounded); close()
 * lets the consumer drain what is left and then see VSR_EOF; abort()
 * wakes both sides at once with VSR_ERROR_CANCELLED.
 */
#ifndef LIBVSR_QUEUE_H
#define LIBVSR_QUEUE_H

typedef struct vsri_queue vsri_queue;

int vsri_queue_new(vsri_queue **out, int capacity);
/* Frees the queue; items still inside are passed to drop (may be NULL). */
void vsri_queue_free(vsri_queue **q, void (*drop)(void *item));

/* 0, or VSR_ERROR_CANCELLED after abort (the item is not taken), or
 * VSR_EINVAL after close. */
int vsri_queue_push(vsri_queue *q, void *item);
/* 0 and an item, VSR_EOF once closed and empty, VSR_ERROR_CANCELLED after abort. */
int vsri_queue_pop(vsri_queue *q, void **item);
void vsri_queue_close(vsri_queue *q);
void vsri_queue_abort(vsri_queue *q);
/* Items inside now, and the most ever inside at once. */
int vsri_queue_count(vsri_queue *q);
int vsri_queue_high_water(vsri_queue *q);

#endif /* LIBVSR_QUEUE_H */
