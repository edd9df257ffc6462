// Registration only: each area registers its functions and classes.
#include <napi.h>

#include "pixel-binding.h"
#include "sd-notify.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ss::InitPixel(env, exports);
  exports.Set("sdNotify", Napi::Function::New(env, ss::SdNotify, "sdNotify"));
  return exports;
}

}  // namespace

NODE_API_MODULE(smartscope, Init)
