#include "distributed/world.hpp"

#include <lab/error.hpp>

#include <cstdlib>

namespace lab {

namespace {

std::optional<std::string> variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

int integer_variable(const char* name, int low, int high, std::optional<int> fallback = std::nullopt) {
  const auto text = variable(name);
  if (!text) {
    if (fallback) return *fallback;
    throw InputError(std::string("environment variable ") + name +
                     " is not set (data-parallel runs need RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT; "
                     "lab launch sets them)");
  }
  char* end = nullptr;
  const long value = std::strtol(text->c_str(), &end, 10);
  if (end == text->c_str() || *end != '\0' || value < low || value > high)
    throw InputError(std::string("environment variable ") + name + " = \"" + *text +
                     "\": expected an integer from " + std::to_string(low) + " to " + std::to_string(high));
  return static_cast<int>(value);
}

}  // namespace

std::optional<World> world_from_environment() {
  if (!variable("WORLD_SIZE")) return std::nullopt;
  World world;
  world.size = integer_variable("WORLD_SIZE", 1, 65536);
  world.rank = integer_variable("RANK", 0, world.size - 1);
  world.local_size = integer_variable("LOCAL_WORLD_SIZE", 1, world.size, 1);
  world.local_rank = integer_variable("LOCAL_RANK", 0, world.local_size - 1, world.rank % world.local_size);
  if (world.size == 1) return world;
  const auto addr = variable("MASTER_ADDR");
  if (!addr)
    throw InputError(
        "environment variable MASTER_ADDR is not set (the address of rank 0's machine; "
        "lab launch sets it)");
  world.master_addr = *addr;
  world.master_port = integer_variable("MASTER_PORT", 1, 65535);
  return world;
}

}  // namespace lab
