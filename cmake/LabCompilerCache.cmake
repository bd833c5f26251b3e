# ccache, told to accept precompiled headers (LibTorch's headers dominate build time).
find_program(LAB_CCACHE ccache)
if(LAB_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER
      "${CMAKE_COMMAND};-E;env;CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime;CCACHE_BASEDIR=${CMAKE_SOURCE_DIR};${LAB_CCACHE}")
endif()
