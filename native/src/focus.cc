// Focus metrics for autofocus and for rejecting blurred frames: variance of the Laplacian and Brenner's gradient,
// both computed in double precision over a region of interest.
#include <stdexcept>

#include "pixel.h"

namespace ss::px {

namespace {

template <typename T>
FocusMetrics FocusT(const T* src, int stride, int x0, int y0, int w, int h) {
  FocusMetrics m;
  auto at = [&](int x, int y) { return static_cast<double>(src[static_cast<size_t>(y0 + y) * stride + x0 + x]); };
  double sum = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) sum += at(x, y);
  m.mean = sum / (static_cast<double>(w) * h);
  // Laplacian over pixels whose four neighbours lie inside the region; two passes for a stable variance.
  if (w >= 3 && h >= 3) {
    const double n = static_cast<double>(w - 2) * (h - 2);
    double ls = 0;
    for (int y = 1; y < h - 1; y++)
      for (int x = 1; x < w - 1; x++) ls += at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4 * at(x, y);
    const double lm = ls / n;
    double lv = 0;
    for (int y = 1; y < h - 1; y++)
      for (int x = 1; x < w - 1; x++) {
        double l = at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4 * at(x, y) - lm;
        lv += l * l;
      }
    m.varianceOfLaplacian = lv / n;
  }
  if (w >= 3) {
    double bs = 0;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w - 2; x++) {
        double d = at(x + 2, y) - at(x, y);
        bs += d * d;
      }
    m.brenner = bs / (static_cast<double>(w - 2) * h);
  }
  return m;
}

}  // namespace

FocusMetrics ComputeFocus(const Image& src, int x0, int y0, int w, int h) {
  switch (src.type) {
    case PixelType::U8: return FocusT(static_cast<const uint8_t*>(src.data), src.width, x0, y0, w, h);
    case PixelType::U16: return FocusT(static_cast<const uint16_t*>(src.data), src.width, x0, y0, w, h);
    case PixelType::F32: return FocusT(static_cast<const float*>(src.data), src.width, x0, y0, w, h);
    default: throw std::runtime_error("unsupported pixel type");
  }
}

}  // namespace ss::px
