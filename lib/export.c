/* export: not written yet. */
#include "internal.h"
