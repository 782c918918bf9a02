/* Run-time version and build description. */
#include <pthread.h>
#include <stdio.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "config.h"
#include "internal.h"
#include "torch_shim.h"

unsigned vsr_version(void)
{
    return VSR_API_VERSION;
}

const char *vsr_version_string(void)
{
    return VSR_VERSION_STRING;
}

static char build_info[256];
static pthread_once_t build_info_once = PTHREAD_ONCE_INIT;

static void make_build_info(void)
{
    snprintf(build_info, sizeof(build_info),
             "libvsr %s; libavcodec %s, libavformat %s; libtorch %s (%s); CUDA runtime %s; %s",
             VSR_VERSION_STRING, AV_STRINGIFY(LIBAVCODEC_VERSION), AV_STRINGIFY(LIBAVFORMAT_VERSION),
             vsrt_torch_version(), VSR_HAVE_TORCH_CUDA ? "CUDA build" : "CPU build",
             VSR_HAVE_CUDART ? "linked" : "not linked", VSR_CC);
}

const char *vsr_build_info(void)
{
    pthread_once(&build_info_once, make_build_info);
    return build_info;
}
