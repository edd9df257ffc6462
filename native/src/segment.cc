// Segmentation of a tiled network output in one pass over native memory: blending of overlapping tiles, interpolation
// back to frame pixels, threshold, closing, class choice and regions of equal class with their properties. The
// arithmetic follows the JS reference (src/inference/tiling.ts, resample.ts, postprocess.ts) operation by operation
// (double sums stored to float32), so both give the same regions.
#include <algorithm>
#include <cmath>
#include <vector>

#include "pixel.h"

namespace ss::px {

void BlendTile(const float* probs, int classes, int tw, int th, const float* wx, const float* wy, int x0, int y0,
               float* acc, int w, int h) {
  const size_t n = static_cast<size_t>(w) * h;
  const size_t plane = static_cast<size_t>(tw) * th;
  const int cw = std::min(tw, w - x0), ch = std::min(th, h - y0);
  float* weight = acc;
  float* fg = acc + n;
  for (int r = 0; r < ch; r++) {
    const size_t src = static_cast<size_t>(r) * tw;
    const size_t dst = static_cast<size_t>(y0 + r) * w + x0;
    const double wr = wy[r];
    for (int c = 0; c < cw; c++) {
      const double wt = wr * wx[c];
      const size_t s = src + c, d = dst + c;
      fg[d] = static_cast<float>(fg[d] + wt * (1.0 - probs[s]));
      weight[d] = static_cast<float>(weight[d] + wt);
      for (int k = 1; k < classes && classes > 2; k++) {
        float& a = acc[(1 + k) * n + d];
        a = static_cast<float>(a + wt * probs[k * plane + s]);
      }
    }
  }
}

namespace {

// Bilinear sampling of a w x h plane of block centres (k-binned) at frame pixels: pixel x sits at (x + 0.5) / k - 0.5.
struct Upsampler {
  std::vector<int> x0, x1;
  std::vector<float> tx;
  int w, h, k;
  Upsampler(int w_, int h_, int W, int k_) : x0(W), x1(W), tx(W), w(w_), h(h_), k(k_) {
    for (int x = 0; x < W; x++) {
      double f = std::min<double>(w - 1, std::max(0.0, (x + 0.5) / k - 0.5));
      x0[x] = static_cast<int>(std::floor(f));
      x1[x] = std::min(w - 1, x0[x] + 1);
      tx[x] = static_cast<float>(f - x0[x]);
    }
  }
  struct Row {
    size_t r0, r1;
    double ty;
  };
  Row RowAt(int y) const {
    double f = std::min<double>(h - 1, std::max(0.0, (y + 0.5) / k - 0.5));
    int y0 = static_cast<int>(std::floor(f));
    int y1 = std::min(h - 1, y0 + 1);
    return {static_cast<size_t>(y0) * w, static_cast<size_t>(y1) * w, f - y0};
  }
  float At(const float* src, const Row& r, int x) const {
    double t = tx[x];
    double a = src[r.r0 + x0[x]] + (static_cast<double>(src[r.r0 + x1[x]]) - src[r.r0 + x0[x]]) * t;
    double b = src[r.r1 + x0[x]] + (static_cast<double>(src[r.r1 + x1[x]]) - src[r.r1 + x0[x]]) * t;
    return static_cast<float>(a + (b - a) * r.ty);
  }
};

}  // namespace

ComponentsResult Segment(float* acc, int w, int h, const SegmentParams& p, uint8_t* classMap, int32_t* labels,
                         float* valuesIn, float* foregroundOut, uint8_t* pool) {
  const size_t n = static_cast<size_t>(w) * h;
  const int W = p.outWidth, H = p.outHeight;
  const size_t N = static_cast<size_t>(W) * H;
  const int K = p.classes;
  const int planes = SegmentPlanes(K) - 1;  // foreground, then classes 1..K-1 when K > 2
  // Normalised in place: no fresh frame-sized memory (on the board, page faults of new buffers cost more than the
  // arithmetic).
  for (size_t i = 0; i < n; i++) {
    const double inv = acc[i] > 0 ? 1.0 / acc[i] : 0.0;
    for (int q = 0; q < planes; q++) acc[(1 + q) * n + i] = static_cast<float>(acc[(1 + q) * n + i] * inv);
  }
  const float* norm = acc + n;
  const bool same = W == w && H == h;
  Upsampler up(w, h, W, p.binning);
  std::vector<float> ownValues;
  float* values = valuesIn;
  if (!values) {
    ownValues.resize(N);
    values = ownValues.data();
  }
  // P(not background) at frame pixels into `values` (it stays the value of one-class models), the mask into classMap.
  uint8_t* mask = classMap;
  for (int y = 0; y < H; y++) {
    const Upsampler::Row row = same ? Upsampler::Row{} : up.RowAt(y);
    float* v = values + static_cast<size_t>(y) * W;
    uint8_t* m = mask + static_cast<size_t>(y) * W;
    if (same) {
      std::copy_n(norm + static_cast<size_t>(y) * W, W, v);
    } else {
      for (int x = 0; x < W; x++) v[x] = up.At(norm, row, x);
    }
    for (int x = 0; x < W; x++) m[x] = v[x] >= p.threshold ? 1 : 0;
  }
  if (foregroundOut) std::copy_n(values, N, foregroundOut);
  if (pool && p.poolScale > 0) {
    // The probability map for thumbnails: max over blocks, so small defects stay visible.
    const int s = p.poolScale, pw = (W + s - 1) / s, ph = (H + s - 1) / s;
    std::fill_n(pool, static_cast<size_t>(pw) * ph, 0);
    for (int y = 0; y < H; y++) {
      uint8_t* orow = pool + static_cast<size_t>(y / s) * pw;
      const float* row = values + static_cast<size_t>(y) * W;
      for (int x = 0; x < W; x++) {
        const double v = std::floor(std::min(1.0, std::max(0.0, static_cast<double>(row[x]))) * 255 + 0.5);
        uint8_t& o = orow[x / s];
        if (v > o) o = static_cast<uint8_t>(v);
      }
    }
  }
  if (p.closeRadius > 0) {
    // Closing on a frame padded by the radius with background, as if the image continued empty.
    const int r = p.closeRadius, PW = W + 2 * r, PH = H + 2 * r;
    std::vector<uint8_t> pad(static_cast<size_t>(PW) * PH, 0), closed(pad.size());
    for (int y = 0; y < H; y++) std::copy_n(&mask[static_cast<size_t>(y) * W], W, &pad[static_cast<size_t>(y + r) * PW + r]);
    Morphology(pad.data(), PW, PH, MorphOp::Close, Shape::Square, r, closed.data());
    for (int y = 0; y < H; y++) std::copy_n(&closed[static_cast<size_t>(y + r) * PW + r], W, &mask[static_cast<size_t>(y) * W]);
  }
  // Class choice: the most probable foreground class (first on ties); its probability is the pixel's value.
  if (K > 2) {
    for (int y = 0; y < H; y++) {
      const Upsampler::Row row = same ? Upsampler::Row{} : up.RowAt(y);
      for (int x = 0; x < W; x++) {
        const size_t i = static_cast<size_t>(y) * W + x;
        if (!mask[i]) continue;
        int best = 0;
        float bp = 0;
        for (int k = 0; k < K - 1; k++) {
          const float* plane = norm + (1 + k) * n;
          const float v = same ? plane[i] : up.At(plane, row, x);
          if (k == 0 || v > bp) {
            bp = v;
            best = k;
          }
        }
        classMap[i] = static_cast<uint8_t>(best + 1);
        values[i] = bp;
      }
    }
  }
  return ConnectedComponents(classMap, W, H, p.connectivity, values, labels, true, p.maxRegions, true);
}

}  // namespace ss::px
