// GenICam cameras (GigE Vision, USB3 Vision) through Aravis 0.8 (https://aravisproject.github.io/aravis/).
//
// The pool's aligned buffers are given to the Aravis stream as preallocated ArvBuffers, so the camera's packets land
// directly in the memory JS later sees: no copy between the wire and the tensor preprocessing. A completed buffer is
// popped in the stream callback (Aravis' receive thread) and submitted to the pool; releasing the frame pushes the same
// ArvBuffer back to the stream.
//
// Exposure start: with the software trigger (default) it is the moment the trigger command was sent, so grab()'s
// "starts after the call" holds exactly. With free-run or hardware triggers it is estimated as arrival − exposure −
// latency margin (one frame period unless configured), which errs early: a frame is never taken as newer than it is.
#include <arv.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "device.h"

namespace ss {

namespace {

std::string Take(GError*& err) {
  std::string m = err && err->message ? err->message : "unknown error";
  g_clear_error(&err);
  return m;
}

class AravisDevice : public Device {
 public:
  ~AravisDevice() override { Close(); }

  DeviceInfo Open(const OpenOptions& o, std::shared_ptr<Counters> counters) override {
    try {
      return Start(o, std::move(counters));
    } catch (...) {
      Close();
      throw;
    }
  }

  void Close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_ = false;  // from here on releases no longer push buffers to the stream
    }
    GError* err = nullptr;
    if (camera_ && acquiring_) {
      arv_camera_stop_acquisition(camera_, &err);  // fails when the camera is gone; nothing to undo then
      g_clear_error(&err);
      acquiring_ = false;
    }
    if (lostHandler_ && camera_) g_signal_handler_disconnect(arv_camera_get_device(camera_), lostHandler_);
    lostHandler_ = 0;
    if (pool_) pool_->Detach();
    // Destroying the stream joins its receive thread and frees the buffers still queued in it.
    ArvStream* stream = stream_.exchange(nullptr);
    if (stream) g_object_unref(stream);
    for (size_t i = 0; i < buffers_.size(); i++) {
      if (buffers_[i] && owned_[i]) g_object_unref(buffers_[i]);  // popped by us: ours to free
    }
    buffers_.clear();
    owned_.reset();
    if (pool_) pool_->Detach();
    if (camera_) g_object_unref(camera_);
    camera_ = nullptr;
  }

  void Trigger() override {
    RequireOpen();
    if (trigger_ != "software") return;
    lastTriggerNs_.store(MonotonicNs());
    GError* err = nullptr;
    arv_camera_software_trigger(camera_, &err);
    if (err) Fail("software trigger", err);
  }

  double SetExposure(double us) override {
    RequireOpen();
    GError* err = nullptr;
    double lo = 0, hi = 0;
    arv_camera_get_exposure_time_bounds(camera_, &lo, &hi, &err);
    if (!err && (us < lo || us > hi)) {
      throw std::range_error("Expected an exposure between " + Num(lo) + " and " + Num(hi) + " µs but received " +
                             Num(us));
    }
    g_clear_error(&err);
    arv_camera_set_exposure_time(camera_, us, &err);
    if (err) Fail("setting ExposureTime", err);
    double got = arv_camera_get_exposure_time(camera_, &err);
    exposureUs_ = err ? us : got;
    g_clear_error(&err);
    return exposureUs_;
  }

  double SetGain(double db) override {
    RequireOpen();
    GError* err = nullptr;
    if (!arv_camera_is_gain_available(camera_, &err)) {
      g_clear_error(&err);
      throw std::runtime_error("GenICam " + id_ + ": the camera has no gain control");
    }
    double lo = 0, hi = 0;
    arv_camera_get_gain_bounds(camera_, &lo, &hi, &err);
    if (!err && (db < lo || db > hi)) {
      throw std::range_error("Expected a gain between " + Num(lo) + " and " + Num(hi) + " dB but received " + Num(db));
    }
    g_clear_error(&err);
    arv_camera_set_gain(camera_, db, &err);
    if (err) Fail("setting Gain", err);
    double got = arv_camera_get_gain(camera_, &err);
    gainDb_ = err ? db : got;
    g_clear_error(&err);
    return gainDb_;
  }

  void Stats(std::map<std::string, double>& out) override {
    ArvStream* stream = stream_.load();
    if (!stream) return;
    guint64 completed = 0, failures = 0, underruns = 0;
    arv_stream_get_statistics(stream, &completed, &failures, &underruns);
    out["underruns"] = static_cast<double>(underruns);
    out["failures"] = static_cast<double>(failures);
    // Transport-specific counters (GigE: missing, resent, ignored packets ...) under their Aravis names.
    for (guint i = 0; i < arv_stream_get_n_infos(stream); i++) {
      const char* name = arv_stream_get_info_name(stream, i);
      if (!name) continue;
      GType t = arv_stream_get_info_type(stream, i);
      if (t == G_TYPE_UINT64) out[std::string("stream.") + name] = static_cast<double>(arv_stream_get_info_uint64(stream, i));
      else if (t == G_TYPE_DOUBLE) out[std::string("stream.") + name] = arv_stream_get_info_double(stream, i);
    }
  }

 private:
  // A control command that timed out or found no connection means the camera is gone (GigE Vision: no GVCP
  // acknowledge after the retries); anything else is an ordinary failure of that command.
  [[noreturn]] void Fail(const char* what, GError*& err) {
    const bool lost = err->domain == ARV_DEVICE_ERROR &&
                      (err->code == ARV_DEVICE_ERROR_TIMEOUT || err->code == ARV_DEVICE_ERROR_NOT_CONNECTED ||
                       err->code == ARV_DEVICE_ERROR_TRANSFER_ERROR);
    std::string msg = "GenICam " + id_ + ": " + what + " failed: " + Take(err);
    if (lost) {
      Emit("disconnected", msg);
      throw DeviceLost(msg);
    }
    throw std::runtime_error(msg);
  }

  void RequireOpen() const {
    if (!camera_) throw std::runtime_error("GenICam " + id_ + ": the camera is not open");
  }

  // Whole numbers in full ("10000000", not "1e+07"): these appear in messages users read.
  static std::string Num(double v) {
    char buf[64];
    if (std::fabs(v) < 1e15 && v == std::floor(v)) snprintf(buf, sizeof buf, "%.0f", v);
    else snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
  }

  DeviceInfo Start(const OpenOptions& o, std::shared_ptr<Counters> counters) {
    counters_ = counters;
    trigger_ = o.trigger;
    GError* err = nullptr;
    id_ = o.id;
    std::string transport;
    if (o.id.rfind("Fake_", 0) == 0) {
      // Aravis' in-process fake camera, opened directly so no network discovery runs.
      ArvDevice* dev = arv_fake_device_new(o.id.substr(5).c_str(), &err);
      if (!dev) throw std::runtime_error("GenICam " + o.id + ": cannot create the fake camera: " + Take(err));
      camera_ = arv_camera_new_with_device(dev, &err);
      g_object_unref(dev);
      transport = "fake";
    } else {
      camera_ = arv_camera_new(o.id.empty() ? nullptr : o.id.c_str(), &err);
    }
    if (!camera_) {
      throw std::runtime_error("GenICam " + (o.id.empty() ? std::string("(first camera)") : o.id) +
                               ": no camera found: " + Take(err));
    }
    if (transport.empty()) transport = arv_camera_is_gv_device(camera_) ? "gige" : arv_camera_is_uv_device(camera_) ? "usb3" : "other";
    DeviceInfo info;
    info.transport = transport;
    info.vendor = Str(arv_camera_get_vendor_name(camera_, &err), err);
    info.model = Str(arv_camera_get_model_name(camera_, &err), err);
    info.serial = Str(arv_camera_get_device_serial_number(camera_, &err), err);
    if (id_.empty()) id_ = info.vendor + "-" + info.serial;
    info.id = id_;

    PixelFormat fmt = o.pixelFormat.value_or(PixelFormat::Mono8);
    arv_camera_set_pixel_format_from_string(camera_, PixelFormatName(fmt), &err);
    if (err) throw std::runtime_error("GenICam " + id_ + ": PixelFormat " + PixelFormatName(fmt) + " refused: " + Take(err));
    if (o.width || o.height || o.offsetX || o.offsetY) {
      gint x = 0, y = 0, w = 0, h = 0;
      arv_camera_get_region(camera_, &x, &y, &w, &h, &err);
      g_clear_error(&err);
      arv_camera_set_region(camera_, o.offsetX.value_or(x), o.offsetY.value_or(y), o.width.value_or(w),
                            o.height.value_or(h), &err);
      if (err) throw std::runtime_error("GenICam " + id_ + ": region refused: " + Take(err));
    }
    gint x = 0, y = 0, w = 0, h = 0;
    arv_camera_get_region(camera_, &x, &y, &w, &h, &err);
    if (err) throw std::runtime_error("GenICam " + id_ + ": cannot read the region: " + Take(err));
    if (o.exposureUs) SetExposure(*o.exposureUs);
    exposureUs_ = arv_camera_get_exposure_time(camera_, &err);
    g_clear_error(&err);
    if (o.gainDb) SetGain(*o.gainDb);
    gainDb_ = arv_camera_is_gain_available(camera_, &err) ? arv_camera_get_gain(camera_, &err) : 0;
    g_clear_error(&err);

    if (trigger_ == "free-run") {
      arv_camera_clear_triggers(camera_, &err);
      g_clear_error(&err);
    } else {
      arv_camera_set_trigger(camera_, trigger_ == "software" ? "Software" : o.triggerSource.c_str(), &err);
      if (err) throw std::runtime_error("GenICam " + id_ + ": trigger setup refused: " + Take(err));
    }
    // The frame rate bounds triggered acquisition too on many cameras (the sensor's readout cadence).
    if (o.frameRate) {
      arv_camera_set_frame_rate(camera_, *o.frameRate, &err);
      if (err) throw std::runtime_error("GenICam " + id_ + ": frame rate refused: " + Take(err));
    }
    arv_camera_set_acquisition_mode(camera_, ARV_ACQUISITION_MODE_CONTINUOUS, &err);
    if (err) throw std::runtime_error("GenICam " + id_ + ": AcquisitionMode refused: " + Take(err));
    double fps = arv_camera_get_frame_rate(camera_, &err);
    g_clear_error(&err);
    marginUs_ = o.latencyMarginUs >= 0 ? o.latencyMarginUs : (fps > 0 ? 1e6 / fps : 100000);
    if (arv_camera_is_gv_device(camera_) && o.packetSize) {
      arv_camera_gv_set_packet_size(camera_, *o.packetSize, &err);
      if (err) throw std::runtime_error("GenICam " + id_ + ": packet size refused: " + Take(err));
    }

    const size_t payload = arv_camera_get_payload(camera_, &err);
    if (err) throw std::runtime_error("GenICam " + id_ + ": cannot read PayloadSize: " + Take(err));
    width_ = w;
    height_ = h;
    format_ = fmt;
    const size_t imageBytes = static_cast<size_t>(w) * h * BytesPerPixel(fmt);
    if (payload < imageBytes) throw std::runtime_error("GenICam " + id_ + ": PayloadSize is smaller than the image");
    pool_ = FramePool::Allocate(o.poolSize, payload, o.queueDepth, counters);
    pool_->SetRecycler([this](int slot) { Push(slot); });

    ArvStream* stream = arv_camera_create_stream(camera_, &AravisDevice::OnStream, this, &err);
    if (!stream) throw std::runtime_error("GenICam " + id_ + ": cannot open the stream: " + Take(err));
    stream_.store(stream);
    buffers_.assign(o.poolSize, nullptr);
    owned_ = std::make_unique<std::atomic<bool>[]>(o.poolSize);
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_ = true;
    }
    for (size_t i = 0; i < o.poolSize; i++) {
      buffers_[i] = arv_buffer_new_full(payload, pool_->data(static_cast<int>(i)), GINT_TO_POINTER(static_cast<int>(i)), nullptr);
      owned_[i] = true;
      pool_->MarkProducer(static_cast<int>(i));
      Push(static_cast<int>(i));
    }
    ArvDevice* dev = arv_camera_get_device(camera_);
    if (ARV_IS_GV_DEVICE(dev)) {
      lostHandler_ = g_signal_connect(dev, "control-lost", G_CALLBACK(&AravisDevice::OnControlLost), this);
    }
    arv_camera_start_acquisition(camera_, &err);
    if (err) throw std::runtime_error("GenICam " + id_ + ": AcquisitionStart failed: " + Take(err));
    acquiring_ = true;

    info.width = w;
    info.height = h;
    gint sw = 0, sh = 0;
    arv_camera_get_sensor_size(camera_, &sw, &sh, &err);
    g_clear_error(&err);
    info.sensorWidth = sw;
    info.sensorHeight = sh;
    info.format = fmt;
    info.exposureUs = exposureUs_;
    info.gainDb = gainDb_;
    info.payloadBytes = payload;
    info.zeroCopy = true;
    return info;
  }

  static std::string Str(const char* s, GError*& err) {
    g_clear_error(&err);
    return s ? s : "";
  }

  void Push(int slot) {
    std::lock_guard<std::mutex> lock(mu_);
    ArvStream* stream = stream_.load();
    if (!running_ || !stream || !owned_[slot]) return;
    owned_[slot] = false;
    arv_stream_push_buffer(stream, buffers_[slot]);  // the stream owns it until it comes back done
  }

  static void OnStream(void* user, ArvStreamCallbackType type, ArvBuffer*) {
    if (type != ARV_STREAM_CALLBACK_TYPE_BUFFER_DONE) return;
    auto* self = static_cast<AravisDevice*>(user);
    ArvStream* stream = self->stream_.load();
    if (!stream) return;
    ArvBuffer* b = arv_stream_try_pop_buffer(stream);
    if (!b) return;
    self->Done(b);
  }

  void Done(ArvBuffer* b) {
    const double arrival = MonotonicNs();
    const int slot = GPOINTER_TO_INT(arv_buffer_get_user_data(b));
    owned_[slot] = true;
    if (arv_buffer_get_status(b) != ARV_BUFFER_STATUS_SUCCESS ||
        arv_buffer_get_payload_type(b) != ARV_BUFFER_PAYLOAD_TYPE_IMAGE) {
      counters_->incomplete++;
      pool_->Recycle(slot);
      return;
    }
    FrameMeta m;
    m.width = arv_buffer_get_image_width(b);
    m.height = arv_buffer_get_image_height(b);
    m.format = format_;
    if (m.width != width_ || m.height != height_) {
      counters_->incomplete++;
      pool_->Recycle(slot);
      return;
    }
    m.sequence = ++sequence_;  // per source; the camera's 16-bit GigE block id wraps
    m.arrivalNs = arrival;
    m.exposureUs = exposureUs_;
    m.gainDb = gainDb_;
    m.startNs = trigger_ == "software" ? lastTriggerNs_.load() : arrival - (exposureUs_ + marginUs_) * 1e3;
    pool_->Submit(slot, m);
    Emit("frame");
  }

  static void OnControlLost(ArvGvDevice*, gpointer user) {
    auto* self = static_cast<AravisDevice*>(user);
    self->Emit("disconnected", "GenICam " + self->id_ + ": control lost (no heartbeat reply)");
  }

  std::string id_, trigger_;
  ArvCamera* camera_ = nullptr;
  std::atomic<ArvStream*> stream_{nullptr};
  std::vector<ArvBuffer*> buffers_;
  std::unique_ptr<std::atomic<bool>[]> owned_;
  std::shared_ptr<Counters> counters_;
  std::mutex mu_;
  bool running_ = false, acquiring_ = false;
  gulong lostHandler_ = 0;
  int width_ = 0, height_ = 0;
  PixelFormat format_ = PixelFormat::Mono8;
  double exposureUs_ = 0, gainDb_ = 0, marginUs_ = 0;
  std::atomic<double> lastTriggerNs_{0};
  uint64_t sequence_ = 0;
};

}  // namespace

std::unique_ptr<Device> MakeAravisDevice() { return std::make_unique<AravisDevice>(); }

}  // namespace ss
