// ValueList: the elements of a list value, and the arguments of a request.
//
// A contiguous array with the parts of std::vector<Value>'s interface that the code uses, which
// also keeps room in front of its first element: inserting or erasing at either end is amortized
// O(1), where a std::vector moves every element for a change at the front (LPUSH, LPOP on a long
// list were O(length)). Elements move between slots by memmove: a Value holds no pointer into
// itself, so its 16 bytes may be relocated (value.h). Included by value.h, which defines the
// members that need Value complete.
#ifndef DATABRIDGE_CORE_VALUE_LIST_H_
#define DATABRIDGE_CORE_VALUE_LIST_H_

#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <type_traits>

namespace dbkv {

class Value;

class ValueList {
 public:
  using value_type = Value;
  using size_type = size_t;
  using difference_type = std::ptrdiff_t;
  using reference = Value&;
  using const_reference = const Value&;
  using pointer = Value*;
  using const_pointer = const Value*;
  using iterator = Value*;
  using const_iterator = const Value*;
  using reverse_iterator = std::reverse_iterator<iterator>;
  using const_reverse_iterator = std::reverse_iterator<const_iterator>;

  ValueList() noexcept = default;
  ValueList(std::initializer_list<Value> init);
  // n nulls; n copies of v.
  explicit ValueList(size_t n);
  ValueList(size_t n, const Value& v);
  template <class It, class = typename std::iterator_traits<It>::iterator_category>
  ValueList(It first, It last);
  ValueList(const ValueList& o);
  ValueList(ValueList&& o) noexcept { swap(o); }
  ValueList& operator=(const ValueList& o);
  ValueList& operator=(ValueList&& o) noexcept;
  ~ValueList();

  // (Defined in value.h, where Value is complete.)
  iterator begin() noexcept;
  iterator end() noexcept;
  const_iterator begin() const noexcept;
  const_iterator end() const noexcept;
  const_iterator cbegin() const noexcept { return begin(); }
  const_iterator cend() const noexcept { return end(); }
  reverse_iterator rbegin() noexcept { return reverse_iterator(end()); }
  reverse_iterator rend() noexcept { return reverse_iterator(begin()); }
  const_reverse_iterator rbegin() const noexcept { return const_reverse_iterator(end()); }
  const_reverse_iterator rend() const noexcept { return const_reverse_iterator(begin()); }

  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  // Slots allocated, the room at both ends included (what the list costs in memory).
  size_t capacity() const noexcept { return cap_; }
  Value* data() noexcept { return begin(); }
  const Value* data() const noexcept { return begin(); }
  Value& operator[](size_t i) noexcept;
  const Value& operator[](size_t i) const noexcept;
  Value& front() noexcept { return *begin(); }
  const Value& front() const noexcept { return *begin(); }
  Value& back() noexcept;
  const Value& back() const noexcept;

  // Room for n elements without reallocating, counted from the first element.
  void reserve(size_t n);
  void clear() noexcept;
  // Shrinks, or grows with nulls.
  void resize(size_t n);
  void push_back(const Value& v);
  void push_back(Value&& v);
  template <class... Args>
  Value& emplace_back(Args&&... args);
  void pop_back() noexcept;

  iterator insert(const_iterator pos, const Value& v);
  iterator insert(const_iterator pos, size_t n, const Value& v);
  iterator insert(const_iterator pos, Value&& v);
  // [first, last): forward iterators, not into this list.
  template <class It, class = typename std::iterator_traits<It>::iterator_category>
  iterator insert(const_iterator pos, It first, It last);
  iterator erase(const_iterator pos) noexcept;
  iterator erase(const_iterator first, const_iterator last) noexcept;

  // Replaces the elements with [first, last) (forward iterators, not into this list).
  template <class It, class = typename std::iterator_traits<It>::iterator_category>
  void assign(It first, It last) {
    clear();
    insert(end(), first, last);
  }

  void swap(ValueList& o) noexcept;
  bool operator==(const ValueList& o) const;
  bool operator!=(const ValueList& o) const { return !(*this == o); }

 private:
  // Makes n slots at index `at` (0 to size()): the elements on the shorter side move into the
  // room at their end if it has enough, else the list is laid out again (see value_list.cc).
  // The n slots hold nulls.
  Value* OpenGap(size_t at, size_t n);
  // Moves the elements to a new block of new_cap slots, the first at new_head, leaving n null
  // slots at `at`.
  void Relayout(size_t new_cap, size_t new_head, size_t at, size_t n);

  Value* buf_ = nullptr;
  size_t cap_ = 0;   // slots in buf_
  size_t head_ = 0;  // index of the first element in buf_
  size_t size_ = 0;
};

}  // namespace dbkv

#endif  // DATABRIDGE_CORE_VALUE_LIST_H_
