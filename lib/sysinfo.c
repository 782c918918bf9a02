/* sysinfo: not written yet. */
#include "internal.h"
