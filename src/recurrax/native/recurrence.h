// The time loops of the native LSTM kernels: the recurrent matmul on oneDNN (`WeightMatmul`) and a cell's own step
// per batch row, forward and backward, inside one OpenMP parallel region whose threads split the batch rows (rows
// never interact, so no thread waits for another between steps; see `rows_of`).
#pragma once

#include <cstdint>
#include <vector>

#include "oneapi/dnnl/dnnl.h"
#include "pointwise.h"
#include "weight_matmul.h"

namespace recurrax {

// For t = 0 .. T-1 and each batch row n: hw = h_{t-1} W^T ([G] per row; W [G, H], h_{t-1} from `h0` [N, H] at
// t = 0, else row t-1 of `y` [T, N, H]), then `step(t, n, hw_row)`, which writes y's row t, n; with `bf16` the
// matmul's operands are bfloat16 (`WeightMatmul`). Returns oneDNN's status (dnnl_success, or the first failure of
// a matmul).
template <typename Step>
int forward_recurrence(int64_t T, int64_t N, int64_t H, int64_t G, const float *w, const float *h0, const float *y,
                       Step step, bool bf16 = false) {
  MatmulStatus status;
  const WeightMatmul recurrent(w, H, G, true, thread_row_counts(N), H, G, false, bf16);  // h W^T
#pragma omp parallel
  {
    const auto [begin, end] = rows_of(N);
    std::vector<float> hw((end - begin) * G);
    for (int64_t t = 0; t < T && end > begin; ++t) {
      const float *h_prev = t ? y + (t - 1) * N * H : h0;
      const auto done = recurrent.run(end - begin, h_prev + begin * H, hw.data());
      status.check(done);
      for (int64_t n = begin; n < end; ++n) step(t, n, hw.data() + (n - begin) * G);
    }
  }
  return status.value();
}

// For t = T-1 .. 0 and each batch row n: `step(local, t, n)`, which reads dh [N, H] (the gradient w.r.t. h_t from
// the later steps) and writes d_hw's row t, n ([T, N, ld], its first G entries the gradient w.r.t. h_{t-1} W^T);
// then dh = d_hw_t W (the gradient w.r.t. h_{t-1}), or with `accumulate` dh += d_hw_t W (the step wrote the
// gradient that reaches h_{t-1} other than through W, e.g. a GRU's z h_{t-1}). Each thread sums parameter gradients
// into its own `Local` (from `make_local()`), merged by `merge(local)` one thread at a time; `bf16` as in
// `forward_recurrence`. Returns oneDNN's status.
template <typename MakeLocal, typename Step, typename Merge>
int backward_recurrence(int64_t T, int64_t N, int64_t H, int64_t G, int64_t ld, const float *w, const float *d_hw,
                        float *dh, MakeLocal make_local, Step step, Merge merge, bool accumulate = false,
                        bool bf16 = false) {
  MatmulStatus status;
  const WeightMatmul recurrent(w, G, H, false, thread_row_counts(N), ld, H, accumulate, bf16);  // d_hw W
#pragma omp parallel
  {
    const auto [begin, end] = rows_of(N);
    auto local = make_local();
    for (int64_t t = T - 1; t >= 0 && end > begin; --t) {
      for (int64_t n = begin; n < end; ++n) step(local, t, n);
      const auto done = recurrent.run(end - begin, d_hw + (t * N + begin) * ld, dh + begin * H);
      status.check(done);
    }
#pragma omp critical
    merge(local);
  }
  return status.value();
}

}  // namespace recurrax
