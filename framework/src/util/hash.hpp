// Stable hashes for cache keys and seeded orders (std::hash is not stable across builds).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lab {

constexpr uint64_t kFnvOffset = 1469598103934665603ULL;

// 64-bit FNV-1a; pass a previous result as `state` to hash several pieces as one.
inline uint64_t fnv1a64(std::string_view data, uint64_t state = kFnvOffset) {
  for (unsigned char c : data) {
    state ^= c;
    state *= 1099511628211ULL;
  }
  return state;
}

// splitmix64: decorrelates nearby seeds (seed, seed+1) before they seed a generator.
inline uint64_t mix_seed(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string hex64(uint64_t value);

}  // namespace lab
