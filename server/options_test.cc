#include "server/options.h"

#include <catch2/catch.hpp>
