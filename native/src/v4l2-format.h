// V4L2 pixel formats the capture path accepts, and their conversion to the FrameSource's Mono8/Mono12/Mono16.
// Pure functions: tested without a device (the unpacking is the part most likely to be wrong on a new sensor).
// Layouts: https://www.kernel.org/doc/html/latest/userspace-api/media/v4l/pixfmt-yuv-luma.html and pixfmt-packed-yuv.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "frame-pool.h"

namespace ss {

constexpr uint32_t Fourcc(char a, char b, char c, char d) {
  return static_cast<uint32_t>(a) | (static_cast<uint32_t>(b) << 8) | (static_cast<uint32_t>(c) << 16) |
         (static_cast<uint32_t>(d) << 24);
}

constexpr uint32_t kFmtGrey = Fourcc('G', 'R', 'E', 'Y');
constexpr uint32_t kFmtY10 = Fourcc('Y', '1', '0', ' ');
constexpr uint32_t kFmtY12 = Fourcc('Y', '1', '2', ' ');
constexpr uint32_t kFmtY16 = Fourcc('Y', '1', '6', ' ');
constexpr uint32_t kFmtY10P = Fourcc('Y', '1', '0', 'P');
constexpr uint32_t kFmtY12P = Fourcc('Y', '1', '2', 'P');
constexpr uint32_t kFmtYuyv = Fourcc('Y', 'U', 'Y', 'V');

std::string FourccText(uint32_t fourcc);
bool FourccFromText(const std::string& text, uint32_t& fourcc);
bool IsSupportedFourcc(uint32_t fourcc);

// The FrameSource format a V4L2 format becomes: GREY, YUYV → Mono8; Y10, Y10P, Y12, Y12P → Mono12 (10-bit samples
// scaled by 4 so one normalisation serves both); Y16 → Mono16.
PixelFormat OutputFormat(uint32_t fourcc);

// Minimum bytes per line a driver must report for `width` pixels of `fourcc`.
size_t MinBytesPerLine(uint32_t fourcc, int width);

// True when the driver's buffer already is the output (same layout, no row padding): it can go to JS unconverted.
bool IsDirect(uint32_t fourcc, int width, size_t bytesPerLine);

// Converts one buffer into `out` (width·height pixels of OutputFormat). Throws when `srcBytes` is too short.
void Unpack(uint32_t fourcc, const uint8_t* src, size_t srcBytes, int width, int height, size_t bytesPerLine,
            void* out);

// v4l2Unpack(fourcc, src, width, height, bytesPerLine, out) → bit depth (test hook).
Napi::Value V4l2UnpackFn(const Napi::CallbackInfo& info);

}  // namespace ss
