/* vsr_recommend_settings: not written yet. */
#include "internal.h"

int vsr_recommend_settings(const char *model_path, vsr_recommendation *out)
{
    (void)model_path, (void)out;
    return vsri_error(VSR_ERROR_UNSUPPORTED, "vsr_recommend_settings is not available yet");
}
