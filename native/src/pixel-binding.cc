// N-API side of the pixel work: argument checks on the main thread, then a Task per call.
#include "pixel-binding.h"

#include <chrono>
#include <cmath>
#include <memory>

#include "args.h"
#include "parallel.h"
#include "pixel.h"
#include "task.h"

namespace ss {

namespace {

using px::Image;
using px::MutableImage;

const std::vector<PixelType> kImageTypes = {PixelType::U8, PixelType::U16, PixelType::F32};

struct Call {
  const Napi::CallbackInfo& info;
  Napi::Env env;
  int width = 0, height = 0;
  size_t pixels = 0;
  explicit Call(const Napi::CallbackInfo& i, size_t dimsAt = 1) : info(i), env(i.Env()) {
    DimensionsArg(i, dimsAt, width, height);
    pixels = static_cast<size_t>(width) * height;
  }
  PixelBuffer Source(size_t at, const char* name, const std::vector<PixelType>& types = kImageTypes) const {
    return TypedArrayArg(info[at], name, types, pixels, true);
  }
  Image AsImage(const PixelBuffer& b) const { return Image{b.data, b.type, width, height}; }
  void NoAlias(const PixelBuffer& out, const PixelBuffer& in, const char* outName, const char* inName) const {
    if (Overlaps(out, in)) {
      ThrowRange(env, std::string("a buffer that does not share memory with ") + inName, outName, out.owner);
    }
  }
};

int Threads(const Napi::Object& o) {
  return static_cast<int>(NumberOption(o, "threads", "options.threads", 1, 64, DefaultThreads(), true));
}

Napi::Value PreprocessTiles(const Napi::CallbackInfo& info) {
  Call c(info);
  PixelBuffer src = c.Source(0, "frame");
  Napi::Object o = ObjectArg(info[3], "options");
  px::PreprocessParams p;
  p.tile = static_cast<int>(NumberOption(o, "tile", "options.tile", 1, 8192, 256, true));
  p.overlap = static_cast<int>(NumberOption(o, "overlap", "options.overlap", 0, p.tile - 1, 0, true));
  p.binning = static_cast<int>(NumberOption(o, "binning", "options.binning", 1, 16, 1, true));
  p.channels = static_cast<int>(NumberOption(o, "channels", "options.channels", 1, 3, 1, true));
  p.pad = static_cast<float>(NumberOption(o, "pad", "options.pad", -1e30, 1e30, 0));
  p.threads = Threads(o);
  if (c.width / p.binning < 1 || c.height / p.binning < 1) {
    ThrowRange(c.env, "a binning no larger than the image", "options.binning", o.Get("binning"));
  }
  const double scale = NumberOption(o, "scale", "options.scale", -1e30, 1e30, 1);
  for (int ch = 0; ch < p.channels; ch++) {
    auto pick = [&](const char* key, double fallback) {
      Napi::Value v = o.Get(key);
      std::string name = std::string("options.") + key;
      if (v.IsArray()) {
        auto a = v.As<Napi::Array>();
        if (a.Length() != static_cast<uint32_t>(p.channels)) {
          ThrowRange(c.env, "a number or an array of one number per channel (" + std::to_string(p.channels) + ")",
                     name, v);
        }
        return NumberArg(a.Get(static_cast<uint32_t>(ch)), name + "[" + std::to_string(ch) + "]", -1e30, 1e30);
      }
      return NumberOption(o, key, name, -1e30, 1e30, fallback);
    };
    double mean = pick("mean", 0), std = pick("std", 1);
    if (std == 0) ThrowRange(c.env, "a non-zero standard deviation", "options.std", o.Get("std"));
    p.a[ch] = static_cast<float>(scale / std);
    p.b[ch] = static_cast<float>(-mean / std);
  }
  std::vector<Napi::Object> keep = {src.owner};
  Napi::Value dark = o.Get("dark");
  if (dark.IsNumber()) {
    p.darkValue = static_cast<float>(NumberArg(dark, "options.dark", -1e30, 1e30));
  } else if (!dark.IsUndefined()) {
    PixelBuffer d = TypedArrayArg(dark, "options.dark", kImageTypes, c.pixels, true);
    p.dark = d.data;
    p.darkType = d.type;
    keep.push_back(d.owner);
  }
  Napi::Value flat = o.Get("flat");
  if (!flat.IsUndefined()) {
    PixelBuffer f = TypedArrayArg(flat, "options.flat", {PixelType::F32}, c.pixels, true);
    p.flat = f.as<float>();
    keep.push_back(f.owner);
  }
  Napi::Value flatQ14 = o.Get("flatQ14");
  if (!flatQ14.IsUndefined()) {
    if (p.flat) ThrowType(c.env, "undefined when options.flat is given", "options.flatQ14", flatQ14);
    PixelBuffer f = TypedArrayArg(flatQ14, "options.flatQ14", {PixelType::U16}, c.pixels, true);
    p.flatQ14 = f.as<uint16_t>();
    keep.push_back(f.owner);
  }
  auto grid = std::make_shared<px::TileGrid>(px::PlanTiles(c.width, c.height, p));
  const size_t need = grid->count() * p.channels * static_cast<size_t>(p.tile) * p.tile;
  PixelBuffer out = TypedArrayArg(info[4], "out", {PixelType::F32}, need);
  c.NoAlias(out, src, "out", "frame");
  keep.push_back(out.owner);
  Image img = c.AsImage(src);
  const int binning = p.binning, tile = p.tile, channels = p.channels;
  auto workMs = std::make_shared<double>(0);
  return Task::Run(
      c.env, keep,
      [img, p, grid, out, workMs]() {
        auto t0 = std::chrono::steady_clock::now();
        px::PreprocessTiles(img, p, *grid, out.as<float>());
        *workMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      },
      [grid, binning, tile, channels, workMs](Napi::Env env) {
        Napi::Object r = Napi::Object::New(env);
        const size_t n = grid->count(), cols = grid->xs.size();
        auto origins = Napi::Int32Array::New(env, n * 2);
        for (size_t t = 0; t < n; t++) {
          origins[2 * t] = grid->xs[t % cols] * binning;
          origins[2 * t + 1] = grid->ys[t / cols] * binning;
        }
        r.Set("tiles", Napi::Number::New(env, static_cast<double>(n)));
        r.Set("columns", Napi::Number::New(env, static_cast<double>(cols)));
        r.Set("rows", Napi::Number::New(env, static_cast<double>(grid->ys.size())));
        r.Set("tileSize", Napi::Number::New(env, tile));
        r.Set("binning", Napi::Number::New(env, binning));
        r.Set("channels", Napi::Number::New(env, channels));
        r.Set("origins", origins);
        r.Set("workMs", *workMs);
        return r;
      });
}

Napi::Value FlatFieldGain(const Napi::CallbackInfo& info) {
  Call c(info);
  PixelBuffer flat = c.Source(0, "flat");
  std::vector<Napi::Object> keep = {flat.owner};
  std::shared_ptr<Image> dark;
  float darkValue = 0;
  if (info[3].IsNumber()) {
    darkValue = static_cast<float>(NumberArg(info[3], "dark", -1e30, 1e30));
  } else if (!info[3].IsUndefined()) {
    PixelBuffer d = c.Source(3, "dark");
    dark = std::make_shared<Image>(c.AsImage(d));
    keep.push_back(d.owner);
  }
  PixelBuffer out = TypedArrayArg(info[4], "out", {PixelType::F32, PixelType::U16}, c.pixels, true);
  c.NoAlias(out, flat, "out", "flat");
  keep.push_back(out.owner);
  auto mean = std::make_shared<double>(0);
  Image img = c.AsImage(flat);
  float* gain = out.type == PixelType::F32 ? out.as<float>() : nullptr;
  uint16_t* gainQ14 = out.type == PixelType::U16 ? out.as<uint16_t>() : nullptr;
  return Task::Run(
      c.env, keep, [=]() { *mean = px::FlatFieldGain(img, dark.get(), darkValue, gain, gainQ14); },
      [mean](Napi::Env env) { return Napi::Number::New(env, *mean); });
}

Napi::Value Median(const Napi::CallbackInfo& info) {
  Call c(info);
  PixelBuffer src = c.Source(0, "src");
  Napi::Object o = ObjectArg(info[3], "options");
  int radius = static_cast<int>(NumberOption(o, "radius", "options.radius", 1, 7, 1, true));
  int threads = Threads(o);
  PixelBuffer out = TypedArrayArg(info[4], "out", {src.type}, c.pixels, true);
  c.NoAlias(out, src, "out", "src");
  Image img = c.AsImage(src);
  MutableImage dst{out.data, out.type, c.width, c.height};
  return Task::Run(c.env, {src.owner, out.owner}, [=]() { px::Median(img, radius, dst, threads); }, nullptr);
}

Napi::Value Gaussian(const Napi::CallbackInfo& info) {
  Call c(info);
  PixelBuffer src = c.Source(0, "src");
  Napi::Object o = ObjectArg(info[3], "options");
  double sigma = NumberOption(o, "sigma", "options.sigma", 0.1, 100, 1);
  int radius = static_cast<int>(
      NumberOption(o, "radius", "options.radius", 1, 300, std::max(1.0, std::ceil(3 * sigma)), true));
  int threads = Threads(o);
  PixelBuffer out = TypedArrayArg(info[4], "out", kImageTypes, c.pixels, true);
  c.NoAlias(out, src, "out", "src");
  Image img = c.AsImage(src);
  MutableImage dst{out.data, out.type, c.width, c.height};
  return Task::Run(c.env, {src.owner, out.owner}, [=]() { px::Gaussian(img, sigma, radius, dst, threads); }, nullptr);
}

Napi::Value Morphology(const Napi::CallbackInfo& info) {
  Call c(info);
  PixelBuffer mask = c.Source(0, "mask", {PixelType::U8});
  Napi::Object o = ObjectArg(info[3], "options");
  std::string op = StringOption(o, "op", "options.op", {"erode", "dilate", "open", "close"}, "");
  if (op.empty()) ThrowType(c.env, "one of \"erode\", \"dilate\", \"open\", \"close\"", "options.op", o.Get("op"));
  std::string shape = StringOption(o, "shape", "options.shape", {"square", "disk"}, "square");
  int radius = static_cast<int>(NumberOption(o, "radius", "options.radius", 1, 64, 1, true));
  PixelBuffer out = TypedArrayArg(info[4], "out", {PixelType::U8}, c.pixels, true);
  c.NoAlias(out, mask, "out", "mask");
  px::MorphOp m = op == "erode" ? px::MorphOp::Erode
                  : op == "dilate" ? px::MorphOp::Dilate
                  : op == "open" ? px::MorphOp::Open
                                 : px::MorphOp::Close;
  px::Shape s = shape == "disk" ? px::Shape::Disk : px::Shape::Square;
  int w = c.width, h = c.height;
  return Task::Run(c.env, {mask.owner, out.owner},
                   [=]() { px::Morphology(mask.as<uint8_t>(), w, h, m, s, radius, out.as<uint8_t>()); }, nullptr);
}

Napi::Value Statistics(const Napi::CallbackInfo& info) {
  Call c(info);
  PixelBuffer src = c.Source(0, "src");
  Napi::Object o = ObjectArg(info[3], "options");
  std::vector<Napi::Object> keep = {src.owner};
  const uint8_t* mask = nullptr;
  if (!o.Get("mask").IsUndefined()) {
    PixelBuffer m = TypedArrayArg(o.Get("mask"), "options.mask", {PixelType::U8}, c.pixels, true);
    mask = m.as<uint8_t>();
    keep.push_back(m.owner);
  }
  auto res = std::make_shared<px::Statistics>();
  Image img = c.AsImage(src);
  return Task::Run(
      c.env, keep, [=]() { *res = px::ComputeStatistics(img, mask); },
      [res](Napi::Env env) {
        Napi::Object r = Napi::Object::New(env);
        r.Set("count", res->count);
        r.Set("sum", res->sum);
        r.Set("min", res->min);
        r.Set("max", res->max);
        r.Set("mean", res->mean);
        r.Set("std", res->std);
        return r;
      });
}

Napi::Value Histogram(const Napi::CallbackInfo& info) {
  Call c(info);
  PixelBuffer src = c.Source(0, "src");
  Napi::Object o = ObjectArg(info[3], "options");
  px::HistogramRange r;
  double defMax = src.type == PixelType::U8 ? 255 : src.type == PixelType::U16 ? 65535 : 1;
  r.min = NumberOption(o, "min", "options.min", -1e30, 1e30, 0);
  r.max = NumberOption(o, "max", "options.max", r.min, 1e30, std::max(defMax, r.min));
  if (src.type == PixelType::F32 && !(r.max > r.min)) {
    ThrowRange(c.env, "a maximum above options.min", "options.max", o.Get("max"));
  }
  r.bins = static_cast<int>(NumberOption(o, "bins", "options.bins", 1, 65536, 256, true));
  PixelBuffer out = TypedArrayArg(info[4], "out", {PixelType::U32}, static_cast<size_t>(r.bins), true);
  auto res = std::make_shared<std::pair<uint64_t, uint64_t>>();
  Image img = c.AsImage(src);
  return Task::Run(
      c.env, {src.owner, out.owner}, [=]() { *res = px::Histogram(img, r, out.as<uint32_t>()); },
      [res](Napi::Env env) {
        Napi::Object o2 = Napi::Object::New(env);
        o2.Set("below", static_cast<double>(res->first));
        o2.Set("above", static_cast<double>(res->second));
        return o2;
      });
}

Napi::Value Otsu(const Napi::CallbackInfo& info) {
  Call c(info);
  PixelBuffer src = c.Source(0, "src");
  Napi::Object o = ObjectArg(info[3], "options");
  int bins = static_cast<int>(NumberOption(o, "bins", "options.bins", 2, 65536, 256, true));
  auto res = std::make_shared<double>(0);
  Image img = c.AsImage(src);
  return Task::Run(c.env, {src.owner}, [=]() { *res = px::Otsu(img, bins); },
                   [res](Napi::Env env) { return Napi::Number::New(env, *res); });
}

Napi::Value Threshold(const Napi::CallbackInfo& info) {
  Call c(info);
  PixelBuffer src = c.Source(0, "src");
  Napi::Object o = ObjectArg(info[3], "options", false);
  double value = NumberArg(o.Get("value"), "options.value", -1e30, 1e30);
  bool invert = BoolOption(o, "invert", "options.invert", false);
  PixelBuffer out = TypedArrayArg(info[4], "out", {PixelType::U8}, c.pixels, true);
  c.NoAlias(out, src, "out", "src");
  auto res = std::make_shared<uint64_t>(0);
  Image img = c.AsImage(src);
  return Task::Run(c.env, {src.owner, out.owner}, [=]() { *res = px::Threshold(img, value, invert, out.as<uint8_t>()); },
                   [res](Napi::Env env) { return Napi::Number::New(env, static_cast<double>(*res)); });
}

Napi::Value Bin(const Napi::CallbackInfo& info) {
  Call c(info);
  PixelBuffer src = c.Source(0, "src");
  Napi::Object o = ObjectArg(info[3], "options");
  int f = static_cast<int>(NumberOption(o, "factor", "options.factor", 1, 64, 2, true));
  if (c.width / f < 1 || c.height / f < 1) {
    ThrowRange(c.env, "a factor no larger than the image", "options.factor", o.Get("factor"));
  }
  int ow = c.width / f, oh = c.height / f;
  PixelBuffer out = TypedArrayArg(info[4], "out", kImageTypes, static_cast<size_t>(ow) * oh, true);
  c.NoAlias(out, src, "out", "src");
  Image img = c.AsImage(src);
  MutableImage dst{out.data, out.type, ow, oh};
  return Task::Run(c.env, {src.owner, out.owner}, [=]() { px::Bin(img, f, dst); }, nullptr);
}

Napi::Value Resize(const Napi::CallbackInfo& info) {
  Call c(info);
  PixelBuffer src = c.Source(0, "src");
  int ow = static_cast<int>(NumberArg(info[4], "outWidth", 1, 65535, true));
  int oh = static_cast<int>(NumberArg(info[5], "outHeight", 1, 65535, true));
  PixelBuffer out = TypedArrayArg(info[3], "out", kImageTypes, static_cast<size_t>(ow) * oh, true);
  c.NoAlias(out, src, "out", "src");
  Napi::Object o = ObjectArg(info[6], "options");
  std::string m = StringOption(o, "method", "options.method", {"nearest", "bilinear"}, "bilinear");
  px::Interpolation method = m == "nearest" ? px::Interpolation::Nearest : px::Interpolation::Bilinear;
  Image img = c.AsImage(src);
  MutableImage dst{out.data, out.type, ow, oh};
  return Task::Run(c.env, {src.owner, out.owner}, [=]() { px::Resize(img, dst, method); }, nullptr);
}

Napi::Value FocusMetrics(const Napi::CallbackInfo& info) {
  Call c(info);
  PixelBuffer src = c.Source(0, "src");
  Napi::Object o = ObjectArg(info[3], "options");
  int x0 = 0, y0 = 0, w = c.width, h = c.height;
  if (!o.Get("roi").IsUndefined()) {
    Napi::Object roi = ObjectArg(o.Get("roi"), "options.roi", false);
    x0 = static_cast<int>(NumberArg(roi.Get("x"), "options.roi.x", 0, c.width - 1, true));
    y0 = static_cast<int>(NumberArg(roi.Get("y"), "options.roi.y", 0, c.height - 1, true));
    w = static_cast<int>(NumberArg(roi.Get("width"), "options.roi.width", 1, c.width - x0, true));
    h = static_cast<int>(NumberArg(roi.Get("height"), "options.roi.height", 1, c.height - y0, true));
  }
  auto res = std::make_shared<px::FocusMetrics>();
  Image img = c.AsImage(src);
  return Task::Run(
      c.env, {src.owner}, [=]() { *res = px::ComputeFocus(img, x0, y0, w, h); },
      [res](Napi::Env env) {
        Napi::Object r = Napi::Object::New(env);
        r.Set("varianceOfLaplacian", res->varianceOfLaplacian);
        r.Set("brenner", res->brenner);
        r.Set("mean", res->mean);
        return r;
      });
}

Napi::Object RegionsToJs(Napi::Env env, const px::ComponentsResult& res, bool hasValues, bool contours) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("count", res.count);
  r.Set("truncated", res.truncated);
  Napi::Array regions = Napi::Array::New(env, res.regions.size());
  for (size_t i = 0; i < res.regions.size(); i++) {
    const px::Region& g = res.regions[i];
    Napi::Object o2 = Napi::Object::New(env);
    o2.Set("label", g.label);
    o2.Set("value", g.value);
    o2.Set("area", static_cast<double>(g.area));
    Napi::Object bbox = Napi::Object::New(env);
    bbox.Set("x", g.minX);
    bbox.Set("y", g.minY);
    bbox.Set("width", g.maxX - g.minX + 1);
    bbox.Set("height", g.maxY - g.minY + 1);
    o2.Set("bbox", bbox);
    Napi::Object centroid = Napi::Object::New(env);
    centroid.Set("x", g.cx);
    centroid.Set("y", g.cy);
    o2.Set("centroid", centroid);
    o2.Set("orientation", g.orientation);
    o2.Set("eccentricity", g.eccentricity);
    o2.Set("majorAxis", g.majorAxis);
    o2.Set("minorAxis", g.minorAxis);
    o2.Set("perimeter", g.perimeter);
    o2.Set("feretMax", g.feretMax);
    o2.Set("feretMin", g.feretMin);
    Napi::Array mu = Napi::Array::New(env, 3);
    mu.Set(0u, g.mu20);
    mu.Set(1u, g.mu02);
    mu.Set(2u, g.mu11);
    o2.Set("moments", mu);
    if (hasValues) {
      o2.Set("valueMean", g.valueMean);
      o2.Set("valueMax", g.valueMax);
    }
    if (contours) {
      auto arr = Napi::Int32Array::New(env, g.contour.size());
      std::copy(g.contour.begin(), g.contour.end(), arr.Data());
      o2.Set("contour", arr);
    }
    regions.Set(static_cast<uint32_t>(i), o2);
  }
  r.Set("regions", regions);
  return r;
}

Napi::Value ConnectedComponents(const Napi::CallbackInfo& info) {
  Call c(info);
  PixelBuffer mask = c.Source(0, "mask", {PixelType::U8});
  Napi::Object o = ObjectArg(info[3], "options");
  int conn = static_cast<int>(NumberOption(o, "connectivity", "options.connectivity", 4, 8, 8, true));
  if (conn != 4 && conn != 8) ThrowRange(c.env, "4 or 8", "options.connectivity", o.Get("connectivity"));
  bool contours = BoolOption(o, "contours", "options.contours", true);
  int maxRegions = static_cast<int>(NumberOption(o, "maxRegions", "options.maxRegions", 0, 1e7, 100000, true));
  std::vector<Napi::Object> keep = {mask.owner};
  const float* values = nullptr;
  int32_t* labels = nullptr;
  if (!o.Get("values").IsUndefined()) {
    PixelBuffer v = TypedArrayArg(o.Get("values"), "options.values", {PixelType::F32}, c.pixels, true);
    values = v.as<float>();
    keep.push_back(v.owner);
  }
  if (!o.Get("labels").IsUndefined()) {
    PixelBuffer l = TypedArrayArg(o.Get("labels"), "options.labels", {PixelType::I32}, c.pixels, true);
    c.NoAlias(l, mask, "options.labels", "mask");
    labels = l.as<int32_t>();
    keep.push_back(l.owner);
  }
  bool byValue = BoolOption(o, "byValue", "options.byValue", false);
  auto res = std::make_shared<px::ComponentsResult>();
  int w = c.width, h = c.height;
  const uint8_t* m = mask.as<uint8_t>();
  bool hasValues = values != nullptr;
  return Task::Run(
      c.env, keep,
      [=]() { *res = px::ConnectedComponents(m, w, h, conn, values, labels, contours, maxRegions, byValue); },
      [res, hasValues, contours](Napi::Env env) { return RegionsToJs(env, *res, hasValues, contours); });
}

// blendTile(probs, tileWidth, tileHeight, {classes, x, y, wx, wy, width, height}, acc): one tile's softmax output
// added, weighted, into the accumulator planes of the working grid.
Napi::Value BlendTile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int tw = 0, th = 0;
  DimensionsArg(info, 1, tw, th);
  Napi::Object o = ObjectArg(info[3], "options", false);
  int classes = static_cast<int>(NumberOption(o, "classes", "options.classes", 2, 255, 2, true));
  int w = static_cast<int>(NumberOption(o, "width", "options.width", 1, 65535, 1, true));
  int h = static_cast<int>(NumberOption(o, "height", "options.height", 1, 65535, 1, true));
  int x = static_cast<int>(NumberOption(o, "x", "options.x", 0, w - 1, 0, true));
  int y = static_cast<int>(NumberOption(o, "y", "options.y", 0, h - 1, 0, true));
  const size_t plane = static_cast<size_t>(tw) * th;
  PixelBuffer probs = TypedArrayArg(info[0], "probs", {PixelType::F32}, plane * classes, true);
  PixelBuffer wx = TypedArrayArg(o.Get("wx"), "options.wx", {PixelType::F32}, tw, true);
  PixelBuffer wy = TypedArrayArg(o.Get("wy"), "options.wy", {PixelType::F32}, th, true);
  const size_t need = static_cast<size_t>(w) * h * px::SegmentPlanes(classes);
  PixelBuffer acc = TypedArrayArg(info[4], "acc", {PixelType::F32}, need, true);
  if (Overlaps(acc, probs)) {
    ThrowRange(env, "a buffer that does not share memory with probs", "acc", acc.owner);
  }
  const float* p = probs.as<float>();
  const float* ax = wx.as<float>();
  const float* ay = wy.as<float>();
  float* a = acc.as<float>();
  return Task::Run(
      env, {probs.owner, wx.owner, wy.owner, acc.owner},
      [=]() { px::BlendTile(p, classes, tw, th, ax, ay, x, y, a, w, h); }, nullptr);
}

// segment(acc, width, height, options, classMap, labels): regions of the blended planes (see pixel.h Segment).
Napi::Value Segment(const Napi::CallbackInfo& info) {
  Call c(info);
  Napi::Object o = ObjectArg(info[3], "options", false);
  px::SegmentParams p;
  p.classes = static_cast<int>(NumberOption(o, "classes", "options.classes", 2, 255, 2, true));
  p.threshold = NumberOption(o, "threshold", "options.threshold", 0, 1, 0.5);
  p.closeRadius = static_cast<int>(NumberOption(o, "closeRadius", "options.closeRadius", 0, 64, 0, true));
  p.connectivity = static_cast<int>(NumberOption(o, "connectivity", "options.connectivity", 4, 8, 8, true));
  if (p.connectivity != 4 && p.connectivity != 8) ThrowRange(c.env, "4 or 8", "options.connectivity", o.Get("connectivity"));
  p.binning = static_cast<int>(NumberOption(o, "binning", "options.binning", 1, 16, 1, true));
  p.outWidth = static_cast<int>(NumberOption(o, "outWidth", "options.outWidth", 1, 65535, c.width, true));
  p.outHeight = static_cast<int>(NumberOption(o, "outHeight", "options.outHeight", 1, 65535, c.height, true));
  p.maxRegions = static_cast<int>(NumberOption(o, "maxRegions", "options.maxRegions", 0, 1e7, 1e7, true));
  PixelBuffer acc = TypedArrayArg(info[0], "acc", {PixelType::F32}, c.pixels * px::SegmentPlanes(p.classes), true);
  const size_t out = static_cast<size_t>(p.outWidth) * p.outHeight;
  PixelBuffer classMap = TypedArrayArg(info[4], "classMap", {PixelType::U8}, out, true);
  PixelBuffer labels = TypedArrayArg(info[5], "labels", {PixelType::I32}, out, true);
  std::vector<Napi::Object> keep = {acc.owner, classMap.owner, labels.owner};
  float* fg = nullptr;
  if (!o.Get("foreground").IsUndefined()) {
    PixelBuffer f = TypedArrayArg(o.Get("foreground"), "options.foreground", {PixelType::F32}, out, true);
    c.NoAlias(f, acc, "options.foreground", "acc");
    fg = f.as<float>();
    keep.push_back(f.owner);
  }
  c.NoAlias(labels, classMap, "labels", "classMap");
  float* values = nullptr;
  if (!o.Get("values").IsUndefined()) {
    PixelBuffer v = TypedArrayArg(o.Get("values"), "options.values", {PixelType::F32}, out, true);
    c.NoAlias(v, acc, "options.values", "acc");
    values = v.as<float>();
    keep.push_back(v.owner);
  }
  uint8_t* pool = nullptr;
  if (!o.Get("probabilityMap").IsUndefined()) {
    p.poolScale = static_cast<int>(NumberOption(o, "probabilityScale", "options.probabilityScale", 1, 65535, 1, true));
    const size_t pn = static_cast<size_t>((p.outWidth + p.poolScale - 1) / p.poolScale) * ((p.outHeight + p.poolScale - 1) / p.poolScale);
    PixelBuffer pm = TypedArrayArg(o.Get("probabilityMap"), "options.probabilityMap", {PixelType::U8}, pn, true);
    pool = pm.as<uint8_t>();
    keep.push_back(pm.owner);
  }
  auto res = std::make_shared<px::ComponentsResult>();
  float* a = acc.as<float>();
  uint8_t* cm = classMap.as<uint8_t>();
  int32_t* lb = labels.as<int32_t>();
  int w = c.width, h = c.height;
  return Task::Run(
      c.env, keep, [=]() { *res = px::Segment(a, w, h, p, cm, lb, values, fg, pool); },
      [res](Napi::Env env) { return RegionsToJs(env, *res, true, true); });
}

}  // namespace

void InitPixel(Napi::Env env, Napi::Object exports) {
  exports.Set("preprocessTiles", Napi::Function::New(env, PreprocessTiles, "preprocessTiles"));
  exports.Set("flatFieldGain", Napi::Function::New(env, FlatFieldGain, "flatFieldGain"));
  exports.Set("median", Napi::Function::New(env, Median, "median"));
  exports.Set("gaussian", Napi::Function::New(env, Gaussian, "gaussian"));
  exports.Set("morphology", Napi::Function::New(env, Morphology, "morphology"));
  exports.Set("statistics", Napi::Function::New(env, Statistics, "statistics"));
  exports.Set("histogram", Napi::Function::New(env, Histogram, "histogram"));
  exports.Set("otsu", Napi::Function::New(env, Otsu, "otsu"));
  exports.Set("threshold", Napi::Function::New(env, Threshold, "threshold"));
  exports.Set("bin", Napi::Function::New(env, Bin, "bin"));
  exports.Set("resize", Napi::Function::New(env, Resize, "resize"));
  exports.Set("focusMetrics", Napi::Function::New(env, FocusMetrics, "focusMetrics"));
  exports.Set("connectedComponents", Napi::Function::New(env, ConnectedComponents, "connectedComponents"));
  exports.Set("blendTile", Napi::Function::New(env, BlendTile, "blendTile"));
  exports.Set("segment", Napi::Function::New(env, Segment, "segment"));
}

}  // namespace ss
