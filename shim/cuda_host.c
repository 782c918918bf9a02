/* placeholder */
#include "torch_shim.h"
