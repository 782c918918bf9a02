/* convert: not written yet. */
#include "internal.h"
