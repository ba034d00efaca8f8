#include "driver/exit_watcher.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <cerrno>

namespace sworn::driver {

ExitWatcher::ExitWatcher()
    : epoll_(epoll_create1(EPOLL_CLOEXEC)), wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_.get();
  epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
  thread_ = std::thread([this] { Run(); });
}

ExitWatcher::~ExitWatcher() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  (void)!eventfd_write(wake_.get(), 1);
  thread_.join();
}

void ExitWatcher::Add(int fd, std::function<void()> fn) {
  std::lock_guard l(mu_);
  watched_[fd] = std::move(fn);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.fd = fd;
  epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
}

void ExitWatcher::Remove(int fd) {
  std::lock_guard l(mu_);
  if (watched_.erase(fd)) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void ExitWatcher::Run() {
  epoll_event evs[16];
  for (;;) {
    int n = epoll_wait(epoll_.get(), evs, 16, -1);
    if (n < 0 && errno != EINTR) return;
    std::lock_guard l(mu_);
    if (stop_) return;
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      if (fd == wake_.get()) continue;
      auto it = watched_.find(fd);
      if (it == watched_.end()) continue;  // removed meanwhile
      auto fn = std::move(it->second);
      watched_.erase(it);
      epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
      fn();
    }
  }
}

}  // namespace sworn::driver
