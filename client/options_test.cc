#include "client/options.h"

#include <catch2/catch.hpp>
