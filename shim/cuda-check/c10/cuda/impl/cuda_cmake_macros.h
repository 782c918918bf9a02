/* libtorch generates this header when it is built; Debian's CPU-only
 * libtorch-dev ships the c10/cuda headers without it. The compile check
 * in shim/meson.build needs only that it exists (its one setting matters
 * only for Windows DLL exports). */
#pragma once
#define C10_CUDA_BUILD_SHARED_LIBS
