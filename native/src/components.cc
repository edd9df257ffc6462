// Connected components: two-pass labelling with union-find, region properties from image moments, and the outer
// boundary of each region by Moore-neighbour tracing with Jacob's stopping criterion.
#include <algorithm>
#include <cmath>
#include <vector>

#include "pixel.h"

namespace ss::px {

namespace {

int32_t Find(std::vector<int32_t>& parent, int32_t a) {
  while (parent[a] != a) {
    parent[a] = parent[parent[a]];
    a = parent[a];
  }
  return a;
}

void Union(std::vector<int32_t>& parent, int32_t a, int32_t b) {
  a = Find(parent, a);
  b = Find(parent, b);
  if (a < b) parent[b] = a;
  else if (b < a) parent[a] = b;
}

// Clockwise with y pointing down: E, SE, S, SW, W, NW, N, NE.
constexpr int kDx[8] = {1, 1, 0, -1, -1, -1, 0, 1};
constexpr int kDy[8] = {0, 1, 1, 1, 0, -1, -1, -1};

int DirIndex(int dx, int dy) {
  for (int d = 0; d < 8; d++)
    if (kDx[d] == dx && kDy[d] == dy) return d;
  return 0;
}

std::vector<int32_t> Trace(const int32_t* labels, int w, int h, int32_t label, int sx, int sy, int64_t area) {
  auto inside = [&](int x, int y) { return x >= 0 && y >= 0 && x < w && y < h && labels[(size_t)y * w + x] == label; };
  auto search = [&](int x, int y, int back) {
    for (int k = 1; k <= 8; k++) {
      int d = (back + k) & 7;
      if (inside(x + kDx[d], y + kDy[d])) return d;
    }
    return -1;
  };
  std::vector<int32_t> pts = {sx, sy};
  int d = search(sx, sy, 4);  // the start is the region's first pixel in raster order: west of it is outside
  if (d < 0) return pts;
  const int firstDir = d;
  int x = sx, y = sy;
  // A boundary visits each pixel at most four times; the bound only guards against a logic error looping forever.
  const int64_t maxSteps = 4 * area + 8;
  for (int64_t step = 0; step < maxSteps; step++) {
    int bx = x + kDx[(d + 7) & 7], by = y + kDy[(d + 7) & 7];  // last outside neighbour examined
    x += kDx[d];
    y += kDy[d];
    int back = DirIndex(bx - x, by - y);
    d = search(x, y, back);
    if (x == sx && y == sy && d == firstDir) break;
    pts.push_back(x);
    pts.push_back(y);
  }
  return pts;
}

double ContourLength(const std::vector<int32_t>& pts) {
  const size_t n = pts.size() / 2;
  if (n < 2) return 0;
  double len = 0;
  for (size_t i = 0; i < n; i++) {
    size_t j = (i + 1) % n;
    int dx = pts[2 * j] - pts[2 * i], dy = pts[2 * j + 1] - pts[2 * i + 1];
    len += (dx != 0 && dy != 0) ? M_SQRT2 : 1.0;
  }
  return len;
}

// Convex hull (monotone chain, counter-clockwise) of flat x, y points.
std::vector<int32_t> Hull(const std::vector<int32_t>& pts) {
  const size_t n = pts.size() / 2;
  std::vector<size_t> idx(n);
  for (size_t i = 0; i < n; i++) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    return pts[2 * a] != pts[2 * b] ? pts[2 * a] < pts[2 * b] : pts[2 * a + 1] < pts[2 * b + 1];
  });
  auto cross = [&](size_t o, size_t a, size_t b) {
    return double(pts[2 * a] - pts[2 * o]) * (pts[2 * b + 1] - pts[2 * o + 1]) -
           double(pts[2 * a + 1] - pts[2 * o + 1]) * (pts[2 * b] - pts[2 * o]);
  };
  std::vector<size_t> lower, upper;
  for (size_t i : idx) {
    while (lower.size() >= 2 && cross(lower[lower.size() - 2], lower.back(), i) <= 0) lower.pop_back();
    lower.push_back(i);
  }
  for (size_t k = idx.size(); k-- > 0;) {
    size_t i = idx[k];
    while (upper.size() >= 2 && cross(upper[upper.size() - 2], upper.back(), i) <= 0) upper.pop_back();
    upper.push_back(i);
  }
  std::vector<size_t> hull(lower.begin(), lower.end() - (lower.empty() ? 0 : 1));
  hull.insert(hull.end(), upper.begin(), upper.end() - (upper.empty() ? 0 : 1));
  if (hull.empty() && n) hull.push_back(idx[0]);
  std::vector<int32_t> out;
  out.reserve(hull.size() * 2);
  for (size_t i : hull) {
    out.push_back(pts[2 * i]);
    out.push_back(pts[2 * i + 1]);
  }
  return out;
}

// Maximum and minimum Feret diameters of the pixel-centre boundary, each extended by one pixel (a single pixel
// measures 1 x 1, a w-pixel-wide line w across).
void Feret(const std::vector<int32_t>& contour, double& maxPx, double& minPx) {
  std::vector<int32_t> h = Hull(contour);
  const size_t m = h.size() / 2;
  maxPx = minPx = 1;
  if (m <= 1) return;
  double mx = 0;
  for (size_t i = 0; i < m; i++)
    for (size_t j = i + 1; j < m; j++) {
      double dx = h[2 * i] - h[2 * j], dy = h[2 * i + 1] - h[2 * j + 1];
      mx = std::max(mx, std::sqrt(dx * dx + dy * dy));  // sqrt, not hypot: exact like the JS reference
    }
  maxPx = mx + 1;
  if (m == 2) return;
  double mn = INFINITY;
  for (size_t i = 0; i < m; i++) {
    size_t j = (i + 1) % m;
    double ex = h[2 * j] - h[2 * i], ey = h[2 * j + 1] - h[2 * i + 1];
    double len = std::sqrt(ex * ex + ey * ey);
    if (len == 0) continue;
    double far = 0;
    for (size_t k = 0; k < m; k++)
      far = std::max(far, std::abs((h[2 * k] - h[2 * i]) * ey - (h[2 * k + 1] - h[2 * i + 1]) * ex) / len);
    mn = std::min(mn, far);
  }
  minPx = (std::isfinite(mn) ? mn : 0) + 1;
}

struct Acc {
  int64_t area = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  int minX = 0, minY = 0, maxX = 0, maxY = 0, firstX = 0, firstY = 0;
  uint8_t value = 0;
  double vsum = 0, vmax = -INFINITY;
};

}  // namespace

ComponentsResult ConnectedComponents(const uint8_t* mask, int w, int h, int connectivity, const float* values,
                                     int32_t* labelsOut, bool contours, int maxRegions, bool byValue) {
  const size_t n = static_cast<size_t>(w) * h;
  std::vector<int32_t> own;
  int32_t* labels = labelsOut;
  if (!labels) {
    own.resize(n);
    labels = own.data();
  }
  std::vector<int32_t> parent = {0};
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      size_t i = static_cast<size_t>(y) * w + x;
      if (!mask[i]) {
        labels[i] = 0;
        continue;
      }
      // With byValue only neighbours of the same mask value join (one pass over a class map).
      const uint8_t v = mask[i];
      auto joins = [&](size_t j) { return labels[j] && (!byValue || mask[j] == v); };
      int32_t nb[4];
      int k = 0;
      if (x > 0 && joins(i - 1)) nb[k++] = labels[i - 1];
      if (y > 0) {
        if (joins(i - w)) nb[k++] = labels[i - w];
        if (connectivity == 8) {
          if (x > 0 && joins(i - w - 1)) nb[k++] = labels[i - w - 1];
          if (x + 1 < w && joins(i - w + 1)) nb[k++] = labels[i - w + 1];
        }
      }
      if (k == 0) {
        int32_t l = static_cast<int32_t>(parent.size());
        parent.push_back(l);
        labels[i] = l;
      } else {
        int32_t l = nb[0];
        for (int j = 1; j < k; j++) Union(parent, l, nb[j]);
        labels[i] = Find(parent, l);
      }
    }
  }
  // Final labels in raster order of each component's first pixel.
  std::vector<int32_t> finalOf(parent.size(), 0);
  int32_t next = 0;
  ComponentsResult res;
  std::vector<Acc> acc;
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      size_t i = static_cast<size_t>(y) * w + x;
      if (!labels[i]) continue;
      int32_t root = Find(parent, labels[i]);
      int32_t& f = finalOf[root];
      if (f == 0) {
        f = ++next;
        if (f <= maxRegions) {
          Acc a;
          a.minX = a.maxX = a.firstX = x;
          a.minY = a.maxY = a.firstY = y;
          a.value = mask[i];
          acc.push_back(a);
        }
      }
      labels[i] = f;
      if (f > maxRegions) continue;
      Acc& a = acc[f - 1];
      a.area++;
      a.sx += x;
      a.sy += y;
      a.sxx += int64_t(x) * x;
      a.syy += int64_t(y) * y;
      a.sxy += int64_t(x) * y;
      if (x < a.minX) a.minX = x;
      if (x > a.maxX) a.maxX = x;
      if (y > a.maxY) a.maxY = y;
      if (values) {
        double v = values[i];
        a.vsum += v;
        if (v > a.vmax) a.vmax = v;
      }
    }
  }
  res.count = next;
  res.truncated = next > maxRegions;
  res.regions.reserve(acc.size());
  for (size_t k = 0; k < acc.size(); k++) {
    const Acc& a = acc[k];
    Region r;
    r.label = static_cast<int>(k + 1);
    r.value = a.value;
    r.area = a.area;
    r.minX = a.minX;
    r.minY = a.minY;
    r.maxX = a.maxX;
    r.maxY = a.maxY;
    r.firstX = a.firstX;
    r.firstY = a.firstY;
    const double A = static_cast<double>(a.area);
    r.cx = a.sx / A;
    r.cy = a.sy / A;
    // Second central moments (pixel variance of the coordinates); axes as for an ellipse of the same moments.
    double mu20 = a.sxx / A - r.cx * r.cx, mu02 = a.syy / A - r.cy * r.cy, mu11 = a.sxy / A - r.cx * r.cy;
    double common = std::sqrt((mu20 - mu02) * (mu20 - mu02) / 4 + mu11 * mu11);
    double l1 = (mu20 + mu02) / 2 + common, l2 = (mu20 + mu02) / 2 - common;
    if (l2 < 0) l2 = 0;
    r.majorAxis = 4 * std::sqrt(l1);
    r.minorAxis = 4 * std::sqrt(l2);
    r.eccentricity = l1 > 0 ? std::sqrt(1 - l2 / l1) : 0;
    r.orientation = 0.5 * std::atan2(2 * mu11, mu20 - mu02);
    r.mu20 = mu20;
    r.mu02 = mu02;
    r.mu11 = mu11;
    if (values) {
      r.valueMean = a.vsum / A;
      r.valueMax = a.vmax;
    }
    std::vector<int32_t> c = Trace(labels, w, h, r.label, a.firstX, a.firstY, a.area);
    r.perimeter = ContourLength(c);
    Feret(c, r.feretMax, r.feretMin);
    if (contours) r.contour = std::move(c);
    res.regions.push_back(std::move(r));
  }
  return res;
}

}  // namespace ss::px
