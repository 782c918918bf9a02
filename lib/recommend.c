/* recommend: not written yet. */
#include "internal.h"
