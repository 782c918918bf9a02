/* Process-wide inference settings (process.c), as the rest of libvsr uses them. */
#ifndef LIBVSR_PROCESS_H
#define LIBVSR_PROCESS_H

#include "internal.h"

/* CPU inference threads in force: the configured count, or libtorch's own
 * when vsr_process_configure() was never called. */
int vsri_process_threads(void);

/* Before a forward pass on the calling thread: give its intra-op pool the
 * configured size (no-op when never configured or already right). */
void vsri_process_prepare_thread(void);

#endif /* LIBVSR_PROCESS_H */
