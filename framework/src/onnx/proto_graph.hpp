// OnnxGraph over ONNX's protobuf classes: nodes and initializers go straight into a ModelProto.
#pragma once

#include <lab/onnx_graph.hpp>

#include <map>
#include <memory>
#include <string>

namespace onnx {
class ModelProto;
}

namespace lab {

class ProtoGraph : public OnnxGraph {
 public:
  // A model of opset 17, IR version 8, serving sequences of up to `max_seq_len` tokens.
  ProtoGraph(const std::string& name, int64_t max_seq_len);
  ~ProtoGraph() override;

  std::string constant(const torch::Tensor& value, const std::string& hint) override;
  std::vector<std::string> node(const std::string& op, const std::vector<std::string>& inputs, int outputs,
                                const std::vector<OnnxAttribute>& attributes) override;
  int64_t max_seq_len() const override { return max_seq_len_; }
  std::string shared(const std::string& key, const std::function<std::string()>& make) override;

  // A graph input of int64 [batch, sequence]; a graph output of float [batch, sequence, width] made
  // from `value`.
  std::string add_token_input(const std::string& name);
  void add_output(const std::string& value, const std::string& name, int64_t width);
  // The serialized model; throws lab::InputError past protobuf's 2 GiB limit.
  std::string serialize() const;
  const onnx::ModelProto& model() const { return *model_; }

 private:
  std::string fresh(const std::string& hint);

  std::unique_ptr<onnx::ModelProto> model_;
  int64_t max_seq_len_;
  int64_t counter_ = 0;
  std::map<std::string, std::string> shared_;
};

}  // namespace lab
