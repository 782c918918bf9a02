/* decode: not written yet. */
#include "internal.h"
