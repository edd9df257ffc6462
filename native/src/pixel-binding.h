#pragma once
#include <napi.h>

namespace ss {
// Registers the pixel functions on `exports`. Each checks its arguments on the main thread, runs on the thread pool
// and resolves a Promise; outputs are written into caller-owned typed arrays.
void InitPixel(Napi::Env env, Napi::Object exports);
}  // namespace ss
