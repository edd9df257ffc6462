// A capture device behind the native Capture class: push (frames written by JS), GenICam via Aravis, or V4L2.
// Open/Close/Trigger/Set* run on a worker thread (never the event loop); a device reports frames by submitting slots
// to its pool and calls `events` (thread-safe) for "frame", "disconnected" and "error".
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "frame-pool.h"
#include "task.h"

namespace ss {

// The device stopped answering (unplugged, powered off, network gone): the JS source reports `disconnected`.
struct DeviceLost : TaskLost {
  using TaskLost::TaskLost;
};

struct OpenOptions {
  // all devices
  size_t poolSize = 4;
  size_t queueDepth = 2;
  std::optional<int> width, height;
  std::optional<PixelFormat> pixelFormat;
  std::optional<double> exposureUs, gainDb;
  // GenICam
  std::string id;              // camera id, IP address or "Fake_<serial>" for Aravis' in-process fake camera
  std::string trigger = "software";  // software | hardware | free-run
  std::string triggerSource = "Line0";
  std::optional<int> offsetX, offsetY;
  std::optional<double> frameRate;
  std::optional<int> packetSize;
  double latencyMarginUs = -1;  // < 0: one frame period
  // V4L2
  std::string device;
  std::string fourcc;          // requested V4L2 format, "" = first supported
  double gainScale = 1;        // V4L2 gain control units per dB
};

struct DeviceInfo {
  std::string id, vendor, model, serial;
  int width = 0, height = 0;
  int sensorWidth = 0, sensorHeight = 0;  // the full sensor, whatever region is read out
  PixelFormat format = PixelFormat::Mono8;
  double exposureUs = 0, gainDb = 0;
  size_t payloadBytes = 0;
  bool zeroCopy = true;
  bool dmabuf = false;
  std::string transport;  // "push", "fake", "gige", "usb3", "v4l2"
};

using EventSink = std::function<void(const std::string& event, const std::string& detail)>;

class Device {
 public:
  virtual ~Device() = default;
  virtual DeviceInfo Open(const OpenOptions& options, std::shared_ptr<Counters> counters) = 0;
  virtual void Close() = 0;
  virtual void Trigger() {}
  virtual double SetExposure(double us) = 0;
  virtual double SetGain(double db) = 0;
  // Device-specific counters (missing/resent packets, underruns, ...).
  virtual void Stats(std::map<std::string, double>& out) {}
  std::shared_ptr<FramePool> pool() const { return pool_; }
  void SetEvents(EventSink sink) { events_ = std::move(sink); }

 protected:
  void Emit(const std::string& event, const std::string& detail = "") {
    if (events_) events_(event, detail);
  }
  std::shared_ptr<FramePool> pool_;
  EventSink events_;
};

std::unique_ptr<Device> MakePushDevice();
#ifdef SMARTSCOPE_HAVE_ARAVIS
std::unique_ptr<Device> MakeAravisDevice();
#endif
#ifdef SMARTSCOPE_HAVE_V4L2
std::unique_ptr<Device> MakeV4l2Device();
#endif

}  // namespace ss
