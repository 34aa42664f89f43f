#include <catch2/catch.hpp>

#include "server/options.h"
