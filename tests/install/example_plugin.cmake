# cmake -P script behind the install.example_plugin test (arguments: see tests/install/CMakeLists.txt).
cmake_minimum_required(VERSION 3.22)

# run(NAME OUTPUT_VARIABLE command...): runs a step, fails the test with its output when it fails.
function(run step out_var)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "${step} failed (exit ${code}):\n${ARGN}\n${out}\n${err}")
  endif()
  set(${out_var} "${out}${err}" PARENT_SCOPE)
endfunction()

function(expect_contains text part what)
  string(FIND "${text}" "${part}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: expected to find '${part}' in:\n${text}")
  endif()
endfunction()

set(prefix "${WORK_DIR}/prefix")
set(example_build "${WORK_DIR}/example-build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# 1. Install this build into a prefix that is not the build tree.
run("cmake --install" out ${CMAKE_COMMAND} --install "${LAB_BUILD_DIR}" --prefix "${prefix}")
foreach(file bin/lab lib/liblab_core.so lib/lab_sentencepiece.so libexec/lab/lab_tokenizer_service lib/lab/plugins/lab_plugin_mha.so
    include/lab/plugin.hpp lib/cmake/lab/labConfig.cmake lib/cmake/lab/LabPlugin.cmake)
  if(NOT EXISTS "${prefix}/${file}")
    message(FATAL_ERROR "the install lacks ${file}")
  endif()
endforeach()

# 2. Configure and build the example in its own build tree against the installed package only.
set(launcher)
if(CCACHE)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${CCACHE})
endif()
run("configuring the example" out ${CMAKE_COMMAND} -S "${EXAMPLE_DIR}" -B "${example_build}" -G "${GENERATOR}"
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX_COMPILER} ${launcher})
run("building the example" out ${CMAKE_COMMAND} --build "${example_build}" --parallel 2)
set(plugin_dir "${example_build}/plugins")
if(NOT EXISTS "${plugin_dir}/lab_plugin_gqa.so")
  message(FATAL_ERROR "the example build produced no ${plugin_dir}/lab_plugin_gqa.so")
endif()

# 3. The installed program finds its own plugins in the prefix and the example on --plugin-path.
set(lab "${prefix}/bin/lab")
run("lab plugins" listing "${lab}" plugins --plugin-path "${plugin_dir}")
expect_contains("${listing}" "${prefix}/lib/lab/plugins/lab_plugin_mha.so" "lab plugins")
expect_contains("${listing}" "${plugin_dir}/lab_plugin_gqa.so" "lab plugins")
run("lab plugins gqa" keys "${lab}" plugins gqa --plugin-path "${plugin_dir}")
expect_contains("${keys}" "kv_heads" "lab plugins gqa")

# 4. Train a few steps of the example recipe on the small test corpus.
set(steps 4)
run("training with the example plugin" log "${lab}" --recipe "${EXAMPLE_DIR}/gqa.toml" --plugin-path "${plugin_dir}"
  --quiet
  --set "data.plugin=\"text\"" --set "data.path=\"${DATA_DIR}/tiny_text\"" --set "data.split=\"paragraph\""
  --set data.val_fraction=0.3 --set tokenizer.vocab_size=300 --set "tokenizer.cache_dir=\"${WORK_DIR}/cache\""
  --set model.d_model=32 --set model.n_heads=4 --set model.n_layers=1 --set model.seq_len=16
  --set moe.experts=2 --set moe.top_k=1 --set moe.d_ff=32 --set attention.kv_heads=2
  --set train.steps=${steps} --set train.batch_size=2 --set train.warmup_steps=1 --set eval.every=${steps}
  --set "run.dir=\"${WORK_DIR}/runs\"")

set(run_dir "${WORK_DIR}/runs/gqa_example/gqa-kv2/seed-42")
if(NOT EXISTS "${run_dir}/summary.json")
  message(FATAL_ERROR "the run left no ${run_dir}/summary.json:\n${log}")
endif()
file(READ "${run_dir}/summary.json" summary)
string(JSON attention GET "${summary}" plugins attention)
string(JSON done_steps GET "${summary}" steps)
string(JSON k_params GET "${summary}" parameters by_component attention.k_proj)
string(JSON q_params GET "${summary}" parameters by_component attention.q_proj)
string(JSON val_loss GET "${summary}" final val_loss)
if(NOT attention STREQUAL "gqa")
  message(FATAL_ERROR "summary.json names attention plugin '${attention}', expected 'gqa'")
endif()
if(NOT done_steps EQUAL steps)
  message(FATAL_ERROR "the run stopped after ${done_steps} of ${steps} steps")
endif()
# 2 of 4 heads for k: half of q's 32 x 32 weight in the one layer.
if(NOT q_params EQUAL 1024 OR NOT k_params EQUAL 512)
  message(FATAL_ERROR "attention.q_proj/k_proj have ${q_params}/${k_params} parameters, expected 1024/512")
endif()
# A finite loss prints as a plain number; NaN and infinity serialise as null.
if(NOT val_loss MATCHES "^[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$" OR val_loss LESS_EQUAL 0)
  message(FATAL_ERROR "final validation loss is not a finite positive number: '${val_loss}'")
endif()
file(READ "${run_dir}/recipe.resolved.toml" resolved)
expect_contains("${resolved}" "kv_heads = 2" "recipe.resolved.toml")
# 5. A project whose LibTorch differs from lab's is refused at configure time, naming both versions.
set(other "${WORK_DIR}/other-torch")
file(COPY "${prefix}/lib/cmake/lab" DESTINATION "${other}/lib/cmake")
file(MAKE_DIRECTORY "${other}/lib/lab/plugins")
file(READ "${other}/lib/cmake/lab/labConfig.cmake" config)
string(REGEX REPLACE "set\\(lab_TORCH_VERSION \"[^\"]*\"\\)" "set(lab_TORCH_VERSION \"0.0.1\")" config "${config}")
file(WRITE "${other}/lib/cmake/lab/labConfig.cmake" "${config}")
execute_process(COMMAND ${CMAKE_COMMAND} -S "${EXAMPLE_DIR}" -B "${WORK_DIR}/other-build" -G "${GENERATOR}"
  -DCMAKE_PREFIX_PATH=${other} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
  RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(code EQUAL 0)
  message(FATAL_ERROR "find_package(lab) accepted a LibTorch other than lab's")
endif()
expect_contains("${out}${err}" "lab was built against LibTorch 0.0.1,"
  "configuring against a lab built with another LibTorch")

message(STATUS "gqa plugin trained ${done_steps} steps from the installed lab; val loss ${val_loss}")
