// The recurrent matmuls of the native kernels: for weights of `kPlannedFrom` elements or more, oneDNN's matmul
// primitive with the weight reordered once per kernel call into the layout the primitive chose; `dnnl_sgemm`, which
// packs the weight again on every call (one per time step), for smaller ones. On one core of the Xeon a step took
// 1.3-2.2x longer with `dnnl_sgemm` (8 x 512 x 2048: 438 against 200 µs; 32 x 256 x 1024: 124 against 93 µs), but
// the primitive's fixed costs lost at the small sizes: a peephole LSTM at B32 T100 H128 fwd+bwd 14.6 ms with it
// against 13.2 ms without, at B16 T500 H512 forward 156 against 236 ms.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <utility>
#include <vector>

#include <omp.h>

#include "oneapi/dnnl/dnnl.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace recurrax {

// y [rows, N] (row stride ld_y) = x [rows, K] (row stride ld_x) times the weight (+ y with `accumulate`): W^T for a
// row-major W [N, K] (`transposed`: the forward's h W_hh^T), else W [K, N] (the backward's dz W_hh). Built before
// an OpenMP parallel region for every row count its threads will use; `run` is then safe from each thread.
class WeightMatmul {
 public:
  WeightMatmul(const float *w, int64_t K, int64_t N, bool transposed, const std::vector<int64_t> &row_counts,
               int64_t ld_x, int64_t ld_y, bool accumulate)
      : w_(w), K_(K), N_(N), ld_x_(ld_x), ld_y_(ld_y), transposed_(transposed), accumulate_(accumulate) {
    using dt = dnnl::memory::data_type;
    for (int64_t rows : row_counts) {
      if (rows == 0 || plans_.count(rows) || K * N < kPlannedFrom) continue;
      const auto &compiled = cached({rows, K, N, ld_x, ld_y, accumulate});
      Plan plan{compiled.primitive, {}, compiled.src, compiled.dst};
      const dnnl::memory::desc user({K, N}, dt::f32, transposed ? dnnl::memory::dims{1, K} : dnnl::memory::dims{N, 1});
      dnnl::memory source(user, engine(), const_cast<float *>(w));
      plan.weights = dnnl::memory(compiled.desc.weights_desc(), engine());
      dnnl::stream stream(engine());
      dnnl::reorder(source, plan.weights).execute(stream, source, plan.weights);
      stream.wait();
      plans_.emplace(rows, std::move(plan));
    }
  }

  static constexpr int64_t kPlannedFrom = 1 << 18;  // a 1 MiB float32 weight (256 x 1024: H = 256 of an LSTM)

  // Returns dnnl_success or the failure's status. A small weight, or a row count not planned for (a smaller OpenMP
  // team than `omp_get_max_threads()`), runs `dnnl_sgemm` on the weight as given.
  int run(int64_t rows, const float *x, float *y) const {
    const auto found = plans_.find(rows);
    if (found == plans_.end()) {
      return dnnl_sgemm('N', transposed_ ? 'T' : 'N', rows, N_, K_, 1.0f, x, ld_x_, w_, transposed_ ? K_ : N_,
                        accumulate_ ? 1.0f : 0.0f, y, ld_y_);
    }
    try {
      thread_local dnnl::stream stream(engine());
      const Plan &plan = found->second;
      dnnl::memory src(plan.src, engine(), const_cast<float *>(x)), dst(plan.dst, engine(), y);
      plan.primitive.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, plan.weights}, {DNNL_ARG_DST, dst}});
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
    dnnl::memory::desc src, dst;
  };
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, bool>;  // rows, K, N, ld_x, ld_y, accumulate

  static dnnl::engine &engine() {
    static dnnl::engine cpu(dnnl::engine::kind::cpu, 0);
    return cpu;
  }

  // The primitive for a shape, made once per process (its creation costs more than a small step).
  static const Compiled &cached(const Key &key) {
    static std::mutex mutex;
    static std::map<Key, std::unique_ptr<Compiled>> cache;
    std::lock_guard<std::mutex> lock(mutex);
    auto &entry = cache[key];
    if (!entry) {
      const auto [rows, K, N, ld_x, ld_y, accumulate] = key;
      using dt = dnnl::memory::data_type;
      const dnnl::memory::desc src({rows, K}, dt::f32, dnnl::memory::dims{ld_x, 1});
      const dnnl::memory::desc weights({K, N}, dt::f32, dnnl::memory::format_tag::any);
      const dnnl::memory::desc dst({rows, N}, dt::f32, dnnl::memory::dims{ld_y, 1});
      dnnl::primitive_attr attr;
      if (accumulate) {
        dnnl::post_ops sum;
        sum.append_sum(1.0f);
        attr.set_post_ops(sum);
      }
      dnnl::matmul::primitive_desc desc(engine(), src, weights, dst, attr);
      entry.reset(new Compiled{desc, dnnl::matmul(desc), src, dst});
    }
    return *entry;
  }

  const float *w_;
  int64_t K_, N_, ld_x_, ld_y_;
  bool transposed_, accumulate_;
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
