/* encode: not written yet. */
#include "internal.h"
