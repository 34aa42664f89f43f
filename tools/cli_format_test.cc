#include "tools/cli_format.h"

#include <catch2/catch.hpp>
