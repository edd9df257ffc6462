// Registration only: each area registers its functions and classes.
#include <napi.h>

#include "pixel-binding.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ss::InitPixel(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(smartscope, Init)
