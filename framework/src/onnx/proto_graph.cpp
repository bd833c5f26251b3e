#include "onnx/proto_graph.hpp"

#include <lab/error.hpp>

#include <onnx/onnx_pb.h>
#include <torch/torch.h>

#include <climits>

namespace lab {

namespace {

constexpr int64_t kOpset = 17;
constexpr int64_t kIrVersion = 8;

void set_attribute(onnx::AttributeProto* a, const OnnxAttribute& attribute) {
  a->set_name(attribute.name);
  switch (attribute.kind) {
    case OnnxAttribute::Kind::Int:
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(attribute.i);
      break;
    case OnnxAttribute::Kind::Float:
      a->set_type(onnx::AttributeProto::FLOAT);
      a->set_f(static_cast<float>(attribute.f));
      break;
    case OnnxAttribute::Kind::Ints:
      a->set_type(onnx::AttributeProto::INTS);
      for (int64_t v : attribute.ints) a->add_ints(v);
      break;
  }
}

void set_dims(onnx::TensorShapeProto* shape, const std::vector<std::string>& symbolic, int64_t last) {
  for (const auto& name : symbolic) shape->add_dim()->set_dim_param(name);
  if (last > 0) shape->add_dim()->set_dim_value(last);
}

}  // namespace

ProtoGraph::ProtoGraph(const std::string& name, int64_t max_seq_len)
    : model_(std::make_unique<onnx::ModelProto>()), max_seq_len_(max_seq_len) {
  model_->set_ir_version(kIrVersion);
  model_->set_producer_name("lab");
  auto* opset = model_->add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  model_->mutable_graph()->set_name(name);
}

ProtoGraph::~ProtoGraph() = default;

std::string ProtoGraph::fresh(const std::string& hint) { return hint + "_" + std::to_string(counter_++); }

std::string ProtoGraph::constant(const torch::Tensor& value, const std::string& hint) {
  const bool integral = !value.is_floating_point() && value.scalar_type() != torch::kBool;
  auto data = value.detach().to(torch::kCPU, integral ? torch::kInt64 : torch::kFloat32).contiguous();
  auto* tensor = model_->mutable_graph()->add_initializer();
  tensor->set_name(fresh(hint));
  for (int64_t d : data.sizes()) tensor->add_dims(d);
  tensor->set_data_type(integral ? onnx::TensorProto::INT64 : onnx::TensorProto::FLOAT);
  tensor->set_raw_data(std::string(static_cast<const char*>(data.data_ptr()), data.nbytes()));
  return tensor->name();
}

std::vector<std::string> ProtoGraph::node(const std::string& op, const std::vector<std::string>& inputs,
                                          int outputs, const std::vector<OnnxAttribute>& attributes) {
  auto* n = model_->mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(fresh(op));
  for (const auto& input : inputs) n->add_input(input);
  std::vector<std::string> names;
  for (int i = 0; i < outputs; ++i) {
    names.push_back(n->name() + (outputs > 1 ? "_" + std::to_string(i) : ""));
    n->add_output(names.back());
  }
  for (const auto& attribute : attributes) set_attribute(n->add_attribute(), attribute);
  return names;
}

std::string ProtoGraph::shared(const std::string& key, const std::function<std::string()>& make) {
  auto it = shared_.find(key);
  if (it != shared_.end()) return it->second;
  std::string value = make();
  shared_[key] = value;
  return value;
}

std::string ProtoGraph::add_token_input(const std::string& name) {
  auto* input = model_->mutable_graph()->add_input();
  input->set_name(name);
  auto* type = input->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::INT64);
  set_dims(type->mutable_shape(), {"batch", "sequence"}, 0);
  return name;
}

void ProtoGraph::add_output(const std::string& value, const std::string& name, int64_t width) {
  auto* n = model_->mutable_graph()->add_node();
  n->set_op_type("Identity");
  n->set_name(fresh("Identity"));
  n->add_input(value);
  n->add_output(name);
  auto* output = model_->mutable_graph()->add_output();
  output->set_name(name);
  auto* type = output->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  set_dims(type->mutable_shape(), {"batch", "sequence"}, width);
}

std::string ProtoGraph::serialize() const {
  if (model_->ByteSizeLong() > static_cast<size_t>(INT_MAX))
    throw InputError("the ONNX model would be " + std::to_string(model_->ByteSizeLong() >> 20) +
                     " MiB, past protobuf's 2 GiB limit for one file");
  std::string bytes;
  model_->SerializeToString(&bytes);
  return bytes;
}

}  // namespace lab
