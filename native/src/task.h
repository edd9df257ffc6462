// One asynchronous operation, in the "baton" style: the caller copies arguments into plain C++ on the main thread
// (captured by `work`), `work` runs on libuv's thread pool without touching N-API, and `done` builds the JS result back
// on the main thread. The typed arrays the work reads and writes are kept referenced until it finishes, so the garbage
// collector cannot free caller-owned memory under a running worker.
#pragma once

#include <napi.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ss {

// Thrown by work whose device went away (see device.h DeviceLost).
struct TaskLost : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Task : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;
  using Fail = std::function<void(Napi::Env)>;

  static Napi::Promise Run(Napi::Env env, const std::vector<Napi::Object>& keep, Work work, Done done,
                           Fail fail = nullptr) {
    auto* task = new Task(env, keep, std::move(work), std::move(done));
    task->fail_ = std::move(fail);
    Napi::Promise promise = task->deferred_.Promise();
    task->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const TaskLost& e) {
      lost_ = true;  // the device went away: the error carries `disconnected: true`
      SetError(e.what());
    } catch (const std::range_error& e) {
      range_ = true;  // an out-of-range value found by the device: surfaces as a RangeError
      SetError(e.what());
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  void OnOK() override {
    Napi::HandleScope scope(Env());
    try {
      deferred_.Resolve(done_ ? done_(Env()) : Env().Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& e) override {
    if (fail_) fail_(Env());
    if (range_) {
      deferred_.Reject(Napi::RangeError::New(Env(), e.Message()).Value());
    } else if (lost_) {
      Napi::Error err = Napi::Error::New(Env(), e.Message());
      err.Set("disconnected", true);
      deferred_.Reject(err.Value());
    } else {
      deferred_.Reject(e.Value());
    }
  }

 private:
  Task(Napi::Env env, const std::vector<Napi::Object>& keep, Work work, Done done)
      : Napi::AsyncWorker(env, "smartscope:pixel"), deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)), done_(std::move(done)) {
    for (const auto& o : keep) {
      if (!o.IsEmpty()) keep_.push_back(Napi::Persistent(o));
    }
  }

  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  Fail fail_;
  bool range_ = false, lost_ = false;
  std::vector<Napi::ObjectReference> keep_;
};

}  // namespace ss
