/*
 * The only door between libvsr's C code and libtorch (C++). Every libtorch
 * exception is caught inside the shim and turned into a code and a
 * message; nothing C++ crosses this header.
 */
#ifndef VSR_TORCH_SHIM_H
#define VSR_TORCH_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Result codes (the C side maps them to VSR_ERROR_*). */
enum {
    VSRT_OK = 0,
    VSRT_E_LOAD = -1,    /* file missing, not TorchScript, no card */
    VSRT_E_DEVICE = -2,  /* device not available */
    VSRT_E_RUN = -3,     /* the model threw */
    VSRT_E_OOM = -4,     /* out of memory on the device (or host, for CPU) */
    VSRT_E_INVAL = -5,   /* bad arguments */
};

/* Precisions: the same numbers as vsr_precision. */
enum { VSRT_AUTO = 0, VSRT_FP32 = 1, VSRT_BF16 = 2, VSRT_FP16 = 3 };

typedef struct vsrt_model vsrt_model;
typedef struct vsrt_result vsrt_result;

typedef struct vsrt_load_options {
    const char *path;
    const char *device;   /* "cpu", "cuda", "cuda:N", "auto" */
    int precision;        /* VSRT_FP32 / BF16 / FP16; AUTO is resolved by the caller */
    int optimize;         /* freeze + optimise for inference at load */
    int channels_last;    /* 1 = feed NHWC-strided tensors (4-D inputs only) */
    int cuda_graph;       /* CUDA: capture fixed-shape passes as CUDA graphs and replay them */
} vsrt_load_options;

/* Load a TorchScript file, and its libvsr.json extra file into *card
 * (malloc'ed, NUL-terminated; NULL if the file has none). err gets a
 * one-line reason on failure. *notice gets a message when the precision
 * had to fall back (FP16 on CPU), else "". */
int vsrt_load(const vsrt_load_options *o, vsrt_model **out, char **card,
              char *notice, size_t notice_len, char *err, size_t err_len);
void vsrt_free(vsrt_model *m);


/* What the loaded model really runs on: "cpu" or "cuda:N", and the precision. */
const char *vsrt_device_name(const vsrt_model *m);
int vsrt_precision(const vsrt_model *m);
int vsrt_is_cuda(const vsrt_model *m);

typedef struct vsrt_timing {
    int64_t upload_ns;    /* host -> device and precision cast */
    int64_t infer_ns;     /* forward pass (synchronised on CUDA) */
    int64_t download_ns;  /* device -> host and cast back to float */
} vsrt_timing;

/*
 * Run the model on a float32 host tensor of the given shape (contiguous,
 * e.g. [B,3,H,W] or [B,T,3,H,W]). On success *res holds a float32
 * contiguous host tensor (clamped to [lo, hi]) until vsrt_result_free().
 * Thread-safety: one model may run forward from several threads at once.
 */
int vsrt_forward(vsrt_model *m, const float *input, const int64_t *shape, int ndim,
                 float lo, float hi, vsrt_result **res, vsrt_timing *timing,
                 char *err, size_t err_len);
/*
 * One forward pass as vsrt_forward(), measuring the peak of the memory
 * libtorch's allocators hand out on this thread meanwhile (its CPU
 * allocator for a CPU model, the CUDA caching allocator for a CUDA one),
 * through libtorch's thread-local memory-reporting hook: nothing
 * process-wide is read or reset. The result is released inside, so that
 * the measurement sees it go; out_shape (6 entries) and *out_ndim get its
 * shape. *peak_bytes is -1 when the allocator reported nothing.
 */
int vsrt_forward_measure(vsrt_model *m, const float *input, const int64_t *shape, int ndim,
                         float lo, float hi, int64_t *out_shape, int *out_ndim, int64_t *peak_bytes,
                         char *err, size_t err_len);
const float *vsrt_result_data(const vsrt_result *r);
int vsrt_result_ndim(const vsrt_result *r);
const int64_t *vsrt_result_shape(const vsrt_result *r);
void vsrt_result_free(vsrt_result *r);

/* Host buffers for inputs: pinned (page-locked) when the model runs on
 * CUDA so uploads can be asynchronous, aligned ordinary memory otherwise. */
void *vsrt_host_alloc(const vsrt_model *m, size_t bytes);
void vsrt_host_free(const vsrt_model *m, void *p);

/* Devices. */
const char *vsrt_torch_version(void);
int vsrt_torch_has_cuda(void);          /* libtorch was built with CUDA and sees a device */
int vsrt_cuda_device_count(char *why, size_t why_len); /* via the CUDA runtime; 0 with a reason */
/* Device memory now (free/total) and the peak since load, -1 if unknown. */
int vsrt_device_memory(const vsrt_model *m, int64_t *free_bytes, int64_t *total_bytes,
                       int64_t *peak_bytes);
/*
 * libtorch's process-wide switches: intra-op threads (threads > 0), TF32
 * for fp32 work on CUDA (cuBLAS and cuDNN together), cuDNN's algorithm
 * benchmark. The shim keeps none of them: they live in libtorch.
 */
int vsrt_process_configure(int threads, int tf32, int cudnn_benchmark, char *err, size_t err_len);
void vsrt_process_get(int *threads, int *tf32, int *cudnn_benchmark);
/* Threads of the calling thread's intra-op pool (OpenMP keeps the count
 * per thread, so a thread that ran before a configure keeps the old one
 * until told); n > 0. */
void vsrt_use_threads(int n);
int vsrt_get_num_threads(void);

/* CUDA runtime helpers (cuda_host.c); they fail cleanly without a driver. */
int vsrt_cudart_device_count(char *why, size_t why_len);
void *vsrt_cudart_host_alloc(size_t bytes);
void vsrt_cudart_host_free(void *p);
int vsrt_cudart_mem_info(int device, int64_t *free_bytes, int64_t *total_bytes);

#ifdef __cplusplus
}
#endif

#endif /* VSR_TORCH_SHIM_H */
