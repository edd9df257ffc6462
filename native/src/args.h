// Argument checks for every native entry point, with one wording for all of them:
//   "Expected <what> for <name> but received <description of the value>".
// The TypeScript layer (src/native/binding.ts) validates first with the same wording; these checks keep a direct call
// into the addon from ever crashing the process.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ss {

enum class PixelType { U8, U16, I32, U32, F32 };

// A typed array's memory seen from C++: pointer, element count and element type. The owning object must stay
// referenced (see Keep) for as long as native code uses `data`.
struct PixelBuffer {
  void* data = nullptr;
  size_t length = 0;
  PixelType type = PixelType::U8;
  Napi::Object owner;

  template <typename T>
  T* as() const { return static_cast<T*>(data); }
};

std::string Describe(const Napi::Value& value);

[[noreturn]] void ThrowType(Napi::Env env, const std::string& expected, const std::string& name, const Napi::Value& got);
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& expected, const std::string& name, const Napi::Value& got);

// A typed array of one of `allowed` types with at least `minLength` elements (exactly, when `exact`).
PixelBuffer TypedArrayArg(const Napi::Value& value, const std::string& name, const std::vector<PixelType>& allowed,
                          size_t minLength, bool exact = false);

// A finite number in [min, max]; `integer` additionally requires an integer.
double NumberArg(const Napi::Value& value, const std::string& name, double min, double max, bool integer = false);

// The same, read from `options[key]`; undefined gives `fallback`.
double NumberOption(const Napi::Object& options, const char* key, const std::string& name, double min, double max,
                    double fallback, bool integer = false);
bool BoolOption(const Napi::Object& options, const char* key, const std::string& name, bool fallback);
std::string StringOption(const Napi::Object& options, const char* key, const std::string& name,
                         const std::vector<std::string>& allowed, const std::string& fallback);
Napi::Object ObjectArg(const Napi::Value& value, const std::string& name, bool optional = true);

// True when two buffers share any byte (an output must never alias an input: the filters read neighbours).
bool Overlaps(const PixelBuffer& a, const PixelBuffer& b);

// The image dimensions (width, height) of a call, each an integer in [1, 65535].
void DimensionsArg(const Napi::CallbackInfo& info, size_t at, int& width, int& height);

const char* TypeName(PixelType type);

}  // namespace ss
