// ConnectionLimiter: which limit refuses, that a refusal leaves nothing behind, that every way a slot ends
// (release, move, destruction) gives its place back exactly once, and that threads sharing it agree.
#include "common/connection_limiter.h"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace livegate;

using Refusal = ConnectionLimiter::Refusal;

TEST_CASE("connection limiter: the total limit refuses with Refusal::total, whatever the address") {
  ConnectionLimiter limiter(2, 10);
  Refusal r = Refusal::per_ip;
  auto a = limiter.acquire("10.0.0.1", r);
  CHECK(a);
  CHECK(r == Refusal::none);
  auto b = limiter.acquire("10.0.0.2", r);
  CHECK(b);
  CHECK(r == Refusal::none);
  CHECK(limiter.total() == 2);
  CHECK(limiter.addresses() == 2);

  auto c = limiter.acquire("10.0.0.3", r);
  CHECK_FALSE(c);
  CHECK(r == Refusal::total);
  auto d = limiter.acquire("10.0.0.1", r);  // an address that already has one: still the total
  CHECK_FALSE(d);
  CHECK(r == Refusal::total);
  // The refused address got no entry, and the counts did not move.
  CHECK(limiter.total() == 2);
  CHECK(limiter.addresses() == 2);

  a.release();
  auto e = limiter.acquire("10.0.0.3", r);
  CHECK(e);
  CHECK(r == Refusal::none);
  CHECK(limiter.total() == 2);
  CHECK(limiter.addresses() == 2);  // .1 went, .3 came
}

TEST_CASE(
    "connection limiter: the per-address limit refuses with Refusal::per_ip, other addresses still pass") {
  ConnectionLimiter limiter(10, 2);
  Refusal r = Refusal::none;
  auto a1 = limiter.acquire("192.0.2.7", r);
  auto a2 = limiter.acquire("192.0.2.7", r);
  REQUIRE(a1);
  REQUIRE(a2);
  auto a3 = limiter.acquire("192.0.2.7", r);
  CHECK_FALSE(a3);
  CHECK(r == Refusal::per_ip);
  CHECK(limiter.total() == 2);
  CHECK(limiter.addresses() == 1);

  auto b = limiter.acquire("192.0.2.8", r);
  CHECK(b);
  CHECK(r == Refusal::none);  // a refusal does not stick to the next call
  CHECK(limiter.addresses() == 2);

  a1.release();
  auto a4 = limiter.acquire("192.0.2.7", r);
  CHECK(a4);
  CHECK(r == Refusal::none);
  CHECK(limiter.total() == 3);
}

TEST_CASE("connection limiter: a refused acquire leaves no address entry behind") {
  ConnectionLimiter full(0, 5);
  Refusal r = Refusal::none;
  for (int i = 0; i < 3; ++i) {
    auto s = full.acquire("198.51.100." + std::to_string(i), r);
    CHECK_FALSE(s);
    CHECK(r == Refusal::total);
  }
  CHECK(full.total() == 0);
  CHECK(full.addresses() == 0);

  // A per-address refusal counts nothing either: once the one slot goes, the address is gone.
  ConnectionLimiter one_per_ip(5, 1);
  auto held = one_per_ip.acquire("198.51.100.1", r);
  REQUIRE(held);
  for (int i = 0; i < 3; ++i) {
    auto s = one_per_ip.acquire("198.51.100.1", r);
    CHECK_FALSE(s);
    CHECK(r == Refusal::per_ip);
  }
  CHECK(one_per_ip.total() == 1);
  CHECK(one_per_ip.addresses() == 1);
  held.release();
  CHECK(one_per_ip.total() == 0);
  CHECK(one_per_ip.addresses() == 0);
}

TEST_CASE("connection limiter: released, moved-from and destroyed slots give their place back exactly once") {
  ConnectionLimiter limiter(3, 3);
  Refusal r = Refusal::none;

  SUBCASE("release, then release again and destroy") {
    auto s = limiter.acquire("a", r);
    auto keep = limiter.acquire("a", r);
    REQUIRE(s);
    s.release();
    CHECK_FALSE(s);
    CHECK(limiter.total() == 1);
    s.release();  // nothing more to give back
    CHECK(limiter.total() == 1);
    CHECK(limiter.addresses() == 1);
  }
  SUBCASE("move construction: the moved-from slot gives nothing back") {
    auto keep = limiter.acquire("a", r);
    std::optional<ConnectionLimiter::Slot> from(limiter.acquire("a", r));
    REQUIRE(*from);
    ConnectionLimiter::Slot to(std::move(*from));
    CHECK(to);
    CHECK_FALSE(*from);
    from.reset();  // destroying the moved-from slot
    CHECK(limiter.total() == 2);
    to.release();
    CHECK(limiter.total() == 1);
    CHECK(limiter.addresses() == 1);
  }
  SUBCASE("move assignment releases the target's own place, once") {
    auto keep = limiter.acquire("keep", r);
    auto target = limiter.acquire("old", r);
    auto source = limiter.acquire("new", r);
    REQUIRE(limiter.total() == 3);
    target = std::move(source);
    CHECK(target);
    CHECK_FALSE(source);
    CHECK(limiter.total() == 2);
    CHECK(limiter.addresses() == 2);         // "old" is gone
    auto again = limiter.acquire("old", r);  // its place is free again
    CHECK(again);
    again.release();
    target.release();
    CHECK(limiter.total() == 1);
    CHECK(limiter.addresses() == 1);  // "new" went with the moved slot
  }
  SUBCASE("self move assignment keeps the place") {
    auto keep = limiter.acquire("a", r);
    auto s = limiter.acquire("a", r);
    auto& alias = s;
    s = std::move(alias);
    CHECK(s);
    CHECK(limiter.total() == 2);
  }
  SUBCASE("destruction in a container") {
    auto keep = limiter.acquire("a", r);
    {
      std::vector<ConnectionLimiter::Slot> slots;
      slots.push_back(limiter.acquire("b", r));
      slots.push_back(limiter.acquire("b", r));  // the vector moves the first when it grows
      CHECK(limiter.total() == 3);
      CHECK(limiter.addresses() == 2);
    }
    CHECK(limiter.total() == 1);
    CHECK(limiter.addresses() == 1);
  }
  // Whatever the subcase kept, it went at its end.
  CHECK(limiter.total() == 0);
  CHECK(limiter.addresses() == 0);
}

TEST_CASE("connection limiter: a default slot is empty and releasing it is harmless") {
  ConnectionLimiter limiter(1, 1);
  ConnectionLimiter::Slot s;
  CHECK_FALSE(s);
  s.release();
  CHECK(limiter.total() == 0);
  Refusal r = Refusal::none;
  s = limiter.acquire("x", r);
  CHECK(s);
  CHECK(limiter.total() == 1);
  s = ConnectionLimiter::Slot();  // assigning an empty slot gives the place back
  CHECK(limiter.total() == 0);
  CHECK(limiter.addresses() == 0);
}

TEST_CASE("connection limiter: four threads acquiring and releasing end with an empty table") {
  constexpr uint32_t kMaxTotal = 6;
  constexpr uint32_t kMaxPerIp = 2;
  ConnectionLimiter limiter(kMaxTotal, kMaxPerIp);
  std::vector<std::thread> threads;
  std::vector<int> granted(4, 0), over_limit(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<ConnectionLimiter::Slot> held;
      for (int i = 0; i < 20000; ++i) {
        Refusal r = Refusal::none;
        // Three addresses shared by every thread, so per-address counts contend as well.
        auto s = limiter.acquire("203.0.113." + std::to_string((i + t) % 3), r);
        if (s) {
          ++granted[t];
          if (r != Refusal::none) ++over_limit[t];
          held.push_back(std::move(s));
        } else {
          if (r == Refusal::none) ++over_limit[t];  // a refusal always names its limit
        }
        if (limiter.total() > kMaxTotal) ++over_limit[t];
        // Give some back, in an order other than taken, now and then.
        if (held.size() > 2 || i % 7 == 0) {
          if (!held.empty()) held.erase(held.begin() + static_cast<ptrdiff_t>(i % held.size()));
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  // Which thread gets how many is up to the scheduler; the limits and the refusals' reasons are not.
  int total_granted = 0;
  for (int t = 0; t < 4; ++t) {
    CAPTURE(t);
    CHECK(over_limit[t] == 0);
    total_granted += granted[t];
  }
  CHECK(total_granted > 0);
  CHECK(limiter.total() == 0);
  CHECK(limiter.addresses() == 0);
}
