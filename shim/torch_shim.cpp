#include <torch/script.h>
#include <torch/version.h>
#include "torch_shim.h"
extern "C" const char *vsrt_torch_version(void) { return TORCH_VERSION; }
