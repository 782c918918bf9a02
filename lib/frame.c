/* frame: not written yet. */
#include "internal.h"
