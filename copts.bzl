"""Compiler options of every C++ target of ours, in one place.

Third-party headers come from /usr/include, which the compiler treats as system headers, so
the warnings cover our code only. Beyond -Wall -Wextra, the cheap checks that cost nothing on
today's code and catch real mistakes. Tried and left out: -Wshadow (22 hits, every one a CAF
handler re-binding `st = self->state` inside a callback on purpose, none a bug) and
-Wnull-dereference (its hits are inside libstdc++ and Asio headers, after inlining).
"""

COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wnon-virtual-dtor",
    "-Woverloaded-virtual",
    "-Wformat=2",
    "-Wduplicated-cond",
    "-Wlogical-op",
]
