// What the native LSTM kernels share: vectorisable exp, sigmoid and tanh, the batch rows of an OpenMP thread, and
// the status of their matmuls.
#pragma once

#include <omp.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "oneapi/dnnl/dnnl.h"
#include "xla/ffi/api/ffi.h"

// The pointwise steps, compiled for AVX-512, AVX2 and baseline x86-64 (chosen when the library loads).
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

namespace recurrax {

// exp(x) for float32 by Cody-Waite range reduction and Cephes' degree-6 polynomial (relative error ~1e-7),
// branch-free so that the loops calling it vectorise; |x| is clamped to 88 (beyond, float32 under- or overflows).
inline float exp_approx(float x) {
  x = x < -88.0f ? -88.0f : (x > 88.0f ? 88.0f : x);
  const float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }
inline float tanh_approx(float x) { return 2.0f / (1.0f + exp_approx(-2.0f * x)) - 1.0f; }

// The batch rows [begin, end) of the calling thread of an OpenMP team: rows never interact, so each thread runs
// its rows through every time step (its own matmuls, one sgemm each) without meeting the others.
inline std::pair<int64_t, int64_t> rows_of(int64_t batch) {
  const int64_t threads = omp_get_num_threads(), id = omp_get_thread_num();
  return {batch * id / threads, batch * (id + 1) / threads};
}

// The first failed matmul's status among the threads of a kernel call (dnnl_success while none failed).
class MatmulStatus {
 public:
  void check(int done) {
    if (done != dnnl_success) {
#pragma omp atomic write
      value_ = done;
    }
  }
  int value() const { return value_; }
  xla::ffi::Error error() const {
    if (value_ == dnnl_success) return xla::ffi::Error::Success();
    const auto what = "oneDNN matmul failed with status " + std::to_string(value_);
    return xla::ffi::Error(xla::ffi::ErrorCode::kInternal, what);
  }

 private:
  int value_ = dnnl_success;
};

}  // namespace recurrax
