#include "cgroup/dbus.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace sworn::dbus {
namespace {

constexpr size_t kMaxMessage = 1 << 20;

Error Malformed(const std::string& what) { return MakeError(Errc::kSystem, "D-Bus: malformed message (" + what + ")"); }

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

Result<void> SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(SysError("send", "D-Bus socket"));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace

void Writer::Pad(size_t align) {
  while (buf_.size() % align) buf_.push_back('\0');
}
void Writer::Byte(uint8_t v) { buf_.push_back(static_cast<char>(v)); }
void Writer::Bool(bool v) { U32(v ? 1 : 0); }
void Writer::U32(uint32_t v) {
  Pad(4);
  buf_.append(reinterpret_cast<const char*>(&v), 4);
}
void Writer::U64(uint64_t v) {
  Pad(8);
  buf_.append(reinterpret_cast<const char*>(&v), 8);
}
void Writer::Str(const std::string& v) {
  U32(static_cast<uint32_t>(v.size()));
  buf_ += v;
  buf_.push_back('\0');
}
void Writer::Sig(const std::string& v) {
  Byte(static_cast<uint8_t>(v.size()));
  buf_ += v;
  buf_.push_back('\0');
}
void Writer::Array(size_t align, const std::function<void()>& body) {
  Pad(4);
  size_t len_at = buf_.size();
  buf_.append(4, '\0');
  Pad(align);
  size_t start = buf_.size();
  body();
  uint32_t len = static_cast<uint32_t>(buf_.size() - start);
  std::memcpy(&buf_[len_at], &len, 4);
}
void Writer::Struct(const std::function<void()>& body) {
  Pad(8);
  body();
}
void Writer::Variant(const std::string& sig, const std::function<void()>& body) {
  Sig(sig);
  body();
}

void Reader::Pad(size_t align) { pos_ = (pos_ + align - 1) / align * align; }
Result<uint8_t> Reader::Byte() {
  if (pos_ + 1 > buf_.size()) return Fail(Malformed("truncated"));
  return static_cast<uint8_t>(buf_[pos_++]);
}
Result<uint32_t> Reader::U32() {
  Pad(4);
  if (pos_ + 4 > buf_.size()) return Fail(Malformed("truncated"));
  uint32_t v;
  std::memcpy(&v, &buf_[pos_], 4);
  pos_ += 4;
  return v;
}
Result<uint64_t> Reader::U64() {
  Pad(8);
  if (pos_ + 8 > buf_.size()) return Fail(Malformed("truncated"));
  uint64_t v;
  std::memcpy(&v, &buf_[pos_], 8);
  pos_ += 8;
  return v;
}
Result<std::string> Reader::Str() {
  uint32_t n = SWORN_TRY(U32());
  if (pos_ + n + 1 > buf_.size()) return Fail(Malformed("string"));
  std::string s = buf_.substr(pos_, n);
  pos_ += n + 1;
  return s;
}
Result<std::string> Reader::Sig() {
  uint8_t n = SWORN_TRY(Byte());
  if (pos_ + n + 1 > buf_.size()) return Fail(Malformed("signature"));
  std::string s = buf_.substr(pos_, n);
  pos_ += n + 1;
  return s;
}
Result<std::string> Reader::VariantStr() {
  std::string sig = SWORN_TRY(Sig());
  if (sig == "s" || sig == "o") return Str();
  if (sig == "g") return Sig();
  if (sig == "u") return std::to_string(SWORN_TRY(U32()));
  return Fail(Malformed("variant of type " + sig));
}

namespace {

std::string Encode(uint8_t type, uint32_t serial, const std::vector<std::pair<uint8_t, std::pair<std::string, std::string>>>& fields,
                   const std::string& body) {
  Writer w;
  w.Byte('l');
  w.Byte(type);
  w.Byte(0);
  w.Byte(1);
  w.U32(static_cast<uint32_t>(body.size()));
  w.U32(serial);
  w.Array(8, [&] {
    for (const auto& [code, v] : fields)
      w.Struct([&] {
        w.Byte(code);
        w.Variant(v.first, [&] { v.first == "g" ? w.Sig(v.second) : w.Str(v.second); });
      });
  });
  w.Pad(8);
  return w.data() + body;
}

Result<Message> Decode(const std::string& raw) {
  Message m;
  m.type = static_cast<uint8_t>(raw[1]);
  std::memcpy(&m.serial, &raw[8], 4);
  uint32_t len;
  std::memcpy(&len, &raw[12], 4);
  size_t end = 16 + size_t{len};
  Reader f(raw.substr(0, end));
  for (int i = 0; i < 16; ++i) SWORN_TRY(f.Byte());
  while (true) {
    f.Pad(8);
    auto code = f.Byte();
    if (!code) break;
    std::string sig = SWORN_TRY(f.Sig());
    std::string v;
    if (sig == "u") {
      m.reply_serial = SWORN_TRY(f.U32());
      continue;
    }
    v = sig == "g" ? SWORN_TRY(f.Sig()) : SWORN_TRY(f.Str());
    switch (*code) {
      case 1: m.path = v; break;
      case 2: m.interface = v; break;
      case 3: m.member = v; break;
      case 4: m.error_name = v; break;
      case 8: m.signature = v; break;
      default: break;
    }
  }
  size_t body_at = (end + 7) / 8 * 8;
  m.body = raw.substr(body_at);
  return m;
}

}  // namespace

Result<Connection> Connection::Open(const std::string& address) {
  const std::string prefix = "unix:path=";
  if (address.rfind(prefix, 0) != 0)
    return Fail(MakeError(Errc::kUnsupported, "D-Bus address \"" + address + "\": only unix:path= is supported"));
  std::string path = address.substr(prefix.size());
  if (size_t comma = path.find(','); comma != std::string::npos) path.resize(comma);
  Connection c;
  c.fd_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!c.fd_) return Fail(SysError("socket", "AF_UNIX"));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof(sa.sun_path)) return Fail(MakeError(Errc::kInvalidArgument, "D-Bus path too long: " + path));
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  if (connect(c.fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) return Fail(SysError("connect", path));
  std::string uid = std::to_string(geteuid()), hex;
  for (char ch : uid) {
    char b[3];
    snprintf(b, sizeof(b), "%02x", static_cast<unsigned char>(ch));
    hex += b;
  }
  // BEGIN goes with AUTH, as sd-bus sends it: the first call then comes in
  // a read of its own (systemd 252's server may leave a message that came
  // in the same read as BEGIN unprocessed until more data arrives).
  SWORN_TRY(SendAll(c.fd_.get(), std::string(1, '\0') + "AUTH EXTERNAL " + hex + "\r\nBEGIN\r\n"));
  std::string line;
  int64_t deadline = NowMs() + 5000;
  while (line.find("\r\n") == std::string::npos) {
    pollfd p{c.fd_.get(), POLLIN, 0};
    int left = static_cast<int>(deadline - NowMs());
    if (left <= 0 || poll(&p, 1, left) <= 0) return Fail(MakeError(Errc::kTimeout, "D-Bus " + path + ": no answer to AUTH"));
    char buf[256];
    ssize_t n = recv(c.fd_.get(), buf, sizeof(buf), 0);
    if (n <= 0) return Fail(MakeError(Errc::kSystem, "D-Bus " + path + ": connection closed during AUTH"));
    line.append(buf, static_cast<size_t>(n));
  }
  if (line.rfind("OK ", 0) != 0)
    return Fail(MakeError(Errc::kSystem, "D-Bus " + path + ": EXTERNAL authentication refused: " + line.substr(0, line.find('\r'))));
  return c;
}

Result<uint32_t> Connection::Call(const std::string& dest, const std::string& path, const std::string& iface,
                                  const std::string& member, const std::string& sig, const std::string& body) {
  uint32_t serial = ++serial_;
  std::vector<std::pair<uint8_t, std::pair<std::string, std::string>>> fields = {
      {1, {"o", path}}, {2, {"s", iface}}, {3, {"s", member}}};
  if (!dest.empty()) fields.push_back({6, {"s", dest}});
  if (!sig.empty()) fields.push_back({8, {"g", sig}});
  SWORN_TRY(SendAll(fd_.get(), Encode(1, serial, fields, body)));
  return serial;
}

Result<Message> Connection::Read(int timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  while (true) {
    if (in_.size() >= 16) {
      if (in_[0] != 'l') return Fail(Malformed("big-endian messages are not supported"));
      uint32_t body_len, fields_len;
      std::memcpy(&body_len, &in_[4], 4);
      std::memcpy(&fields_len, &in_[12], 4);
      size_t total = (16 + size_t{fields_len} + 7) / 8 * 8 + body_len;
      if (total > kMaxMessage) return Fail(Malformed("too large"));
      if (in_.size() >= total) {
        std::string raw = in_.substr(0, total);
        in_.erase(0, total);
        return Decode(raw);
      }
    }
    pollfd p{fd_.get(), POLLIN, 0};
    int left = static_cast<int>(deadline - NowMs());
    if (left <= 0) return Fail(MakeError(Errc::kTimeout, "D-Bus: no message within " + std::to_string(timeout_ms) + " ms"));
    int r = poll(&p, 1, left);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Fail(SysError("poll", "D-Bus socket"));
    if (r == 0) continue;
    char buf[65536];
    ssize_t n = recv(fd_.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(SysError("recv", "D-Bus socket"));
    if (n == 0) return Fail(MakeError(Errc::kSystem, "D-Bus: connection closed"));
    in_.append(buf, static_cast<size_t>(n));
  }
}

Result<Message> Connection::Wait(uint32_t serial, const std::string& member, int timeout_ms,
                                 const std::function<void(const Message&)>& on_signal) {
  int64_t deadline = NowMs() + timeout_ms;
  bool nudged = false;
  while (true) {
    int left = static_cast<int>(deadline - NowMs());
    // A call still unanswered after a second gets a Ping behind it: new
    // data makes a server that sat on buffered bytes read them (above).
    int step = nudged ? left : std::min(left, 1000);
    auto m = WithContext(Read(step > 0 ? step : 0), "D-Bus " + member);
    if (!m && m.error().code == Errc::kTimeout && !nudged && NowMs() < deadline) {
      nudged = true;
      SWORN_TRY(Call("", "/", "org.freedesktop.DBus.Peer", "Ping", "", ""));
      continue;
    }
    if (!m) return m;
    if (m->type == 4 && on_signal) on_signal(*m);
    if ((m->type != 2 && m->type != 3) || m->reply_serial != serial) continue;
    if (m->type == 3) {
      Reader r(m->body);
      auto text = m->signature.rfind("s", 0) == 0 ? r.Str() : Result<std::string>(std::string());
      return Fail(MakeError(Errc::kSystem, "D-Bus " + member + ": " + m->error_name + ": " + text.value_or("")));
    }
    return m;
  }
}

}  // namespace sworn::dbus
