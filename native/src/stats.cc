// Statistics, histograms, Otsu's threshold and thresholding.
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "pixel.h"

namespace ss::px {

namespace {

template <typename Fn>
void ForEachValue(const Image& img, Fn&& fn) {
  const size_t n = img.pixels();
  switch (img.type) {
    case PixelType::U8: {
      auto* p = static_cast<const uint8_t*>(img.data);
      for (size_t i = 0; i < n; i++) fn(i, static_cast<double>(p[i]));
      return;
    }
    case PixelType::U16: {
      auto* p = static_cast<const uint16_t*>(img.data);
      for (size_t i = 0; i < n; i++) fn(i, static_cast<double>(p[i]));
      return;
    }
    case PixelType::F32: {
      auto* p = static_cast<const float*>(img.data);
      for (size_t i = 0; i < n; i++) fn(i, static_cast<double>(p[i]));
      return;
    }
    default: throw std::runtime_error("unsupported pixel type");
  }
}

}  // namespace

Statistics ComputeStatistics(const Image& src, const uint8_t* mask) {
  Statistics s;
  s.min = std::numeric_limits<double>::infinity();
  s.max = -std::numeric_limits<double>::infinity();
  ForEachValue(src, [&](size_t i, double v) {
    if (mask && !mask[i]) return;
    s.count++;
    s.sum += v;
    if (v < s.min) s.min = v;
    if (v > s.max) s.max = v;
  });
  if (s.count == 0) return Statistics{};
  s.mean = s.sum / s.count;
  double sq = 0;
  ForEachValue(src, [&](size_t i, double v) {
    if (mask && !mask[i]) return;
    sq += (v - s.mean) * (v - s.mean);
  });
  s.std = std::sqrt(sq / s.count);
  return s;
}

std::pair<uint64_t, uint64_t> Histogram(const Image& src, const HistogramRange& r, uint32_t* counts) {
  uint64_t below = 0, above = 0;
  const bool integer = src.type != PixelType::F32;
  const double span = integer ? (r.max - r.min + 1) : (r.max - r.min);
  for (int b = 0; b < r.bins; b++) counts[b] = 0;
  ForEachValue(src, [&](size_t, double v) {
    if (v < r.min) {
      below++;
    } else if (v > r.max || std::isnan(v)) {
      above++;
    } else {
      long b = span > 0 ? static_cast<long>(std::floor((v - r.min) * r.bins / span)) : 0;
      if (b >= r.bins) b = r.bins - 1;
      counts[b]++;
    }
  });
  return {below, above};
}

double Otsu(const Image& src, int floatBins) {
  std::vector<double> hist;
  double lo = 0, width = 1;
  if (src.type == PixelType::U8 || src.type == PixelType::U16) {
    hist.assign(src.type == PixelType::U8 ? 256 : 65536, 0.0);
    ForEachValue(src, [&](size_t, double v) { hist[static_cast<size_t>(v)]++; });
  } else {
    double mn = std::numeric_limits<double>::infinity(), mx = -mn;
    ForEachValue(src, [&](size_t, double v) {
      if (std::isnan(v)) return;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    });
    if (!(mx > mn)) return std::isfinite(mn) ? mn : 0;
    hist.assign(floatBins, 0.0);
    lo = mn;
    width = (mx - mn) / floatBins;
    ForEachValue(src, [&](size_t, double v) {
      if (std::isnan(v)) return;
      long b = static_cast<long>(std::floor((v - mn) / width));
      if (b >= floatBins) b = floatBins - 1;
      hist[b]++;
    });
  }
  double total = 0, sumAll = 0;
  for (size_t k = 0; k < hist.size(); k++) {
    total += hist[k];
    sumAll += static_cast<double>(k) * hist[k];
  }
  double w0 = 0, sum0 = 0, best = -1;
  long t = -1;
  long last = -1;
  for (size_t k = 0; k < hist.size(); k++) {
    if (hist[k] > 0) last = static_cast<long>(k);
    w0 += hist[k];
    sum0 += static_cast<double>(k) * hist[k];
    if (w0 == 0) continue;
    double w1 = total - w0;
    if (w1 == 0) break;
    double d = sum0 / w0 - (sumAll - sum0) / w1;
    double between = w0 * w1 * d * d;
    if (between > best) {
      best = between;
      t = static_cast<long>(k);
    }
  }
  if (t < 0) t = last < 0 ? 0 : last;  // one distinct value: nothing lies above it
  if (src.type == PixelType::F32) return lo + (t + 1) * width;  // upper edge of the lower class's last bin
  return static_cast<double>(t);
}

uint64_t Threshold(const Image& src, double value, bool invert, uint8_t* mask) {
  uint64_t ones = 0;
  ForEachValue(src, [&](size_t i, double v) {
    bool on = invert ? (v <= value) : (v > value);
    mask[i] = on;
    ones += on;
  });
  return ones;
}

}  // namespace ss::px
