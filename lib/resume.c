/* resume: not written yet. */
#include "internal.h"
