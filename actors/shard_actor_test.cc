#include <catch2/catch.hpp>

#include "actors/shard_actor.h"
