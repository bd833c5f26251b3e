// printf-style formatting of one number into a std::string, for tables and report lines.
#pragma once

#include <cstdio>
#include <string>

namespace lab {

inline std::string fmt(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

}  // namespace lab
