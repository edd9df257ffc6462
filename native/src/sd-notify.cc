// sd_notify(3) without libsystemd: one datagram on the AF_UNIX socket named by $NOTIFY_SOCKET. A leading '@' names
// a socket in the abstract namespace (see sd_notify(3), "NOTIFY_SOCKET"). Node's dgram module has no unix datagram
// sockets, hence this.
#include "sd-notify.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "args.h"

namespace ss {

Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) ThrowType(env, "a string", "state", info[0]);
  std::string state = info[0].As<Napi::String>().Utf8Value();
  if (state.empty()) ThrowRange(env, "a non-empty string", "state", info[0]);
  std::string path;
  if (info[1].IsString()) {
    path = info[1].As<Napi::String>().Utf8Value();
  } else if (info[1].IsUndefined()) {
    const char* env_path = std::getenv("NOTIFY_SOCKET");
    if (env_path) path = env_path;
  } else {
    ThrowType(env, "a string", "socketPath", info[1]);
  }
  if (path.empty()) return Napi::Boolean::New(env, false);  // not started by systemd with Type=notify

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path) || (path[0] != '/' && path[0] != '@')) {
    ThrowRange(env, "an absolute path or an abstract name starting with @ (at most 107 bytes)", "NOTIFY_SOCKET",
               Napi::String::New(env, path));
  }
  memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    throw Napi::Error::New(env, "sd_notify: socket() failed: " + std::string(strerror(e)));
  }
  ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                        reinterpret_cast<sockaddr*>(&addr), len);
  int e = errno;
  close(fd);
  if (sent < 0) {
    Napi::Error err = Napi::Error::New(env, "sd_notify: sending to " + path + " failed: " + std::string(strerror(e)));
    err.Set("errno", Napi::Number::New(env, e));
    throw err;
  }
  return Napi::Boolean::New(env, true);
}

}  // namespace ss
