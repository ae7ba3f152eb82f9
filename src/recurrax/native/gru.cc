// The GRU in PyTorch's form (recurrax's GRUCell) as XLA FFI custom calls for layers too small for oneDNN's
// `lbr_gru` (its threads meet at every time step): the recurrent matmul on oneDNN and the gates in a vectorised
// step written here, the batch rows split over the OpenMP threads (`recurrence.h`).
//
// One layer, one direction, float32, time-major; xp = x W_ih^T + b_ih (+ b_hr, b_hz folded in) is computed outside,
// and so is dW_hh = sum_t dhw_t^T h_{t-1}. Per step, gates r, z, n:
//
//   hw = h_{t-1} W_hh^T;  r = σ(xp_r + hw_r),  z = σ(xp_z + hw_z),  n = tanh(xp_n + r (hw_n + b_hn))
//   h_t = (1 - z) n + z h_{t-1}
//
//   recurrax_gru_forward   xp [T, N, 3H], h0 [N, H], w_hh [3H, H], b_hn [H] -> y [T, N, H], h_T,
//                          gates [T, N, 4H] (r, z, n, hw_n + b_hn)
//   recurrax_gru_backward  gates, y, h0, w_hh, dy, dh_T -> dxp, dhw [T, N, 3H] (the gradients of xp and of
//                          hw + (0, 0, b_hn)), dh0

#include <cstdint>
#include <cstring>

#include "pointwise.h"
#include "recurrence.h"
#include "worker.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

using recurrax::sigmoid;
using recurrax::tanh_approx;

// One step of one batch row: xp [3H], hw [3H], h_prev [H] -> gates [4H], h [H].
CLONES void forward_row(int64_t H, const float *__restrict xp, const float *__restrict hw,
                        const float *__restrict b_hn, const float *__restrict h_prev, float *__restrict gates,
                        float *__restrict h) {
  for (int64_t j = 0; j < H; ++j) {
    const float r = sigmoid(xp[j] + hw[j]), z = sigmoid(xp[H + j] + hw[H + j]);
    const float hn = hw[2 * H + j] + b_hn[j], n = tanh_approx(xp[2 * H + j] + r * hn);
    gates[j] = r, gates[H + j] = z, gates[2 * H + j] = n, gates[3 * H + j] = hn;
    h[j] = (1.0f - z) * n + z * h_prev[j];
  }
}

// The backward of `forward_row`: dy, dh [H] (in: dL/dh_t from the later steps; out: its part that reaches h_{t-1}
// through z h_{t-1}) -> dxp, dhw [3H].
CLONES void backward_row(int64_t H, const float *__restrict gates, const float *__restrict h_prev,
                         const float *__restrict dy, float *__restrict dh, float *__restrict dxp,
                         float *__restrict dhw) {
  for (int64_t j = 0; j < H; ++j) {
    const float r = gates[j], z = gates[H + j], n = gates[2 * H + j], hn = gates[3 * H + j];
    const float dh_t = dy[j] + dh[j];
    const float da_n = dh_t * (1.0f - z) * (1.0f - n * n);
    const float da_r = da_n * hn * r * (1.0f - r), da_z = dh_t * (h_prev[j] - n) * z * (1.0f - z);
    dxp[j] = da_r, dxp[H + j] = da_z, dxp[2 * H + j] = da_n;
    dhw[j] = da_r, dhw[H + j] = da_z, dhw[2 * H + j] = da_n * r;
    dh[j] = dh_t * z;
  }
}

using In = ffi::Buffer<ffi::F32>;
using Out = ffi::ResultBuffer<ffi::F32>;

ffi::Error forward(In xp, In h0, In w_hh, In b_hn, Out y, Out h_last, Out gates) {
  const auto dims = xp.dimensions();
  const int64_t T = dims[0], N = dims[1], X = dims[2], H = X / 3;
  recurrax::MatmulStatus status;
  recurrax::on_worker([&] {
    const float *h_0 = h0.typed_data();
    float *ys = y->typed_data();
    status.check(recurrax::forward_recurrence(T, N, H, X, w_hh.typed_data(), h_0, ys,
                                              [&](int64_t t, int64_t n, const float *hw) {
                                                const int64_t at = t * N + n;
                                                forward_row(H, xp.typed_data() + at * X, hw, b_hn.typed_data(),
                                                            t ? ys + (at - N) * H : h_0 + n * H,
                                                            gates->typed_data() + at * 4 * H, ys + at * H);
                                              }));
    std::memcpy(h_last->typed_data(), ys + (T - 1) * N * H, N * H * sizeof(float));
  });
  return status.error();
}

ffi::Error backward(In gates, In y, In h0, In w_hh, In dy, In dh_last, Out dxp, Out dhw, Out dh0) {
  const auto dims = gates.dimensions();
  const int64_t T = dims[0], N = dims[1], H = dims[2] / 4, X = 3 * H;
  recurrax::MatmulStatus status;
  recurrax::on_worker([&] {
    float *dh = dh0->typed_data();  // dL/dh_t from the later steps, then dL/dh_0
    std::memcpy(dh, dh_last.typed_data(), N * H * sizeof(float));
    const float *ys = y.typed_data(), *h_0 = h0.typed_data();
    struct None {};
    status.check(recurrax::backward_recurrence(
        T, N, H, X, X, w_hh.typed_data(), dhw->typed_data(), dh, [] { return None{}; },
        [&](None &, int64_t t, int64_t n) {
          const int64_t at = t * N + n;
          backward_row(H, gates.typed_data() + at * 4 * H, t ? ys + (at - N) * H : h_0 + n * H,
                       dy.typed_data() + at * H, dh + n * H, dxp->typed_data() + at * X, dhw->typed_data() + at * X);
        },
        [](const None &) {}, true));
  });
  return status.error();
}

}  // namespace

#define ARG Arg<ffi::Buffer<ffi::F32>>()
#define RET Ret<ffi::Buffer<ffi::F32>>()

XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_gru_forward, forward,
                              ffi::Ffi::Bind().ARG.ARG.ARG.ARG  // xp, h0, w_hh, b_hn
                                  .RET.RET.RET);                // y, h_T, gates
XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_gru_backward, backward,
                              ffi::Ffi::Bind().ARG.ARG.ARG.ARG.ARG.ARG  // gates, y, h0, w_hh, dy, dh_T
                                  .RET.RET.RET);                        // dxp, dhw, dh0
