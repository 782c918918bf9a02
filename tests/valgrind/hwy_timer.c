/* Preloaded under valgrind only, on CPUs whose CPUID does not list RDTSCP
 * (some virtual machines run it anyway). libhwy, which FFmpeg loads through
 * libjxl, measures its timer with RDTSCP in a constructor; valgrind 3.19
 * then stops at an instruction the CPU does not advertise. This replaces
 * that one measurement (hwy::platform::TimerResolution(), which nothing on
 * libvsr's path uses) with a constant; libvsr's own code is not touched. */
#include <stdint.h>

uint64_t _ZN3hwy8platform15TimerResolutionEv(void);

uint64_t _ZN3hwy8platform15TimerResolutionEv(void)
{
    return 1;
}
