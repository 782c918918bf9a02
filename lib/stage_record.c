/*
 * The tracker record of one of libvsr's own stages, built here only: the
 * session (forward passes) and the pipeline (decode to encode, whole runs)
 * describe their work the same way.
 */
#include <math.h>
#include <string.h>

#include "model_internal.h"
#include "tracker_internal.h"

void vsri_stage_record(vsr_op_record *r, const vsr_model *m, const char *type, uint64_t run_id,
                       int64_t start_ns, int64_t duration_ns, int64_t frames, int in_width, int in_height,
                       int error_code, const char *error_message)
{
    memset(r, 0, sizeof(*r));
    r->size = sizeof(*r);
    r->type = type;
    r->strategy = m->card.name;
    r->run_id = run_id;
    r->start_ns = start_ns;
    r->duration_ns = duration_ns;
    r->end_ns = start_ns + duration_ns;
    r->frames = frames;
    r->in_width = in_width;
    r->in_height = in_height;
    r->scale = m->card.scale;
    r->out_width = in_width * r->scale;
    r->out_height = in_height * r->scale;
    r->precision = vsr_precision_name(m->precision);
    r->device = m->device;
    r->success = error_code == 0;
    r->error_code = error_code;
    r->error_message = error_code ? error_message : NULL;
    r->quality = NAN;
    r->peak_rss_bytes = r->peak_device_bytes = -1;
}
