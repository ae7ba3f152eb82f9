// The LSTM variants that no oneDNN primitive computes, as XLA FFI custom calls: Greff et al.'s NIAF (no input
// activation, g = z_g) and NOAF (no output activation, h = o * c), with diagonal peepholes, on the recurrent
// matmul of oneDNN (`dnnl_sgemm`) and a vectorised pointwise step written here. The batch rows are split over the
// OpenMP threads (rows never interact: one parallel region per call, no barrier per step).
//
// One layer, one direction, float32, time-major; the input projection xp = x W_ih^T + b is computed outside (one
// large matmul) and so are the weight gradients dW_hh = sum_t dz_t^T h_{t-1}, dW_ih and dx (from dz = d xp):
//
//   recurrax_lstm_variant_forward   xp [T, N, 4H], h0 [N, H], c0 [N, H], w_hh [4H, H], peephole [3, H]
//                                   -> y [T, N, H], h_T, c_T [N, H], gates [T, N, 4H], c [T, N, H]
//   recurrax_lstm_variant_backward  gates, c, c0, w_hh, peephole, dy [T, N, H], dh_T, dc_T
//                                   -> dz [T, N, 4H], dh0, dc0 [N, H], dpeephole [3, H]
//
// Attributes `input_activation` and `output_activation` (tanh on g, tanh on c_t before o). Gates in PyTorch's
// order i, f, g, o; peephole rows i, f (reading c_{t-1}) and o (reading c_t). Per step, with z = xp_t + h W_hh^T:
//
//   i = σ(z_i + p_i c_{t-1}),  f = σ(z_f + p_f c_{t-1}),  g = tanh(z_g) (or z_g),  c_t = f c_{t-1} + i g
//   o = σ(z_o + p_o c_t),  h_t = o tanh(c_t) (or o c_t)
//
// `gates` holds (i, f, g, o) after their activations, what the backward step reads with c_{t-1} and c_t.

#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

#include "oneapi/dnnl/dnnl.h"
#include "pointwise.h"
#include "worker.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

using recurrax::rows_of;
using recurrax::sgemm_error;
using recurrax::sigmoid;
using recurrax::tanh_approx;

// One step of one batch row: z [4H] (xp_t + h W_hh^T), c_prev [H] -> gates [4H], c [H], h [H]. The activations
// are template arguments: GCC did not vectorise the loop with them as run-time flags.
template <bool input_act, bool output_act>
CLONES void forward_row(int64_t hidden, const float *__restrict z,
                        const float *__restrict peep, const float *__restrict c_prev, float *__restrict gates,
                        float *__restrict c, float *__restrict h) {
  const int64_t H = hidden;
  for (int64_t j = 0; j < H; ++j) {
    const float i = sigmoid(z[j] + peep[j] * c_prev[j]);
    const float f = sigmoid(z[H + j] + peep[H + j] * c_prev[j]);
    const float g = input_act ? tanh_approx(z[2 * H + j]) : z[2 * H + j];
    const float c_new = f * c_prev[j] + i * g;
    const float o = sigmoid(z[3 * H + j] + peep[2 * H + j] * c_new);
    gates[j] = i, gates[H + j] = f, gates[2 * H + j] = g, gates[3 * H + j] = o;
    c[j] = c_new;
    h[j] = o * (output_act ? tanh_approx(c_new) : c_new);
  }
}

// The backward of `forward_row`: dh [H] (dy_t + the recurrent gradient), dc [H] (in: dL/dc_t from step t+1; out:
// dL/dc_{t-1}) -> dz [4H]; the peephole gradients are added to dpeep [3H].
template <bool input_act, bool output_act>
CLONES void backward_row(int64_t hidden, const float *__restrict gates,
                         const float *__restrict c, const float *__restrict c_prev, const float *__restrict peep,
                         const float *__restrict dy, const float *__restrict dh_next, float *__restrict dc,
                         float *__restrict dz, float *__restrict dpeep) {
  const int64_t H = hidden;
  for (int64_t j = 0; j < H; ++j) {
    const float i = gates[j], f = gates[H + j], g = gates[2 * H + j], o = gates[3 * H + j];
    const float dh = dy[j] + dh_next[j];
    const float out = output_act ? tanh_approx(c[j]) : c[j];
    const float dz_o = dh * out * o * (1.0f - o);
    const float dc_t = dc[j] + dh * o * (output_act ? 1.0f - out * out : 1.0f) + dz_o * peep[2 * H + j];
    const float dz_i = dc_t * g * i * (1.0f - i);
    const float dz_f = dc_t * c_prev[j] * f * (1.0f - f);
    const float dz_g = input_act ? dc_t * i * (1.0f - g * g) : dc_t * i;
    dz[j] = dz_i, dz[H + j] = dz_f, dz[2 * H + j] = dz_g, dz[3 * H + j] = dz_o;
    dc[j] = dc_t * f + dz_i * peep[j] + dz_f * peep[H + j];
    dpeep[j] += dz_i * c_prev[j], dpeep[H + j] += dz_f * c_prev[j], dpeep[2 * H + j] += dz_o * c[j];
  }
}

using ForwardRow = void (*)(int64_t, const float *, const float *, const float *, float *, float *, float *);
using BackwardRow = void (*)(int64_t, const float *, const float *, const float *, const float *, const float *,
                             const float *, float *, float *, float *);

ForwardRow forward_row_for(bool input_act, bool output_act) {
  if (input_act) return output_act ? forward_row<true, true> : forward_row<true, false>;
  return output_act ? forward_row<false, true> : forward_row<false, false>;
}

BackwardRow backward_row_for(bool input_act, bool output_act) {
  if (input_act) return output_act ? backward_row<true, true> : backward_row<true, false>;
  return output_act ? backward_row<false, true> : backward_row<false, false>;
}

using In = ffi::Buffer<ffi::F32>;
using Out = ffi::ResultBuffer<ffi::F32>;

ffi::Error forward(In xp, In h0, In c0, In w_hh, In peephole, Out y, Out h_last, Out c_last, Out gates, Out cs,
                   bool input_activation, bool output_activation) {
  const auto dims = xp.dimensions();
  const int64_t T = dims[0], N = dims[1], G = dims[2], H = G / 4;
  const ForwardRow row = forward_row_for(input_activation, output_activation);
  std::atomic<int> status{dnnl_success};
  recurrax::on_worker([&] {
    const float *w = w_hh.typed_data(), *peep = peephole.typed_data();
#pragma omp parallel
    {
      const auto [begin, end] = rows_of(N);
      std::vector<float> z((end - begin) * G);
      for (int64_t t = 0; t < T && end > begin; ++t) {
        const float *h_prev = t ? y->typed_data() + (t - 1) * N * H : h0.typed_data();
        const float *c_prev = t ? cs->typed_data() + (t - 1) * N * H : c0.typed_data();
        std::memcpy(z.data(), xp.typed_data() + (t * N + begin) * G, z.size() * sizeof(float));
        const auto done = dnnl_sgemm('N', 'T', end - begin, G, H, 1.0f, h_prev + begin * H, H, w, H, 1.0f, z.data(),
                                     G);  // z += h W^T
        if (done != dnnl_success) status = done;
        for (int64_t n = begin; n < end; ++n) {
          const int64_t at = t * N + n;
          row(H, z.data() + (n - begin) * G, peep, c_prev + n * H, gates->typed_data() + at * G,
              cs->typed_data() + at * H, y->typed_data() + at * H);
        }
      }
    }
    std::memcpy(h_last->typed_data(), y->typed_data() + (T - 1) * N * H, N * H * sizeof(float));
    std::memcpy(c_last->typed_data(), cs->typed_data() + (T - 1) * N * H, N * H * sizeof(float));
  });
  return status == dnnl_success ? ffi::Error::Success() : sgemm_error(status.load());
}

ffi::Error backward(In gates, In cs, In c0, In w_hh, In peephole, In dy, In dh_last, In dc_last, Out dz, Out dh0,
                    Out dc0, Out dpeephole, bool input_activation, bool output_activation) {
  const auto dims = gates.dimensions();
  const int64_t T = dims[0], N = dims[1], G = dims[2], H = G / 4;
  const BackwardRow row = backward_row_for(input_activation, output_activation);
  std::atomic<int> status{dnnl_success};
  recurrax::on_worker([&] {
    // dh0 and dc0 carry the running gradients w.r.t. h and c backwards through time.
    float *dh = dh0->typed_data(), *dc = dc0->typed_data(), *dpeep = dpeephole->typed_data();
    std::memcpy(dh, dh_last.typed_data(), N * H * sizeof(float));
    std::memcpy(dc, dc_last.typed_data(), N * H * sizeof(float));
    std::memset(dpeep, 0, 3 * H * sizeof(float));
    const float *w = w_hh.typed_data(), *peep = peephole.typed_data();
#pragma omp parallel
    {
      const auto [begin, end] = rows_of(N);
      std::vector<float> dpeep_rows(3 * H, 0.0f);
      for (int64_t t = T - 1; t >= 0 && end > begin; --t) {
        const float *c_prev = t ? cs.typed_data() + (t - 1) * N * H : c0.typed_data();
        float *dz_t = dz->typed_data() + t * N * G;
        for (int64_t n = begin; n < end; ++n) {
          const int64_t at = t * N + n;
          row(H, gates.typed_data() + at * G, cs.typed_data() + at * H, c_prev + n * H, peep,
              dy.typed_data() + at * H, dh + n * H, dc + n * H, dz_t + n * G, dpeep_rows.data());
        }
        const auto done = dnnl_sgemm('N', 'N', end - begin, H, G, 1.0f, dz_t + begin * G, G, w, H, 0.0f,
                                     dh + begin * H, H);  // dh = dz W
        if (done != dnnl_success) status = done;
      }
#pragma omp critical
      for (int64_t j = 0; j < 3 * H; ++j) dpeep[j] += dpeep_rows[j];
    }
  });
  return status == dnnl_success ? ffi::Error::Success() : sgemm_error(status.load());
}

}  // namespace

#define ARG Arg<ffi::Buffer<ffi::F32>>()
#define RET Ret<ffi::Buffer<ffi::F32>>()

XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_lstm_variant_forward, forward,
                              ffi::Ffi::Bind()
                                  .ARG.ARG.ARG.ARG.ARG           // xp, h0, c0, w_hh, peephole
                                  .RET.RET.RET.RET.RET           // y, h_T, c_T, gates, c
                                  .Attr<bool>("input_activation")
                                  .Attr<bool>("output_activation"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_lstm_variant_backward, backward,
                              ffi::Ffi::Bind()
                                  .ARG.ARG.ARG.ARG.ARG.ARG.ARG.ARG  // gates, c, c0, w_hh, peephole, dy, dh_T, dc_T
                                  .RET.RET.RET.RET                  // dz, dh0, dc0, dpeephole
                                  .Attr<bool>("input_activation")
                                  .Attr<bool>("output_activation"));
