// Splits [0, n) into contiguous chunks run on up to `threads` threads (the calling thread takes the first chunk).
// Pixel work runs inside an AsyncWorker already; spreading one large job over the board's cores shortens the time the
// frame's buffer is held, which is what bounds the capture ring.
#pragma once

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

namespace ss {

// Half the cores, at most 4: the rest stay free for the inference worker and the capture threads. Under load a second
// thread only waits for a core while its half of the frame's buffers stays held.
inline int DefaultThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(n / 2, 1u, 4u));
}

template <typename Fn>
void ParallelFor(long n, int threads, long minChunk, Fn&& fn) {
  if (n <= 0) return;
  long maxThreads = std::max(1L, n / std::max(1L, minChunk));
  int t = static_cast<int>(std::clamp<long>(threads, 1, maxThreads));
  if (t <= 1) {
    fn(0L, n);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(t);
  long chunk = (n + t - 1) / t;
  for (int i = 1; i < t; i++) {
    long b = i * chunk, e = std::min(n, b + chunk);
    if (b >= e) break;
    pool.emplace_back([&, i, b, e] {
      try {
        fn(b, e);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  try {
    fn(0L, std::min(n, chunk));
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto& th : pool) th.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace ss
