// Binary erosion/dilation with a square or disk structuring element. Each output pixel counts foreground pixels in the
// element's row spans from per-row prefix sums: O(radius) per pixel for either shape.
#include <cmath>
#include <vector>

#include "pixel.h"

namespace ss::px {

namespace {

void Pass(const uint8_t* in, int w, int h, bool dilate, Shape shape, int r, uint8_t* out) {
  const size_t stride = static_cast<size_t>(w) + 1;
  std::vector<uint32_t> prefix(stride * h);
  for (int y = 0; y < h; y++) {
    uint32_t* p = prefix.data() + y * stride;
    const uint8_t* row = in + static_cast<size_t>(y) * w;
    p[0] = 0;
    for (int x = 0; x < w; x++) p[x + 1] = p[x] + (row[x] != 0);
  }
  std::vector<int> half(2 * r + 1);
  for (int dy = -r; dy <= r; dy++) {
    half[dy + r] = shape == Shape::Square ? r : static_cast<int>(std::floor(std::sqrt(double(r * r - dy * dy))));
  }
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      uint32_t count = 0, total = 0;
      for (int dy = -r; dy <= r; dy++) {
        int yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        int hw = half[dy + r];
        int x0 = x - hw < 0 ? 0 : x - hw;
        int x1 = x + hw >= w ? w - 1 : x + hw;
        const uint32_t* p = prefix.data() + yy * stride;
        count += p[x1 + 1] - p[x0];
        total += static_cast<uint32_t>(x1 - x0 + 1);
      }
      out[static_cast<size_t>(y) * w + x] = dilate ? (count > 0) : (count == total);
    }
  }
}

}  // namespace

void Morphology(const uint8_t* mask, int width, int height, MorphOp op, Shape shape, int radius, uint8_t* out) {
  switch (op) {
    case MorphOp::Erode: return Pass(mask, width, height, false, shape, radius, out);
    case MorphOp::Dilate: return Pass(mask, width, height, true, shape, radius, out);
    case MorphOp::Open:
    case MorphOp::Close: {
      std::vector<uint8_t> tmp(static_cast<size_t>(width) * height);
      bool first = op == MorphOp::Close;  // close = dilate then erode; open = erode then dilate
      Pass(mask, width, height, first, shape, radius, tmp.data());
      Pass(tmp.data(), width, height, !first, shape, radius, out);
      return;
    }
  }
}

}  // namespace ss::px
