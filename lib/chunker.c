/* chunker: not written yet. */
#include "internal.h"
