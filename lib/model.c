/* model: not written yet. */
#include "internal.h"
