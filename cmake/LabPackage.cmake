# The installed CMake package: find_package(lab) gives lab::core, lab::lab and lab_add_plugin(), so a
# plugin can be built in another repository against an installed lab.
include(CMakePackageConfigHelpers)

set(LAB_PACKAGE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/lab")
set(LAB_INSTALL_PLUGIN_DIR "${CMAKE_INSTALL_LIBDIR}/lab/plugins")
set(LAB_BOOST_MIN_VERSION 1.74)
file(STRINGS "${PROJECT_SOURCE_DIR}/framework/include/lab/plugin.hpp" abi_line
  REGEX "^#define LAB_PLUGIN_ABI_VERSION [0-9]+")
string(REGEX REPLACE ".* ([0-9]+)$" "\\1" LAB_PLUGIN_ABI_VERSION "${abi_line}")

install(EXPORT labTargets NAMESPACE lab:: FILE labTargets.cmake DESTINATION "${LAB_PACKAGE_DIR}")
configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/labConfig.cmake.in"
  "${CMAKE_BINARY_DIR}/package/labConfig.cmake"
  INSTALL_DESTINATION "${LAB_PACKAGE_DIR}"
  PATH_VARS LAB_INSTALL_PLUGIN_DIR)
# The plugin ABI may change between minor versions while lab is 0.x.
write_basic_package_version_file("${CMAKE_BINARY_DIR}/package/labConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_BINARY_DIR}/package/labConfig.cmake" "${CMAKE_BINARY_DIR}/package/labConfigVersion.cmake"
  "${CMAKE_CURRENT_LIST_DIR}/LabPlugin.cmake"
  DESTINATION "${LAB_PACKAGE_DIR}")
