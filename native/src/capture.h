#pragma once
#include <napi.h>

namespace ss {
// Registers the Capture class (one camera or push source) and monotonicNs().
void InitCapture(Napi::Env env, Napi::Object exports);
}  // namespace ss
