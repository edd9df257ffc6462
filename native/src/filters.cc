// Median and Gaussian filters with replicated borders.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "parallel.h"
#include "pixel.h"

namespace ss::px {

namespace {

inline int Clamp(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

template <typename T>
void MedianT(const T* src, int w, int h, int r, T* out, int threads) {
  const int k = 2 * r + 1;
  ParallelFor(h, threads, 16, [&](long y0, long y1) {
    std::vector<T> win(static_cast<size_t>(k) * k);
    std::vector<int> xs(static_cast<size_t>(w) + 2 * r);
    for (int i = 0; i < w + 2 * r; i++) xs[i] = Clamp(i - r, 0, w - 1);
    for (long y = y0; y < y1; y++) {
      for (int x = 0; x < w; x++) {
        size_t n = 0;
        for (int dy = -r; dy <= r; dy++) {
          const T* row = src + static_cast<size_t>(Clamp(static_cast<int>(y) + dy, 0, h - 1)) * w;
          for (int dx = 0; dx < k; dx++) win[n++] = row[xs[x + dx]];
        }
        if constexpr (std::is_floating_point_v<T>) {
          // NaN sorts above every number, so the ordering stays strict-weak and the selection stays in bounds.
          std::nth_element(win.begin(), win.begin() + n / 2, win.begin() + n,
                           [](T a, T b) { return a < b || (!std::isnan(a) && std::isnan(b)); });
        } else {
          std::nth_element(win.begin(), win.begin() + n / 2, win.begin() + n);
        }
        out[static_cast<size_t>(y) * w + x] = win[n / 2];
      }
    }
  });
}

template <typename T>
inline T FromFloat(float v) {
  if constexpr (std::is_same_v<T, float>) {
    return v;
  } else {
    float r = std::round(v);
    r = std::min(std::max(r, static_cast<float>(std::numeric_limits<T>::min())),
                 static_cast<float>(std::numeric_limits<T>::max()));
    return static_cast<T>(r);
  }
}

template <typename S, typename O>
void GaussianT(const S* src, int w, int h, const std::vector<float>& kernel, O* out, int threads) {
  const int r = static_cast<int>(kernel.size() / 2);
  std::vector<float> tmp(static_cast<size_t>(w) * h);
  // Horizontal pass into float, then vertical pass into the output type.
  ParallelFor(h, threads, 16, [&](long y0, long y1) {
    std::vector<float> line(static_cast<size_t>(w) + 2 * r);
    for (long y = y0; y < y1; y++) {
      const S* row = src + static_cast<size_t>(y) * w;
      for (int i = 0; i < w + 2 * r; i++) line[i] = static_cast<float>(row[Clamp(i - r, 0, w - 1)]);
      float* t = tmp.data() + static_cast<size_t>(y) * w;
      for (int x = 0; x < w; x++) {
        float s = 0;
        for (int k = 0; k <= 2 * r; k++) s += kernel[k] * line[x + k];
        t[x] = s;
      }
    }
  });
  ParallelFor(h, threads, 16, [&](long y0, long y1) {
    std::vector<float> acc(w);
    for (long y = y0; y < y1; y++) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int k = 0; k <= 2 * r; k++) {
        const float* t = tmp.data() + static_cast<size_t>(Clamp(static_cast<int>(y) + k - r, 0, h - 1)) * w;
        const float kv = kernel[k];
        for (int x = 0; x < w; x++) acc[x] += kv * t[x];
      }
      O* o = out + static_cast<size_t>(y) * w;
      for (int x = 0; x < w; x++) o[x] = FromFloat<O>(acc[x]);
    }
  });
}

template <typename S>
void GaussianOut(const Image& src, const std::vector<float>& kernel, MutableImage out, int threads) {
  const S* s = static_cast<const S*>(src.data);
  switch (out.type) {
    case PixelType::U8: return GaussianT(s, src.width, src.height, kernel, static_cast<uint8_t*>(out.data), threads);
    case PixelType::U16: return GaussianT(s, src.width, src.height, kernel, static_cast<uint16_t*>(out.data), threads);
    case PixelType::F32: return GaussianT(s, src.width, src.height, kernel, static_cast<float*>(out.data), threads);
    default: throw std::runtime_error("unsupported output type");
  }
}

}  // namespace

void Median(const Image& src, int radius, MutableImage out, int threads) {
  if (src.type != out.type) throw std::runtime_error("median: output type must match the input type");
  switch (src.type) {
    case PixelType::U8:
      return MedianT(static_cast<const uint8_t*>(src.data), src.width, src.height, radius,
                     static_cast<uint8_t*>(out.data), threads);
    case PixelType::U16:
      return MedianT(static_cast<const uint16_t*>(src.data), src.width, src.height, radius,
                     static_cast<uint16_t*>(out.data), threads);
    case PixelType::F32:
      return MedianT(static_cast<const float*>(src.data), src.width, src.height, radius,
                     static_cast<float*>(out.data), threads);
    default: throw std::runtime_error("unsupported pixel type");
  }
}

void Gaussian(const Image& src, double sigma, int radius, MutableImage out, int threads) {
  std::vector<float> kernel(2 * radius + 1);
  double sum = 0;
  for (int i = -radius; i <= radius; i++) sum += std::exp(-(i * i) / (2 * sigma * sigma));
  for (int i = -radius; i <= radius; i++) {
    kernel[i + radius] = static_cast<float>(std::exp(-(i * i) / (2 * sigma * sigma)) / sum);
  }
  switch (src.type) {
    case PixelType::U8: return GaussianOut<uint8_t>(src, kernel, out, threads);
    case PixelType::U16: return GaussianOut<uint16_t>(src, kernel, out, threads);
    case PixelType::F32: return GaussianOut<float>(src, kernel, out, threads);
    default: throw std::runtime_error("unsupported pixel type");
  }
}

}  // namespace ss::px
