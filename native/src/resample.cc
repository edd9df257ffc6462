// Binning (block mean) and resizing (nearest, bilinear with pixel-centre alignment).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "pixel.h"

namespace ss::px {

namespace {

template <typename T>
inline T Store(double v) {
  if constexpr (std::is_same_v<T, float>) {
    return static_cast<float>(v);
  } else {
    double r = std::floor(v + 0.5);
    r = std::min(std::max(r, static_cast<double>(std::numeric_limits<T>::min())),
                 static_cast<double>(std::numeric_limits<T>::max()));
    return static_cast<T>(r);
  }
}

template <typename S, typename O>
void BinT(const S* src, int w, int f, O* out, int ow, int oh) {
  const double inv = 1.0 / (f * f);
  for (int y = 0; y < oh; y++) {
    for (int x = 0; x < ow; x++) {
      double s = 0;
      for (int dy = 0; dy < f; dy++) {
        const S* row = src + static_cast<size_t>(y * f + dy) * w + static_cast<size_t>(x) * f;
        for (int dx = 0; dx < f; dx++) s += static_cast<double>(row[dx]);
      }
      out[static_cast<size_t>(y) * ow + x] = Store<O>(s * inv);
    }
  }
}

template <typename S, typename O>
void ResizeT(const S* src, int w, int h, O* out, int ow, int oh, Interpolation method) {
  const double sx = static_cast<double>(w) / ow, sy = static_cast<double>(h) / oh;
  for (int y = 0; y < oh; y++) {
    for (int x = 0; x < ow; x++) {
      double v;
      if (method == Interpolation::Nearest) {
        int xi = std::min(static_cast<int>(std::floor((x + 0.5) * sx)), w - 1);
        int yi = std::min(static_cast<int>(std::floor((y + 0.5) * sy)), h - 1);
        v = static_cast<double>(src[static_cast<size_t>(yi) * w + xi]);
      } else {
        double fx = std::clamp((x + 0.5) * sx - 0.5, 0.0, static_cast<double>(w - 1));
        double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, static_cast<double>(h - 1));
        int x0 = static_cast<int>(std::floor(fx)), y0 = static_cast<int>(std::floor(fy));
        int x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
        double tx = fx - x0, ty = fy - y0;
        auto at = [&](int xx, int yy) { return static_cast<double>(src[static_cast<size_t>(yy) * w + xx]); };
        double top = at(x0, y0) * (1 - tx) + at(x1, y0) * tx;
        double bottom = at(x0, y1) * (1 - tx) + at(x1, y1) * tx;
        v = top * (1 - ty) + bottom * ty;
      }
      out[static_cast<size_t>(y) * ow + x] = Store<O>(v);
    }
  }
}

template <typename Fn>
void Dispatch(PixelType in, PixelType out, Fn&& fn) {
  auto withOut = [&](auto s) {
    using S = decltype(s);
    switch (out) {
      case PixelType::U8: return fn(S{}, uint8_t{});
      case PixelType::U16: return fn(S{}, uint16_t{});
      case PixelType::F32: return fn(S{}, float{});
      default: throw std::runtime_error("unsupported output type");
    }
  };
  switch (in) {
    case PixelType::U8: return withOut(uint8_t{});
    case PixelType::U16: return withOut(uint16_t{});
    case PixelType::F32: return withOut(float{});
    default: throw std::runtime_error("unsupported pixel type");
  }
}

}  // namespace

void Bin(const Image& src, int factor, MutableImage out) {
  Dispatch(src.type, out.type, [&](auto s, auto o) {
    using S = decltype(s);
    using O = decltype(o);
    BinT(static_cast<const S*>(src.data), src.width, factor, static_cast<O*>(out.data), out.width, out.height);
  });
}

void Resize(const Image& src, MutableImage out, Interpolation method) {
  Dispatch(src.type, out.type, [&](auto s, auto o) {
    using S = decltype(s);
    using O = decltype(o);
    ResizeT(static_cast<const S*>(src.data), src.width, src.height, static_cast<O*>(out.data), out.width, out.height,
            method);
  });
}

}  // namespace ss::px
