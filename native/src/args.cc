#include "args.h"

#include <cmath>
#include <sstream>

namespace ss {

namespace {

// "an Int32Array", "an object", but "a Uint8Array" (said "you-int").
const char* Article(const std::string& word) {
  return (!word.empty() && std::string("AEIOaeio").find(word[0]) != std::string::npos) ? "an" : "a";
}

std::string TypedArrayName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
  }
  return "TypedArray";
}

std::string NumberText(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

}  // namespace

const char* TypeName(PixelType type) {
  switch (type) {
    case PixelType::U8: return "Uint8Array";
    case PixelType::U16: return "Uint16Array";
    case PixelType::I32: return "Int32Array";
    case PixelType::U32: return "Uint32Array";
    case PixelType::F32: return "Float32Array";
  }
  return "?";
}

std::string Describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return std::string("the boolean ") + (v.As<Napi::Boolean>().Value() ? "true" : "false");
  if (v.IsNumber()) return "the number " + NumberText(v.As<Napi::Number>().DoubleValue());
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.size() > 40) s = s.substr(0, 40) + "…";
    return "the string \"" + s + "\"";
  }
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    std::string n = TypedArrayName(ta.TypedArrayType());
    return std::string(Article(n)) + " " + n + " of " + std::to_string(ta.ElementLength()) + " elements";
  }
  if (v.IsArrayBuffer()) return "an ArrayBuffer of " + std::to_string(v.As<Napi::ArrayBuffer>().ByteLength()) + " bytes";
  if (v.IsArray()) return "an array of " + std::to_string(v.As<Napi::Array>().Length()) + " elements";
  if (v.IsFunction()) return "a function";
  if (v.IsObject()) return "an object";
  return "a value of another type";
}

void ThrowType(Napi::Env env, const std::string& expected, const std::string& name, const Napi::Value& got) {
  throw Napi::TypeError::New(env, "Expected " + expected + " for " + name + " but received " + Describe(got));
}

void ThrowRange(Napi::Env env, const std::string& expected, const std::string& name, const Napi::Value& got) {
  throw Napi::RangeError::New(env, "Expected " + expected + " for " + name + " but received " + Describe(got));
}

PixelBuffer TypedArrayArg(const Napi::Value& value, const std::string& name, const std::vector<PixelType>& allowed,
                          size_t minLength, bool exact) {
  std::string what;
  for (size_t i = 0; i < allowed.size(); i++) {
    if (i > 0) what += (i + 1 == allowed.size()) ? " or " : ", ";
    what += TypeName(allowed[i]);
  }
  what = std::string(Article(what)) + " " + what;
  if (!value.IsTypedArray()) ThrowType(value.Env(), what, name, value);
  auto ta = value.As<Napi::TypedArray>();
  PixelBuffer out;
  bool ok = false;
  for (PixelType t : allowed) {
    napi_typedarray_type want = t == PixelType::U8 ? napi_uint8_array
                                : t == PixelType::U16 ? napi_uint16_array
                                : t == PixelType::I32 ? napi_int32_array
                                : t == PixelType::U32 ? napi_uint32_array
                                                      : napi_float32_array;
    if (ta.TypedArrayType() == want) {
      out.type = t;
      ok = true;
    }
  }
  if (!ok) ThrowType(value.Env(), what, name, value);
  size_t len = ta.ElementLength();
  if (exact ? len != minLength : len < minLength) {
    std::string sizeText = (exact ? " of " : " of at least ") + std::to_string(minLength) + " elements";
    ThrowRange(value.Env(), what + sizeText, name, value);
  }
  out.length = len;
  out.data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  out.owner = ta;
  return out;
}

double NumberArg(const Napi::Value& value, const std::string& name, double min, double max, bool integer) {
  std::string what = std::string(integer ? "an integer" : "a number") + " between " + NumberText(min) + " and " +
                     NumberText(max);
  if (!value.IsNumber()) ThrowType(value.Env(), what, name, value);
  double v = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || v < min || v > max || (integer && std::floor(v) != v)) {
    ThrowRange(value.Env(), what, name, value);
  }
  return v;
}

double NumberOption(const Napi::Object& options, const char* key, const std::string& name, double min, double max,
                    double fallback, bool integer) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return fallback;
  return NumberArg(v, name, min, max, integer);
}

bool BoolOption(const Napi::Object& options, const char* key, const std::string& name, bool fallback) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) ThrowType(v.Env(), "a boolean", name, v);
  return v.As<Napi::Boolean>().Value();
}

std::string StringOption(const Napi::Object& options, const char* key, const std::string& name,
                         const std::vector<std::string>& allowed, const std::string& fallback) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return fallback;
  std::string what = "one of ";
  for (size_t i = 0; i < allowed.size(); i++) what += (i ? ", \"" : "\"") + allowed[i] + "\"";
  if (!v.IsString()) ThrowType(v.Env(), what, name, v);
  std::string s = v.As<Napi::String>().Utf8Value();
  for (const auto& a : allowed) {
    if (a == s) return s;
  }
  ThrowRange(v.Env(), what, name, v);
}

Napi::Object ObjectArg(const Napi::Value& value, const std::string& name, bool optional) {
  if (optional && value.IsUndefined()) return Napi::Object::New(value.Env());
  if (!value.IsObject() || value.IsArray() || value.IsTypedArray() || value.IsFunction()) {
    ThrowType(value.Env(), "an object", name, value);
  }
  return value.As<Napi::Object>();
}

namespace {
size_t ElementSize(PixelType t) {
  return t == PixelType::U8 ? 1 : t == PixelType::U16 ? 2 : 4;
}
}  // namespace

bool Overlaps(const PixelBuffer& a, const PixelBuffer& b) {
  auto* a0 = static_cast<const uint8_t*>(a.data);
  auto* b0 = static_cast<const uint8_t*>(b.data);
  const uint8_t* a1 = a0 + a.length * ElementSize(a.type);
  const uint8_t* b1 = b0 + b.length * ElementSize(b.type);
  return a0 < b1 && b0 < a1;
}

void DimensionsArg(const Napi::CallbackInfo& info, size_t at, int& width, int& height) {
  width = static_cast<int>(NumberArg(info[at], "width", 1, 65535, true));
  height = static_cast<int>(NumberArg(info[at + 1], "height", 1, 65535, true));
}

}  // namespace ss
