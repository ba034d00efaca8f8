// A minimal D-Bus client, enough to talk to systemd's manager: EXTERNAL
// authentication over a unix socket, method calls with the argument types
// systemd's unit API takes, and replies and signals read back. sworn is a
// static binary and libsystemd ships no static library, so this replaces
// sd-bus (runc uses godbus, a Go implementation, the same way).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fd.h"

namespace sworn::dbus {

// Marshals a message body (little endian), tracking alignment from the
// start of the body (bodies start 8-aligned, so offsets equal the wire's).
class Writer {
 public:
  void Byte(uint8_t v);
  void Bool(bool v);
  void U32(uint32_t v);
  void U64(uint64_t v);
  void Str(const std::string& v);  // also object paths
  void Sig(const std::string& v);
  // An array whose elements have alignment `align`; body writes them.
  void Array(size_t align, const std::function<void()>& body);
  void Struct(const std::function<void()>& body);
  // A variant holding one value of type `sig`, written by body.
  void Variant(const std::string& sig, const std::function<void()>& body);
  const std::string& data() const { return buf_; }
  void Pad(size_t align);

 private:
  std::string buf_;
};

// Reads values back from a body; every read fails cleanly past the end.
class Reader {
 public:
  explicit Reader(std::string data) : buf_(std::move(data)) {}
  Result<uint8_t> Byte();
  Result<uint32_t> U32();
  Result<uint64_t> U64();
  Result<std::string> Str();
  Result<std::string> Sig();
  // Skips a variant's value if it is not of type want; else reads it.
  Result<std::string> VariantStr();
  void Pad(size_t align);

 private:
  std::string buf_;
  size_t pos_ = 0;
};

struct Message {
  uint8_t type = 0;  // 1 call, 2 return, 3 error, 4 signal
  uint32_t serial = 0, reply_serial = 0;
  std::string path, interface, member, error_name, signature, body;
};

class Connection {
 public:
  // "unix:path=/run/systemd/private" (other transports are refused).
  static Result<Connection> Open(const std::string& address);
  // Sends a call; returns its serial.
  Result<uint32_t> Call(const std::string& dest, const std::string& path, const std::string& iface,
                        const std::string& member, const std::string& sig, const std::string& body);
  // Reads messages until the reply to serial (signals seen meanwhile go to
  // on_signal); an error reply becomes an Error naming member and the
  // D-Bus error. timeout_ms bounds the whole wait.
  Result<Message> Wait(uint32_t serial, const std::string& member, int timeout_ms,
                       const std::function<void(const Message&)>& on_signal = {});
  // Reads one message (timeout_ms; kTimeout when none came).
  Result<Message> Read(int timeout_ms);

 private:
  UniqueFd fd_;
  uint32_t serial_ = 0;
  std::string in_;
};

}  // namespace sworn::dbus
