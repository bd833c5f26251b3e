# lab_add_plugin(NAME SOURCES src...): builds lab_plugin_NAME.so, loadable by lab's plugin loader.
function(lab_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  set(target lab_plugin_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE lab::core)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "lab_plugin_${name}"
    LIBRARY_OUTPUT_DIRECTORY "${LAB_PLUGIN_OUTPUT_DIR}"
    CXX_VISIBILITY_PRESET hidden)
  if(TARGET lab_core AND NOT LAB_NO_PCH)
    target_precompile_headers(${target} REUSE_FROM lab_core)
  endif()
  set_property(GLOBAL APPEND PROPERTY LAB_PLUGIN_TARGETS ${target})
  install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/lab/plugins)
endfunction()
