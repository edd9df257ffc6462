// The Capture class: JS handle of one device and its frame pool.
//
// Frames reach JS as external ArrayBuffers over pool memory; release() gives the slot back and detaches the buffer,
// so a frame used after release reads as empty instead of showing the next exposure. Device control runs on the
// thread pool, serialised by one mutex per device; frame and disconnect notifications arrive through a
// ThreadSafeFunction (coalesced: at most one "frame" call is queued at a time).
#include "capture.h"

#include <atomic>
#include <cmath>
#include <mutex>

#include "args.h"
#include "device.h"
#include "task.h"

namespace ss {

namespace {

struct FinalizeHint {
  std::shared_ptr<FramePool> pool;
  int slot;
  uint32_t generation;
};

void FinalizeFrame(Napi::Env, void*, FinalizeHint* hint) {
  hint->pool->Release(hint->slot, hint->generation, true);
  delete hint;
}

Napi::TypedArray Pixels(Napi::Env env, const std::shared_ptr<FramePool>& pool, int slot, size_t pixels,
                        PixelFormat format) {
  const size_t bytes = pixels * BytesPerPixel(format);
  auto* hint = new FinalizeHint{pool, slot, pool->generation(slot)};
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, pool->data(slot), bytes, FinalizeFrame, hint);
  if (format == PixelFormat::Mono8) return Napi::Uint8Array::New(env, pixels, ab, 0);
  return Napi::Uint16Array::New(env, pixels, ab, 0);
}

struct EventData {
  std::string event, detail;
};

class Capture : public Napi::ObjectWrap<Capture> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Capture",
                       {
                           InstanceMethod<&Capture::Open>("open"),
                           InstanceMethod<&Capture::Close>("close"),
                           InstanceMethod<&Capture::Take>("take"),
                           InstanceMethod<&Capture::Flush>("flush"),
                           InstanceMethod<&Capture::Release>("release"),
                           InstanceMethod<&Capture::Trigger>("trigger"),
                           InstanceMethod<&Capture::SetExposure>("setExposure"),
                           InstanceMethod<&Capture::SetGain>("setGain"),
                           InstanceMethod<&Capture::GetCounters>("counters"),
                           InstanceMethod<&Capture::Acquire>("acquire"),
                           InstanceMethod<&Capture::Submit>("submit"),
                           InstanceMethod<&Capture::Abandon>("abandon"),
                           InstanceMethod<&Capture::Contains>("contains"),
                       });
  }

  explicit Capture(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Capture>(info) {
    Napi::Env env = info.Env();
    std::vector<std::string> kinds = {"push"};
#ifdef SMARTSCOPE_HAVE_ARAVIS
    kinds.push_back("genicam");
#endif
#ifdef SMARTSCOPE_HAVE_V4L2
    kinds.push_back("v4l2");
#endif
    std::string what = "one of ";
    for (size_t i = 0; i < kinds.size(); i++) what += (i ? ", \"" : "\"") + kinds[i] + "\"";
    if (!info[0].IsString()) ThrowType(env, what, "kind", info[0]);
    kind_ = info[0].As<Napi::String>().Utf8Value();
    if (kind_ == "push") device_ = MakePushDevice();
#ifdef SMARTSCOPE_HAVE_ARAVIS
    else if (kind_ == "genicam") device_ = MakeAravisDevice();
#endif
#ifdef SMARTSCOPE_HAVE_V4L2
    else if (kind_ == "v4l2") device_ = MakeV4l2Device();
#endif
    else ThrowRange(env, what, "kind", info[0]);
    if (!info[1].IsFunction()) ThrowType(env, "a function", "onEvent", info[1]);
    counters_ = std::make_shared<Counters>();
    control_ = std::make_shared<std::mutex>();
    pending_ = std::make_shared<std::atomic<bool>>(false);
    tsfnGone_ = std::make_shared<std::atomic<bool>>(false);
    auto gone = tsfnGone_;
    // At environment teardown the TSFN can be finalised before this object; the flag keeps the destructor from
    // releasing it a second time.
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "smartscope:capture", 0, 1,
                                          [gone](Napi::Env) { gone->store(true); });
    tsfn_.Unref(env);  // only an open device keeps the process alive
    auto tsfn = tsfn_;
    auto pending = pending_;
    device_->SetEvents([tsfn, pending](const std::string& event, const std::string& detail) mutable {
      if (event == "frame" && pending->exchange(true)) return;  // one queued notification covers a burst
      auto* data = new EventData{event, detail};
      napi_status st = tsfn.NonBlockingCall(data, [pending](Napi::Env env, Napi::Function fn, EventData* d) {
        if (d->event == "frame") pending->store(false);
        if (env != nullptr && fn != nullptr) {
          fn.Call({Napi::String::New(env, d->event), Napi::String::New(env, d->detail)});
        }
        delete d;
      });
      if (st != napi_ok) {
        delete data;
        if (event == "frame") pending->store(false);
      }
    });
  }

  ~Capture() override {
    // Collected while open: stop the device here rather than leave its threads writing into the pool.
    if (device_) {
      std::lock_guard<std::mutex> lock(*control_);
      if (open_) device_->Close();
      device_->SetEvents(nullptr);
    }
    if (!tsfnGone_->load()) tsfn_.Release();
  }

 private:
  Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = ObjectArg(info[0], "options", false);
    OpenOptions opts;
    opts.poolSize = static_cast<size_t>(NumberOption(o, "poolSize", "options.poolSize", 2, 64, 4, true));
    opts.queueDepth = static_cast<size_t>(
        NumberOption(o, "queueDepth", "options.queueDepth", 1, static_cast<double>(opts.poolSize - 1),
                     std::min<double>(2, static_cast<double>(opts.poolSize - 1)), true));
    if (!o.Get("width").IsUndefined()) opts.width = static_cast<int>(NumberArg(o.Get("width"), "options.width", 1, 65535, true));
    if (!o.Get("height").IsUndefined()) opts.height = static_cast<int>(NumberArg(o.Get("height"), "options.height", 1, 65535, true));
    if (!o.Get("offsetX").IsUndefined()) opts.offsetX = static_cast<int>(NumberArg(o.Get("offsetX"), "options.offsetX", 0, 65535, true));
    if (!o.Get("offsetY").IsUndefined()) opts.offsetY = static_cast<int>(NumberArg(o.Get("offsetY"), "options.offsetY", 0, 65535, true));
    std::string fmt = StringOption(o, "pixelFormat", "options.pixelFormat", {"Mono8", "Mono12", "Mono16"}, "");
    if (!fmt.empty()) opts.pixelFormat = fmt == "Mono8" ? PixelFormat::Mono8 : fmt == "Mono12" ? PixelFormat::Mono12 : PixelFormat::Mono16;
    if (!o.Get("exposureUs").IsUndefined()) opts.exposureUs = NumberArg(o.Get("exposureUs"), "options.exposureUs", 1, 1e8);
    if (!o.Get("gainDb").IsUndefined()) opts.gainDb = NumberArg(o.Get("gainDb"), "options.gainDb", -100, 100);
    if (!o.Get("frameRate").IsUndefined()) opts.frameRate = NumberArg(o.Get("frameRate"), "options.frameRate", 0.01, 10000);
    if (!o.Get("packetSize").IsUndefined()) opts.packetSize = static_cast<int>(NumberArg(o.Get("packetSize"), "options.packetSize", 576, 16384, true));
    opts.latencyMarginUs = NumberOption(o, "latencyMarginUs", "options.latencyMarginUs", 0, 1e8, -1);
    opts.gainScale = NumberOption(o, "gainScale", "options.gainScale", 1e-6, 1e6, 1);
    opts.trigger = StringOption(o, "trigger", "options.trigger", {"software", "hardware", "free-run"}, "software");
    auto str = [&](const char* key, std::string& into) {
      Napi::Value v = o.Get(key);
      if (v.IsUndefined()) return;
      if (!v.IsString()) ThrowType(env, "a string", std::string("options.") + key, v);
      into = v.As<Napi::String>().Utf8Value();
    };
    str("id", opts.id);
    str("triggerSource", opts.triggerSource);
    str("device", opts.device);
    str("fourcc", opts.fourcc);
    if (open_ || opening_) throw Napi::Error::New(env, "the device is already open");
    opening_ = true;
    auto device = device_;
    auto control = control_;
    auto counters = counters_;
    auto result = std::make_shared<DeviceInfo>();
    auto self = Napi::Persistent(Value());
    auto selfRef = std::make_shared<Napi::ObjectReference>(std::move(self));
    return Task::Run(
        env, {},
        [device, control, counters, opts, result]() {
          std::lock_guard<std::mutex> lock(*control);
          *result = device->Open(opts, counters);
        },
        [this, result, selfRef](Napi::Env env) -> Napi::Value {
          opening_ = false;
          open_ = true;
          info_ = *result;
          tsfn_.Ref(env);
          return InfoObject(env, *result);
        },
        [this](Napi::Env) { opening_ = false; });
  }

  static Napi::Object InfoObject(Napi::Env env, const DeviceInfo& d) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("id", d.id);
    r.Set("vendor", d.vendor);
    r.Set("model", d.model);
    r.Set("serial", d.serial);
    r.Set("transport", d.transport);
    r.Set("width", d.width);
    r.Set("height", d.height);
    r.Set("sensorWidth", d.sensorWidth ? d.sensorWidth : d.width);
    r.Set("sensorHeight", d.sensorHeight ? d.sensorHeight : d.height);
    r.Set("pixelFormat", PixelFormatName(d.format));
    r.Set("exposureUs", d.exposureUs);
    r.Set("gainDb", d.gainDb);
    r.Set("payloadBytes", static_cast<double>(d.payloadBytes));
    r.Set("zeroCopy", d.zeroCopy);
    r.Set("dmabuf", d.dmabuf);
    return r;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto device = device_;
    auto control = control_;
    bool wasOpen = open_;
    open_ = false;
    auto selfRef = std::make_shared<Napi::ObjectReference>(Napi::Persistent(Value()));
    return Task::Run(
        env, {},
        [device, control, wasOpen]() {
          std::lock_guard<std::mutex> lock(*control);
          if (wasOpen) device->Close();
        },
        [this, wasOpen, selfRef](Napi::Env env) -> Napi::Value {
          if (wasOpen) tsfn_.Unref(env);
          return env.Undefined();
        });
  }

  std::shared_ptr<FramePool> PoolOrNull() { return device_ ? device_->pool() : nullptr; }

  Napi::Value Take(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    double minStartNs = NumberArg(info[0], "minStartNs", -1e300, 1e300);
    auto pool = PoolOrNull();
    if (!pool || !open_) return env.Null();
    int slot = pool->TakeNewest(minStartNs);
    if (slot < 0) return env.Null();
    const FrameMeta& m = pool->meta(slot);
    Napi::Object f = Napi::Object::New(env);
    f.Set("data", Pixels(env, pool, slot, static_cast<size_t>(m.width) * m.height, m.format));
    f.Set("slot", slot);
    f.Set("generation", pool->generation(slot));
    f.Set("sequence", static_cast<double>(m.sequence));
    f.Set("width", m.width);
    f.Set("height", m.height);
    f.Set("pixelFormat", PixelFormatName(m.format));
    f.Set("startNs", m.startNs);
    f.Set("arrivalNs", m.arrivalNs);
    f.Set("exposureUs", m.exposureUs);
    f.Set("gainDb", m.gainDb);
    if (m.hasClockTimes) {
      f.Set("startMs", m.startMs);
      f.Set("endMs", m.endMs);
    }
    return f;
  }

  Napi::Value Flush(const Napi::CallbackInfo& info) {
    auto pool = PoolOrNull();
    return Napi::Number::New(info.Env(), pool ? static_cast<double>(pool->Flush()) : 0);
  }

  // release(slot, generation, data?): gives the slot back; detaches `data` so later reads see an empty array.
  Napi::Value Release(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int slot = static_cast<int>(NumberArg(info[0], "slot", 0, 1e6, true));
    uint32_t gen = static_cast<uint32_t>(NumberArg(info[1], "generation", 0, 4294967295.0, true));
    auto pool = PoolOrNull();
    bool ok = pool && pool->Release(slot, gen, false);
    if (info[2].IsTypedArray()) {
      Napi::ArrayBuffer ab = info[2].As<Napi::TypedArray>().ArrayBuffer();
      if (pool && static_cast<size_t>(slot) < pool->size() && ab.Data() == pool->data(slot) && !ab.IsDetached()) {
        ab.Detach();
      }
    }
    return Napi::Boolean::New(env, ok);
  }

  Napi::Value Control(const Napi::CallbackInfo& info, std::function<double(Device&)> op) {
    Napi::Env env = info.Env();
    if (!open_) throw Napi::Error::New(env, "the device is not open");
    auto device = device_;
    auto control = control_;
    auto result = std::make_shared<double>(0);
    return Task::Run(
        env, {},
        [device, control, op, result]() {
          std::lock_guard<std::mutex> lock(*control);
          *result = op(*device);
        },
        [result](Napi::Env env) { return Napi::Number::New(env, *result); });
  }

  Napi::Value Trigger(const Napi::CallbackInfo& info) {
    return Control(info, [](Device& d) {
      d.Trigger();
      return MonotonicNs();
    });
  }

  Napi::Value SetExposure(const Napi::CallbackInfo& info) {
    double us = NumberArg(info[0], "exposureUs", -1e12, 1e12);  // the device checks its own range
    return Control(info, [us](Device& d) { return d.SetExposure(us); });
  }

  Napi::Value SetGain(const Napi::CallbackInfo& info) {
    double db = NumberArg(info[0], "gainDb", -1e12, 1e12);
    return Control(info, [db](Device& d) { return d.SetGain(db); });
  }

  Napi::Value GetCounters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object r = Napi::Object::New(env);
    const Counters& c = *counters_;
    r.Set("delivered", static_cast<double>(c.delivered.load()));
    r.Set("dropped", static_cast<double>(c.dropped.load()));
    r.Set("timeouts", static_cast<double>(c.timeouts.load()));
    r.Set("incomplete", static_cast<double>(c.incomplete.load()));
    r.Set("errors", static_cast<double>(c.errors.load()));
    r.Set("leaked", static_cast<double>(c.leaked.load()));
    r.Set("received", static_cast<double>(c.received.load()));
    auto pool = PoolOrNull();
    r.Set("ready", pool ? static_cast<double>(pool->ready()) : 0);
    r.Set("outstanding", pool ? static_cast<double>(pool->outstanding()) : 0);
    if (open_) {
      std::map<std::string, double> extra;
      {
        std::unique_lock<std::mutex> lock(*control_, std::try_to_lock);  // never wait on a slow control call
        if (lock.owns_lock()) device_->Stats(extra);
      }
      for (auto& [k, v] : extra) r.Set(k, v);
    }
    return r;
  }

  // ---- push sources ----

  void RequirePush(Napi::Env env) {
    if (kind_ != "push") throw Napi::Error::New(env, "only a push source accepts frames from JS");
    if (!open_) throw Napi::Error::New(env, "the push source is not open");
  }

  Napi::Value Acquire(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequirePush(env);
    auto pool = PoolOrNull();
    int slot = pool->AcquireFree();
    if (slot < 0) return env.Null();
    // The slot's meta records when the producer got it: a frame written after a grab() call starts after it.
    FrameMeta m;
    m.startNs = MonotonicNs();
    m.width = info_.width;
    m.height = info_.height;
    m.format = info_.format;
    pushMeta_[slot] = m;
    Napi::Object r = Napi::Object::New(env);
    r.Set("slot", slot);
    r.Set("generation", pool->generation(slot));
    r.Set("data", Pixels(env, pool, slot, static_cast<size_t>(info_.width) * info_.height, info_.format));
    return r;
  }

  // submit(slot, generation, data, meta): the producer is done writing; its view of the buffer is detached.
  Napi::Value Submit(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequirePush(env);
    auto pool = PoolOrNull();
    int slot = static_cast<int>(NumberArg(info[0], "slot", 0, static_cast<double>(pool->size() - 1), true));
    uint32_t gen = static_cast<uint32_t>(NumberArg(info[1], "generation", 0, 4294967295.0, true));
    if (gen != pool->generation(slot) || !pushMeta_.count(slot)) {
      throw Napi::Error::New(env, "the buffer was already submitted or abandoned");
    }
    Napi::Object o = ObjectArg(info[3], "meta", false);
    FrameMeta m = pushMeta_[slot];
    pushMeta_.erase(slot);
    m.sequence = ++pushSequence_;
    m.exposureUs = NumberOption(o, "exposureUs", "meta.exposureUs", 0, 1e8, info_.exposureUs);
    m.gainDb = NumberOption(o, "gainDb", "meta.gainDb", -100, 100, info_.gainDb);
    if (!o.Get("startMs").IsUndefined()) {
      m.startMs = NumberArg(o.Get("startMs"), "meta.startMs", -1e300, 1e300);
      m.endMs = NumberOption(o, "endMs", "meta.endMs", m.startMs, 1e300, m.startMs + m.exposureUs / 1000);
      m.hasClockTimes = true;
    }
    // A region of interest gives smaller frames in the same buffers.
    m.width = static_cast<int>(NumberOption(o, "width", "meta.width", 1, info_.width, info_.width, true));
    m.height = static_cast<int>(NumberOption(o, "height", "meta.height", 1, info_.height, info_.height, true));
    m.arrivalNs = MonotonicNs();
    DetachView(info[2], pool, slot);
    pool->Submit(slot, m);
    return env.Undefined();
  }

  Napi::Value Abandon(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto pool = PoolOrNull();
    if (kind_ != "push" || !pool) return Napi::Boolean::New(env, false);
    int slot = static_cast<int>(NumberArg(info[0], "slot", 0, static_cast<double>(pool->size() - 1), true));
    uint32_t gen = static_cast<uint32_t>(NumberArg(info[1], "generation", 0, 4294967295.0, true));
    if (gen != pool->generation(slot) || !pushMeta_.count(slot)) return Napi::Boolean::New(env, false);
    pushMeta_.erase(slot);
    DetachView(info[2], pool, slot);
    pool->Recycle(slot);
    return Napi::Boolean::New(env, true);
  }

  // contains(view): whether a typed array lies inside this source's pool memory (zero-copy checks in benchmarks).
  Napi::Value Contains(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray()) ThrowType(env, "a typed array", "view", info[0]);
    auto ta = info[0].As<Napi::TypedArray>();
    auto pool = PoolOrNull();
    if (!pool || ta.ArrayBuffer().IsDetached()) return Napi::Boolean::New(env, false);
    auto* p = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    for (size_t i = 0; i < pool->size(); i++) {
      if (p >= pool->data(static_cast<int>(i)) && p + ta.ByteLength() <= pool->data(static_cast<int>(i)) + pool->capacity(static_cast<int>(i))) {
        return Napi::Boolean::New(env, true);
      }
    }
    return Napi::Boolean::New(env, false);
  }

  static void DetachView(const Napi::Value& v, const std::shared_ptr<FramePool>& pool, int slot) {
    if (!v.IsTypedArray()) return;
    Napi::ArrayBuffer ab = v.As<Napi::TypedArray>().ArrayBuffer();
    if (!ab.IsDetached() && ab.Data() == pool->data(slot)) ab.Detach();
  }

  std::string kind_;
  std::shared_ptr<Device> device_;
  std::shared_ptr<std::mutex> control_;
  std::shared_ptr<Counters> counters_;
  std::shared_ptr<std::atomic<bool>> pending_;
  std::shared_ptr<std::atomic<bool>> tsfnGone_;
  Napi::ThreadSafeFunction tsfn_;
  bool open_ = false, opening_ = false;
  DeviceInfo info_;
  std::map<int, FrameMeta> pushMeta_;
  uint64_t pushSequence_ = 0;
};

Napi::Value MonotonicNsFn(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), MonotonicNs()); }

}  // namespace

void InitCapture(Napi::Env env, Napi::Object exports) {
  exports.Set("Capture", Capture::Define(env));
  exports.Set("monotonicNs", Napi::Function::New(env, MonotonicNsFn, "monotonicNs"));
}

}  // namespace ss
