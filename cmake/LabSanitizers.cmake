# LAB_SANITIZE: AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer on lab's own code,
# for every target (the program, lab_core, the plugins, the tokenizer service and the tests). LibTorch
# and the other system libraries stay uninstrumented. Used by the `sanitize` preset with clang.
option(LAB_SANITIZE "build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(LAB_SANITIZE)
  # vptr checks need RTTI-instrumented type information for LibTorch's classes, which Debian's build
  # lacks: they would report every LibTorch object. The rest of UBSan stays on and stops on the first error.
  set(LAB_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined
                          -fno-omit-frame-pointer)
  add_compile_options(${LAB_SANITIZER_FLAGS})
  add_link_options(-fsanitize=address,undefined)
  # Plugins and lab_core are shared objects whose ASan symbols come from the program's runtime.
  set(CMAKE_SHARED_LINKER_FLAGS "${CMAKE_SHARED_LINKER_FLAGS} -Wl,--allow-shlib-undefined")
endif()

# LAB_FUZZ: libFuzzer programs for fuzz/ (clang only). Everything is compiled with libFuzzer's coverage
# instrumentation, whose hooks the sanitizer runtime also provides, so the same build runs the tests.
option(LAB_FUZZ "build the libFuzzer programs of fuzz/ (clang)" OFF)
if(LAB_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LAB_FUZZ needs clang (libFuzzer); this is ${CMAKE_CXX_COMPILER_ID}")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
