#include "frame-pool.h"

#include <time.h>

#include <cstdlib>
#include <stdexcept>

namespace ss {

const char* PixelFormatName(PixelFormat f) {
  switch (f) {
    case PixelFormat::Mono8: return "Mono8";
    case PixelFormat::Mono12: return "Mono12";
    case PixelFormat::Mono16: return "Mono16";
  }
  return "?";
}

double MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

std::shared_ptr<FramePool> FramePool::Allocate(size_t count, size_t bytes, size_t queueDepth,
                                               std::shared_ptr<Counters> counters) {
  std::shared_ptr<FramePool> pool(new FramePool(queueDepth, std::move(counters)));
  const size_t stride = (bytes + 63) / 64 * 64;
  pool->block_ = std::aligned_alloc(64, stride * count);
  if (!pool->block_) throw std::runtime_error("cannot allocate " + std::to_string(stride * count) + " bytes of frames");
  pool->slots_.resize(count);
  for (size_t i = 0; i < count; i++) {
    pool->slots_[i].data = static_cast<uint8_t*>(pool->block_) + i * stride;
    pool->slots_[i].capacity = bytes;
  }
  return pool;
}

std::shared_ptr<FramePool> FramePool::Borrow(std::vector<std::pair<uint8_t*, size_t>> buffers, size_t queueDepth,
                                             std::shared_ptr<Counters> counters, std::function<void()> unmap) {
  std::shared_ptr<FramePool> pool(new FramePool(queueDepth, std::move(counters)));
  pool->slots_.resize(buffers.size());
  for (size_t i = 0; i < buffers.size(); i++) {
    pool->slots_[i].data = buffers[i].first;
    pool->slots_[i].capacity = buffers[i].second;
    pool->slots_[i].state = State::Producer;
  }
  pool->unmap_ = std::move(unmap);
  return pool;
}

FramePool::~FramePool() {
  if (unmap_) unmap_();
  std::free(block_);
}

void FramePool::SetRecycler(std::function<void(int)> recycle) {
  std::lock_guard<std::mutex> lock(mu_);
  recycle_ = std::move(recycle);
}

void FramePool::Detach() {
  std::lock_guard<std::mutex> lock(mu_);
  recycle_ = nullptr;
  readyQ_.clear();
  for (auto& s : slots_) {
    if (s.state != State::Delivered) s.state = State::Free;
  }
}

void FramePool::GiveBack(std::vector<int>& slots) {
  if (slots.empty()) return;
  std::function<void(int)> recycle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    recycle = recycle_;
    for (int s : slots) slots_[s].state = recycle ? State::Producer : State::Free;
  }
  if (recycle) {
    for (int s : slots) recycle(s);
  }
  slots.clear();
}

int FramePool::AcquireFree() {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < slots_.size(); i++) {
    if (slots_[i].state == State::Free) {
      slots_[i].state = State::Producer;
      return static_cast<int>(i);
    }
  }
  return -1;
}

void FramePool::MarkProducer(int slot) {
  std::lock_guard<std::mutex> lock(mu_);
  slots_[slot].state = State::Producer;
}

void FramePool::Submit(int slot, const FrameMeta& meta) {
  std::vector<int> back;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Slot& s = slots_[slot];
    s.meta = meta;
    s.state = State::Ready;
    readyQ_.push_back(slot);
    counters_->received++;
    while (readyQ_.size() > depth_) {
      back.push_back(readyQ_.front());
      readyQ_.pop_front();
      counters_->dropped++;
    }
  }
  GiveBack(back);
}

void FramePool::Recycle(int slot) {
  std::vector<int> back = {slot};
  GiveBack(back);
}

int FramePool::TakeNewest(double minStartNs) {
  std::vector<int> back;
  int taken = -1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!readyQ_.empty()) {
      int s = readyQ_.back();
      readyQ_.pop_back();
      if (taken < 0 && slots_[s].meta.startNs >= minStartNs) {
        taken = s;
      } else {
        back.push_back(s);
        counters_->dropped++;
      }
    }
    if (taken >= 0) {
      Slot& s = slots_[taken];
      s.state = State::Delivered;
      s.generation++;
      counters_->delivered++;
    }
  }
  GiveBack(back);
  return taken;
}

size_t FramePool::Flush() {
  std::vector<int> back;
  {
    std::lock_guard<std::mutex> lock(mu_);
    back.assign(readyQ_.begin(), readyQ_.end());
    readyQ_.clear();
    counters_->dropped += back.size();
  }
  size_t n = back.size();
  GiveBack(back);
  return n;
}

bool FramePool::Release(int slot, uint32_t generation, bool byFinaliser) {
  if (slot < 0 || static_cast<size_t>(slot) >= slots_.size()) return false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Slot& s = slots_[slot];
    if (s.state != State::Delivered || s.generation != generation) return false;
    if (byFinaliser) counters_->leaked++;
    s.state = State::Producer;  // settled by GiveBack
  }
  std::vector<int> back = {slot};
  GiveBack(back);
  return true;
}

size_t FramePool::ready() {
  std::lock_guard<std::mutex> lock(mu_);
  return readyQ_.size();
}

size_t FramePool::outstanding() {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (auto& s : slots_) n += s.state == State::Delivered;
  return n;
}

}  // namespace ss
