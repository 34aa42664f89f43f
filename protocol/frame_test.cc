#include <catch2/catch.hpp>

#include "protocol/frame.h"
