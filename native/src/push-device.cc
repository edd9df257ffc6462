// The push device: JS code (the twin, a replay) writes frames into pool buffers and submits them; from there on they
// travel exactly like a camera's frames.
#include <stdexcept>

#include "device.h"

namespace ss {

namespace {

class PushDevice : public Device {
 public:
  DeviceInfo Open(const OpenOptions& o, std::shared_ptr<Counters> counters) override {
    if (!o.width || !o.height) throw std::runtime_error("a push source needs width and height");
    DeviceInfo info;
    info.width = *o.width;
    info.height = *o.height;
    info.format = o.pixelFormat.value_or(PixelFormat::Mono8);
    info.exposureUs = o.exposureUs.value_or(1000);
    info.gainDb = o.gainDb.value_or(0);
    info.payloadBytes = static_cast<size_t>(info.width) * info.height * BytesPerPixel(info.format);
    info.transport = "push";
    info.id = o.id.empty() ? "push" : o.id;
    pool_ = FramePool::Allocate(o.poolSize, info.payloadBytes, o.queueDepth, std::move(counters));
    exposureUs_ = info.exposureUs;
    gainDb_ = info.gainDb;
    return info;
  }
  void Close() override {
    if (pool_) pool_->Detach();
  }
  double SetExposure(double us) override { return exposureUs_ = us; }
  double SetGain(double db) override { return gainDb_ = db; }

 private:
  double exposureUs_ = 0, gainDb_ = 0;
};

}  // namespace

std::unique_ptr<Device> MakePushDevice() { return std::make_unique<PushDevice>(); }

}  // namespace ss
