// MUT1, MUT2, MUT3 (Jozefowicz, Zaremba & Sutskever 2015; recurrax's MUT cells) as XLA FFI custom calls: per step
// two or three recurrent matmuls on oneDNN (`WeightMatmul`) and the gates in a vectorised step written here, the
// batch rows split over the OpenMP threads (see `rows_of`).
//
// One layer, one direction, float32, time-major; the input terms xp = (zx + b_z, rx + b_r, hx + b_h) are computed
// outside, and so are the weight gradients (from dxp, the saved gates and h_{t-1}). Per step, attribute `form`:
//
//   zh, rh = h_{t-1} [W_hz; W_hr]^T (MUT2), tanh(h_{t-1}) W_hz^T and h_{t-1} W_hr^T (MUT3), 0 and h_{t-1} W_hr^T
//   (MUT1: w_gates is W_hr alone);  z = σ(zx + zh),  r = σ(rx + rh)
//   n = tanh((r h_{t-1}) W_hh^T + hx),  h_t = n z + h_{t-1} (1 - z)
//
//   recurrax_mut_forward   xp [T, N, 3H], h0 [N, H], w_gates [mH, H], w_hh [H, H] -> y [T, N, H], h_T,
//                          gates [T, N, 3H] (z, r, n)
//   recurrax_mut_backward  gates, y, h0, w_gates, w_hh, dy, dh_T -> dxp [T, N, 3H] (the gradients of the three
//                          pre-activations), dh0

#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "oneapi/dnnl/dnnl.h"
#include "pointwise.h"
#include "weight_matmul.h"
#include "worker.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

using recurrax::rows_of;
using recurrax::sigmoid;
using recurrax::tanh_approx;
using recurrax::WeightMatmul;

CLONES void tanh_rows(int64_t size, const float *__restrict v, float *__restrict out) {
  for (int64_t j = 0; j < size; ++j) out[j] = tanh_approx(v[j]);
}

// z, r of one row from xp [3H] and the gate terms zh_rh [2H]; q = r h_prev.
CLONES void gate_row(int64_t H, const float *__restrict xp, const float *__restrict zh_rh,
                     const float *__restrict h_prev, float *__restrict gates, float *__restrict q) {
  for (int64_t j = 0; j < H; ++j) {
    const float z = sigmoid(xp[j] + zh_rh[j]), r = sigmoid(xp[H + j] + zh_rh[H + j]);
    gates[j] = z, gates[H + j] = r, q[j] = r * h_prev[j];
  }
}

// n = tanh(a + hx), h = n z + h_prev (1 - z).
CLONES void blend_row(int64_t H, const float *__restrict xp, const float *__restrict a,
                      const float *__restrict h_prev, float *__restrict gates, float *__restrict h) {
  for (int64_t j = 0; j < H; ++j) {
    const float n = tanh_approx(a[j] + xp[2 * H + j]), z = gates[j];
    gates[2 * H + j] = n, h[j] = n * z + h_prev[j] * (1.0f - z);
  }
}

// From dh (dL/dh_t): dxp's z and candidate parts, and dL/dh_{t-1} through the blend into `carry`.
CLONES void blend_backward_row(int64_t H, const float *__restrict gates, const float *__restrict h_prev,
                               const float *__restrict dh, float *__restrict dxp, float *__restrict carry) {
  for (int64_t j = 0; j < H; ++j) {
    const float z = gates[j], n = gates[2 * H + j];
    dxp[j] = dh[j] * (n - h_prev[j]) * z * (1.0f - z);
    dxp[2 * H + j] = dh[j] * z * (1.0f - n * n);
    carry[j] = dh[j] * (1.0f - z);
  }
}

// From dq (dL/d(r h_prev)): dxp's r part, and dL/dh_{t-1} through q added to `carry`.
CLONES void reset_backward_row(int64_t H, const float *__restrict gates, const float *__restrict h_prev,
                               const float *__restrict dq, float *__restrict dxp, float *__restrict carry) {
  for (int64_t j = 0; j < H; ++j) {
    const float r = gates[H + j];
    dxp[H + j] = dq[j] * h_prev[j] * r * (1.0f - r);
    carry[j] += dq[j] * r;
  }
}

// carry += du (1 - tanh(h_prev)^2): MUT3's z-gate reads tanh(h_{t-1}).
CLONES void tanh_backward_row(int64_t H, const float *__restrict h_prev, const float *__restrict du,
                              float *__restrict carry) {
  for (int64_t j = 0; j < H; ++j) {
    const float u = tanh_approx(h_prev[j]);
    carry[j] += du[j] * (1.0f - u * u);
  }
}

using In = ffi::Buffer<ffi::F32>;
using Out = ffi::ResultBuffer<ffi::F32>;

ffi::Error forward(In xp, In h0, In w_gates, In w_hh, Out y, Out h_last, Out gates, int64_t form) {
  const auto dims = xp.dimensions();
  const int64_t T = dims[0], N = dims[1], H = dims[2] / 3, X = 3 * H;
  const float *wg = w_gates.typed_data(), *wh = w_hh.typed_data();
  recurrax::MatmulStatus status;
  recurrax::on_worker([&] {
    // h W^T into the gate terms [R, 2H] (zh, rh): MUT2's [W_hz; W_hr] at once; MUT3's W_hz reads tanh(h)
    const auto rows = recurrax::thread_row_counts(N);
    std::optional<WeightMatmul> both, first, second;  // w_gates is [2H, H] (MUT2, MUT3) or [H, H] (MUT1)
    if (form == 2) both.emplace(wg, H, 2 * H, true, rows, H, 2 * H, false);
    if (form != 2) first.emplace(wg, H, H, true, rows, H, 2 * H, false);
    if (form == 3) second.emplace(wg + H * H, H, H, true, rows, H, 2 * H, false);
    const WeightMatmul candidate(wh, H, H, true, rows, H, H, false);
#pragma omp parallel
    {
      const auto [begin, end] = rows_of(N);
      const int64_t R = end - begin;
      std::vector<float> zh_rh(R * 2 * H, 0.0f), u(R * H), q(R * H), a(R * H);
      for (int64_t t = 0; t < T && R > 0; ++t) {
        const float *h_prev = (t ? y->typed_data() + (t - 1) * N * H : h0.typed_data()) + begin * H;
        if (form == 2) {
          status.check(both->run(R, h_prev, zh_rh.data()));
        } else if (form == 3) {
          for (int64_t n = 0; n < R; ++n) tanh_rows(H, h_prev + n * H, u.data() + n * H);
          status.check(first->run(R, u.data(), zh_rh.data()));
          status.check(second->run(R, h_prev, zh_rh.data() + H));
        } else {
          status.check(first->run(R, h_prev, zh_rh.data() + H));  // MUT1: w_gates is W_hr; zh stays 0
        }
        const int64_t at = t * N + begin;
        for (int64_t n = 0; n < R; ++n) {
          gate_row(H, xp.typed_data() + (at + n) * X, zh_rh.data() + n * 2 * H, h_prev + n * H,
                   gates->typed_data() + (at + n) * X, q.data() + n * H);
        }
        status.check(candidate.run(R, q.data(), a.data()));
        for (int64_t n = 0; n < R; ++n) {
          blend_row(H, xp.typed_data() + (at + n) * X, a.data() + n * H, h_prev + n * H,
                    gates->typed_data() + (at + n) * X, y->typed_data() + (at + n) * H);
        }
      }
    }
    std::memcpy(h_last->typed_data(), y->typed_data() + (T - 1) * N * H, N * H * sizeof(float));
  });
  return status.error();
}

ffi::Error backward(In gates, In y, In h0, In w_gates, In w_hh, In dy, In dh_last, Out dxp, Out dh0, int64_t form) {
  const auto dims = gates.dimensions();
  const int64_t T = dims[0], N = dims[1], H = dims[2] / 3, X = 3 * H;
  const float *wg = w_gates.typed_data(), *wh = w_hh.typed_data();
  recurrax::MatmulStatus status;
  recurrax::on_worker([&] {
    float *dh_next = dh0->typed_data();  // dL/dh_t from the later steps, then dL/dh_0
    std::memcpy(dh_next, dh_last.typed_data(), N * H * sizeof(float));
    // d W into [R, H] from dxp's parts (row stride 3H): the candidate's, then the gates' added to `carry`
    const auto rows = recurrax::thread_row_counts(N);
    const WeightMatmul through_q(wh, H, H, false, rows, X, H, false);
    std::optional<WeightMatmul> both, reset, update;
    if (form == 2) both.emplace(wg, 2 * H, H, false, rows, X, H, true);                      // [dz, dr] [W_hz; W_hr]
    if (form != 2) reset.emplace(wg + (form == 3 ? H * H : 0), H, H, false, rows, X, H, true);  // dr W_hr
    if (form == 3) update.emplace(wg, H, H, false, rows, X, H, false);                       // dz W_hz
#pragma omp parallel
    {
      const auto [begin, end] = rows_of(N);
      const int64_t R = end - begin;
      std::vector<float> dh(R * H), dq(R * H), carry(R * H);
      for (int64_t t = T - 1; t >= 0 && R > 0; --t) {
        const float *h_prev = (t ? y.typed_data() + (t - 1) * N * H : h0.typed_data()) + begin * H;
        const int64_t at = t * N + begin;
        const float *g = gates.typed_data() + at * X;
        float *d = dxp->typed_data() + at * X;
        for (int64_t k = 0; k < R * H; ++k) dh[k] = dy.typed_data()[at * H + k] + dh_next[begin * H + k];
        for (int64_t n = 0; n < R; ++n) {
          blend_backward_row(H, g + n * X, h_prev + n * H, dh.data() + n * H, d + n * X, carry.data() + n * H);
        }
        status.check(through_q.run(R, d + 2 * H, dq.data()));  // dL/dq
        for (int64_t n = 0; n < R; ++n) {
          reset_backward_row(H, g + n * X, h_prev + n * H, dq.data() + n * H, d + n * X, carry.data() + n * H);
        }
        if (form == 2) {
          status.check(both->run(R, d, carry.data()));
        } else {
          status.check(reset->run(R, d + H, carry.data()));
          if (form == 3) {
            status.check(update->run(R, d, dq.data()));  // through tanh(h_{t-1}) below
            for (int64_t n = 0; n < R; ++n) {
              tanh_backward_row(H, h_prev + n * H, dq.data() + n * H, carry.data() + n * H);
            }
          }
        }
        std::memcpy(dh_next + begin * H, carry.data(), R * H * sizeof(float));
      }
    }
  });
  return status.error();
}

}  // namespace

#define ARG Arg<ffi::Buffer<ffi::F32>>()
#define RET Ret<ffi::Buffer<ffi::F32>>()

XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_mut_forward, forward,
                              ffi::Ffi::Bind()
                                  .ARG.ARG.ARG.ARG  // xp, h0, w_gates, w_hh
                                  .RET.RET.RET      // y, h_T, gates
                                  .Attr<int64_t>("form"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_mut_backward, backward,
                              ffi::Ffi::Bind()
                                  .ARG.ARG.ARG.ARG.ARG.ARG.ARG  // gates, y, h0, w_gates, w_hh, dy, dh_T
                                  .RET.RET                      // dxp, dh0
                                  .Attr<int64_t>("form"));
