// Registration only: each area registers its functions and classes.
#include <napi.h>

#include "capture.h"
#include "pixel-binding.h"
#include "v4l2-format.h"
#include "sd-notify.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ss::InitPixel(env, exports);
  ss::InitCapture(env, exports);
  exports.Set("v4l2Unpack", Napi::Function::New(env, ss::V4l2UnpackFn, "v4l2Unpack"));
  exports.Set("sdNotify", Napi::Function::New(env, ss::SdNotify, "sdNotify"));
  Napi::Object features = Napi::Object::New(env);
#ifdef SMARTSCOPE_HAVE_ARAVIS
  features.Set("aravis", true);
#else
  features.Set("aravis", false);
#endif
#ifdef SMARTSCOPE_HAVE_V4L2
  features.Set("v4l2", true);
#else
  features.Set("v4l2", false);
#endif
  exports.Set("features", features);
  return exports;
}

}  // namespace

NODE_API_MODULE(smartscope, Init)
