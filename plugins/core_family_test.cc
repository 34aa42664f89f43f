#include "plugins/core_family.h"

#include <catch2/catch.hpp>
