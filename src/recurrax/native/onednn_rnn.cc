// oneDNN's LSTM and GRU primitives (the LSTM is torch nn.LSTM's CPU kernel) as XLA FFI custom calls.
//
// One layer, one direction, float32, time-major (the inference calls also batch-major: attribute
// `batch_first`, x [N, T, I] and y [N, T, H]). The weights arrive in oneDNN's `ldgoi` layout for dims
// {1, 1, I, G, H} (PyTorch's [G*H, I]) and each call reorders them into the layout the primitive chose.
//
//   LSTM (G = 4, gates i, f, g, o: PyTorch's order), bias [4H] = bias_ih + bias_hh:
//   recurrax_onednn_lstm_forward   x [T, N, I], h0 [N, H], c0 [N, H], w_ih [4H, I], w_hh [4H, H], bias [4H]
//                                  -> y [T, N, H], h_T [N, H], c_T [N, H], workspace [bytes] (u8)
//   recurrax_onednn_lstm_inference the same inputs -> y, h_T, c_T (no workspace)
//   recurrax_onednn_lstm_backward  x, h0, c0, w_ih, w_hh, bias, y, h_T, c_T, workspace, dy, dh_T, dc_T
//                                  -> dx [T, N, I], dh0, dc0, dw_ih [4H, I], dw_hh [4H, H], dbias [4H]
//
//   Peephole LSTM: recurrax_onednn_peephole_lstm_{forward,inference,backward}, the LSTM's with w_peephole [3, H]
//   (rows i, f, o; after w_hh) among the inputs and dw_peephole (after dw_hh) among the backward's outputs.
//
//   LSTMP: recurrax_onednn_projection_lstm_{forward,inference,backward}, the peephole LSTM's argument lists with
//   w_hr [P, H] (h_t = W_hr (o_t * tanh(c_t))) in place of w_peephole; w_hh is [4H, P], h0, h_T [N, P], y [T, N, P].
//
//   GRU, oneDNN's `lbr_gru` (PyTorch's form: the reset gate multiplies W_hn h + b_hn), G = 3 in oneDNN's order
//   u (update, PyTorch's z), r, o (candidate, PyTorch's n), bias [4H] = (b_u, b_r, b_o from x, b_o from h):
//   recurrax_onednn_gru_forward    x, h0, w_ih [3H, I], w_hh [3H, H], bias [4H] -> y, h_T, workspace
//   recurrax_onednn_gru_inference  the same inputs -> y, h_T
//   recurrax_onednn_gru_backward   x, h0, w_ih, w_hh, bias, y, h_T, workspace, dy, dh_T
//                                  -> dx, dh0, dw_ih [3H, I], dw_hh [3H, H], dbias [4H]
//
//   Cho GRU: recurrax_onednn_cho_gru_{forward,inference,backward}, oneDNN's `gru` (Cho et al.'s form: the reset
//   gate multiplies h before W_hn), the GRU's argument lists with bias [3H] = (b_u, b_r, b_o).
//
// Primitive descriptors and primitives are cached per shape. Every primitive runs on one worker thread (see
// `on_worker`), with the scratchpad (user mode) and the re-laid weights in buffers kept across calls (see
// `pooled`). `recurrax_onednn_{cell}_workspace_bytes` (plain C, for ctypes) give the workspace size.

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "worker.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;

namespace {

using Shape = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, bool>;  // T, N, I, H, R, batch-major x, y
// R is the recurrent size: the projection size P of a projection LSTM (h_t, y_t are [N, P]), H otherwise.

using recurrax::cpu_engine;

// The two cells: their primitives, gate count, and whether they carry a cell state.
struct Lstm {
  using Forward = dnnl::lstm_forward;
  using Backward = dnnl::lstm_backward;
  static constexpr int64_t kGates = 4, kBiasGates = 4;
  static constexpr bool kCellState = true, kPeephole = false, kProjection = false;
};

struct PeepholeLstm : Lstm {  // diagonal peepholes on i, f (from c_{t-1}) and o (from c_t): weights [3, H]
  static constexpr bool kPeephole = true;
};

struct ProjectionLstm : Lstm {  // LSTMP: h_t = W_hr (o_t * tanh(c_t)), W_hr [P, H] (torch's weight_hr_l0)
  static constexpr bool kProjection = true;
};

struct Gru {
  using Forward = dnnl::lbr_gru_forward;
  using Backward = dnnl::lbr_gru_backward;
  static constexpr int64_t kGates = 3, kBiasGates = 4;
  static constexpr bool kCellState = false, kPeephole = false, kProjection = false;
};

struct ChoGru : Gru {  // the reset gate before the recurrent matmul of the candidate: one bias per gate
  using Forward = dnnl::gru_forward;
  using Backward = dnnl::gru_backward;
  static constexpr int64_t kBiasGates = 3;
};

template <typename Cell>
struct Descs {
  memory::desc src_layer, src_iter, iter_c, weights_layer, weights_iter, peephole, projection, bias, dst_layer,
      dst_iter;
  memory::desc user_weights_layer, user_weights_iter, user_projection;
  explicit Descs(const Shape &shape) {
    const auto [t, n, i, h, r, batch_first] = shape;
    const auto f32 = memory::data_type::f32;
    using tag = memory::format_tag;
    const auto layer = batch_first ? tag::ntc : tag::tnc;  // oneDNN reads and writes either: no transposes
    src_layer = memory::desc({t, n, i}, f32, layer);
    src_iter = memory::desc({1, 1, n, r}, f32, tag::ldnc);
    iter_c = memory::desc({1, 1, n, h}, f32, tag::ldnc);  // c_0 and c_T (H wide also under a projection)
    weights_layer = memory::desc({1, 1, i, Cell::kGates, h}, f32, tag::any);
    weights_iter = memory::desc({1, 1, r, Cell::kGates, h}, f32, tag::any);
    user_weights_layer = memory::desc({1, 1, i, Cell::kGates, h}, f32, tag::ldgoi);
    user_weights_iter = memory::desc({1, 1, r, Cell::kGates, h}, f32, tag::ldgoi);
    bias = memory::desc({1, 1, Cell::kBiasGates, h}, f32, tag::ldgo);
    peephole = memory::desc({1, 1, 3, h}, f32, tag::ldgo);
    projection = memory::desc({1, 1, h, r}, f32, tag::any);
    user_projection = memory::desc({1, 1, h, r}, f32, tag::ldoi);  // W_hr [P, H]: output-major
    dst_layer = memory::desc({t, n, r}, f32, layer);
    dst_iter = memory::desc({1, 1, n, r}, f32, tag::ldnc);
  }
};

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

constexpr auto kLeftToRight = dnnl::rnn_direction::unidirectional_left2right;

template <typename Cell>
typename Cell::Forward::primitive_desc forward_desc(const Shape &shape, dnnl::prop_kind kind) {
  const Descs<Cell> d(shape);
  if constexpr (Cell::kProjection) {
    return {cpu_engine(), kind, kLeftToRight, d.src_layer, d.src_iter, d.iter_c, d.weights_layer,
            d.weights_iter, memory::desc(), d.projection, d.bias, d.dst_layer, d.dst_iter, d.iter_c,
            user_scratchpad()};
  } else if constexpr (Cell::kPeephole) {
    return {cpu_engine(), kind, kLeftToRight, d.src_layer, d.src_iter, d.iter_c, d.weights_layer,
            d.weights_iter, d.peephole, d.bias, d.dst_layer, d.dst_iter, d.iter_c, user_scratchpad()};
  } else if constexpr (Cell::kCellState) {
    return {cpu_engine(), kind, kLeftToRight, d.src_layer, d.src_iter, d.iter_c, d.weights_layer,
            d.weights_iter, d.bias, d.dst_layer, d.dst_iter, d.iter_c, user_scratchpad()};
  } else {
    return {cpu_engine(), kind, kLeftToRight, d.src_layer, d.src_iter, d.weights_layer, d.weights_iter, d.bias,
            d.dst_layer, d.dst_iter, user_scratchpad()};
  }
}

template <typename Cell>
typename Cell::Backward::primitive_desc backward_desc(const Shape &shape) {
  const Descs<Cell> d(shape);
  const auto hint = forward_desc<Cell>(shape, dnnl::prop_kind::forward_training);
  const auto backward = dnnl::prop_kind::backward;
  if constexpr (Cell::kProjection) {
    const memory::desc none;
    return {cpu_engine(), backward, kLeftToRight, d.src_layer, d.src_iter, d.iter_c, d.weights_layer,
            d.weights_iter, none, d.projection, d.bias, d.dst_layer, d.dst_iter, d.iter_c, d.src_layer,
            d.src_iter, d.iter_c, d.weights_layer, d.weights_iter, none, d.projection, d.bias, d.dst_layer,
            d.dst_iter, d.iter_c, hint, user_scratchpad()};
  } else if constexpr (Cell::kPeephole) {
    return {cpu_engine(), backward, kLeftToRight, d.src_layer, d.src_iter, d.iter_c, d.weights_layer,
            d.weights_iter, d.peephole, d.bias, d.dst_layer, d.dst_iter, d.iter_c, d.src_layer, d.src_iter,
            d.iter_c, d.weights_layer, d.weights_iter, d.peephole, d.bias, d.dst_layer, d.dst_iter, d.iter_c,
            hint, user_scratchpad()};
  } else if constexpr (Cell::kCellState) {
    return {cpu_engine(), backward, kLeftToRight, d.src_layer, d.src_iter, d.iter_c, d.weights_layer,
            d.weights_iter, d.bias, d.dst_layer, d.dst_iter, d.iter_c, d.src_layer, d.src_iter, d.iter_c,
            d.weights_layer, d.weights_iter, d.bias, d.dst_layer, d.dst_iter, d.iter_c, hint, user_scratchpad()};
  } else {
    return {cpu_engine(), backward, kLeftToRight, d.src_layer, d.src_iter, d.weights_layer, d.weights_iter, d.bias,
            d.dst_layer, d.dst_iter, d.src_layer, d.src_iter, d.weights_layer, d.weights_iter, d.bias, d.dst_layer,
            d.dst_iter, hint, user_scratchpad()};
  }
}

template <typename Primitive>
struct Compiled {
  typename Primitive::primitive_desc desc;
  Primitive primitive;
};

std::mutex cache_mutex;

template <typename Cell>
const Compiled<typename Cell::Forward> &cached_forward(const Shape &shape, bool training) {
  static std::map<std::tuple<Shape, bool>, std::unique_ptr<Compiled<typename Cell::Forward>>> cache;
  std::lock_guard<std::mutex> lock(cache_mutex);
  auto &entry = cache[{shape, training}];
  if (!entry) {
    auto desc = forward_desc<Cell>(shape, training ? dnnl::prop_kind::forward_training
                                                   : dnnl::prop_kind::forward_inference);
    entry.reset(new Compiled<typename Cell::Forward>{desc, typename Cell::Forward(desc)});
  }
  return *entry;
}

template <typename Cell>
const Compiled<typename Cell::Backward> &cached_backward(const Shape &shape) {
  static std::map<Shape, std::unique_ptr<Compiled<typename Cell::Backward>>> cache;
  std::lock_guard<std::mutex> lock(cache_mutex);
  auto &entry = cache[shape];
  if (!entry) {
    auto desc = backward_desc<Cell>(shape);
    entry.reset(new Compiled<typename Cell::Backward>{desc, typename Cell::Backward(desc)});
  }
  return *entry;
}

// Buffers that persist across calls, one per use, on the worker thread: a fresh allocation per call would be
// returned to the system and page-faulted in again, zeroed, every call (megabytes: B32 T100 H128 fwd+bwd measured
// 24 ms with fresh allocations, 13 ms with heap memory kept mapped).
enum Slot {
  kScratchpad,
  kWeightsLayer,
  kWeightsIter,
  kWeightsProjection,
  kDiffWeightsLayer,
  kDiffWeightsIter,
  kDiffWeightsProjection,
  kSlots
};

memory pooled(const memory::desc &desc, Slot slot) {
  thread_local std::vector<uint8_t> buffers[kSlots];
  auto &buffer = buffers[slot];
  if (buffer.size() < desc.get_size()) buffer.resize(desc.get_size());
  return memory(desc, cpu_engine(), buffer.data());
}

// User memory over `data`, reordered into `wanted` (in the pooled buffer `slot`) when the primitive chose another
// layout.
memory as_layout(const memory::desc &user, void *data, const memory::desc &wanted, Slot slot, dnnl::stream &stream) {
  memory plain(user, cpu_engine(), data);
  if (user == wanted) return plain;
  memory converted = pooled(wanted, slot);
  dnnl::reorder(plain, converted).execute(stream, plain, converted);
  return converted;
}

// The buffers of one call, as raw pointers (`c0`, `c_last` and their gradients are null for a GRU).
struct Tensors {
  float *x, *h0, *c0, *w_ih, *w_hh, *w_peephole, *bias, *y, *h_last, *c_last;
  uint8_t *workspace;
  int64_t workspace_bytes;
  float *w_projection = nullptr;  // W_hr of a projection LSTM
};

struct Gradients {
  float *dy, *dh_last, *dc_last, *dx, *dh0, *dc0, *dw_ih, *dw_hh, *dw_peephole, *dbias;
  float *dw_projection = nullptr;
};

ffi::Error error(const char *where, const std::string &what) {
  return ffi::Error(ffi::ErrorCode::kInternal, std::string("oneDNN ") + where + ": " + what);
}

template <typename Cell>
std::unordered_map<int, memory> forward_args(const Descs<Cell> &d, const Tensors &t, const memory::desc &weights_layer,
                                             const memory::desc &weights_iter, const memory::desc &projection,
                                             dnnl::stream &stream) {
  auto plain = [](const memory::desc &desc, void *data) { return memory(desc, cpu_engine(), data); };
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC_LAYER, plain(d.src_layer, t.x)},
      {DNNL_ARG_SRC_ITER, plain(d.src_iter, t.h0)},
      {DNNL_ARG_WEIGHTS_LAYER, as_layout(d.user_weights_layer, t.w_ih, weights_layer, kWeightsLayer, stream)},
      {DNNL_ARG_WEIGHTS_ITER, as_layout(d.user_weights_iter, t.w_hh, weights_iter, kWeightsIter, stream)},
      {DNNL_ARG_BIAS, plain(d.bias, t.bias)},
      {DNNL_ARG_DST_LAYER, plain(d.dst_layer, t.y)},
      {DNNL_ARG_DST_ITER, plain(d.dst_iter, t.h_last)},
  };
  if constexpr (Cell::kPeephole) args.insert({DNNL_ARG_WEIGHTS_PEEPHOLE, plain(d.peephole, t.w_peephole)});
  if constexpr (Cell::kProjection) {
    args.insert({DNNL_ARG_WEIGHTS_PROJECTION,
                 as_layout(d.user_projection, t.w_projection, projection, kWeightsProjection, stream)});
  }
  if constexpr (Cell::kCellState) {
    args.insert({DNNL_ARG_SRC_ITER_C, plain(d.iter_c, t.c0)});
    args.insert({DNNL_ARG_DST_ITER_C, plain(d.iter_c, t.c_last)});
  }
  return args;
}

template <typename Cell>
ffi::Error forward_here(const Shape &shape, bool training, const Tensors &t) {
  try {
    const auto &fwd = cached_forward<Cell>(shape, training);
    const Descs<Cell> d(shape);
    dnnl::stream stream(cpu_engine());
    auto args = forward_args(d, t, fwd.desc.weights_layer_desc(), fwd.desc.weights_iter_desc(),
                             fwd.desc.weights_projection_desc(), stream);
    args.insert({DNNL_ARG_SCRATCHPAD, pooled(fwd.desc.scratchpad_desc(), kScratchpad)});
    if (training) {
      const auto desc = fwd.desc.workspace_desc();
      if (static_cast<int64_t>(desc.get_size()) != t.workspace_bytes)
        return error("forward", "workspace of " + std::to_string(t.workspace_bytes) + " bytes, needs " +
                                    std::to_string(desc.get_size()));
      args.insert({DNNL_ARG_WORKSPACE, memory(desc, cpu_engine(), t.workspace)});
    }
    fwd.primitive.execute(stream, args);
    stream.wait();
    return ffi::Error::Success();
  } catch (const dnnl::error &e) {
    return error("forward", e.what());
  }
}

template <typename Cell>
ffi::Error backward_here(const Shape &shape, const Tensors &t, const Gradients &g) {
  try {
    const auto &bwd = cached_backward<Cell>(shape);
    const auto &desc = bwd.desc;
    const Descs<Cell> d(shape);
    dnnl::stream stream(cpu_engine());
    if (static_cast<int64_t>(desc.workspace_desc().get_size()) != t.workspace_bytes)
      return error("backward", "workspace size mismatch");
    auto plain = [](const memory::desc &m, void *data) { return memory(m, cpu_engine(), data); };
    // The primitive accumulates into the weight gradients: they start at zero.
    memory d_weights_layer = pooled(desc.diff_weights_layer_desc(), kDiffWeightsLayer);
    memory d_weights_iter = pooled(desc.diff_weights_iter_desc(), kDiffWeightsIter);
    std::memset(d_weights_layer.get_data_handle(), 0, desc.diff_weights_layer_desc().get_size());
    std::memset(d_weights_iter.get_data_handle(), 0, desc.diff_weights_iter_desc().get_size());
    std::memset(g.dbias, 0, d.bias.get_size());
    auto args = forward_args(d, t, desc.weights_layer_desc(), desc.weights_iter_desc(),
                             desc.weights_projection_desc(), stream);
    args.insert({DNNL_ARG_WORKSPACE, memory(desc.workspace_desc(), cpu_engine(), t.workspace)});
    args.insert({DNNL_ARG_DIFF_DST_LAYER, plain(d.dst_layer, g.dy)});
    args.insert({DNNL_ARG_DIFF_DST_ITER, plain(d.dst_iter, g.dh_last)});
    args.insert({DNNL_ARG_DIFF_SRC_LAYER, plain(d.src_layer, g.dx)});
    args.insert({DNNL_ARG_DIFF_SRC_ITER, plain(d.src_iter, g.dh0)});
    args.insert({DNNL_ARG_DIFF_WEIGHTS_LAYER, d_weights_layer});
    args.insert({DNNL_ARG_DIFF_WEIGHTS_ITER, d_weights_iter});
    args.insert({DNNL_ARG_DIFF_BIAS, plain(d.bias, g.dbias)});
    if constexpr (Cell::kPeephole) {
      std::memset(g.dw_peephole, 0, d.peephole.get_size());
      args.insert({DNNL_ARG_DIFF_WEIGHTS_PEEPHOLE, plain(d.peephole, g.dw_peephole)});
    }
    if constexpr (Cell::kCellState) {
      args.insert({DNNL_ARG_DIFF_DST_ITER_C, plain(d.iter_c, g.dc_last)});
      args.insert({DNNL_ARG_DIFF_SRC_ITER_C, plain(d.iter_c, g.dc0)});
    }
    memory d_projection;
    if constexpr (Cell::kProjection) {
      d_projection = pooled(desc.diff_weights_projection_desc(), kDiffWeightsProjection);
      std::memset(d_projection.get_data_handle(), 0, desc.diff_weights_projection_desc().get_size());
      args.insert({DNNL_ARG_DIFF_WEIGHTS_PROJECTION, d_projection});
    }
    args.insert({DNNL_ARG_SCRATCHPAD, pooled(desc.scratchpad_desc(), kScratchpad)});
    bwd.primitive.execute(stream, args);
    if constexpr (Cell::kProjection) {
      memory user_dw_hr = plain(d.user_projection, g.dw_projection);
      dnnl::reorder(d_projection, user_dw_hr).execute(stream, d_projection, user_dw_hr);
    }
    memory user_dw_ih = plain(d.user_weights_layer, g.dw_ih);
    memory user_dw_hh = plain(d.user_weights_iter, g.dw_hh);
    dnnl::reorder(d_weights_layer, user_dw_ih).execute(stream, d_weights_layer, user_dw_ih);
    dnnl::reorder(d_weights_iter, user_dw_hh).execute(stream, d_weights_iter, user_dw_hh);
    stream.wait();
    return ffi::Error::Success();
  } catch (const dnnl::error &e) {
    return error("backward", e.what());
  }
}

template <typename Cell>
ffi::Error forward(bool training, const Shape &shape, const Tensors &t) {
  ffi::Error result = ffi::Error::Success();
  recurrax::on_worker([&] { result = forward_here<Cell>(shape, training, t); });
  return result;
}

template <typename Cell>
ffi::Error backward(const Shape &shape, const Tensors &t, const Gradients &g) {
  ffi::Error result = ffi::Error::Success();
  recurrax::on_worker([&] { result = backward_here<Cell>(shape, t, g); });
  return result;
}

using In = ffi::Buffer<ffi::F32>;
using Out = ffi::ResultBuffer<ffi::F32>;
using Workspace = ffi::ResultBuffer<ffi::U8>;

// x is [T, N, I], or [N, T, I] with `batch_first` (the FFI attribute of the inference handlers: there oneDNN reads
// and writes batch-major x and y 3-10% faster than XLA transposes them; its training forward and backward ran 4-14%
// slower batch-major than time-major with the transposes, so they take time-major x only).
Shape shape_of(In &x, In &w_hh, bool batch_first) {
  const auto dims = x.dimensions();
  const int64_t steps = batch_first ? dims[1] : dims[0], batch = batch_first ? dims[0] : dims[1];
  return {steps, batch, dims[2], w_hh.dimensions()[1], w_hh.dimensions()[1], batch_first};
}

// A projection LSTM: H from W_hr [P, H], the recurrent size P from its rows.
Shape projection_shape_of(In &x, In &w_hr, bool batch_first) {
  const auto dims = x.dimensions();
  const int64_t steps = batch_first ? dims[1] : dims[0], batch = batch_first ? dims[0] : dims[1];
  return {steps, batch, dims[2], w_hr.dimensions()[1], w_hr.dimensions()[0], batch_first};
}

int64_t bytes(ffi::Buffer<ffi::U8> &b) { return static_cast<int64_t>(b.element_count()); }
int64_t bytes(Workspace &b) { return static_cast<int64_t>(b->element_count()); }

ffi::Error lstm_forward(In x, In h0, In c0, In w_ih, In w_hh, In bias, Out y, Out h_last, Out c_last, Workspace ws) {
  Tensors t{x.typed_data(), h0.typed_data(), c0.typed_data(), w_ih.typed_data(), w_hh.typed_data(), nullptr,
            bias.typed_data(), y->typed_data(), h_last->typed_data(), c_last->typed_data(), ws->typed_data(), bytes(ws)};
  return forward<Lstm>(true, shape_of(x, w_hh, false), t);
}

ffi::Error lstm_inference(In x, In h0, In c0, In w_ih, In w_hh, In bias, Out y, Out h_last, Out c_last,
                          bool batch_first) {
  Tensors t{x.typed_data(), h0.typed_data(), c0.typed_data(), w_ih.typed_data(), w_hh.typed_data(), nullptr,
            bias.typed_data(), y->typed_data(), h_last->typed_data(), c_last->typed_data(), nullptr, 0};
  return forward<Lstm>(false, shape_of(x, w_hh, batch_first), t);
}

ffi::Error lstm_backward(In x, In h0, In c0, In w_ih, In w_hh, In bias, In y, In h_last, In c_last,
                         ffi::Buffer<ffi::U8> ws, In dy, In dh_last, In dc_last, Out dx, Out dh0, Out dc0, Out dw_ih,
                         Out dw_hh, Out dbias) {
  Tensors t{x.typed_data(), h0.typed_data(), c0.typed_data(), w_ih.typed_data(), w_hh.typed_data(), nullptr,
            bias.typed_data(), y.typed_data(), h_last.typed_data(), c_last.typed_data(), ws.typed_data(), bytes(ws)};
  Gradients g{dy.typed_data(),  dh_last.typed_data(), dc_last.typed_data(), dx->typed_data(),   dh0->typed_data(),
              dc0->typed_data(), dw_ih->typed_data(), dw_hh->typed_data(),  nullptr, dbias->typed_data()};
  return backward<Lstm>(shape_of(x, w_hh, false), t, g);
}

ffi::Error peephole_forward(In x, In h0, In c0, In w_ih, In w_hh, In w_peephole, In bias, Out y, Out h_last,
                            Out c_last, Workspace ws) {
  Tensors t{x.typed_data(), h0.typed_data(), c0.typed_data(), w_ih.typed_data(), w_hh.typed_data(),
            w_peephole.typed_data(), bias.typed_data(), y->typed_data(), h_last->typed_data(), c_last->typed_data(),
            ws->typed_data(), bytes(ws)};
  return forward<PeepholeLstm>(true, shape_of(x, w_hh, false), t);
}

ffi::Error peephole_inference(In x, In h0, In c0, In w_ih, In w_hh, In w_peephole, In bias, Out y, Out h_last,
                              Out c_last, bool batch_first) {
  Tensors t{x.typed_data(), h0.typed_data(), c0.typed_data(), w_ih.typed_data(), w_hh.typed_data(),
            w_peephole.typed_data(), bias.typed_data(), y->typed_data(), h_last->typed_data(), c_last->typed_data(),
            nullptr, 0};
  return forward<PeepholeLstm>(false, shape_of(x, w_hh, batch_first), t);
}

ffi::Error peephole_backward(In x, In h0, In c0, In w_ih, In w_hh, In w_peephole, In bias, In y, In h_last,
                             In c_last, ffi::Buffer<ffi::U8> ws, In dy, In dh_last, In dc_last, Out dx, Out dh0,
                             Out dc0, Out dw_ih, Out dw_hh, Out dw_peephole, Out dbias) {
  Tensors t{x.typed_data(), h0.typed_data(), c0.typed_data(), w_ih.typed_data(), w_hh.typed_data(),
            w_peephole.typed_data(), bias.typed_data(), y.typed_data(), h_last.typed_data(), c_last.typed_data(),
            ws.typed_data(), bytes(ws)};
  Gradients g{dy.typed_data(),    dh_last.typed_data(), dc_last.typed_data(), dx->typed_data(),
              dh0->typed_data(),  dc0->typed_data(),    dw_ih->typed_data(),  dw_hh->typed_data(),
              dw_peephole->typed_data(), dbias->typed_data()};
  return backward<PeepholeLstm>(shape_of(x, w_hh, false), t, g);
}

ffi::Error projection_forward(In x, In h0, In c0, In w_ih, In w_hh, In w_hr, In bias, Out y, Out h_last,
                              Out c_last, Workspace ws) {
  Tensors t{x.typed_data(), h0.typed_data(), c0.typed_data(), w_ih.typed_data(), w_hh.typed_data(), nullptr,
            bias.typed_data(), y->typed_data(), h_last->typed_data(), c_last->typed_data(), ws->typed_data(), bytes(ws),
            w_hr.typed_data()};
  return forward<ProjectionLstm>(true, projection_shape_of(x, w_hr, false), t);
}

ffi::Error projection_inference(In x, In h0, In c0, In w_ih, In w_hh, In w_hr, In bias, Out y, Out h_last,
                                Out c_last, bool batch_first) {
  Tensors t{x.typed_data(), h0.typed_data(), c0.typed_data(), w_ih.typed_data(), w_hh.typed_data(), nullptr,
            bias.typed_data(), y->typed_data(), h_last->typed_data(), c_last->typed_data(), nullptr, 0,
            w_hr.typed_data()};
  return forward<ProjectionLstm>(false, projection_shape_of(x, w_hr, batch_first), t);
}

ffi::Error projection_backward(In x, In h0, In c0, In w_ih, In w_hh, In w_hr, In bias, In y, In h_last, In c_last,
                               ffi::Buffer<ffi::U8> ws, In dy, In dh_last, In dc_last, Out dx, Out dh0, Out dc0,
                               Out dw_ih, Out dw_hh, Out dw_hr, Out dbias) {
  Tensors t{x.typed_data(), h0.typed_data(), c0.typed_data(), w_ih.typed_data(), w_hh.typed_data(), nullptr,
            bias.typed_data(), y.typed_data(), h_last.typed_data(), c_last.typed_data(), ws.typed_data(), bytes(ws),
            w_hr.typed_data()};
  Gradients g{dy.typed_data(),  dh_last.typed_data(), dc_last.typed_data(), dx->typed_data(),
              dh0->typed_data(), dc0->typed_data(),    dw_ih->typed_data(),  dw_hh->typed_data(),
              nullptr,           dbias->typed_data(),  dw_hr->typed_data()};
  return backward<ProjectionLstm>(projection_shape_of(x, w_hr, false), t, g);
}

template <typename Cell>
ffi::Error gru_forward(In x, In h0, In w_ih, In w_hh, In bias, Out y, Out h_last, Workspace ws) {
  Tensors t{x.typed_data(), h0.typed_data(), nullptr, w_ih.typed_data(), w_hh.typed_data(), nullptr, bias.typed_data(),
            y->typed_data(), h_last->typed_data(), nullptr, ws->typed_data(), bytes(ws)};
  return forward<Cell>(true, shape_of(x, w_hh, false), t);
}

template <typename Cell>
ffi::Error gru_inference(In x, In h0, In w_ih, In w_hh, In bias, Out y, Out h_last, bool batch_first) {
  Tensors t{x.typed_data(), h0.typed_data(), nullptr, w_ih.typed_data(), w_hh.typed_data(), nullptr, bias.typed_data(),
            y->typed_data(), h_last->typed_data(), nullptr, nullptr, 0};
  return forward<Cell>(false, shape_of(x, w_hh, batch_first), t);
}

template <typename Cell>
ffi::Error gru_backward(In x, In h0, In w_ih, In w_hh, In bias, In y, In h_last, ffi::Buffer<ffi::U8> ws, In dy,
                        In dh_last, Out dx, Out dh0, Out dw_ih, Out dw_hh, Out dbias) {
  Tensors t{x.typed_data(), h0.typed_data(), nullptr, w_ih.typed_data(), w_hh.typed_data(), nullptr, bias.typed_data(),
            y.typed_data(), h_last.typed_data(), nullptr, ws.typed_data(), bytes(ws)};
  Gradients g{dy.typed_data(), dh_last.typed_data(), nullptr, dx->typed_data(), dh0->typed_data(), nullptr,
              dw_ih->typed_data(), dw_hh->typed_data(), nullptr, dbias->typed_data()};
  return backward<Cell>(shape_of(x, w_hh, false), t, g);
}

template <typename Cell>
int64_t workspace_bytes(int64_t steps, int64_t batch, int64_t input, int64_t hidden, int64_t recurrent) {
  try {
    return static_cast<int64_t>(
        cached_forward<Cell>({steps, batch, input, hidden, recurrent, false}, true).desc.workspace_desc().get_size());
  } catch (const dnnl::error &) {
    return -1;
  }
}

}  // namespace

#define ARG Arg<In>()
#define RET Ret<In>()

XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_onednn_lstm_forward, lstm_forward,
                              ffi::Ffi::Bind().ARG.ARG.ARG.ARG.ARG.ARG.RET.RET.RET.Ret<ffi::Buffer<ffi::U8>>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_onednn_lstm_inference, lstm_inference,
                              ffi::Ffi::Bind().ARG.ARG.ARG.ARG.ARG.ARG.RET.RET.RET
                                  .Attr<bool>("batch_first"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_onednn_lstm_backward, lstm_backward,
                              ffi::Ffi::Bind()
                                  .ARG.ARG.ARG.ARG.ARG.ARG.ARG.ARG.ARG  // x, h0, c0, w_ih, w_hh, bias, y, h_T, c_T
                                  .Arg<ffi::Buffer<ffi::U8>>()          // workspace
                                  .ARG.ARG.ARG                          // dy, dh_T, dc_T
                                  .RET.RET.RET.RET.RET.RET);            // dx, dh0, dc0, dw_ih, dw_hh, dbias
XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_onednn_peephole_lstm_forward, peephole_forward,
                              ffi::Ffi::Bind().ARG.ARG.ARG.ARG.ARG.ARG.ARG.RET.RET.RET.Ret<ffi::Buffer<ffi::U8>>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_onednn_peephole_lstm_inference, peephole_inference,
                              ffi::Ffi::Bind().ARG.ARG.ARG.ARG.ARG.ARG.ARG.RET.RET.RET
                                  .Attr<bool>("batch_first"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_onednn_peephole_lstm_backward, peephole_backward,
                              ffi::Ffi::Bind()
                                  .ARG.ARG.ARG.ARG.ARG.ARG.ARG.ARG.ARG.ARG  // x .. w_peephole, bias, y, h_T, c_T
                                  .Arg<ffi::Buffer<ffi::U8>>()              // workspace
                                  .ARG.ARG.ARG                              // dy, dh_T, dc_T
                                  .RET.RET.RET.RET.RET.RET.RET);  // dx, dh0, dc0, dw_ih, dw_hh, dw_peephole, dbias
XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_onednn_projection_lstm_forward, projection_forward,
                              ffi::Ffi::Bind().ARG.ARG.ARG.ARG.ARG.ARG.ARG.RET.RET.RET.Ret<ffi::Buffer<ffi::U8>>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_onednn_projection_lstm_inference, projection_inference,
                              ffi::Ffi::Bind().ARG.ARG.ARG.ARG.ARG.ARG.ARG.RET.RET.RET
                                  .Attr<bool>("batch_first"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_onednn_projection_lstm_backward, projection_backward,
                              ffi::Ffi::Bind()
                                  .ARG.ARG.ARG.ARG.ARG.ARG.ARG.ARG.ARG.ARG  // x .. w_hr, bias, y, h_T, c_T
                                  .Arg<ffi::Buffer<ffi::U8>>()              // workspace
                                  .ARG.ARG.ARG                              // dy, dh_T, dc_T
                                  .RET.RET.RET.RET.RET.RET.RET);  // dx, dh0, dc0, dw_ih, dw_hh, dw_hr, dbias
// The three handlers of a GRU form (`Cell`: Gru or ChoGru), named recurrax_onednn_<name>_{forward,inference,backward}.
#define GRU_HANDLERS(name, Cell)                                                                                  \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_onednn_##name##_forward, gru_forward<Cell>,                            \
                                ffi::Ffi::Bind().ARG.ARG.ARG.ARG.ARG.RET.RET.Ret<ffi::Buffer<ffi::U8>>());      \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_onednn_##name##_inference, gru_inference<Cell>,                        \
                                ffi::Ffi::Bind().ARG.ARG.ARG.ARG.ARG.RET.RET.Attr<bool>("batch_first"));        \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_onednn_##name##_backward, gru_backward<Cell>,                          \
                                ffi::Ffi::Bind()                                                                 \
                                    .ARG.ARG.ARG.ARG.ARG.ARG.ARG /* x, h0, w_ih, w_hh, bias, y, h_T */          \
                                    .Arg<ffi::Buffer<ffi::U8>>() /* workspace */                                 \
                                    .ARG.ARG                     /* dy, dh_T */                                  \
                                    .RET.RET.RET.RET.RET);       /* dx, dh0, dw_ih, dw_hh, dbias */

GRU_HANDLERS(gru, Gru)
GRU_HANDLERS(cho_gru, ChoGru)

// The workspace size of `cell`'s training forward; `recurrent` is the projection size P of LSTMP, else `hidden`.
#define WORKSPACE_BYTES(name, Cell)                                                                              \
  extern "C" int64_t recurrax_onednn_##name##_workspace_bytes(int64_t steps, int64_t batch, int64_t input,      \
                                                                int64_t hidden, int64_t recurrent) {            \
    return workspace_bytes<Cell>(steps, batch, input, hidden, recurrent);                                        \
  }

WORKSPACE_BYTES(lstm, Lstm)
WORKSPACE_BYTES(peephole_lstm, PeepholeLstm)
WORKSPACE_BYTES(projection_lstm, ProjectionLstm)
WORKSPACE_BYTES(gru, Gru)
WORKSPACE_BYTES(cho_gru, ChoGru)
