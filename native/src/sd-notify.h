#pragma once
#include <napi.h>

namespace ss {
// sdNotify(state: string, socketPath?: string): boolean — sends one datagram to systemd's notification socket.
Napi::Value SdNotify(const Napi::CallbackInfo& info);
}  // namespace ss
