/* tracker: not written yet. */
#include "internal.h"
