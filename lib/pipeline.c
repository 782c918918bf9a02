/* pipeline: not written yet. */
#include "internal.h"
