#include "util/safetensors.hpp"

#include "run/files.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <iterator>

namespace lab {

namespace fs = std::filesystem;

namespace {

struct DtypeName {
  const char* name;
  torch::ScalarType type;
};

const DtypeName kDtypes[] = {
    {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
    {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
    {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
};

const char* dtype_name(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (d.type == type) return d.name;
  throw std::invalid_argument(std::string("safetensors cannot hold dtype ") + c10::toString(type));
}

}  // namespace

SafeTensors read_safetensors(const fs::path& file) {
  auto fail = [&](const std::string& what) { return InputError(file.string() + ": " + what); };
  std::ifstream in(file, std::ios::binary);
  if (!in) throw fail("cannot open");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 8) throw fail("not a safetensors file (shorter than its 8-byte header length)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[i]);
  if (header_len > bytes.size() - 8)
    throw fail("header length " + std::to_string(header_len) + " exceeds the file");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.substr(8, header_len));
  } catch (const nlohmann::json::exception& err) {
    throw fail(std::string("header is not valid JSON (") + err.what() + ")");
  }
  if (!header.is_object()) throw fail("header is not a JSON object");
  const size_t data_start = 8 + header_len;
  const size_t data_len = bytes.size() - data_start;

  SafeTensors out;
  for (const auto& item : header.items()) {
    const std::string& name = item.key();  // a plain reference: lambdas below capture it
    const auto& entry = item.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) throw fail("__metadata__ is not an object");
      for (const auto& [k, v] : entry.items())
        out.metadata[k] = v.is_string() ? v.get<std::string>() : v.dump();
      continue;
    }
    auto bad = [&](const std::string& what) { return fail("tensor '" + name + "': " + what); };
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets"))
      throw bad("needs dtype, shape and data_offsets");
    const std::string dtype = entry["dtype"].is_string() ? entry["dtype"].get<std::string>() : "";
    const DtypeName* found = nullptr;
    for (const auto& d : kDtypes)
      if (dtype == d.name) found = &d;
    if (!found) throw bad("unsupported dtype '" + dtype + "'");
    std::vector<int64_t> shape;
    int64_t numel = 1;
    for (const auto& s : entry["shape"]) {
      if (!s.is_number_integer() || s.get<int64_t>() < 0) throw bad("shape holds a non-dimension");
      shape.push_back(s.get<int64_t>());
      numel *= shape.back();
    }
    const auto& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      throw bad("data_offsets must be two non-negative integers");
    const size_t begin = offsets[0].get<size_t>(), end = offsets[1].get<size_t>();
    if (begin > end || end > data_len) throw bad("data_offsets lie outside the data");
    const size_t expected = static_cast<size_t>(numel) * c10::elementSize(found->type);
    if (end - begin != expected)
      throw bad("holds " + std::to_string(end - begin) + " bytes but its shape needs " +
                std::to_string(expected));
    torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(found->type));
    if (expected > 0) std::memcpy(t.data_ptr(), bytes.data() + data_start + begin, expected);
    out.tensors[name] = t;
  }
  return out;
}

void write_safetensors(const fs::path& file, const std::map<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  size_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    const size_t n = t.numel() * t.element_size();
    header[name] = {{"dtype", dtype_name(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + n}}};
    offset += n;
    data.push_back(t);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
  std::string out(8, '\0');
  uint64_t len = text.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  out += text;
  out.reserve(out.size() + offset);
  for (const auto& t : data) out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  write_file_atomic(file, out);
}

}  // namespace lab
