#include <algorithm>
#include <cstring>
#include <new>

#include "core/value.h"

namespace dbkv {

namespace {

// Raw slots: Values are constructed in them with placement new and relocated with memmove.
Value* Allocate(size_t n) { return static_cast<Value*>(::operator new(n * sizeof(Value))); }

void Relocate(Value* to, const Value* from, size_t n) {
  if (n != 0)
    std::memmove(static_cast<void*>(to), static_cast<const void*>(from), n * sizeof(Value));
}

void FillNull(Value* at, size_t n) {
  for (size_t i = 0; i < n; ++i) new (at + i) Value();
}

}  // namespace

ValueList::ValueList(std::initializer_list<Value> init) { insert(end(), init.begin(), init.end()); }

ValueList::ValueList(const ValueList& o) { insert(end(), o.begin(), o.end()); }

ValueList::ValueList(size_t n) { resize(n); }

ValueList::ValueList(size_t n, const Value& v) { insert(end(), n, v); }

ValueList& ValueList::operator=(const ValueList& o) {
  if (this != &o) {
    ValueList copy(o);
    swap(copy);
  }
  return *this;
}

ValueList& ValueList::operator=(ValueList&& o) noexcept {
  if (this != &o) {
    ValueList taken(std::move(o));
    swap(taken);
  }
  return *this;
}

ValueList::~ValueList() {
  clear();
  ::operator delete(buf_);
}

void ValueList::swap(ValueList& o) noexcept {
  std::swap(buf_, o.buf_);
  std::swap(cap_, o.cap_);
  std::swap(head_, o.head_);
  std::swap(size_, o.size_);
}

void ValueList::clear() noexcept {
  for (size_t i = 0; i < size_; ++i) buf_[head_ + i].~Value();
  size_ = 0;
  head_ = 0;
}

void ValueList::reserve(size_t n) {
  if (n <= cap_ - head_) return;
  // The room after the elements, as std::vector::reserve gives.
  Relayout(n, 0, size_, 0);
}

void ValueList::resize(size_t n) {
  if (n < size_) {
    erase(begin() + n, end());
  } else if (n > size_) {
    OpenGap(size_, n - size_);
  }
}

void ValueList::push_back(const Value& v) { *OpenGap(size_, 1) = v; }

void ValueList::push_back(Value&& v) { *OpenGap(size_, 1) = std::move(v); }

void ValueList::pop_back() noexcept {
  buf_[head_ + size_ - 1].~Value();
  --size_;
  if (size_ == 0) head_ = 0;
}

ValueList::iterator ValueList::insert(const_iterator pos, const Value& v) {
  const size_t at = static_cast<size_t>(pos - begin());
  Value copy(v);  // v may be an element of this list
  *OpenGap(at, 1) = std::move(copy);
  return begin() + at;
}

ValueList::iterator ValueList::insert(const_iterator pos, size_t n, const Value& v) {
  const size_t at = static_cast<size_t>(pos - begin());
  if (n == 0) return begin() + at;
  // A copy, not a reference: v may be an element of this list, which OpenGap moves.
  Value copy(v);  // NOLINT(performance-unnecessary-copy-initialization)
  Value* slot = OpenGap(at, n);
  for (size_t i = 0; i < n; ++i) slot[i] = copy;
  return begin() + at;
}

ValueList::iterator ValueList::insert(const_iterator pos, Value&& v) {
  const size_t at = static_cast<size_t>(pos - begin());
  Value taken(std::move(v));
  *OpenGap(at, 1) = std::move(taken);
  return begin() + at;
}

ValueList::iterator ValueList::erase(const_iterator first, const_iterator last) noexcept {
  const size_t at = static_cast<size_t>(first - begin());
  const size_t n = static_cast<size_t>(last - first);
  if (n == 0) return begin() + at;
  for (size_t i = 0; i < n; ++i) buf_[head_ + at + i].~Value();
  const size_t after = size_ - at - n;
  if (at < after) {
    // Fewer elements before the range: they move up, and the front room grows.
    Relocate(buf_ + head_ + n, buf_ + head_, at);
    head_ += n;
  } else {
    Relocate(buf_ + head_ + at, buf_ + head_ + at + n, after);
  }
  size_ -= n;
  if (size_ == 0) head_ = 0;
  return begin() + at;
}

Value* ValueList::OpenGap(size_t at, size_t n) {
  const size_t after = size_ - at;
  if (at < after) {
    // Fewer elements before the gap: they move down into the front room, if it is enough.
    if (head_ >= n) {
      Relocate(buf_ + head_ - n, buf_ + head_, at);
      head_ -= n;
      size_ += n;
      FillNull(buf_ + head_ + at, n);
      return buf_ + head_ + at;
    }
  } else if (cap_ - head_ - size_ >= n) {
    // Fewer after it (none, for a push at the back): they move up into the back room.
    Relocate(buf_ + head_ + at + n, buf_ + head_ + at, after);
    size_ += n;
    FillNull(buf_ + head_ + at, n);
    return buf_ + head_ + at;
  }
  // Not enough room on the cheap side: lay the list out again, in the same block if at least
  // half of it stays free (the room is split between both ends), else in one twice the need.
  // Either way the next pushes at either end find room: amortized O(1).
  const size_t need = size_ + n;
  const size_t new_cap = cap_ >= 2 * need ? cap_ : std::max<size_t>(2 * need, 4);
  // A list that has only grown at its back keeps all its room there, as a vector would.
  const size_t new_head = (head_ == 0 && at == size_) ? 0 : (new_cap - need) / 2;
  Relayout(new_cap, new_head, at, n);
  return buf_ + head_ + at;
}

void ValueList::Relayout(size_t new_cap, size_t new_head, size_t at, size_t n) {
  Value* nb = Allocate(new_cap);
  Relocate(nb + new_head, buf_ + head_, at);
  Relocate(nb + new_head + at + n, buf_ + head_ + at, size_ - at);
  FillNull(nb + new_head + at, n);
  ::operator delete(buf_);
  buf_ = nb;
  cap_ = new_cap;
  head_ = new_head;
  size_ += n;
}

bool ValueList::operator==(const ValueList& o) const {
  return size_ == o.size_ && std::equal(begin(), end(), o.begin());
}

}  // namespace dbkv
