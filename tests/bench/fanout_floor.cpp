// fanout_floor: what the kernel alone allows for an LL-HLS fan-out on this machine. One thread hands
// --bytes to each of --viewers loopback TCP sockets in a burst (plain write(), as a server does), every
// --interval-ms, while a child process reads every socket as fast as it can; it reports, per socket and
// burst, the time from the burst's start to that socket's write returning ("handed"), and the time until
// the last byte of the burst was written. No server code is involved: this is the floor the bench's
// `ll_players` part compares livegate's held-answer histogram with. `--mode sendfile` sends from a memfd
// with sendfile() instead, to see whether skipping the sender's copy would help.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

struct Options {
  int viewers = 1000;
  size_t bytes = 128 << 10;
  int bursts = 30;
  int interval_ms = 333;
  bool use_sendfile = false;
  std::string report_path;
};

class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

void set_nonblocking(int fd) {
  if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) die("fcntl");
}

// The child: connects every viewer, then reads and discards until the parent closes them all.
[[noreturn]] void read_all(const sockaddr_in& addr, int viewers) {
  Fd ep(::epoll_create1(0));
  std::vector<Fd> socks;
  for (int i = 0; i < viewers; ++i) {
    Fd s(::socket(AF_INET, SOCK_STREAM, 0));
    if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0) die("connect");
    set_nonblocking(s.get());
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.fd = s.get();
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, s.get(), &e) < 0) die("epoll_ctl");
    socks.push_back(std::move(s));
  }
  std::vector<char> buf(256 << 10);
  std::vector<epoll_event> events(256);
  for (int open = viewers; open > 0;) {
    const int n = ::epoll_wait(ep.get(), events.data(), int(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      for (;;) {
        const ssize_t r = ::read(events[i].data.fd, buf.data(), buf.size());
        if (r > 0) continue;
        if (r == 0) {
          ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, events[i].data.fd, nullptr);
          --open;
        }
        break;
      }
    }
  }
  std::_Exit(0);
}

nlohmann::json percentiles(std::vector<double> v) {
  if (v.empty()) return nullptr;
  std::sort(v.begin(), v.end());
  const auto at = [&](double q) { return v[std::min(v.size() - 1, size_t(q * double(v.size())))]; };
  return {{"p50", at(0.50)}, {"p90", at(0.90)}, {"p99", at(0.99)}, {"max", v.back()}};
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--viewers")
      o.viewers = std::atoi(v.c_str());
    else if (a == "--bytes")
      o.bytes = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--bursts")
      o.bursts = std::atoi(v.c_str());
    else if (a == "--interval-ms")
      o.interval_ms = std::atoi(v.c_str());
    else if (a == "--report")
      o.report_path = v;
    else if (a == "--mode" && (v == "write" || v == "sendfile"))
      o.use_sendfile = v == "sendfile";
    else
      return false;
  }
  return argc % 2 == 1 && o.viewers > 0 && o.bytes > 0 && o.bursts > 0 && o.interval_ms > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: fanout_floor [--viewers N] [--bytes B] [--bursts K] [--interval-ms MS] "
                 "[--mode write|sendfile] [--report FILE]\n");
    return 2;
  }
  Fd listener(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) < 0 ||
      ::listen(listener.get(), 4096) < 0)
    die("listen");
  const pid_t child = ::fork();
  if (child < 0) die("fork");
  if (child == 0) read_all(addr, o.viewers);

  std::vector<Fd> socks;
  for (int i = 0; i < o.viewers; ++i) {
    Fd s(::accept(listener.get(), nullptr, nullptr));
    if (s.get() < 0) die("accept");
    set_nonblocking(s.get());
    socks.push_back(std::move(s));
  }
  Fd ep(::epoll_create1(0));
  for (int i = 0; i < o.viewers; ++i) {
    epoll_event e{};
    e.events = EPOLLOUT | EPOLLET;
    e.data.u32 = uint32_t(i);
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, socks[size_t(i)].get(), &e) < 0) die("epoll_ctl");
  }
  const std::vector<char> payload(o.bytes, 'x');
  Fd memfd(::memfd_create("part", 0));
  if (memfd.get() < 0 || ::write(memfd.get(), payload.data(), payload.size()) != ssize_t(payload.size()))
    die("memfd");
  std::vector<size_t> left(size_t(o.viewers));
  std::vector<double> handed, complete;
  uint64_t partial = 0;
  const auto send_rest = [&](size_t i) {
    while (left[i] > 0) {
      off_t at = off_t(o.bytes - left[i]);
      const ssize_t w = o.use_sendfile ? ::sendfile(socks[i].get(), memfd.get(), &at, left[i])
                                       : ::write(socks[i].get(), payload.data() + at, left[i]);
      if (w <= 0) return;
      left[i] -= size_t(w);
    }
  };
  for (int b = 0; b < o.bursts; ++b) {
    const double start = now_ms();
    size_t pending = 0;
    for (size_t i = 0; i < socks.size(); ++i) {
      left[i] = o.bytes;
      send_rest(i);
      handed.push_back(now_ms() - start);
      if (left[i] > 0) ++pending, ++partial;
    }
    std::vector<epoll_event> events(256);
    while (pending > 0) {
      const int n = ::epoll_wait(ep.get(), events.data(), int(events.size()), 1000);
      for (int k = 0; k < n; ++k) {
        const size_t i = events[size_t(k)].data.u32;
        if (left[i] == 0) continue;
        send_rest(i);
        if (left[i] == 0) --pending;
      }
    }
    complete.push_back(now_ms() - start);
    const double rest = o.interval_ms - (now_ms() - start);
    if (rest > 0) std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(rest));
  }
  socks.clear();
  ::waitpid(child, nullptr, 0);
  const nlohmann::json report = {{"mode", o.use_sendfile ? "sendfile" : "write"},
                                 {"viewers", o.viewers},
                                 {"bytes", o.bytes},
                                 {"bursts", o.bursts},
                                 {"interval_ms", o.interval_ms},
                                 {"handed_ms", percentiles(handed)},
                                 {"complete_ms", percentiles(complete)},
                                 {"partial_writes", partial}};
  std::fprintf(stderr, "fanout_floor: %s\n", report.dump().c_str());
  if (!o.report_path.empty()) std::ofstream(o.report_path) << report.dump(1) << "\n";
  return 0;
}
