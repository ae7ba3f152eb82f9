// `on_worker`: the one thread that runs every oneDNN call of the library, and `cpu_engine`: the one oneDNN engine
// every source of the library uses.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "oneapi/dnnl/dnnl.hpp"

namespace recurrax {

// The library's oneDNN CPU engine, made once per process.
inline dnnl::engine &cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// Runs `work` on the one thread that executes every oneDNN primitive and waits for it. GNU OpenMP keeps a thread
// team per calling thread, and XLA calls from whichever of its pool threads is free: several teams on few cores
// oversubscribe them, and GOMP's spin-waits turn into sleeps between time steps (B32 T100 H128 fwd+bwd measured
// 51 ms that way against 12 ms from one thread, on 2 cores).
inline void on_worker(const std::function<void()> &work) {
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

}  // namespace recurrax
