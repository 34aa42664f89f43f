#include <catch2/catch.hpp>

#include "plugins/core_family.h"
