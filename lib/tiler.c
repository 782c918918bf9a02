/* tiler: not written yet. */
#include "internal.h"
