// The LSTM variants that no oneDNN primitive computes, as XLA FFI custom calls: Greff et al.'s NIAF (no input
// activation, g = z_g) and NOAF (no output activation, h = o * c), with diagonal peepholes, and the depth-gated
// LSTM of Yao et al. 2015, on the recurrent matmul of oneDNN (`dnnl_sgemm`) and a vectorised step written here
// (`recurrence.h`: the batch rows split over the OpenMP threads).
//
// One layer, one direction, float32, time-major; the input projection xp = x W_ih^T + b is computed outside (one
// large matmul) and so are the weight gradients dW_hh = sum_t dz_t^T h_{t-1}, dW_ih and dx (from dxp):
//
//   recurrax_lstm_variant_forward   xp [T, N, X], lower [T, N, L], h0 [N, H], c0 [N, H], w_hh [4H, H],
//                                   peephole [3, H], w_cd [H], w_ld [H]
//                                   -> y [T, N, H], h_T, c_T [N, H], gates [T, N, A], c [T, N, H]
//   recurrax_lstm_variant_backward  gates, c, lower, c0, w_hh, peephole, w_cd, w_ld, dy [T, N, H],
//                                   dc_out [T, N, H], dh_T, dc_T
//                                   -> dxp [T, N, X], dlower [T, N, H], dh0, dc0 [N, H], dpeephole [3, H],
//                                      dw_cd [H], dw_ld [H]
//
// Attributes `input_activation`, `output_activation` (tanh on g, tanh on c_t before o), `depth` (the depth gate:
// X = A = 5H, the lower layer's memory c_low the last H of each row of `lower`, the layer's input [h_low, c_low],
// read there rather than copied into xp; else X = A = 4H and lower, w_cd, w_ld, dc_out, dlower, dw_ld are neither
// read nor written) and `bfloat16` (the recurrent matmuls on bfloat16 operands, accumulated in float32:
// `WeightMatmul`). Gates in PyTorch's order i, f, g, o;
// peephole rows i, f (reading c_{t-1}) and o (reading c_t). Per step, with z = xp_t[:4H] + h_{t-1} W_hh^T:
//
//   i = σ(z_i + p_i c_{t-1}),  f = σ(z_f + p_f c_{t-1}),  g = tanh(z_g) (or z_g),  c_t = f c_{t-1} + i g
//   with the depth gate, xp_t = [.., a_d] (a_d = W_id x + b_d) and c_low the lower layer's c_t:
//   d = σ(a_d + w_ld c_low + w_cd c_{t-1}),  c_t += d c_low
//   o = σ(z_o + p_o c_t),  h_t = o tanh(c_t) (or o c_t)
//
// `gates` holds (i, f, g, o[, d]) after their activations, what the backward step reads with c_{t-1} and c_t;
// dc_out is the gradient w.r.t. the cell states as outputs (a depth-gated layer below another emits them).

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

// One step of one batch row: xp [X], c_low [H] (depth), hw [4H] (h_{t-1} W_hh^T), c_prev [H] -> gates [A], c [H],
// h [H]. The variant is in the template arguments: GCC did not vectorise the loop with run-time flags.
template <bool input_act, bool output_act, bool depth>
CLONES void forward_row(int64_t hidden, const float *__restrict xp, const float *__restrict c_low,
                        const float *__restrict hw, const float *__restrict peep, const float *__restrict w_cd,
                        const float *__restrict w_ld, const float *__restrict c_prev, float *__restrict gates,
                        float *__restrict c, float *__restrict h) {
  const int64_t H = hidden;
  for (int64_t j = 0; j < H; ++j) {
    const float i = sigmoid(xp[j] + hw[j] + peep[j] * c_prev[j]);
    const float f = sigmoid(xp[H + j] + hw[H + j] + peep[H + j] * c_prev[j]);
    const float g_in = xp[2 * H + j] + hw[2 * H + j];
    const float g = input_act ? tanh_approx(g_in) : g_in;
    float c_new = f * c_prev[j] + i * g;
    if (depth) {
      const float d = sigmoid(xp[4 * H + j] + w_ld[j] * c_low[j] + w_cd[j] * c_prev[j]);
      c_new += d * c_low[j];
      gates[4 * H + j] = d;
    }
    const float o = sigmoid(xp[3 * H + j] + hw[3 * H + j] + peep[2 * H + j] * c_new);
    gates[j] = i, gates[H + j] = f, gates[2 * H + j] = g, gates[3 * H + j] = o;
    c[j] = c_new;
    h[j] = o * (output_act ? tanh_approx(c_new) : c_new);
  }
}

// Per-thread sums of the peephole and depth-weight gradients.
struct Sums {
  std::vector<float> peephole, depth, lower;
  explicit Sums(int64_t hidden) : peephole(3 * hidden, 0.0f), depth(hidden, 0.0f), lower(hidden, 0.0f) {}
};

// The backward of `forward_row`: dy, dc_out, dh_next [H] (dL/dh_t from the later steps), dc [H] (in: dL/dc_t from
// step t+1; out: dL/dc_{t-1}) -> dxp [X] (its first 4H: dL/dz), dlow [H] (dL/dc_low); the peephole and
// depth-weight gradients are added to dpeep [3H], dw_cd [H], dw_ld [H].
template <bool input_act, bool output_act, bool depth>
CLONES void backward_row(int64_t hidden, const float *__restrict gates, const float *__restrict c,
                         const float *__restrict c_prev, const float *__restrict c_low,
                         const float *__restrict peep, const float *__restrict w_cd, const float *__restrict w_ld,
                         const float *__restrict dy, const float *__restrict dc_out, const float *__restrict dh_next,
                         float *__restrict dc, float *__restrict dxp, float *__restrict dlow,
                         float *__restrict dpeep, float *__restrict dw_cd, float *__restrict dw_ld) {
  const int64_t H = hidden;
  // The blocks j, H + j, ... of one array never meet across iterations (0 <= j < H), which GCC cannot prove for
  // a run-time H: with the depth gate it found more such pairs than its alias checks allow and left the loop
  // scalar (the backward step 2.4x slower at c1). `ivdep` tells it so.
#pragma GCC ivdep
  for (int64_t j = 0; j < H; ++j) {
    const float i = gates[j], f = gates[H + j], g = gates[2 * H + j], o = gates[3 * H + j];
    const float dh = dy[j] + dh_next[j];
    const float out = output_act ? tanh_approx(c[j]) : c[j];
    const float dz_o = dh * out * o * (1.0f - o);
    float dc_t = dc[j] + dh * o * (output_act ? 1.0f - out * out : 1.0f) + dz_o * peep[2 * H + j];
    if (depth) dc_t += dc_out[j];
    const float dz_i = dc_t * g * i * (1.0f - i);
    const float dz_f = dc_t * c_prev[j] * f * (1.0f - f);
    const float dz_g = input_act ? dc_t * i * (1.0f - g * g) : dc_t * i;
    dxp[j] = dz_i, dxp[H + j] = dz_f, dxp[2 * H + j] = dz_g, dxp[3 * H + j] = dz_o;
    float dc_prev = dc_t * f + dz_i * peep[j] + dz_f * peep[H + j];
    if (depth) {
      const float d = gates[4 * H + j], dz_d = dc_t * c_low[j] * d * (1.0f - d);
      dxp[4 * H + j] = dz_d, dlow[j] = dc_t * d + dz_d * w_ld[j];
      dc_prev += dz_d * w_cd[j];
      dw_cd[j] += dz_d * c_prev[j], dw_ld[j] += dz_d * c_low[j];
    }
    dc[j] = dc_prev;
    dpeep[j] += dz_i * c_prev[j], dpeep[H + j] += dz_f * c_prev[j], dpeep[2 * H + j] += dz_o * c[j];
  }
}

using ForwardRow = decltype(&forward_row<true, true, false>);
using BackwardRow = decltype(&backward_row<true, true, false>);

// The instantiation for the run-time flags.
template <bool... known>
std::pair<ForwardRow, BackwardRow> rows_for(bool input_act, bool output_act, bool depth) {
  if constexpr (sizeof...(known) == 3) {
    return {forward_row<known...>, backward_row<known...>};
  } else {
    const bool flag = sizeof...(known) == 0 ? input_act : sizeof...(known) == 1 ? output_act : depth;
    return flag ? rows_for<known..., true>(input_act, output_act, depth)
                : rows_for<known..., false>(input_act, output_act, depth);
  }
}

using In = ffi::Buffer<ffi::F32>;
using Out = ffi::ResultBuffer<ffi::F32>;

ffi::Error forward(In xp, In lower, In h0, In c0, In w_hh, In peephole, In w_cd, In w_ld, Out y, Out h_last,
                   Out c_last, Out gates, Out cs, bool input_activation, bool output_activation, bool depth,
                   bool bfloat16) {
  const auto dims = xp.dimensions();
  const int64_t T = dims[0], N = dims[1], X = dims[2], H = h0.dimensions()[1], A = gates->dimensions()[2];
  const int64_t L = lower.dimensions()[2];
  const ForwardRow row = rows_for(input_activation, output_activation, depth).first;
  recurrax::MatmulStatus status;
  recurrax::on_worker([&] {
    const float *c_0 = c0.typed_data();
    float *c = cs->typed_data();
    status.check(recurrax::forward_recurrence(T, N, H, 4 * H, w_hh.typed_data(), h0.typed_data(), y->typed_data(),
                                          [&](int64_t t, int64_t n, const float *hw) {
                                            const int64_t at = t * N + n;
                                            const float *c_prev = t ? c + (at - N) * H : c_0 + n * H;
                                            const float *c_low = depth ? lower.typed_data() + at * L + L - H
                                                                       : nullptr;
                                            row(H, xp.typed_data() + at * X, c_low, hw, peephole.typed_data(),
                                                w_cd.typed_data(), w_ld.typed_data(), c_prev,
                                                gates->typed_data() + at * A, c + at * H, y->typed_data() + at * H);
                                          },
                                          bfloat16));
    std::memcpy(h_last->typed_data(), y->typed_data() + (T - 1) * N * H, N * H * sizeof(float));
    std::memcpy(c_last->typed_data(), c + (T - 1) * N * H, N * H * sizeof(float));
  });
  return status.error();
}

ffi::Error backward(In gates, In cs, In lower, In c0, In w_hh, In peephole, In w_cd, In w_ld, In dy, In dc_out,
                    In dh_last, In dc_last, Out dxp, Out dlower, Out dh0, Out dc0, Out dpeephole, Out dw_cd,
                    Out dw_ld, bool input_activation, bool output_activation, bool depth, bool bfloat16) {
  const auto dims = dxp->dimensions();
  const int64_t T = dims[0], N = dims[1], X = dims[2], H = c0.dimensions()[1], A = gates.dimensions()[2];
  const int64_t L = lower.dimensions()[2];
  const BackwardRow row = rows_for(input_activation, output_activation, depth).second;
  recurrax::MatmulStatus status;
  recurrax::on_worker([&] {
    // dh0 and dc0 carry the running gradients w.r.t. h and c backwards through time.
    float *dh = dh0->typed_data(), *dc = dc0->typed_data();
    std::memcpy(dh, dh_last.typed_data(), N * H * sizeof(float));
    std::memcpy(dc, dc_last.typed_data(), N * H * sizeof(float));
    std::memset(dpeephole->typed_data(), 0, 3 * H * sizeof(float));
    std::memset(dw_cd->typed_data(), 0, H * sizeof(float));
    std::memset(dw_ld->typed_data(), 0, H * sizeof(float));
    const float *c = cs.typed_data(), *c_0 = c0.typed_data();
    status.check(recurrax::backward_recurrence(
        T, N, H, 4 * H, X, w_hh.typed_data(), dxp->typed_data(), dh, [&] { return Sums(H); },
        [&](Sums &sums, int64_t t, int64_t n) {
          const int64_t at = t * N + n;
          const float *c_prev = t ? c + (at - N) * H : c_0 + n * H;
          const float *c_low = depth ? lower.typed_data() + at * L + L - H : nullptr;
          row(H, gates.typed_data() + at * A, c + at * H, c_prev, c_low, peephole.typed_data(), w_cd.typed_data(),
              w_ld.typed_data(), dy.typed_data() + at * H, dc_out.typed_data() + at * H, dh + n * H, dc + n * H,
              dxp->typed_data() + at * X, depth ? dlower->typed_data() + at * H : nullptr, sums.peephole.data(),
              sums.depth.data(), sums.lower.data());
        },
        [&](const Sums &sums) {
          for (int64_t j = 0; j < 3 * H; ++j) dpeephole->typed_data()[j] += sums.peephole[j];
          for (int64_t j = 0; j < H; ++j) {
            dw_cd->typed_data()[j] += sums.depth[j], dw_ld->typed_data()[j] += sums.lower[j];
          }
        },
        false, bfloat16));
  });
  return status.error();
}

}  // namespace

#define ARG Arg<ffi::Buffer<ffi::F32>>()
#define RET Ret<ffi::Buffer<ffi::F32>>()
#define VARIANT \
  Attr<bool>("input_activation").Attr<bool>("output_activation").Attr<bool>("depth").Attr<bool>("bfloat16")

XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_lstm_variant_forward, forward,
                              ffi::Ffi::Bind()
                                  .ARG.ARG.ARG.ARG.ARG.ARG.ARG.ARG  // xp, lower, h0, c0, w_hh, peephole, w_cd, w_ld
                                  .RET.RET.RET.RET.RET              // y, h_T, c_T, gates, c
                                  .VARIANT);
XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_lstm_variant_backward, backward,
                              ffi::Ffi::Bind()
                                  .ARG.ARG.ARG.ARG.ARG.ARG.ARG.ARG  // gates, c, lower, c0, w_hh, peephole, w_cd, w_ld
                                  .ARG.ARG.ARG.ARG                  // dy, dc_out, dh_T, dc_T
                                  .RET.RET.RET.RET.RET.RET.RET  // dxp, dlower, dh0, dc0, dpeephole, dw_cd, dw_ld
                                  .VARIANT);
