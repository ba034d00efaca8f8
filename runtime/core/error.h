// Error handling for sworn: every fallible function returns Result<T>, an
// std::expected carrying an Error with a code, the errno (if a syscall failed)
// and a context string that names the syscall and the path or field involved.
//
//   Result<UniqueFd> OpenDir(const std::string& p) {
//     int fd = open(p.c_str(), O_DIRECTORY | O_CLOEXEC);
//     if (fd < 0) return Fail(SysError("open", p));
//     return UniqueFd(fd);
//   }
//   auto fd = SWORN_TRY(OpenDir(path));            // propagate
//   SWORN_TRY(WithContext(DoThing(), "joining cgroup"));
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <string_view>

namespace sworn {

enum class Errc {
  kInvalidArgument,  // bad user input: config field, flag, id, signal
  kNotFound,         // container, file or path that does not exist
  kAlreadyExists,    // container id taken
  kBadState,         // operation not valid in the container's current status
  kSystem,           // a syscall failed; sys_errno says why
  kUnsupported,      // the kernel or host cannot do what was asked
  kTimeout,
};

struct Error {
  Errc code = Errc::kSystem;
  int sys_errno = 0;
  std::string context;

  // "context: strerror" for syscall errors, "context" otherwise.
  std::string Message() const;
};

// Error for a failed syscall: uses the current errno.
Error SysError(std::string_view call, std::string_view path = {});
Error SysError(int err, std::string_view call, std::string_view path = {});
Error MakeError(Errc code, std::string context);
// Convenience: an invalid-argument error naming a config field.
Error FieldError(std::string_view field, std::string_view what);

template <class T = void>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> Fail(Error e) { return std::unexpected(std::move(e)); }

// Prefixes the error's context: "joining cgroup: open /sys/...: EACCES".
template <class T>
Result<T> WithContext(Result<T> r, std::string_view prefix) {
  if (!r) r.error().context = std::string(prefix) + ": " + r.error().context;
  return r;
}

const char* ErrcName(Errc c);

}  // namespace sworn

// Evaluates a Result expression; returns its error from the enclosing function,
// or yields its value (void for Result<void>).
#define SWORN_TRY(...)                                                  \
  ({                                                                    \
    auto _sworn_r = (__VA_ARGS__);                                      \
    if (!_sworn_r) return std::unexpected(std::move(_sworn_r.error())); \
    std::move(_sworn_r).value();                                        \
  })
