/* json: not written yet. */
#include "internal.h"
