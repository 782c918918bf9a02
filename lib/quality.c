/* quality: not written yet. */
#include "internal.h"
