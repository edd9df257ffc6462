// Pixel work on raw memory: no N-API here, so every function can run on a worker thread. Images are row-major with no
// padding; a pixel's centre has integer coordinates (x, y), y pointing down. Borders replicate the edge pixel unless a
// function says otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "args.h"

namespace ss::px {

struct Image {
  const void* data = nullptr;
  PixelType type = PixelType::U8;
  int width = 0;
  int height = 0;
  size_t pixels() const { return static_cast<size_t>(width) * static_cast<size_t>(height); }
};

struct MutableImage {
  void* data = nullptr;
  PixelType type = PixelType::U8;
  int width = 0;
  int height = 0;
};

// ---- preprocess: dark/flat correction, binning, tiling with overlap, normalisation into NCHW float32 ----

// Tile origins along one axis of `length` pixels: a stride of tile - overlap, the last tile flush with the far edge,
// one tile (padded) when the axis is shorter than a tile.
std::vector<int> AxisPositions(int length, int tile, int overlap);

struct PreprocessParams {
  int tile = 256;
  int overlap = 0;
  int binning = 1;
  int channels = 1;
  // out[c] = corrected * a[c] + b[c], i.e. (corrected * scale - mean[c]) / std[c].
  float a[3] = {1, 1, 1};
  float b[3] = {0, 0, 0};
  // Output value for tile pixels beyond the image (only when the image is smaller than a tile).
  float pad = 0;
  float darkValue = 0;       // used when `dark` is null
  const void* dark = nullptr;  // per-pixel dark frame
  PixelType darkType = PixelType::U16;
  const float* flat = nullptr;        // per-pixel multiplicative gain
  const uint16_t* flatQ14 = nullptr;  // the same in units of 1/16384 (half the memory traffic)
  int threads = 1;
};

struct TileGrid {
  std::vector<int> xs;  // origins in the binned image
  std::vector<int> ys;
  int binnedWidth = 0;
  int binnedHeight = 0;
  size_t count() const { return xs.size() * ys.size(); }
};

TileGrid PlanTiles(int width, int height, const PreprocessParams& p);
void PreprocessTiles(const Image& src, const PreprocessParams& p, const TileGrid& grid, float* out);

// gain = mean(flat - dark) / (flat - dark), 0 where flat - dark <= 0 (dead pixel), into `gain` (float) or `gainQ14`
// (round(gain · 16384), at most 65535). Returns the mean.
constexpr float kQ14 = 1.0f / 16384.0f;
double FlatFieldGain(const Image& flat, const Image* dark, float darkValue, float* gain, uint16_t* gainQ14);

// ---- filters ----
void Median(const Image& src, int radius, MutableImage out, int threads);
void Gaussian(const Image& src, double sigma, int radius, MutableImage out, int threads);

// Binary morphology on masks (nonzero = foreground), writing 0/1. Pixels outside the image are ignored: erosion
// looks only at neighbours inside the image, dilation cannot grow from outside.
enum class MorphOp { Erode, Dilate, Open, Close };
enum class Shape { Square, Disk };
void Morphology(const uint8_t* mask, int width, int height, MorphOp op, Shape shape, int radius, uint8_t* out);

// ---- statistics ----
struct Statistics {
  double count = 0, sum = 0, min = 0, max = 0, mean = 0, std = 0;
};
Statistics ComputeStatistics(const Image& src, const uint8_t* mask);

struct HistogramRange {
  double min = 0, max = 255;
  int bins = 256;
};
// Counts values in [min, max] into `bins` equal bins; returns {below, above} for values outside the range.
std::pair<uint64_t, uint64_t> Histogram(const Image& src, const HistogramRange& r, uint32_t* counts);

// Otsu's threshold t: the split {v <= t} / {v > t} with the largest between-class variance. Integer images use one
// bin per value; float images `bins` bins over [min, max] (t is a bin's upper edge).
double Otsu(const Image& src, int floatBins);

// mask = v > value (or v <= value when `invert`), written as 0/1. Returns the count of ones.
uint64_t Threshold(const Image& src, double value, bool invert, uint8_t* mask);

// ---- resampling ----
void Bin(const Image& src, int factor, MutableImage out);
enum class Interpolation { Nearest, Bilinear };
void Resize(const Image& src, MutableImage out, Interpolation method);

// ---- focus ----
struct FocusMetrics {
  double varianceOfLaplacian = 0;  // variance of the 4-neighbour Laplacian over interior pixels
  double brenner = 0;              // mean of (I(x+2, y) - I(x, y))^2
  double mean = 0;
};
FocusMetrics ComputeFocus(const Image& src, int x0, int y0, int w, int h);

// ---- connected components ----
struct Region {
  int label = 0;
  uint8_t value = 0;  // the mask value of the region's pixels
  int64_t area = 0;
  int minX = 0, minY = 0, maxX = 0, maxY = 0;
  double cx = 0, cy = 0;
  double orientation = 0, eccentricity = 0, majorAxis = 0, minorAxis = 0, perimeter = 0;
  double valueMean = 0, valueMax = 0;
  double mu20 = 0, mu02 = 0, mu11 = 0;  // second central moments
  double feretMax = 1, feretMin = 1;    // calipers over the contour's convex hull, +1 px
  int firstX = 0, firstY = 0;  // first pixel in raster order (where the contour trace starts)
  std::vector<int32_t> contour;  // x0, y0, x1, y1, ... (outer boundary, clockwise with y down)
};

struct ComponentsResult {
  int count = 0;
  bool truncated = false;
  std::vector<Region> regions;
};

// Labels 1..N in raster order of each component's first pixel; 0 = background. Non-zero pixels form one foreground,
// or with `byValue` one foreground per mask value (regions of a class map).
ComponentsResult ConnectedComponents(const uint8_t* mask, int width, int height, int connectivity,
                                     const float* values, int32_t* labels, bool contours, int maxRegions,
                                     bool byValue = false);

// ---- segmentation of tiled network outputs ----
// Accumulator planes over the model's working grid (w x h): [0] summed weights, [1] weighted P(not background),
// [1 + k] weighted P(class k) for k = 1..K-1 when K > 2. Planes(K) says how many.
inline int SegmentPlanes(int classes) { return classes > 2 ? classes + 1 : 2; }

// Adds one tile's softmax output (K x th x tw, NCHW with N = 1) at (x0, y0), weighted by wx[c] * wy[r].
void BlendTile(const float* probs, int classes, int tw, int th, const float* wx, const float* wy, int x0, int y0,
               float* acc, int w, int h);

struct SegmentParams {
  int classes = 2;
  double threshold = 0.5;
  int closeRadius = 0;   // square closing of the foreground, outside the image counts as background
  int connectivity = 8;
  int binning = 1;       // the grid is binned k x k: probabilities are interpolated bilinearly to frame pixels
  int outWidth = 0, outHeight = 0;
  int maxRegions = 10000000;
  int poolScale = 0;     // > 0: max-pool P(not background) over poolScale² blocks into `pool` as 0..255
};

// Normalises the blended planes (in place), interpolates them to frame pixels, thresholds P(not background), closes, picks the
// most probable foreground class per pixel (classMap, and its probability as the region's value) and labels regions
// of equal class with their properties. `foreground` (optional, out size) receives P(not background).
// The accumulator is normalised in place; `values` (optional, out size) is scratch that ends as each foreground pixel's
// value.
ComponentsResult Segment(float* acc, int w, int h, const SegmentParams& p, uint8_t* classMap, int32_t* labels,
                         float* values, float* foreground, uint8_t* pool = nullptr);

}  // namespace ss::px
