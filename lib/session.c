/* session: not written yet. */
#include "internal.h"
