#include "run/export_onnx.hpp"

#include "onnx/lower_model.hpp"
#include "onnx/proto_graph.hpp"
#include "run/files.hpp"

#include <lab/error.hpp>

namespace lab {

namespace fs = std::filesystem;

namespace {

OnnxPluginNames plugin_names(const Config& c) {
  return {c.attention.plugin, c.kernel.plugin, c.rope.plugin, c.sparse.plugin, c.router.plugin};
}

}  // namespace

void export_onnx(const LoadedRun& run, const fs::path& out_dir) {
  const fs::path tokenizer = run.dir / "tokenizer.model";
  if (!fs::exists(tokenizer)) throw InputError(run.dir.string() + ": has no tokenizer.model to export");
  // The whole graph is built in memory first: a plugin that cannot be exported leaves no file behind.
  ProtoGraph graph(run.config.experiment + "/" + run.config.variant, run.config.dims.seq_len);
  LanguageModel model = run.model;
  auto logits = model->export_onnx(graph, graph.add_token_input("tokens"), plugin_names(run.config));
  graph.add_output(logits, "logits", run.config.dims.vocab_size);
  const std::string bytes = graph.serialize();

  fs::create_directories(out_dir);
  write_file_atomic(out_dir / "model.onnx", bytes);
  fs::copy_file(tokenizer, out_dir / "tokenizer.model", fs::copy_options::overwrite_existing);
}

}  // namespace lab
