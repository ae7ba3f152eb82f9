// The recurrent matmuls of the native kernels: for weights of `kPlannedFrom` elements or more, oneDNN's matmul
// primitive with the weight reordered once per kernel call into the layout the primitive chose; `dnnl_sgemm`, which
// packs the weight again on every call (one per time step), for smaller ones. On one core of the Xeon a step took
// 1.3-2.2x longer with `dnnl_sgemm` (8 x 512 x 2048: 438 against 200 µs; 32 x 256 x 1024: 124 against 93 µs), but
// the primitive's fixed costs lost at the small sizes: a peephole LSTM at B32 T100 H128 fwd+bwd 14.6 ms with it
// against 13.2 ms without, at B16 T500 H512 forward 156 against 236 ms.
//
// With `bf16` (a float32 LSTM with `matmul_dtype="bfloat16"`) the weight is reordered once per call to bfloat16
// and each call rounds its rows of x to bfloat16 (to nearest even, as XLA's convert) before the primitive, which
// accumulates in float32 and runs on AMX where the CPU has it (one core of the Xeon: 16 x 128 x 512 2.2 against
// 11.1 µs in float32, 32 x 256 x 1024 10.4 against 84.1 µs).
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <utility>
#include <vector>

#include <omp.h>

#include "oneapi/dnnl/dnnl.h"
#include "oneapi/dnnl/dnnl.hpp"
#include "worker.h"

namespace recurrax {

// x [n] as bfloat16 bits, rounded to nearest even (NaN stays NaN).
inline void round_to_bfloat16(const float *__restrict x, int64_t n, uint16_t *__restrict out) {
  for (int64_t j = 0; j < n; ++j) {
    uint32_t bits;
    std::memcpy(&bits, x + j, sizeof bits);
    const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    out[j] = static_cast<uint16_t>((bits & 0x7FFFFFFFu) > 0x7F800000u ? 0x7FC0u : rounded);
  }
}

// y [rows, N] (row stride ld_y) = x [rows, K] (row stride ld_x) times the weight (+ y with `accumulate`): W^T for a
// row-major W [N, K] (`transposed`: the forward's h W_hh^T), else W [K, N] (the backward's dz W_hh); with `bf16`
// on bfloat16 operands. Built before an OpenMP parallel region for every row count its threads will use; `run` is
// then safe from each thread.
class WeightMatmul {
 public:
  WeightMatmul(const float *w, int64_t K, int64_t N, bool transposed, const std::vector<int64_t> &row_counts,
               int64_t ld_x, int64_t ld_y, bool accumulate, bool bf16 = false)
      : w_(w), K_(K), N_(N), ld_x_(ld_x), ld_y_(ld_y), transposed_(transposed), accumulate_(accumulate), bf16_(bf16) {
    using dt = dnnl::memory::data_type;
    if (transposed && K * N < kPlannedFrom && !bf16) {
      // W^T once per call as [K, N]: `dnnl_sgemm` ran x W^T 1.3-1.6x slower from W [N, K] than from W^T on one core
      // of the Xeon (16 x 128 x 512: 20.8 against 12.9 µs; 32 x 256 x 1024: 137 against 106).
      w_transposed_.resize(K * N);
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t k = 0; k < K; ++k) w_transposed_[k * N + n] = w[n * K + k];
      }
      w_ = w_transposed_.data(), transposed_ = false;
    }
    for (int64_t rows : row_counts) {
      if (rows == 0 || plans_.count(rows) || (K * N < kPlannedFrom && !bf16)) continue;
      const auto &compiled = cached({rows, K, N, bf16 ? K : ld_x, ld_y, accumulate, bf16});
      Plan plan{compiled.primitive, {}, compiled.src, compiled.dst, compiled.desc.scratchpad_desc()};
      const dnnl::memory::desc user({K, N}, dt::f32, transposed ? dnnl::memory::dims{1, K} : dnnl::memory::dims{N, 1});
      dnnl::memory source(user, cpu_engine(), const_cast<float *>(w));
      plan.weights = dnnl::memory(compiled.desc.weights_desc(), cpu_engine());
      dnnl::stream stream(cpu_engine());
      dnnl::reorder(source, plan.weights).execute(stream, source, plan.weights);
      stream.wait();
      plans_.emplace(rows, std::move(plan));
    }
  }

  static constexpr int64_t kPlannedFrom = 1 << 18;  // a 1 MiB float32 weight (256 x 1024: H = 256 of an LSTM)

  // Returns dnnl_success or the failure's status. A small float32 weight, or a row count not planned for (a
  // smaller OpenMP team than `omp_get_max_threads()`), runs `dnnl_sgemm` on the weight as given (also with `bf16`:
  // float32 then).
  int run(int64_t rows, const float *x, float *y) const {
    const auto found = plans_.find(rows);
    if (found == plans_.end()) {
      return dnnl_sgemm('N', transposed_ ? 'T' : 'N', rows, N_, K_, 1.0f, x, ld_x_, w_, transposed_ ? K_ : N_,
                        accumulate_ ? 1.0f : 0.0f, y, ld_y_);
    }
    try {
      thread_local dnnl::stream stream(cpu_engine());
      const Plan &plan = found->second;
      void *source = const_cast<float *>(x);
      if (bf16_) {
        thread_local std::vector<uint16_t> rounded;
        rounded.resize(rows * K_);
        for (int64_t r = 0; r < rows; ++r) round_to_bfloat16(x + r * ld_x_, K_, rounded.data() + r * K_);
        source = rounded.data();
      }
      dnnl::memory src(plan.src, cpu_engine(), source), dst(plan.dst, cpu_engine(), y);
      thread_local std::vector<uint8_t> scratch;  // each thread's own: the threads run one primitive concurrently
      scratch.resize(plan.scratchpad.get_size());
      dnnl::memory scratchpad(plan.scratchpad, cpu_engine(), scratch.data());
      plan.primitive.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, plan.weights}, {DNNL_ARG_DST, dst},
                                      {DNNL_ARG_SCRATCHPAD, scratchpad}});
      stream.wait();
      return dnnl_success;
    } catch (const dnnl::error &e) {
      return e.status;
    }
  }

 private:
  struct Compiled {
    dnnl::matmul::primitive_desc desc;
    dnnl::matmul primitive;
    dnnl::memory::desc src, dst;
  };
  struct Plan {
    dnnl::matmul primitive;
    dnnl::memory weights;
    dnnl::memory::desc src, dst, scratchpad;
  };
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, bool, bool>;  // rows, K, N, ld_x, ld_y,
                                                                                   // accumulate, bf16

  // The primitive for a shape, made once per process (its creation costs more than a small step).
  static const Compiled &cached(const Key &key) {
    static std::mutex mutex;
    static std::map<Key, std::unique_ptr<Compiled>> cache;
    std::lock_guard<std::mutex> lock(mutex);
    auto &entry = cache[key];
    if (!entry) {
      const auto [rows, K, N, ld_x, ld_y, accumulate, bf16] = key;
      using dt = dnnl::memory::data_type;
      const dt operands = bf16 ? dt::bf16 : dt::f32;
      const dnnl::memory::desc src({rows, K}, operands, dnnl::memory::dims{ld_x, 1});
      const dnnl::memory::desc weights({K, N}, operands, dnnl::memory::format_tag::any);
      const dnnl::memory::desc dst({rows, N}, dt::f32, dnnl::memory::dims{ld_y, 1});
      dnnl::primitive_attr attr;
      // The caller's scratchpad: with oneDNN's own (one per process, shared) two threads running the primitive at
      // once overwrote each other's (bfloat16 results off by 2-8% in one run of a few).
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      if (accumulate) {
        dnnl::post_ops sum;
        sum.append_sum(1.0f);
        attr.set_post_ops(sum);
      }
      dnnl::matmul::primitive_desc desc(cpu_engine(), src, weights, dst, attr);
      entry.reset(new Compiled{desc, dnnl::matmul(desc), src, dst});
    }
    return *entry;
  }

  const float *w_;
  std::vector<float> w_transposed_;
  int64_t K_, N_, ld_x_, ld_y_;
  bool transposed_, accumulate_, bf16_;
  std::map<int64_t, Plan> plans_;
};

// The row counts of the threads of an OpenMP team of `omp_get_max_threads()` over `batch` rows (see `rows_of`).
inline std::vector<int64_t> thread_row_counts(int64_t batch) {
  const int64_t threads = omp_get_max_threads();
  std::vector<int64_t> counts;
  for (int64_t id = 0; id < threads; ++id) counts.push_back(batch * (id + 1) / threads - batch * id / threads);
  return counts;
}

}  // namespace recurrax
