// A fixed ring of frame buffers shared by a capture device (producer, on its own thread) and JS (consumer).
//
// Each slot is in exactly one place: with the producer (the driver's queue, or free for a push source), in the ready
// queue, or delivered to JS. The ready queue is bounded: when it is full the oldest ready frame goes back to the
// producer and is counted as dropped. JS sees a delivered slot as an external ArrayBuffer over the slot's memory (no
// copy); it gives the slot back with Release(slot, generation), or the buffer's finaliser does (counted as leaked).
// Generations make a late finaliser of an already released frame harmless.
//
// The pool is shared (std::shared_ptr) by the device and by every ArrayBuffer handed to JS, so its memory outlives
// the device when JS still holds a frame after close.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ss {

enum class PixelFormat { Mono8 = 8, Mono12 = 12, Mono16 = 16 };

const char* PixelFormatName(PixelFormat f);
inline int BytesPerPixel(PixelFormat f) { return f == PixelFormat::Mono8 ? 1 : 2; }

// Counters of one source across all its opens; read from JS at any time.
struct Counters {
  std::atomic<uint64_t> delivered{0}, dropped{0}, timeouts{0}, incomplete{0}, errors{0}, leaked{0};
  std::atomic<uint64_t> received{0};  // frames completed by the producer
};

struct FrameMeta {
  uint64_t sequence = 0;
  int width = 0, height = 0;
  PixelFormat format = PixelFormat::Mono8;
  // CLOCK_MONOTONIC nanoseconds: the exposure's start (exact where the device timestamps it, else an estimate that
  // errs early) and the moment the frame was complete in memory.
  double startNs = 0, arrivalNs = 0;
  double exposureUs = 0, gainDb = 0;
  // Instrument times given by a push producer (the twin's clock); NaN when the frame comes from a device.
  double startMs = 0, endMs = 0;
  bool hasClockTimes = false;
};

double MonotonicNs();

class FramePool : public std::enable_shared_from_this<FramePool> {
 public:
  enum class State { Free, Producer, Ready, Delivered };

  struct Slot {
    uint8_t* data = nullptr;
    size_t capacity = 0;
    State state = State::Free;
    uint32_t generation = 0;
    FrameMeta meta;
  };

  // `count` buffers of `bytes` each, 64-byte aligned (SIMD loads, cache lines). Slots start Free.
  static std::shared_ptr<FramePool> Allocate(size_t count, size_t bytes, size_t queueDepth,
                                             std::shared_ptr<Counters> counters);
  // Buffers owned elsewhere (V4L2 mmap): `unmap` runs when the pool is destroyed. Slots start with the producer.
  static std::shared_ptr<FramePool> Borrow(std::vector<std::pair<uint8_t*, size_t>> buffers, size_t queueDepth,
                                           std::shared_ptr<Counters> counters, std::function<void()> unmap);
  ~FramePool();

  size_t size() const { return slots_.size(); }
  Counters& counters() { return *counters_; }
  uint8_t* data(int slot) const { return slots_[slot].data; }
  size_t capacity(int slot) const { return slots_[slot].capacity; }

  // Where a slot goes when it leaves JS or the ready queue: back to the driver while the device runs.
  void SetRecycler(std::function<void(int)> recycle);
  // The device stopped: every slot not held by JS becomes Free; later releases just free the slot.
  void Detach();

  // ---- producer ----
  int AcquireFree();                                  // a Free slot, now with the producer; -1 when none
  void MarkProducer(int slot);                        // a slot handed to the driver by the device itself
  void Submit(int slot, const FrameMeta& meta);       // complete frame → ready queue (may drop the oldest)
  void Recycle(int slot);                             // incomplete/unused frame → back to the producer

  // ---- consumer (main thread) ----
  // The newest ready frame that started at or after `minStartNs`; older ready frames are recycled and counted as
  // dropped. -1 when none is ready.
  int TakeNewest(double minStartNs);
  // Recycles every ready frame (counted as dropped); returns how many.
  size_t Flush();
  bool Release(int slot, uint32_t generation, bool byFinaliser);
  const FrameMeta& meta(int slot) const { return slots_[slot].meta; }
  uint32_t generation(int slot) const { return slots_[slot].generation; }

  size_t ready();
  size_t outstanding();

 private:
  FramePool(size_t queueDepth, std::shared_ptr<Counters> counters) : depth_(queueDepth), counters_(std::move(counters)) {}
  void GiveBack(std::vector<int>& slots);  // outside the lock: the recycler may call into the driver

  std::mutex mu_;
  std::vector<Slot> slots_;
  std::deque<int> readyQ_;
  size_t depth_;
  std::shared_ptr<Counters> counters_;
  std::function<void(int)> recycle_;
  std::function<void()> unmap_;
  void* block_ = nullptr;
};

}  // namespace ss
