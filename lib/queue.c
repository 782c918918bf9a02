/* queue: not written yet. */
#include "internal.h"
