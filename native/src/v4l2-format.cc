#include "v4l2-format.h"

#include <cstring>
#include <stdexcept>

#include "args.h"

namespace ss {

std::string FourccText(uint32_t f) {
  std::string s(4, ' ');
  for (int i = 0; i < 4; i++) s[i] = static_cast<char>((f >> (8 * i)) & 0xff);
  return s;
}

bool FourccFromText(const std::string& text, uint32_t& fourcc) {
  if (text.size() != 4) return false;
  fourcc = Fourcc(text[0], text[1], text[2], text[3]);
  return IsSupportedFourcc(fourcc);
}

bool IsSupportedFourcc(uint32_t f) {
  return f == kFmtGrey || f == kFmtY10 || f == kFmtY12 || f == kFmtY16 || f == kFmtY10P || f == kFmtY12P ||
         f == kFmtYuyv;
}

PixelFormat OutputFormat(uint32_t f) {
  if (f == kFmtGrey || f == kFmtYuyv) return PixelFormat::Mono8;
  if (f == kFmtY16) return PixelFormat::Mono16;
  return PixelFormat::Mono12;
}

size_t MinBytesPerLine(uint32_t f, int w) {
  const size_t n = static_cast<size_t>(w);
  if (f == kFmtGrey) return n;
  // Packed formats come in whole groups (MIPI CSI-2 RAW10/RAW12): a partial group at the end of a line still takes
  // the group's bytes, and the unpacker reads the group's last byte for the low bits.
  if (f == kFmtY10P) return (n + 3) / 4 * 5;
  if (f == kFmtY12P) return (n + 1) / 2 * 3;
  return n * 2;  // Y10, Y12, Y16 (16-bit containers), YUYV (2 bytes per pixel)
}

bool IsDirect(uint32_t f, int w, size_t bpl) {
  if (f == kFmtGrey) return bpl == static_cast<size_t>(w);
  if (f == kFmtY12 || f == kFmtY16) return bpl == static_cast<size_t>(w) * 2;
  return false;
}

namespace {

// 16-bit little-endian samples (V4L2 defines these formats as little-endian regardless of the CPU).
inline uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

}  // namespace

void Unpack(uint32_t f, const uint8_t* src, size_t srcBytes, int w, int h, size_t bpl, void* out) {
  if (!IsSupportedFourcc(f)) throw std::runtime_error("unsupported V4L2 format " + FourccText(f));
  const size_t minBpl = MinBytesPerLine(f, w);
  if (bpl < minBpl) {
    throw std::runtime_error("bytes per line " + std::to_string(bpl) + " is below the " + std::to_string(minBpl) +
                             " that " + std::to_string(w) + " pixels of " + FourccText(f) + " need");
  }
  const size_t need = bpl * static_cast<size_t>(h - 1) + minBpl;
  if (srcBytes < need) {
    throw std::runtime_error("truncated " + FourccText(f) + " frame: " + std::to_string(srcBytes) + " bytes, " +
                             std::to_string(need) + " needed");
  }
  auto* o8 = static_cast<uint8_t*>(out);
  auto* o16 = static_cast<uint16_t*>(out);
  for (int y = 0; y < h; y++) {
    const uint8_t* row = src + static_cast<size_t>(y) * bpl;
    const size_t base = static_cast<size_t>(y) * w;
    if (f == kFmtGrey) {
      std::memcpy(o8 + base, row, static_cast<size_t>(w));
    } else if (f == kFmtYuyv) {
      for (int x = 0; x < w; x++) o8[base + x] = row[2 * x];  // Y0 U Y1 V: luma at even bytes
    } else if (f == kFmtY16) {
      for (int x = 0; x < w; x++) o16[base + x] = Le16(row + 2 * x);
    } else if (f == kFmtY12) {
      for (int x = 0; x < w; x++) o16[base + x] = Le16(row + 2 * x) & 0x0fff;
    } else if (f == kFmtY10) {
      for (int x = 0; x < w; x++) o16[base + x] = static_cast<uint16_t>((Le16(row + 2 * x) & 0x03ff) << 2);
    } else if (f == kFmtY10P) {
      // 4 pixels in 5 bytes: four high bytes, then the 2 low bits of pixel i at bits 2i+1:2i of the fifth.
      for (int x = 0; x < w; x++) {
        const uint8_t* g = row + (x / 4) * 5;
        int i = x % 4;
        uint16_t v = static_cast<uint16_t>((g[i] << 2) | ((g[4] >> (2 * i)) & 0x3));
        o16[base + x] = static_cast<uint16_t>(v << 2);
      }
    } else if (f == kFmtY12P) {
      // 2 pixels in 3 bytes: two high bytes, then pixel 0's low nibble at bits 3:0 and pixel 1's at bits 7:4.
      for (int x = 0; x < w; x++) {
        const uint8_t* g = row + (x / 2) * 3;
        int i = x % 2;
        o16[base + x] = static_cast<uint16_t>((g[i] << 4) | ((g[2] >> (4 * i)) & 0xf));
      }
    }
  }
}

Napi::Value V4l2UnpackFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) ThrowType(env, "a V4L2 fourcc string", "fourcc", info[0]);
  uint32_t f = 0;
  if (!FourccFromText(info[0].As<Napi::String>().Utf8Value(), f)) {
    ThrowRange(env, "one of \"GREY\", \"Y10 \", \"Y12 \", \"Y16 \", \"Y10P\", \"Y12P\", \"YUYV\"", "fourcc", info[0]);
  }
  PixelBuffer src = TypedArrayArg(info[1], "src", {PixelType::U8}, 0);
  int w = 0, h = 0;
  DimensionsArg(info, 2, w, h);
  size_t bpl = static_cast<size_t>(NumberArg(info[4], "bytesPerLine", 1, 1 << 20, true));
  PixelFormat of = OutputFormat(f);
  PixelBuffer out = TypedArrayArg(info[5], "out", {of == PixelFormat::Mono8 ? PixelType::U8 : PixelType::U16},
                                  static_cast<size_t>(w) * h, true);
  if (Overlaps(out, src)) ThrowRange(env, "a buffer that does not share memory with src", "out", info[5]);
  try {
    Unpack(f, src.as<uint8_t>(), src.length, w, h, bpl, out.data);
  } catch (const std::runtime_error& e) {
    throw Napi::RangeError::New(env, e.what());
  }
  return Napi::Number::New(env, static_cast<int>(of));
}

}  // namespace ss
