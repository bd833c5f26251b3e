# lab_add_plugin(NAME SOURCES src...): builds lab_plugin_NAME.so, a library lab's plugin loader accepts.
#
# Used by lab's own plugins and, through find_package(lab), by plugins in other repositories. The
# library links lab::core (LibTorch, Boost headers, toml++ and the framework's defines), compiles as
# C++17 with hidden visibility (only the LAB_PLUGIN entry point is exported), lands in
# LAB_PLUGIN_OUTPUT_DIR (default: <build>/plugins, a folder to pass to `lab --plugin-path`) and
# installs into <prefix>/<libdir>/lab/plugins, where an installed lab finds it without flags.
include_guard(GLOBAL)
include(GNUInstallDirs)

# Inside lab's own build a plugin (hidden visibility) reuses one precompiled LibTorch header: lab_core's
# with GCC; with clang, which refuses a header precompiled under another default visibility,
# lab_plugin_pch's (framework/CMakeLists.txt).
function(lab_reuse_plugin_pch target)
  if(TARGET lab_plugin_pch)
    target_precompile_headers(${target} REUSE_FROM lab_plugin_pch)
  elseif(TARGET lab_core AND NOT LAB_NO_PCH)
    target_precompile_headers(${target} REUSE_FROM lab_core)
  endif()
endfunction()

function(lab_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  if(NOT name MATCHES "^[A-Za-z0-9_]+$")
    message(FATAL_ERROR "lab_add_plugin: plugin name '${name}' must use only letters, digits and '_'")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "lab_add_plugin(${name}): unexpected arguments '${ARG_UNPARSED_ARGUMENTS}'")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "lab_add_plugin(${name}): no SOURCES given")
  endif()
  if(DEFINED LAB_PLUGIN_OUTPUT_DIR)
    set(output_dir "${LAB_PLUGIN_OUTPUT_DIR}")
  else()
    set(output_dir "${CMAKE_BINARY_DIR}/plugins")
  endif()

  set(target lab_plugin_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE lab::core)
  target_compile_features(${target} PRIVATE cxx_std_17)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "lab_plugin_${name}"
    LIBRARY_OUTPUT_DIRECTORY "${output_dir}"
    CXX_VISIBILITY_PRESET hidden
    # An installed plugin keeps finding a LibTorch outside the system paths.
    INSTALL_RPATH_USE_LINK_PATH ON)
  lab_reuse_plugin_pch(${target})
  set_property(GLOBAL APPEND PROPERTY LAB_PLUGIN_TARGETS ${target})
  install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/lab/plugins)
endfunction()
