#include "core/value_list.h"

#include <catch2/catch.hpp>
#include <deque>
#include <random>
#include <string>

#include "core/value.h"

namespace dbkv {
namespace {

// Long enough to live on the heap (reference counted), so that a lost, doubled or torn element
// shows up (and leaks or double frees show under valgrind).
Value Long(int i) { return Value::String("element number " + std::to_string(i) + " of the test"); }

void CheckSame(const ValueList& l, const std::deque<int>& model) {
  REQUIRE(l.size() == model.size());
  CHECK(l.capacity() >= l.size());
  size_t i = 0;
  for (const Value& v : l) {
    REQUIRE(v == Long(model[i]));
    ++i;
  }
  if (!model.empty()) {
    CHECK(l.front() == Long(model.front()));
    CHECK(l.back() == Long(model.back()));
  }
}

TEST_CASE("ValueList: pushes and pops at both ends match a deque", "[value_list]") {
  std::mt19937 rng(12345);
  ValueList l;
  std::deque<int> model;
  int next = 0;
  for (int step = 0; step < 20000; ++step) {
    switch (rng() % 8) {
      case 0:
      case 1: {  // LPUSH a, b, c: c first
        const int n = 1 + static_cast<int>(rng() % 3);
        ValueList values;
        for (int k = 0; k < n; ++k) values.push_back(Long(next + k));
        l.insert(l.begin(), std::make_reverse_iterator(values.end()),
                 std::make_reverse_iterator(values.begin()));
        for (int k = 0; k < n; ++k) model.push_front(next + k);
        next += n;
        break;
      }
      case 2:
      case 3:
        l.push_back(Long(next));
        model.push_back(next++);
        break;
      case 4: {  // LPOP count
        const size_t n = std::min<size_t>(rng() % 4, model.size());
        l.erase(l.begin(), l.begin() + static_cast<std::ptrdiff_t>(n));
        model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(n));
        break;
      }
      case 5:
        if (!model.empty()) {
          l.pop_back();
          model.pop_back();
        }
        break;
      case 6:
        if (!model.empty()) {  // the middle
          const size_t at = rng() % model.size();
          l.insert(l.begin() + static_cast<std::ptrdiff_t>(at), Long(next));
          model.insert(model.begin() + static_cast<std::ptrdiff_t>(at), next++);
        }
        break;
      case 7:
        if (!model.empty()) {
          const size_t at = rng() % model.size();
          l.erase(l.begin() + static_cast<std::ptrdiff_t>(at));
          model.erase(model.begin() + static_cast<std::ptrdiff_t>(at));
        }
        break;
    }
    if (step % 97 == 0) CheckSame(l, model);
  }
  CheckSame(l, model);
  // Copies and moves keep the elements; the source of a move is left empty.
  ValueList copy = l;
  CheckSame(copy, model);
  ValueList moved = std::move(copy);
  CheckSame(moved, model);
  CHECK(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  CHECK(moved == l);
  l.clear();
  CHECK(l.empty());
  CHECK(moved != l);
}

TEST_CASE("ValueList: a queue at one end stays compact", "[value_list]") {
  // LPUSH + RPOP (and RPUSH + LPOP) with a steady length: the block does not keep growing.
  for (bool left_push : {true, false}) {
    ValueList l;
    for (int i = 0; i < 1000; ++i) l.push_back(Long(i));
    size_t max_cap = 0;
    for (int i = 1000; i < 200000; ++i) {
      if (left_push) {
        l.insert(l.begin(), Long(i));
        l.pop_back();
      } else {
        l.push_back(Long(i));
        l.erase(l.begin());
      }
      max_cap = std::max(max_cap, l.capacity());
    }
    INFO((left_push ? "LPUSH/RPOP" : "RPUSH/LPOP") << ": capacity up to " << max_cap);
    CHECK(l.size() == 1000);
    CHECK(max_cap <= 4 * 1000 + 8);
    CHECK(l.front() == Long(left_push ? 199999 : 199000));
    CHECK(l.back() == Long(left_push ? 199000 : 199999));
  }
}

TEST_CASE("ValueList: front pushes cost no more than back pushes", "[value_list]") {
  // 200 000 pushes at the front: with a vector each would move every element (2e10 moves, far
  // beyond this test's time); here they are amortized O(1).
  ValueList l;
  for (int i = 0; i < 200000; ++i) l.insert(l.begin(), Value::Int(i));
  REQUIRE(l.size() == 200000);
  CHECK(l.front() == Value::Int(199999));
  CHECK(l.back() == Value::Int(0));
  CHECK(l.capacity() <= 2 * 200000 + 8);
}

TEST_CASE("ValueList: the vector operations the code uses", "[value_list]") {
  ValueList l(3);  // three nulls
  CHECK(l.size() == 3);
  CHECK(l[1].is_null());
  l.resize(5);
  CHECK(l.size() == 5);
  l.resize(1);
  CHECK(l.size() == 1);
  ValueList filled(4, Value::Int(7));
  CHECK(filled == ValueList({Value::Int(7), Value::Int(7), Value::Int(7), Value::Int(7)}));
  filled.insert(filled.begin() + 1, 2, Long(1));
  CHECK(filled.size() == 6);
  CHECK(filled[1] == Long(1));
  CHECK(filled[2] == Long(1));
  filled.assign(l.begin(), l.end());
  CHECK(filled == l);
  // Inserting one of the list's own elements, which the gap may move.
  ValueList self = {Long(1), Long(2), Long(3)};
  self.insert(self.begin(), self.back());
  self.insert(self.end(), self.front());
  CHECK(self == ValueList({Long(3), Long(1), Long(2), Long(3), Long(3)}));
  self.reserve(100);
  CHECK(self.capacity() >= 100);
  CHECK(self == ValueList({Long(3), Long(1), Long(2), Long(3), Long(3)}));
  ValueList other = {Value::Int(1)};
  self.swap(other);
  CHECK(self.size() == 1);
  CHECK(other.size() == 5);
  // Nested lists relocate like any value.
  ValueList outer;
  for (int i = 0; i < 50; ++i) outer.insert(outer.begin(), Value::List({Long(i), Value::Int(i)}));
  CHECK(outer.front() == Value::List({Long(49), Value::Int(49)}));
  CHECK(outer.back() == Value::List({Long(0), Value::Int(0)}));
  // emplace_back, reverse iteration.
  outer.emplace_back(Long(99));
  CHECK(*outer.rbegin() == Long(99));
}

}  // namespace
}  // namespace dbkv
