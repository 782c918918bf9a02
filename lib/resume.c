/* Resumable runs (see resume.h): not written yet. */
#include "resume.h"

int vsri_resume_open(vsri_resume **out, const char *output_path, vsr_input *in,
                     const vsr_output_settings *os, const char *fingerprint, int64_t *frames_done)
{
    (void)in, (void)os, (void)fingerprint;
    *out = NULL;
    *frames_done = 0;
    return vsri_error(VSR_ERROR_UNSUPPORTED, "output '%s': resume is not available yet", output_path);
}

int vsri_resume_skip(vsri_resume *r, vsr_input *in, vsr_session *ses)
{
    (void)r, (void)in, (void)ses;
    return VSR_ERROR_UNSUPPORTED;
}

int vsri_resume_write_frame(vsri_resume *r, vsr_frame *f)
{
    (void)r, (void)f;
    return VSR_ERROR_UNSUPPORTED;
}

int vsri_resume_finish(vsri_resume *r, vsr_input *in, int cancelled)
{
    (void)r, (void)in, (void)cancelled;
    return VSR_ERROR_UNSUPPORTED;
}

void vsri_resume_close(vsri_resume **r)
{
    (void)r;
}
