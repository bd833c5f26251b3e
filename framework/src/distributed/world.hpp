// Where this process stands in a data-parallel run, read from torchrun's environment variables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace lab {

struct World {
  int rank = 0;             // RANK: this process among all
  int size = 1;             // WORLD_SIZE
  int local_rank = 0;       // LOCAL_RANK: this process among those on its machine
  int local_size = 1;       // LOCAL_WORLD_SIZE
  std::string master_addr;  // MASTER_ADDR: where rank 0 serves the rendezvous
  int master_port = 0;      // MASTER_PORT
  bool is_root() const { return rank == 0; }
};

// The world the environment describes; std::nullopt when WORLD_SIZE is unset (a single process).
// Throws lab::InputError naming the variable when one is missing or malformed.
std::optional<World> world_from_environment();

}  // namespace lab
