// The layer-normalised LSTM (Ba, Kiros & Hinton 2016; recurrax's LayerNormLSTMCell) as XLA FFI custom calls: the
// recurrent matmul on oneDNN, both normalisations of the gate pre-activations, the gates and the normalised cell
// state in a vectorised step written here, the batch rows split over the OpenMP threads (`recurrence.h`). The
// projected input's normalisation is done here too: XLA's cost 6x the projection's matmul (B32 T100 H128).
//
// One layer, one direction, float32, time-major; the projection xw = x W_ih^T is computed outside, and so is
// dW_hh = sum_t dhw_t^T h_{t-1}. Per step, gates i, f, g, o, LN(v) = (v - mean(v)) / sqrt(var(v) + eps) over the
// last axis, `shift` = β_x + b + β_h (the three additive vectors of the cell, summed):
//
//   hw = h_{t-1} W_hh^T;  z = γ_x LN(xw_t) + γ_h LN(hw) + shift                                   [4H]
//   c_t = σ(z_f) c_{t-1} + σ(z_i) tanh(z_g);  h_t = σ(z_o) tanh(γ_c LN(c_t) + β_c)
//
//   recurrax_layernorm_lstm_forward   xw [T, N, 4H], h0, c0 [N, H], w_hh [4H, H], γ_x, γ_h, shift [4H],
//                                     γ_c, β_c [H]
//                                     -> y [T, N, H], h_T, c_T, gates, n_x, n_h [T, N, 4H], r_x, r_h [T, N],
//                                        c [T, N, H]
//   recurrax_layernorm_lstm_backward  gates, n_x, n_h, r_x, r_h, c, c0, w_hh, γ_x, γ_h, γ_c, β_c, dy, dh_T, dc_T
//                                     -> dxw, dhw [T, N, 4H], dh0, dc0, dγ_x, dγ_h, dshift [4H], dγ_c, dβ_c [H]
//
// `gates` holds (i, f, g, o) after their activations, n_x and n_h the normalised rows, r_x and r_h their
// 1 / sqrt(var + eps); the backward step recomputes LN(c_t) from c_t.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "oneapi/dnnl/dnnl.h"
#include "pointwise.h"
#include "recurrence.h"
#include "worker.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

using recurrax::sigmoid;
using recurrax::tanh_approx;

// The helpers of the steps are always inlined, so that each is compiled for the target of each clone of its caller:
// GCC called `moments` out of `forward_row`'s AVX-512 clone, compiled for baseline x86-64 (4-wide SSE).
#define INLINE __attribute__((always_inline)) inline

// Mean and 1 / sqrt(var + eps) of v [n].
INLINE std::pair<float, float> moments(int64_t n, const float *__restrict v, float eps) {
  float sum = 0.0f, squares = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) sum += v[j];
  const float mean = sum / n;
#pragma omp simd reduction(+ : squares)
  for (int64_t j = 0; j < n; ++j) squares += (v[j] - mean) * (v[j] - mean);
  return {mean, 1.0f / std::sqrt(squares / n + eps)};
}

// n = LN(v) [n], returns 1 / sqrt(var(v) + eps).
INLINE float normalise(int64_t size, const float *__restrict v, float eps, float *__restrict n) {
  const auto [mean, rstd] = moments(size, v, eps);
  for (int64_t j = 0; j < size; ++j) n[j] = (v[j] - mean) * rstd;
  return rstd;
}

// dL/dv of n = LN(v) from dL/dn = gain * dz: r (dn - mean(dn) - n mean(dn n)) [size], written to `out`.
INLINE void normalise_backward(int64_t size, float r, const float *__restrict n, const float *__restrict gain,
                               const float *__restrict dz, float *__restrict out) {
  float sum = 0.0f, sum_n = 0.0f;
#pragma omp simd reduction(+ : sum, sum_n)
  for (int64_t j = 0; j < size; ++j) sum += dz[j] * gain[j], sum_n += dz[j] * gain[j] * n[j];
  for (int64_t j = 0; j < size; ++j) out[j] = r * (dz[j] * gain[j] - sum / size - n[j] * sum_n / size);
}

// One step of one batch row: xw, hw [4H], c_prev [H] -> gates, n_x, n_h [4H], r_x, r_h, c, h [H].
CLONES void forward_row(int64_t hidden, float eps, const float *__restrict xw, const float *__restrict hw,
                        const float *__restrict gain_x, const float *__restrict gain_h,
                        const float *__restrict shift, const float *__restrict gain_c,
                        const float *__restrict shift_c, const float *__restrict c_prev, float *__restrict gates,
                        float *__restrict n_x, float *__restrict n_h, float *__restrict r_x, float *__restrict r_h,
                        float *__restrict c, float *__restrict h) {
  const int64_t H = hidden, G = 4 * hidden;
  *r_x = normalise(G, xw, eps, n_x);
  *r_h = normalise(G, hw, eps, n_h);
  auto z = [&](int64_t j) { return gain_x[j] * n_x[j] + gain_h[j] * n_h[j] + shift[j]; };
  for (int64_t j = 0; j < H; ++j) {
    const float i = sigmoid(z(j)), f = sigmoid(z(H + j)), g = tanh_approx(z(2 * H + j)), o = sigmoid(z(3 * H + j));
    gates[j] = i, gates[H + j] = f, gates[2 * H + j] = g, gates[3 * H + j] = o;
    c[j] = f * c_prev[j] + i * g;
  }
  const auto [mean_c, rstd_c] = moments(H, c, eps);
  for (int64_t j = 0; j < H; ++j) {
    h[j] = gates[3 * H + j] * tanh_approx(gain_c[j] * (c[j] - mean_c) * rstd_c + shift_c[j]);
  }
}

// Per-thread sums of the normalisations' parameter gradients, and the thread's scratch row dz [4H].
struct Sums {
  std::vector<float> gain_x, gain_h, shift, gain_c, shift_c, dz;
  explicit Sums(int64_t hidden)
      : gain_x(4 * hidden, 0.0f), gain_h(4 * hidden, 0.0f), shift(4 * hidden, 0.0f), gain_c(hidden, 0.0f),
        shift_c(hidden, 0.0f), dz(4 * hidden) {}
};

// The backward of `forward_row`: dy, dh_next [H]; dc [H] (in: dL/dc_t from step t+1, out: dL/dc_{t-1});
// scratch [4H] -> dxw, dhw [4H], the parameter gradients added to `sums`.
CLONES void backward_row(int64_t hidden, float eps, const float *__restrict gates, const float *__restrict n_x,
                         const float *__restrict n_h, float r_x, float r_h, const float *__restrict c,
                         const float *__restrict c_prev, const float *__restrict gain_x,
                         const float *__restrict gain_h, const float *__restrict gain_c,
                         const float *__restrict shift_c, const float *__restrict dy,
                         const float *__restrict dh_next, float *__restrict dc, float *__restrict dxw,
                         float *__restrict dhw, float *__restrict dz, float *__restrict d_gain_x,
                         float *__restrict d_gain_h, float *__restrict d_shift, float *__restrict d_gain_c,
                         float *__restrict d_shift_c) {
  const int64_t H = hidden, G = 4 * hidden;
  const auto [mean_c, rstd_c] = moments(H, c, eps);
  float sum_dn = 0.0f, sum_dn_n = 0.0f;
#pragma omp simd reduction(+ : sum_dn, sum_dn_n)
  for (int64_t j = 0; j < H; ++j) {
    const float n_c = (c[j] - mean_c) * rstd_c, out = tanh_approx(gain_c[j] * n_c + shift_c[j]);
    const float o = gates[3 * H + j], dh = dy[j] + dh_next[j];
    dz[3 * H + j] = dh * out * o * (1.0f - o);
    const float dm = dh * o * (1.0f - out * out);
    d_gain_c[j] += dm * n_c, d_shift_c[j] += dm;
    dz[j] = dm * gain_c[j];  // dL/dLN(c_t), kept in dz[0:H] until the input gate's entry overwrites it
    sum_dn += dz[j], sum_dn_n += dz[j] * n_c;
  }
  for (int64_t j = 0; j < H; ++j) {
    const float n_c = (c[j] - mean_c) * rstd_c;
    const float dc_t = dc[j] + rstd_c * (dz[j] - sum_dn / H - n_c * sum_dn_n / H);
    const float i = gates[j], f = gates[H + j], g = gates[2 * H + j];
    dz[j] = dc_t * g * i * (1.0f - i);
    dz[H + j] = dc_t * c_prev[j] * f * (1.0f - f);
    dz[2 * H + j] = dc_t * i * (1.0f - g * g);
    dc[j] = dc_t * f;
  }
  for (int64_t j = 0; j < G; ++j) d_gain_x[j] += dz[j] * n_x[j], d_gain_h[j] += dz[j] * n_h[j], d_shift[j] += dz[j];
  normalise_backward(G, r_x, n_x, gain_x, dz, dxw);
  normalise_backward(G, r_h, n_h, gain_h, dz, dhw);
}

using In = ffi::Buffer<ffi::F32>;
using Out = ffi::ResultBuffer<ffi::F32>;

ffi::Error forward(In xw, In h0, In c0, In w_hh, In gain_x, In gain_h, In shift, In gain_c, In shift_c, Out y,
                   Out h_last, Out c_last, Out gates, Out n_x, Out n_h, Out r_x, Out r_h, Out cs, float eps) {
  const auto dims = xw.dimensions();
  const int64_t T = dims[0], N = dims[1], G = dims[2], H = G / 4;
  recurrax::MatmulStatus status;
  recurrax::on_worker([&] {
    const float *c_0 = c0.typed_data();
    float *c = cs->typed_data();
    status.check(recurrax::forward_recurrence(
        T, N, H, G, w_hh.typed_data(), h0.typed_data(), y->typed_data(), [&](int64_t t, int64_t n, const float *hw) {
          const int64_t at = t * N + n;
          forward_row(H, eps, xw.typed_data() + at * G, hw, gain_x.typed_data(), gain_h.typed_data(),
                      shift.typed_data(), gain_c.typed_data(), shift_c.typed_data(), t ? c + (at - N) * H : c_0 + n * H,
                      gates->typed_data() + at * G, n_x->typed_data() + at * G, n_h->typed_data() + at * G,
                      r_x->typed_data() + at, r_h->typed_data() + at, c + at * H, y->typed_data() + at * H);
        }));
    std::memcpy(h_last->typed_data(), y->typed_data() + (T - 1) * N * H, N * H * sizeof(float));
    std::memcpy(c_last->typed_data(), c + (T - 1) * N * H, N * H * sizeof(float));
  });
  return status.error();
}

ffi::Error backward(In gates, In n_x, In n_h, In r_x, In r_h, In cs, In c0, In w_hh, In gain_x, In gain_h,
                    In gain_c, In shift_c, In dy, In dh_last, In dc_last, Out dxw, Out dhw, Out dh0, Out dc0,
                    Out d_gain_x, Out d_gain_h, Out d_shift, Out d_gain_c, Out d_shift_c, float eps) {
  const auto dims = gates.dimensions();
  const int64_t T = dims[0], N = dims[1], G = dims[2], H = G / 4;
  recurrax::MatmulStatus status;
  recurrax::on_worker([&] {
    // dh0 and dc0 carry the running gradients w.r.t. h and c backwards through time.
    float *dh = dh0->typed_data(), *dc = dc0->typed_data();
    std::memcpy(dh, dh_last.typed_data(), N * H * sizeof(float));
    std::memcpy(dc, dc_last.typed_data(), N * H * sizeof(float));
    Out *totals[] = {&d_gain_x, &d_gain_h, &d_shift, &d_gain_c, &d_shift_c};
    for (Out *total : totals) std::memset((*total)->typed_data(), 0, (*total)->element_count() * sizeof(float));
    const float *c = cs.typed_data(), *c_0 = c0.typed_data();
    status.check(recurrax::backward_recurrence(
        T, N, H, G, G, w_hh.typed_data(), dhw->typed_data(), dh, [&] { return Sums(H); },
        [&](Sums &sums, int64_t t, int64_t n) {
          const int64_t at = t * N + n;
          backward_row(H, eps, gates.typed_data() + at * G, n_x.typed_data() + at * G, n_h.typed_data() + at * G,
                       r_x.typed_data()[at], r_h.typed_data()[at], c + at * H, t ? c + (at - N) * H : c_0 + n * H,
                       gain_x.typed_data(), gain_h.typed_data(), gain_c.typed_data(), shift_c.typed_data(),
                       dy.typed_data() + at * H, dh + n * H, dc + n * H, dxw->typed_data() + at * G,
                       dhw->typed_data() + at * G, sums.dz.data(), sums.gain_x.data(), sums.gain_h.data(),
                       sums.shift.data(), sums.gain_c.data(), sums.shift_c.data());
        },
        [&](const Sums &sums) {
          const std::vector<float> *parts[] = {&sums.gain_x, &sums.gain_h, &sums.shift, &sums.gain_c, &sums.shift_c};
          for (int k = 0; k < 5; ++k) {
            float *total = (*totals[k])->typed_data();
            for (size_t j = 0; j < parts[k]->size(); ++j) total[j] += (*parts[k])[j];
          }
        }));
  });
  return status.error();
}

}  // namespace

#define ARG Arg<ffi::Buffer<ffi::F32>>()
#define RET Ret<ffi::Buffer<ffi::F32>>()

XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_layernorm_lstm_forward, forward,
                              ffi::Ffi::Bind()
                                  .ARG.ARG.ARG.ARG.ARG.ARG.ARG.ARG.ARG  // xw, h0, c0, w_hh, γ_x, γ_h, shift, γ_c,
                                                                        // β_c
                                  .RET.RET.RET.RET.RET.RET.RET.RET.RET  // y, h_T, c_T, gates, n_x, n_h, r_x, r_h, c
                                  .Attr<float>("eps"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_layernorm_lstm_backward, backward,
                              ffi::Ffi::Bind()
                                  .ARG.ARG.ARG.ARG.ARG.ARG.ARG.ARG  // gates, n_x, n_h, r_x, r_h, c, c0, w_hh
                                  .ARG.ARG.ARG.ARG.ARG.ARG.ARG      // γ_x, γ_h, γ_c, β_c, dy, dh_T, dc_T
                                  .RET.RET.RET.RET                  // dxw, dhw, dh0, dc0
                                  .RET.RET.RET.RET.RET              // dγ_x, dγ_h, dshift, dγ_c, dβ_c
                                  .Attr<float>("eps"));
