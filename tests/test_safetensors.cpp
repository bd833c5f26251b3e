// safetensors: round trip, the reference files' layout, and clear refusals of damaged files.
#include "test_support.hpp"
#include "util/safetensors.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

using namespace lab;
namespace fs = std::filesystem;

namespace {

std::string message_of(const fs::path& file) {
  try {
    read_safetensors(file);
  } catch (const InputError& err) {
    return err.what();
  }
  return "";
}

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary) << bytes;
}

std::string with_header(const std::string& json, const std::string& data = "") {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
  return out + json + data;
}

}  // namespace

TEST(SafeTensors, RoundTripsDtypesShapesAndMetadata) {
  fs::path dir = test::temp_dir("safetensors");
  std::map<std::string, torch::Tensor> tensors = {
      {"a", torch::randn({3, 5})},
      {"b.weight", torch::arange(7, torch::kInt64)},
      {"c", torch::randn({2, 3}, torch::kFloat64).t()},  // not contiguous
      {"scalar", torch::tensor(2.5)},
      {"half", torch::randn({4}).to(torch::kBFloat16)},
  };
  write_safetensors(dir / "x.safetensors", tensors, {{"config", "{\"d\": 3}"}});
  SafeTensors back = read_safetensors(dir / "x.safetensors");
  ASSERT_EQ(back.tensors.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(back.tensors.count(name)) << name;
    EXPECT_EQ(back.tensors[name].scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(back.tensors[name], t)) << name;
  }
  EXPECT_EQ(back.metadata.at("config"), "{\"d\": 3}");
}

TEST(SafeTensors, ReadsTheReferenceFiles) {
  fs::path file = fs::path(LAB_TEST_DATA_DIR) / "golden" / "mla_rope_yarn.safetensors";
  SafeTensors golden = read_safetensors(file);
  EXPECT_EQ(golden.tensors.at("input").sizes(), (std::vector<int64_t>{2, 24, 64}));
  EXPECT_EQ(golden.tensors.at("attention_probs").sizes(), (std::vector<int64_t>{2, 4, 24, 24}));
  EXPECT_NE(golden.metadata.at("case").find("\"yarn\""), std::string::npos);
}

TEST(SafeTensors, RefusesDamagedFiles) {
  fs::path dir = test::temp_dir("safetensors-bad");
  write_bytes(dir / "short", "abc");
  EXPECT_NE(message_of(dir / "short").find("shorter than"), std::string::npos);
  write_bytes(dir / "long_header", std::string("\xff\xff\x00\x00\x00\x00\x00\x00", 8) + "{}");
  EXPECT_NE(message_of(dir / "long_header").find("exceeds the file"), std::string::npos);
  write_bytes(dir / "json", with_header("{not json"));
  EXPECT_NE(message_of(dir / "json").find("not valid JSON"), std::string::npos);
  write_bytes(dir / "dtype",
              with_header(R"({"t": {"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}})", "x"));
  EXPECT_NE(message_of(dir / "dtype").find("unsupported dtype 'F8'"), std::string::npos);
  write_bytes(dir / "size",
              with_header(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", "xxxx"));
  EXPECT_NE(message_of(dir / "size").find("its shape needs 8"), std::string::npos);
  write_bytes(dir / "outside",
              with_header(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", "x"));
  EXPECT_NE(message_of(dir / "outside").find("outside the data"), std::string::npos);
  EXPECT_NE(message_of(dir / "missing").find("cannot open"), std::string::npos);
}
