// Writes a trained run as an ONNX model (opset 17, IR 8) with its tokenizer beside it.
#pragma once

#include "run/load_run.hpp"

#include <filesystem>

namespace lab {

// <out_dir>/model.onnx: tokens int64 [batch, sequence] -> logits float [batch, sequence, vocab], for
// sequences of 1 .. the run's training seq_len tokens; <out_dir>/tokenizer.model beside it. Throws
// lab::InputError, before writing anything, naming the plugin (or setting) that cannot be exported.
void export_onnx(const LoadedRun& run, const std::filesystem::path& out_dir);

}  // namespace lab
