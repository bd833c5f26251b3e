// The plugin loader: discovery, refusals of unusable libraries, duplicates, search path and descriptions.
#include "registry/registry.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = LAB_TEST_FIXTURE_DIR;

fs::path fixture(const std::string& case_dir, const std::string& file) { return kFixtures / case_dir / file; }

// The InputError message of `action`, or a test failure when it does not throw one.
template <class Action>
std::string input_error_of(Action action) {
  try {
    action();
  } catch (const lab::InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected lab::InputError";
  return "";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A fresh scratch directory per test, removed afterwards.
class TempDirs : public testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("lab_test_registry_" + std::to_string(getpid()) + "_" +
                                         testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  fs::path make_dir(const std::string& name) {
    fs::create_directories(root_ / name);
    return fs::canonical(root_ / name);
  }

  fs::path root_;
};

}  // namespace

TEST(Registry, LoadsTheGoodFixture) {
  lab::PluginRegistry registry;
  registry.load_directories({kFixtures / "good"});

  const lab::LoadedPlugin* plugin = registry.find(lab::Slot::Kernel, "fixture_kernel");
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->file, fixture("good", "lab_plugin_fixture_kernel.so"));
  EXPECT_STREQ(plugin->descriptor->name, "fixture_kernel");
  EXPECT_EQ(plugin->descriptor->slot, lab::Slot::Kernel);
  ASSERT_EQ(plugin->descriptor->keys.size(), 2u);
  EXPECT_EQ(&registry.require(lab::Slot::Kernel, "fixture_kernel"), plugin->descriptor);

  EXPECT_EQ(registry.find(lab::Slot::Attention, "fixture_kernel"), nullptr);
  EXPECT_EQ(registry.find(lab::Slot::Kernel, "other"), nullptr);
  EXPECT_EQ(registry.names(lab::Slot::Kernel), std::vector<std::string>{"fixture_kernel"});
  EXPECT_TRUE(registry.names(lab::Slot::Rope).empty());
  ASSERT_EQ(registry.all().size(), 1u);
  EXPECT_EQ(registry.all()[0], plugin);
}

TEST(Registry, FixtureKernelComputesSoftmaxAttention) {
  lab::PluginRegistry registry;
  registry.load_file(fixture("good", "lab_plugin_fixture_kernel.so"));
  const lab::PluginDescriptor& descriptor = registry.require(lab::Slot::Kernel, "fixture_kernel");
  lab::KernelPtr kernel = descriptor.make_kernel(lab::default_options(descriptor));
  ASSERT_NE(kernel, nullptr);

  torch::manual_seed(0);
  auto q = torch::randn({2, 3, 4, 8});
  auto k = torch::randn({2, 3, 6, 8});
  auto v = torch::randn({2, 3, 6, 5});
  lab::KernelArgs args;
  args.scale = 0.5;

  args.causal = false;
  auto full = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * 0.5, -1).matmul(v);
  EXPECT_TRUE(torch::allclose(kernel->attend(q, k, v, args), full, 1e-5, 1e-6));

  // Four queries are the last four of six positions: query n sees keys 0..n+2.
  args.causal = true;
  auto mask = torch::ones({4, 6}, torch::kBool).triu(3);
  auto scores = (torch::matmul(q, k.transpose(-2, -1)) * 0.5)
                    .masked_fill(mask, -std::numeric_limits<float>::infinity());
  auto causal = torch::softmax(scores, -1).matmul(v);
  auto out = kernel->attend(q, k, v, args);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_TRUE(torch::allclose(out, causal, 1e-5, 1e-6));
}

TEST(Registry, RequireListsAvailableNamesAndSuggestsANearMiss) {
  lab::PluginRegistry registry;
  registry.load_directories({kFixtures / "good"});

  std::string typo = input_error_of([&] { registry.require(lab::Slot::Kernel, "fixture_kernal"); });
  EXPECT_NE(typo.find("no kernel plugin 'fixture_kernal'"), std::string::npos) << typo;
  EXPECT_NE(typo.find("did you mean 'fixture_kernel'?"), std::string::npos) << typo;
  EXPECT_NE(typo.find("(available: fixture_kernel)"), std::string::npos) << typo;

  std::string far = input_error_of([&] { registry.require(lab::Slot::Kernel, "flash"); });
  EXPECT_NE(far.find("(available: fixture_kernel)"), std::string::npos) << far;
  EXPECT_EQ(far.find("did you mean"), std::string::npos) << far;

  std::string empty_slot = input_error_of([&] { registry.require(lab::Slot::Rope, "fixture_kernel"); });
  EXPECT_NE(empty_slot.find("no rope plugin 'fixture_kernel' (available: none)"), std::string::npos)
      << empty_slot;
}

// Each broken library is refused with one line naming the file and saying why.
struct Refusal {
  std::string case_dir;
  std::string file;
  std::vector<std::string> expected;
};

// Names the case in test listings instead of dumping the struct's bytes.
void PrintTo(const Refusal& refusal, std::ostream* os) { *os << refusal.case_dir; }

class RegistryRefusal : public testing::TestWithParam<Refusal> {};

TEST_P(RegistryRefusal, ThrowsInputErrorNamingTheFile) {
  const Refusal& refusal = GetParam();
  const fs::path file = fixture(refusal.case_dir, refusal.file);
  ASSERT_TRUE(fs::exists(file)) << file;

  for (bool whole_directory : {false, true}) {
    lab::PluginRegistry registry;
    std::string message = input_error_of([&] {
      if (whole_directory)
        registry.load_directories({kFixtures / refusal.case_dir});
      else
        registry.load_file(file);
    });
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (const auto& part : refusal.expected) EXPECT_NE(message.find(part), std::string::npos) << message;
    EXPECT_TRUE(registry.all().empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, RegistryRefusal,
    testing::Values(
        Refusal{"not_a_library", "lab_plugin_garbage.so", {"cannot be opened", "ELF"}},
        Refusal{
            "no_entry", "lab_plugin_no_entry.so", {"is not a lab plugin: it exports no lab_plugin_entry"}},
        Refusal{"bad_abi",
                "lab_plugin_bad_abi.so",
                {"plugin 'bad_abi'", "plugin ABI " + std::to_string(LAB_PLUGIN_ABI_VERSION + 1),
                 "this lab uses ABI " + std::to_string(LAB_PLUGIN_ABI_VERSION), "rebuild"}},
        Refusal{"bad_torch",
                "lab_plugin_bad_torch.so",
                {"plugin 'bad_torch'", "LibTorch 0.0.0", std::string("LibTorch ") + TORCH_VERSION}},
        Refusal{"bad_slot", "lab_plugin_bad_slot.so", {"plugin 'bad_slot'", "unknown slot 42"}},
        Refusal{"no_factory", "lab_plugin_no_factory.so", {"plugin 'no_factory'", "no factory", "kernel"}},
        Refusal{"empty_name", "lab_plugin_empty_name.so", {"empty name"}}),
    [](const testing::TestParamInfo<Refusal>& info) { return info.param.case_dir; });

TEST(Registry, FirstOfTwoDuplicatesWinsWithAWarning) {
  const fs::path good = fixture("good", "lab_plugin_fixture_kernel.so");
  const fs::path copy = fixture("duplicate", "lab_plugin_fixture_kernel_copy.so");

  {
    lab::PluginRegistry registry;
    testing::internal::CaptureStderr();
    registry.load_directories({kFixtures / "good", kFixtures / "duplicate"});
    std::string warning = testing::internal::GetCapturedStderr();
    const lab::LoadedPlugin* plugin = registry.find(lab::Slot::Kernel, "fixture_kernel");
    ASSERT_NE(plugin, nullptr);
    EXPECT_EQ(plugin->file, good);
    EXPECT_EQ(std::string(plugin->descriptor->description).find("second copy"), std::string::npos);
    EXPECT_EQ(registry.all().size(), 1u);
    EXPECT_EQ(lines_of(warning).size(), 1u) << warning;
    EXPECT_NE(warning.find("warning"), std::string::npos) << warning;
    EXPECT_NE(warning.find(copy.string()), std::string::npos) << warning;
    EXPECT_NE(warning.find("using " + good.string()), std::string::npos) << warning;
  }
  {
    lab::PluginRegistry registry;
    testing::internal::CaptureStderr();
    registry.load_directories({kFixtures / "duplicate", kFixtures / "good"});
    std::string warning = testing::internal::GetCapturedStderr();
    const lab::LoadedPlugin* plugin = registry.find(lab::Slot::Kernel, "fixture_kernel");
    ASSERT_NE(plugin, nullptr);
    EXPECT_EQ(plugin->file, copy);
    EXPECT_NE(std::string(plugin->descriptor->description).find("second copy"), std::string::npos);
    EXPECT_NE(warning.find("using " + copy.string()), std::string::npos) << warning;
  }
}

TEST(Registry, LoadingTheSameLibraryTwiceIsQuiet) {
  lab::PluginRegistry registry;
  testing::internal::CaptureStderr();
  registry.load_directories({kFixtures / "good", kFixtures / "good"});
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(registry.all().size(), 1u);
}

TEST_F(TempDirs, ScanSkipsMissingDirectoriesAndOtherFiles) {
  fs::path dir = make_dir("plugins");
  std::ofstream(dir / "other.so") << "not a plugin name";
  std::ofstream(dir / "lab_plugin_notes.txt") << "wrong suffix";
  fs::create_directories(dir / "lab_plugin_folder.so");  // not a regular file

  lab::PluginRegistry registry;
  EXPECT_NO_THROW(registry.load_directories({root_ / "missing", dir}));
  EXPECT_TRUE(registry.all().empty());
}

TEST_F(TempDirs, SearchPathOrderHonoursLabPluginPathAndDropsMissingDirs) {
  fs::path a = make_dir("a"), b = make_dir("b"), c = make_dir("c"), d = make_dir("d");
  std::string missing = (root_ / "missing").string();

  ASSERT_EQ(setenv("LAB_PLUGIN_PATH", (a.string() + "::" + missing + ":" + b.string()).c_str(), 1), 0);
  std::vector<fs::path> path =
      lab::plugin_search_path({c.string(), missing, c.string()}, {d.string(), a.string()});
  unsetenv("LAB_PLUGIN_PATH");

  ASSERT_GE(path.size(), 4u);
  EXPECT_EQ(std::vector<fs::path>(path.begin(), path.begin() + 4), (std::vector<fs::path>{c, a, b, d}));
  for (const auto& dir : path) {
    EXPECT_TRUE(fs::is_directory(dir)) << dir;
    EXPECT_EQ(std::count(path.begin(), path.end(), dir), 1) << dir;
  }

  // Without the variable the recipe's directories follow the command line's directly.
  std::vector<fs::path> plain = lab::plugin_search_path({c.string()}, {d.string()});
  ASSERT_GE(plain.size(), 2u);
  EXPECT_EQ(plain[0], c);
  EXPECT_EQ(plain[1], d);
}

TEST(Registry, DescribePluginListsEachKeyWithTypeAndDefault) {
  lab::PluginRegistry registry;
  registry.load_directories({kFixtures / "good"});
  const std::string text = lab::describe_plugin(registry, "fixture_kernel");

  const std::string file = fixture("good", "lab_plugin_fixture_kernel.so").string();
  for (const std::string& part :
       {std::string("fixture_kernel"), std::string("kernel"), std::string("softmax attention"), file,
        std::string("ABI:"), std::string(TORCH_VERSION)})
    EXPECT_NE(text.find(part), std::string::npos) << part << " missing from\n" << text;

  auto key_line = [&](const std::string& key) {
    for (const auto& line : lines_of(text))
      if (line.rfind("  " + key + " ", 0) == 0) return line;
    return std::string();
  };
  std::string temperature = key_line("temperature");
  EXPECT_NE(temperature.find("float"), std::string::npos) << text;
  EXPECT_NE(temperature.find("1.0"), std::string::npos) << text;
  EXPECT_NE(temperature.find("divides the attention scores"), std::string::npos) << text;
  std::string block_size = key_line("block_size");
  EXPECT_NE(block_size.find("integer"), std::string::npos) << text;
  EXPECT_NE(block_size.find("64"), std::string::npos) << text;

  std::string unknown = input_error_of([&] { lab::describe_plugin(registry, "fixture_kernal"); });
  EXPECT_NE(unknown.find("no plugin 'fixture_kernal'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("did you mean 'fixture_kernel'?"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("(available: fixture_kernel)"), std::string::npos) << unknown;
}

TEST(Registry, DescribePluginsPrintsOneLinePerPlugin) {
  lab::PluginRegistry empty;
  EXPECT_NE(lab::describe_plugins(empty).find("no plugins"), std::string::npos);

  lab::PluginRegistry registry;
  registry.load_directories({kFixtures / "good"});
  std::vector<std::string> lines = lines_of(lab::describe_plugins(registry));
  ASSERT_EQ(lines.size(), 2u);  // header and one plugin
  const std::string& row = lines[1];
  EXPECT_EQ(row.rfind("kernel", 0), 0u) << row;
  EXPECT_NE(row.find("fixture_kernel"), std::string::npos) << row;
  EXPECT_NE(row.find("softmax attention for the loader tests"), std::string::npos) << row;
  EXPECT_NE(row.find(fixture("good", "lab_plugin_fixture_kernel.so").string()), std::string::npos) << row;
}

namespace {

struct ProgramOutcome {
  int code = -1;
  std::string out, err;
};

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs the built lab program with `args`, stdout and stderr kept apart.
ProgramOutcome run_lab(const std::string& args) {
  const fs::path scratch =
      fs::temp_directory_path() / ("lab_test_registry_program_" + std::to_string(getpid()));
  fs::create_directories(scratch);
  const std::string command = "LAB_PLUGIN_PATH= " + std::string(LAB_PROGRAM) + " " + args + " >" +
                              (scratch / "out").string() + " 2>" + (scratch / "err").string();
  ProgramOutcome o;
  const int status = std::system(command.c_str());
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = read_text(scratch / "out");
  o.err = read_text(scratch / "err");
  fs::remove_all(scratch);
  return o;
}

std::string fixture_path_flag(const std::string& case_dir) {
  return "--plugin-path " + (kFixtures / case_dir).string();
}

}  // namespace

// The program stops with exit code 2 and one "lab: error:" line naming the file, before any training.
class RegistryProgramRefusal : public testing::TestWithParam<Refusal> {};

TEST_P(RegistryProgramRefusal, ExitsTwoNamingTheLibrary) {
  const Refusal& refusal = GetParam();
  const std::string file = fixture(refusal.case_dir, refusal.file).string();
  const std::string recipe = std::string(LAB_TEST_DATA_DIR) + "/recipes/base.toml";
  for (const std::string& command :
       {"plugins " + fixture_path_flag(refusal.case_dir),
        "--recipe " + recipe + " --dry-run " + fixture_path_flag(refusal.case_dir)}) {
    ProgramOutcome o = run_lab(command);
    EXPECT_EQ(o.code, 2) << command << "\n" << o.err;
    EXPECT_EQ(o.out, "") << command;
    ASSERT_EQ(lines_of(o.err).size(), 1u) << command << "\n" << o.err;
    EXPECT_EQ(o.err.rfind("lab: error: " + file, 0), 0u) << o.err;
    for (const auto& part : refusal.expected) EXPECT_NE(o.err.find(part), std::string::npos) << o.err;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, RegistryProgramRefusal,
    testing::Values(Refusal{"bad_abi",
                            "lab_plugin_bad_abi.so",
                            {"was built for plugin ABI " + std::to_string(LAB_PLUGIN_ABI_VERSION + 1),
                             "rebuild it"}},
                    Refusal{"no_entry", "lab_plugin_no_entry.so", {"it exports no lab_plugin_entry"}},
                    Refusal{"bad_slot", "lab_plugin_bad_slot.so", {"declares unknown slot 42"}}),
    [](const testing::TestParamInfo<Refusal>& info) { return info.param.case_dir; });

// Two libraries providing one name: the earlier directory on the search path wins, the program says so
// once on stderr and goes on.
TEST(RegistryProgram, DuplicateNameWarnsAndTheFirstOnThePathWins) {
  const std::string good = fixture("good", "lab_plugin_fixture_kernel.so").string();
  const std::string copy = fixture("duplicate", "lab_plugin_fixture_kernel_copy.so").string();

  ProgramOutcome o = run_lab("plugins " + fixture_path_flag("duplicate") + " " + fixture_path_flag("good"));
  EXPECT_EQ(o.code, 0) << o.err;
  ASSERT_EQ(lines_of(o.err).size(), 1u) << o.err;
  EXPECT_NE(o.err.find("lab: warning: kernel plugin 'fixture_kernel' in " + good + " duplicates the one in " +
                       copy + "; using " + copy),
            std::string::npos)
      << o.err;
  std::string row;
  for (const auto& line : lines_of(o.out))
    if (line.find("fixture_kernel") != std::string::npos) row += line;
  EXPECT_NE(row.find("second copy of fixture_kernel"), std::string::npos) << o.out;
  EXPECT_NE(row.find(copy), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find(good), std::string::npos) << o.out;

  // `lab plugins NAME` describes the winner.
  ProgramOutcome described =
      run_lab("plugins fixture_kernel " + fixture_path_flag("good") + " " + fixture_path_flag("duplicate"));
  EXPECT_EQ(described.code, 0) << described.err;
  EXPECT_NE(described.out.find(good), std::string::npos) << described.out;
  EXPECT_NE(described.out.find("softmax attention for the loader tests"), std::string::npos) << described.out;
  EXPECT_NE(described.err.find("using " + good), std::string::npos) << described.err;
}
