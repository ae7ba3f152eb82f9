// oneDNN's LSTM primitives (the kernel behind torch nn.LSTM on CPU) as XLA FFI custom calls.
//
// One layer, one direction, float32, time-major, PyTorch's gate order i, f, g, o (oneDNN's too):
//
//   recurrax_onednn_lstm_forward   x [T, N, I], h0 [N, H], c0 [N, H], w_ih [4H, I], w_hh [4H, H], bias [4H]
//                                  -> y [T, N, H], h_T [N, H], c_T [N, H], workspace [bytes] (u8)
//   recurrax_onednn_lstm_inference the same inputs -> y, h_T, c_T (no workspace)
//   recurrax_onednn_lstm_backward  x, h0, c0, w_ih, w_hh, bias, y, h_T, c_T, workspace, dy, dh_T, dc_T
//                                  -> dx [T, N, I], dh0, dc0, dw_ih [4H, I], dw_hh [4H, H], dbias [4H]
//
// The weights arrive in PyTorch's layout, which is oneDNN's `ldgoi` for dims {1, 1, I, 4, H}; each call
// reorders them into the layout the primitive chose. Primitive descriptors and primitives are cached per
// shape. Every primitive runs on one worker thread (see `on_worker`), with the scratchpad (user mode) and the
// re-laid weights in buffers kept across calls (see `pooled`).
// `recurrax_onednn_lstm_workspace_bytes` (plain C, for ctypes) tells Python the workspace size to allocate.

#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;

namespace {

using Shape = std::tuple<int64_t, int64_t, int64_t, int64_t>;  // T, N, I, H

dnnl::engine &cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

struct Descs {
  memory::desc src_layer, src_iter, weights_layer, weights_iter, bias, dst_layer, dst_iter;
  memory::desc user_weights_layer, user_weights_iter;
  explicit Descs(const Shape &shape) {
    const auto [t, n, i, h] = shape;
    const auto f32 = memory::data_type::f32;
    using tag = memory::format_tag;
    src_layer = memory::desc({t, n, i}, f32, tag::tnc);
    src_iter = memory::desc({1, 1, n, h}, f32, tag::ldnc);
    weights_layer = memory::desc({1, 1, i, 4, h}, f32, tag::any);
    weights_iter = memory::desc({1, 1, h, 4, h}, f32, tag::any);
    user_weights_layer = memory::desc({1, 1, i, 4, h}, f32, tag::ldgoi);
    user_weights_iter = memory::desc({1, 1, h, 4, h}, f32, tag::ldgoi);
    bias = memory::desc({1, 1, 4, h}, f32, tag::ldgo);
    dst_layer = memory::desc({t, n, h}, f32, tag::tnc);
    dst_iter = memory::desc({1, 1, n, h}, f32, tag::ldnc);
  }
};

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::lstm_forward::primitive_desc forward_desc(const Shape &shape, dnnl::prop_kind kind) {
  const Descs d(shape);
  return dnnl::lstm_forward::primitive_desc(
      cpu_engine(), kind, dnnl::rnn_direction::unidirectional_left2right, d.src_layer, d.src_iter, d.src_iter,
      d.weights_layer, d.weights_iter, d.bias, d.dst_layer, d.dst_iter, d.dst_iter, user_scratchpad());
}

struct Forward {
  dnnl::lstm_forward::primitive_desc desc;
  dnnl::lstm_forward primitive;
};

struct Backward {
  dnnl::lstm_backward::primitive_desc desc;
  dnnl::lstm_backward primitive;
};

std::mutex cache_mutex;

// Runs `work` on the one thread that executes every oneDNN primitive and waits for it. GNU OpenMP keeps a thread
// team per calling thread, and XLA calls from whichever of its pool threads is free: several teams on few cores
// oversubscribe them, and GOMP's spin-waits turn into sleeps between time steps (B32 T100 H128 fwd+bwd measured
// 51 ms that way against 12 ms from one thread, on 2 cores).
void on_worker(const std::function<void()> &work) {
  struct Queue {
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<std::function<void()>> tasks;
  };
  static Queue *queue = [] {
    auto *q = new Queue;  // never destroyed: the worker outlives static destruction at exit
    std::thread([q] {
      for (;;) {
        std::unique_lock<std::mutex> lock(q->mutex);
        q->ready.wait(lock, [q] { return !q->tasks.empty(); });
        auto task = std::move(q->tasks.front());
        q->tasks.pop_front();
        lock.unlock();
        task();
      }
    }).detach();
    return q;
  }();
  std::mutex done_mutex;
  std::condition_variable done_signal;
  bool done = false;
  {
    std::lock_guard<std::mutex> lock(queue->mutex);
    queue->tasks.emplace_back([&] {
      work();
      std::lock_guard<std::mutex> done_lock(done_mutex);
      done = true;
      done_signal.notify_one();
    });
  }
  queue->ready.notify_one();
  std::unique_lock<std::mutex> lock(done_mutex);
  done_signal.wait(lock, [&] { return done; });
}

const Forward &cached_forward(const Shape &shape, bool training) {
  static std::map<std::tuple<Shape, bool>, std::unique_ptr<Forward>> cache;
  std::lock_guard<std::mutex> lock(cache_mutex);
  auto &entry = cache[{shape, training}];
  if (!entry) {
    auto desc = forward_desc(shape, training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference);
    entry = std::make_unique<Forward>(Forward{desc, dnnl::lstm_forward(desc)});
  }
  return *entry;
}

const Backward &cached_backward(const Shape &shape) {
  static std::map<Shape, std::unique_ptr<Backward>> cache;
  std::lock_guard<std::mutex> lock(cache_mutex);
  auto &entry = cache[shape];
  if (!entry) {
    const Descs d(shape);
    const auto hint = forward_desc(shape, dnnl::prop_kind::forward_training);
    auto desc = dnnl::lstm_backward::primitive_desc(
        cpu_engine(), dnnl::prop_kind::backward, dnnl::rnn_direction::unidirectional_left2right, d.src_layer,
        d.src_iter, d.src_iter, d.weights_layer, d.weights_iter, d.bias, d.dst_layer, d.dst_iter, d.dst_iter,
        d.src_layer, d.src_iter, d.src_iter, d.weights_layer, d.weights_iter, d.bias, d.dst_layer, d.dst_iter,
        d.dst_iter, hint, user_scratchpad());
    entry = std::make_unique<Backward>(Backward{desc, dnnl::lstm_backward(desc)});
  }
  return *entry;
}

// Buffers that persist across calls, one per use, on the worker thread: a fresh allocation per call would be
// returned to the system and page-faulted in again, zeroed, every call (megabytes: B32 T100 H128 fwd+bwd measured
// 24 ms with fresh allocations, 13 ms with heap memory kept mapped).
enum Slot { kScratchpad, kWeightsLayer, kWeightsIter, kDiffWeightsLayer, kDiffWeightsIter, kSlots };

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

Shape shape_of(ffi::Buffer<ffi::F32> &x, ffi::Buffer<ffi::F32> &w_hh) {
  const auto dx = x.dimensions();
  return {dx[0], dx[1], dx[2], w_hh.dimensions()[1]};
}

ffi::Error run_forward_here(bool training, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> h0, ffi::Buffer<ffi::F32> c0,
                       ffi::Buffer<ffi::F32> w_ih, ffi::Buffer<ffi::F32> w_hh, ffi::Buffer<ffi::F32> bias,
                       float *y, float *h_last, float *c_last, uint8_t *workspace, int64_t workspace_bytes) {
  try {
    const Shape shape = shape_of(x, w_hh);
    const Forward &fwd = cached_forward(shape, training);
    const Descs d(shape);
    dnnl::stream stream(cpu_engine());
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC_LAYER, memory(d.src_layer, cpu_engine(), x.typed_data())},
        {DNNL_ARG_SRC_ITER, memory(d.src_iter, cpu_engine(), h0.typed_data())},
        {DNNL_ARG_SRC_ITER_C, memory(d.src_iter, cpu_engine(), c0.typed_data())},
        {DNNL_ARG_WEIGHTS_LAYER,
         as_layout(d.user_weights_layer, w_ih.typed_data(), fwd.desc.weights_layer_desc(), kWeightsLayer, stream)},
        {DNNL_ARG_WEIGHTS_ITER,
         as_layout(d.user_weights_iter, w_hh.typed_data(), fwd.desc.weights_iter_desc(), kWeightsIter, stream)},
        {DNNL_ARG_BIAS, memory(d.bias, cpu_engine(), bias.typed_data())},
        {DNNL_ARG_DST_LAYER, memory(d.dst_layer, cpu_engine(), y)},
        {DNNL_ARG_DST_ITER, memory(d.dst_iter, cpu_engine(), h_last)},
        {DNNL_ARG_DST_ITER_C, memory(d.dst_iter, cpu_engine(), c_last)},
        {DNNL_ARG_SCRATCHPAD, pooled(fwd.desc.scratchpad_desc(), kScratchpad)},
    };
    if (training) {
      const auto desc = fwd.desc.workspace_desc();
      if (static_cast<int64_t>(desc.get_size()) != workspace_bytes)
        return ffi::Error(ffi::ErrorCode::kInvalidArgument, "oneDNN LSTM: workspace of " +
                                                                std::to_string(workspace_bytes) + " bytes, needs " +
                                                                std::to_string(desc.get_size()));
      args.insert({DNNL_ARG_WORKSPACE, memory(desc, cpu_engine(), workspace)});
    }
    fwd.primitive.execute(stream, args);
    stream.wait();
    return ffi::Error::Success();
  } catch (const dnnl::error &e) {
    return ffi::Error(ffi::ErrorCode::kInternal, std::string("oneDNN LSTM forward: ") + e.what());
  }
}

template <typename... Args>
ffi::Error run_forward(Args... args) {
  ffi::Error result = ffi::Error::Success();
  on_worker([&] { result = run_forward_here(args...); });
  return result;
}

ffi::Error forward_training(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> h0, ffi::Buffer<ffi::F32> c0,
                            ffi::Buffer<ffi::F32> w_ih, ffi::Buffer<ffi::F32> w_hh, ffi::Buffer<ffi::F32> bias,
                            ffi::ResultBuffer<ffi::F32> y, ffi::ResultBuffer<ffi::F32> h_last,
                            ffi::ResultBuffer<ffi::F32> c_last, ffi::ResultBuffer<ffi::U8> workspace) {
  return run_forward(true, x, h0, c0, w_ih, w_hh, bias, y->typed_data(), h_last->typed_data(), c_last->typed_data(),
                     workspace->typed_data(), static_cast<int64_t>(workspace->element_count()));
}

ffi::Error forward_inference(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> h0, ffi::Buffer<ffi::F32> c0,
                             ffi::Buffer<ffi::F32> w_ih, ffi::Buffer<ffi::F32> w_hh, ffi::Buffer<ffi::F32> bias,
                             ffi::ResultBuffer<ffi::F32> y, ffi::ResultBuffer<ffi::F32> h_last,
                             ffi::ResultBuffer<ffi::F32> c_last) {
  return run_forward(false, x, h0, c0, w_ih, w_hh, bias, y->typed_data(), h_last->typed_data(),
                     c_last->typed_data(), nullptr, 0);
}

ffi::Error backward_here(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> h0, ffi::Buffer<ffi::F32> c0,
                    ffi::Buffer<ffi::F32> w_ih, ffi::Buffer<ffi::F32> w_hh, ffi::Buffer<ffi::F32> bias,
                    ffi::Buffer<ffi::F32> y, ffi::Buffer<ffi::F32> h_last, ffi::Buffer<ffi::F32> c_last,
                    ffi::Buffer<ffi::U8> workspace, ffi::Buffer<ffi::F32> dy, ffi::Buffer<ffi::F32> dh_last,
                    ffi::Buffer<ffi::F32> dc_last, ffi::ResultBuffer<ffi::F32> dx, ffi::ResultBuffer<ffi::F32> dh0,
                    ffi::ResultBuffer<ffi::F32> dc0, ffi::ResultBuffer<ffi::F32> dw_ih,
                    ffi::ResultBuffer<ffi::F32> dw_hh, ffi::ResultBuffer<ffi::F32> dbias) {
  try {
    const Shape shape = shape_of(x, w_hh);
    const Backward &bwd = cached_backward(shape);
    const Descs d(shape);
    dnnl::stream stream(cpu_engine());
    const auto &desc = bwd.desc;
    if (desc.workspace_desc().get_size() != workspace.element_count())
      return ffi::Error(ffi::ErrorCode::kInvalidArgument, "oneDNN LSTM backward: workspace size mismatch");
    // The primitive accumulates into the weight gradients: they start at zero.
    memory d_weights_layer = pooled(desc.diff_weights_layer_desc(), kDiffWeightsLayer);
    memory d_weights_iter = pooled(desc.diff_weights_iter_desc(), kDiffWeightsIter);
    std::memset(d_weights_layer.get_data_handle(), 0, desc.diff_weights_layer_desc().get_size());
    std::memset(d_weights_iter.get_data_handle(), 0, desc.diff_weights_iter_desc().get_size());
    memory d_bias(d.bias, cpu_engine(), dbias->typed_data());
    std::memset(dbias->typed_data(), 0, d.bias.get_size());
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC_LAYER, memory(d.src_layer, cpu_engine(), x.typed_data())},
        {DNNL_ARG_SRC_ITER, memory(d.src_iter, cpu_engine(), h0.typed_data())},
        {DNNL_ARG_SRC_ITER_C, memory(d.src_iter, cpu_engine(), c0.typed_data())},
        {DNNL_ARG_WEIGHTS_LAYER,
         as_layout(d.user_weights_layer, w_ih.typed_data(), desc.weights_layer_desc(), kWeightsLayer, stream)},
        {DNNL_ARG_WEIGHTS_ITER,
         as_layout(d.user_weights_iter, w_hh.typed_data(), desc.weights_iter_desc(), kWeightsIter, stream)},
        {DNNL_ARG_BIAS, memory(d.bias, cpu_engine(), bias.typed_data())},
        {DNNL_ARG_DST_LAYER, memory(d.dst_layer, cpu_engine(), y.typed_data())},
        {DNNL_ARG_DST_ITER, memory(d.dst_iter, cpu_engine(), h_last.typed_data())},
        {DNNL_ARG_DST_ITER_C, memory(d.dst_iter, cpu_engine(), c_last.typed_data())},
        {DNNL_ARG_WORKSPACE, memory(desc.workspace_desc(), cpu_engine(), workspace.typed_data())},
        {DNNL_ARG_DIFF_DST_LAYER, memory(d.dst_layer, cpu_engine(), dy.typed_data())},
        {DNNL_ARG_DIFF_DST_ITER, memory(d.dst_iter, cpu_engine(), dh_last.typed_data())},
        {DNNL_ARG_DIFF_DST_ITER_C, memory(d.dst_iter, cpu_engine(), dc_last.typed_data())},
        {DNNL_ARG_DIFF_SRC_LAYER, memory(d.src_layer, cpu_engine(), dx->typed_data())},
        {DNNL_ARG_DIFF_SRC_ITER, memory(d.src_iter, cpu_engine(), dh0->typed_data())},
        {DNNL_ARG_DIFF_SRC_ITER_C, memory(d.src_iter, cpu_engine(), dc0->typed_data())},
        {DNNL_ARG_DIFF_WEIGHTS_LAYER, d_weights_layer},
        {DNNL_ARG_DIFF_WEIGHTS_ITER, d_weights_iter},
        {DNNL_ARG_DIFF_BIAS, d_bias},
        {DNNL_ARG_SCRATCHPAD, pooled(desc.scratchpad_desc(), kScratchpad)},
    };
    bwd.primitive.execute(stream, args);
    memory user_dw_ih(d.user_weights_layer, cpu_engine(), dw_ih->typed_data());
    memory user_dw_hh(d.user_weights_iter, cpu_engine(), dw_hh->typed_data());
    dnnl::reorder(d_weights_layer, user_dw_ih).execute(stream, d_weights_layer, user_dw_ih);
    dnnl::reorder(d_weights_iter, user_dw_hh).execute(stream, d_weights_iter, user_dw_hh);
    stream.wait();
    return ffi::Error::Success();
  } catch (const dnnl::error &e) {
    return ffi::Error(ffi::ErrorCode::kInternal, std::string("oneDNN LSTM backward: ") + e.what());
  }
}

ffi::Error backward(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> h0, ffi::Buffer<ffi::F32> c0,
                    ffi::Buffer<ffi::F32> w_ih, ffi::Buffer<ffi::F32> w_hh, ffi::Buffer<ffi::F32> bias,
                    ffi::Buffer<ffi::F32> y, ffi::Buffer<ffi::F32> h_last, ffi::Buffer<ffi::F32> c_last,
                    ffi::Buffer<ffi::U8> workspace, ffi::Buffer<ffi::F32> dy, ffi::Buffer<ffi::F32> dh_last,
                    ffi::Buffer<ffi::F32> dc_last, ffi::ResultBuffer<ffi::F32> dx, ffi::ResultBuffer<ffi::F32> dh0,
                    ffi::ResultBuffer<ffi::F32> dc0, ffi::ResultBuffer<ffi::F32> dw_ih,
                    ffi::ResultBuffer<ffi::F32> dw_hh, ffi::ResultBuffer<ffi::F32> dbias) {
  ffi::Error result = ffi::Error::Success();
  on_worker([&] {
    result = backward_here(x, h0, c0, w_ih, w_hh, bias, y, h_last, c_last, workspace, dy, dh_last, dc_last, dx, dh0,
                           dc0, dw_ih, dw_hh, dbias);
  });
  return result;
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_onednn_lstm_forward, forward_training,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::U8>>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_onednn_lstm_inference, forward_inference,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_onednn_lstm_backward, backward,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()  // x
                                  .Arg<ffi::Buffer<ffi::F32>>()  // h0
                                  .Arg<ffi::Buffer<ffi::F32>>()  // c0
                                  .Arg<ffi::Buffer<ffi::F32>>()  // w_ih
                                  .Arg<ffi::Buffer<ffi::F32>>()  // w_hh
                                  .Arg<ffi::Buffer<ffi::F32>>()  // bias
                                  .Arg<ffi::Buffer<ffi::F32>>()  // y
                                  .Arg<ffi::Buffer<ffi::F32>>()  // h_T
                                  .Arg<ffi::Buffer<ffi::F32>>()  // c_T
                                  .Arg<ffi::Buffer<ffi::U8>>()   // workspace
                                  .Arg<ffi::Buffer<ffi::F32>>()  // dy
                                  .Arg<ffi::Buffer<ffi::F32>>()  // dh_T
                                  .Arg<ffi::Buffer<ffi::F32>>()  // dc_T
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dx
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dh0
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dc0
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dw_ih
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dw_hh
                                  .Ret<ffi::Buffer<ffi::F32>>());  // dbias

extern "C" int64_t recurrax_onednn_lstm_workspace_bytes(int64_t steps, int64_t batch, int64_t input, int64_t hidden) {
  try {
    return static_cast<int64_t>(
        cached_forward({steps, batch, input, hidden}, true).desc.workspace_desc().get_size());
  } catch (const dnnl::error &) {
    return -1;
  }
}
