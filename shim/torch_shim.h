#ifndef VSR_TORCH_SHIM_H
#define VSR_TORCH_SHIM_H
#ifdef __cplusplus
extern "C" {
#endif
const char *vsrt_torch_version(void);
#ifdef __cplusplus
}
#endif
#endif
