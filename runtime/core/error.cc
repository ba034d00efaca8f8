#include "core/error.h"

#include <cstring>

namespace sworn {

std::string Error::Message() const {
  if (sys_errno == 0) return context;
  return context + ": " + std::strerror(sys_errno);
}

Error SysError(int err, std::string_view call, std::string_view path) {
  std::string ctx(call);
  if (!path.empty()) {
    ctx += ' ';
    ctx += path;
  }
  Errc code = err == ENOENT ? Errc::kNotFound : Errc::kSystem;
  return Error{code, err, std::move(ctx)};
}

Error SysError(std::string_view call, std::string_view path) { return SysError(errno, call, path); }

Error MakeError(Errc code, std::string context) { return Error{code, 0, std::move(context)}; }

Error FieldError(std::string_view field, std::string_view what) {
  return Error{Errc::kInvalidArgument, 0, std::string(field) + ": " + std::string(what)};
}

const char* ErrcName(Errc c) {
  switch (c) {
    case Errc::kInvalidArgument: return "invalid argument";
    case Errc::kNotFound: return "not found";
    case Errc::kAlreadyExists: return "already exists";
    case Errc::kBadState: return "bad state";
    case Errc::kSystem: return "system error";
    case Errc::kUnsupported: return "unsupported";
    case Errc::kTimeout: return "timeout";
  }
  return "error";
}

}  // namespace sworn
