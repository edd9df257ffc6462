// Flat-field correction, binning, tiling and normalisation fused into one pass: each source pixel is read once and
// each tensor element written once, so the cost stays close to a memory copy of the frame.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "parallel.h"
#include "pixel.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ss::px {

std::vector<int> AxisPositions(int length, int tile, int overlap) {
  std::vector<int> pos;
  if (length <= tile) {
    pos.push_back(0);
    return pos;
  }
  int stride = tile - overlap;
  int n = (length - overlap + stride - 1) / stride;
  for (int i = 0; i < n; i++) pos.push_back(std::min(i * stride, length - tile));
  pos.erase(std::unique(pos.begin(), pos.end()), pos.end());
  return pos;
}

TileGrid PlanTiles(int width, int height, const PreprocessParams& p) {
  TileGrid g;
  g.binnedWidth = width / p.binning;
  g.binnedHeight = height / p.binning;
  if (g.binnedWidth < 1 || g.binnedHeight < 1) throw std::runtime_error("the binned image is empty");
  g.xs = AxisPositions(g.binnedWidth, p.tile, p.overlap);
  g.ys = AxisPositions(g.binnedHeight, p.tile, p.overlap);
  return g;
}

namespace {

// out[x] = row[x] * a + b for one tile row. The tensor is written once and read later by another thread (inference),
// so on x86 it bypasses the cache with streaming stores: no read-for-ownership of 1 MB per tile plane, and the frame
// and flat-field stay cached instead. Needs a 16-byte aligned row (tile rows are 4·T bytes apart).
inline void WriteRow(float* o, const float* row, int n, float a, float b, bool stream) {
#if defined(__SSE2__)
  if (stream) {
    int x = 0;
    const __m128 va = _mm_set1_ps(a), vb = _mm_set1_ps(b);
    for (; x + 4 <= n; x += 4) _mm_stream_ps(o + x, _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(row + x), va), vb));
    for (; x < n; x++) o[x] = row[x] * a + b;
    return;
  }
#endif
  for (int x = 0; x < n; x++) o[x] = row[x] * a + b;
}

// Corrected values of `n` consecutive source pixels starting at index `i`. Dark is a per-pixel frame (D = its element
// type) or, with D = void, a constant; the flat-field gain is float (F = float), Q2.14 (F = uint16_t) or absent.
template <typename S, typename D, typename F>
inline void CorrectRow(const S* src, const D* dark, float darkValue, const F* flat, size_t i, int n, float* row) {
  const S* s = src + i;
  const F* f = nullptr;
  if constexpr (!std::is_void_v<F>) f = flat + i;
  for (int x = 0; x < n; x++) {
    float v;
    if constexpr (std::is_void_v<D>) {
      v = static_cast<float>(s[x]) - darkValue;
    } else {
      v = static_cast<float>(s[x]) - static_cast<float>(dark[i + x]);
    }
    if constexpr (std::is_same_v<F, float>) v *= f[x];
    if constexpr (std::is_same_v<F, uint16_t>) v *= static_cast<float>(f[x]) * kQ14;
    row[x] = v;
  }
}

template <typename S, typename D, typename F>
void Run(const Image& img, const PreprocessParams& p, const TileGrid& g, float* out) {
  const S* src = static_cast<const S*>(img.data);
  const D* dark = nullptr;
  if constexpr (!std::is_void_v<D>) dark = static_cast<const D*>(p.dark);
  const F* flat = nullptr;
  if constexpr (std::is_same_v<F, float>) flat = p.flat;
  if constexpr (std::is_same_v<F, uint16_t>) flat = p.flatQ14;
  const int T = p.tile, B = p.binning, C = p.channels;
  const size_t plane = static_cast<size_t>(T) * T;
  const long tiles = static_cast<long>(g.count());
  const int cols = static_cast<int>(g.xs.size());
  const bool stream = (reinterpret_cast<uintptr_t>(out) & 15) == 0 && (T % 4) == 0;
  const long bands = static_cast<long>(g.ys.size());
  (void)tiles;
  // Row-major over each band of tiles: for one image row, the segments of every tile in the band one after the other.
  // The frame and the flat-field are then read as long sequential runs (the hardware prefetcher follows them across
  // tile boundaries) while each tile's output row is a separate 4·T-byte run; tile by tile, every row would jump a
  // page of the frame and two of the flat-field.
  ParallelFor(bands, p.threads, 1, [&](long b0, long b1) {
    std::vector<float> rowBuf(static_cast<size_t>(T) * B);
    std::vector<float> acc(T);
    for (long band = b0; band < b1; band++) {
      const int by = g.ys[band];
      const int vh = std::min(T, g.binnedHeight - by);
      for (int y = 0; y < T; y++) {
        for (int tx = 0; tx < cols; tx++) {
          const long t = band * cols + tx;
          const int bx = g.xs[tx];
          const int vw = std::min(T, g.binnedWidth - bx);  // valid width inside the image
          float* tileOut = out + static_cast<size_t>(t) * C * plane;
          float* row = acc.data();
          if (y < vh) {
            if (B == 1) {
              size_t i = static_cast<size_t>(by + y) * img.width + bx;
              CorrectRow<S, D, F>(src, dark, p.darkValue, flat, i, vw, row);
            } else {
              std::fill(acc.begin(), acc.begin() + vw, 0.0f);
              const float inv = 1.0f / static_cast<float>(B * B);
              for (int dy = 0; dy < B; dy++) {
                size_t i = static_cast<size_t>((by + y) * B + dy) * img.width + static_cast<size_t>(bx) * B;
                CorrectRow<S, D, F>(src, dark, p.darkValue, flat, i, vw * B, rowBuf.data());
                for (int x = 0; x < vw; x++) {
                  float s = 0;
                  for (int dx = 0; dx < B; dx++) s += rowBuf[x * B + dx];
                  acc[x] += s;
                }
              }
              for (int x = 0; x < vw; x++) acc[x] *= inv;
            }
          }
          for (int c = 0; c < C; c++) {
            float* o = tileOut + c * plane + static_cast<size_t>(y) * T;
            const float a = p.a[c], b = p.b[c];
            if (y < vh) {
              WriteRow(o, row, vw, a, b, stream && vw == T);
              for (int x = vw; x < T; x++) o[x] = p.pad;
            } else {
              for (int x = 0; x < T; x++) o[x] = p.pad;
            }
          }
        }
      }
    }
#if defined(__SSE2__)
    _mm_sfence();  // streaming stores are weakly ordered: make them visible before the worker reports done
#endif
  });
}

template <typename S, typename D>
void DispatchFlat(const Image& img, const PreprocessParams& p, const TileGrid& g, float* out) {
  if (p.flat) return Run<S, D, float>(img, p, g, out);
  if (p.flatQ14) return Run<S, D, uint16_t>(img, p, g, out);
  Run<S, D, void>(img, p, g, out);
}

template <typename S>
void DispatchDark(const Image& img, const PreprocessParams& p, const TileGrid& g, float* out) {
  if (p.dark == nullptr) return DispatchFlat<S, void>(img, p, g, out);
  if (p.darkType == PixelType::U16) return DispatchFlat<S, uint16_t>(img, p, g, out);
  if (p.darkType == PixelType::U8) return DispatchFlat<S, uint8_t>(img, p, g, out);
  DispatchFlat<S, float>(img, p, g, out);
}

}  // namespace

void PreprocessTiles(const Image& src, const PreprocessParams& p, const TileGrid& grid, float* out) {
  switch (src.type) {
    case PixelType::U8: return DispatchDark<uint8_t>(src, p, grid, out);
    case PixelType::U16: return DispatchDark<uint16_t>(src, p, grid, out);
    case PixelType::F32: return DispatchDark<float>(src, p, grid, out);
    default: throw std::runtime_error("unsupported pixel type");
  }
}

namespace {
template <typename T>
double ValueAt(const void* data, size_t i) {
  return static_cast<double>(static_cast<const T*>(data)[i]);
}
double Value(const Image& img, size_t i) {
  switch (img.type) {
    case PixelType::U8: return ValueAt<uint8_t>(img.data, i);
    case PixelType::U16: return ValueAt<uint16_t>(img.data, i);
    case PixelType::I32: return ValueAt<int32_t>(img.data, i);
    case PixelType::U32: return ValueAt<uint32_t>(img.data, i);
    case PixelType::F32: return ValueAt<float>(img.data, i);
  }
  return 0;
}
}  // namespace

double FlatFieldGain(const Image& flat, const Image* dark, float darkValue, float* gain, uint16_t* gainQ14) {
  const size_t n = flat.pixels();
  double sum = 0;
  size_t count = 0;
  for (size_t i = 0; i < n; i++) {
    double v = Value(flat, i) - (dark ? Value(*dark, i) : darkValue);
    if (v > 0) {
      sum += v;
      count++;
    }
  }
  if (count == 0) throw std::runtime_error("the flat frame has no pixel above the dark level");
  const double mean = sum / static_cast<double>(count);
  for (size_t i = 0; i < n; i++) {
    double v = Value(flat, i) - (dark ? Value(*dark, i) : darkValue);
    double g = v > 0 ? mean / v : 0.0;
    if (gain) gain[i] = static_cast<float>(g);
    if (gainQ14) gainQ14[i] = static_cast<uint16_t>(std::min(65535.0, std::floor(g * 16384.0 + 0.5)));
  }
  return mean;
}

}  // namespace ss::px
