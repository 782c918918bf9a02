/**
 * @file version.h
 * @brief The API version of these headers and of the library at run time.
 *
 * meson.build reads the numbers below, so they are the single source of
 * the library's version and SONAME (the major number).
 */
#ifndef LIBVSR_VERSION_H
#define LIBVSR_VERSION_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Major version: incompatible changes; the SONAME is libvsr.so.MAJOR. */
#define VSR_API_VERSION_MAJOR 1
/** Minor version: additions. */
#define VSR_API_VERSION_MINOR 0
/** Patch version: fixes. */
#define VSR_API_VERSION_PATCH 0

/** A version as one integer, comparable with <. */
#define VSR_VERSION_INT(a, b, c) (((a) << 16) | ((b) << 8) | (c))
/** The version of these headers as one integer. */
#define VSR_API_VERSION \
    VSR_VERSION_INT(VSR_API_VERSION_MAJOR, VSR_API_VERSION_MINOR, VSR_API_VERSION_PATCH)

/**
 * Run-time API version of the loaded library. A program built against
 * headers newer than the library it runs with should refuse to start
 * (compare the major and minor numbers).
 * @return the version in VSR_VERSION_INT form.
 */
VSR_API unsigned vsr_version(void);

/** @return the version string of the library, e.g. "1.0.0" (static). */
VSR_API const char *vsr_version_string(void);

/** @return one line describing the build: FFmpeg and libtorch versions,
 *          whether the CUDA runtime is linked, compiler (static). */
VSR_API const char *vsr_build_info(void);

#ifdef __cplusplus
}
#endif

#endif /* LIBVSR_VERSION_H */
