#include <catch2/catch.hpp>

#include "protocol/value_codec.h"
