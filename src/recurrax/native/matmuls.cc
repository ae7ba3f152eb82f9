// The large matmuls around the native kernels, on the library's OpenMP team (`on_worker`):
//
//   recurrax_outer          d [R, O], v [R, I] -> vd [I, C] = v^T d[:, :C] (attribute `columns` C <= O, d's first
//                           C columns read in place): the weight gradients sum_t d_t^T v_t over
//                           every time step and batch row, one `dnnl_sgemm` (the caller transposes: oneDNN's sgemm
//                           ran v^T d 20-40% faster than d^T v at these shapes). XLA:CPU ran this product at
//                           118-165 GFLOP/s on the 2-core Xeon (B32 T100 H128: dW_hh 2.54 ms, dW_ih 1.78 ms);
//                           `dnnl_sgemm` 1.47 and 0.73 ms.
//   recurrax_bf16_matmul    a [R, K], w [N, K] (`transposed`) or [K, N] -> a w^T or a w [R, N], both operands
//                           rounded to bfloat16 (to nearest even, as XLA's convert) and the products summed in
//                           float32: the input projection and its gradient of an LSTM with bfloat16 matmuls, on
//                           oneDNN's matmul primitive (AMX where the CPU has it; XLA:CPU's bfloat16 dot ran
//                           12800 x 128 x 1024 in 25.9 ms against 31.4 in float32).

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "oneapi/dnnl/dnnl.h"
#include "oneapi/dnnl/dnnl.hpp"
#include "weight_matmul.h"
#include "worker.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

ffi::Error outer(ffi::Buffer<ffi::F32> d, ffi::Buffer<ffi::F32> v, ffi::ResultBuffer<ffi::F32> vd, int64_t columns) {
  const int64_t R = d.dimensions()[0], O = d.dimensions()[1], I = v.dimensions()[1], C = columns;
  if (R == 0) {  // an empty sum (dnnl_sgemm leaves the result untouched when its inner size is 0)
    std::fill_n(vd->typed_data(), I * C, 0.0f);
    return ffi::Error::Success();
  }
  dnnl_status_t status = dnnl_success;
  recurrax::on_worker([&] {
    status = dnnl_sgemm('T', 'N', I, C, R, 1.0f, v.typed_data(), I, d.typed_data(), O, 0.0f, vd->typed_data(), C);
  });
  if (status == dnnl_success) return ffi::Error::Success();
  return ffi::Error(ffi::ErrorCode::kInternal, "oneDNN sgemm failed with status " + std::to_string(status));
}

// a [R, K] times w ([N, K] `transposed`, else [K, N]): [R, N], one `dnnl_sgemm` (row-major).
ffi::Error matmul(ffi::Buffer<ffi::F32> a, ffi::Buffer<ffi::F32> w, ffi::ResultBuffer<ffi::F32> out, bool transposed) {
  const int64_t R = a.dimensions()[0], K = a.dimensions()[1];
  const int64_t N = transposed ? w.dimensions()[0] : w.dimensions()[1];
  if (K == 0) {  // as in `outer`
    std::fill_n(out->typed_data(), R * N, 0.0f);
    return ffi::Error::Success();
  }
  dnnl_status_t status = dnnl_success;
  recurrax::on_worker([&] {
    status = dnnl_sgemm('N', transposed ? 'T' : 'N', R, N, K, 1.0f, a.typed_data(), K, w.typed_data(),
                        transposed ? K : N, 0.0f, out->typed_data(), N);
  });
  if (status == dnnl_success) return ffi::Error::Success();
  return ffi::Error(ffi::ErrorCode::kInternal, "oneDNN sgemm failed with status " + std::to_string(status));
}

using recurrax::cpu_engine;

// The bfloat16 matmul primitive for (R, K, N), made once per process.
const dnnl::matmul::primitive_desc &bf16_matmul(int64_t R, int64_t K, int64_t N) {
  static std::mutex mutex;
  static std::map<std::tuple<int64_t, int64_t, int64_t>, std::unique_ptr<dnnl::matmul::primitive_desc>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto &entry = cache[{R, K, N}];
  if (!entry) {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    entry.reset(new dnnl::matmul::primitive_desc(cpu_engine(), dnnl::memory::desc({R, K}, dt::bf16, tag::ab),
                                                 dnnl::memory::desc({K, N}, dt::bf16, tag::any),
                                                 dnnl::memory::desc({R, N}, dt::f32, tag::ab)));
  }
  return *entry;
}

ffi::Error bf16_matmul_call(ffi::Buffer<ffi::F32> a, ffi::Buffer<ffi::F32> w, ffi::ResultBuffer<ffi::F32> out,
                            bool transposed) {
  const int64_t R = a.dimensions()[0], K = a.dimensions()[1];
  const int64_t N = transposed ? w.dimensions()[0] : w.dimensions()[1];
  std::string failure;
  recurrax::on_worker([&] {
    try {
      using dt = dnnl::memory::data_type;
      const auto &desc = bf16_matmul(R, K, N);
      std::vector<uint16_t> rounded(R * K);
#pragma omp parallel for
      for (int64_t r = 0; r < R; ++r) recurrax::round_to_bfloat16(a.typed_data() + r * K, K, rounded.data() + r * K);
      const dnnl::memory::desc user({K, N}, dt::f32, transposed ? dnnl::memory::dims{1, K} : dnnl::memory::dims{N, 1});
      dnnl::memory source(user, cpu_engine(), const_cast<float *>(w.typed_data()));
      dnnl::memory weights(desc.weights_desc(), cpu_engine());
      dnnl::memory src(desc.src_desc(), cpu_engine(), rounded.data());
      dnnl::memory dst(desc.dst_desc(), cpu_engine(), out->typed_data());
      dnnl::stream stream(cpu_engine());
      dnnl::reorder(source, weights).execute(stream, source, weights);
      dnnl::matmul(desc).execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
      stream.wait();
    } catch (const dnnl::error &e) {
      failure = std::string("oneDNN bfloat16 matmul failed: ") + e.what();
    }
  });
  if (failure.empty()) return ffi::Error::Success();
  return ffi::Error(ffi::ErrorCode::kInternal, failure);
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_outer, outer,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()  // d
                                  .Arg<ffi::Buffer<ffi::F32>>()  // v
                                  .Ret<ffi::Buffer<ffi::F32>>()  // v^T d[:, :columns]
                                  .Attr<int64_t>("columns"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_matmul, matmul,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()  // a
                                  .Arg<ffi::Buffer<ffi::F32>>()  // w
                                  .Ret<ffi::Buffer<ffi::F32>>()  // a w^T or a w
                                  .Attr<bool>("transposed"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(recurrax_bf16_matmul, bf16_matmul_call,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()  // a
                                  .Arg<ffi::Buffer<ffi::F32>>()  // w
                                  .Ret<ffi::Buffer<ffi::F32>>()  // a w^T or a w
                                  .Attr<bool>("transposed"));
