/* modelcard: not written yet. */
#include "internal.h"
