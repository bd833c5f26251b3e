// CRC-32C (Castagnoli), the checksum TFRecord framing uses; Debian packages no library for it.
#pragma once

#include <cstdint>
#include <string_view>

namespace lab {

uint32_t crc32c(std::string_view data);

// TFRecord stores every CRC masked: a CRC of data that itself holds CRCs would otherwise be weak.
inline uint32_t masked_crc32c(std::string_view data) {
  const uint32_t crc = crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

}  // namespace lab
