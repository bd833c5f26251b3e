// TensorBoard event files: the CRC and wire encoders, and a real run's tb/ log read back by independent
// tools (python3-crc32c checks the framing, `protoc --decode_raw` decodes every Event).
#include "run/files.hpp"
#include "tensorboard/crc32c.hpp"
#include "tensorboard/events.hpp"
#include "tensorboard/proto_writer.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

using namespace lab;
namespace fs = std::filesystem;

namespace {

const std::string kPython = "/usr/bin/python3";  // Debian's, where python3-crc32c installs

bool tools_available() {
  return test::run_command("command -v protoc >/dev/null && " + kPython + " -c 'import crc32c' 2>/dev/null")
             .code == 0;
}

std::string quoted(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) out += " --set '" + a + "'";
  return out;
}

fs::path only_events_file(const fs::path& tb) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(tb)) files.push_back(e.path());
  EXPECT_EQ(files.size(), 1u);
  return files.empty() ? fs::path() : files.front();
}

// Every record of `file` decoded by protoc, in order; the CRCs are checked on the way.
std::vector<std::string> decode_records(const fs::path& file, const fs::path& work) {
  fs::remove_all(work);
  fs::create_directories(work);
  auto split = test::run_command(kPython + " " + LAB_TEST_DATA_DIR "/../tools/tfrecord_split.py '" +
                                 file.string() + "' '" + work.string() + "' 2>&1");
  EXPECT_EQ(split.code, 0) << split.output;
  std::vector<std::string> decoded;
  for (int n = 0; n < std::stoi(split.output); ++n) {
    char name[16];
    std::snprintf(name, sizeof name, "%05d.pb", n);
    auto d = test::run_command("protoc --decode_raw < '" + (work / name).string() + "' 2>&1");
    EXPECT_EQ(d.code, 0) << d.output;
    decoded.push_back(d.output);
  }
  return decoded;
}

// The scalars of a decoded Event ("tag" -> value); protoc prints a fixed32 field as hex bits.
std::map<std::string, float> scalars_of(const std::string& decoded) {
  std::map<std::string, float> out;
  std::regex value(R"re(1: "([^"]+)"\s+2: 0x([0-9a-f]+))re");
  for (std::sregex_iterator it(decoded.begin(), decoded.end(), value), end; it != end; ++it) {
    uint32_t bits = static_cast<uint32_t>(std::stoul((*it)[2].str(), nullptr, 16));
    float f;
    std::memcpy(&f, &bits, sizeof f);
    out[(*it)[1].str()] = f;
  }
  return out;
}

int64_t step_of(const std::string& decoded) {
  std::smatch m;
  std::regex step(R"((^|\n)2: (\d+)\n)");
  return std::regex_search(decoded, m, step) ? std::stoll(m[2].str()) : -1;
}

}  // namespace

TEST(TensorBoard, Crc32cAndWireFormatMatchTheirReferences) {
  EXPECT_EQ(crc32c("123456789"), 0xe3069283u);  // the CRC-32C check value
  ProtoWriter w;
  w.varint_field(2, 300);
  w.bytes_field(1, "ab");
  EXPECT_EQ(w.bytes(), std::string("\x10\xac\x02\x0a\x02"
                                   "ab",
                                   7));
  const std::string record = tfrecord("xyz");
  ASSERT_EQ(record.size(), 8u + 4 + 3 + 4);
  EXPECT_EQ(record.substr(0, 8), std::string("\x03\0\0\0\0\0\0\0", 8));
  std::vector<Scalar> s = metrics_scalars(nlohmann::json{
      {"step", 5}, {"train_loss", 2.5}, {"lr", 0.1}, {"stage", "main"}, {"stats", {{"router/load", 0.3}}}});
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].tag, "run/lr");
  EXPECT_EQ(s[1].tag, "stats/router/load");
  EXPECT_EQ(s[2].tag, "train/loss");
}

TEST(TensorBoard, ResumedRunLogsEveryEvaluationOnceWithItsValues) {
  if (!tools_available()) GTEST_SKIP() << "protoc (protobuf-compiler) or python3-crc32c is not installed";
  fs::path root = test::temp_dir("tensorboard");
  std::ofstream(root / "tiny.toml") << "# all keys from --set\n";
  const std::string args =
      "--recipe " + (root / "tiny.toml").string() + " -P " + test::plugin_dir() + " --quiet" +
      quoted(test::plus(test::tiny_run(root, "events"), {"train.steps=6", "eval.every=2"}));
  auto stopped = test::run_lab(args + " --stop-after 3");
  ASSERT_EQ(stopped.code, 3) << stopped.output;
  const fs::path run = root / "runs" / "tiny" / "events" / "seed-42";
  const fs::path before = only_events_file(run / "tb");
  EXPECT_EQ(decode_records(before, root / "before").size(), 3u);  // version, recipe, step 2
  auto resumed = test::run_lab(args + " --resume");
  ASSERT_EQ(resumed.code, 0) << resumed.output;

  const auto metrics = read_json_lines(run / "metrics.jsonl");
  const auto records = decode_records(only_events_file(run / "tb"), root / "after");
  ASSERT_EQ(records.size(), 2 + metrics.size());
  EXPECT_NE(records[0].find("3: \"brain.Event:2\""), std::string::npos) << records[0];
  EXPECT_NE(records[1].find("\"text\""), std::string::npos) << records[1];
  EXPECT_NE(records[1].find("d_model = 32"), std::string::npos) << records[1];
  for (size_t n = 0; n < metrics.size(); ++n) {
    const std::string& event = records[2 + n];
    EXPECT_EQ(step_of(event), metrics[n]["step"].get<int64_t>()) << event;
    auto scalars = scalars_of(event);
    EXPECT_FLOAT_EQ(scalars["val/loss"], metrics[n]["val_loss"].get<float>()) << event;
    EXPECT_FLOAT_EQ(scalars["val/accuracy"], metrics[n]["val_accuracy"].get<float>());
    EXPECT_FLOAT_EQ(scalars["run/tokens_per_s"], metrics[n]["tokens_per_s"].get<float>());
    EXPECT_FLOAT_EQ(scalars["train/loss"], metrics[n]["train_loss"].get<float>());
    EXPECT_GT(scalars.count("run/lr"), 0u);
    // wall_time (field 1, a double) is the clock time metrics.jsonl recorded.
    EXPECT_NE(event.find("1: 0x"), std::string::npos) << event;
  }
  EXPECT_EQ(metrics.size(), 3u);  // steps 2, 4, 6: none twice
}
