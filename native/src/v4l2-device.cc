// V4L2 capture with memory-mapped streaming buffers
// (https://www.kernel.org/doc/html/latest/userspace-api/media/v4l/mmap.html).
//
// Where the driver's buffer already has the output layout (GREY, Y12, Y16 without row padding) the mmap'd buffer
// itself goes to JS and is queued back to the driver on release: no copy at all. Other formats (YUYV, Y10, packed
// Y10P/Y12P, padded rows) are unpacked into a pool buffer by the capture thread and the driver buffer is queued back
// at once. Buffers are also exported as DMABUF where the driver supports VIDIOC_EXPBUF (reported in info.dmabuf).
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "device.h"
#include "v4l2-format.h"

namespace ss {

namespace {

int Xioctl(int fd, unsigned long request, void* arg) {
  int r;
  do {
    r = ioctl(fd, request, arg);
  } while (r < 0 && errno == EINTR);
  return r;
}

class V4l2Device : public Device {
 public:
  ~V4l2Device() override { Close(); }

  DeviceInfo Open(const OpenOptions& o, std::shared_ptr<Counters> counters) override {
    path_ = o.device.empty() ? "/dev/video0" : o.device;
    exposureUs_ = o.exposureUs.value_or(0);
    gainScale_ = o.gainScale;
    fd_ = open(path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) Fail("open");
    try {
      return Start(o, std::move(counters));
    } catch (...) {
      Teardown();
      throw;
    }
  }

  void Close() override { Teardown(); }

  double SetExposure(double us) override {
    // V4L2_CID_EXPOSURE_ABSOLUTE counts 100 µs units.
    v4l2_queryctrl q{};
    q.id = V4L2_CID_EXPOSURE_ABSOLUTE;
    if (Xioctl(fd_, VIDIOC_QUERYCTRL, &q) == 0 && (us < q.minimum * 100.0 || us > q.maximum * 100.0)) {
      char msg[160];
      snprintf(msg, sizeof msg, "Expected an exposure between %.0f and %.0f µs but received %.6g", q.minimum * 100.0,
               q.maximum * 100.0, us);
      throw std::range_error(msg);
    }
    v4l2_control mode{V4L2_CID_EXPOSURE_AUTO, V4L2_EXPOSURE_MANUAL};
    Xioctl(fd_, VIDIOC_S_CTRL, &mode);  // not every sensor has auto exposure; the absolute control decides
    v4l2_control c{V4L2_CID_EXPOSURE_ABSOLUTE, static_cast<int32_t>(std::lround(us / 100))};
    if (Xioctl(fd_, VIDIOC_S_CTRL, &c) < 0) Fail("VIDIOC_S_CTRL(exposure_absolute)");
    if (Xioctl(fd_, VIDIOC_G_CTRL, &c) == 0) us = c.value * 100.0;
    exposureUs_ = us;
    return us;
  }

  double SetGain(double db) override {
    v4l2_control c{V4L2_CID_GAIN, static_cast<int32_t>(std::lround(db * gainScale_))};
    if (Xioctl(fd_, VIDIOC_S_CTRL, &c) < 0) Fail("VIDIOC_S_CTRL(gain)");
    if (Xioctl(fd_, VIDIOC_G_CTRL, &c) == 0) db = c.value / gainScale_;
    gainDb_ = db;
    return db;
  }

  void Stats(std::map<std::string, double>& out) override {
    out["driverBuffers"] = static_cast<double>(buffers_.size());
    out["converted"] = static_cast<double>(converted_);
  }

 private:
  struct Buffer {
    uint8_t* data = nullptr;
    size_t length = 0;
    int dmabuf = -1;
  };

  [[noreturn]] void Fail(const std::string& op) {
    int e = errno;
    throw std::runtime_error("V4L2 " + path_ + ": " + op + " failed: " + strerror(e) + " (errno " +
                             std::to_string(e) + ")");
  }

  uint32_t ChooseFormat(const OpenOptions& o) {
    if (!o.fourcc.empty()) {
      uint32_t f = 0;
      if (!FourccFromText(o.fourcc, f)) throw std::runtime_error("V4L2 " + path_ + ": unsupported format " + o.fourcc);
      return f;
    }
    std::vector<uint32_t> offered;
    v4l2_fmtdesc d{};
    d.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    for (d.index = 0; Xioctl(fd_, VIDIOC_ENUM_FMT, &d) == 0; d.index++) offered.push_back(d.pixelformat);
    // Highest bit depth first unless a pixel format was asked for.
    std::vector<uint32_t> order = {kFmtY16, kFmtY12, kFmtY12P, kFmtY10, kFmtY10P, kFmtGrey, kFmtYuyv};
    for (uint32_t want : order) {
      for (uint32_t f : offered) {
        if (f == want && (!o.pixelFormat || OutputFormat(f) == *o.pixelFormat)) return f;
      }
    }
    std::string list;
    for (uint32_t f : offered) list += (list.empty() ? "" : ", ") + FourccText(f);
    throw std::runtime_error("V4L2 " + path_ + ": none of the offered formats (" + list +
                             ") is GREY, Y10, Y12, Y16, Y10P, Y12P or YUYV" +
                             (o.pixelFormat ? std::string(" giving ") + PixelFormatName(*o.pixelFormat) : ""));
  }

  DeviceInfo Start(const OpenOptions& o, std::shared_ptr<Counters> counters) {
    v4l2_capability cap{};
    if (Xioctl(fd_, VIDIOC_QUERYCAP, &cap) < 0) Fail("VIDIOC_QUERYCAP");
    uint32_t caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
    if (!(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING)) {
      throw std::runtime_error("V4L2 " + path_ + ": not a streaming video capture device");
    }
    fourcc_ = ChooseFormat(o);
    v4l2_format fmt{};
    fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (Xioctl(fd_, VIDIOC_G_FMT, &fmt) < 0) Fail("VIDIOC_G_FMT");
    fmt.fmt.pix.pixelformat = fourcc_;
    if (o.width) fmt.fmt.pix.width = *o.width;
    if (o.height) fmt.fmt.pix.height = *o.height;
    fmt.fmt.pix.field = V4L2_FIELD_NONE;
    if (Xioctl(fd_, VIDIOC_S_FMT, &fmt) < 0) Fail("VIDIOC_S_FMT");
    if (fmt.fmt.pix.pixelformat != fourcc_) {
      throw std::runtime_error("V4L2 " + path_ + ": the driver replaced " + FourccText(fourcc_) + " with " +
                               FourccText(fmt.fmt.pix.pixelformat));
    }
    width_ = static_cast<int>(fmt.fmt.pix.width);
    height_ = static_cast<int>(fmt.fmt.pix.height);
    bpl_ = fmt.fmt.pix.bytesperline ? fmt.fmt.pix.bytesperline : MinBytesPerLine(fourcc_, width_);
    format_ = OutputFormat(fourcc_);
    if (o.exposureUs) SetExposure(*o.exposureUs);
    if (o.gainDb) SetGain(*o.gainDb);

    v4l2_requestbuffers req{};
    req.count = static_cast<uint32_t>(o.poolSize);
    req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    req.memory = V4L2_MEMORY_MMAP;
    if (Xioctl(fd_, VIDIOC_REQBUFS, &req) < 0) Fail("VIDIOC_REQBUFS");
    if (req.count < 2) throw std::runtime_error("V4L2 " + path_ + ": the driver granted fewer than 2 buffers");
    auto maps = std::make_shared<std::vector<Buffer>>();
    for (uint32_t i = 0; i < req.count; i++) {
      v4l2_buffer b{};
      b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
      b.memory = V4L2_MEMORY_MMAP;
      b.index = i;
      if (Xioctl(fd_, VIDIOC_QUERYBUF, &b) < 0) Fail("VIDIOC_QUERYBUF");
      void* p = mmap(nullptr, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, b.m.offset);
      if (p == MAP_FAILED) Fail("mmap");
      Buffer buf{static_cast<uint8_t*>(p), b.length, -1};
      v4l2_exportbuffer ex{};
      ex.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
      ex.index = i;
      ex.flags = O_CLOEXEC | O_RDONLY;
      if (Xioctl(fd_, VIDIOC_EXPBUF, &ex) == 0) buf.dmabuf = ex.fd;
      maps->push_back(buf);
    }
    buffers_ = *maps;
    direct_ = IsDirect(fourcc_, width_, bpl_);
    const size_t outBytes = static_cast<size_t>(width_) * height_ * BytesPerPixel(format_);
    // The mappings live as long as the pool: JS may still hold a direct frame after close.
    auto unmap = [maps]() {
      for (auto& b : *maps) {
        munmap(b.data, b.length);
        if (b.dmabuf >= 0) close(b.dmabuf);
      }
    };
    if (direct_) {
      std::vector<std::pair<uint8_t*, size_t>> mem;
      for (auto& b : *maps) mem.emplace_back(b.data, b.length);
      pool_ = FramePool::Borrow(mem, std::min(o.queueDepth, mem.size() - 1), counters, unmap);
      pool_->SetRecycler([this](int slot) { Queue(slot); });
    } else {
      unmap_ = unmap;
      pool_ = FramePool::Allocate(o.poolSize, outBytes, o.queueDepth, counters);
    }
    counters_ = counters;
    for (uint32_t i = 0; i < req.count; i++) Queue(static_cast<int>(i));
    int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (Xioctl(fd_, VIDIOC_STREAMON, &type) < 0) Fail("VIDIOC_STREAMON");
    {
      std::lock_guard<std::mutex> lock(qmu_);
      streaming_ = true;
    }
    stopFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    thread_ = std::thread([this] { Loop(); });

    DeviceInfo info;
    info.id = path_;
    info.vendor = reinterpret_cast<const char*>(cap.driver);
    info.model = reinterpret_cast<const char*>(cap.card);
    info.serial = reinterpret_cast<const char*>(cap.bus_info);
    info.transport = "v4l2";
    info.width = width_;
    info.height = height_;
    info.format = format_;
    info.exposureUs = exposureUs_;
    info.gainDb = gainDb_;
    info.payloadBytes = outBytes;
    info.zeroCopy = direct_;
    info.dmabuf = !buffers_.empty() && buffers_[0].dmabuf >= 0;
    return info;
  }

  void Queue(int index) {
    std::lock_guard<std::mutex> lock(qmu_);
    if (!streaming_ && fd_ < 0) return;
    v4l2_buffer b{};
    b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b.memory = V4L2_MEMORY_MMAP;
    b.index = static_cast<uint32_t>(index);
    Xioctl(fd_, VIDIOC_QBUF, &b);  // fails only when the device is gone; the capture thread reports that
  }

  void Loop() {
    uint64_t sequence = 0;
    const size_t needBytes = bpl_ * static_cast<size_t>(height_ - 1) + MinBytesPerLine(fourcc_, width_);
    for (;;) {
      pollfd fds[2] = {{fd_, POLLIN, 0}, {stopFd_, POLLIN, 0}};
      int r = poll(fds, 2, 1000);
      if (r < 0 && errno == EINTR) continue;
      if (fds[1].revents) return;
      if (r < 0 || (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL))) {
        Emit("disconnected", "V4L2 " + path_ + ": the device reported an error or went away");
        return;
      }
      if (r == 0) continue;
      v4l2_buffer b{};
      b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
      b.memory = V4L2_MEMORY_MMAP;
      if (Xioctl(fd_, VIDIOC_DQBUF, &b) < 0) {
        if (errno == EAGAIN) continue;
        int e = errno;
        Emit("disconnected", "V4L2 " + path_ + ": VIDIOC_DQBUF failed: " + strerror(e) + " (errno " +
                                 std::to_string(e) + ")");
        return;
      }
      const double arrival = MonotonicNs();
      if ((b.flags & V4L2_BUF_FLAG_ERROR) || b.bytesused < needBytes) {
        counters_->incomplete++;
        Queue(static_cast<int>(b.index));
        continue;
      }
      FrameMeta m;
      m.sequence = ++sequence;
      m.width = width_;
      m.height = height_;
      m.format = format_;
      m.arrivalNs = arrival;
      m.exposureUs = exposureUs_;
      m.gainDb = gainDb_;
      const double ts = b.timestamp.tv_sec * 1e9 + b.timestamp.tv_usec * 1e3;
      const bool monotonic = (b.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
      const bool soe = (b.flags & V4L2_BUF_FLAG_TSTAMP_SRC_MASK) == V4L2_BUF_FLAG_TSTAMP_SRC_SOE;
      // Start of exposure: exact with SOE timestamps, else end-of-frame minus the exposure.
      m.startNs = monotonic ? (soe ? ts : ts - exposureUs_ * 1e3) : arrival - exposureUs_ * 1e3;
      if (direct_) {
        pool_->Submit(static_cast<int>(b.index), m);
      } else {
        int slot = pool_->AcquireFree();
        if (slot < 0) {
          counters_->dropped++;  // every pool buffer is held by JS or waiting in the queue
          Queue(static_cast<int>(b.index));
          continue;
        }
        try {
          Unpack(fourcc_, buffers_[b.index].data, b.bytesused, width_, height_, bpl_, pool_->data(slot));
          converted_++;
        } catch (const std::exception& e) {
          counters_->incomplete++;
          pool_->Recycle(slot);
          Queue(static_cast<int>(b.index));
          continue;
        }
        Queue(static_cast<int>(b.index));
        pool_->Submit(slot, m);
      }
      Emit("frame");
    }
  }

  void Teardown() {
    if (thread_.joinable()) {
      uint64_t one = 1;
      if (write(stopFd_, &one, sizeof one) < 0) {
        // eventfd writes only fail on overflow; the poll timeout ends the loop anyway
      }
      thread_.join();
    }
    if (stopFd_ >= 0) close(stopFd_);
    stopFd_ = -1;
    {
      std::lock_guard<std::mutex> lock(qmu_);
      if (streaming_) {
        int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        Xioctl(fd_, VIDIOC_STREAMOFF, &type);
        streaming_ = false;
      }
      if (pool_) pool_->Detach();
      if (fd_ >= 0) close(fd_);
      fd_ = -1;
    }
    if (unmap_) {
      unmap_();  // converted mode: nothing in JS points into the driver buffers
      unmap_ = nullptr;
    }
    buffers_.clear();
  }

  std::string path_;
  int fd_ = -1, stopFd_ = -1;
  uint32_t fourcc_ = 0;
  int width_ = 0, height_ = 0;
  size_t bpl_ = 0;
  PixelFormat format_ = PixelFormat::Mono8;
  bool direct_ = false;
  double exposureUs_ = 0, gainDb_ = 0, gainScale_ = 1;
  uint64_t converted_ = 0;
  std::vector<Buffer> buffers_;
  std::function<void()> unmap_;
  std::shared_ptr<Counters> counters_;
  std::thread thread_;
  std::mutex qmu_;
  bool streaming_ = false;
};

}  // namespace

std::unique_ptr<Device> MakeV4l2Device() { return std::make_unique<V4l2Device>(); }

}  // namespace ss
